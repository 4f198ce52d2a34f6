/* stubs.c — stand-ins for gateway functions referenced by core files that a
 * harness links (core/budget.c calls hc_webhook_post from its alert path).
 * The real ones live in core/webhook.c, which pulls in the whole gateway.
 * No parser may reach them: each aborts, so the fuzzer reports it if one does. */
#include <stdio.h>
#include <stdlib.h>

#include "core.h"
#include "webhook.h"

void hc_webhook_post(const char *url, const char *json)
{
    (void)url;
    (void)json;
    fprintf(stderr, "stub hc_webhook_post reached from a parser\n");
    abort();
}

void hc_webhook_flush(int timeout_ms)
{
    (void)timeout_ms;
}

void hc_webhook_atfork_child(void)
{
}

/* core/context.c asks the hooks for the current pytest test: there are no
 * hooks in a harness (hc_context_request then adds nothing). */
const hc_shim_api *hc_core_shim(void)
{
    return NULL;
}

/* core/shared.c (HC_SHARED, Redis) needs the gateway's I/O: the fuzzed paths
 * run as if HC_SHARED were unset, which is what HC_EDISABLED says. */
#include "err.h"
#include "shared.h"

int hc_shared_window(const char *key, int64_t window_us, uint64_t quota, uint64_t amount, int64_t now_us,
                     bool check, bool *allowed, uint64_t *used)
{
    (void)key, (void)window_us, (void)quota, (void)amount, (void)now_us, (void)check, (void)allowed, (void)used;
    return HC_EDISABLED;
}

int hc_shared_total_get(const char *key, uint64_t *total)
{
    (void)key, (void)total;
    return HC_EDISABLED;
}

int hc_shared_total_add(const char *key, uint64_t amount, uint64_t *before, uint64_t *after)
{
    (void)key, (void)amount, (void)before, (void)after;
    return HC_EDISABLED;
}

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

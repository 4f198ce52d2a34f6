/* stubs.c — stand-ins for gateway functions referenced by core files that a
 * harness links (core/budget.c calls hc_webhook_post from its alert path,
 * the Redis gate of core/shared.c and the alerts of core/alert.c).
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

int hc_shared_window(const char *key, int64_t window_us, uint64_t quota, uint64_t amount,
                     int64_t now_us, bool check, bool *allowed, uint64_t *used)
{
    (void)key, (void)window_us, (void)quota, (void)amount, (void)now_us, (void)check, (void)allowed,
        (void)used;
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

int hc_shared_gate(int nb, const char *const *bkeys, const uint64_t *blimits, const char *wkey,
                   int64_t window_us, uint64_t quota, uint64_t amount, int64_t now_us, int *blocked,
                   uint64_t *spent, bool *allowed, uint64_t *used)
{
    (void)nb, (void)bkeys, (void)blimits, (void)wkey, (void)window_us, (void)quota, (void)amount,
        (void)now_us;
    (void)blocked, (void)spent, (void)allowed, (void)used;
    return HC_EDISABLED;
}

/* HC_SHARED_CACHE off: the response cache is the local store's only. */
bool hc_shared_cache_on(void)
{
    return false;
}

size_t hc_shared_cache_max(void)
{
    return 0;
}

int hc_shared_blob_get(const char *key, hc_buf *out)
{
    (void)key, (void)out;
    return HC_EDISABLED;
}

int hc_shared_blob_set(const char *key, const void *p, size_t len, int64_t ttl_ms)
{
    (void)key, (void)p, (void)len, (void)ttl_ms;
    return HC_EDISABLED;
}

/* core/alert.c (HC_ALERTS) delivers through the gateway's threads: no alert
 * destination exists in a harness. */
#include "alert.h"

bool hc_alerts_have_destinations(void)
{
    return false;
}

void hc_alert_budget(const char *budget, const char *scope, int pct, uint64_t spent_nusd,
                     uint64_t limit_nusd, const char *period_start, const char *request_id)
{
    (void)budget, (void)scope, (void)pct, (void)spent_nusd, (void)limit_nusd, (void)period_start,
        (void)request_id;
    fprintf(stderr, "stub hc_alert_budget reached from a parser\n");
    abort();
}

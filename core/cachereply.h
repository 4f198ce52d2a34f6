/* cachereply.h — answering from the response cache, and storing answers in it.
 *
 * The gateway's side of the cache (cache.h is the store's side): before a
 * request goes upstream, hc_cachereply_gate() looks it up and, on a HIT,
 * answers the app with the stored head and body (decoded first when it is
 * compressed in a way the app did not ask for), with "Helicone-Cache: HIT"
 * and the bucket index, and records the exchange as a hit that cost nothing
 * and saved what the original cost. On a MISS it adds "Helicone-Cache: MISS"
 * to the features' response headers and arms the exchange: while the answer
 * flows to the app, hc_cachereply_keep() keeps what the app receives (within
 * HC_MAX_BODY), and hc_cachereply_store() stores a complete 2xx answer.
 *
 * The same kept answer (head and body) serves a replay cassette that
 * records (replay.h): body_ok may be set by the caller for that alone.
 *
 * Not thread-safe: one hc_cachereply per exchange, owned by its thread.
 */
#ifndef HC_CORE_CACHEREPLY_H
#define HC_CORE_CACHEREPLY_H

#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "cache.h"
#include "capture.h"
#include "core.h"
#include "http.h"
#include "io.h"
#include "options.h"

typedef struct hc_cachereply {
    bool on;          /* a miss that may be stored: keep the answer for the cache */
    hc_cache_ctx ctx; /* the request's key group (valid once looked up) */
    int bucket;       /* the free bucket to store the answer into */
    hc_buf head;      /* the answer's head to store: no framing, helicone-* or Set-Cookie lines */
    hc_buf body;      /* the body the app received (de-chunked) */
    bool body_ok;     /* body is wanted and complete so far (not over HC_MAX_BODY) */
} hc_cachereply;

/* The request, as the cache sees it. All borrowed for the call. */
typedef struct hc_cachereply_req {
    const hc_opts *opts; /* opts->cache: is caching asked for */
    const char *host;    /* the host the app addressed */
    const hc_http_head *req;
    const char *body; /* the buffered request body */
    size_t len;
    bool streaming;     /* the body did not fit in memory: never cached */
    const char *id;     /* the helicone-id of the answer */
    hc_buf *resp_extra; /* the features' response header lines: a miss adds its own;
                                    * a hit sends them */
} hc_cachereply_req;

/* Look the request up and answer a HIT. Returns true if the app was
 * answered (the capture is finished; *app_gone is set when writing the
 * answer failed: the caller closes the connection), false to go upstream —
 * a miss (cr->on set, and cr->body_ok), no cache asked for, a request that
 * cannot be cached (streamed body, HEAD), no store, or a store failure
 * (fail open). cr must be zeroed (or freed) before. */
bool hc_cachereply_gate(hc_cachereply *cr, hc_core *core, hc_io *client, hc_capture *cap,
                        const hc_cachereply_req *rq, int64_t now_us, bool *app_gone);

/* Keep n bytes of the answer as the app receives it (de-chunked). Past
 * max_body, or out of memory, the kept body is dropped and body_ok cleared:
 * the answer still flows, it is just not cached. */
void hc_cachereply_keep(hc_cachereply *cr, size_t max_body, const char *p, size_t n);

/* After a complete answer with `status`: store it when the cache is on for
 * this exchange, the body was kept whole, and status is 2xx; the record
 * gets HC_REC_CACHE_STORED. Reads the capture's settled usage and cost
 * (call after hc_capture_settle). Failures are ignored (fail open). */
void hc_cachereply_store(hc_cachereply *cr, hc_core *core, hc_capture *cap, const char *host,
                         int status, int64_t now_us);

/* Free the kept answer. */
void hc_cachereply_free(hc_cachereply *cr);

#endif

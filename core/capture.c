/* capture.c — see capture.h. */
#include "capture.h"
#include "buf.h"
#include "clock.h"
#include "decode.h"
#include "err.h"
#include "log.h"
#include "otlp_push.h"
#include "pricing.h"
#include "provider.h"
#include "tally.h"
#include "recorder.h"
#include "redact.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TAIL_KEEP HC_USAGE_TAIL_MAX

static void span_copy(char *dst, size_t size, const char *p, size_t n)
{
    if (n >= size)
        n = size - 1;
    memcpy(dst, p, n);
    dst[n] = '\0';
}

void hc_capture_begin(hc_capture *c, hc_core *core, const char *host, const hc_http_head *h,
                      int64_t start_us, int64_t t0_mono)
{
    memset(c, 0, sizeof *c);
    c->core = core;
    c->live = true;
    if (core->rec)
        hc_recorder_exchange_begin(core->rec);
    hc_record_init(&c->rec);
    hc_uuid_v7(c->rec.id, start_us);
    c->rec.start_us = start_us;
    c->t0_mono = t0_mono;
    hc_strlcpy(c->host, sizeof c->host, host);
    hc_strlcpy(c->provider, sizeof c->provider, hc_provider_for_host(host, 0));
    span_copy(c->method, sizeof c->method, h->method, h->method_len);
    hc_url_redact_buf(&c->path, h->target, h->target_len);
    c->api = hc_api_detect(c->method, h->target, h->target_len);
    hc_usage_init(&c->usage);
}

void hc_capture_set_opts(hc_capture *c, const hc_opts *o)
{
    c->opts = o;
}

void hc_capture_request_body(hc_capture *c, const char *p, size_t n)
{
    c->rec.req_bytes += (int64_t)n;
    if (hc_buf_append_capped(&c->req_body, p, n, c->core->cfg.max_body))
        c->req_trunc = true;
}

void hc_capture_request_done(hc_capture *c)
{
    if (c->req_done)
        return;
    c->req_done = true;
    hc_request_info_parse(c->api, c->path.data ? c->path.data : "", c->path.len,
                          c->req_body.data ? c->req_body.data : "", c->req_body.len, &c->reqinfo);
    hc_strlcpy(c->model_req, sizeof c->model_req, c->reqinfo.model);
}

void hc_capture_set_api(hc_capture *c, enum hc_api api)
{
    c->api = api;
}

void hc_capture_set_upstream(hc_capture *c, const char *url)
{
    hc_url_redact(c->upstream, sizeof c->upstream, url);
}

void hc_capture_attempt(hc_capture *c, int status, int64_t wait_ms)
{
    hc_buf_printf(&c->attempts, "%s%d:%lld", c->attempts.len ? "," : "", status,
                  (long long)wait_ms);
}

static bool is_ratelimit_header(const char *n, size_t l)
{
    return hc_span_iprefix(n, l, "x-ratelimit-") || hc_span_iprefix(n, l, "anthropic-ratelimit-") ||
           hc_span_ieq(n, l, "retry-after") || hc_span_ieq(n, l, "retry-after-ms") ||
           hc_span_iprefix(n, l, "x-ratelimit");
}

static void keep_ratelimit(hc_capture *c, const hc_header *hd, size_t nh)
{
    for (size_t i = 0; i < nh; i++) {
        const hc_header *x = &hd[i];
        if (!is_ratelimit_header(x->name, x->name_len))
            continue;
        char n[96], v[256];
        span_copy(n, sizeof n, x->name, x->name_len);
        for (char *q = n; *q; q++)
            *q = (char)tolower((unsigned char)*q);
        span_copy(v, sizeof v, x->value, x->value_len);
        hc_pairs_add(&c->ratelimit, n, v);
    }
}

void hc_capture_attempt_headers(hc_capture *c, const hc_http_head *h)
{
    keep_ratelimit(c, h->headers, h->nheaders);
}

void hc_capture_drop_ratelimit(hc_capture *c)
{
    hc_buf_reset(&c->ratelimit);
}

void hc_capture_response_head(hc_capture *c, const hc_http_head *h)
{
    hc_capture_response(c, h->status, h->headers, h->nheaders);
}

void hc_capture_response(hc_capture *c, int status, const hc_header *hd, size_t nh)
{
    c->rec.status = status;
    keep_ratelimit(c, hd, nh);
    const hc_header *ce = NULL, *ct = NULL;
    for (size_t i = 0; i < nh; i++) {
        const hc_header *x = &hd[i];
        if (hc_span_ieq(x->name, x->name_len, "content-encoding"))
            ce = x;
        else if (hc_span_ieq(x->name, x->name_len, "content-type"))
            ct = x;
    }
    hc_decoder_free(c->dec);
    c->dec = ce ? hc_decoder_new(ce->value, ce->value_len, &c->dec_unsupported) : NULL;
    c->dec_stopped = false;
    c->decoded = 0;
    enum hc_stream_kind k = hc_stream_kind_for(ct ? ct->value : NULL, ct ? ct->value_len : 0,
                                               c->path.data ? c->path.data : "");
    hc_stream_free(&c->stream);
    c->streaming = k != HC_STREAM_NONE;
    hc_stream_init(&c->stream, k, 4u << 20);
    if (c->streaming)
        c->rec.flags |= HC_REC_STREAM;
    hc_buf_reset(&c->resp_body);
    hc_buf_reset(&c->tail);
    c->resp_trunc = false;
    c->rec.resp_bytes = 0;
    c->rec.ttft_us = -1;
    hc_usage_init(&c->usage);
}

static void on_message(void *ctx, const char *event, const char *data, size_t dlen, const char *raw,
                       size_t rlen)
{
    hc_capture *c = ctx;
    (void)raw;
    (void)rlen;
    if (dlen)
        hc_usage_from_message(c->api, event, data, dlen, &c->usage);
}

/* Decoded response bytes. */
static void on_plain(void *ctx, const char *p, size_t n)
{
    hc_capture *c = ctx;
    c->decoded += n;
    if (hc_buf_append_capped(&c->resp_body, p, n, c->core->cfg.max_body))
        c->resp_trunc = true;
    if (c->streaming) {
        hc_stream_feed(&c->stream, p, n, on_message, c);
    } else if (c->resp_trunc) {
        /* Past the bound, keep only a tail window: a JSON body's usage is at its end. */
        hc_buf_append(&c->tail, p, n);
        if (c->tail.len > 2 * TAIL_KEEP)
            hc_buf_consume(&c->tail, c->tail.len - TAIL_KEEP);
    }
}

void hc_capture_response_data(hc_capture *c, const char *p, size_t n)
{
    if (!n)
        return;
    if (c->rec.ttft_us < 0)
        c->rec.ttft_us = hc_mono_us() - c->t0_mono;
    c->rec.resp_bytes += (int64_t)n;
    if (c->dec_stopped)
        return;
    if (c->dec) {
        if (hc_decoder_feed(c->dec, p, n, on_plain, c) != 0)
            hc_log_debug("cannot decode the response body of %s%s", c->host, c->path.data);
        /* A compression bomb (1 GB from 1 MB of gzip) must not cost the CPU
         * of decoding it all: past twice HC_MAX_BODY of decoded bytes the
         * copy stops (the app still gets every byte; the record says the
         * body was cut, and usage is looked for in what was decoded). */
        if (c->decoded > 2 * c->core->cfg.max_body) {
            hc_decoder_free(c->dec);
            c->dec = NULL;
            c->dec_stopped = true;
            c->resp_trunc = true;
            hc_log_debug(
                "the response body of %s decodes past twice HC_MAX_BODY (a compression bomb?): "
                "decoding stopped",
                c->host);
        }
    } else {
        on_plain(c, p, n);
    }
}

static void finish_usage(hc_capture *c)
{
    if (c->streaming) {
        hc_stream_finish(&c->stream, on_message, c);
    } else if (!c->dec_unsupported && c->resp_body.len) {
        if (!c->resp_trunc)
            hc_usage_from_body(c->api, c->resp_body.data, c->resp_body.len, &c->usage);
        else
            hc_usage_from_tail(c->api, c->tail.data, c->tail.len, &c->usage);
    }
    hc_strlcpy(c->model_resp, sizeof c->model_resp, c->usage.model);
}

static void finish_cost(hc_capture *c)
{
    hc_record *r = &c->rec;
    if (!c->usage.found) {
        r->cost_flags = HC_COST_NO_USAGE;
        return;
    }
    r->tok = c->usage.tok;
    const char *model = c->model_resp[0] ? c->model_resp : c->model_req;
    const hc_price *p = model[0] ? hc_price_lookup(c->provider, model) : NULL;
    if (!p && c->model_req[0] && model != c->model_req)
        p = hc_price_lookup(c->provider, c->model_req);
    if (!p) {
        r->cost_flags = HC_COST_UNPRICED;
        return;
    }
    r->cost_nusd = hc_cost_nusd_at(p, &r->tok, r->start_us);
    r->cost_flags = HC_COST_PRICED | (hc_cost_long_tier(p, &r->tok) ? HC_COST_LONG_CTX : 0) |
                    (hc_cost_peak(p, r->start_us) ? HC_COST_PEAK : 0);
}

static void free_parts(hc_capture *c)
{
    if (c->live && c->core->rec)
        hc_recorder_exchange_end(c->core->rec);
    c->live = false;
    hc_buf_free(&c->path);
    hc_buf_free(&c->props);
    hc_buf_free(&c->ratelimit);
    hc_buf_free(&c->attempts);
    hc_buf_free(&c->req_body);
    hc_buf_free(&c->resp_body);
    hc_buf_free(&c->tail);
    hc_decoder_free(c->dec);
    c->dec = NULL;
    hc_stream_free(&c->stream);
}

void hc_capture_discard(hc_capture *c)
{
    free_parts(c);
}

void hc_capture_set_provider(hc_capture *c, const char *provider)
{
    hc_strlcpy(c->provider, sizeof c->provider, provider);
}

void hc_capture_set_may_wait(hc_capture *c, bool may_wait)
{
    c->may_wait = may_wait;
}

void hc_capture_set_error(hc_capture *c, const char *error)
{
    hc_strlcpy(c->error, sizeof c->error, error);
}

void hc_capture_set_budget(hc_capture *c, const char *name)
{
    hc_strlcpy(c->budget, sizeof c->budget, name);
}

void hc_capture_set_cache_key(hc_capture *c, const char *key_hex)
{
    hc_strlcpy(c->cache_key, sizeof c->cache_key, key_hex);
}

void hc_capture_add_flags(hc_capture *c, uint32_t flags)
{
    c->rec.flags |= flags;
}

void hc_capture_retry(hc_capture *c)
{
    c->rec.retries++;
}

void hc_capture_set_route(hc_capture *c, int fallback_idx, int64_t waited_us)
{
    c->rec.fallback_idx = fallback_idx;
    c->rec.ratelimit_wait_us = waited_us;
}

void hc_capture_stored_answer(hc_capture *c, const hc_tokens *tok, int64_t orig_cost_nusd,
                              const char *model)
{
    hc_capture_settle(c);
    hc_record *r = &c->rec;
    if (hc_tokens_any(tok)) {
        r->tok = *tok;
        r->cost_flags = orig_cost_nusd > 0 ? HC_COST_PRICED : r->cost_flags & ~HC_COST_NO_USAGE;
    }
    if (!c->model_resp[0])
        hc_strlcpy(c->model_resp, sizeof c->model_resp, model);
    r->saved_nusd = orig_cost_nusd > 0 ? orig_cost_nusd : r->cost_nusd;
    r->cost_nusd = 0;
}

int64_t hc_capture_settle(hc_capture *c)
{
    if (!c->settled) {
        c->settled = true;
        hc_capture_request_done(c);
        finish_usage(c);
        finish_cost(c);
    }
    return c->rec.cost_nusd;
}

/* A text the capture built, or "" if building it failed (buf.h): a record
 * never holds an incomplete list. */
static const char *built_text(const hc_buf *b)
{
    return b->data && !hc_buf_error(b) ? b->data : "";
}

void hc_capture_finish(hc_capture *c, const char *error, uint32_t flags)
{
    hc_core *core = c->core;
    hc_record *r = &c->rec;
    if (!core->rec || !core->cfg.record) {
        free_parts(c);
        return;
    }
    if (!c->live)
        return; /* finished or discarded already */
    hc_capture_settle(c);

    r->latency_us = hc_mono_us() - c->t0_mono;
    r->host = c->host;
    r->provider = c->provider;
    r->api = hc_api_name(c->api);
    r->method = c->method;
    r->path = built_text(&c->path);
    r->upstream = c->upstream;
    r->model_req = c->model_req;
    r->model_resp = c->model_resp;
    r->response_id = c->usage.response_id;
    r->finish_reasons = c->usage.finish;
    r->req_params.p = c->reqinfo.params;
    r->req_params.len = c->reqinfo.params_len;
    if (error)
        hc_strlcpy(c->error, sizeof c->error, error);
    r->error = c->error;
    r->flags |= flags;
    if (c->req_trunc)
        r->flags |= HC_REC_REQ_TRUNC;
    if (c->resp_trunc)
        r->flags |= HC_REC_RESP_TRUNC;
    r->ratelimit.p = hc_buf_error(&c->ratelimit) ? NULL : c->ratelimit.data;
    r->ratelimit.len = hc_buf_error(&c->ratelimit) ? 0 : (uint32_t)c->ratelimit.len;
    r->attempts = built_text(&c->attempts);
    r->budget = c->budget;
    r->cache_key = c->cache_key;
    r->pid = (int32_t)core->pid; /* a forked child has its own core (core.c) */
    r->program = core->program;
    r->run_id = core->run_id;
    bool omit_req = false, omit_resp = false;
    if (c->opts) {
        r->props.p = c->opts->props.data;
        r->props.len = (uint32_t)c->opts->props.len;
        r->user = c->opts->user;
        r->session_id = c->opts->session_id;
        r->session_path = c->opts->session_path;
        r->session_name = c->opts->session_name;
        r->request_id = c->opts->request_id;
        omit_req = c->opts->omit_request;
        omit_resp = c->opts->omit_response;
    }
    if (omit_req)
        r->flags |= HC_REC_REQ_OMITTED;
    if (omit_resp)
        r->flags |= HC_REC_RESP_OMITTED;
    hc_tally_add(&core->tally, r); /* this process's totals for the exit summary (tally.h) */

    if (core->on_record)
        core->on_record(r);
    hc_buf enc = HC_BUF_INIT;
    if (hc_record_encode(r, &enc) == 0) {
        if (core->otlp) /* OpenTelemetry span + metrics, queued (otlp_push.h) */
            hc_otlp_push_record(core->otlp, r, enc.data, enc.len);
        hc_rec_item *it =
            hc_rec_item_new(r->id, enc.data, enc.len, c->req_body.data, c->req_body.len, !omit_req,
                            c->resp_body.data, c->resp_body.len, !omit_resp && r->status != 0);
        if (it) {
            it->req_trunc = c->req_trunc;
            it->resp_trunc = c->resp_trunc;
            hc_recorder_submit(core->rec, it, c->may_wait);
        }
    }
    hc_buf_free(&enc);
    free_parts(c);
}

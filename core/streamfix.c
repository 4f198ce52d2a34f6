/* streamfix.c — see streamfix.h.
 *
 * The JSON work is a small top-level member scanner rather than parse +
 * re-serialise: re-serialising would change the provider's bytes (spacing,
 * number formats, key order), and the promise is that the app gets them
 * unchanged. */
#include "streamfix.h"
#include "err.h"
#include "jsonedit.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#define MAX_EVENT (1u << 20)

int hc_sse_rewrite_json(const char *s, size_t n, hc_buf *out)
{
    hc_json_member m[64];
    int cnt = hc_json_members(s, n, m, 64);
    hc_buf_reset(out);
    if (cnt < 0 || cnt > 64) {
        hc_buf_append(out, s, n);
        return 0;
    }
    int usage = -1, choices = -1;
    for (int i = 0; i < cnt; i++) {
        if (hc_json_span_is(s, m[i].k, m[i].kend, "\"usage\""))
            usage = i;
        else if (hc_json_span_is(s, m[i].k, m[i].kend, "\"choices\""))
            choices = i;
    }
    if (usage >= 0 && choices >= 0 && !hc_json_span_is(s, m[usage].v, m[usage].vend, "null")) {
        /* "choices": [] (any inner spacing) with a usage object: the usage-only chunk. */
        size_t a = m[choices].v + 1, b = m[choices].vend - 1;
        while (a < b && (s[a] == ' ' || s[a] == '\t' || s[a] == '\r' || s[a] == '\n'))
            a++;
        if (s[m[choices].v] == '[' && a == b)
            return 1;
    }
    if (usage < 0 || !hc_json_span_is(s, m[usage].v, m[usage].vend, "null")) {
        hc_buf_append(out, s, n);
        return 0;
    }
    /* Remove the member and one comma next to it. */
    size_t cut_a, cut_b;
    if (usage > 0) {
        cut_a = m[usage - 1].end; /* from right after the previous value ... */
        cut_b = m[usage].end;     /* ... through this value: takes the comma before */
    } else if (cnt > 1) {
        cut_a = m[0].start;
        cut_b = m[1].start; /* this member, its comma, up to the next key */
    } else {
        cut_a = m[0].start;
        cut_b = m[0].end;
    }
    hc_buf_append(out, s, cut_a);
    hc_buf_append(out, s + cut_b, n - cut_b);
    return 0;
}

/* Rewrite one complete SSE event (raw bytes) into out, or drop it. */
static int emit_event(hc_sse_filter *f, const char *ev, size_t n, hc_buf *out)
{
    /* Only single-line "data: {…}" events are rewritten; anything else goes as is. */
    const char *d = NULL;
    size_t dl = 0;
    size_t i = 0;
    int data_lines = 0;
    while (i < n) {
        const char *nl = memchr(ev + i, '\n', n - i);
        size_t le = nl ? (size_t)(nl - ev) : n;
        const char *name, *v;
        size_t name_len, vl;
        if (hc_sse_field(ev + i, ev + le, &name, &name_len, &v, &vl) && name_len == 4 &&
            memcmp(name, "data", 4) == 0) {
            data_lines++;
            d = v;
            dl = vl;
        }
        i = le + 1;
    }
    if (data_lines != 1 || dl == 0 || d[0] != '{')
        return hc_buf_append(out, ev, n);
    hc_buf j = HC_BUF_INIT;
    int drop = hc_sse_rewrite_json(d, dl, &j);
    int rc = 0;
    if (drop == 1) {
        f->dropped++;
    } else {
        size_t pre = (size_t)(d - ev), post = pre + dl;
        rc = hc_buf_append(out, ev, pre) || hc_buf_append_buf(out, &j) ||
                     hc_buf_append(out, ev + post, n - post)
                 ? HC_ENOMEM
                 : 0;
    }
    hc_buf_free(&j);
    return rc;
}

void hc_sse_filter_init(hc_sse_filter *f)
{
    memset(f, 0, sizeof *f);
    hc_sse_lines_init(&f->lines);
}

int hc_sse_filter_feed(hc_sse_filter *f, const char *p, size_t n, hc_buf *out)
{
    while (n) {
        bool eol, blank;
        size_t run = hc_sse_lines_next(&f->lines, p, n, &eol, &blank);
        if (f->passthrough) {
            if (hc_buf_append(out, p, run))
                return HC_ENOMEM;
        } else if (f->pending.len + run > MAX_EVENT) {
            f->passthrough = true;
            if (hc_buf_append(out, f->pending.data, f->pending.len) || hc_buf_append(out, p, run))
                return HC_ENOMEM;
            hc_buf_reset(&f->pending);
        } else if (hc_buf_append(&f->pending, p, run)) {
            return HC_ENOMEM;
        }
        p += run;
        n -= run;
        if (!blank)
            continue;
        if (f->passthrough) {
            f->passthrough = false;
        } else {
            int rc = emit_event(f, f->pending.data, f->pending.len, out);
            hc_buf_reset(&f->pending);
            if (rc)
                return rc;
        }
    }
    return 0;
}

void hc_sse_filter_finish(hc_sse_filter *f, hc_buf *out)
{
    if (f->pending.len)
        hc_buf_append(out, f->pending.data, f->pending.len);
    hc_buf_reset(&f->pending);
}

void hc_sse_filter_free(hc_sse_filter *f)
{
    hc_buf_free(&f->pending);
}

int hc_inject_include_usage(const char *body, size_t len, hc_buf *out)
{
    hc_json_member m[256];
    int cnt = hc_json_members(body, len, m, 256);
    if (cnt < 0 || cnt > 256)
        return 0;
    int stream = -1, so = -1;
    for (int i = 0; i < cnt; i++) {
        if (hc_json_span_is(body, m[i].k, m[i].kend, "\"stream\""))
            stream = i;
        else if (hc_json_span_is(body, m[i].k, m[i].kend, "\"stream_options\""))
            so = i;
    }
    if (stream < 0 || !hc_json_span_is(body, m[stream].v, m[stream].vend, "true"))
        return 0;
    if (so < 0) /* insert after '{', keeping every byte of the app's body */
        return hc_json_set(body, len, "stream_options", "{\"include_usage\":true}", out) == 0
                   ? 1
                   : HC_ENOMEM;
    if (hc_json_span_is(body, m[so].v, m[so].vend, "null")) /* null asks for nothing: replace it */
        return hc_json_set(body, len, "stream_options", "{\"include_usage\":true}", out) == 0
                   ? 1
                   : HC_ENOMEM;
    /* stream_options present: rewrite just its value with cJSON. */
    cJSON *v = cJSON_ParseWithLength(body + m[so].v, m[so].vend - m[so].v);
    if (!v || !cJSON_IsObject(v)) {
        cJSON_Delete(v);
        return 0;
    }
    cJSON *iu = cJSON_GetObjectItemCaseSensitive(v, "include_usage");
    if (cJSON_IsTrue(iu)) {
        cJSON_Delete(v);
        return 0;
    }
    if (iu)
        cJSON_DeleteItemFromObjectCaseSensitive(v, "include_usage");
    cJSON_AddTrueToObject(v, "include_usage");
    char *txt = cJSON_PrintUnformatted(v);
    cJSON_Delete(v);
    if (!txt)
        return HC_ENOMEM;
    int rc = hc_buf_append(out, body, m[so].v) || hc_buf_puts(out, txt) ||
                     hc_buf_append(out, body + m[so].vend, len - m[so].vend)
                 ? HC_ENOMEM
                 : 1;
    free(txt);
    return rc;
}

/* streamfix.c — see streamfix.h.
 *
 * The JSON work is a small top-level member scanner rather than parse +
 * re-serialise: re-serialising would change the provider's bytes (spacing,
 * number formats, key order), and the promise is that the app gets them
 * unchanged. */
#include "streamfix.h"
#include "err.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#define MAX_EVENT (1u << 20)

/* A top-level member of a JSON object: [start, end) spans the key through the
 * end of the value; v/vend span the value. */
struct member {
    size_t start, end, k, kend, v, vend;
};

static size_t skip_ws(const char *s, size_t i, size_t n)
{
    while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n'))
        i++;
    return i;
}

/* End of the JSON value starting at i (strings, nesting); n if unterminated. */
static size_t value_end(const char *s, size_t i, size_t n)
{
    int depth = 0;
    bool in_str = false, esc = false;
    for (; i < n; i++) {
        char c = s[i];
        if (in_str) {
            if (esc)
                esc = false;
            else if (c == '\\')
                esc = true;
            else if (c == '"') {
                in_str = false;
                if (depth == 0)
                    return i + 1;
            }
            continue;
        }
        if (c == '"')
            in_str = true;
        else if (c == '{' || c == '[')
            depth++;
        else if (c == '}' || c == ']') {
            if (depth == 0)
                return i; /* end of the enclosing object */
            if (--depth == 0)
                return i + 1;
        } else if (depth == 0 && (c == ',' || c == ' ' || c == '\n' || c == '\r' || c == '\t'))
            return i;
    }
    return n;
}

/* Scan the members of the top-level object; returns count (up to max), -1 if not an object. */
static int scan_members(const char *s, size_t n, struct member *m, int max)
{
    size_t i = skip_ws(s, 0, n);
    if (i >= n || s[i] != '{')
        return -1;
    i++;
    int count = 0;
    for (;;) {
        i = skip_ws(s, i, n);
        if (i >= n)
            return -1;
        if (s[i] == '}')
            return count;
        if (s[i] != '"')
            return -1;
        struct member cur = { .start = i, .k = i };
        size_t ke = value_end(s, i, n);
        if (ke >= n)
            return -1;
        cur.kend = ke;
        i = skip_ws(s, ke, n);
        if (i >= n || s[i] != ':')
            return -1;
        i = skip_ws(s, i + 1, n);
        cur.v = i;
        cur.vend = value_end(s, i, n);
        if (cur.vend >= n || cur.vend == cur.v)
            return -1;
        cur.end = cur.vend;
        if (count < max)
            m[count] = cur;
        count++;
        i = skip_ws(s, cur.vend, n);
        if (i < n && s[i] == ',')
            i++;
    }
}

static bool span_is(const char *s, size_t a, size_t b, const char *lit)
{
    size_t l = strlen(lit);
    return b - a == l && memcmp(s + a, lit, l) == 0;
}

int hc_sse_rewrite_json(const char *s, size_t n, hc_buf *out)
{
    struct member m[64];
    int cnt = scan_members(s, n, m, 64);
    hc_buf_reset(out);
    if (cnt < 0 || cnt > 64) {
        hc_buf_append(out, s, n);
        return 0;
    }
    int usage = -1, choices = -1;
    for (int i = 0; i < cnt; i++) {
        if (span_is(s, m[i].k, m[i].kend, "\"usage\""))
            usage = i;
        else if (span_is(s, m[i].k, m[i].kend, "\"choices\""))
            choices = i;
    }
    if (usage >= 0 && choices >= 0 && !span_is(s, m[usage].v, m[usage].vend, "null")) {
        /* "choices": [] (any inner spacing) with a usage object: the usage-only chunk. */
        size_t a = m[choices].v + 1, b = m[choices].vend - 1;
        a = skip_ws(s, a, b);
        if (s[m[choices].v] == '[' && a == b)
            return 1;
    }
    if (usage < 0 || !span_is(s, m[usage].v, m[usage].vend, "null")) {
        hc_buf_append(out, s, n);
        return 0;
    }
    /* Remove the member and one comma next to it. */
    size_t cut_a, cut_b;
    if (usage > 0) {
        cut_a = m[usage - 1].end;          /* from right after the previous value ... */
        cut_b = m[usage].end;              /* ... through this value: takes the comma before */
    } else if (cnt > 1) {
        cut_a = m[0].start;
        cut_b = m[1].start;                /* this member, its comma, up to the next key */
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
        size_t ce = le > i && ev[le - 1] == '\r' ? le - 1 : le;
        if (ce - i >= 5 && memcmp(ev + i, "data:", 5) == 0) {
            data_lines++;
            size_t v = i + 5;
            if (v < ce && ev[v] == ' ')
                v++;
            d = ev + v;
            dl = ce - v;
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
        rc = hc_buf_append(out, ev, pre) || hc_buf_append(out, j.data, j.len) ||
                     hc_buf_append(out, ev + post, n - post) ? HC_ENOMEM : 0;
    }
    hc_buf_free(&j);
    return rc;
}

void hc_sse_filter_init(hc_sse_filter *f)
{
    memset(f, 0, sizeof *f);
    f->line_blank = true;
}

int hc_sse_filter_feed(hc_sse_filter *f, const char *p, size_t n, hc_buf *out)
{
    while (n) {
        const char *nl = memchr(p, '\n', n);
        size_t run = nl ? (size_t)(nl - p) + 1 : n;
        size_t content = nl ? run - 1 : run;
        for (size_t i = 0; i < content; i++)
            if (p[i] != '\r')
                f->line_blank = false;
        f->line_len += content;
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
        if (!nl)
            break;
        bool blank = f->line_len == 0 || (f->line_len == 1 && f->line_blank);
        f->line_len = 0;
        f->line_blank = true;
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
    struct member m[256];
    int cnt = scan_members(body, len, m, 256);
    if (cnt < 0 || cnt > 256)
        return 0;
    int stream = -1, so = -1;
    for (int i = 0; i < cnt; i++) {
        if (span_is(body, m[i].k, m[i].kend, "\"stream\""))
            stream = i;
        else if (span_is(body, m[i].k, m[i].kend, "\"stream_options\""))
            so = i;
    }
    if (stream < 0 || !span_is(body, m[stream].v, m[stream].vend, "true"))
        return 0;
    if (so < 0) {
        /* Insert right after '{' so every byte of the app's body is kept. */
        size_t brace = skip_ws(body, 0, len);
        if (hc_buf_append(out, body, brace + 1) ||
            hc_buf_puts(out, cnt ? "\"stream_options\":{\"include_usage\":true}," : "\"stream_options\":{\"include_usage\":true}") ||
            hc_buf_append(out, body + brace + 1, len - brace - 1))
            return HC_ENOMEM;
        return 1;
    }
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
             hc_buf_append(out, body + m[so].vend, len - m[so].vend) ? HC_ENOMEM : 1;
    free(txt);
    return rc;
}

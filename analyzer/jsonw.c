/* jsonw.c — streaming JSON writer (see jsonw.h). */
#include "jsonw.h"
#include "utf8.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

void jw_init(jw *w, FILE *f, bool pretty)
{
    memset(w, 0, sizeof *w);
    w->f = f;
    w->pretty = pretty;
    w->first[0] = true;
}

static void indent(jw *w)
{
    fputc('\n', w->f);
    for (int i = 0; i < w->depth; i++)
        fputs("  ", w->f);
}

/* Separator before a value or key at the current depth. */
static void pre_value(jw *w)
{
    if (w->after_key) {
        w->after_key = false;
        return;
    }
    if (!w->first[w->depth])
        fputc(',', w->f);
    if (w->pretty && w->depth > 0)
        indent(w);
    w->first[w->depth] = false;
}

static void open_(jw *w, char c)
{
    pre_value(w);
    fputc(c, w->f);
    if (w->depth < JW_MAX_DEPTH - 1)
        w->depth++;
    w->first[w->depth] = true;
}

static void close_(jw *w, char c)
{
    bool empty = w->first[w->depth];
    if (w->depth > 0)
        w->depth--;
    if (w->pretty && !empty)
        indent(w);
    fputc(c, w->f);
}

void jw_obj(jw *w)
{
    open_(w, '{');
}
void jw_obj_end(jw *w)
{
    close_(w, '}');
}
void jw_arr(jw *w)
{
    open_(w, '[');
}
void jw_arr_end(jw *w)
{
    close_(w, ']');
}

void jw_escape(FILE *f, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s, *end = p + n;
    while (p < end) {
        const unsigned char *run = p;
        while (p < end && *p >= 0x20 && *p < 0x7f && *p != '"' && *p != '\\')
            p++;
        if (p > run)
            fwrite(run, 1, (size_t)(p - run), f);
        if (p >= end)
            break;
        unsigned c = *p;
        if (c == '"' || c == '\\') {
            fputc('\\', f);
            fputc((int)c, f);
            p++;
        } else if (c < 0x20 || c == 0x7f) {
            switch (c) {
            case '\n': fputs("\\n", f); break;
            case '\r': fputs("\\r", f); break;
            case '\t': fputs("\\t", f); break;
            default: fprintf(f, "\\u%04x", c); break;
            }
            p++;
        } else {
            uint32_t cp;
            size_t len = utf8_decode(p, (size_t)(end - p), &cp);
            if (!len) {
                fputs("\\ufffd", f);
                p++;
            } else if (cp >= 0x80 && cp < 0xa0) {
                fprintf(f, "\\u%04x", (unsigned)cp);
                p += len;
            } else {
                fwrite(p, 1, len, f);
                p += len;
            }
        }
    }
}

void jw_key(jw *w, const char *k)
{
    pre_value(w);
    fputc('"', w->f);
    jw_escape(w->f, k, strlen(k));
    fputs(w->pretty ? "\": " : "\":", w->f);
    w->after_key = true;
}

void jw_strn(jw *w, const char *s, size_t n)
{
    pre_value(w);
    fputc('"', w->f);
    jw_escape(w->f, s, n);
    fputc('"', w->f);
}

void jw_str(jw *w, const char *s)
{
    if (!s) {
        jw_null(w);
        return;
    }
    jw_strn(w, s, strlen(s));
}

void jw_int(jw *w, int64_t v)
{
    pre_value(w);
    fprintf(w->f, "%" PRId64, v);
}

void jw_uint(jw *w, uint64_t v)
{
    pre_value(w);
    fprintf(w->f, "%" PRIu64, v);
}

void jw_double(jw *w, double v)
{
    pre_value(w);
    if (!isfinite(v))
        fputs("null", w->f);
    else if (fabs(v) < 1e15 && v == (double)(int64_t)v)
        fprintf(w->f, "%" PRId64, (int64_t)v);
    else {
        /* Shortest of %.15g / %.17g that reads back as the same double. */
        char b[40];
        snprintf(b, sizeof b, "%.15g", v);
        if (strtod(b, NULL) != v)
            snprintf(b, sizeof b, "%.17g", v);
        fputs(b, w->f);
    }
}

void jw_bool(jw *w, bool v)
{
    pre_value(w);
    fputs(v ? "true" : "false", w->f);
}

void jw_null(jw *w)
{
    pre_value(w);
    fputs("null", w->f);
}

void jw_kstr(jw *w, const char *k, const char *s)
{
    jw_key(w, k);
    jw_str(w, s);
}
void jw_kint(jw *w, const char *k, int64_t v)
{
    jw_key(w, k);
    jw_int(w, v);
}
void jw_kuint(jw *w, const char *k, uint64_t v)
{
    jw_key(w, k);
    jw_uint(w, v);
}
void jw_kdouble(jw *w, const char *k, double v)
{
    jw_key(w, k);
    jw_double(w, v);
}
void jw_kbool(jw *w, const char *k, bool v)
{
    jw_key(w, k);
    jw_bool(w, v);
}

void jw_end_doc(jw *w)
{
    fputc('\n', w->f);
    w->depth = 0;
    w->first[0] = true;
    w->after_key = false;
}

/* jsonw.h — a streaming JSON writer to a FILE.
 *
 * Commands print JSON as they compute it, so `export` of a million records
 * never builds a tree in memory. The writer tracks nesting and commas; the
 * caller calls begin/end, key and value functions in document order.
 *
 * Strings are written as valid JSON whatever the input bytes: control
 * characters (C0, DEL and the C1 range) are \u-escaped — so JSON printed on a
 * terminal cannot carry escape sequences — and invalid UTF-8 becomes U+FFFD.
 * Integers are exact (int64), never routed through double.
 *
 * Not thread-safe: one writer per stream.
 */
#ifndef HC_ANA_JSONW_H
#define HC_ANA_JSONW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define JW_MAX_DEPTH 64

typedef struct jw {
    FILE *f;
    bool pretty; /* newlines and two-space indentation */
    int depth;
    bool first[JW_MAX_DEPTH]; /* no value written yet at this depth */
    bool after_key;           /* a key was written; the value follows */
} jw;

void jw_init(jw *w, FILE *f, bool pretty);

void jw_obj(jw *w);     /* { */
void jw_obj_end(jw *w); /* } */
void jw_arr(jw *w);     /* [ */
void jw_arr_end(jw *w); /* ] */
/* An object key (n bytes, or strlen when n == (size_t)-1). */
void jw_key(jw *w, const char *k);

void jw_str(jw *w, const char *s); /* NULL writes null */
void jw_strn(jw *w, const char *s, size_t n);
void jw_int(jw *w, int64_t v);
void jw_uint(jw *w, uint64_t v);
void jw_double(jw *w, double v); /* non-finite writes null */
void jw_bool(jw *w, bool v);
void jw_null(jw *w);
/* Key + value shorthands. */
void jw_kstr(jw *w, const char *k, const char *s);
void jw_kint(jw *w, const char *k, int64_t v);
void jw_kuint(jw *w, const char *k, uint64_t v);
void jw_kdouble(jw *w, const char *k, double v);
void jw_kbool(jw *w, const char *k, bool v);
/* After the top-level value: a newline (one document per line for JSONL). */
void jw_end_doc(jw *w);

/* Write s (n bytes) as the body of a JSON string (no quotes) to f. */
void jw_escape(FILE *f, const char *s, size_t n);

#endif

/* utf8.h — the little UTF-8 the analyzer needs: validating decode and display width.
 * Pure functions; thread-safe. */
#ifndef HC_ANA_UTF8_H
#define HC_ANA_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* Decode one code point at p (n bytes available). Returns its length (1-4) and
 * sets *cp, or 0 if the bytes are not valid, shortest-form UTF-8 (overlongs,
 * surrogates and values above U+10FFFF are invalid). */
size_t utf8_decode(const unsigned char *p, size_t n, uint32_t *cp);

/* Columns s (NUL-terminated, already terminal-safe) takes: one per code point.
 * East Asian wide characters are counted as one (documented limitation). */
size_t utf8_width(const char *s);

/* Length in bytes of the longest prefix of s that takes at most `cols` columns. */
size_t utf8_prefix(const char *s, size_t cols);

#endif

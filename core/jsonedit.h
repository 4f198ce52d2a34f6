/* jsonedit.h — byte-preserving edits of a JSON object's top-level members.
 *
 * The gateway must sometimes change a request or a stream chunk (inject
 * stream_options, swap "model" for a fallback, drop "usage":null) while
 * keeping every other byte as the app or the provider wrote it. Parsing and
 * re-serialising would reformat numbers, spacing and key order, so instead
 * these functions scan the top-level members (skipping nested values and
 * strings correctly) and splice text.
 *
 * Untrusted input; never allocates except into the caller's hc_buf.
 */
#ifndef HC_CORE_JSONEDIT_H
#define HC_CORE_JSONEDIT_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

/* One top-level member: [start, end) spans key through value; k/kend the
 * quoted key; v/vend the value text. */
typedef struct hc_json_member {
    size_t start, end, k, kend, v, vend;
} hc_json_member;

/* Scan the members of the object in s[0..n). Returns the number of members
 * (the first `max` are stored in m; the count may exceed max) or -1 if s is
 * not a well-formed object at the top level. */
int hc_json_members(const char *s, size_t n, hc_json_member *m, int max);

/* Index in m of the member whose key is `key` (unquoted, exact), or -1. */
int hc_json_find(const char *s, const hc_json_member *m, int count, const char *key);

/* True if s[a..b) equals the C string lit. */
bool hc_json_span_is(const char *s, size_t a, size_t b, const char *lit);

/* Write into out the object s[0..n) with top-level `key` set to `raw_value`
 * (JSON text): the value is replaced in place when the key exists, else the
 * member is inserted right after '{'. 0, HC_EPARSE (not an object), HC_EINVAL
 * (key empty or holding '"' or '\\'), HC_ENOMEM. */
int hc_json_set(const char *s, size_t n, const char *key, const char *raw_value, hc_buf *out);

#endif

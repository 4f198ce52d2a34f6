/* fuzz_jsonedit.c — the byte-preserving top-level JSON editor (core/jsonedit.c).
 *
 * Input: byte 0 picks a key and a replacement value; the rest is the object.
 * Invariants:
 *   hc_json_members: -1 or a count; the stored members are ordered, disjoint
 *     and inside the text, each key a quoted string, each value non-empty;
 *     the count does not depend on `max`.
 *   hc_json_set: on success the output is again a well-formed object with
 *     the same number of members (replace) or one more (insert), whose first
 *     member of that key has exactly the new value, and every byte outside
 *     the edit is the input's. EPARSE exactly when the members scan fails. */
#include "fuzz.h"
#include "buf.h"
#include "err.h"
#include "jsonedit.h"

#define MAXM 300

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    static const char *const keys[] = { "model", "stream",  "stream_options", "usage",
                                        "a",     "choices", "k e y" };
    static const char *const vals[] = { "1",
                                        "true",
                                        "\"gpt-4o-mini\"",
                                        "{\"include_usage\":true}",
                                        "null",
                                        "[1, {\"x\": \"}\"}]",
                                        "\"\\\"}\"" };
    const char *key = keys[data[0] % 7];
    const char *val = vals[(data[0] / 7) % 7];
    size_t n = size - 1;
    const char *s = fuzz_dup(data + 1, n);

    static hc_json_member m[MAXM], m2[4];
    int c = hc_json_members(s, n, m, MAXM);
    FUZZ_CHECK(c >= -1);
    FUZZ_CHECK(hc_json_members(s, n, m2, 4) == c); /* the count does not depend on max */
    FUZZ_CHECK(hc_json_members(s, n, NULL, 0) == c);
    int stored = c < MAXM ? c : MAXM;
    size_t prev_end = 0;
    for (int i = 0; i < stored; i++) {
        FUZZ_CHECK(m[i].start == m[i].k && m[i].k < m[i].kend && m[i].kend <= m[i].v);
        FUZZ_CHECK(m[i].v < m[i].vend && m[i].vend == m[i].end && m[i].end <= n);
        FUZZ_CHECK(m[i].start >= prev_end);
        FUZZ_CHECK(s[m[i].k] == '"' && s[m[i].kend - 1] == '"' && m[i].kend - m[i].k >= 2);
        if (i < 4)
            FUZZ_CHECK(memcmp(&m[i], &m2[i], sizeof m[i]) == 0);
        prev_end = m[i].end;
    }

    hc_buf out = HC_BUF_INIT;
    int r = hc_json_set(s, n, key, val, &out);
    FUZZ_CHECK(r == 0 || r == HC_EPARSE);
    if (c < 0 || c > 256)
        FUZZ_CHECK(r == HC_EPARSE);
    if (r == 0) {
        FUZZ_CHECK(c >= 0 && c <= 256);
        int had = hc_json_find(s, m, stored, key);
        static hc_json_member mo[MAXM];
        int co = hc_json_members(out.data, out.len, mo, MAXM);
        FUZZ_CHECK(co == (had >= 0 ? c : c + 1));
        int i = hc_json_find(out.data, mo, co < MAXM ? co : MAXM, key);
        FUZZ_CHECK(i >= 0);
        FUZZ_CHECK(hc_json_span_is(out.data, mo[i].v, mo[i].vend, val));
        size_t vl = strlen(val);
        if (had >= 0) {
            /* input = A + oldvalue + B, output = A + val + B */
            size_t a = m[had].v, b = n - m[had].vend;
            FUZZ_CHECK(out.len == a + vl + b);
            FUZZ_CHECK(memcmp(out.data, s, a) == 0 &&
                       memcmp(out.data + a + vl, s + m[had].vend, b) == 0);
        } else {
            FUZZ_CHECK(out.len > n);
        }
    }
    /* keys that cannot be spliced verbatim are refused */
    hc_buf bad = HC_BUF_INIT;
    FUZZ_CHECK(hc_json_set(s, n, "a\"b", "1", &bad) == HC_EINVAL);
    FUZZ_CHECK(hc_json_set(s, n, "", "1", &bad) == HC_EINVAL);
    FUZZ_CHECK(bad.len == 0);
    hc_buf_free(&bad);
    hc_buf_free(&out);
    free((void *)s);
    return 0;
}

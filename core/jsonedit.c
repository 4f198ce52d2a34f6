#include "jsonedit.h"
#include "err.h"

#include <string.h>

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

int hc_json_members(const char *s, size_t n, hc_json_member *m, int max)
{
    size_t i = skip_ws(s, 0, n);
    if (i >= n || s[i] != '{')
        return -1;
    i++;
    int count = 0;
    bool after_comma = false;
    for (;;) {
        i = skip_ws(s, i, n);
        if (i >= n)
            return -1;
        if (s[i] == '}') {
            if (count && after_comma)
                return -1; /* {"a":1,} */
            i = skip_ws(s, i + 1, n);
            return i == n ? count : -1; /* nothing but space may follow the object */
        }
        if (s[i] != '"')
            return -1;
        after_comma = false;
        hc_json_member cur = { .start = i, .k = i };
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
        if (i < n && s[i] == ',') {
            i++;
            after_comma = true;
        } else if (i < n && s[i] != '}') {
            return -1;
        }
    }
}

bool hc_json_span_is(const char *s, size_t a, size_t b, const char *lit)
{
    size_t l = strlen(lit);
    return b >= a && b - a == l && memcmp(s + a, lit, l) == 0;
}

int hc_json_find(const char *s, const hc_json_member *m, int count, const char *key)
{
    size_t kl = strlen(key);
    for (int i = 0; i < count; i++)
        if (m[i].kend - m[i].k == kl + 2 && memcmp(s + m[i].k + 1, key, kl) == 0)
            return i;
    return -1;
}

int hc_json_set(const char *s, size_t n, const char *key, const char *raw_value, hc_buf *out)
{
    if (strpbrk(key, "\"\\") || strlen(key) == 0)
        return HC_EINVAL; /* keys are spliced in verbatim: keep them plain */
    hc_json_member m[256];
    int cnt = hc_json_members(s, n, m, 256);
    if (cnt < 0 || cnt > 256)
        return HC_EPARSE;
    int i = hc_json_find(s, m, cnt, key);
    if (i >= 0) {
        if (hc_buf_append(out, s, m[i].v) || hc_buf_puts(out, raw_value) ||
            hc_buf_append(out, s + m[i].vend, n - m[i].vend))
            return HC_ENOMEM;
        return 0;
    }
    size_t brace = skip_ws(s, 0, n);
    if (hc_buf_append(out, s, brace + 1) || hc_buf_puts(out, "\"") || hc_buf_puts(out, key) ||
        hc_buf_puts(out, "\":") || hc_buf_puts(out, raw_value) || (cnt && hc_buf_puts(out, ",")) ||
        hc_buf_append(out, s + brace + 1, n - brace - 1))
        return HC_ENOMEM;
    return 0;
}

/* jsonflat.c — a JSON text read in one pass into a flat array of nodes (see
 * jsonflat.h for why). One loop, no recursion: the open container is a node
 * index, and each node remembers its parent while the text is read. */
#include "jsonflat.h"
#include "err.h"

#include <locale.h>
#include <stdlib.h>
#include <string.h>

#define NONE UINT32_MAX

static bool is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static const char *skip_ws(const char *p, const char *e)
{
    while (p < e && is_ws(*p))
        p++;
    return p;
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_hex(char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* p just past an opening quote: past the closing one, NULL if the string is
 * cut short or has a bad escape. *esc: whether it has escapes. */
static const char *scan_string(const char *p, const char *e, bool *esc)
{
    *esc = false;
    for (;;) {
        const char *q = p;
        while (q < e && *q != '"' && *q != '\\')
            q++;
        if (q >= e)
            return NULL;
        if (*q == '"')
            return q + 1;
        *esc = true;
        if (e - q < 2)
            return NULL;
        switch (q[1]) {
        case '"':
        case '\\':
        case '/':
        case 'b':
        case 'f':
        case 'n':
        case 'r':
        case 't': p = q + 2; break;
        case 'u':
            if (e - q < 6 || !is_hex(q[2]) || !is_hex(q[3]) || !is_hex(q[4]) || !is_hex(q[5]))
                return NULL;
            p = q + 6;
            break;
        default: return NULL;
        }
    }
}

/* RFC 8259 number at p: past it, NULL if malformed. */
static const char *scan_number(const char *p, const char *e)
{
    if (p < e && *p == '-')
        p++;
    if (p >= e || !is_digit(*p))
        return NULL;
    if (*p == '0') {
        p++;
    } else {
        while (p < e && is_digit(*p))
            p++;
    }
    if (p < e && *p == '.') {
        p++;
        if (p >= e || !is_digit(*p))
            return NULL;
        while (p < e && is_digit(*p))
            p++;
    }
    if (p < e && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < e && (*p == '+' || *p == '-'))
            p++;
        if (p >= e || !is_digit(*p))
            return NULL;
        while (p < e && is_digit(*p))
            p++;
    }
    return p;
}

static const char *literal(const char *p, const char *e, const char *word, size_t n)
{
    return (size_t)(e - p) >= n && memcmp(p, word, n) == 0 ? p + n : NULL;
}

/* Append a node under parent `up` (NONE for the root). Returns its index, or
 * NONE (with *err set) when out of room. */
static uint32_t add_node(hc_jf_doc *d, uint32_t up, int type, const char *val, const char *key,
                         uint32_t klen, bool kesc, int *err)
{
    if (d->n == d->cap) {
        if (d->cap >= HC_JF_MAX_NODES) {
            *err = HC_ETOOBIG;
            return NONE;
        }
        uint32_t cap = d->cap * 2;
        hc_jf_node *nn =
            d->nodes == d->inl ? malloc(cap * sizeof *nn) : realloc(d->nodes, cap * sizeof *nn);
        if (!nn) {
            *err = HC_ENOMEM;
            return NONE;
        }
        if (d->nodes == d->inl)
            memcpy(nn, d->inl, d->n * sizeof *nn);
        d->nodes = nn;
        d->cap = cap;
    }
    uint32_t i = d->n++;
    hc_jf_node *n = &d->nodes[i];
    n->key = key;
    n->klen = klen;
    n->kesc = kesc;
    n->val = val;
    n->vlen = 0;
    n->first = n->next = 0;
    n->up = up;
    n->last = NONE;
    n->type = (uint8_t)type;
    n->vesc = 0;
    if (up != NONE) {
        hc_jf_node *par = &d->nodes[up];
        if (par->last == NONE)
            par->first = i - up;
        else
            d->nodes[par->last].next = i - par->last;
        par->last = i;
    }
    return i;
}

int hc_jf_parse(hc_jf_doc *d, const char *text, size_t len)
{
    d->nodes = d->inl;
    d->n = 0;
    d->cap = HC_JF_INLINE;
    if (!text)
        return HC_EPARSE;
    if (len > UINT32_MAX)
        return HC_ETOOBIG; /* spans are 32-bit */
    const char *p = text, *e = text + len;
    uint32_t cur = NONE; /* the open container */
    unsigned depth = 0;
    const char *key = NULL; /* the pending member key */
    uint32_t klen = 0;
    bool kesc = false;
    int err = HC_EPARSE;

value:
    p = skip_ws(p, e);
    if (p >= e)
        return HC_EPARSE;
    {
        const char *v = p;
        uint32_t i;
        switch (*p) {
        case '{':
        case '[': {
            if (++depth > HC_JF_DEPTH)
                return HC_EPARSE; /* as cJSON: refused, whatever it holds */
            bool obj = *p == '{';
            if ((i = add_node(d, cur, obj ? HC_JF_OBJECT : HC_JF_ARRAY, v, key, klen, kesc,
                              &err)) == NONE)
                return err;
            cur = i;
            key = NULL;
            p = skip_ws(p + 1, e);
            if (p < e && *p == (obj ? '}' : ']'))
                goto close;
            if (obj)
                goto member;
            goto value;
        }
        case '"': {
            bool esc;
            const char *q = scan_string(p + 1, e, &esc);
            if (!q)
                return HC_EPARSE;
            if ((i = add_node(d, cur, HC_JF_STRING, p + 1, key, klen, kesc, &err)) == NONE)
                return err;
            d->nodes[i].vlen = (uint32_t)(q - 1 - (p + 1));
            d->nodes[i].vesc = esc;
            p = q;
            break;
        }
        case 't':
        case 'f':
        case 'n': {
            int type = *p == 't' ? HC_JF_TRUE : *p == 'f' ? HC_JF_FALSE : HC_JF_NULL;
            const char *q = type == HC_JF_TRUE    ? literal(p, e, "true", 4)
                            : type == HC_JF_FALSE ? literal(p, e, "false", 5)
                                                  : literal(p, e, "null", 4);
            if (!q)
                return HC_EPARSE;
            if ((i = add_node(d, cur, type, p, key, klen, kesc, &err)) == NONE)
                return err;
            d->nodes[i].vlen = (uint32_t)(q - p);
            p = q;
            break;
        }
        default: {
            const char *q = scan_number(p, e);
            if (!q)
                return HC_EPARSE;
            if ((i = add_node(d, cur, HC_JF_NUMBER, p, key, klen, kesc, &err)) == NONE)
                return err;
            d->nodes[i].vlen = (uint32_t)(q - p);
            p = q;
            break;
        }
        }
        key = NULL;
    }

after:
    if (cur == NONE)
        return skip_ws(p, e) == e ? 0 : HC_EPARSE;
    p = skip_ws(p, e);
    if (p >= e)
        return HC_EPARSE;
    if (*p == ',') {
        p = skip_ws(p + 1, e);
        if (d->nodes[cur].type == HC_JF_OBJECT)
            goto member;
        goto value;
    }
    if (*p != (d->nodes[cur].type == HC_JF_OBJECT ? '}' : ']'))
        return HC_EPARSE;

close: /* p at the closing bracket of cur */
    d->nodes[cur].vlen = (uint32_t)(p + 1 - d->nodes[cur].val);
    cur = d->nodes[cur].up;
    depth--;
    p++;
    goto after;

member: /* p (after whitespace) at a key */
    if (p >= e || *p != '"')
        return HC_EPARSE;
    {
        const char *q = scan_string(p + 1, e, &kesc);
        if (!q)
            return HC_EPARSE;
        key = p + 1;
        klen = (uint32_t)(q - 1 - key);
        p = skip_ws(q, e);
        if (p >= e || *p != ':')
            return HC_EPARSE;
        p++;
    }
    goto value;
}

void hc_jf_free(hc_jf_doc *d)
{
    if (d->nodes && d->nodes != d->inl)
        free(d->nodes);
    d->nodes = d->inl;
    d->n = 0;
    d->cap = HC_JF_INLINE;
}

const hc_jf_node *hc_jf_get(const hc_jf_node *obj, const char *key)
{
    if (!obj || obj->type != HC_JF_OBJECT)
        return NULL;
    size_t kl = strlen(key);
    for (const hc_jf_node *c = hc_jf_child(obj); c; c = hc_jf_next(c)) {
        if (!c->kesc) {
            if (c->klen == kl && memcmp(c->key, key, kl) == 0)
                return c;
        } else if (c->klen >= kl) { /* an escape only ever shortens the text */
            char tmp[256];
            if (kl < sizeof tmp - 1 &&
                hc_json_read_string(c->key - 1, c->key + c->klen + 1, tmp, sizeof tmp) &&
                strcmp(tmp, key) == 0)
                return c;
        }
    }
    return NULL;
}

bool hc_jf_number(const hc_jf_node *n, double *v)
{
    if (!n || n->type != HC_JF_NUMBER)
        return false;
    const char *p = n->val;
    uint32_t len = n->vlen;
    bool neg = p[0] == '-';
    uint32_t i = neg;
    if (len - i <= 15) { /* the common case: a plain integer, exact in a double */
        int64_t x = 0;
        while (i < len && is_digit(p[i]))
            x = x * 10 + (p[i++] - '0');
        if (i == len) {
            *v = neg ? -(double)x : (double)x;
            return true;
        }
    }
    /* Fraction or exponent: strtod, with the locale's decimal point (as cJSON). */
    char small[64];
    char *buf = len < sizeof small ? small : malloc((size_t)len + 1);
    if (!buf)
        return false;
    memcpy(buf, p, len);
    buf[len] = '\0';
    const char *dp = localeconv()->decimal_point;
    if (dp && dp[0] && dp[0] != '.' && !dp[1]) {
        char *dot = strchr(buf, '.');
        if (dot)
            *dot = dp[0];
    }
    *v = strtod(buf, NULL);
    if (buf != small)
        free(buf);
    return true;
}

bool hc_jf_string(const hc_jf_node *n, char *out, size_t outsz)
{
    if (!n || n->type != HC_JF_STRING) {
        out[0] = '\0';
        return false;
    }
    return hc_json_read_string(n->val - 1, n->val + n->vlen + 1, out, outsz) != NULL;
}

static bool str_cmp(const hc_jf_node *n, const char *s, bool prefix)
{
    if (!n || n->type != HC_JF_STRING)
        return false;
    size_t sl = strlen(s);
    if (!n->vesc)
        return prefix ? n->vlen >= sl && memcmp(n->val, s, sl) == 0
                      : n->vlen == sl && memcmp(n->val, s, sl) == 0;
    char tmp[256];
    if (sl >= sizeof tmp - 1 || !hc_jf_string(n, tmp, sizeof tmp))
        return false;
    return prefix ? strncmp(tmp, s, sl) == 0 : strcmp(tmp, s) == 0;
}

bool hc_jf_str_is(const hc_jf_node *n, const char *s)
{
    return str_cmp(n, s, false);
}

bool hc_jf_str_prefix(const hc_jf_node *n, const char *s)
{
    return str_cmp(n, s, true);
}

/* ---- decoding strings ----------------------------------------------------- */

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static const char *read_hex4(const char *p, const char *e, unsigned *v)
{
    if (e - p < 4)
        return NULL;
    unsigned x = 0;
    for (int i = 0; i < 4; i++) {
        int h = hexval(p[i]);
        if (h < 0)
            return NULL;
        x = (x << 4) | (unsigned)h;
    }
    *v = x;
    return p + 4;
}

/* Drop a UTF-8 sequence left incomplete at the end of out[0..*n). */
static void utf8_trim(const char *out, size_t *n)
{
    size_t k = *n;
    while (k > 0 && *n - k < 4 && ((unsigned char)out[k - 1] & 0xC0) == 0x80)
        k--;
    if (k == 0)
        return;
    unsigned char lead = (unsigned char)out[k - 1];
    size_t need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
    if (*n - (k - 1) < need)
        *n = k - 1;
}

/* See jsonflat.h. */
const char *hc_json_read_string(const char *p, const char *e, char *out, size_t outsz)
{
    size_t n = 0;
    bool full = false;
    for (p++; p < e;) {
        char c = *p++;
        unsigned cp;
        char enc[4];
        size_t k;
        if (c == '"') {
            if (full)
                utf8_trim(out, &n);
            out[n] = '\0';
            return p;
        }
        if (c != '\\') {
            /* Raw bytes pass as they are; a cut is repaired by utf8_trim. */
            unsigned char uc = (unsigned char)c;
            enc[0] = (uc < 0x20 || uc == 0x7f) ? '?' : c;
            k = 1;
        } else {
            if (p >= e)
                break;
            c = *p++;
            switch (c) {
            case '"': cp = '"'; break;
            case '\\': cp = '\\'; break;
            case '/': cp = '/'; break;
            case 'b': cp = '\b'; break;
            case 'f': cp = '\f'; break;
            case 'n': cp = '\n'; break;
            case 'r': cp = '\r'; break;
            case 't': cp = '\t'; break;
            case 'u': {
                p = read_hex4(p, e, &cp);
                if (!p)
                    goto bad;
                if (cp >= 0xD800 && cp <= 0xDBFF) {
                    unsigned lo;
                    if (e - p >= 6 && p[0] == '\\' && p[1] == 'u' && read_hex4(p + 2, e, &lo) &&
                        lo >= 0xDC00 && lo <= 0xDFFF) {
                        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                        p += 6;
                    } else {
                        cp = 0xFFFD;
                    }
                } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                    cp = 0xFFFD;
                }
                break;
            }
            default: goto bad;
            }
            if (cp < 0x20 || cp == 0x7f) {
                enc[0] = '?';
                k = 1;
            } else if (cp < 0x80) {
                enc[0] = (char)cp;
                k = 1;
            } else if (cp < 0x800) {
                enc[0] = (char)(0xC0 | (cp >> 6));
                enc[1] = (char)(0x80 | (cp & 0x3F));
                k = 2;
            } else if (cp < 0x10000) {
                enc[0] = (char)(0xE0 | (cp >> 12));
                enc[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
                enc[2] = (char)(0x80 | (cp & 0x3F));
                k = 3;
            } else {
                enc[0] = (char)(0xF0 | (cp >> 18));
                enc[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
                enc[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
                enc[3] = (char)(0x80 | (cp & 0x3F));
                k = 4;
            }
        }
        if (!full && n + k < outsz) {
            memcpy(out + n, enc, k);
            n += k;
        } else {
            full = true;
        }
    }
bad:
    out[0] = '\0';
    return NULL;
}

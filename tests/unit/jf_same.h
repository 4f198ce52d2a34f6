/* jf_same.h — does a jsonflat document read as the same tree as cJSON's?
 * Shared by tests/unit/test_jsonflat.c and tests/fuzz/fuzz_jsonflat.c.
 *
 * Where the two differ by design, the value is not compared: a string or key
 * with a \u0000 escape (cJSON's C string ends there; ours shows '?'), and a
 * number of 64 characters or more (cJSON reads only its first 63). Control
 * characters are '?' in our strings, so they are made '?' in cJSON's too. */
#ifndef HC_JF_SAME_H
#define HC_JF_SAME_H

#include "jsonflat.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool jf_has_nul_escape(const char *p, size_t n)
{
    for (size_t i = 0; i + 6 <= n; i++)
        if (p[i] == '\\' && memcmp(p + i + 1, "u0000", 5) == 0)
            return true;
    return false;
}

/* Whether our decoding of raw string text [p, p+n) equals cJSON's value s. */
static bool jf_same_string(const char *p, size_t n, const char *s)
{
    if (jf_has_nul_escape(p, n))
        return true;
    size_t sz = n * 3 + 4;
    char *got = malloc(sz), *want = strdup(s);
    if (!got || !want)
        abort();
    for (char *w = want; *w; w++)
        if ((unsigned char)*w < 0x20 || *w == 0x7f)
            *w = '?';
    bool ok = hc_json_read_string(p - 1, p + n + 1, got, sz) && strcmp(got, want) == 0;
    free(got);
    free(want);
    return ok;
}

static bool jf_same_tree(const cJSON *c, const hc_jf_node *n, char *why, size_t whysz)
{
    bool ok = false;
    switch (n->type) {
    case HC_JF_NULL: ok = cJSON_IsNull(c); break;
    case HC_JF_TRUE: ok = cJSON_IsTrue(c); break;
    case HC_JF_FALSE: ok = cJSON_IsFalse(c); break;
    case HC_JF_NUMBER: {
        double v;
        ok = cJSON_IsNumber(c) && hc_jf_number(n, &v) &&
             (n->vlen >= 64 || v == c->valuedouble || (isnan(v) && isnan(c->valuedouble)));
        break;
    }
    case HC_JF_STRING:
        ok = cJSON_IsString(c) && jf_same_string(n->val, n->vlen, c->valuestring);
        break;
    case HC_JF_ARRAY:
    case HC_JF_OBJECT: {
        if (n->type == HC_JF_ARRAY ? !cJSON_IsArray(c) : !cJSON_IsObject(c))
            break;
        const cJSON *ci = c->child;
        const hc_jf_node *ni = hc_jf_child(n);
        ok = true;
        for (; ok && ci && ni; ci = ci->next, ni = hc_jf_next(ni)) {
            if (n->type == HC_JF_OBJECT && !jf_same_string(ni->key, ni->klen, ci->string)) {
                snprintf(why, whysz, "key %.40s", ci->string);
                return false;
            }
            ok = jf_same_tree(ci, ni, why, whysz);
        }
        ok = ok && !ci && !ni;
        break;
    }
    }
    if (!ok && !why[0])
        snprintf(why, whysz, "value at %.30s", n->val);
    return ok;
}

#endif

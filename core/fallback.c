#include "fallback.h"
#include "buf.h"
#include "err.h"
#include "redact.h"
#include "jsonedit.h"
#include "record.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void codes_set(hc_codes *c, int s)
{
    if (s >= 0 && s < 600)
        c->bits[s / 8] |= (uint8_t)(1u << (s % 8));
}

bool hc_codes_has(const hc_codes *c, int s)
{
    return s >= 0 && s < 600 && (c->bits[s / 8] & (1u << (s % 8)));
}

int hc_codes_parse(const char *spec, hc_codes *c)
{
    memset(c, 0, sizeof *c);
    const char *p = spec;
    bool any = false;
    while (*p) {
        while (*p == ' ' || *p == ',')
            p++;
        if (!*p)
            break;
        char *end;
        long a = strtol(p, &end, 10), b;
        if (end == p || a < 0 || a > 599)
            return HC_EINVAL;
        p = end;
        if (*p == '-') {
            b = strtol(p + 1, &end, 10);
            if (end == p + 1 || b < a || b > 599)
                return HC_EINVAL;
            p = end;
        } else {
            b = a;
        }
        while (*p == ' ')
            p++;
        if (*p && *p != ',')
            return HC_EINVAL;
        for (long s = a; s <= b; s++)
            codes_set(c, (int)s);
        any = true;
    }
    return any ? 0 : HC_EINVAL;
}

int hc_expand_env(const char *in, hc_buf *out)
{
    for (const char *p = in; *p;) {
        if (*p != '$') {
            const char *d = strchr(p, '$');
            size_t n = d ? (size_t)(d - p) : strlen(p);
            if (hc_buf_append(out, p, n))
                return HC_ENOMEM;
            p += n;
            continue;
        }
        char name[128];
        size_t n = 0;
        const char *q = p + 1;
        bool brace = *q == '{';
        if (brace)
            q++;
        while ((isalnum((unsigned char)*q) || *q == '_') && n < sizeof name - 1)
            name[n++] = *q++;
        name[n] = '\0';
        if (n == 0 || (brace && *q != '}')) {
            if (hc_buf_append(out, p, 1)) /* a lone '$' stays */
                return HC_ENOMEM;
            p++;
            continue;
        }
        if (brace)
            q++;
        const char *v = getenv(name);
        if (v && hc_buf_puts(out, v))
            return HC_ENOMEM;
        p = q;
    }
    if (!out->data && hc_buf_append(out, "", 0))
        return HC_ENOMEM;
    return 0;
}

static int parse_one(const cJSON *fb, hc_fallback *f, char *err, size_t errlen, int idx)
{
    const cJSON *url = cJSON_GetObjectItemCaseSensitive(fb, "target-url");
    const cJSON *headers = cJSON_GetObjectItemCaseSensitive(fb, "headers");
    const cJSON *codes = cJSON_GetObjectItemCaseSensitive(fb, "onCodes");
    const cJSON *override = cJSON_GetObjectItemCaseSensitive(fb, "bodyKeyOverride");
    if (!cJSON_IsObject(fb) || !cJSON_IsString(url)) {
        snprintf(err, errlen, "entry %d needs a \"target-url\" string", idx);
        return HC_EINVAL;
    }
    hc_strlcpy(f->url, sizeof f->url, url->valuestring);
    if (hc_route_parse_url(f->url, &f->target) != 0) {
        char shown[sizeof f->url];
        hc_url_redact(shown, sizeof shown, f->url);
        snprintf(err, errlen,
                 "entry %d: \"target-url\" %s is not an http(s) URL of the form "
                 "https://host[:port][/path] (no user:password@)",
                 idx, shown);
        return HC_EINVAL;
    }
    hc_strlcpy(f->target.host, sizeof f->target.host, f->target.target);
    f->has_target = true;
    if (headers && !cJSON_IsObject(headers)) {
        snprintf(err, errlen, "entry %d: \"headers\" must be an object of strings", idx);
        return HC_EINVAL;
    }
    const cJSON *h;
    cJSON_ArrayForEach(h, headers)
    {
        if (!cJSON_IsString(h) || !h->string || strchr(h->string, '\n') ||
            strchr(h->valuestring, '\n')) {
            snprintf(err, errlen, "entry %d: header values must be single-line strings", idx);
            return HC_EINVAL;
        }
        hc_buf v = HC_BUF_INIT;
        if (hc_expand_env(h->valuestring, &v) || hc_pairs_add(&f->headers, h->string, v.data)) {
            hc_buf_free(&v);
            return HC_ENOMEM;
        }
        hc_buf_free(&v);
    }
    if (codes) {
        if (!cJSON_IsArray(codes)) {
            snprintf(err, errlen, "entry %d: \"onCodes\" must be an array", idx);
            return HC_EINVAL;
        }
        const cJSON *c;
        cJSON_ArrayForEach(c, codes)
        {
            if (cJSON_IsNumber(c) && c->valuedouble >= 0 && c->valuedouble < 600) {
                codes_set(&f->codes, (int)c->valuedouble);
            } else if (cJSON_IsObject(c)) {
                const cJSON *from = cJSON_GetObjectItemCaseSensitive(c, "from");
                const cJSON *to = cJSON_GetObjectItemCaseSensitive(c, "to");
                if (!cJSON_IsNumber(from) || !cJSON_IsNumber(to) || from->valuedouble < 0 ||
                    to->valuedouble > 599 || from->valuedouble > to->valuedouble) {
                    snprintf(err, errlen,
                             "entry %d: a code range needs numeric \"from\" <= \"to\" in 0..599",
                             idx);
                    return HC_EINVAL;
                }
                for (int s = (int)from->valuedouble; s <= (int)to->valuedouble; s++)
                    codes_set(&f->codes, s);
            } else {
                snprintf(err, errlen,
                         "entry %d: \"onCodes\" holds numbers or {\"from\",\"to\"} ranges", idx);
                return HC_EINVAL;
            }
        }
    } else {
        hc_codes_parse(HC_FALLBACK_ON_DEFAULT, &f->codes);
    }
    if (override) {
        if (!cJSON_IsObject(override)) {
            snprintf(err, errlen, "entry %d: \"bodyKeyOverride\" must be an object", idx);
            return HC_EINVAL;
        }
        if (!(f->override = cJSON_PrintUnformatted(override)))
            return HC_ENOMEM;
    }
    return 0;
}

int hc_fallbacks_build(const hc_opts *o, hc_fallback *out, int max, int *n, char *err,
                       size_t errlen)
{
    *n = 0;
    err[0] = '\0';
    if (o->fallback_model[0] && *n < max) {
        hc_fallback *f = &out[(*n)++];
        memset(f, 0, sizeof *f);
        if (hc_codes_parse(o->fallback_on, &f->codes) != 0) {
            /* value not echoed */
            snprintf(err, errlen, "Helicone-Fallback-OnCodes: expected codes like 429,500-599");
            return HC_EINVAL;
        }
        cJSON *obj = cJSON_CreateObject();
        if (!obj || !cJSON_AddStringToObject(obj, "model", o->fallback_model) ||
            !(f->override = cJSON_PrintUnformatted(obj))) {
            cJSON_Delete(obj);
            return HC_ENOMEM;
        }
        cJSON_Delete(obj);
    }
    if (!o->fallbacks)
        return 0;
    cJSON *list = cJSON_Parse(o->fallbacks);
    if (!cJSON_IsArray(list)) {
        cJSON_Delete(list);
        snprintf(err, errlen,
                 "Helicone-Fallbacks: expected a JSON array of {\"target-url\", \"headers\", "
                 "\"onCodes\"}");
        return HC_EINVAL;
    }
    int rc = 0, idx = 0;
    const cJSON *fb;
    cJSON_ArrayForEach(fb, list)
    {
        if (*n >= max) {
            snprintf(err, errlen, "Helicone-Fallbacks: at most %d fallbacks", max);
            rc = HC_EINVAL;
            break;
        }
        hc_fallback *f = &out[*n];
        memset(f, 0, sizeof *f);
        (*n)++;
        char why[200];
        if ((rc = parse_one(fb, f, why, sizeof why, idx++)) != 0) {
            snprintf(err, errlen, "Helicone-Fallbacks: %s", why);
            break;
        }
    }
    cJSON_Delete(list);
    return rc;
}

void hc_fallbacks_free(hc_fallback *f, int n)
{
    for (int i = 0; i < n; i++) {
        hc_buf_free(&f[i].headers);
        free(f[i].override);
        f[i].override = NULL;
    }
}

int hc_fallback_body(const hc_fallback *f, const char *body, size_t len, hc_buf *out)
{
    if (!f->override)
        return 0;
    cJSON *ov = cJSON_Parse(f->override);
    if (!ov)
        return HC_ENOMEM;
    hc_buf cur = HC_BUF_INIT, next = HC_BUF_INIT;
    int rc = hc_buf_append(&cur, body, len) ? HC_ENOMEM : 0;
    const cJSON *item;
    cJSON_ArrayForEach(item, ov)
    {
        if (rc)
            break;
        char *v = cJSON_PrintUnformatted(item);
        if (!v) {
            rc = HC_ENOMEM;
            break;
        }
        hc_buf_reset(&next);
        rc = hc_json_set(cur.data ? cur.data : "", cur.len, item->string, v, &next);
        free(v);
        hc_buf tmp = cur;
        cur = next;
        next = tmp;
    }
    cJSON_Delete(ov);
    if (rc == 0)
        rc = hc_buf_append_buf(out, &cur) ? HC_ENOMEM : 1;
    hc_buf_free(&cur);
    hc_buf_free(&next);
    return rc;
}

#include "options.h"
#include "err.h"
#include "record.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

bool hc_is_helicone_header(const char *name, size_t len)
{
    return hc_span_iprefix(name, len, "helicone-");
}

bool hc_header_bool(const char *v, size_t n, bool dflt)
{
    if (hc_span_ieq(v, n, "true") || hc_span_ieq(v, n, "1") || hc_span_ieq(v, n, "yes") || hc_span_ieq(v, n, "on"))
        return true;
    if (hc_span_ieq(v, n, "false") || hc_span_ieq(v, n, "0") || hc_span_ieq(v, n, "no") || hc_span_ieq(v, n, "off"))
        return false;
    return dflt;
}

static void copy_span(char *dst, size_t size, const char *p, size_t n)
{
    if (n >= size)
        n = size - 1;
    memcpy(dst, p, n);
    dst[n] = '\0';
}

/* Values must not carry NUL (the pairs list is NUL-separated); headers cannot
 * hold NUL anyway (http.c rejects control characters), so a copy is enough. */
static int add_prop(hc_buf *b, const char *name, size_t nl, const char *val, size_t vl)
{
    char n[128], v[1024];
    copy_span(n, sizeof n, name, nl);
    copy_span(v, sizeof v, val, vl);
    return hc_pairs_add(b, n, v);
}

int hc_opts_from_request(hc_opts *o, const hc_config *cfg, const hc_http_head *h)
{
    memset(o, 0, sizeof *o);
    snprintf(o->user, sizeof o->user, "%s", cfg->user_id);
    snprintf(o->session_id, sizeof o->session_id, "%s", cfg->session_id);
    snprintf(o->session_path, sizeof o->session_path, "%s", cfg->session_path);
    snprintf(o->session_name, sizeof o->session_name, "%s", cfg->session_name);
    o->omit_request = cfg->omit_request;
    o->omit_response = cfg->omit_response;
    o->stream_usage = cfg->stream_usage;

    /* Properties: headers first, then env defaults whose names no header set. */
    for (size_t i = 0; i < h->nheaders; i++) {
        const hc_header *x = &h->headers[i];
        if (hc_span_iprefix(x->name, x->name_len, "helicone-property-") && x->name_len > 18) {
            if (add_prop(&o->props, x->name + 18, x->name_len - 18, x->value, x->value_len))
                return HC_ENOMEM;
        }
    }
    hc_pairs env = { cfg->properties.data, (uint32_t)cfg->properties.len };
    uint32_t pos = 0;
    const char *n, *v;
    while (hc_pairs_next(&env, &pos, &n, &v)) {
        hc_pairs mine = { o->props.data, (uint32_t)o->props.len };
        bool overridden = false;
        uint32_t mp = 0;
        const char *mn, *mv;
        while (hc_pairs_next(&mine, &mp, &mn, &mv))
            if (strcasecmp(mn, n) == 0)
                overridden = true;
        if (!overridden && hc_pairs_add(&o->props, n, v))
            return HC_ENOMEM;
    }

    for (size_t i = 0; i < h->nheaders; i++) {
        const hc_header *x = &h->headers[i];
        const char *nm = x->name, *val = x->value;
        size_t nl = x->name_len, vl = x->value_len;
        if (!hc_is_helicone_header(nm, nl))
            continue;
        if (hc_span_ieq(nm, nl, "helicone-user-id"))
            copy_span(o->user, sizeof o->user, val, vl);
        else if (hc_span_ieq(nm, nl, "helicone-session-id"))
            copy_span(o->session_id, sizeof o->session_id, val, vl);
        else if (hc_span_ieq(nm, nl, "helicone-session-path"))
            copy_span(o->session_path, sizeof o->session_path, val, vl);
        else if (hc_span_ieq(nm, nl, "helicone-session-name"))
            copy_span(o->session_name, sizeof o->session_name, val, vl);
        else if (hc_span_ieq(nm, nl, "helicone-request-id"))
            copy_span(o->request_id, sizeof o->request_id, val, vl);
        else if (hc_span_ieq(nm, nl, "helicone-omit-request"))
            o->omit_request = hc_header_bool(val, vl, o->omit_request);
        else if (hc_span_ieq(nm, nl, "helicone-omit-response"))
            o->omit_response = hc_header_bool(val, vl, o->omit_response);
        else if (hc_span_ieq(nm, nl, "helicone-stream-usage"))
            o->stream_usage = hc_header_bool(val, vl, o->stream_usage);
    }
    return 0;
}

void hc_opts_free(hc_opts *o)
{
    hc_buf_free(&o->props);
}

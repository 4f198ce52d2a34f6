/* otlp.c — see otlp.h.
 *
 * Written as text into an hc_buf (no JSON tree): a span is ~40 attributes,
 * encoded on a gateway thread after the app has its answer, so it must be
 * cheap. Every append's result is folded into one error flag per document
 * (`struct w`), checked once at the end. */
#include "otlp.h"
#include "err.h"
#include "uuid.h"

#include <ctype.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct w {
    hc_buf *b;
    int err;
};

static inline void put(struct w *w, const char *s, size_t n)
{
    hc_buf *b = w->b;
    if (b->data && b->cap - b->len > n) { /* room for n bytes and the NUL: the usual case */
        memcpy(b->data + b->len, s, n);
        b->len += n;
        b->data[b->len] = '\0';
        return;
    }
    if (!w->err && hc_buf_append(b, s, n) != 0)
        w->err = HC_ENOMEM;
}

static void puts_(struct w *w, const char *s)
{
    put(w, s, strlen(s));
}

/* Decimal text of v into b[24]; returns b. snprintf costs ~1,500
 * instructions a call, and a span has a dozen integers. */
static char *i64s(char b[24], int64_t v)
{
    char *p = b + 23;
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    *p = '\0';
    do
        *--p = (char)('0' + u % 10);
    while (u /= 10);
    if (v < 0)
        *--p = '-';
    return p;
}

/* Length of the valid UTF-8 sequence at p (at most n bytes), 0 if invalid. */
static size_t utf8_len(const unsigned char *p, size_t n)
{
    unsigned c = p[0];
    size_t len;
    uint32_t cp;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        len = 2, cp = c & 0x1f;
    else if (c >= 0xe0 && c <= 0xef)
        len = 3, cp = c & 0x0f;
    else if (c >= 0xf0 && c <= 0xf4)
        len = 4, cp = c & 0x07;
    else
        return 0;
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (p[i] & 0x3f);
    }
    if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
        (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
        return 0;
    return len;
}

/* Bytes a JSON string takes as they are: printable ASCII but " and \. */
static const unsigned char plain[256] = {
    [0x20] = 1,
    [0x21] = 1,
    [0x23 ... 0x5b] = 1,
    [0x5d ... 0x7e] = 1,
};

/* A JSON string: control bytes \u-escaped, invalid UTF-8 as U+FFFD. */
static void str(struct w *w, const char *s)
{
    const unsigned char *p = (const unsigned char *)(s ? s : ""), *run = p;
    size_t n = strlen((const char *)p);
    const unsigned char *end = p + n;
    put(w, "\"", 1);
    while (p < end) {
        /* Most text is printable ASCII: skip it in a tight loop. */
        while (p < end && plain[*p])
            p++;
        if (p == end)
            break;
        unsigned c = *p;
        const char *esc = NULL;
        char u[8];
        size_t l = 1;
        if (c == '"')
            esc = "\\\"";
        else if (c == '\\')
            esc = "\\\\";
        else if (c < 0x20 || c == 0x7f) {
            snprintf(u, sizeof u, "\\u%04x", c);
            esc = u;
        } else if (c >= 0x80 && !(l = utf8_len(p, (size_t)(end - p)))) {
            esc = "\\ufffd";
            l = 1;
        }
        if (esc) {
            put(w, (const char *)run, (size_t)(p - run));
            puts_(w, esc);
            run = p + l;
        }
        p += l;
    }
    put(w, (const char *)run, (size_t)(p - run));
    put(w, "\"", 1);
}

/* ---- attributes ---------------------------------------------------------- */

static void comma(struct w *w, bool *first)
{
    if (!*first)
        put(w, ",", 1);
    *first = false;
}

static void akey(struct w *w, bool *first, const char *k)
{
    comma(w, first);
    puts_(w, "{\"key\":");
    str(w, k);
    puts_(w, ",\"value\":{");
}

static void attr_str(struct w *w, bool *first, const char *k, const char *v)
{
    akey(w, first, k);
    puts_(w, "\"stringValue\":");
    str(w, v);
    puts_(w, "}}");
}

static void attr_int(struct w *w, bool *first, const char *k, int64_t v)
{
    char b[24];
    akey(w, first, k);
    puts_(w, "\"intValue\":\""); /* OTLP/JSON: int64 as a string */
    puts_(w, i64s(b, v));
    puts_(w, "\"}}");
}

static void dbl(struct w *w, double v)
{
    char b[40];
    if (!isfinite(v))
        v = 0;
    snprintf(b, sizeof b, "%.17g", v);
    puts_(w, b);
}

static void attr_double(struct w *w, bool *first, const char *k, double v)
{
    akey(w, first, k);
    puts_(w, "\"doubleValue\":");
    dbl(w, v);
    puts_(w, "}}");
}

static void attr_bool(struct w *w, bool *first, const char *k, bool v)
{
    akey(w, first, k);
    puts_(w, v ? "\"boolValue\":true}}" : "\"boolValue\":false}}");
}

/* A string array from a ','-joined list. */
static void attr_strlist(struct w *w, bool *first, const char *k, const char *list)
{
    akey(w, first, k);
    puts_(w, "\"arrayValue\":{\"values\":[");
    bool f = true;
    for (const char *p = list; *p;) {
        size_t n = strcspn(p, ",");
        char one[128];
        snprintf(one, sizeof one, "%.*s", (int)(n < sizeof one ? n : sizeof one - 1), p);
        comma(w, &f);
        puts_(w, "{\"stringValue\":");
        str(w, one);
        put(w, "}", 1);
        p += n;
        if (*p == ',')
            p++;
    }
    puts_(w, "]}}}");
}

/* ---- resource ------------------------------------------------------------ */

static int hexval(int c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* %-decode s[0..n) into out[size]; false if malformed or too long. */
static bool pct_decode(const char *s, size_t n, char *out, size_t size)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)s[i];
        if (c == '%') {
            if (i + 2 >= n || hexval(s[i + 1]) < 0 || hexval(s[i + 2]) < 0)
                return false;
            c = hexval(s[i + 1]) << 4 | hexval(s[i + 2]);
            i += 2;
        }
        if (o + 1 >= size || c == 0)
            return false;
        out[o++] = (char)c;
    }
    out[o] = '\0';
    return true;
}

static void trim(const char **p, size_t *n)
{
    while (*n && (**p == ' ' || **p == '\t'))
        (*p)++, (*n)--;
    while (*n && ((*p)[*n - 1] == ' ' || (*p)[*n - 1] == '\t'))
        (*n)--;
}

/* Walk "k=v,k=v": call each pair, or (check only) return false when malformed. */
static bool res_attrs(struct w *w, bool *first, const char *attrs, bool emit, bool skip_service)
{
    for (const char *p = attrs; p && *p;) {
        size_t n = strcspn(p, ",");
        const char *eq = memchr(p, '=', n);
        if (!eq)
            return false;
        const char *k = p, *v = eq + 1;
        size_t kn = (size_t)(eq - p), vn = n - kn - 1;
        trim(&k, &kn);
        trim(&v, &vn);
        char key[256], val[1024];
        if (!kn || !pct_decode(k, kn, key, sizeof key) || !pct_decode(v, vn, val, sizeof val))
            return false;
        if (emit && !(skip_service && strcmp(key, "service.name") == 0))
            attr_str(w, first, key, val);
        p += n;
        if (*p == ',')
            p++;
    }
    return true;
}

static void resource(struct w *w, const hc_otlp_resource *res)
{
    bool first = true;
    const char *attrs =
        res && res->attrs && res_attrs(w, &first, res->attrs, false, false) ? res->attrs : NULL;
    bool have_service = res && res->service && *res->service;
    puts_(w, "\"resource\":{\"attributes\":[");
    if (have_service || !attrs || !strstr(attrs, "service.name"))
        attr_str(w, &first, "service.name", have_service ? res->service : "hcshim");
    attr_str(w, &first, "telemetry.sdk.name", "hcshim");
    attr_str(w, &first, "telemetry.sdk.language", "cpp");
    if (attrs)
        res_attrs(w, &first, attrs, true, have_service);
    puts_(w, "]}");
}

static void scope(struct w *w, const hc_otlp_resource *res)
{
    puts_(w, "\"scope\":{\"name\":");
    str(w, res && res->scope ? res->scope : "hcshim");
    put(w, "}", 1);
}

int hc_otlp_traces_open(hc_buf *out, const hc_otlp_resource *res)
{
    struct w w = { out, 0 };
    puts_(&w, "{\"resourceSpans\":[{");
    resource(&w, res);
    puts_(&w, ",\"scopeSpans\":[{");
    scope(&w, res);
    puts_(&w, ",\"spans\":[");
    return w.err;
}

int hc_otlp_traces_close(hc_buf *out)
{
    return hc_buf_puts(out, "]}]}]}") ? HC_ENOMEM : 0;
}

/* ---- OTEL_EXPORTER_OTLP_HEADERS ------------------------------------------ */

static bool is_token_char(int c)
{
    return isalnum(c) || (c && strchr("!#$%&'*+-.^_`|~", c));
}

static bool pct_decode_buf(const char *s, size_t n, hc_buf *out)
{
    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)s[i];
        if (c == '%') {
            char h[3] = { 0 };
            if (i + 2 >= n || !isxdigit((unsigned char)s[i + 1]) ||
                !isxdigit((unsigned char)s[i + 2]))
                return false;
            memcpy(h, s + i + 1, 2);
            c = (int)strtol(h, NULL, 16);
            i += 2;
        }
        if (c < 0x20 || c == 0x7f)
            return false; /* no CR/LF: a value cannot add a header line */
        char ch = (char)c;
        if (hc_buf_append(out, &ch, 1) != 0)
            return false;
    }
    return true;
}

int hc_otlp_parse_headers(const char *s, hc_buf *out, int *bad)
{
    int k = 0;
    for (const char *p = s; p && *p;) {
        size_t n = strcspn(p, ",");
        k++;
        const char *eq = memchr(p, '=', n);
        const char *name = p, *val = eq ? eq + 1 : NULL;
        size_t nn = eq ? (size_t)(eq - p) : 0, vn = eq ? n - nn - 1 : 0;
        while (nn && isspace((unsigned char)*name))
            name++, nn--;
        while (nn && isspace((unsigned char)name[nn - 1]))
            nn--;
        while (vn && isspace((unsigned char)*val))
            val++, vn--;
        while (vn && isspace((unsigned char)val[vn - 1]))
            vn--;
        bool ok = eq && nn;
        for (size_t i = 0; ok && i < nn; i++)
            ok = is_token_char((unsigned char)name[i]);
        if (ok)
            ok = hc_buf_append(out, name, nn) == 0 && hc_buf_puts(out, ": ") == 0 &&
                 pct_decode_buf(val, vn, out) && hc_buf_puts(out, "\r\n") == 0;
        if (!ok) {
            if (bad)
                *bad = k;
            return HC_EINVAL;
        }
        p += n;
        if (*p == ',')
            p++;
    }
    return 0;
}

/* ---- spans --------------------------------------------------------------- */

bool hc_otlp_is_error(const hc_record *r)
{
    return r->status >= 400 || r->status <= 0;
}

static const char *otel_provider(const char *p)
{
    static const char *const map[][2] = {
        { "google", "gcp.gemini" }, { "vertex", "gcp.vertex_ai" }, { "mistral", "mistral_ai" },
        { "xai", "x_ai" },          { "bedrock", "aws.bedrock" },  { "azure", "azure.ai.openai" },
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strcmp(p, map[i][0]) == 0)
            return map[i][1];
    return *p ? p : "_OTHER";
}

static const char *otel_operation(const char *api)
{
    if (strcmp(api, "completions") == 0 || strcmp(api, "ollama-generate") == 0)
        return "text_completion";
    if (strcmp(api, "embeddings") == 0 || strcmp(api, "gemini-embed") == 0 ||
        strcmp(api, "ollama-embed") == 0)
        return "embeddings";
    if (strcmp(api, "gemini") == 0)
        return "generate_content";
    return "chat";
}

static void hex(const uint8_t *p, size_t n, char *out)
{
    static const char h[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = h[p[i] >> 4];
        out[2 * i + 1] = h[p[i] & 15];
    }
    out[2 * n] = '\0';
}

/* Trace id: the session's (so a session's exchanges form one trace), else the record's. */
static void trace_id(const hc_record *r, char out[33])
{
    uint8_t t[16];
    if (!*r->session_id) {
        memcpy(t, r->id, 16);
    } else if (hc_uuid_parse(r->session_id, t) != 0) {
        /* Not a UUID: two FNV-1a passes give 128 stable bits. */
        uint64_t h1 = 1469598103934665603ull, h2 = 0x6c62272e07bb0142ull;
        for (const unsigned char *p = (const unsigned char *)r->session_id; *p; p++) {
            h1 = (h1 ^ *p) * 1099511628211ull;
            h2 = (h2 ^ *p) * 0x100000001b3ull + 0x9e3779b97f4a7c15ull;
        }
        for (int i = 0; i < 8; i++) {
            t[i] = (uint8_t)(h1 >> (56 - 8 * i));
            t[8 + i] = (uint8_t)(h2 >> (56 - 8 * i));
        }
    }
    hex(t, 16, out);
}

/* n lower-case hex digits, not all zero: a trace or span id as context.h stores them. */
static bool is_otel_id(const char *s, size_t n)
{
    if (!s || strlen(s) != n || strspn(s, "0123456789abcdef") != n)
        return false;
    return strspn(s, "0") != n;
}

static void kstr(struct w *w, const char *k, const char *v)
{
    put(w, ",\"", 2);
    puts_(w, k);
    puts_(w, "\":");
    str(w, v);
}

/* Microseconds us as the decimal nanoseconds OTLP wants ("<us>000") into b[24+3];
 * returns b. */
static const char *ns_text(char b[27], int64_t us)
{
    char nb[24];
    const char *d = i64s(nb, us);
    size_t n = strlen(d);
    memcpy(b, d, n);
    memcpy(b + n, "000", 4);
    return b;
}

static void span_head(struct w *w, const hc_record *r)
{
    char tid[33], sid[17], b[64], name[320];
    const char *ptid = hc_pairs_get(&r->props, "trace_id"),
               *psid = hc_pairs_get(&r->props, "parent_span_id");
    bool parented = is_otel_id(ptid, 32) && is_otel_id(psid, 16);
    if (parented)
        memcpy(tid, ptid, 33);
    else
        trace_id(r, tid);
    hex(r->id + 8, 8, sid); /* the id's random half: unique, never zero (variant bits) */
    puts_(w, "{\"traceId\":");
    str(w, tid);
    kstr(w, "spanId", sid);
    if (parented) {
        kstr(w, "parentSpanId", psid);
        const char *ts = hc_pairs_get(&r->props, "tracestate");
        if (ts && *ts)
            kstr(w, "traceState", ts);
    }
    const char *op = otel_operation(r->api), *model = *r->model_req ? r->model_req : r->model_resp;
    size_t ol = strlen(op);
    memcpy(name, op, ol);
    name[ol] = ' ';
    hc_strlcpy(name + ol + 1, sizeof name - ol - 1, model);
    kstr(w, "name", name);
    puts_(w, ",\"kind\":3"); /* SPAN_KIND_CLIENT */
    kstr(w, "startTimeUnixNano", ns_text(b, r->start_us));
    kstr(w, "endTimeUnixNano", ns_text(b, r->start_us + (r->latency_us > 0 ? r->latency_us : 0)));
}

static void error_type(const hc_record *r, char *b, size_t size)
{
    if (r->status)
        snprintf(b, size, "%d", r->status);
    else
        snprintf(b, size, "connection_error");
}

/* gen_ai.request.*: integers as intValue, the rest as doubleValue. */
static void request_params(struct w *w, bool *f, const hc_record *r)
{
    uint32_t pos = 0;
    const char *k, *v;
    while (hc_pairs_next(&r->req_params, &pos, &k, &v)) {
        char key[96], *end;
        snprintf(key, sizeof key, "gen_ai.request.%s", k);
        bool integer = !strcmp(k, "max_tokens") || !strcmp(k, "seed") || !strcmp(k, "choice.count");
        if (integer && !strpbrk(v, ".eE")) {
            long long n = strtoll(v, &end, 10);
            if (!*end)
                attr_int(w, f, key, n);
            continue;
        }
        double d = strtod(v, &end);
        if (!*end && isfinite(d))
            attr_double(w, f, key, d);
    }
}

static void genai_attrs(struct w *w, bool *f, const hc_record *r)
{
    attr_str(w, f, "gen_ai.operation.name", otel_operation(r->api));
    attr_str(w, f, "gen_ai.provider.name", otel_provider(r->provider));
    if (*r->model_req)
        attr_str(w, f, "gen_ai.request.model", r->model_req);
    if (*r->model_resp)
        attr_str(w, f, "gen_ai.response.model", r->model_resp);
    request_params(w, f, r);
    if (*r->response_id)
        attr_str(w, f, "gen_ai.response.id", r->response_id);
    if (*r->finish_reasons)
        attr_strlist(w, f, "gen_ai.response.finish_reasons", r->finish_reasons);
    if (!(r->cost_flags & HC_COST_NO_USAGE)) {
        attr_int(w, f, "gen_ai.usage.input_tokens", r->tok_in);
        attr_int(w, f, "gen_ai.usage.output_tokens", r->tok_out);
    }
    if (r->tok_cached)
        attr_int(w, f, "gen_ai.usage.cache_read.input_tokens", r->tok_cached);
    if (r->tok_cw5m + r->tok_cw1h)
        attr_int(w, f, "gen_ai.usage.cache_creation.input_tokens", r->tok_cw5m + r->tok_cw1h);
    if (r->tok_reasoning)
        attr_int(w, f, "gen_ai.usage.reasoning.output_tokens", r->tok_reasoning);
    if (r->ttft_us >= 0 && (r->flags & HC_REC_STREAM))
        attr_double(w, f, "gen_ai.response.time_to_first_chunk",
                    (double)r->ttft_us / 1e6); /* seconds */
    if (*r->session_id)
        attr_str(w, f, "gen_ai.conversation.id", r->session_id);
    if (r->status)
        attr_int(w, f, "http.response.status_code", r->status);
    if (*r->method)
        attr_str(w, f, "http.request.method", r->method);
    if (*r->host)
        attr_str(w, f, "server.address", r->host);
    if (*r->path)
        attr_str(w, f, "url.path", r->path);
    if (hc_otlp_is_error(r)) {
        char b[40];
        error_type(r, b, sizeof b);
        attr_str(w, f, "error.type", b);
    }
    if (*r->user)
        attr_str(w, f, "user.id", r->user);
    if (*r->program)
        attr_str(w, f, "process.executable.name", r->program);
    if (r->pid)
        attr_int(w, f, "process.pid", r->pid);
}

static void hcshim_attrs(struct w *w, bool *f, const hc_record *r)
{
    char id[HC_UUID_STRLEN + 1];
    hc_uuid_format(r->id, id);
    attr_str(w, f, "hcshim.id", id);
    if (*r->run_id)
        attr_str(w, f, "hcshim.run_id", r->run_id);
    if (!(r->cost_flags & HC_COST_UNPRICED)) {
        attr_int(w, f, "hcshim.cost_nusd", r->cost_nusd);
        attr_double(w, f, "hcshim.cost_usd", (double)r->cost_nusd / 1e9);
    } else {
        attr_bool(w, f, "hcshim.unpriced", true);
    }
    if (r->saved_nusd)
        attr_double(w, f, "hcshim.saved_usd", (double)r->saved_nusd / 1e9);
    if (r->ttft_us >= 0)
        attr_int(w, f, "hcshim.ttft_us", r->ttft_us);
    if (r->flags & HC_REC_STREAM)
        attr_bool(w, f, "hcshim.stream", true);
    if (r->flags & HC_REC_CACHE_HIT)
        attr_bool(w, f, "hcshim.cache_hit", true);
    if (r->retries)
        attr_int(w, f, "hcshim.retries", r->retries);
    if (r->fallback_idx >= 0)
        attr_int(w, f, "hcshim.fallback_index", r->fallback_idx);
    if (*r->session_path)
        attr_str(w, f, "hcshim.session.path", r->session_path);
    if (*r->session_name)
        attr_str(w, f, "hcshim.session.name", r->session_name);
    if (*r->request_id)
        attr_str(w, f, "hcshim.request_id", r->request_id);
    if (*r->budget)
        attr_str(w, f, "hcshim.budget", r->budget);
    uint32_t pos = 0;
    const char *k, *v;
    while (hc_pairs_next(&r->props, &pos, &k, &v)) {
        char key[256];
        snprintf(key, sizeof key, "hcshim.property.%s", k);
        attr_str(w, f, key, v);
    }
}

int hc_otlp_span(hc_buf *out, const hc_record *r)
{
    struct w w = { out, 0 };
    bool first = true;
    if (hc_buf_reserve(out, 2048) != 0) /* a span is ~1.5 KiB: grow once */
        return HC_ENOMEM;
    span_head(&w, r);
    puts_(&w, ",\"attributes\":[");
    genai_attrs(&w, &first, r);
    hcshim_attrs(&w, &first, r);
    puts_(&w, "],\"status\":{");
    if (hc_otlp_is_error(r)) {
        char b[40];
        puts_(&w, "\"code\":2,\"message\":"); /* STATUS_CODE_ERROR */
        snprintf(b, sizeof b, "HTTP %d", r->status);
        str(&w, *r->error ? r->error : b);
    }
    puts_(&w, "}}");
    return w.err;
}

/* ---- metrics ------------------------------------------------------------- */

/* Explicit bucket boundaries from the GenAI metrics conventions. */
static const double tok_bounds[] = { 1,     4,     16,     64,      256,     1024,     4096,
                                     16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864 };
static const double dur_bounds[] = { 0.01, 0.02, 0.04, 0.08,  0.16,  0.32,  0.64,
                                     1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92 };
static const double ttfc_bounds[] = { 0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1,
                                      0.25,  0.5,   0.75, 1.0,  2.5,  5.0,  7.5,  10.0 };

static const struct inst {
    const char *name, *unit, *desc;
    const double *bounds;
    size_t nb;
} insts[HC_OTLP_NINST] = {
    [HC_OTLP_TOKENS_IN] = { "gen_ai.client.token.usage", "{token}",
                            "Number of input and output tokens used.", tok_bounds,
                            sizeof tok_bounds / sizeof tok_bounds[0] },
    [HC_OTLP_TOKENS_OUT] = { "gen_ai.client.token.usage", "{token}",
                             "Number of input and output tokens used.", tok_bounds,
                             sizeof tok_bounds / sizeof tok_bounds[0] },
    [HC_OTLP_DURATION] = { "gen_ai.client.operation.duration", "s", "GenAI operation duration.",
                           dur_bounds, sizeof dur_bounds / sizeof dur_bounds[0] },
    [HC_OTLP_TTFC] = { "gen_ai.client.operation.time_to_first_chunk", "s",
                       "Time to receive the first chunk of a streamed response.", ttfc_bounds,
                       sizeof ttfc_bounds / sizeof ttfc_bounds[0] },
    [HC_OTLP_COST] = { "hcshim.cost", "USD",
                       "Cost of the GenAI operations, from hcshim's price table.", NULL, 0 },
};

void hc_otlp_metrics_init(hc_otlp_metrics *m, int64_t start_ns)
{
    memset(m, 0, sizeof *m);
    m->start_ns = start_ns;
}

static void series_add(hc_otlp_metrics *m, const hc_record *r, enum hc_otlp_inst inst, double v)
{
    char err[40] = "";
    if (hc_otlp_is_error(r))
        error_type(r, err, sizeof err);
    const char *op = otel_operation(r->api), *prov = otel_provider(r->provider);
    hc_otlp_series *s = NULL;
    for (size_t i = 0; i < m->n && !s; i++) {
        hc_otlp_series *c = &m->s[i];
        if (c->inst == inst && !strcmp(c->op, op) && !strcmp(c->provider, prov) &&
            !strncmp(c->model_req, r->model_req, sizeof c->model_req - 1) &&
            !strncmp(c->model_resp, r->model_resp, sizeof c->model_resp - 1) &&
            !strncmp(c->server, r->host, sizeof c->server - 1) && !strcmp(c->error, err))
            s = c;
    }
    if (!s) {
        if (m->n >= HC_OTLP_MAX_SERIES) {
            m->overflow++;
            return;
        }
        s = &m->s[m->n++];
        memset(s, 0, sizeof *s);
        s->inst = (uint8_t)inst;
        hc_strlcpy(s->op, sizeof s->op, op);
        hc_strlcpy(s->provider, sizeof s->provider, prov);
        hc_strlcpy(s->model_req, sizeof s->model_req, r->model_req);
        hc_strlcpy(s->model_resp, sizeof s->model_resp, r->model_resp);
        hc_strlcpy(s->server, sizeof s->server, r->host);
        hc_strlcpy(s->error, sizeof s->error, err);
        s->min = s->max = v;
    }
    s->count++;
    s->sum += v;
    if (v < s->min)
        s->min = v;
    if (v > s->max)
        s->max = v;
    const struct inst *in = &insts[inst];
    size_t b = 0;
    while (b < in->nb && v > in->bounds[b]) /* bucket i holds (bounds[i-1], bounds[i]] */
        b++;
    if (in->nb)
        s->buckets[b]++;
}

void hc_otlp_metrics_add(hc_otlp_metrics *m, const hc_record *r)
{
    m->records++;
    if (!(r->cost_flags & HC_COST_NO_USAGE) && (r->tok_in || r->tok_out)) {
        series_add(m, r, HC_OTLP_TOKENS_IN, (double)r->tok_in);
        series_add(m, r, HC_OTLP_TOKENS_OUT, (double)r->tok_out);
    }
    series_add(m, r, HC_OTLP_DURATION, (double)(r->latency_us > 0 ? r->latency_us : 0) / 1e6);
    if ((r->flags & HC_REC_STREAM) && r->ttft_us >= 0)
        series_add(m, r, HC_OTLP_TTFC, (double)r->ttft_us / 1e6);
    if (r->cost_flags & HC_COST_PRICED)
        series_add(m, r, HC_OTLP_COST, (double)r->cost_nusd / 1e9);
}

static void point_attrs(struct w *w, const hc_otlp_series *s)
{
    bool f = true;
    puts_(w, "\"attributes\":[");
    attr_str(w, &f, "gen_ai.operation.name", s->op);
    attr_str(w, &f, "gen_ai.provider.name", s->provider);
    if (*s->model_req)
        attr_str(w, &f, "gen_ai.request.model", s->model_req);
    if (*s->model_resp)
        attr_str(w, &f, "gen_ai.response.model", s->model_resp);
    if (*s->server)
        attr_str(w, &f, "server.address", s->server);
    if (*s->error)
        attr_str(w, &f, "error.type", s->error);
    if (s->inst == HC_OTLP_TOKENS_IN || s->inst == HC_OTLP_TOKENS_OUT)
        attr_str(w, &f, "gen_ai.token.type", s->inst == HC_OTLP_TOKENS_IN ? "input" : "output");
    put(w, "]", 1);
}

static void point(struct w *w, const hc_otlp_series *s, const char *times)
{
    const struct inst *in = &insts[s->inst];
    char b[64];
    put(w, "{", 1);
    point_attrs(w, s);
    puts_(w, times);
    if (!in->nb) {
        puts_(w, ",\"asDouble\":");
        dbl(w, s->sum);
        put(w, "}", 1);
        return;
    }
    snprintf(b, sizeof b, ",\"count\":\"%" PRIu64 "\",\"sum\":", s->count);
    puts_(w, b);
    dbl(w, s->sum);
    puts_(w, ",\"min\":");
    dbl(w, s->min);
    puts_(w, ",\"max\":");
    dbl(w, s->max);
    puts_(w, ",\"bucketCounts\":[");
    for (size_t i = 0; i <= in->nb; i++) {
        snprintf(b, sizeof b, "%s\"%" PRIu64 "\"", i ? "," : "", s->buckets[i]);
        puts_(w, b);
    }
    puts_(w, "],\"explicitBounds\":[");
    for (size_t i = 0; i < in->nb; i++) {
        if (i)
            put(w, ",", 1);
        dbl(w, in->bounds[i]);
    }
    puts_(w, "]}");
}

/* One metric with every series of the instruments [a, b]. */
static void metric(struct w *w, const hc_otlp_metrics *m, enum hc_otlp_inst a, enum hc_otlp_inst b,
                   const char *times, bool *first)
{
    bool any = false;
    for (size_t i = 0; i < m->n; i++)
        any |= m->s[i].inst >= a && m->s[i].inst <= b;
    if (!any)
        return;
    const struct inst *in = &insts[a];
    comma(w, first);
    puts_(w, "{\"name\":");
    str(w, in->name);
    kstr(w, "unit", in->unit);
    kstr(w, "description", in->desc);
    /* AGGREGATION_TEMPORALITY_CUMULATIVE = 2 */
    puts_(w, in->nb
                 ? ",\"histogram\":{\"aggregationTemporality\":2,\"dataPoints\":["
                 : ",\"sum\":{\"aggregationTemporality\":2,\"isMonotonic\":true,\"dataPoints\":[");
    bool pf = true;
    for (size_t i = 0; i < m->n; i++) {
        if (m->s[i].inst < a || m->s[i].inst > b)
            continue;
        comma(w, &pf);
        point(w, &m->s[i], times);
    }
    puts_(w, "]}}");
}

int hc_otlp_metrics_encode(hc_buf *out, const hc_otlp_metrics *m, const hc_otlp_resource *res,
                           int64_t now_ns)
{
    struct w w = { out, 0 };
    char times[96];
    snprintf(times, sizeof times,
             ",\"startTimeUnixNano\":\"%" PRId64 "\",\"timeUnixNano\":\"%" PRId64 "\"", m->start_ns,
             now_ns);
    puts_(&w, "{\"resourceMetrics\":[{");
    resource(&w, res);
    puts_(&w, ",\"scopeMetrics\":[{");
    scope(&w, res);
    puts_(&w, ",\"metrics\":[");
    bool first = true;
    metric(&w, m, HC_OTLP_TOKENS_IN, HC_OTLP_TOKENS_OUT, times, &first);
    metric(&w, m, HC_OTLP_DURATION, HC_OTLP_DURATION, times, &first);
    metric(&w, m, HC_OTLP_TTFC, HC_OTLP_TTFC, times, &first);
    metric(&w, m, HC_OTLP_COST, HC_OTLP_COST, times, &first);
    puts_(&w, "]}]}]}");
    return w.err;
}

/* replay.c — see replay.h.
 *
 * DESIGN
 * - The cassette is read once per process, on the first request, into an
 *   array of entries (file order); each entry is used at most once, which
 *   gives ordered matching for repeated identical requests.
 * - Recording builds the request half of the line at gate time (key, host,
 *   path, request) and the answer half when the exchange settles, then writes
 *   the whole line with one write(2) under flock: concurrent writers (threads
 *   or processes) never interleave.
 * - Replay writes the recorded head, our framing (chunked when the answer was
 *   streamed, else Content-Length), helicone-id and Helicone-Replay, then the
 *   recorded body bytes: byte-identical to what the app received.
 */
#include "replay.h"
#include "clock.h"
#include "cache.h"
#include "err.h"
#include "log.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

typedef struct entry {
    char key[65];
    int line;
    bool used, streamed;
    int status;
    char *host, *method, *path, *model, *canon; /* owned */
    hc_buf head, body;
    hc_tokens tok;
    int64_t cost_nusd;
} entry;

static struct {
    pthread_once_t once;
    pthread_mutex_t mu;
    int mode;
    char file[4096];
    char ignore[512];
    regex_t re;
    bool have_re;
    bool loaded;
    entry *e;
    size_t n;
} R = { PTHREAD_ONCE_INIT, PTHREAD_MUTEX_INITIALIZER, 0, "", "", { 0 }, false, false, NULL, 0 };

static void init(void)
{
    const char *m = getenv("HC_REPLAY"), *f = getenv("HC_CASSETTE");
    if (!m || !*m || strcmp(m, "off") == 0 || strcmp(m, "0") == 0)
        return;
    int mode = strcmp(m, "record") == 0   ? HC_REPLAY_RECORD
               : strcmp(m, "replay") == 0 ? HC_REPLAY_REPLAY
               : strcmp(m, "auto") == 0   ? HC_REPLAY_AUTO
                                          : -1;
    if (mode < 0) {
        hc_log_error("HC_REPLAY: expected record, replay, auto or off, got '%s'; replay is off", m);
        return;
    }
    if (!f || !*f) {
        if (mode == HC_REPLAY_RECORD) {
            hc_log_error("HC_REPLAY=record needs HC_CASSETTE=FILE; nothing is recorded");
            return;
        }
        hc_log_error("HC_REPLAY=%s needs HC_CASSETTE=FILE; every LLM request will be refused", m);
    }
    hc_strlcpy(R.file, sizeof R.file, f ? f : "");
    const char *ig = getenv("HC_REPLAY_IGNORE");
    hc_strlcpy(R.ignore, sizeof R.ignore, ig ? ig : "");
    const char *re = getenv("HC_REPLAY_IGNORE_RE");
    if (re && *re) {
        int rc = regcomp(&R.re, re, REG_EXTENDED);
        if (rc) {
            char why[200];
            regerror(rc, &R.re, why, sizeof why);
            hc_log_error("HC_REPLAY_IGNORE_RE: not a POSIX extended regex (%s): '%s'; ignored", why,
                         re);
        } else {
            R.have_re = true;
        }
    }
    R.mode = mode;
}

int hc_replay_mode(void)
{
    pthread_once(&R.once, init);
    return R.mode;
}

/* ---- key --------------------------------------------------------------- */

static void apply_re(const regex_t *re, hc_buf *canon)
{
    hc_buf out = HC_BUF_INIT;
    hc_buf_append(&out, "", 0);
    const char *p = canon->data ? canon->data : "";
    regmatch_t m;
    int guard = 0;
    while (*p && guard++ < 100000 && regexec(re, p, 1, &m, 0) == 0) {
        hc_buf_append(&out, p, (size_t)m.rm_so);
        hc_buf_puts(&out, "<ignored>");
        if (m.rm_eo == m.rm_so) { /* empty match: keep one byte, move on */
            if (!p[m.rm_eo])
                break;
            hc_buf_append(&out, p + m.rm_eo, 1);
            p += m.rm_eo + 1;
        } else {
            p += m.rm_eo;
        }
    }
    hc_buf_puts(&out, p);
    hc_buf_free(canon);
    *canon = out;
}

int hc_replay_key(const char *host, const char *method, const char *path, const char *body,
                  size_t len, const char *ignore, const struct re_pattern_buffer *re, hc_buf *canon,
                  bool *json, char key[65])
{
    hc_buf_reset(canon);
    *json = hc_cache_canonical(body ? body : "", len, ignore, canon) == 0;
    if (!*json) {
        hc_buf_reset(canon);
        if (hc_buf_append(canon, body ? body : "", len))
            return HC_ENOMEM;
    } else if (re) {
        apply_re(re, canon);
    }
    if (hc_buf_error(canon))
        return hc_buf_error(canon); /* an incomplete canonical form would key wrongly */
    uint8_t d[32];
    unsigned int dn = 0;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (!md)
        return HC_ENOMEM;
    EVP_DigestInit_ex(md, EVP_sha256(), NULL);
    const char *parts[4] = { "hcshim-replay-1", host, method, path };
    for (int i = 0; i < 4; i++)
        EVP_DigestUpdate(md, parts[i], strlen(parts[i]) + 1);
    EVP_DigestUpdate(md, canon->data ? canon->data : "", canon->len);
    EVP_DigestFinal_ex(md, d, &dn);
    EVP_MD_CTX_free(md);
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) {
        key[2 * i] = hex[d[i] >> 4];
        key[2 * i + 1] = hex[d[i] & 15];
    }
    key[64] = '\0';
    return 0;
}

/* ---- base64 and text ----------------------------------------------------- */

static char *b64(const char *p, size_t n)
{
    char *o = malloc(4 * ((n + 2) / 3) + 1);
    if (o)
        EVP_EncodeBlock((unsigned char *)o, (const unsigned char *)p, (int)n);
    return o;
}

static int unb64(const char *s, hc_buf *out)
{
    size_t n = strlen(s);
    unsigned char *o = malloc(3 * (n / 4) + 3);
    if (!o)
        return HC_ENOMEM;
    int k = EVP_DecodeBlock(o, (const unsigned char *)s, (int)n);
    if (k < 0) {
        free(o);
        return HC_EPARSE;
    }
    while (n && s[n - 1] == '=' && k > 0)
        n--, k--;
    int rc = hc_buf_append(out, o, (size_t)k) ? HC_ENOMEM : 0;
    free(o);
    return rc;
}

/* Valid UTF-8 without NUL: storable as a JSON string. */
static bool is_text(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s, *e = p + n;
    while (p < e) {
        unsigned c = *p;
        if (!c)
            return false;
        if (c < 0x80) {
            p++;
            continue;
        }
        int k = (c & 0xE0) == 0xC0 ? 1 : (c & 0xF0) == 0xE0 ? 2 : (c & 0xF8) == 0xF0 ? 3 : -1;
        if (k < 0 || c == 0xC0 || c == 0xC1 || (size_t)(e - p) <= (size_t)k)
            return false;
        for (int i = 1; i <= k; i++)
            if ((p[i] & 0xC0) != 0x80)
                return false;
        p += k + 1;
    }
    return true;
}

static void add_bytes(cJSON *o, const char *name, const char *p, size_t n)
{
    if (is_text(p, n)) {
        char *t = malloc(n + 1);
        if (!t)
            return;
        memcpy(t, p, n);
        t[n] = '\0';
        cJSON_AddStringToObject(o, name, t);
        free(t);
    } else {
        char nb[32];
        snprintf(nb, sizeof nb, "%s_b64", name);
        char *t = b64(p, n);
        if (t)
            cJSON_AddStringToObject(o, nb, t);
        free(t);
    }
}

static int get_bytes(const cJSON *o, const char *name, hc_buf *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    if (cJSON_IsString(v))
        return hc_buf_puts(out, v->valuestring) ? HC_ENOMEM : 0;
    char nb[32];
    snprintf(nb, sizeof nb, "%s_b64", name);
    v = cJSON_GetObjectItemCaseSensitive(o, nb);
    if (cJSON_IsString(v))
        return unb64(v->valuestring, out);
    return 0;
}

static char *dup_str(const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    return strdup(cJSON_IsString(v) ? v->valuestring : "");
}

/* ---- loading ----------------------------------------------------------- */

static void entry_free(entry *e)
{
    free(e->host), free(e->method), free(e->path), free(e->model), free(e->canon);
    hc_buf_free(&e->head);
    hc_buf_free(&e->body);
}

static int parse_line(const char *s, size_t n, int line, entry *e)
{
    memset(e, 0, sizeof *e);
    e->line = line;
    cJSON *o = cJSON_ParseWithLength(s, n);
    if (!cJSON_IsObject(o)) {
        cJSON_Delete(o);
        return HC_EPARSE;
    }
    const cJSON *k = cJSON_GetObjectItemCaseSensitive(o, "key");
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(o, "status");
    const cJSON *hd = cJSON_GetObjectItemCaseSensitive(o, "head");
    int rc = HC_EPARSE;
    if (!cJSON_IsString(k) || strlen(k->valuestring) != 64 || !cJSON_IsNumber(st) ||
        !cJSON_IsArray(hd))
        goto cleanup;
    memcpy(e->key, k->valuestring, 65);
    e->status = st->valueint;
    e->streamed = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "streamed"));
    e->host = dup_str(o, "host");
    e->method = dup_str(o, "method");
    e->path = dup_str(o, "path");
    e->model = dup_str(o, "model");
    const cJSON *rq = cJSON_GetObjectItemCaseSensitive(o, "request");
    e->canon = rq ? (cJSON_IsString(rq) ? strdup(rq->valuestring) : cJSON_PrintUnformatted(rq))
                  : strdup("");
    if (cJSON_IsObject(rq) && e->canon && e->host && e->method && e->path) {
        /* Match under today's HC_REPLAY_IGNORE / _RE: the key is recomputed
         * from the request as recorded (also after a hand edit). */
        hc_buf c = HC_BUF_INIT;
        bool json;
        char key[65];
        if (hc_replay_key(e->host, e->method, e->path, e->canon, strlen(e->canon), R.ignore,
                          R.have_re ? &R.re : NULL, &c, &json, key) == 0) {
            memcpy(e->key, key, sizeof key);
            free(e->canon);
            e->canon = strndup(c.data ? c.data : "", c.len);
        }
        hc_buf_free(&c);
    }
    const cJSON *h;
    cJSON_ArrayForEach(h, hd) if (cJSON_IsString(h))
        hc_buf_printf(&e->head, "%s\r\n", h->valuestring);
    if ((rc = get_bytes(o, "body", &e->body)))
        goto cleanup;
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(o, "tok");
    for (int i = 0; i < HC_TOKENS_N && cJSON_IsArray(t); i++) {
        const cJSON *v = cJSON_GetArrayItem(t, i);
        e->tok.v[i] = cJSON_IsNumber(v) ? (int64_t)v->valuedouble : 0;
    }
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(o, "cost_nusd");
    e->cost_nusd = cJSON_IsNumber(c) ? (int64_t)c->valuedouble : 0;
    rc = e->host && e->method && e->path && e->model && e->canon && !hc_buf_error(&e->head)
             ? 0
             : HC_ENOMEM;
cleanup:
    cJSON_Delete(o);
    if (rc)
        entry_free(e);
    return rc;
}

/* Load the cassette (under R.mu). A missing file is an empty cassette. */
static void load(void)
{
    if (R.loaded)
        return;
    R.loaded = true;
    FILE *f = R.file[0] ? fopen(R.file, "re") : NULL;
    if (!f) {
        if (R.file[0] && (errno != ENOENT || R.mode == HC_REPLAY_REPLAY))
            hc_log_error("replay: cannot read the cassette %s: %s", R.file, strerror(errno));
        return;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int ln = 0, bad = 0;
    while ((n = getline(&line, &cap, f)) >= 0) {
        ln++;
        while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            n--;
        if (!n)
            continue;
        entry *grown = realloc(R.e, (R.n + 1) * sizeof *R.e);
        if (!grown)
            break;
        R.e = grown;
        if (parse_line(line, (size_t)n, ln, &R.e[R.n]) == 0)
            R.n++;
        else if (!bad++)
            hc_log_error("replay: %s line %d is not a cassette entry; skipped", R.file, ln);
    }
    free(line);
    fclose(f);
}

/* ---- gate ---------------------------------------------------------------- */

static void snippet(const char *s, size_t at, char *out, size_t size)
{
    size_t from = at > 30 ? at - 30 : 0, j = 0;
    for (size_t i = from; s[i] && i < at + 30 && j + 2 < size; i++)
        out[j++] = (unsigned char)s[i] < 0x20 ? '.' : s[i];
    out[j] = '\0';
}

/* A miss: one stderr line naming the request and the closest recorded one,
 * and a 404 the SDKs do not retry. */
static void refuse(hc_io *client, hc_capture *cap, const char *host, const char *method,
                   const char *path, const char *model, const char *key, const char *canon,
                   int turn, const char *id)
{
    const entry *best = NULL;
    size_t best_len = 0;
    bool best_same_place = false;
    for (size_t i = 0; i < R.n; i++) {
        const entry *e = &R.e[i];
        bool same = strcmp(e->host, host) == 0 && strcmp(e->path, path) == 0 &&
                    strcmp(e->method, method) == 0;
        size_t k = 0;
        while (e->canon[k] && e->canon[k] == canon[k])
            k++;
        if (!best || (same && !best_same_place) || (same == best_same_place && k > best_len))
            best = e, best_len = k, best_same_place = same;
    }
    char why[600];
    if (!R.file[0])
        snprintf(why, sizeof why, "no cassette (HC_CASSETTE is not set)");
    else if (best && strcmp(best->key, key) == 0)
        snprintf(why, sizeof why, "this request was recorded %d time(s) in %s and this is turn %d",
                 turn, R.file, turn + 1);
    else if (best) {
        char a[64], b[64];
        snippet(best->canon, best_len, a, sizeof a);
        snippet(canon, best_len, b, sizeof b);
        snprintf(why, sizeof why,
                 "closest recorded: %s line %d (%s %s%s, model %s), first difference at byte %zu: "
                 "recorded '%s' vs now '%s'",
                 R.file, best->line, best->method, best->host, best->path,
                 best->model[0] ? best->model : "-", best_len, a, b);
    } else
        snprintf(why, sizeof why, "the cassette %s has no entries", R.file);
    hc_log_error("replay: no recorded answer for %s %s%s (model %s, key %.12s); %s", method, host,
                 path, model[0] ? model : "-", key, why);
    cJSON *o = cJSON_CreateObject(), *err = cJSON_AddObjectToObject(o, "error");
    char msg[1000];
    snprintf(msg, sizeof msg, "hcshim replay: no recorded answer for %s %s%s (model %s); %s",
             method, host, path, model[0] ? model : "-", why);
    cJSON_AddStringToObject(err, "message", msg);
    cJSON_AddStringToObject(err, "type", "replay_no_match");
    cJSON_AddStringToObject(err, "code", "replay_no_match");
    char *txt = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    hc_buf b = HC_BUF_INIT;
    size_t tl = txt ? strlen(txt) : 0;
    hc_buf_printf(
        &b,
        "HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
        "x-should-retry: false\r\nhelicone-id: %s\r\nHelicone-Replay: MISS\r\n\r\n",
        tl, id);
    hc_buf_append(&b, txt ? txt : "", tl);
    static const hc_header json_ct[] = { { "Content-Type", 12, "application/json", 16 } };
    hc_capture_response(cap, 404, json_ct, 1); /* as values: nothing written here is parsed back */
    hc_capture_set_upstream(cap, "replay");
    hc_capture_response_data(cap, txt ? txt : "", tl);
    int w = hc_io_write_buf(client, &b);
    free(txt);
    hc_buf_free(&b);
    hc_capture_finish(cap, "replay: no recorded answer for this request",
                      w ? HC_REC_CLIENT_ABORT : 0);
}

/* Answer from entry e (its memory stays valid: entries are never freed). */
static void answer(hc_io *client, hc_capture *cap, const entry *e, const char *id, bool http10)
{
    bool chunked =
        e->streamed && !http10; /* an HTTP/1.0 app cannot read chunks: it gets a length */
    hc_buf head = HC_BUF_INIT;
    hc_buf_append(&head, e->head.data ? e->head.data : "", e->head.len);
    if (chunked)
        hc_buf_puts(&head, "Transfer-Encoding: chunked\r\n");
    else
        hc_buf_printf(&head, "Content-Length: %zu\r\n", e->body.len);
    hc_buf_printf(&head, "helicone-id: %s\r\nHelicone-Replay: HIT\r\n\r\n", id);
    /* The capture gets the recorded head's status and headers: parsed from
     * the cassette's lines, not from the head written above. */
    hc_buf stored = HC_BUF_INIT;
    hc_buf_append(&stored, e->head.data ? e->head.data : "", e->head.len);
    hc_buf_puts(&stored, "\r\n");
    hc_http_head h;
    if (!hc_buf_error(&stored) && hc_http_parse_response(stored.data, stored.len, &h) > 0) {
        hc_capture_response_head(cap, &h);
        hc_capture_drop_ratelimit(cap);
    }
    hc_buf_free(&stored);
    hc_capture_set_upstream(cap, "replay");
    hc_capture_attempt(cap, e->status, 0);
    const char *body = e->body.data ? e->body.data : "";
    int w = hc_io_write_buf(client, &head);
    if (w == 0 && e->body.len) {
        if (chunked) {
            char hdr[32];
            int hn = snprintf(hdr, sizeof hdr, "%zx\r\n", e->body.len);
            w = hc_io_write(client, hdr, (size_t)hn);
            if (w == 0)
                w = hc_io_write(client, body, e->body.len);
            if (w == 0)
                w = hc_io_write(client, "\r\n", 2);
        } else {
            w = hc_io_write(client, body, e->body.len);
        }
    }
    if (w == 0 && chunked)
        w = hc_io_write(client, "0\r\n\r\n", 5);
    hc_capture_response_data(cap, body, e->body.len);
    hc_buf_free(&head);
    /* Like a cache hit: nothing spent, the recorded cost saved; the usage is
     * the recorded one (a stream may not carry it). */
    hc_capture_stored_answer(cap, &e->tok, e->cost_nusd, e->model);
    hc_capture_finish(cap, w ? "the app went away" : NULL,
                      HC_REC_REPLAYED | (w ? HC_REC_CLIENT_ABORT : 0));
}

bool hc_replay_gate(hc_replay_ctx *r, hc_io *client, hc_capture *cap, const char *host,
                    const hc_http_head *req, const char *body, size_t len, const char *id)
{
    memset(r, 0, sizeof *r);
    int mode = hc_replay_mode();
    if (mode == HC_REPLAY_OFF)
        return false;
    const char *path = cap->path.data ? cap->path.data : "";
    const char *model = cap->model_req;
    snprintf(r->method, sizeof r->method, "%.*s", (int)req->method_len, req->method);
    hc_strlcpy(r->host, sizeof r->host, host);
    if (!body) { /* a piped (huge) body: cannot be matched */
        if (mode == HC_REPLAY_REPLAY) {
            refuse(client, cap, host, r->method, path, model, "-", "", 0, id);
            return true;
        }
        hc_log_warn_once(
            "replay_stream",
            "replay: a request body too large to buffer is neither replayed nor recorded");
        return false;
    }
    hc_buf canon = HC_BUF_INIT;
    bool json = false;
    if (hc_replay_key(host, r->method, path, body, len, R.ignore, R.have_re ? &R.re : NULL, &canon,
                      &json, r->key)) {
        hc_buf_free(&canon);
        return false;
    }
    const char *ctext = canon.data ? canon.data : "";
    if (mode != HC_REPLAY_RECORD) {
        pthread_mutex_lock(&R.mu);
        load();
        entry *hit = NULL;
        int turn = 0;
        for (size_t i = 0; i < R.n; i++)
            if (strcmp(R.e[i].key, r->key) == 0) {
                if (!R.e[i].used) {
                    hit = &R.e[i];
                    hit->used = true;
                    break;
                }
                turn++;
            }
        if (!hit && mode == HC_REPLAY_REPLAY) {
            refuse(client, cap, host, r->method, path, model, r->key, ctext, turn, id);
            pthread_mutex_unlock(&R.mu);
            hc_buf_free(&canon);
            return true;
        }
        pthread_mutex_unlock(&R.mu);
        if (hit) {
            answer(client, cap, hit, id, req->minor_version == 0);
            hc_buf_free(&canon);
            return true;
        }
    }
    /* record: the request half of the line, finished by hc_replay_save. */
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "key", r->key);
    cJSON_AddStringToObject(o, "host", host);
    cJSON_AddStringToObject(o, "method", r->method);
    cJSON_AddStringToObject(o, "path", path);
    cJSON_AddStringToObject(o, "model", model);
    cJSON *rq = json ? cJSON_Parse(ctext) : NULL;
    if (rq)
        cJSON_AddItemToObject(o, "request", rq);
    else
        add_bytes(o, "request", ctext, canon.len);
    r->line_prefix = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    hc_buf_free(&canon);
    r->record = r->line_prefix != NULL;
    return false;
}

void hc_replay_free(hc_replay_ctx *r)
{
    free(r->line_prefix);
    r->line_prefix = NULL;
    r->record = false;
}

void hc_replay_save(hc_replay_ctx *r, const hc_capture *cap, int status, const char *head,
                    size_t head_len, const char *body, size_t body_len)
{
    if (!r->record || !r->line_prefix ||
        status < 200) { /* a 101 upgrade is not an answer to replay */
        hc_replay_free(r);
        return;
    }
    cJSON *o = cJSON_Parse(r->line_prefix);
    hc_replay_free(r);
    if (!o)
        return;
    cJSON_AddNumberToObject(o, "status", status);
    cJSON_AddBoolToObject(o, "streamed", (cap->rec.flags & HC_REC_STREAM) || cap->streaming);
    cJSON *hd = cJSON_AddArrayToObject(o, "head");
    const char *p = head, *end = head + head_len;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        const char *next = eol ? eol + 1 : end;
        size_t n = (size_t)((eol ? eol : end) - p);
        if (n && p[n - 1] == '\r')
            n--;
        char *t = strndup(p, n);
        if (t && n)
            cJSON_AddItemToArray(hd, cJSON_CreateString(t));
        free(t);
        p = next;
    }
    add_bytes(o, "body", body, body_len);
    const hc_record *rec = &cap->rec;
    double tok[HC_TOKENS_N];
    for (int i = 0; i < HC_TOKENS_N; i++)
        tok[i] = (double)rec->tok.v[i];
    cJSON_AddItemToObject(o, "tok", cJSON_CreateDoubleArray(tok, HC_TOKENS_N));
    cJSON_AddNumberToObject(o, "cost_nusd", (double)rec->cost_nusd);
    char *txt = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!txt)
        return;
    size_t n = strlen(txt);
    txt[n] = '\n'; /* the terminator becomes the newline: one write */
    int fd = open(R.file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        hc_log_warn_once("replay_open",
                         "replay: cannot write the cassette %s: %s; exchanges are not recorded",
                         R.file, strerror(errno));
    } else {
        flock(fd, LOCK_EX);
        ssize_t w = write(fd, txt, n + 1);
        if (w != (ssize_t)(n + 1))
            hc_log_warn_once("replay_write", "replay: short write to the cassette %s", R.file);
        flock(fd, LOCK_UN);
        close(fd);
    }
    free(txt);
}

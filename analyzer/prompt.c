/* prompt.c — messages of a request body (see prompt.h). */
#include "prompt.h"
#include "err.h"
#include "utf8.h"

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <string.h>

struct walk {
    prompt_cb cb;
    void *ctx;
    hc_buf text;
    int n;
    int err;
    bool stop;
};

static const cJSON *get(const cJSON *o, const char *k)
{
    return cJSON_IsObject(o) ? cJSON_GetObjectItemCaseSensitive(o, k) : NULL;
}

static const char *str_of(const cJSON *o, const char *k)
{
    const cJSON *v = get(o, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static void put(struct walk *w, const char *s)
{
    if (w->text.len && hc_buf_puts(&w->text, "\n"))
        w->err = HC_ENOMEM;
    if (hc_buf_puts(&w->text, s))
        w->err = HC_ENOMEM;
}

static void putf(struct walk *w, const char *fmt, const char *arg)
{
    if (w->text.len && hc_buf_puts(&w->text, "\n"))
        w->err = HC_ENOMEM;
    if (hc_buf_printf(&w->text, fmt, arg))
        w->err = HC_ENOMEM;
}

/* The text of a content value: a string, a list of parts, or one part. */
static void content_text(struct walk *w, const cJSON *c, int depth)
{
    if (!c || depth > 8)
        return;
    if (cJSON_IsString(c)) {
        put(w, c->valuestring);
        return;
    }
    if (cJSON_IsArray(c)) {
        const cJSON *p;
        cJSON_ArrayForEach(p, c) content_text(w, p, depth + 1);
        return;
    }
    if (!cJSON_IsObject(c))
        return;
    const char *type = str_of(c, "type");
    const char *text = str_of(c, "text");
    if (text) {
        put(w, text);
    } else if (get(c, "parts")) { /* a Gemini content inside a list */
        content_text(w, get(c, "parts"), depth + 1);
    } else if (type && strstr(type, "image")) {
        put(w, "[image]");
    } else if (get(c, "inlineData") || get(c, "inline_data") || get(c, "fileData")) {
        put(w, "[file]");
    } else if (type && (strcmp(type, "tool_use") == 0 || strcmp(type, "function_call") == 0)) {
        const char *name = str_of(c, "name");
        putf(w, "[tool call: %s]", name ? name : "?");
    } else if (get(c, "functionCall")) {
        const char *name = str_of(get(c, "functionCall"), "name");
        putf(w, "[tool call: %s]", name ? name : "?");
    } else if (type &&
               (strcmp(type, "tool_result") == 0 || strcmp(type, "function_call_output") == 0)) {
        const cJSON *r = get(c, "content");
        if (!r)
            r = get(c, "output");
        content_text(w, r, depth + 1);
    } else if (get(c, "functionResponse")) {
        put(w, "[tool result]");
    } else if (type) {
        putf(w, "[%s]", type);
    }
}

static void emit(struct walk *w, const char *role)
{
    if (w->stop || w->err)
        return;
    if (!w->text.data && hc_buf_append(&w->text, "", 0)) {
        w->err = HC_ENOMEM;
        return;
    }
    w->n++;
    if (w->cb(w->ctx, role ? role : "", w->text.data, w->text.len))
        w->stop = true;
    hc_buf_reset(&w->text);
}

/* One chat message (OpenAI, Anthropic, Responses input item, Gemini content). */
static void message(struct walk *w, const cJSON *m, const char *default_role)
{
    if (cJSON_IsString(m)) {
        put(w, m->valuestring);
        emit(w, default_role);
        return;
    }
    const char *role = str_of(m, "role");
    const cJSON *c = get(m, "content");
    if (!c)
        c = get(m, "parts");
    if (c && !cJSON_IsNull(c))
        content_text(w, c, 0);
    else if (!get(m, "tool_calls"))
        content_text(w, m, 0); /* a bare Responses item (function_call, …) */
    const cJSON *calls = get(m, "tool_calls"), *tc;
    if (cJSON_IsArray(calls))
        cJSON_ArrayForEach(tc, calls)
        {
            const char *name = str_of(get(tc, "function"), "name");
            putf(w, "[tool call: %s]", name ? name : "?");
        }
    emit(w, role ? role : default_role);
}

static void list_or_one(struct walk *w, const cJSON *v, const char *role)
{
    if (cJSON_IsArray(v)) {
        const cJSON *m;
        cJSON_ArrayForEach(m, v) message(w, m, role);
    } else if (v) {
        message(w, v, role);
    }
}

int prompt_messages(const char *body, size_t len, prompt_cb cb, void *ctx)
{
    cJSON *doc = cJSON_ParseWithLength(body, len);
    if (!doc)
        return HC_EPARSE;
    struct walk w = { .cb = cb, .ctx = ctx };
    const cJSON *v;
    /* System prompts first: they come first in the conversation. */
    if ((v = get(doc, "system")) && !cJSON_IsNull(v)) {
        content_text(&w, v, 0);
        emit(&w, "system");
    }
    if ((v = get(doc, "systemInstruction")) || (v = get(doc, "system_instruction"))) {
        content_text(&w, get(v, "parts") ? get(v, "parts") : v, 0);
        emit(&w, "system");
    }
    if (cJSON_IsString(v = get(doc, "instructions"))) {
        put(&w, v->valuestring);
        emit(&w, "system");
    }
    if ((v = get(doc, "messages")))
        list_or_one(&w, v, "user");
    else if ((v = get(doc, "contents")))
        list_or_one(&w, v, "user");
    else if ((v = get(doc, "input")))
        list_or_one(&w, v, "input"); /* Responses items carry their own role */
    else if ((v = get(doc, "prompt")))
        list_or_one(&w, v, "user");
    cJSON_Delete(doc);
    hc_buf_free(&w.text);
    return w.err ? w.err : w.n;
}

struct last {
    hc_buf text;
    bool user; /* text is from a user message */
    int err;
};

static int keep_last(void *ctx, const char *role, const char *text, size_t len)
{
    struct last *l = ctx;
    bool user = strcmp(role, "user") == 0;
    if (user || !l->user) {
        hc_buf_reset(&l->text);
        if (hc_buf_append(&l->text, text, len))
            l->err = HC_ENOMEM;
        l->user = user;
    }
    return 0;
}

/* Append s (n bytes) with whitespace runs collapsed, cut at max bytes. */
static int squeeze(hc_buf *out, const char *s, size_t n, size_t max)
{
    size_t start = out->len, i = 0;
    bool space = false, cut = false;
    while (i < n && (s[i] == ' ' || s[i] == '\n' || s[i] == '\r' || s[i] == '\t'))
        i++;
    while (i < n) {
        unsigned char c = (unsigned char)s[i];
        if (c == ' ' || c == '\n' || c == '\r' || c == '\t') {
            space = true;
            i++;
            continue;
        }
        uint32_t cp;
        size_t cl = utf8_decode((const unsigned char *)s + i, n - i, &cp);
        if (!cl)
            cl = 1; /* invalid byte: the JSON writer replaces it later */
        if (out->len - start + (space ? 1 : 0) + cl > max) {
            cut = true;
            break;
        }
        if (space && hc_buf_append(out, " ", 1))
            return HC_ENOMEM;
        space = false;
        if (hc_buf_append(out, s + i, cl))
            return HC_ENOMEM;
        i += cl;
    }
    if (cut && hc_buf_puts(out, "…"))
        return HC_ENOMEM;
    return 0;
}

int prompt_excerpt(const char *body, size_t len, size_t max_bytes, hc_buf *out)
{
    struct last l = { .text = HC_BUF_INIT };
    int n = prompt_messages(body, len, keep_last, &l);
    int rc;
    if (n == HC_ENOMEM || l.err)
        rc = HC_ENOMEM;
    else if (n > 0)
        rc = squeeze(out, l.text.data, l.text.len, max_bytes);
    else if (n == HC_EPARSE)
        rc = squeeze(out, body, len, max_bytes);
    else
        rc = 0;
    hc_buf_free(&l.text);
    if (!rc && !out->data && hc_buf_append(out, "", 0))
        rc = HC_ENOMEM;
    return rc;
}

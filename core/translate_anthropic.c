/* translate_anthropic.c — see translate_anthropic.h.
 *
 * DESIGN
 * - Whole bodies go through cJSON: requests are bounded by HC_MAX_REQUEST
 *   and answers by the caller; a tree is simpler to get right than an
 *   in-place rewrite, and these bodies are small next to the network time.
 * - The stream translator splits the Anthropic SSE with common/stream.h (so
 *   any split of the bytes gives the same events) and writes each OpenAI
 *   chunk as soon as its event is complete: nothing is held back.
 */
#include "translate_anthropic.h"
#include "err.h"
#include "log.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_MAX_TOKENS 4096
#define MAX_EVENT          (4u << 20)

/* ---- request ------------------------------------------------------------ */

/* Append the text of an OpenAI content (string or array of parts) to b. */
static void content_text(const cJSON *content, hc_buf *b)
{
    if (cJSON_IsString(content)) {
        hc_buf_puts(b, content->valuestring);
        return;
    }
    const cJSON *part;
    cJSON_ArrayForEach(part, content)
    {
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(part, "text");
        if (cJSON_IsString(t)) {
            if (b->len)
                hc_buf_puts(b, "\n");
            hc_buf_puts(b, t->valuestring);
        }
    }
}

/* An image_url part as an Anthropic image block, or NULL. */
static cJSON *image_block(const cJSON *part)
{
    const cJSON *iu = cJSON_GetObjectItemCaseSensitive(part, "image_url");
    const cJSON *url = cJSON_IsObject(iu) ? cJSON_GetObjectItemCaseSensitive(iu, "url") : iu;
    if (!cJSON_IsString(url))
        return NULL;
    const char *u = url->valuestring;
    cJSON *blk = cJSON_CreateObject(), *src = cJSON_CreateObject();
    cJSON_AddStringToObject(blk, "type", "image");
    const char *comma = strchr(u, ',');
    if (strncmp(u, "data:", 5) == 0 && comma && strstr(u, ";base64,") == comma - 7) {
        char mt[128];
        snprintf(mt, sizeof mt, "%.*s", (int)(comma - 7 - (u + 5)), u + 5);
        cJSON_AddStringToObject(src, "type", "base64");
        cJSON_AddStringToObject(src, "media_type", mt);
        cJSON_AddStringToObject(src, "data", comma + 1);
    } else {
        cJSON_AddStringToObject(src, "type", "url");
        cJSON_AddStringToObject(src, "url", u);
    }
    cJSON_AddItemToObject(blk, "source", src);
    return blk;
}

/* OpenAI content → array of Anthropic blocks (text and images). */
static cJSON *content_blocks(const cJSON *content)
{
    cJSON *arr = cJSON_CreateArray();
    if (cJSON_IsString(content)) {
        if (content->valuestring[0]) {
            cJSON *t = cJSON_CreateObject();
            cJSON_AddStringToObject(t, "type", "text");
            cJSON_AddStringToObject(t, "text", content->valuestring);
            cJSON_AddItemToArray(arr, t);
        }
        return arr;
    }
    const cJSON *part;
    cJSON_ArrayForEach(part, content)
    {
        const cJSON *type = cJSON_GetObjectItemCaseSensitive(part, "type");
        const char *ty = cJSON_IsString(type) ? type->valuestring : "";
        if (strcmp(ty, "image_url") == 0) {
            cJSON *img = image_block(part);
            if (img)
                cJSON_AddItemToArray(arr, img);
            continue;
        }
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(part, "text");
        if (cJSON_IsString(t)) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "type", "text");
            cJSON_AddStringToObject(o, "text", t->valuestring);
            cJSON_AddItemToArray(arr, o);
        }
    }
    return arr;
}

/* Append message {role, content: blocks}, merging into the previous one when
 * it has the same role (Anthropic wants turns to alternate). Takes blocks. */
static void push_turn(cJSON *msgs, const char *role, cJSON *blocks)
{
    cJSON *last = cJSON_GetArrayItem(msgs, cJSON_GetArraySize(msgs) - 1);
    const cJSON *lr = last ? cJSON_GetObjectItemCaseSensitive(last, "role") : NULL;
    if (cJSON_IsString(lr) && strcmp(lr->valuestring, role) == 0) {
        cJSON *lc = cJSON_GetObjectItemCaseSensitive(last, "content");
        if (!cJSON_IsArray(lc)) { /* an empty string kept as sent: these blocks replace it */
            cJSON_ReplaceItemInObjectCaseSensitive(last, "content", blocks);
            return;
        }
        cJSON *b;
        while ((b = cJSON_DetachItemFromArray(blocks, 0)))
            cJSON_AddItemToArray(lc, b);
        cJSON_Delete(blocks);
        return;
    }
    cJSON *m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "role", role);
    cJSON_AddItemToObject(m, "content", blocks);
    cJSON_AddItemToArray(msgs, m);
}

static void copy_item(cJSON *dst, const char *dname, const cJSON *src, const char *sname)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(src, sname);
    if (v && !cJSON_IsNull(v))
        cJSON_AddItemToObject(dst, dname, cJSON_Duplicate(v, 1));
}

static cJSON *translate_tools(const cJSON *tools)
{
    cJSON *out = cJSON_CreateArray();
    const cJSON *t;
    cJSON_ArrayForEach(t, tools)
    {
        const cJSON *fn = cJSON_GetObjectItemCaseSensitive(t, "function");
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(fn, "name");
        if (!cJSON_IsString(name))
            continue;
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", name->valuestring);
        copy_item(o, "description", fn, "description");
        const cJSON *params = cJSON_GetObjectItemCaseSensitive(fn, "parameters");
        if (cJSON_IsObject(params))
            cJSON_AddItemToObject(o, "input_schema", cJSON_Duplicate(params, 1));
        else
            cJSON_AddItemToObject(o, "input_schema",
                                  cJSON_Parse("{\"type\":\"object\",\"properties\":{}}"));
        cJSON_AddItemToArray(out, o);
    }
    return out;
}

static cJSON *translate_tool_choice(const cJSON *tc, const cJSON *parallel)
{
    cJSON *o = cJSON_CreateObject();
    const char *type = "auto";
    const char *name = NULL;
    if (cJSON_IsString(tc)) {
        if (strcmp(tc->valuestring, "none") == 0)
            type = "none";
        else if (strcmp(tc->valuestring, "required") == 0)
            type = "any";
    } else if (cJSON_IsObject(tc)) {
        const cJSON *n = cJSON_GetObjectItemCaseSensitive(
            cJSON_GetObjectItemCaseSensitive(tc, "function"), "name");
        if (cJSON_IsString(n)) {
            type = "tool";
            name = n->valuestring;
        }
    }
    cJSON_AddStringToObject(o, "type", type);
    if (name)
        cJSON_AddStringToObject(o, "name", name);
    if (cJSON_IsFalse(parallel) && strcmp(type, "none") != 0)
        cJSON_AddTrueToObject(o, "disable_parallel_tool_use");
    return o;
}

static cJSON *tool_use_block(const cJSON *call)
{
    const cJSON *fn = cJSON_GetObjectItemCaseSensitive(call, "function");
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(fn, "name");
    const cJSON *args = cJSON_GetObjectItemCaseSensitive(fn, "arguments");
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(call, "id");
    cJSON *b = cJSON_CreateObject();
    cJSON_AddStringToObject(b, "type", "tool_use");
    cJSON_AddStringToObject(b, "id", cJSON_IsString(id) ? id->valuestring : "");
    cJSON_AddStringToObject(b, "name", cJSON_IsString(name) ? name->valuestring : "");
    cJSON *input =
        cJSON_IsString(args) && args->valuestring[0] ? cJSON_Parse(args->valuestring) : NULL;
    if (!cJSON_IsObject(input)) {
        cJSON_Delete(input);
        input = cJSON_CreateObject();
    }
    cJSON_AddItemToObject(b, "input", input);
    return b;
}

/* A user turn; content "" stays "" (as the app sent it) unless it can join
 * the user turn before it: content [] is a request Anthropic rejects for a
 * reason the app never wrote. */
static void user_turn(cJSON *msgs, const cJSON *content)
{
    cJSON *blocks = content_blocks(content);
    cJSON *last = cJSON_GetArrayItem(msgs, cJSON_GetArraySize(msgs) - 1);
    const cJSON *lr = last ? cJSON_GetObjectItemCaseSensitive(last, "role") : NULL;
    if (cJSON_GetArraySize(blocks) == 0 && cJSON_IsString(content) &&
        !(cJSON_IsString(lr) && strcmp(lr->valuestring, "user") == 0)) {
        cJSON_Delete(blocks);
        cJSON *um = cJSON_CreateObject();
        cJSON_AddStringToObject(um, "role", "user");
        cJSON_AddStringToObject(um, "content", content->valuestring);
        cJSON_AddItemToArray(msgs, um);
    } else {
        push_turn(msgs, "user", blocks);
    }
}

/* One chat message as Anthropic turns (msgs), or as system text (system).
 * system's error (buf.h) also stands for the other texts built here. */
static void add_message(cJSON *msgs, hc_buf *system, const cJSON *msg)
{
    const cJSON *role = cJSON_GetObjectItemCaseSensitive(msg, "role");
    const char *r = cJSON_IsString(role) ? role->valuestring : "";
    const cJSON *content = cJSON_GetObjectItemCaseSensitive(msg, "content");
    if (strcmp(r, "system") == 0 || strcmp(r, "developer") == 0) {
        hc_buf t = HC_BUF_INIT;
        content_text(content, &t);
        if (t.len && system->len)
            hc_buf_puts(system, "\n\n");
        hc_buf_append_buf(system, &t);
        hc_buf_free(&t);
    } else if (strcmp(r, "tool") == 0) {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(msg, "tool_call_id");
        hc_buf t = HC_BUF_INIT;
        content_text(content, &t);
        if (hc_buf_error(&t))
            hc_buf_append_buf(system, &t); /* marks the translation failed */
        cJSON *b = cJSON_CreateObject();
        cJSON_AddStringToObject(b, "type", "tool_result");
        cJSON_AddStringToObject(b, "tool_use_id", cJSON_IsString(id) ? id->valuestring : "");
        cJSON_AddStringToObject(b, "content", t.data ? t.data : "");
        hc_buf_free(&t);
        cJSON *blocks = cJSON_CreateArray();
        cJSON_AddItemToArray(blocks, b);
        push_turn(msgs, "user", blocks);
    } else if (strcmp(r, "assistant") == 0) {
        cJSON *blocks = content ? content_blocks(content) : cJSON_CreateArray();
        const cJSON *calls = cJSON_GetObjectItemCaseSensitive(msg, "tool_calls"), *call;
        cJSON_ArrayForEach(call, calls) cJSON_AddItemToArray(blocks, tool_use_block(call));
        push_turn(msgs, "assistant", blocks);
    } else {
        user_turn(msgs, content);
    }
}

/* max_tokens, temperature, top_p, stop: the sampling settings of in, into o. */
static void translate_sampling(cJSON *o, const cJSON *in)
{
    const cJSON *mt = cJSON_GetObjectItemCaseSensitive(in, "max_completion_tokens");
    if (!cJSON_IsNumber(mt))
        mt = cJSON_GetObjectItemCaseSensitive(in, "max_tokens");
    cJSON_AddNumberToObject(o, "max_tokens",
                            cJSON_IsNumber(mt) ? mt->valuedouble : DEFAULT_MAX_TOKENS);
    const cJSON *temp = cJSON_GetObjectItemCaseSensitive(in, "temperature");
    if (cJSON_IsNumber(temp) && temp->valuedouble > 1.0) {
        /* OpenAI's range is 0..2, Anthropic's 0..1 (it rejects more): the
         * nearest value Anthropic takes, said once. */
        hc_log_warn_once("xa_temperature",
                         "temperature %g is above Anthropic's maximum of 1: sent as 1",
                         temp->valuedouble);
        cJSON_AddNumberToObject(o, "temperature", 1.0);
    } else {
        copy_item(o, "temperature", in, "temperature");
    }
    copy_item(o, "top_p", in, "top_p");
    const cJSON *stop = cJSON_GetObjectItemCaseSensitive(in, "stop");
    if (cJSON_IsString(stop)) {
        cJSON *a = cJSON_CreateArray();
        cJSON_AddItemToArray(a, cJSON_CreateString(stop->valuestring));
        cJSON_AddItemToObject(o, "stop_sequences", a);
    } else if (cJSON_IsArray(stop)) {
        cJSON_AddItemToObject(o, "stop_sequences", cJSON_Duplicate(stop, 1));
    }
}

/* stream, user (as metadata.user_id), tools and tool_choice of in, into o. */
static void translate_extras(cJSON *o, const cJSON *in)
{
    const cJSON *stream = cJSON_GetObjectItemCaseSensitive(in, "stream");
    if (cJSON_IsTrue(stream))
        cJSON_AddTrueToObject(o, "stream");
    const cJSON *user = cJSON_GetObjectItemCaseSensitive(in, "user");
    if (cJSON_IsString(user)) {
        cJSON *md = cJSON_CreateObject();
        cJSON_AddStringToObject(md, "user_id", user->valuestring);
        cJSON_AddItemToObject(o, "metadata", md);
    }
    const cJSON *tools = cJSON_GetObjectItemCaseSensitive(in, "tools");
    if (cJSON_IsArray(tools) && cJSON_GetArraySize(tools) > 0) {
        cJSON_AddItemToObject(o, "tools", translate_tools(tools));
        const cJSON *tc = cJSON_GetObjectItemCaseSensitive(in, "tool_choice");
        const cJSON *par = cJSON_GetObjectItemCaseSensitive(in, "parallel_tool_calls");
        if (tc || cJSON_IsFalse(par))
            cJSON_AddItemToObject(o, "tool_choice", translate_tool_choice(tc, par));
    }
}

int hc_xa_request(const char *body, size_t n, const char *model, hc_buf *out, char *err,
                  size_t errlen)
{
    cJSON *in = cJSON_ParseWithLength(body, n);
    const cJSON *messages = in ? cJSON_GetObjectItemCaseSensitive(in, "messages") : NULL;
    if (!cJSON_IsObject(in) || !cJSON_IsArray(messages)) {
        snprintf(
            err, errlen,
            "the request body is not a chat completions request (a JSON object with \"messages\")");
        cJSON_Delete(in);
        return HC_EINVAL;
    }
    cJSON *o = cJSON_CreateObject();
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(in, "model");
    cJSON_AddStringToObject(o, "model", model ? model : cJSON_IsString(m) ? m->valuestring : "");

    hc_buf system = HC_BUF_INIT; /* its error (buf.h) also stands for the other texts built here */
    cJSON *msgs = cJSON_CreateArray();
    const cJSON *msg;
    cJSON_ArrayForEach(msg, messages) add_message(msgs, &system, msg);
    int failed = hc_buf_error(&system);
    if (system.len)
        cJSON_AddStringToObject(o, "system", system.data);
    hc_buf_free(&system);
    cJSON_AddItemToObject(o, "messages", msgs);
    translate_sampling(o, in);
    translate_extras(o, in);

    char *s = cJSON_PrintUnformatted(o);
    int rc = !failed && s && hc_buf_puts(out, s) == 0 ? 0 : HC_ENOMEM;
    free(s);
    cJSON_Delete(o);
    cJSON_Delete(in);
    return rc;
}

/* ---- response ------------------------------------------------------------ */

const char *hc_xa_finish_reason(const char *r)
{
    if (!r)
        return "stop";
    if (strcmp(r, "max_tokens") == 0 || strcmp(r, "model_context_window_exceeded") == 0)
        return "length";
    if (strcmp(r, "tool_use") == 0)
        return "tool_calls";
    if (strcmp(r, "refusal") == 0)
        return "content_filter";
    return "stop";
}

static int64_t num(const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsNumber(v) && v->valuedouble > 0 ? (int64_t)v->valuedouble : 0;
}

static cJSON *usage_object(int64_t in, int64_t out, int64_t cache_read, int64_t cache_write)
{
    cJSON *u = cJSON_CreateObject();
    int64_t prompt = in + cache_read + cache_write;
    cJSON_AddNumberToObject(u, "prompt_tokens", (double)prompt);
    cJSON_AddNumberToObject(u, "completion_tokens", (double)out);
    cJSON_AddNumberToObject(u, "total_tokens", (double)(prompt + out));
    cJSON *d = cJSON_CreateObject();
    cJSON_AddNumberToObject(d, "cached_tokens", (double)cache_read);
    cJSON_AddItemToObject(u, "prompt_tokens_details", d);
    return u;
}

static int print_into(cJSON *o, hc_buf *out)
{
    char *s = cJSON_PrintUnformatted(o);
    int rc = s && hc_buf_puts(out, s) == 0 ? 0 : HC_ENOMEM;
    free(s);
    return rc;
}

/* {"error":{...}} in OpenAI's shape from an Anthropic error object (or NULL). */
static cJSON *openai_error(const cJSON *aerr, const char *fallback_msg)
{
    const cJSON *msg = cJSON_GetObjectItemCaseSensitive(aerr, "message");
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(aerr, "type");
    cJSON *o = cJSON_CreateObject(), *e = cJSON_CreateObject();
    cJSON_AddStringToObject(e, "message", cJSON_IsString(msg) ? msg->valuestring : fallback_msg);
    cJSON_AddStringToObject(e, "type", cJSON_IsString(type) ? type->valuestring : "api_error");
    cJSON_AddNullToObject(e, "param");
    cJSON_AddNullToObject(e, "code");
    cJSON_AddItemToObject(o, "error", e);
    return o;
}

int hc_xa_response(const char *body, size_t n, int status, int64_t created, hc_buf *out)
{
    cJSON *in = cJSON_ParseWithLength(body, n);
    if (!cJSON_IsObject(in)) {
        cJSON_Delete(in);
        return HC_EINVAL;
    }
    cJSON *o;
    int failed = 0;
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(in, "type");
    if (status >= 400 || (cJSON_IsString(type) && strcmp(type->valuestring, "error") == 0)) {
        o = openai_error(cJSON_GetObjectItemCaseSensitive(in, "error"),
                         "the provider answered with an error");
    } else {
        o = cJSON_CreateObject();
        copy_item(o, "id", in, "id");
        cJSON_AddStringToObject(o, "object", "chat.completion");
        cJSON_AddNumberToObject(o, "created", (double)created);
        copy_item(o, "model", in, "model");
        hc_buf text = HC_BUF_INIT;
        bool have_text = false;
        cJSON *calls = cJSON_CreateArray();
        const cJSON *blk;
        cJSON_ArrayForEach(blk, cJSON_GetObjectItemCaseSensitive(in, "content"))
        {
            const cJSON *bt = cJSON_GetObjectItemCaseSensitive(blk, "type");
            const char *t = cJSON_IsString(bt) ? bt->valuestring : "";
            if (strcmp(t, "text") == 0) {
                const cJSON *tx = cJSON_GetObjectItemCaseSensitive(blk, "text");
                if (cJSON_IsString(tx))
                    hc_buf_puts(&text, tx->valuestring);
                have_text = true;
            } else if (strcmp(t, "tool_use") == 0) {
                cJSON *c = cJSON_CreateObject(), *fn = cJSON_CreateObject();
                copy_item(c, "id", blk, "id");
                cJSON_AddStringToObject(c, "type", "function");
                copy_item(fn, "name", blk, "name");
                const cJSON *input = cJSON_GetObjectItemCaseSensitive(blk, "input");
                char *args = input ? cJSON_PrintUnformatted(input) : NULL;
                cJSON_AddStringToObject(fn, "arguments", args ? args : "{}");
                free(args);
                cJSON_AddItemToObject(c, "function", fn);
                cJSON_AddItemToArray(calls, c);
            }
        }
        cJSON *msg = cJSON_CreateObject();
        cJSON_AddStringToObject(msg, "role", "assistant");
        if (have_text)
            cJSON_AddStringToObject(msg, "content", text.data ? text.data : "");
        else
            cJSON_AddNullToObject(msg, "content");
        failed = hc_buf_error(&text);
        hc_buf_free(&text);
        if (cJSON_GetArraySize(calls))
            cJSON_AddItemToObject(msg, "tool_calls", calls);
        else
            cJSON_Delete(calls);
        cJSON *choice = cJSON_CreateObject();
        cJSON_AddNumberToObject(choice, "index", 0);
        cJSON_AddItemToObject(choice, "message", msg);
        const cJSON *sr = cJSON_GetObjectItemCaseSensitive(in, "stop_reason");
        cJSON_AddStringToObject(choice, "finish_reason",
                                hc_xa_finish_reason(cJSON_IsString(sr) ? sr->valuestring : NULL));
        cJSON *choices = cJSON_CreateArray();
        cJSON_AddItemToArray(choices, choice);
        cJSON_AddItemToObject(o, "choices", choices);
        const cJSON *u = cJSON_GetObjectItemCaseSensitive(in, "usage");
        cJSON_AddItemToObject(o, "usage",
                              usage_object(num(u, "input_tokens"), num(u, "output_tokens"),
                                           num(u, "cache_read_input_tokens"),
                                           num(u, "cache_creation_input_tokens")));
    }
    int rc = failed ? failed : print_into(o, out);
    cJSON_Delete(o);
    cJSON_Delete(in);
    return rc;
}

/* ---- stream -------------------------------------------------------------- */

void hc_xa_stream_init(hc_xa_stream *s, bool include_usage, int64_t created)
{
    memset(s, 0, sizeof *s);
    hc_stream_init(&s->sse, HC_STREAM_SSE, MAX_EVENT);
    s->include_usage = include_usage;
    s->created = created;
    for (int i = 0; i < HC_XA_MAX_BLOCKS; i++)
        s->tool_of_block[i] = -1;
    s->open_block = s->open_tool = -1;
}

/* Write one chunk: choices [{index 0, delta, finish_reason}] (delta NULL: an
 * empty choices array, the usage chunk). Takes delta and usage. */
static void write_chunk(hc_xa_stream *s, cJSON *delta, const char *finish, cJSON *usage)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", s->id);
    cJSON_AddStringToObject(o, "object", "chat.completion.chunk");
    cJSON_AddNumberToObject(o, "created", (double)s->created);
    cJSON_AddStringToObject(o, "model", s->model);
    cJSON *choices = cJSON_CreateArray();
    if (delta) {
        cJSON *c = cJSON_CreateObject();
        cJSON_AddNumberToObject(c, "index", 0);
        cJSON_AddItemToObject(c, "delta", delta);
        if (finish)
            cJSON_AddStringToObject(c, "finish_reason", finish);
        else
            cJSON_AddNullToObject(c, "finish_reason");
        cJSON_AddItemToArray(choices, c);
    }
    cJSON_AddItemToObject(o, "choices", choices);
    if (usage)
        cJSON_AddItemToObject(o, "usage", usage);
    hc_buf_puts(s->out, "data: ");
    print_into(o, s->out);
    hc_buf_puts(s->out, "\n\n");
    cJSON_Delete(o);
}

/* message_start: the id, model and first usage; the assistant role chunk. */
static void on_message_start(hc_xa_stream *s, const cJSON *ev)
{
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(ev, "message");
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(m, "id");
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(m, "model");
    snprintf(s->id, sizeof s->id, "%s", cJSON_IsString(id) ? id->valuestring : "");
    snprintf(s->model, sizeof s->model, "%s", cJSON_IsString(model) ? model->valuestring : "");
    const cJSON *u = cJSON_GetObjectItemCaseSensitive(m, "usage");
    s->in = num(u, "input_tokens");
    s->cache_read = num(u, "cache_read_input_tokens");
    s->cache_write = num(u, "cache_creation_input_tokens");
    s->out_tok = num(u, "output_tokens");
    cJSON *d = cJSON_CreateObject();
    cJSON_AddStringToObject(d, "role", "assistant");
    cJSON_AddStringToObject(d, "content", "");
    write_chunk(s, d, NULL, NULL);
}

/* content_block_start of block bi: a tool call opens (its index noted), or
 * the block's initial text. */
static void on_block_start(hc_xa_stream *s, const cJSON *ev, int bi)
{
    const cJSON *cb = cJSON_GetObjectItemCaseSensitive(ev, "content_block");
    const cJSON *ct = cJSON_GetObjectItemCaseSensitive(cb, "type");
    if (cJSON_IsString(ct) && strcmp(ct->valuestring, "tool_use") == 0 && bi >= 0) {
        int ti = s->ntools++;
        if (bi < HC_XA_MAX_BLOCKS) {
            s->tool_of_block[bi] = ti;
        } else {
            s->open_block = bi;
            s->open_tool = ti;
        }
        cJSON *call = cJSON_CreateObject(), *fn = cJSON_CreateObject();
        cJSON_AddNumberToObject(call, "index", ti);
        copy_item(call, "id", cb, "id");
        cJSON_AddStringToObject(call, "type", "function");
        copy_item(fn, "name", cb, "name");
        cJSON_AddStringToObject(fn, "arguments", "");
        cJSON_AddItemToObject(call, "function", fn);
        cJSON *calls = cJSON_CreateArray(), *d = cJSON_CreateObject();
        cJSON_AddItemToArray(calls, call);
        cJSON_AddItemToObject(d, "tool_calls", calls);
        write_chunk(s, d, NULL, NULL);
    } else if (cJSON_IsString(ct) && strcmp(ct->valuestring, "text") == 0) {
        const cJSON *tx = cJSON_GetObjectItemCaseSensitive(cb, "text");
        if (cJSON_IsString(tx) && tx->valuestring[0]) {
            cJSON *d = cJSON_CreateObject();
            cJSON_AddStringToObject(d, "content", tx->valuestring);
            write_chunk(s, d, NULL, NULL);
        }
    }
}

/* content_block_delta of block bi: text, or a tool call's next arguments. */
static void on_block_delta(hc_xa_stream *s, const cJSON *ev, int bi)
{
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(ev, "delta");
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(d, "type");
    const char *dts = cJSON_IsString(dt) ? dt->valuestring : "";
    if (strcmp(dts, "text_delta") == 0) {
        const cJSON *tx = cJSON_GetObjectItemCaseSensitive(d, "text");
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "content", cJSON_IsString(tx) ? tx->valuestring : "");
        write_chunk(s, o, NULL, NULL);
    } else if (strcmp(dts, "input_json_delta") == 0 && bi >= 0 &&
               (bi < HC_XA_MAX_BLOCKS ? s->tool_of_block[bi]
                : bi == s->open_block ? s->open_tool
                                      : -1) >= 0) {
        const cJSON *pj = cJSON_GetObjectItemCaseSensitive(d, "partial_json");
        cJSON *call = cJSON_CreateObject(), *fn = cJSON_CreateObject();
        cJSON_AddNumberToObject(call, "index",
                                bi < HC_XA_MAX_BLOCKS ? s->tool_of_block[bi] : s->open_tool);
        cJSON_AddStringToObject(fn, "arguments", cJSON_IsString(pj) ? pj->valuestring : "");
        cJSON_AddItemToObject(call, "function", fn);
        cJSON *calls = cJSON_CreateArray(), *o = cJSON_CreateObject();
        cJSON_AddItemToArray(calls, call);
        cJSON_AddItemToObject(o, "tool_calls", calls);
        write_chunk(s, o, NULL, NULL);
    }
    /* thinking and signature deltas have no chat completions form */
}

/* message_delta: the stop reason and the usage so far; the finish chunk. */
static void on_message_delta(hc_xa_stream *s, const cJSON *ev)
{
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(ev, "delta");
    const cJSON *sr = cJSON_GetObjectItemCaseSensitive(d, "stop_reason");
    const cJSON *u = cJSON_GetObjectItemCaseSensitive(ev, "usage");
    if (cJSON_GetObjectItemCaseSensitive(u, "output_tokens"))
        s->out_tok = num(u, "output_tokens");
    if (cJSON_GetObjectItemCaseSensitive(u, "input_tokens"))
        s->in = num(u, "input_tokens");
    if (cJSON_GetObjectItemCaseSensitive(u, "cache_read_input_tokens"))
        s->cache_read = num(u, "cache_read_input_tokens");
    if (cJSON_GetObjectItemCaseSensitive(u, "cache_creation_input_tokens"))
        s->cache_write = num(u, "cache_creation_input_tokens");
    snprintf(s->finish, sizeof s->finish, "%s",
             hc_xa_finish_reason(cJSON_IsString(sr) ? sr->valuestring : NULL));
    write_chunk(s, cJSON_CreateObject(), s->finish, NULL);
}

static void on_event(void *ctx, const char *event, const char *data, size_t dlen, const char *raw,
                     size_t rlen)
{
    hc_xa_stream *s = ctx;
    (void)event;
    (void)raw;
    (void)rlen;
    if (s->done || !dlen)
        return;
    cJSON *ev = cJSON_ParseWithLength(data, dlen);
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(ev, "type");
    const char *t = cJSON_IsString(type) ? type->valuestring : "";
    const cJSON *idx = cJSON_GetObjectItemCaseSensitive(ev, "index");
    int bi = cJSON_IsNumber(idx) ? idx->valueint : -1;
    if (strcmp(t, "message_start") == 0) {
        on_message_start(s, ev);
    } else if (strcmp(t, "content_block_start") == 0) {
        on_block_start(s, ev, bi);
    } else if (strcmp(t, "content_block_delta") == 0) {
        on_block_delta(s, ev, bi);
    } else if (strcmp(t, "message_delta") == 0) {
        on_message_delta(s, ev);
    } else if (strcmp(t, "message_stop") == 0) {
        if (s->include_usage)
            write_chunk(s, NULL, NULL,
                        usage_object(s->in, s->out_tok, s->cache_read, s->cache_write));
        hc_buf_puts(s->out, "data: [DONE]\n\n");
        s->done = true;
    } else if (strcmp(t, "error") == 0) {
        cJSON *e = openai_error(cJSON_GetObjectItemCaseSensitive(ev, "error"),
                                "the provider's stream failed");
        hc_buf_puts(s->out, "data: ");
        print_into(e, s->out);
        hc_buf_puts(s->out, "\n\n");
        cJSON_Delete(e);
    }
    /* ping, content_block_stop: nothing to say */
    cJSON_Delete(ev);
}

int hc_xa_stream_feed(hc_xa_stream *s, const char *p, size_t n, hc_buf *out)
{
    s->out = out;
    int rc = hc_stream_feed(&s->sse, p, n, on_event, s);
    s->out = NULL;
    return rc;
}

void hc_xa_stream_finish(hc_xa_stream *s, hc_buf *out)
{
    s->out = out;
    hc_stream_finish(&s->sse, on_event, s);
    s->out = NULL;
}

void hc_xa_stream_free(hc_xa_stream *s)
{
    hc_stream_free(&s->sse);
}

/* replay.h — record LLM exchanges to a cassette file, answer them from it.
 *
 * HC_REPLAY=record|replay|auto with HC_CASSETTE=FILE (hc-run --record FILE /
 * --replay FILE). The cassette is JSON Lines, one exchange per line:
 *
 *   {"key":"<sha256 hex>","host":"api.openai.com","method":"POST",
 *    "path":"/v1/chat/completions","model":"gpt-4o-mini",
 *    "request":<the request body as matched: canonical JSON, sorted keys>,
 *    "status":200,"streamed":true,
 *    "head":["HTTP/1.1 200 OK","content-type: text/event-stream",…],
 *    "body":"<the body the app received, text>"  (or "body_b64":"…"),
 *    "tok":[in,out,cached,cw5m,cw1h,reasoning],"cost_nusd":1234}
 *
 * (a non-JSON request body is kept as "request_b64"). No credential is ever
 * written: the key hashes no header; the path is the redacted one (?key=…
 * removed); the head is the response head minus framing (Content-Length,
 * Transfer-Encoding, Connection, Keep-Alive), Set-Cookie and helicone-*.
 *
 * Key: SHA-256 over "hcshim-replay-1", host, method, redacted path and the
 * request as matched: the cache's canonical JSON (core/cache.c: keys sorted
 * at every level) with the top-level keys of HC_REPLAY_IGNORE (comma list,
 * e.g. "user,metadata") removed, then every match of the POSIX extended regex
 * HC_REPLAY_IGNORE_RE (e.g. timestamps in prompts) replaced by "<ignored>".
 * When a cassette is loaded, each JSON entry's key is recomputed from its
 * "request" under the current options, so the options may be added at replay
 * time and a hand-edited request matches as edited; "key" is informative.
 *
 * Modes:
 *   record  every answered exchange (a final status, 200 or more, complete,
 *           body within HC_MAX_BODY) is appended; the upstream is used as
 *           usual; a cache hit (HC_CACHE) is not;
 *   replay  every LLM request is answered from the cassette, never from the
 *           network; no match → HTTP 404 {"error":{"type":"replay_no_match"}}
 *           with x-should-retry: false, and one stderr line naming the
 *           request and the closest recorded one;
 *   auto    a match is replayed, anything else goes upstream and is appended.
 * Ordered matching: the n-th identical request of a process gets the n-th
 * recorded answer with that key (file order); in replay, one more than
 * recorded is a miss.
 *
 * Appends are safe across processes and threads: each exchange is one
 * write(2) of one line to a file opened O_APPEND, under flock(LOCK_EX).
 * The file is created 0600.
 *
 * Thread-safe (one mutex over the loaded cassette).
 */
#ifndef HC_CORE_REPLAY_H
#define HC_CORE_REPLAY_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "capture.h"
#include "http.h"
#include "io.h"

enum { HC_REPLAY_OFF = 0, HC_REPLAY_RECORD, HC_REPLAY_REPLAY, HC_REPLAY_AUTO };

/* Per-exchange state (lives in the proxy's exchange; zeroed is "off"). */
typedef struct hc_replay_ctx {
    bool record; /* the answer must be appended (hc_replay_save) */
    char key[65];
    char host[256], method[16];
    char *line_prefix; /* owned: the request part of the cassette line */
} hc_replay_ctx;

/* The mode of this process (read once from the environment). */
int hc_replay_mode(void);

/* Consult the cassette for a request (after options, before the cache).
 * host: the LLM host; req: the request head; body/len: the app's body (NULL
 * when streamed: such requests are never replayed or recorded); id: the
 * helicone-id to answer with. Returns true when the app was answered
 * (replayed, or refused because nothing matched in replay mode) and the
 * capture finished; false to go on, with r->record set when the answer must
 * be recorded. Never fails: errors make it return false (or, in replay mode,
 * answer the error). */
bool hc_replay_gate(hc_replay_ctx *r, hc_io *client, hc_capture *cap, const char *host,
                    const hc_http_head *req, const char *body, size_t len, const char *id);

/* Append the answer the app received: head as in the cassette format (status
 * line and headers, CRLF-terminated lines, no blank line), body de-chunked.
 * Call once, after a complete answer; frees r's memory. */
void hc_replay_save(hc_replay_ctx *r, const hc_capture *cap, int status, const char *head,
                    size_t head_len, const char *body, size_t body_len);

/* Free r's memory (safe on a zeroed or saved ctx). */
void hc_replay_free(hc_replay_ctx *r);

/* The request as matched and its key (exposed for tests and hc-analyze).
 * ignore: comma list of top-level keys; re: compiled regex or NULL.
 * canon gets the matched text; *json says whether it is JSON. 0 or HC_ENOMEM. */
struct re_pattern_buffer;
int hc_replay_key(const char *host, const char *method, const char *path, const char *body,
                  size_t len, const char *ignore, const struct re_pattern_buffer *re, hc_buf *canon,
                  bool *json, char key[65]);

#endif

/* gwerror.h — the answers the gateway gives by itself: its error table.
 *
 * When the gateway cannot or must not pass a request on (a malformed
 * request, a budget or rate limit, an unreachable upstream, no memory), it
 * answers the app with an HTTP error whose body has the OpenAI error shape,
 * which every SDK surfaces:
 *     {"error":{"message":"hcshim: …","type":"hcshim_…","code":"…"}}
 * This module owns the table that maps a status to its reason phrase, a
 * code to its "type", and an upstream failure (HC_E*) to its code, and it
 * writes such an answer. Recording it is the caller's: the answer's status,
 * headers and body are handed back as values (hc_gwerror_sent) for the
 * capture, never as text to be parsed again.
 *
 * Pure functions and stack state only: thread-safe.
 */
#ifndef HC_CORE_GWERROR_H
#define HC_CORE_GWERROR_H

#include <stdbool.h>

#include "buf.h"
#include "http.h"
#include "io.h"

/* One error answer. All strings are borrowed for the call. */
typedef struct hc_gwerror {
    int status;             /* 400, 403, 429, 431, 500, 502, 503, 504… */
    const char *code;       /* machine-readable: "rate_limited", "upstream_timeout"… */
    const char *message;    /* for people; sent after "hcshim: ", JSON-escaped */
    const char *request_id; /* the helicone-id header's value; NULL: none (no exchange yet) */
    const hc_buf *extra;    /* header lines the features add ("Name: value\r\n"…); NULL: none */
    bool closing;           /* add "Connection: close" */
} hc_gwerror;

/* What an answer consisted of, for the capture: the status, its one
 * interpreted header (Content-Type), and the body. body is owned by the
 * caller of hc_gwerror_send (free with hc_buf_free). */
typedef struct hc_gwerror_sent {
    int status;
    hc_header headers[1];
    size_t nheaders;
    hc_buf body;
} hc_gwerror_sent;

/* The reason phrase of status ("Error" for one not in the table). */
const char *hc_gwerror_reason(int status);

/* The error "type" of a gateway answer, by its code: "hcshim_budget",
 * "hcshim_rate_limit", "hcshim_upstream" (codes "upstream_…") or
 * "hcshim_error". */
const char *hc_gwerror_type(const char *code);

/* The code of an answer for an upstream failure err (HC_E*): whether the
 * upstream was never reached, reached but spoke something other than HTTP,
 * hung up, was too slow — or the gateway ran out of memory. */
const char *hc_gwerror_upstream_code(int err);

/* Append s to b as the inside of a JSON string ('"', '\\' and control
 * characters escaped). Check b's error (buf.h) before use. */
void hc_json_escape(hc_buf *b, const char *s);

/* Write the answer e to client. *sent (may be NULL) receives what was sent,
 * for the capture. Returns 0 when written; HC_ENOMEM when there was no
 * memory to build it: a bare "500, Connection: close" was written instead
 * (the caller must close the connection; sent->status is 500, its body
 * empty); or the write's error (the app went away). */
int hc_gwerror_send(hc_io *client, const hc_gwerror *e, hc_gwerror_sent *sent);

#endif

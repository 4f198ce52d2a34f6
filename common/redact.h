/* redact.h — credentials out of URLs, in one place.
 *
 * Every URL the product keeps (a record's path and upstream, error texts,
 * stored error bodies, logs) goes through here first. What is redacted:
 *   - the userinfo of an absolute URL: https://user:KEY@host/ becomes
 *     https://REDACTED@host/
 *   - the value of every query parameter whose name looks like a credential:
 *     the name is percent-decoded and compared without case; it is a
 *     credential if it is one of key, sig, code, auth, pwd or contains key,
 *     token, secret, passw, signature, credential, auth (so api_key,
 *     subscription-key, x-api-key, auth_token, access_token, %6Bey,
 *     X-Amz-Signature…). Parameters are separated by '&' or ';' (and '#').
 * The value becomes REDACTED; names, order and every other byte are kept.
 * Over-redacting a harmless parameter is the accepted cost.
 *
 * Thread-safe, no shared state.
 */
#ifndef HC_REDACT_H
#define HC_REDACT_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

/* Append url (n bytes: an absolute URL, or an origin-form target such as
 * "/v1/x?key=..") to out, redacted. 0, or HC_ENOMEM (out keeps what it had
 * appended). */
int hc_url_redact_buf(hc_buf *out, const char *url, size_t n);

/* Copy NUL-terminated url into dst (size bytes, always NUL-terminated,
 * truncated if needed), redacted. dst and url must not overlap. */
void hc_url_redact(char *dst, size_t size, const char *url);

/* True if a query parameter named name (n bytes, percent-encoded as sent)
 * carries a credential by the rule above. */
bool hc_url_secret_param(const char *name, size_t n);

#endif

/* webhook.h — fire-and-forget deliveries: JSON POSTs (budget webhooks,
 * alert webhooks and Slack) and alert commands.
 *
 * hc_webhook_post() copies the URL and body and returns at once; a detached
 * shim thread connects (HTTP or HTTPS with full verification), posts, and
 * reads the status line, with a 10 s deadline. hc_webhook_flush() waits,
 * bounded, for posts still in flight — called at process exit so an alert
 * is not lost to a short-lived process.
 */
#ifndef HC_CORE_WEBHOOK_H
#define HC_CORE_WEBHOOK_H

/* Queue a POST of `json` to `url` (http:// or https://). */
void hc_webhook_post(const char *url, const char *json);

#define HC_DELIVERY_ATTEMPTS 3

/* Queue a POST of `json` to `url`, tried up to HC_DELIVERY_ATTEMPTS times
 * (0.5 s, then 1 s apart) until a 2xx answer. secret (may be NULL): adds
 * "X-Hcshim-Signature: sha256=<hex HMAC-SHA256(secret, json)>". what names
 * the delivery in the one stderr line of a failure, which shows the URL's
 * scheme and host only. The strings are copied. */
void hc_deliver_post(const char *url, const char *json, const char *secret, const char *what);

/* Queue a run of the program at `path` (execve, no shell, no arguments) with
 * `json` on its stdin and env (NAME=VALUE strings, NULL-terminated, may be
 * NULL) added to the process environment. Run once, waited for up to 10 s
 * (then killed); a non-zero exit is one stderr line. */
void hc_deliver_command(const char *path, const char *json, const char *const *env);
/* Copy the environment commands run with (HC_ALERT_* names left out). Call on
 * the app's thread (at core start), never on a delivery thread. Not
 * thread-safe against a concurrent delivery: call before the first one. */
void hc_deliver_snapshot_env(void);

/* Wait up to timeout_ms for posts and commands in flight. */
void hc_webhook_flush(int timeout_ms);
/* After fork, in the child: the parent's posts are not ours to wait for. */
void hc_webhook_atfork_child(void);

#endif

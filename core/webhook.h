/* webhook.h — fire-and-forget JSON POSTs (budget alerts).
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
/* Wait up to timeout_ms for posts in flight. */
void hc_webhook_flush(int timeout_ms);
/* After fork, in the child: the parent's posts are not ours to wait for. */
void hc_webhook_atfork_child(void);

#endif

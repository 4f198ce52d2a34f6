/* webpage.h — the dashboard page of `hc-analyze html` and `hc-analyze serve`.
 *
 * DESIGN
 * One page, two modes. The page is a fixed template (webassets.c: layout,
 * CSS, JavaScript) plus data as JSON; no value from the store is ever part
 * of the markup. In the static mode the dashboard document (dashboard.h) is
 * embedded in a <script type="application/json"> block and the file works
 * offline, from file://, forever. In the live mode the same page fetches the
 * document from serve's /api/dashboard every ~2 s and redraws when the
 * store's transaction id changes.
 *
 * Charts are inline SVG built in the page by our own small JavaScript from
 * the JSON (no charting library, no canvas). Why in the page rather than in
 * C: the live view must redraw without a reload, so the page needs a
 * renderer anyway, and one renderer for both modes means the static report
 * and the live view cannot drift apart. It also keeps the C side free of
 * markup: C writes only the constant template and JSON, so there is no
 * HTML escaping in C to get wrong.
 *
 * Security. Prompts, responses, model names, users and properties come from
 * apps and providers and are treated as hostile:
 *   - JSON is embedded through webpage_json_stream(), which additionally
 *     escapes '<', '>', '&', U+2028 and U+2029 as \u sequences, so no byte
 *     sequence in the data can close the <script> element or be parsed as
 *     markup;
 *   - the page inserts data only with textContent / createTextNode /
 *     setAttribute (never innerHTML or inline handlers);
 *   - a Content-Security-Policy (meta tag; serve also sends it as a header)
 *     allows nothing but the page's own inline script and style, by their
 *     SHA-256 computed here when the page is written: default-src 'none',
 *     img-src data: (the icon), connect-src 'self' only in the live mode.
 * So even markup that slipped into the DOM could not run script or load
 * anything.
 *
 * Not thread-safe (the hashes are computed on first use; hc-analyze is
 * single-threaded).
 */
#ifndef HC_ANA_WEBPAGE_H
#define HC_ANA_WEBPAGE_H

#include <stddef.h>
#include <stdio.h>

enum webpage_mode { WEBPAGE_STATIC, WEBPAGE_LIVE };

/* Live mode: where the page fetches its data, and how often. */
#define WEBPAGE_API_DASHBOARD "/api/dashboard"
#define WEBPAGE_API_REQUEST   "/api/request/"
#define WEBPAGE_POLL_MS       2000

/* A stream that writes to f with '<', '>', '&', U+2028 and U+2029 replaced
 * by "\u003c", "\u003e", "\u0026", "\u2028", "\u2029". Only for JSON text:
 * there these characters occur only inside strings, where the escapes mean
 * the same characters, so the JSON is unchanged in meaning. fclose() the
 * returned stream to flush it (f stays open; check ferror(f) after). NULL on
 * ENOMEM. Not thread-safe (one writer). */
FILE *webpage_json_stream(FILE *f);

/* The page's Content-Security-Policy (for the meta tag and serve's header)
 * into out (size >= 512); returns out. */
const char *webpage_csp(enum webpage_mode m, char *out, size_t size);

/* Called by webpage_write() in the static mode to write the dashboard
 * document into json (a webpage_json_stream); returns 0 or a negative HC_E*. */
typedef int (*webpage_data_fn)(void *ctx, FILE *json);

/* Write the whole page to f. In WEBPAGE_STATIC, data(ctx, json) writes the
 * embedded document; in WEBPAGE_LIVE, data is not called (may be NULL).
 * Returns 0, data's error, HC_ENOMEM, or HC_EIO when f reports an error. */
int webpage_write(FILE *f, enum webpage_mode m, webpage_data_fn data, void *ctx);

#endif

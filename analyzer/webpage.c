/* webpage.c — assembling the dashboard page (see webpage.h for the design). */
#include "webpage.h"
#include "err.h"
#include "sha256.h"
#include "webassets.h"

#include <stdlib.h>
#include <string.h>

/* ---- JSON safe inside <script> --------------------------------------------------------- */

struct jstream {
    FILE *out;
    int held; /* bytes of a possible U+2028/9 (E2 80 A8/A9) held back: 0, 1 or 2 */
    char buf[4096];
    size_t n;
};

static void js_put(struct jstream *j, const char *p, size_t n)
{
    if (j->n + n > sizeof j->buf) {
        fwrite(j->buf, 1, j->n, j->out);
        j->n = 0;
    }
    memcpy(j->buf + j->n, p, n);
    j->n += n;
}

static ssize_t js_write(void *cookie, const char *p, size_t n)
{
    struct jstream *j = cookie;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        /* U+2028/9 may be split across calls: hold E2 and E2 80 until decided. */
        if (j->held == 1) {
            if (c == 0x80) {
                j->held = 2;
                continue;
            }
            js_put(j, "\xe2", 1);
            j->held = 0;
        } else if (j->held == 2) {
            j->held = 0;
            if (c == 0xa8 || c == 0xa9) {
                js_put(j, c == 0xa8 ? "\\u2028" : "\\u2029", 6);
                continue;
            }
            js_put(j, "\xe2\x80", 2);
        }
        switch (c) {
        case 0xe2: j->held = 1; break;
        case '<': js_put(j, "\\u003c", 6); break;
        case '>': js_put(j, "\\u003e", 6); break;
        case '&': js_put(j, "\\u0026", 6); break;
        default: js_put(j, (const char *)&c, 1); break;
        }
    }
    return ferror(j->out) ? 0 : (ssize_t)n;
}

static int js_close(void *cookie)
{
    struct jstream *j = cookie;
    if (j->held)
        js_put(j, "\xe2\x80", (size_t)j->held);
    fwrite(j->buf, 1, j->n, j->out);
    int rc = ferror(j->out) ? -1 : 0;
    free(j);
    return rc;
}

FILE *webpage_json_stream(FILE *f)
{
    struct jstream *j = calloc(1, sizeof *j);
    if (!j)
        return NULL;
    j->out = f;
    FILE *s = fopencookie(j, "w", (cookie_io_functions_t){ .write = js_write, .close = js_close });
    if (!s)
        free(j);
    return s;
}

/* ---- the policy ----------------------------------------------------------------------- */

static char js_hash[SHA256_B64_LEN], css_hash[SHA256_B64_LEN];

const char *webpage_csp(enum webpage_mode m, char *out, size_t size)
{
    if (!js_hash[0]) {
        sha256_b64(webassets_js, strlen(webassets_js), js_hash);
        sha256_b64(webassets_css, strlen(webassets_css), css_hash);
    }
    snprintf(out, size,
             "default-src 'none'; script-src 'sha256-%s'; style-src 'sha256-%s'; img-src data:; "
             "connect-src %s; base-uri 'none'; form-action 'none'",
             js_hash, css_hash, m == WEBPAGE_LIVE ? "'self'" : "'none'");
    return out;
}

/* ---- the page ------------------------------------------------------------------------- */

/* A 32x32 "hc" tile (SVG), so that browsers do not ask for /favicon.ico. */
static const char icon[] =
    "data:image/svg+xml;base64,PHN2ZyB4bWxucz0iaHR0cDovL3d3dy53My5vcmcvMjAwMC9zdmciIHZpZXdCb3g9IjAg"
    "MCAzMiAzMiI+PHJlY3Qgd2lkdGg9IjMyIiBoZWlnaHQ9IjMyIiByeD0iNyIgZmlsbD0iIzNlNmVhOCIvPjx0ZXh0IHg9"
    "IjE2IiB5PSIyMSIgZm9udC1mYW1pbHk9InNhbnMtc2VyaWYiIGZvbnQtc2l6ZT0iMTQiIGZvbnQtd2VpZ2h0PSI3MDAi"
    "IGZpbGw9IiNmZmYiIHRleHQtYW5jaG9yPSJtaWRkbGUiPmhjPC90ZXh0Pjwvc3ZnPg==";

int webpage_write(FILE *f, enum webpage_mode m, webpage_data_fn data, void *ctx)
{
    char csp[512];
    int rc = 0;
    fprintf(f,
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            "<meta http-equiv=\"Content-Security-Policy\" content=\"%s\">\n"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
            "<meta name=\"referrer\" content=\"no-referrer\">\n"
            "<title>hcshim dashboard</title>\n"
            "<link rel=\"icon\" href=\"%s\">\n"
            "<style>",
            webpage_csp(m, csp, sizeof csp), icon);
    /* The style and script bodies must be exactly the hashed bytes. */
    fputs(webassets_css, f);
    fputs("</style>\n</head>\n<body>\n", f);
    fputs(webassets_body, f);
    if (m == WEBPAGE_LIVE) {
        fprintf(
            f,
            "<script type=\"application/json\" id=\"hc-config\">{\"mode\":\"live\",\"api\":\"%s\","
            "\"detail\":\"%s\",\"poll_ms\":%d}</script>\n",
            WEBPAGE_API_DASHBOARD, WEBPAGE_API_REQUEST, WEBPAGE_POLL_MS);
    } else {
        fputs("<script type=\"application/json\" id=\"hc-config\">{\"mode\":\"static\"}</script>\n"
              "<script type=\"application/json\" id=\"hc-data\">",
              f);
        FILE *j = webpage_json_stream(f);
        if (!j)
            return HC_ENOMEM;
        rc = data(ctx, j);
        if (fclose(j) != 0 && !rc)
            rc = HC_EIO;
        fputs("</script>\n", f);
    }
    fputs("<script>", f);
    fputs(webassets_js, f);
    fputs("</script>\n</body>\n</html>\n", f);
    if (!rc && (fflush(f) != 0 || ferror(f)))
        rc = HC_EIO;
    return rc;
}

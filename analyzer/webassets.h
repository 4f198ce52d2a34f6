/* webassets.h — the dashboard page's source text (webassets.c), used only by webpage.c.
 * NUL-terminated, UTF-8, static. */
#ifndef HC_ANA_WEBASSETS_H
#define HC_ANA_WEBASSETS_H

extern const char webassets_body[]; /* the <body> layout, before the scripts */
extern const char webassets_css[];  /* the one inline <style> */
extern const char webassets_js[];   /* the one executable inline <script> */

#endif

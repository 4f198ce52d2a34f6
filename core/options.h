/* options.h — per-request gateway options: the Helicone header protocol.
 *
 * Every option starts from its HC_* environment default (config.h), and a
 * Helicone-* header in the request overrides it, as Helicone does:
 *
 *   Helicone-Property-<Name>: v    custom property (HC_PROPERTY_<Name>)
 *   Helicone-User-Id               user (HC_USER_ID)
 *   Helicone-Session-Id/-Path/-Name  session (HC_SESSION_ID/_PATH/_NAME)
 *   Helicone-Request-Id            the app's own id for this request
 *   Helicone-Omit-Request/-Response  do not store that body (HC_OMIT_REQUEST/_RESPONSE)
 *   Helicone-Stream-Usage          inject stream_options.include_usage (HC_STREAM_USAGE, default on)
 *   Helicone-Auth                  accepted and ignored (no hosted service)
 *
 * Every header whose name starts with "Helicone-" is removed before the
 * request goes upstream (hc_is_helicone_header).
 */
#ifndef HC_CORE_OPTIONS_H
#define HC_CORE_OPTIONS_H

#include <stdbool.h>

#include "buf.h"
#include "config.h"
#include "http.h"

typedef struct hc_opts {
    hc_buf props;                 /* pairs list (record.h); a header replaces the env value of the same name */
    char   user[256];
    char   session_id[256];
    char   session_path[512];
    char   session_name[256];
    char   request_id[128];
    bool   omit_request, omit_response;
    bool   stream_usage;
} hc_opts;

/* Fill o from cfg's defaults and the request head h. o must be zeroed or
 * freed before. 0 or HC_ENOMEM. The caller frees o with hc_opts_free. */
int  hc_opts_from_request(hc_opts *o, const hc_config *cfg, const hc_http_head *h);
void hc_opts_free(hc_opts *o);

/* True if the header name is in the Helicone-* namespace (case-insensitive). */
bool hc_is_helicone_header(const char *name, size_t len);

/* Parse a boolean header value ("true", "1", "yes", "on" / "false", "0", …).
 * Returns dflt when v is not one of those. */
bool hc_header_bool(const char *v, size_t n, bool dflt);

#endif

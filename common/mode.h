/* mode.h — HC_MODE, the way the shim works in a process: parsed here only.
 *
 *   gateway (default, also when unset or empty)  redirect LLM connections into
 *                                                the in-process gateway
 *   observe                                      passive capture on the app's own
 *                                                TLS and sockets; never changes a byte
 *   off, 0                                       every hook passes through; the core
 *                                                is never loaded
 * Any other value means gateway (the shim says so once on stderr).
 *
 * Read by the shim's constructor (shim.c) and by the core's configuration
 * (config.c), which must agree. libc only (the shim links it); no state;
 * thread-safe.
 */
#ifndef HC_MODE_H
#define HC_MODE_H

#include <stdbool.h>

enum hc_mode {
    HC_MODE_GATEWAY = 0, /* default: redirect LLM connections into the in-process gateway */
    HC_MODE_OBSERVE = 1, /* passive capture on the app's own TLS and sockets */
    HC_MODE_OFF = 2,     /* every hook passes through; nothing is loaded */
};

/* The mode a value of HC_MODE names (text may be NULL: unset). *unknown (when
 * not NULL) is set to whether text was a value other than the documented
 * ones, which gives HC_MODE_GATEWAY. */
enum hc_mode hc_mode_parse(const char *text, bool *unknown);

/* hc_mode_parse(getenv("HC_MODE"), unknown). */
enum hc_mode hc_mode_from_env(bool *unknown);

#endif

/* log.h — diagnostics on stderr (or HC_LOG's file), never on the app's data path.
 *
 * The shim lives inside other people's programs, so it is quiet by default:
 *   - hc_log_debug() prints only when HC_DEBUG is set (to 1 or any non-"0" value);
 *   - hc_log_warn_once() prints the first time its `key` is seen in a process,
 *     whatever HC_DEBUG says: that is how a failure that makes the shim fail open
 *     ("nothing is recorded because …") is reported exactly once;
 *   - HC_LOG=PATH appends every message to PATH instead of stderr.
 * Messages are written with one write(2) each ("hcshim[pid]: …\n") and never
 * through stdio, so they cannot interleave with or flush the app's own buffers.
 * fd 2 is used only if it is a terminal, pipe or regular file: a daemon that
 * reused fd 2 for a socket never gets our bytes in its protocol stream.
 *
 * Thread-safe. Async-signal-unsafe (formats with vsnprintf).
 */
#ifndef HC_LOG_H
#define HC_LOG_H

#include <stdbool.h>

/* True when HC_DEBUG asks for debug output (evaluated once, cached). */
bool hc_log_debug_enabled(void);

void hc_log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Always printed. */
void hc_log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Printed once per distinct `key` (a static string identifying the failure) per
 * process; up to 64 keys are remembered, later ones are always printed. */
void hc_log_warn_once(const char *key, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* How many distinct keys hc_log_warn_once() has printed in this process (at
 * most 64). hc-config-check uses it to turn the core's configuration warnings
 * into an exit status. */
int hc_log_warned(void);

/* After fork: the child forgets which keys it printed (its failures are its own)
 * and re-reads nothing else. Call from an atfork child handler. */
void hc_log_atfork_child(void);

#endif

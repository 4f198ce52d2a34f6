/* shim.h — process-wide state of the preloaded library (libhcshim.so).
 *
 * The constructor only reads HC_MODE. Everything else happens on the first
 * hook call that concerns an LLM host: host lists are parsed, then the core
 * (libhcshim-core.so: gateway, TLS, recorder) is loaded — see core_api.h.
 */
#ifndef HC_SHIM_H
#define HC_SHIM_H

#include <stdbool.h>
#include <stddef.h>

#include "core_api.h"
#include "mode.h"

#define HC_EXPORT __attribute__((visibility("default")))

/* For the few variables every process reads or writes at start or exit: kept
 * in .data, on the page the loader has written already (it zeroes the start
 * of .bss there), rather than on .bss pages of their own, each of which costs
 * every process a page fault to read (the zero page) and another to write. */
#define HC_STARTUP_VAR __attribute__((section(".data.hc_startup")))

/* The mode from HC_MODE (mode.h; read once by the constructor). */
enum hc_mode hc_shim_mode(void);

/* True when hooks must pass through on this thread: the thread belongs to the
 * shim (gateway, recorder), or we are inside the shim's own code on it. */
bool hc_shim_guarded(void);
/* Enter/leave the shim's own code on this thread (nests). */
void hc_shim_guard_enter(void);
void hc_shim_guard_leave(void);

/* Resolve the real exec family, _exit, _Exit and quick_exit now
 * (hook_proc.c): called before a fork, so the child never needs dlsym. */
void hc_proc_resolve(void);

/* The core, loading it on first use. NULL if it cannot be loaded (logged
 * once); the caller then passes through — fail open. Thread-safe. */
const hc_core_api *hc_shim_core(void);
/* The core if it is already loaded, else NULL. Never loads. One atomic load. */
const hc_core_api *hc_shim_core_if_loaded(void);

/* hook_env.c: the app's current PYTEST_CURRENT_TEST, copied into out (NUL
 * terminated, cut at size-1); returns its length, 0 when unset or when a
 * concurrent change kept it from being read. Lock-free, any thread. */
size_t hc_env_current_test(char *out, size_t size);
void hc_env_init(void);         /* constructor: the inherited value */
void hc_env_atfork_child(void); /* atfork child handler */
/* Resolve the real setenv, putenv, unsetenv and clearenv now: called before
 * a fork, so the child never needs dlsym. */
void hc_env_resolve(void);

#endif

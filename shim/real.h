/* real.h — the real functions behind our hooks, resolved in one place.
 *
 * hc_real(name, self) returns the next definition of `name` after
 * libhcshim.so: libc's connect for our connect, libcrypto's X509_verify_cert
 * for ours. It never returns `self` (our own hook), which would recurse
 * forever. Symbols of libraries that were dlopen()ed privately (CPython loads
 * _ssl → libssl → libcrypto with RTLD_LOCAL) are not visible to RTLD_NEXT; for
 * those we look the library up with dlopen(RTLD_NOLOAD), which only finds an
 * already loaded library and never loads one.
 *
 * OpenSSL hooks must be exact for every caller: a process may carry a private
 * copy of OpenSSL (a Python wheel bundling libssl-<hash>.so.3, loaded
 * RTLD_LOCAL) whose references bind to our hooks as well. hc_real_for_caller()
 * resolves a name the way the *calling object* would without us — in that
 * object and its own dependencies — and says whether the answer is the system
 * library the core serves; anything else must be called untouched.
 *
 * Results are cached (see HC_REAL, hc_caller_cache). Thread-safe;
 * async-signal unsafe on first use (dlsym).
 */
#ifndef HC_SHIM_REAL_H
#define HC_SHIM_REAL_H

#include <stdbool.h>
#include <stdint.h>

/* Resolve `name`; `self` is our hook of the same name; `lib` is the soname to
 * try with RTLD_NOLOAD if RTLD_NEXT fails (NULL for libc symbols). NULL if not
 * found. */
void *hc_real(const char *name, const void *self, const char *lib);

/* Cache the resolution in a static per use site:
 *     static int (*real)(int) = NULL;
 *     HC_REAL(real, "close", close, NULL);                                   */
#define HC_REAL(var, name, self, lib) \
    do { \
        if (!__atomic_load_n(&(var), __ATOMIC_ACQUIRE)) \
            __atomic_store_n(&(var), (__typeof__(var))hc_real(name, (const void *)(self), lib), \
                             __ATOMIC_RELEASE); \
    } while (0)

/* Per-hook cache of call sites (return addresses) and the definition each one
 * reaches, backed by a cache per calling object (its loaded address range:
 * the answer depends on the object only, and a process has few) and one
 * answer for code in no object (JIT). Zero-initialised static storage;
 * entries are published once and never change (a full cache only means
 * slower lookups). A new site in a known object costs no loader call; one in
 * no object costs one dladdr. */
#define HC_CALL_SITES   32
#define HC_CALL_OBJECTS 16
typedef struct hc_caller_cache {
    const void *site[HC_CALL_SITES]; /* NULL: free; published last */
    void *fn[HC_CALL_SITES];
    unsigned char sys[HC_CALL_SITES];
    unsigned char claimed[HC_CALL_SITES]; /* set once by the thread filling the slot */
    uintptr_t olo[HC_CALL_OBJECTS], ohi[HC_CALL_OBJECTS]; /* [lo, hi); hi 0: free; published last */
    void *ofn[HC_CALL_OBJECTS];
    unsigned char osys[HC_CALL_OBJECTS];
    unsigned char oclaimed[HC_CALL_OBJECTS];
    void *anon_fn; /* the answer for sites in no object */
    unsigned char anon_sys, anon_set, anon_claimed;
} hc_caller_cache;

/* Number of full resolutions (dlsym, dladdr1, dlopen(RTLD_NOLOAD)) made so
 * far, all caches together: a debugging and test counter. Atomic. */
extern unsigned long hc_real_resolves;

/* The definition of `name` that the code at return address `site` reaches
 * without the shim, as the dynamic linker would bind its reference: the next
 * definition in the global scope; else one in the calling object and its own
 * dependencies (dladdr + dlopen(RTLD_NOLOAD) + dlsym: a bundled libssl loaded
 * RTLD_LOCAL finds its own libcrypto); else the one in `lib` if loaded. Never
 * `self`. *sys is set to true iff that definition is the one in `lib` as
 * loaded by soname (the system OpenSSL the core links against): only then may
 * a hook hand the call's objects to the core. NULL if there is no definition
 * at all (not cached: a library may be loaded later). */
void *hc_real_for_caller(hc_caller_cache *cache, const void *site, const char *name,
                         const void *self, const char *lib, bool *sys);

/* Called by a hook whose real function exists nowhere: says so once on
 * stderr (naming `name`); the hook then returns its API's failure value. */
void hc_real_missing(const char *name);

#endif

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
 * Results are cached per call site (see HC_REAL). Thread-safe; async-signal
 * unsafe on first use (dlsym).
 */
#ifndef HC_SHIM_REAL_H
#define HC_SHIM_REAL_H

/* Resolve `name`; `self` is our hook of the same name; `lib` is the soname to
 * try with RTLD_NOLOAD if RTLD_NEXT fails (NULL for libc symbols). NULL if not
 * found. */
void *hc_real(const char *name, const void *self, const char *lib);

/* Cache the resolution in a static per use site:
 *     static int (*real)(int) = NULL;
 *     HC_REAL(real, "close", close, NULL);                                   */
#define HC_REAL(var, name, self, lib)                                              \
    do {                                                                           \
        if (!__atomic_load_n(&(var), __ATOMIC_ACQUIRE))                            \
            __atomic_store_n(&(var), (__typeof__(var))hc_real(name, (const void *)(self), lib), \
                             __ATOMIC_RELEASE);                                    \
    } while (0)

#endif

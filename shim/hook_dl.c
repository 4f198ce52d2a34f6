/* hook_dl.c — dlopen(): keep our hooks in front of privately bound libraries.
 *
 * PHP (and a few plugin hosts) load extensions with RTLD_DEEPBIND, which makes
 * the extension's libraries (PHP's curl.so → libcurl) bind getaddrinfo,
 * connect and X509_verify_cert straight to libc/libcrypto, in front of every
 * preloaded library. We clear RTLD_DEEPBIND so that interposition works as it
 * does for every other library. (HC_KEEP_DEEPBIND=1 disables this.)
 *
 * The hook itself is the assembly trampoline in hook_dl_x86_64.S: glibc's dlopen
 * uses its *caller's* RUNPATH and namespace, so the real dlopen must be
 * reached by a jump that keeps the app's return address, not by a call from
 * here. This file only resolves the real function, once.
 */
#include "real.h"
#include "shim.h"

#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__)

void *(*hc_real_dlopen)(const char *, int);
int hc_dlopen_mask = ~0;

extern void *hc_dlopen_trampoline(const char *, int);
void *(*hc_dlopen_resolve(void))(const char *, int);

/* Called by the trampoline on first use (arguments preserved by it). */
void *(*hc_dlopen_resolve(void))(const char *, int)
{
    void *(*r)(const char *, int) = __atomic_load_n(&hc_real_dlopen, __ATOMIC_ACQUIRE);
    if (r)
        return r;
    const char *keep = getenv("HC_KEEP_DEEPBIND");
    if (hc_shim_mode() != HC_MODE_OFF && !(keep && strcmp(keep, "1") == 0))
        __atomic_store_n(&hc_dlopen_mask, ~RTLD_DEEPBIND, __ATOMIC_RELAXED);
    r = (void *(*)(const char *, int))hc_real("dlopen", (const void *)hc_dlopen_trampoline, NULL);
    __atomic_store_n(&hc_real_dlopen, r, __ATOMIC_RELEASE);
    return r;
}

#endif

/* test_shim_real.c — shim/real.c: the real function for each caller, cached.
 *
 * A hook called from more call sites than its per-site cache holds (JIT or
 * FFI code, a large program) must not run the full resolution (dlsym,
 * dladdr1, dlopen(RTLD_NOLOAD)/dlclose: the loader lock, each time) on every
 * call: sites in an object already seen, and sites in no object (anonymous
 * memory, as a JIT's), reuse the answer. Counted here through the dlopen
 * calls real.c makes (this file's dlopen is the one real.c's calls bind to).
 */
#include "shim/real.c"
#include "t.h"

#include <openssl/ssl.h>
#include <sys/mman.h>

static unsigned long dlopens;

void *dlopen(const char *file, int mode)
{
    static void *(*next)(const char *, int);
    if (!next)
        next = (void *(*)(const char *, int))dlsym(RTLD_NEXT, "dlopen");
    __atomic_add_fetch(&dlopens, 1, __ATOMIC_RELAXED);
    return next(file, mode);
}

static int hook_self(void)
{
    return 0;
} /* stands for our own SSL_write */

int main(void)
{
    static hc_caller_cache cache;
    const char *base = (const char *)(void *)main;
    bool sys = false;

    void *fn =
        hc_real_for_caller(&cache, base, "SSL_write", (const void *)hook_self, "libssl.so.3", &sys);
    T_CHECK(fn == (void *)SSL_write, "first site: SSL_write resolves to libssl's");
    unsigned long after_first = dlopens;

    int wrong = 0;
    for (int round = 0; round < 3; round++)
        for (int i = 1; i < 4 * HC_CALL_SITES; i++)
            if (hc_real_for_caller(&cache, base + i, "SSL_write", (const void *)hook_self,
                                   "libssl.so.3", &sys) != (void *)SSL_write)
                wrong++;
    T_EQ_INT(wrong, 0,
             "%d more sites in the same object, 3 calls each: every one gets libssl's SSL_write",
             4 * HC_CALL_SITES - 1);
    T_EQ_INT(dlopens - after_first, 0,
             "no further resolution for sites past the per-site cache (dlopen calls)");

    /* Sites in no object: code a JIT wrote into anonymous memory. */
    char *jit = mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    T_CHECK(jit != MAP_FAILED, "anonymous executable page");
    unsigned long before_jit = dlopens;
    wrong = 0;
    for (int round = 0; round < 3; round++)
        for (int i = 0; i < 4 * HC_CALL_SITES; i++)
            if (hc_real_for_caller(&cache, jit + 16 * i, "SSL_write", (const void *)hook_self,
                                   "libssl.so.3", &sys) != (void *)SSL_write)
                wrong++;
    T_EQ_INT(wrong, 0,
             "%d sites in anonymous memory, 3 calls each: every one gets libssl's SSL_write",
             4 * HC_CALL_SITES);
    T_CHECK(dlopens - before_jit <= 1, "sites in no object: resolved once (%lu dlopen calls)",
            dlopens - before_jit);
    T_CHECK(hc_real_resolves <= 3, "full resolutions in all: %lu", hc_real_resolves);
    return t_done();
}

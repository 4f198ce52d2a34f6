/* real.c — resolving the real functions behind our hooks (see real.h). */
#include "real.h"
#include "log.h"

#include <dlfcn.h>
#include <link.h>
#include <stddef.h>

void *hc_real(const char *name, const void *self, const char *lib)
{
    void *p = dlsym(RTLD_NEXT, name);
    if (p && p != self)
        return p;
    if (lib) {
        void *h = dlopen(lib, RTLD_LAZY | RTLD_NOLOAD);
        if (h) {
            p = dlsym(h, name);
            dlclose(h); /* drops only the reference NOLOAD took */
            if (p && p != self)
                return p;
        }
    }
    return NULL;
}

/* `name` in an already loaded object (by path or soname) and its own
 * dependencies, or NULL. Never loads anything. */
static void *lookup_in(const char *object, const char *name)
{
    void *h = dlopen(object, RTLD_LAZY | RTLD_NOLOAD);
    if (!h)
        return NULL;
    void *p = dlsym(h, name);
    dlclose(h);
    return p;
}

/* What the dynamic linker would have bound the caller's reference to had we
 * not been there: the next definition in the global scope, else one in the
 * calling object's own scope (itself and its dependencies: how a library
 * loaded RTLD_LOCAL with its private OpenSSL finds it), else the one in `lib`
 * if that is loaded (privately, as CPython loads _ssl's libssl). */
static void *resolve(const void *site, const char *name, const void *self, const char *lib, bool *sys)
{
    void *fn = dlsym(RTLD_NEXT, name);
    if (fn == self)
        fn = NULL;
    Dl_info info;
    struct link_map *lm = NULL;
    /* The main program's scope is the global one (l_name ""). */
    if (!fn && site && dladdr1(site, &info, (void **)&lm, RTLD_DL_LINKMAP) && lm && lm->l_name && lm->l_name[0]) {
        fn = lookup_in(lm->l_name, name);
        if (fn == self)
            fn = NULL;
    }
    void *system = lib ? lookup_in(lib, name) : NULL;
    if (!fn && system != self)
        fn = system;
    *sys = fn && fn == system;
    return fn;
}

void *hc_real_for_caller(hc_caller_cache *c, const void *site, const char *name, const void *self,
                         const char *lib, bool *sys)
{
    for (int i = 0; i < HC_CALL_SITES; i++) {
        const void *s = __atomic_load_n(&c->site[i], __ATOMIC_ACQUIRE);
        if (s == site && s) {
            *sys = c->sys[i];
            return c->fn[i];
        }
        if (!s && !__atomic_load_n(&c->claimed[i], __ATOMIC_ACQUIRE))
            break;
    }
    void *fn = resolve(site, name, self, lib, sys);
    if (!fn || !site)
        return fn;
    /* Publish in a free slot: claim it (no lock: a fork may happen at any
     * time), fill it, then make it visible. A site cached twice by racing
     * threads only wastes a slot. */
    for (int i = 0; i < HC_CALL_SITES; i++) {
        unsigned char expected = 0;
        if (__atomic_compare_exchange_n(&c->claimed[i], &expected, 1, false, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED)) {
            c->fn[i] = fn;
            c->sys[i] = *sys;
            __atomic_store_n(&c->site[i], site, __ATOMIC_RELEASE);
            break;
        }
    }
    return fn;
}

void hc_real_missing(const char *name)
{
    hc_log_warn_once(name, "%s: no library of this process defines it; the call fails as the library would "
                     "report a failure", name);
}

/* real.c — resolving the real functions behind our hooks (see real.h). */
#include "real.h"
#include "log.h"

#include <dlfcn.h>
#include <elf.h>
#include <link.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

unsigned long hc_real_resolves; /* atomic; see real.h */

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

/* The object containing `site`: its link map and the address range of its
 * loaded segments ([*lo, *hi), 0 if unknown). False if no object contains it
 * (JIT or trampoline code in anonymous memory). One dladdr1. */
static bool object_of(const void *site, struct link_map **lm, uintptr_t *lo, uintptr_t *hi)
{
    Dl_info info;
    *lm = NULL;
    *lo = *hi = 0;
    if (!site || !dladdr1(site, &info, (void **)lm, RTLD_DL_LINKMAP) || !*lm)
        return false;
    const ElfW(Ehdr) *eh = info.dli_fbase;
    if (!eh || memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0)
        return true;
    const ElfW(Phdr) *ph = (const ElfW(Phdr) *)(const void *)((const char *)eh + eh->e_phoff);
    uintptr_t l = UINTPTR_MAX, h = 0;
    for (int i = 0; i < eh->e_phnum; i++) {
        if (ph[i].p_type != PT_LOAD)
            continue;
        uintptr_t a = (uintptr_t)(*lm)->l_addr + ph[i].p_vaddr;
        if (a < l)
            l = a;
        if (a + ph[i].p_memsz > h)
            h = a + ph[i].p_memsz;
    }
    if (l < h && (uintptr_t)site >= l && (uintptr_t)site < h) {
        *lo = l;
        *hi = h;
    }
    return true;
}

/* What the dynamic linker would have bound the caller's reference to had we
 * not been there: the next definition in the global scope, else one in the
 * calling object's own scope (itself and its dependencies: how a library
 * loaded RTLD_LOCAL with its private OpenSSL finds it), else the one in `lib`
 * if that is loaded (privately, as CPython loads _ssl's libssl). Depends on
 * the calling object `lm` (NULL: none), not on where in it the call is. */
static void *resolve(struct link_map *lm, const char *name, const void *self, const char *lib,
                     bool *sys)
{
    __atomic_add_fetch(&hc_real_resolves, 1, __ATOMIC_RELAXED);
    void *fn = dlsym(RTLD_NEXT, name);
    if (fn == self)
        fn = NULL;
    /* The main program's scope is the global one (l_name ""). */
    if (!fn && lm && lm->l_name && lm->l_name[0]) {
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

/* Publish in a free slot of the per-site cache: claim it (no lock: a fork
 * may happen at any time), fill it, then make it visible. A site cached
 * twice by racing threads only wastes a slot. */
static void cache_site(hc_caller_cache *c, const void *site, void *fn, bool sys)
{
    for (int i = 0; i < HC_CALL_SITES; i++) {
        unsigned char expected = 0;
        if (__atomic_compare_exchange_n(&c->claimed[i], &expected, 1, false, __ATOMIC_ACQ_REL,
                                        __ATOMIC_RELAXED)) {
            c->fn[i] = fn;
            c->sys[i] = sys;
            __atomic_store_n(&c->site[i], site, __ATOMIC_RELEASE);
            break;
        }
    }
}

/* The same for an object's address range (hi published last). */
static void cache_object(hc_caller_cache *c, uintptr_t lo, uintptr_t hi, void *fn, bool sys)
{
    for (int i = 0; i < HC_CALL_OBJECTS; i++) {
        unsigned char expected = 0;
        if (__atomic_compare_exchange_n(&c->oclaimed[i], &expected, 1, false, __ATOMIC_ACQ_REL,
                                        __ATOMIC_RELAXED)) {
            c->olo[i] = lo;
            c->ofn[i] = fn;
            c->osys[i] = sys;
            __atomic_store_n(&c->ohi[i], hi, __ATOMIC_RELEASE);
            break;
        }
    }
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
    /* A new site (JIT or FFI code, a large program: more sites than slots)
     * in an object seen before: its answer, with no loader call at all. */
    for (int i = 0; site && i < HC_CALL_OBJECTS; i++) {
        uintptr_t hi = __atomic_load_n(&c->ohi[i], __ATOMIC_ACQUIRE);
        if (!hi) {
            if (!__atomic_load_n(&c->oclaimed[i], __ATOMIC_ACQUIRE))
                break;
            continue;
        }
        if ((uintptr_t)site >= c->olo[i] && (uintptr_t)site < hi) {
            *sys = c->osys[i];
            cache_site(c, site, c->ofn[i], *sys);
            return c->ofn[i];
        }
    }
    struct link_map *lm;
    uintptr_t lo, hi;
    bool in_object = object_of(site, &lm, &lo, &hi);
    /* Code in no object (a JIT's): the answer does not depend on the site. */
    if (site && !in_object && __atomic_load_n(&c->anon_set, __ATOMIC_ACQUIRE)) {
        *sys = c->anon_sys;
        return c->anon_fn;
    }
    void *fn = resolve(lm, name, self, lib, sys);
    if (!fn || !site)
        return fn;
    if (!in_object) {
        unsigned char expected = 0;
        if (__atomic_compare_exchange_n(&c->anon_claimed, &expected, 1, false, __ATOMIC_ACQ_REL,
                                        __ATOMIC_RELAXED)) {
            c->anon_fn = fn;
            c->anon_sys = *sys;
            __atomic_store_n(&c->anon_set, 1, __ATOMIC_RELEASE);
        }
    } else if (hi) {
        cache_object(c, lo, hi, fn, *sys);
    }
    cache_site(c, site, fn, *sys);
    return fn;
}

void hc_real_missing(const char *name)
{
    hc_log_warn_once(
        name,
        "%s: no library of this process defines it; the call fails as the library would "
        "report a failure",
        name);
}

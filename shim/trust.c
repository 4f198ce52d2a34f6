/* trust.c — which TLS stacks the gateway may terminate (see trust.h).
 *
 * DESIGN
 * - Judge the process by what is loaded, not by names the user chose: the
 *   N-API export says "Node or Bun", a libjvm.so says "Java", libgnutls says
 *   "GnuTLS"… A library's file name is what the dynamic loader matched its
 *   soname with, so it is a fact about the process, unlike argv[0].
 * - One scan per process image (pthread_once), done lazily: the constructor
 *   only asks the cheap Node question (a walk of the dynamic symbol tables of
 *   the main program and libnode*, without dlsym or malloc); the scan waits for the first TLS
 *   connection to an LLM host.
 * - Two stacks in one process are common and mostly harmless: curl's libcurl
 *   pulls in GnuTLS through librtmp, PHP loads both, a Python wheel brings a
 *   private libssl for its database driver. When an object of the app links
 *   the system libssl.so.3 (DT_NEEDED; merely loaded proves nothing, since the
 *   core brings it along), it is bet on (its X509_verify_cert is hooked); if
 *   the bet loses,
 *   the app aborts the handshake and the gateway stops terminating this
 *   process's TLS (gateway.c), so the app's retry goes through untouched.
 *   The JVM is the exception: Java's HTTP clients use JSSE whatever else is
 *   loaded, so a JVM is never bet on.
 */
#include "trust.h"
#include "log.h"
#include "shim.h" /* HC_STARTUP_VAR */

#include <dlfcn.h>
#include <errno.h> /* program_invocation_name */
#include <link.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>

static int node_ca = -1; /* -1 not set up, 0 refused/failed, 1 handed over */

static pthread_once_t scan_once = PTHREAD_ONCE_INIT;
static bool have_sys_ssl;    /* an object of the app links libssl.so.3 */
static bool have_jvm;        /* libjvm.so is loaded: a Java VM */
static char competitor[160]; /* another TLS stack that may do the handshake, or "" */
static char program[64];
static char core_lib[4096]; /* HC_CORE_LIB as the constructor saw it (hc_trust_init) */

static const char *base(const char *p)
{
    const char *s = p ? strrchr(p, '/') : NULL;
    return s ? s + 1 : (p ? p : "");
}

static pthread_once_t program_once = PTHREAD_ONCE_INIT;

static void find_program(void)
{
    const char *p = (const char *)getauxval(AT_EXECFN);
    snprintf(program, sizeof program, "%s", base(p && *p ? p : program_invocation_name));
}

const char *hc_trust_program(void)
{
    pthread_once(&program_once, find_program);
    return program;
}

/* Is `name` defined in the object's dynamic symbol table? Read through its
 * DT_GNU_HASH (or DT_HASH) table in memory: no dlsym, which allocates its
 * error message on a miss (initialising malloc in a process that may never
 * allocate), leaves it for the app's next dlerror(), and takes the loader's
 * lock. */
static bool defines(const struct dl_phdr_info *info, const char *name)
{
    const ElfW(Dyn) *dyn = NULL;
    for (int i = 0; i < info->dlpi_phnum; i++)
        if (info->dlpi_phdr[i].p_type == PT_DYNAMIC)
            dyn = (const ElfW(Dyn) *)(info->dlpi_addr + info->dlpi_phdr[i].p_vaddr);
    if (!dyn)
        return false;
    ElfW(Addr) symtab = 0, strtab = 0, gnu = 0, sysv = 0;
    for (const ElfW(Dyn) *d = dyn; d->d_tag != DT_NULL; d++) {
        if (d->d_tag == DT_SYMTAB)
            symtab = d->d_un.d_ptr;
        else if (d->d_tag == DT_STRTAB)
            strtab = d->d_un.d_ptr;
        else if (d->d_tag == DT_GNU_HASH)
            gnu = d->d_un.d_ptr;
        else if (d->d_tag == DT_HASH)
            sysv = d->d_un.d_ptr;
    }
    if (!symtab || !strtab || (!gnu && !sysv))
        return false;
#define RELOC(a) \
    ((a) && (a) < info->dlpi_addr ? (a) + info->dlpi_addr : (a)) /* not relocated in place */
    const ElfW(Sym) *sym = (const ElfW(Sym) *)RELOC(symtab);
    const char *str = (const char *)RELOC(strtab);
    gnu = RELOC(gnu);
    sysv = RELOC(sysv);
#undef RELOC
#define MATCH(i) \
    (sym[i].st_shndx != SHN_UNDEF && sym[i].st_value != 0 && \
     strcmp(str + sym[i].st_name, name) == 0)
    if (gnu) {
        const uint32_t *h = (const uint32_t *)gnu;
        uint32_t nbuckets = h[0], symoffset = h[1], bloom_size = h[2], shift = h[3];
        if (!nbuckets || !bloom_size)
            return false;
        const ElfW(Addr) *bloom = (const ElfW(Addr) *)(h + 4);
        const uint32_t *buckets = (const uint32_t *)(bloom + bloom_size);
        const uint32_t *chain = buckets + nbuckets;
        uint32_t h1 = 5381;
        for (const unsigned char *c = (const unsigned char *)name; *c; c++)
            h1 = h1 * 33 + *c;
        const unsigned bits = sizeof(ElfW(Addr)) * 8;
        ElfW(Addr) word = bloom[(h1 / bits) % bloom_size];
        ElfW(Addr) mask =
            ((ElfW(Addr))1 << (h1 % bits)) | ((ElfW(Addr))1 << ((h1 >> shift) % bits));
        if ((word & mask) != mask)
            return false;
        uint32_t i = buckets[h1 % nbuckets];
        if (i < symoffset)
            return false;
        for (;; i++) {
            uint32_t h2 = chain[i - symoffset];
            if ((h1 | 1) == (h2 | 1) && MATCH(i))
                return true;
            if (h2 & 1)
                return false;
        }
    }
    const uint32_t *h = (const uint32_t *)sysv;
    uint32_t nbucket = h[0];
    if (!nbucket)
        return false;
    const uint32_t *bucket = h + 2, *chain = bucket + nbucket;
    uint32_t hv = 0;
    for (const unsigned char *c = (const unsigned char *)name; *c; c++) {
        hv = (hv << 4) + *c;
        uint32_t g = hv & 0xf0000000u;
        if (g)
            hv ^= g >> 24;
        hv &= ~g;
    }
    for (uint32_t i = bucket[hv % nbucket]; i; i = chain[i])
        if (MATCH(i))
            return true;
#undef MATCH
    return false;
}

/* Node exports the N-API from its executable (or from libnode.so); Bun,
 * including programs compiled with `bun build --compile` such as Claude Code
 * and opencode, exports it too (versioned BUN_1.2: the dynamic symbol table
 * has it under its plain name). Only the main program and libnode* are
 * looked at: that is where a runtime carries it. */
static int find_napi(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    const char *b = base(info->dlpi_name);
    if ((info->dlpi_name[0] == 0 || strncmp(b, "libnode", 7) == 0) &&
        defines(info, "napi_create_object")) {
        *(bool *)arg = true;
        return 1;
    }
    return 0;
}

static int node_state HC_STARTUP_VAR; /* atomic: 0 not judged yet, 1 not a runtime, 2 a runtime */

bool hc_trust_is_node_runtime(void)
{
    int st = __atomic_load_n(&node_state, __ATOMIC_ACQUIRE);
    if (!st) {
        /* Judged in the constructor (hc_trust_init, one thread); a later
         * caller of a process that skipped it judges again: same answer. */
        bool yes = false;
        dl_iterate_phdr(find_napi, &yes);
        st = yes ? 2 : 1;
        __atomic_store_n(&node_state, st, __ATOMIC_RELEASE);
    }
    return st == 2;
}

void hc_trust_init(void)
{
    /* Read here, on the app's thread before main, not in the lazy scan on a
     * gateway thread (getenv races with the app's setenv). */
    const char *core = getenv("HC_CORE_LIB");
    if (core && strlen(core) < sizeof core_lib)
        memcpy(core_lib, core, strlen(core) + 1);
    hc_trust_is_node_runtime(); /* directly: no pthread_once (a futex) in every process */
}

void hc_trust_node_ca_set(bool ok)
{
    node_ca = ok ? 1 : 0;
}

/* TLS stacks other than the system OpenSSL, by the start of a loaded file's name. */
static const struct {
    const char *prefix, *what;
} stacks[] = {
    { "libgnutls", "GnuTLS" },        { "libnss3.so", "NSS" },      { "libssl3.so", "NSS" },
    { "libwolfssl", "wolfSSL" },      { "libmbedtls", "mbed TLS" }, { "libboringssl", "BoringSSL" },
    { "libssl.so.1", "OpenSSL 1.x" },
};

/* Does the object link the system OpenSSL itself (DT_NEEDED libssl.so.3)?
 * Being loaded is not enough: the core (libhcshim-core.so) brings libssl.so.3
 * into every process it runs in. */
static bool needs_sys_ssl(const struct dl_phdr_info *info)
{
    const ElfW(Dyn) *dyn = NULL;
    for (int i = 0; i < info->dlpi_phnum; i++)
        if (info->dlpi_phdr[i].p_type == PT_DYNAMIC)
            dyn = (const ElfW(Dyn) *)(info->dlpi_addr + info->dlpi_phdr[i].p_vaddr);
    if (!dyn)
        return false;
    ElfW(Addr) strtab = 0;
    for (const ElfW(Dyn) *d = dyn; d->d_tag != DT_NULL; d++)
        if (d->d_tag == DT_STRTAB)
            strtab = d->d_un.d_ptr;
    if (!strtab)
        return false;
    if (strtab < info->dlpi_addr) /* not relocated in place by the loader */
        strtab += info->dlpi_addr;
    for (const ElfW(Dyn) *d = dyn; d->d_tag != DT_NULL; d++)
        if (d->d_tag == DT_NEEDED &&
            strcmp((const char *)strtab + d->d_un.d_val, "libssl.so.3") == 0)
            return true;
    return false;
}

static int scan_one(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    (void)arg;
    const char *b = base(info->dlpi_name);
    const char *core = core_lib;
    bool ours = strncmp(b, "libhcshim", 9) == 0 || (core && *core && strcmp(b, base(core)) == 0);
    if (!ours && !have_sys_ssl && needs_sys_ssl(info))
        have_sys_ssl = true;
    if (!*b || ours)
        return 0;
    if (strcmp(b, "libssl.so.3") == 0)
        return 0;
    if (strcmp(b, "libjvm.so") == 0) {
        have_jvm = true;
        return 0;
    }
    for (size_t i = 0; i < sizeof stacks / sizeof stacks[0]; i++) {
        if (strncmp(b, stacks[i].prefix, strlen(stacks[i].prefix)) == 0) {
            if (!competitor[0])
                snprintf(competitor, sizeof competitor, "%s (%s)", stacks[i].what, b);
            return 0;
        }
    }
    /* A private copy of OpenSSL (a wheel's libssl-<hash>.so.3, an app's own
     * build): our hooks do not reach it, so it will not trust the gateway. */
    if (strncmp(b, "libssl", 6) == 0 && !competitor[0])
        snprintf(competitor, sizeof competitor, "a private OpenSSL (%s)", info->dlpi_name);
    return 0;
}

static void scan(void)
{
    dl_iterate_phdr(scan_one, NULL);
    hc_trust_is_node_runtime();
    hc_trust_program();
}

/* Why the app's TLS is not the hooked system OpenSSL, or NULL if it is. */
static const char *not_system_openssl(void)
{
    if (have_jvm)
        return "Java JSSE (libjvm.so)";
    if (have_sys_ssl)
        return NULL;
    if (competitor[0])
        return competitor;
    if (hc_trust_is_node_runtime())
        return "the Node/Bun runtime's built-in TLS";
    return strncmp(program, "beam", 4) == 0 ? "Erlang's :ssl"
                                            : "its own TLS code (no system OpenSSL libssl.so.3 is "
                                              "loaded: rustls, Go, a static build…)";
}

const char *hc_trust_gateway_refusal(const char *host)
{
    pthread_once(&scan_once, scan);
    if (hc_trust_is_node_runtime() && node_ca == 1)
        return NULL; /* trusts the CA handed over through NODE_EXTRA_CA_CERTS */
    const char *why = not_system_openssl();
    if (!why)
        return NULL;
    const char *node_note = !hc_trust_is_node_runtime() || have_jvm ? ""
                            : node_ca == 0
                                ? " (HC_NODE_CA=0, or NODE_EXTRA_CA_CERTS could not be prepared)"
                                : " (the runtime started without the gateway's CA)";
    hc_log_warn_once(
        "trust_gateway",
        "%s: TLS to %s is relayed untouched and not recorded: it does its TLS with %s%s, which "
        "would "
        "not trust the gateway (this process's plain-HTTP LLM calls are still recorded)",
        program, host ? host : "an LLM host", why, node_note);
    return why;
}

const char *hc_trust_observe_blind(const char *host)
{
    pthread_once(&scan_once, scan);
    const char *why = not_system_openssl();
    if (!why)
        return NULL;
    hc_log_warn_once(
        "trust_observe",
        "%s: its TLS to %s is invisible to observe mode (it does its TLS with %s, not the system "
        "OpenSSL): those calls are not recorded",
        program, host ? host : "an LLM host", why);
    return why;
}

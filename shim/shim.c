/* shim.c — constructor, mode, reentrancy guard, lazy core loading, fork.
 *
 * DESIGN
 * - Cheap when idle: the constructor reads a few environment variables
 *   (HC_MODE, HC_RUN_ID, PYTEST_CURRENT_TEST, HC_CORE_LIB, HC_SUMMARY*),
 *   registers the atfork handlers and, in gateway mode, looks for the N-API in
 *   the main program's symbol table (trust.c: no dlsym, no allocation). No
 *   thread, no dlopen — except in a Node/Bun runtime, whose trust must be set
 *   before main (prepare_node_trust): the core is loaded and makes the CA
 *   only; still no thread, no store, until the first LLM connection.
 * - Runs: every record carries HC_RUN_ID. hc-run sets it; in a bare
 *   LD_PRELOAD tree the first process without one (the top of the tree)
 *   makes one up and puts it in its environment, so every descendant
 *   inherits it and records into the same run. That costs the top process a
 *   clock read, one getrandom() and a setenv(); every other process, one getenv.
 * - The core is dlopen()ed the first time a hook needs it (a connect to an
 *   LLM host). Loading happens with the calling thread guarded, so anything
 *   the core's initialisation does (lookups, connects, TLS) passes through.
 * - Fork: the child keeps the loaded core library but the core's threads do
 *   not survive; hc_core_api.atfork_child tells the core to start afresh.
 */
#include "shim.h"
#include "fdown.h"
#include "hosts.h"
#include "log.h"
#include "summary.h"
#include "real.h"
#include "trust.h"

#include <dlfcn.h>
#include <limits.h>
#include <netdb.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <sys/random.h> /* getrandom: the run id of a bare tree */
#include <time.h>

static enum hc_mode mode HC_STARTUP_VAR = HC_MODE_GATEWAY;
static __thread int guard __attribute__((tls_model("initial-exec")));

static pthread_mutex_t core_lock = PTHREAD_MUTEX_INITIALIZER;
static int core_state; /* 0 untried, 1 loaded, -1 failed; guarded by core_lock */
static const hc_core_api *core HC_STARTUP_VAR; /* set once, read atomically (exit hooks) */

enum hc_mode hc_shim_mode(void)
{
    return mode;
}
bool hc_shim_guarded(void)
{
    return guard != 0 || mode == HC_MODE_OFF;
}
void hc_shim_guard_enter(void)
{
    guard++;
}
void hc_shim_guard_leave(void)
{
    guard--;
}

static void guard_thread(void)
{
    guard = 1 << 20;
}

static bool is_llm_host(const char *host)
{
    return hc_hosts_is_llm(host, 0);
}

static int real_connect(int fd, const struct sockaddr *a, socklen_t l)
{
    static int (*r)(int, const struct sockaddr *, socklen_t);
    HC_REAL(r, "connect", connect, NULL);
    return r(fd, a, l);
}

static int real_getaddrinfo(const char *n, const char *s, const struct addrinfo *h,
                            struct addrinfo **res)
{
    static int (*r)(const char *, const char *, const struct addrinfo *, struct addrinfo **);
    HC_REAL(r, "getaddrinfo", getaddrinfo, NULL);
    return r(n, s, h, res);
}

static int real_getpeername(int fd, struct sockaddr *a, socklen_t *l)
{
    static int (*r)(int, struct sockaddr *, socklen_t *);
    HC_REAL(r, "getpeername", getpeername, NULL);
    return r(fd, a, l);
}

static const hc_shim_api shim_api = {
    .version = HC_CORE_API_VERSION,
    .connect = real_connect,
    .getaddrinfo = real_getaddrinfo,
    .freeaddrinfo = freeaddrinfo, /* not hooked: libc's own */
    .getpeername = real_getpeername,
    .guard_thread = guard_thread,
    .own_fd = hc_fd_own,
    .fd_intact = hc_fd_intact,
    .is_llm_host = is_llm_host,
    .current_test = hc_env_current_test,
    .llm_host_patterns = hc_hosts_patterns,
    .tls_refusal = hc_trust_gateway_refusal,
};

/* libhcshim-core.so next to this library, unless HC_CORE_LIB names another. */
static int core_path(char *out, size_t size)
{
    const char *env = getenv("HC_CORE_LIB");
    if (env && *env)
        return snprintf(out, size, "%s", env) < (int)size ? 0 : -1;
    Dl_info info;
    if (!dladdr((void *)core_path, &info) || !info.dli_fname)
        return -1;
    const char *slash = strrchr(info.dli_fname, '/');
    int dirlen = slash ? (int)(slash - info.dli_fname) : 1;
    const char *dir = slash ? info.dli_fname : ".";
    return snprintf(out, size, "%.*s/libhcshim-core.so", dirlen, dir) < (int)size ? 0 : -1;
}

static void load_core(void)
{
    char path[PATH_MAX];
    if (core_path(path, sizeof path) != 0) {
        hc_log_warn_once("core_path",
                         "cannot locate libhcshim-core.so; LLM calls pass through unrecorded");
        core_state = -1;
        return;
    }
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
    if (!h) {
        hc_log_warn_once("core_load", "cannot load %s (%s); LLM calls pass through unrecorded",
                         path, dlerror());
        core_state = -1;
        return;
    }
    hc_core_entry_fn entry = (hc_core_entry_fn)dlsym(h, HC_CORE_ENTRY);
    const hc_core_api *api = entry ? entry(&shim_api) : NULL;
    if (!api || api->version != HC_CORE_API_VERSION) {
        if (!entry)
            hc_log_warn_once("core_entry", "%s has no %s; LLM calls pass through unrecorded", path,
                             HC_CORE_ENTRY);
        core_state = -1;
        return;
    }
    __atomic_store_n(&core, api, __ATOMIC_RELEASE);
    core_state = 1;
}

const hc_core_api *hc_shim_core(void)
{
    const hc_core_api *c = __atomic_load_n(&core, __ATOMIC_ACQUIRE);
    if (c)
        return c;
    hc_shim_guard_enter();
    pthread_mutex_lock(&core_lock);
    if (core_state == 0)
        load_core();
    pthread_mutex_unlock(&core_lock);
    hc_shim_guard_leave();
    return __atomic_load_n(&core, __ATOMIC_ACQUIRE);
}

const hc_core_api *hc_shim_core_if_loaded(void)
{
    return __atomic_load_n(&core, __ATOMIC_ACQUIRE);
}

static void atfork_prepare(void)
{
    /* The child will exec, dup and close: it gets the real functions ready
     * (no dlsym after a fork in a threaded program). Once per process. */
    static int resolved;
    if (!__atomic_exchange_n(&resolved, 1, __ATOMIC_RELAXED)) {
        hc_fd_resolve();
        hc_proc_resolve();
        hc_env_resolve();
    }
    pthread_mutex_lock(&core_lock);
}

static void atfork_parent(void)
{
    pthread_mutex_unlock(&core_lock);
}

static void atfork_child(void)
{
    pthread_mutex_init(&core_lock, NULL);
    hc_hosts_atfork_child();
    hc_env_atfork_child();
    hc_log_atfork_child();
    hc_fd_atfork_child();
    const hc_core_api *c = hc_shim_core_if_loaded();
    if (c)
        c->atfork_child();
}

/* Programs that carry their own TLS (Node, Bun) cannot be taught to trust the
 * gateway through X509_verify_cert; they read NODE_EXTRA_CA_CERTS once (Node
 * 20 at start-up, before any script runs; Bun at its first TLS context, with a
 * raw system call no hook sees). For them the gateway's CA is made here,
 * before main(), and its certificate (public part only) handed over that way;
 * the gateway itself starts at the first LLM connection (core.c). Whether the
 * program is such a runtime is judged by what the binary is (trust.c). */
static void prepare_node_trust(void)
{
    const char *off = getenv("HC_NODE_CA");
    hc_trust_node_ca_set(false);
    if (off && strcmp(off, "0") == 0)
        return;
    const hc_core_api *c = hc_shim_core();
    if (!c)
        return;
    /* The user's own value, unless it is an ancestor's file of ours (removed
     * when that process exits): children copy from HC_NODE_USER_CA then. */
    const char *user = getenv("NODE_EXTRA_CA_CERTS");
    const char *base = user ? strrchr(user, '/') : NULL;
    bool inherited = user && strncmp(base ? base + 1 : user, "hcshim-ca-", 10) == 0;
    hc_shim_guard_enter();
    const char *path = c->ca_file();
    hc_shim_guard_leave();
    if (!inherited) {
        if (user && *user)
            setenv("HC_NODE_USER_CA", user, 1);
        else
            unsetenv("HC_NODE_USER_CA");
    }
    if (path && setenv("NODE_EXTRA_CA_CERTS", path, 1) == 0)
        hc_trust_node_ca_set(true);
    else
        hc_log_warn_once("node_ca", "cannot prepare NODE_EXTRA_CA_CERTS; this program's TLS to LLM "
                                    "hosts will be relayed unrecorded");
}

/* The run id of a tree started without one: "YYYYMMDD-HHMMSS-xxxxxx" (UTC,
 * 24 random bits), the same form hc-run makes. Not from AT_RANDOM: those bytes
 * seed the stack protector's canary and must not end up in an environment. */
static void ensure_run_id(void)
{
    if (getenv("HC_RUN_ID"))
        return;
    struct timespec ts;
    struct tm tm;
    uint32_t rnd = 0;
    clock_gettime(CLOCK_REALTIME, &ts);
    if (getrandom(&rnd, sizeof rnd, GRND_NONBLOCK) != (ssize_t)sizeof rnd)
        rnd = (uint32_t)ts.tv_nsec ^ ((uint32_t)getpid() << 8);
    if (!gmtime_r(&ts.tv_sec, &tm))
        return;
    char id[40];
    snprintf(id, sizeof id, "%04d%02d%02d-%02d%02d%02d-%06x", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, rnd & 0xffffffu);
    setenv("HC_RUN_ID", id, 0);
}

__attribute__((constructor)) static void hc_shim_init(void)
{
    bool unknown;
    mode = hc_mode_from_env(&unknown);
    if (unknown)
        hc_log_warn_once("hc_mode", "HC_MODE=%s: expected gateway, observe or off; using gateway",
                         getenv("HC_MODE"));
    if (mode == HC_MODE_OFF)
        return;
    ensure_run_id();
    pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
    hc_env_init();     /* PYTEST_CURRENT_TEST as inherited (hook_env.c) */
    hc_trust_init();   /* HC_CORE_LIB, before any gateway thread (trust.c) */
    hc_summary_init(); /* HC_SUMMARY=1: the tree's one-line summary (summary.h) */
    if (mode == HC_MODE_GATEWAY && hc_trust_is_node_runtime())
        prepare_node_trust();
}

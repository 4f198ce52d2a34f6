/* core.c — entry point of libhcshim-core.so, lazy start, fork, exit.
 *
 * DESIGN
 * - hc_core_entry() is called once by the hooks when the library is loaded;
 *   it only records the hooks' table. The first redirected connect() starts
 *   the core (hc_core_start): configuration, pricing table, CA, TLS contexts,
 *   gateway listener and accept thread. The recorder thread starts with the
 *   first finished exchange. A Node/Bun runtime needs the CA before main
 *   (api_ca_file): only the CA is made then, and the start adopts it.
 * - If anything in the start fails, the core stays off for this process and
 *   every connect() goes to its original destination: fail open, logged once.
 * - Fork: the child's hc_core pointer is cleared (atfork_child) and the
 *   parent's state abandoned; the child's next redirected connect starts a
 *   fresh core. Threads, locks and the LMDB environment never cross a fork.
 * - Exit: an atexit handler, registered after OpenSSL's own (so it runs
 *   before OpenSSL cleans up), quiesces the gateways (no thread left inside
 *   OpenSSL; the exchanges this interrupts are then recorded), then flushes
 *   the recorder for up to 2 s; the _exit hook flushes too. The handler runs
 *   before the handlers the app registered earlier (C atexit, C++ static
 *   destructors): an LLM call from one of those registers the handler again
 *   (glibc runs a handler registered during exit next, so still before
 *   OpenSSL's cleanup) and reopens the gateway, and is served and recorded
 *   as any other. If it cannot be registered, the call goes to its
 *   destination directly, or is refused at connect() for a routed host. OpenSSL is initialised
 *   with OPENSSL_INIT_NO_ATEXIT, so when the app does not use OpenSSL itself nothing cleans it
 *   up under our threads.
 */
#include "core.h"
#include "alert.h"
#include "buf.h"
#include "budget.h"
#include "capture.h"
#include "err.h"
#include "gateway.h"
#include "log.h"
#include "observe.h"
#include "otlp_push.h"
#include "pricing.h"
#include "recorder.h"
#include "relay.h"
#include "replay.h"
#include "shared.h"
#include "tally.h"
#include "tlsca.h"
#include "upstream.h"
#include "webhook.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <openssl/crypto.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define HC_CORE_EXPORT __attribute__((visibility("default")))

static const hc_shim_api *shim; /* set once by hc_core_entry */
static hc_core *current;        /* atomic; NULL before start / after fork */
static pthread_mutex_t start_lock = PTHREAD_MUTEX_INITIALIZER;
static int start_failed_pid; /* guarded by start_lock: pid whose start failed */
static int atexit_pid;       /* guarded by start_lock: pid that registered atexit */
static hc_ca *early_ca;      /* guarded by start_lock: made by api_ca_file before the start */

hc_core *hc_core_get(void)
{
    return __atomic_load_n(&current, __ATOMIC_ACQUIRE);
}
const hc_shim_api *hc_core_shim(void)
{
    return shim;
}

void hc_core_own_fd(int fd)
{
    if (shim && shim->own_fd && fd >= 0)
        shim->own_fd(fd);
}

bool hc_core_fd_intact(int fd)
{
    return !shim || !shim->fd_intact || shim->fd_intact(fd);
}

void hc_core_fd_id(int fd, hc_fdid *id)
{
    struct stat st;
    if (fd >= 0 && fstat(fd, &st) == 0) {
        id->dev = (uint64_t)st.st_dev;
        id->ino = (uint64_t)st.st_ino;
    } else {
        id->dev = id->ino = ~0ull;
    }
}

bool hc_core_fd_same(int fd, const hc_fdid *id)
{
    struct stat st;
    return fd >= 0 && fstat(fd, &st) == 0 && (uint64_t)st.st_dev == id->dev &&
           (uint64_t)st.st_ino == id->ino;
}

static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                       const unsigned char *in, unsigned int inlen, void *arg)
{
    (void)ssl;
    (void)arg;
    /* Offer http/1.1 only: an app that also offers h2 falls back to HTTP/1.1. */
    for (unsigned i = 0; i < inlen;) {
        unsigned l = in[i];
        if (i + 1 + l > inlen)
            break;
        if (l == 8 && memcmp(in + i + 1, "http/1.1", 8) == 0) {
            *out = in + i + 1;
            *outlen = 8;
            return SSL_TLSEXT_ERR_OK;
        }
        i += 1 + l;
    }
    return SSL_TLSEXT_ERR_NOACK;
}

static SSL_CTX *server_ctx_new(void)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx)
        return NULL;
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_alpn_select_cb(ctx, alpn_select, NULL);
    /* Read ahead: one read() takes a whole TLS record, header and body, and
     * whatever follows it (half the reads per request). Buffers are kept for
     * the life of the connection (no SSL_MODE_RELEASE_BUFFERS): freeing and
     * reallocating 16 KiB per read costs more than the memory saves. */
    SSL_CTX_set_read_ahead(ctx, 1);
    /* Sessions of a per-process CA are worth nothing across processes, and
     * within one the app keeps its connections alive: no ticket keys to manage. */
    SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    return ctx;
}

static void program_name(char *out, size_t size)
{
    char buf[256];
    ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
    if (n <= 0) {
        hc_strlcpy(out, size, program_invocation_short_name);
        return;
    }
    buf[n] = '\0';
    const char *b = strrchr(buf, '/');
    hc_strlcpy(out, size, b ? b + 1 : buf);
}

/* A store directory others may write to lets them swap the files under us
 * (SECURITY.md): say so once; the shim creates its directories 0700, so this
 * is a directory the user made or chmod-ed. */
static void warn_if_shared(const char *path)
{
    struct stat st;
    if (stat(path, &st) == 0 && (st.st_mode & (S_IWGRP | S_IWOTH)))
        hc_log_warn_once("store-mode",
                         "the store directory %s is writable by other users (mode %03o); "
                         "chmod 700 it",
                         path, (unsigned)(st.st_mode & 0777));
}

/* LMDB found damage the checks at open could not see (bytes overwritten
 * while the store is open, store.c DESIGN); it aborts when this returns.
 * At least the app's stderr says why. */
static void lmdb_assert(const char *path, const char *msg)
{
    hc_log_error(
        "the store %s was damaged while in use (LMDB: %s); the process is aborted by LMDB — "
        "run 'hc-analyze check'",
        path, msg);
}

/* The store's files open in this process (LMDB keeps data.mdb and lock.mdb
 * open, data.mdb possibly twice): found in /proc/self/fd by the path each
 * descriptor names (readlink: no other descriptor is touched, as another
 * thread may be using it), confirmed by identity, made the shim's, and
 * remembered for store_fds_intact(). Called with store_lock, right after the
 * open, before any other thread uses the new handle. */
static void own_store_fds(hc_core *c)
{
    char p[PATH_MAX + 16], data[PATH_MAX], lock[PATH_MAX];
    snprintf(p, sizeof p, "%s/data.mdb", c->cfg.db_path);
    bool have_data = realpath(p, data) != NULL;
    snprintf(p, sizeof p, "%s/lock.mdb", c->cfg.db_path);
    bool have_lock = realpath(p, lock) != NULL;
    c->nstore_fds = 0;
    DIR *d = (have_data || have_lock) ? opendir("/proc/self/fd") : NULL;
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) &&
           c->nstore_fds < (int)(sizeof c->store_fds / sizeof c->store_fds[0])) {
        char *end, link[64], target[PATH_MAX];
        long fd = strtol(e->d_name, &end, 10);
        if (*end || end == e->d_name || fd == dirfd(d))
            continue;
        snprintf(link, sizeof link, "/proc/self/fd/%ld", fd);
        ssize_t n = readlink(link, target, sizeof target - 1);
        if (n <= 0)
            continue;
        target[n] = '\0';
        struct stat st, want;
        if (!((have_data && strcmp(target, data) == 0 && stat(data, &want) == 0) ||
              (have_lock && strcmp(target, lock) == 0 && stat(lock, &want) == 0)) ||
            fstat((int)fd, &st) != 0 || st.st_dev != want.st_dev || st.st_ino != want.st_ino)
            continue;
        /* LMDB opens data.mdb without O_CLOEXEC: a read-write descriptor on
         * the store would reach every program the app runs. */
        int fl = fcntl((int)fd, F_GETFD);
        if (fl >= 0 && !(fl & FD_CLOEXEC))
            (void)fcntl((int)fd, F_SETFD, fl | FD_CLOEXEC);
        hc_core_own_fd((int)fd);
        hc_core_fd_id((int)fd, &c->store_ids[c->nstore_fds]);
        c->store_fds[c->nstore_fds++] = (int)fd;
    }
    closedir(d);
}

static bool store_fds_intact(hc_core *c)
{
    for (int i = 0; i < c->nstore_fds; i++)
        if (!hc_core_fd_intact(c->store_fds[i]) ||
            !hc_core_fd_same(c->store_fds[i], &c->store_ids[i]))
            return false;
    return true;
}

hc_store *hc_core_store(hc_core *c)
{
    pthread_mutex_lock(&c->store_lock);
    if (c->store_state == 1 && !store_fds_intact(c)) {
        /* Closing the handle would close (and LMDB would write to) numbers
         * that are the app's now: leak it, open afresh. */
        hc_log_warn_once("store-fd",
                         "the app closed or replaced the store's descriptors; %s is opened again",
                         c->cfg.db_path);
        c->store = NULL;
        c->store_state = 0;
        c->nstore_fds = 0;
    }
    if (c->store_state == 0) {
        char err[600];
        if (!c->cfg.db_path[0]) {
            hc_log_warn_once("store",
                             "no store path (set HC_DB or HOME); LLM calls are not recorded");
            c->store_state = -1;
        } else {
            hc_store_set_assert_hook(lmdb_assert);
            if (hc_store_open(c->cfg.db_path, c->cfg.db_sync ? HC_STORE_SYNC : 0, &c->store, err,
                              sizeof err) != 0) {
                hc_log_warn_once("store", "cannot open the store %s; LLM calls are not recorded",
                                 err);
                c->store_state = -1;
            } else {
                hc_log_debug("store %s open", c->cfg.db_path);
                c->store_state = 1;
                own_store_fds(c);
                warn_if_shared(c->cfg.db_path);
            }
        }
    }
    hc_store *s = c->store;
    pthread_mutex_unlock(&c->store_lock);
    return s;
}

static void at_exit(void)
{
    static uint64_t reported; /* the handler may run more than once (reopen) */
    hc_core *c = hc_core_get();
    if (c && c->pid == getpid() && c->rec) {
        /* No gateway thread may be inside OpenSSL when it cleans up. First,
         * so that the exchanges it interrupts are in the flush below. */
        hc_gateway *gws[2] = { __atomic_load_n(&c->gw, __ATOMIC_ACQUIRE),
                               __atomic_load_n(&c->gw_prev, __ATOMIC_ACQUIRE) };
        for (int i = 0; i < 2; i++)
            if (gws[i] && hc_gateway_quiesce(gws[i], 1000) > 0)
                hc_log_debug("exit: gateway connections still running after 1 s");
        hc_recorder_stats st = { 0 };
        hc_recorder_flush(c->rec, 2000, &st);
        hc_webhook_flush(2000);
        if (c->otlp)
            hc_otlp_push_flush(c->otlp, 2000);
        hc_tally_emit(&c->tally);
        /* Fail open means dropping, never losing silently: say how many (when
         * there was no store at all, the shim said so already). */
        uint64_t lost = st.dropped_full + st.dropped_store + st.left;
        if (lost > reported && !st.disabled) {
            reported = lost;
            hc_log_error(
                "%llu of %llu exchanges were not recorded (queue full: %llu; store errors: %llu; "
                "still queued at exit: %llu)",
                (unsigned long long)lost, (unsigned long long)st.submitted,
                (unsigned long long)st.dropped_full, (unsigned long long)st.dropped_store,
                (unsigned long long)st.left);
        }
    }
}

/* An LLM connect after at_exit quiesced gw: serve it if at_exit can run again
 * after it (see DESIGN). False if not: the caller passes the connection by. */
static bool reopen(hc_core *c, hc_gateway *gw)
{
    bool ok = true;
    pthread_mutex_lock(&start_lock);
    if (hc_gateway_closing(gw)) {
        ok = c->pid == getpid() && atexit(at_exit) == 0;
        if (ok)
            hc_gateway_reopen(gw);
    }
    pthread_mutex_unlock(&start_lock);
    return ok;
}

/* The modules' environment, read here on the app's thread, not by the first
 * request on a gateway thread (getenv races with the app's setenv). */
static void read_env_now(void)
{
    hc_replay_mode();
    hc_shared_init();
    hc_alerts_init();
}

/* Everything start() reads from the environment, on the app's thread. */
static void read_settings(hc_core *c)
{
    char err[512];
    hc_config_load(&c->cfg);
    read_env_now();
    if (c->cfg.budget && hc_budgets_parse(c->cfg.budget, c->budgets, HC_MAX_BUDGETS, &c->nbudgets,
                                          err, sizeof err) != 0)
        hc_log_error("HC_BUDGET: %s; no budget is enforced", err);
    program_name(c->program, sizeof c->program);
    const char *run = getenv("HC_RUN_ID");
    hc_strlcpy(c->run_id, sizeof c->run_id, run ? run : "");
    /* A run id is a name for tables and URLs, not text: anything but
     * letters, digits and . _ - : + becomes '_' (no control bytes reach a terminal). */
    for (char *q = c->run_id; *q; q++)
        if (!((*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z') || (*q >= '0' && *q <= '9') ||
              strchr("._-:+", *q)))
            *q = '_';
}

/* Gateway mode: the CA, both TLS contexts and the listener. False (said
 * once) when one cannot be made; nothing started a thread then. */
static bool start_gateway_parts(hc_core *c)
{
    char err[512];
    /* The CA a Node/Bun runtime was told to trust before main (api_ca_file). */
    c->ca = early_ca;
    early_ca = NULL;
    if (!c->ca && !(c->ca = hc_ca_new(shim->llm_host_patterns(), err, sizeof err))) {
        hc_log_warn_once(
            "ca", "cannot create the gateway CA (%s); LLM calls pass through unrecorded", err);
        return false;
    }
    if (!(c->server_ctx = server_ctx_new())) {
        hc_log_warn_once("server_ctx",
                         "cannot create the TLS server context; LLM calls pass through unrecorded");
        return false;
    }
    if (!(c->client_ctx = hc_upstream_ctx_new(&c->cfg, err, sizeof err))) {
        hc_log_warn_once(
            "client_ctx",
            "cannot create the TLS client context (%s); LLM calls pass through unrecorded", err);
        return false;
    }
    if (hc_gateway_start(c, &c->gw, err, sizeof err) != 0) {
        hc_log_warn_once("gateway",
                         "cannot start the gateway (%s); LLM calls pass through unrecorded", err);
        return false;
    }
    return true;
}

static hc_core *start(void)
{
    char err[512];
    hc_core *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->pid = getpid();
    c->shim = shim;
    hc_tally_init(&c->tally);
    pthread_mutex_init(&c->store_lock, NULL);
    read_settings(c);

    /* OpenSSL first, so that its atexit cleanup (if the app's own use of
     * OpenSSL registered one) is registered before ours and therefore runs
     * after it. If we are the first user (a GnuTLS, Java or Go app), OpenSSL
     * registers no cleanup at all: the gateway's threads may be inside it at
     * exit, and freeing its state under them would crash the app. */
    if (OPENSSL_init_ssl(OPENSSL_INIT_NO_ATEXIT, NULL) != 1) {
        hc_log_warn_once("openssl",
                         "OpenSSL failed to initialise; LLM calls pass through unrecorded");
        goto fail;
    }
    char prices_path[4096];
    const char *prices = hc_pricing_user_file(prices_path, sizeof prices_path);
    if (hc_pricing_init(prices, err, sizeof err) != 0)
        hc_log_warn_once("prices", "%s: %s",
                         getenv("HC_PRICES") && *getenv("HC_PRICES") ? "HC_PRICES" : "prices", err);

    if (!(c->rec = hc_recorder_new(c))) {
        hc_log_warn_once("recorder",
                         "cannot create the recorder; LLM calls pass through unrecorded");
        goto fail;
    }
    if (c->cfg.observe) {
        /* Observe mode: no CA, no listener; the recorder is all we need. */
        if (hc_observe_init() != 0) {
            hc_log_warn_once("observe", "cannot set up observe mode; LLM calls are not recorded");
            goto fail;
        }
    } else if (!start_gateway_parts(c)) {
        goto fail;
    }
    /* OTEL_EXPORTER_OTLP_*: read here, on the app's thread. Its sender thread
     * starts only now, when nothing can fail any more (fail: frees c). */
    c->otlp = hc_otlp_push_new(c);
    if (atexit_pid != c->pid) {
        atexit(at_exit);
        atexit_pid = c->pid;
    }
    hc_log_debug("gateway started (store %s)", c->cfg.db_path);
    return c;
fail:
    /* Nothing started a thread yet: safe to free everything. */
    free(c->rec);
    SSL_CTX_free(c->client_ctx);
    SSL_CTX_free(c->server_ctx);
    hc_ca_free(c->ca);
    hc_config_free(&c->cfg);
    free(c);
    return NULL;
}

hc_core *hc_core_start(void)
{
    hc_core *c = hc_core_get();
    if (c)
        return c;
    pthread_mutex_lock(&start_lock);
    c = hc_core_get();
    if (!c && start_failed_pid != getpid()) {
        c = start();
        if (c)
            __atomic_store_n(&current, c, __ATOMIC_RELEASE);
        else
            start_failed_pid = getpid();
    }
    pthread_mutex_unlock(&start_lock);
    return c;
}

/* ---- the table the hooks call ------------------------------------------- */

/* The app took the gateway's listening descriptor (a raw close or dup2
 * system call): listen again on a new one. The old gateway's connections
 * finish on their own; its descriptors are not closed (they may be the
 * app's). On failure the old one stays, and connections pass through. */
static hc_gateway *regateway(hc_core *c, hc_gateway *old)
{
    pthread_mutex_lock(&start_lock);
    hc_gateway *gw = __atomic_load_n(&c->gw, __ATOMIC_ACQUIRE);
    if (gw == old) {
        char err[256];
        hc_gateway *ngw = NULL;
        if (hc_gateway_start(c, &ngw, err, sizeof err) == 0) {
            __atomic_store_n(&c->gw_prev, old, __ATOMIC_RELEASE);
            __atomic_store_n(&c->gw, ngw, __ATOMIC_RELEASE);
            gw = ngw;
            hc_log_warn_once(
                "regateway",
                "the app took the gateway's listening descriptor; listening on a new one");
        } else {
            hc_log_warn_once(
                "regateway",
                "the app took the gateway's listening descriptor, and a new one cannot "
                "be opened (%s); LLM connections pass through unrecorded",
                err);
        }
    }
    pthread_mutex_unlock(&start_lock);
    return gw;
}

static int api_connect(int fd, const struct sockaddr *dst, socklen_t len, const char *host)
{
    hc_core *c = hc_core_start();
    hc_gateway *gw = c ? __atomic_load_n(&c->gw, __ATOMIC_ACQUIRE) : NULL;
    if (!gw)
        return shim->connect(fd, dst, len);
    if (hc_gateway_lost(gw))
        gw = regateway(c, gw);
    if (hc_gateway_closing(gw) && !reopen(c, gw)) {
        /* As if the core were absent; a synthetic address leads nowhere:
         * a fast, clean refusal rather than a connection that hangs. */
        if (hc_is_synthetic_addr(dst)) {
            errno = ECONNREFUSED;
            return -1;
        }
        return shim->connect(fd, dst, len);
    }
    return hc_gateway_connect(gw, fd, dst, len, host);
}

static int api_getpeername(int fd, struct sockaddr *addr, socklen_t *len)
{
    hc_core *c = hc_core_get();
    hc_gateway *gw = c ? __atomic_load_n(&c->gw, __ATOMIC_ACQUIRE) : NULL;
    if (!gw)
        return 1;
    int r = hc_gateway_getpeername(gw, fd, addr, len);
    hc_gateway *prev = r == 1 ? __atomic_load_n(&c->gw_prev, __ATOMIC_ACQUIRE) : NULL;
    return prev ? hc_gateway_getpeername(prev, fd, addr, len) : r;
}

static int api_verify_cert(X509_STORE_CTX_fwd *ctx, int (*real)(X509_STORE_CTX_fwd *))
{
    hc_core *c = hc_core_get();
    if (!c || !c->ca)
        return real(ctx);
    return hc_ca_verify(c->ca, (X509_STORE_CTX *)ctx, (int (*)(X509_STORE_CTX *))real);
}

static void api_flush(int timeout_ms)
{
    hc_core *c = hc_core_get();
    if (c && c->pid == getpid() && c->rec) {
        hc_recorder_flush(c->rec, timeout_ms, NULL); /* may be in a signal handler: no report */
        hc_webhook_flush(timeout_ms);
        if (c->otlp)
            hc_otlp_push_flush(c->otlp, timeout_ms);
        hc_tally_emit(&c->tally);
    }
}

static bool api_ready(void)
{
    hc_core *c = hc_core_start();
    return c && c->gw;
}

static void api_observe_ssl(SSL_fwd *ssl, bool out, const void *p, size_t n)
{
    hc_core *c = hc_core_start();
    if (c && c->cfg.observe)
        hc_observe_ssl(c, (SSL *)ssl, out, p, n);
}

static bool api_observe_fd_open(int fd, const char *host, int port)
{
    hc_core *c = hc_core_start();
    return c && c->cfg.observe && hc_observe_fd_open(c, fd, host, port);
}

static bool api_observe_fd(int fd, bool out, const void *p, size_t n)
{
    return hc_observe_fd(fd, out, p, n);
}

static void api_observe_fd_close(int fd)
{
    hc_observe_fd_close(fd);
}

/* Written once per process: the CA certificate Node is told to trust. */
static char ca_path[256];

static void remove_ca_file(void)
{
    if (ca_path[0])
        unlink(ca_path);
}

/* Remove the CA files that dead processes of this user left in `dir` (a
 * process killed by a signal, or one that left through quick_exit/_exit):
 * only names "hcshim-ca-<pid>-XXXXXX" exactly, regular files owned by us,
 * whose pid no longer exists (kill(pid, 0) says ESRCH). */
static void remove_stale_ca_files(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    int dfd = dirfd(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        const char *n = e->d_name;
        if (strncmp(n, "hcshim-ca-", 10) != 0)
            continue;
        char *end;
        errno = 0;
        long pid = strtol(n + 10, &end, 10);
        if (errno || pid <= 0 || pid > INT32_MAX || end == n + 10 || *end != '-' ||
            strlen(end + 1) != 6)
            continue;
        if (pid == (long)getpid() || kill((pid_t)pid, 0) == 0 || errno != ESRCH)
            continue;
        struct stat st;
        if (fstatat(dfd, n, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode) ||
            st.st_uid != geteuid())
            continue;
        unlinkat(dfd, n, 0);
    }
    closedir(d);
}

/* The CA alone, without the rest of the start (configuration, prices, TLS
 * contexts, gateway thread, recorder): a Node/Bun process that never calls an
 * LLM pays for OpenSSL and one CA, not for a gateway. start() adopts it. */
static hc_ca *ca_for_node(void)
{
    hc_core *c = hc_core_get();
    if (c)
        return c->ca;
    char err[512];
    hc_ca *ca = NULL;
    pthread_mutex_lock(&start_lock);
    if ((c = hc_core_get()) != NULL) {
        ca = c->ca;
    } else if (early_ca) {
        ca = early_ca;
    } else if (shim && OPENSSL_init_ssl(OPENSSL_INIT_NO_ATEXIT, NULL) == 1) {
        if (!(early_ca = hc_ca_new(shim->llm_host_patterns(), err, sizeof err)))
            hc_log_warn_once(
                "ca", "cannot create the gateway CA (%s); LLM calls pass through unrecorded", err);
        ca = early_ca;
    }
    pthread_mutex_unlock(&start_lock);
    return ca;
}

static const char *api_ca_file(void)
{
    if (ca_path[0])
        return ca_path;
    hc_ca *ca = ca_for_node();
    if (!ca)
        return NULL;
    const char *dir = getenv("XDG_RUNTIME_DIR");
    if (!dir || !*dir)
        dir = getenv("TMPDIR");
    if (!dir || !*dir)
        dir = "/tmp";
    remove_stale_ca_files(dir);
    char path[256];
    snprintf(path, sizeof path, "%s/hcshim-ca-%d-XXXXXX", dir, (int)getpid());
    int fd = mkstemp(path); /* 0600, a fresh name: nobody can plant it */
    if (fd < 0)
        return NULL;
    FILE *f = fdopen(fd, "w");
    if (f) {
        /* Node reads one file: keep what the app already asked it to trust —
         * the user's file, not an ancestor's copy of ours, which is removed
         * when that process exits (shim.c prepare_node_trust). */
        const char *prev = getenv("NODE_EXTRA_CA_CERTS");
        const char *base = prev ? strrchr(prev, '/') : NULL;
        if (prev && strncmp(base ? base + 1 : prev, "hcshim-ca-", 10) == 0)
            prev = getenv("HC_NODE_USER_CA");
        FILE *in = prev && *prev ? fopen(prev, "r") : NULL;
        if (in) {
            char buf[4096];
            size_t n;
            while ((n = fread(buf, 1, sizeof buf, in)) > 0)
                fwrite(buf, 1, n, f);
            fclose(in);
            fputc('\n', f);
        }
    }
    if (!f || PEM_write_X509(f, hc_ca_cert(ca)) != 1) {
        if (f)
            fclose(f);
        else
            close(fd);
        unlink(path);
        return NULL;
    }
    fclose(f);
    hc_strlcpy(ca_path, sizeof ca_path, path);
    atexit(remove_ca_file);
    at_quick_exit(remove_ca_file); /* Bun leaves through quick_exit() */
    return ca_path;
}

static void api_atfork_child(void)
{
    hc_core *c = hc_core_get();
    __atomic_store_n(&current, NULL, __ATOMIC_RELEASE);
    pthread_mutex_init(&start_lock, NULL);
    hc_webhook_atfork_child();
    hc_observe_atfork_child();
    hc_budget_atfork_child();
    ca_path[0] = '\0'; /* the parent owns (and removes) its file */
    early_ca = NULL;   /* its lock may be held by a parent's thread: left, never freed */
    if (c) {
        hc_gateway_abandon(c->gw);
        hc_recorder_abandon(c->rec);
    }
}

static const hc_core_api core_api = {
    .version = HC_CORE_API_VERSION,
    .connect = api_connect,
    .getpeername = api_getpeername,
    .verify_cert = api_verify_cert,
    .flush = api_flush,
    .ready = api_ready,
    .observe_ssl = api_observe_ssl,
    .observe_fd_open = api_observe_fd_open,
    .observe_fd = api_observe_fd,
    .observe_fd_close = api_observe_fd_close,
    .ca_file = api_ca_file,
    .atfork_child = api_atfork_child,
};

HC_CORE_EXPORT const hc_core_api *hc_core_entry(const hc_shim_api *s);
HC_CORE_EXPORT const hc_core_api *hc_core_entry(const hc_shim_api *s)
{
    if (!s || s->version != HC_CORE_API_VERSION)
        return NULL;
    shim = s;
    return &core_api;
}

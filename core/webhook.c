#include "webhook.h"
#include "clock.h"
#include "config.h"
#include "core.h"
#include "err.h"
#include "io.h"
#include "log.h"
#include "thread.h"
#include "upstream.h"

#include <errno.h>
#include <netdb.h>
#include <openssl/hmac.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define WEBHOOK_TIMEOUT_MS 10000
#define COMMAND_TIMEOUT_MS 10000

extern char **environ;

struct post {
    char *url, *json;
    char *secret; /* HMAC key ("" none); wiped before it is freed */
    char *cmd;    /* a command instead of a POST (url unused) */
    char **env;   /* the command's extra NAME=VALUE strings, NULL-terminated */
    int attempts;
    char what[32]; /* names the delivery in messages */
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t done = PTHREAD_COND_INITIALIZER;
static int inflight; /* guarded by lock */

static void finish(void)
{
    pthread_mutex_lock(&lock);
    inflight--;
    pthread_cond_broadcast(&done);
    pthread_mutex_unlock(&lock);
}

static int send_post(const struct post *p, char *err, size_t errlen)
{
    hc_core *core = hc_core_get();
    hc_route r;
    memset(&r, 0, sizeof r);
    if (!core || hc_route_parse_url(p->url, &r) != 0) {
        snprintf(err, errlen, "not an http(s) URL");
        return HC_EINVAL;
    }
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *res = NULL;
    char port[8];
    snprintf(port, sizeof port, "%d", r.port);
    if (core->shim->getaddrinfo(r.target, port, &hints, &res) != 0 || !res) {
        snprintf(err, errlen, "cannot resolve %s", r.target);
        return HC_ECONNECT;
    }
    int fd = hc_io_connect(res->ai_addr, res->ai_addrlen, WEBHOOK_TIMEOUT_MS, -1);
    core->shim->freeaddrinfo(res);
    if (fd < 0) {
        snprintf(err, errlen, "cannot connect");
        return HC_ECONNECT;
    }
    SSL *ssl = NULL;
    if (r.tls) {
        ssl = hc_upstream_tls_session(core->client_ctx, fd, r.target, err, errlen);
        if (!ssl) {
            close(fd);
            return HC_ETLS;
        }
    }
    hc_io io;
    hc_io_init(&io, fd, ssl, WEBHOOK_TIMEOUT_MS);
    const char *why;
    int rc = 0;
    if (ssl && hc_io_connect_tls(&io, &why) != 0) {
        snprintf(err, errlen, "TLS: %s", why);
        rc = HC_ETLS;
    } else {
        hc_buf req = HC_BUF_INIT;
        char sig[100] = "";
        if (p->secret && p->secret[0]) {
            unsigned char md[32];
            unsigned int mdlen = 0;
            HMAC(EVP_sha256(), p->secret, (int)strlen(p->secret), (const unsigned char *)p->json,
                 strlen(p->json), md, &mdlen);
            int o = snprintf(sig, sizeof sig, "X-Hcshim-Signature: sha256=");
            for (unsigned int i = 0; i < mdlen && o + 3 < (int)sizeof sig; i++)
                o += snprintf(sig + o, sizeof sig - (size_t)o, "%02x", md[i]);
            snprintf(sig + o, sizeof sig - (size_t)o, "\r\n");
        }
        int brc = hc_buf_printf(
            &req,
            "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
            "User-Agent: hcshim\r\n%sContent-Length: %zu\r\nConnection: close\r\n\r\n%s",
            r.prefix[0] ? r.prefix : "/", r.authority, sig, strlen(p->json), p->json);
        char line[64];
        long n;
        if (brc != 0) {
            snprintf(err, errlen, "out of memory");
            rc = HC_ENOMEM;
        } else if (hc_io_write_buf(&io, &req) != 0 ||
                   (n = hc_io_read(&io, line, sizeof line - 1)) <= 0) {
            snprintf(err, errlen, "no answer");
            rc = HC_EIO;
        } else {
            line[n] = '\0';
            if (strncmp(line, "HTTP/1.", 7) != 0 || line[9] != '2') {
                snprintf(err, errlen, "answered %.12s", line);
                rc = HC_EIO;
            }
        }
        hc_buf_free(&req);
    }
    hc_io_close(&io);
    return rc;
}

/* Run p->cmd (no shell) with p->json on stdin and p->env added to the
 * environment; wait for it, bounded. Its stdin is a socket, not a pipe:
 * writing with MSG_NOSIGNAL cannot raise SIGPIPE in the app when the command
 * does not read. */
/* The environment commands run with: a copy taken on the app's thread
 * (hc_deliver_snapshot_env), so that the delivery thread never walks
 * `environ` while the app's setenv may be reallocating it. */
static char **env_snap;

void hc_deliver_snapshot_env(void)
{
    size_t n = 0, k = 0;
    while (environ && environ[n])
        n++;
    char **v = calloc(n + 1, sizeof *v);
    if (!v)
        return;
    for (size_t i = 0; i < n; i++) {
        if (strncmp(environ[i], "HC_ALERT_", 9) == 0)
            continue;
        if (!(v[k] = strdup(environ[i])))
            break; /* out of memory: the variables copied so far */
        k++;
    }
    v[k] = NULL;
    char **old = env_snap;
    env_snap = v; /* once per process in practice; an older copy is freed */
    if (old) {
        for (size_t i = 0; old[i]; i++)
            free(old[i]);
        free(old);
    }
}

/* Start p->cmd with stdin on fd, the alert's fields and the snapshot of the
 * environment, no signal blocked and every handler at its default. Returns
 * 0 with *pid, or an errno value (ENOMEM when the environment cannot be built). */
static int spawn_command(const struct post *p, int fd, pid_t *pid)
{
    char *const *base = env_snap ? env_snap : (char *const *)(char *[]){ NULL };
    size_t ne = 0, nx = 0, k = 0;
    while (base[ne])
        ne++;
    while (p->env && p->env[nx])
        nx++;
    char **envp = calloc(ne + nx + 1, sizeof *envp);
    if (!envp)
        return ENOMEM;
    for (size_t i = 0; i < nx; i++)
        envp[k++] = p->env[i];
    for (size_t i = 0; i < ne; i++) /* ours first: a name the app set as well is ours */
        envp[k++] = base[i];
    envp[k] = NULL;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fd, 0);
    /* Core threads block all signals (thread.h) and the app may ignore some:
     * neither is the command's business (its timeout, a pipe, Ctrl-C must
     * work as in a shell). */
    posix_spawnattr_t at;
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_init(&at);
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setsigdefault(&at, &all);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    char *argv[] = { p->cmd, NULL };
    int e = posix_spawn(pid, p->cmd, &fa, &at, argv, envp);
    posix_spawnattr_destroy(&at);
    posix_spawn_file_actions_destroy(&fa);
    free(envp);
    return e;
}

static int run_command(const struct post *p, char *err, size_t errlen)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
        snprintf(err, errlen, "socketpair: %s", strerror(errno));
        return HC_EIO;
    }
    int rc = 0;
    pid_t pid = -1;
    int e = spawn_command(p, sv[1], &pid);
    close(sv[1]);
    if (e != 0) {
        close(sv[0]);
        snprintf(err, errlen, "cannot run: %s", strerror(e));
        return e == ENOMEM ? HC_ENOMEM : HC_EIO;
    }
    size_t len = strlen(p->json), off = 0;
    while (off < len) {
        ssize_t w = send(sv[0], p->json + off, len - off, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break; /* the command does not read its stdin: its business */
        off += (size_t)w;
    }
    close(sv[0]);
    int status = 0;
    int64_t until = hc_mono_us() + COMMAND_TIMEOUT_MS * 1000LL;
    for (;;) {
        pid_t w = waitpid(pid, &status, WNOHANG);
        if (w == pid)
            break;
        if (w < 0) { /* the app reaped it (waitpid(-1)): nothing more to know */
            status = 0;
            break;
        }
        if (hc_mono_us() > until) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            snprintf(err, errlen, "still running after %d s: killed", COMMAND_TIMEOUT_MS / 1000);
            return HC_ETIMEDOUT;
        }
        usleep(20000);
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        snprintf(err, errlen, "exited with status %d",
                 WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
        rc = HC_EIO;
    }
    return rc;
}

static void free_post(struct post *p)
{
    if (!p)
        return;
    if (p->secret) {
        OPENSSL_cleanse(p->secret, strlen(p->secret));
        free(p->secret);
    }
    for (size_t i = 0; p->env && p->env[i]; i++)
        free(p->env[i]);
    free(p->env);
    free(p->url);
    free(p->cmd);
    free(p->json);
    free(p);
}

/* The destination for messages: a command's path, or a URL's scheme and
 * host only (a Slack URL's path is its secret). */
static void where(const struct post *p, char *out, size_t size)
{
    if (p->cmd) {
        snprintf(out, size, "%s", p->cmd);
        return;
    }
    const char *h = strstr(p->url, "://");
    h = h ? h + 3 : p->url;
    snprintf(out, size, "%.*s", (int)(h - p->url + (long)strcspn(h, "/?#")), p->url);
}

static void *post_main(void *arg)
{
    struct post *p = arg;
    hc_core *core = hc_core_get();
    if (core)
        core->shim->guard_thread();
    char err[160] = "";
    int rc = -1;
    for (int i = 0; i < p->attempts && rc != 0; i++) {
        if (i)
            usleep((useconds_t)(500000u << (i - 1))); /* 0.5 s, 1 s, 2 s… */
        err[0] = '\0';
        rc = p->cmd ? run_command(p, err, sizeof err) : send_post(p, err, sizeof err);
    }
    if (rc != 0) {
        char w[300];
        where(p, w, sizeof w);
        hc_log_error("%s %s failed%s: %s", p->what, w, p->attempts > 1 ? " (every attempt)" : "",
                     err);
    }
    free_post(p);
    finish();
    return NULL;
}

static void start(struct post *p)
{
    pthread_mutex_lock(&lock);
    inflight++;
    pthread_mutex_unlock(&lock);
    if (hc_thread_spawn(post_main, p) != 0) {
        free_post(p);
        finish();
    }
}

void hc_webhook_post(const char *url, const char *json)
{
    struct post *p = calloc(1, sizeof *p);
    if (!p || !(p->url = strdup(url)) || !(p->json = strdup(json))) {
        free_post(p);
        return;
    }
    p->attempts = 1;
    hc_strlcpy(p->what, sizeof p->what, "budget webhook");
    start(p);
}

void hc_deliver_post(const char *url, const char *json, const char *secret, const char *what)
{
    struct post *p = calloc(1, sizeof *p);
    if (!p || !(p->url = strdup(url)) || !(p->json = strdup(json)) ||
        (secret && !(p->secret = strdup(secret)))) {
        free_post(p);
        return;
    }
    p->attempts = HC_DELIVERY_ATTEMPTS;
    hc_strlcpy(p->what, sizeof p->what, what);
    start(p);
}

void hc_deliver_command(const char *path, const char *json, const char *const *env)
{
    struct post *p = calloc(1, sizeof *p);
    size_t n = 0;
    while (env && env[n])
        n++;
    if (!p || !(p->cmd = strdup(path)) || !(p->json = strdup(json)) ||
        !(p->env = calloc(n + 1, sizeof *p->env))) {
        free_post(p);
        return;
    }
    for (size_t i = 0; i < n; i++)
        if (!(p->env[i] = strdup(env[i]))) {
            free_post(p);
            return;
        }
    p->attempts = 1; /* a command may have acted before it failed: not run twice */
    hc_strlcpy(p->what, sizeof p->what, "alert command");
    start(p);
}

void hc_webhook_flush(int timeout_ms)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += timeout_ms / 1000;
    until.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
    if (until.tv_nsec >= 1000000000) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000;
    }
    if (pthread_mutex_timedlock(&lock, &until) != 0)
        return; /* see hc_recorder_flush: may run in a signal handler */
    while (inflight > 0)
        if (pthread_cond_timedwait(&done, &lock, &until) != 0)
            break;
    pthread_mutex_unlock(&lock);
}

void hc_webhook_atfork_child(void)
{
    pthread_mutex_init(&lock, NULL);
    pthread_cond_init(&done, NULL);
    inflight = 0;
}

/* gateway.c — listener, registration of redirected connections, dispatch.
 *
 * DESIGN
 * - Threads: one accept thread per process; one thread per accepted
 *   connection, which owns everything about that connection (the app side,
 *   its upstream connection, buffers) and exits when either side closes.
 *   Blocking-style I/O on non-blocking sockets with poll (io.h) keeps each
 *   thread's logic linear and every wait bounded. Threads block all signals.
 * - Registration: hc_gateway_connect() binds the app's socket to an ephemeral
 *   loopback port (if the app did not bind it), records (family, local
 *   address, port → original destination, host; a wildcard address the app
 *   bound is recorded as the listener's loopback address, which is where the
 *   connection will come from), and only then connects it
 *   to the listener. So the accept thread finds the entry of every genuine
 *   connection synchronously, keyed by the full peer address: a connection
 *   from another process (another source address, or a port it does not
 *   own) is closed at once without costing a thread, however many arrive.
 *   (If binding fails, the entry is made after connect and the connection
 *   thread waits up to 2 s for it — bounded to MAX_STRANGERS such waits.) An
 *   entry stays until the connection ends, which is what lets getpeername()
 *   report the original destination.
 * - Dispatch: peek (never consume) the first bytes. A TLS ClientHello whose
 *   SNI is not an LLM host is relayed byte for byte to the original
 *   destination — shared CDN addresses must not make us touch other traffic.
 *   A ClientHello for an LLM host (or without SNI, addressed to one) is
 *   terminated with a leaf for that name — if the app's TLS will trust it
 *   (the shim's policy, shim/trust.h, asked through shim->tls_refusal) and
 *   no app of this process has rejected our certificate yet; otherwise it is
 *   relayed untouched to where the app meant to go (hc_relay_routed). Plain
 *   HTTP goes to the proxy, whatever the app's TLS.
 * - Exit: hc_gateway_quiesce() (from core.c's atexit handler, which runs
 *   before OpenSSL's cleanup) shuts down the app side of every live
 *   connection and waits, bounded, until no connection thread is inside
 *   OpenSSL: a thread still in SSL_accept when OPENSSL_cleanup frees the
 *   library's state would crash the exiting app. An LLM call the app makes
 *   after that (from an exit handler that runs after the core's, or a C++
 *   static destructor) reopens the gateway (core.c), never meets a listener
 *   that closes it: the app would get EPIPE, or die of SIGPIPE.
 * - Failure: if the listener cannot be created the core does not start and
 *   connect() goes to the original destination (core.c).
 */
#include "gateway.h"
#include "buf.h"
#include "clienthello.h"
#include "clock.h"
#include "err.h"
#include "io.h"
#include "log.h"
#include "proxy.h"
#include "relay.h"
#include "sockaddr.h"
#include "thread.h"
#include "tlsca.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define REG_WAIT_MS     2000
#define PEEK_TIMEOUT_MS 30000
#define MAX_STRANGERS   16 /* connections waiting for a registration at once */

struct reg {
    int family;             /* AF_INET or AF_INET6: the listener it came through */
    unsigned char addr[16]; /* the app socket's local address (4 bytes for AF_INET) */
    uint16_t port;          /* the app socket's local port */
    hc_origin origin;
    struct reg *next;
};

/* A connection thread, from its start until it no longer uses OpenSSL. */
struct live {
    int fd;     /* a duplicate of the app side (-1: none): never a number
                                * the app may get back while the thread runs */
    hc_fdid id; /* fd's identity (hc_core_fd_same) */
    struct live *next;
};

struct hc_gateway {
    hc_core *core;             /* immutable */
    int lfd4, lfd6;            /* immutable; -1 if absent */
    hc_fdid id4, id6;          /* their identities: the listener is lost when the
                                        * number names anything else, even another
                                        * descriptor of the core's (see core.h) */
    struct sockaddr_in addr4;  /* immutable: where v4 sockets are sent */
    struct sockaddr_in6 addr6; /* immutable: where v6 sockets are sent */
    bool have6;                /* immutable */
    pthread_mutex_t lock;      /* guards regs, strangers */
    pthread_cond_t cond;       /* signalled when a registration is added */
    struct reg *regs;
    int strangers;
    struct live *live; /* connection threads that may use OpenSSL */
    int threads;       /* connection threads spawned and not done */
    bool closing;      /* set by hc_gateway_quiesce: take nothing new */
    int lost;          /* atomic: the app took a listener's descriptor */
};

struct conn_start {
    hc_gateway *gw;
    int fd;
    int family;
    unsigned char peer_addr[16];
    uint16_t peer_port;
    bool registered;  /* the entry was found at accept time */
    hc_origin origin; /* ... and this is it */
};

/* (family, address bytes, port) of a socket address, v4-mapped IPv6 folded
 * to IPv4 (that is how the v4 listener sees such a peer): hc_sa_key_of,
 * unpacked into the fields the registrations keep. */
static bool addr_key(const struct sockaddr *a, int *family, unsigned char addr[16], uint16_t *port)
{
    hc_sa_key k;
    bool ok = hc_sa_key_of(a, sizeof(struct sockaddr_storage), &k);
    memcpy(addr, k.addr, 16);
    *family = k.family; /* all 0 when not an inet address */
    *port = k.port;
    return ok;
}

static struct reg *find_reg(hc_gateway *gw, int family, const unsigned char *addr, uint16_t port)
{
    for (struct reg *r = gw->regs; r; r = r->next)
        if (r->family == family && r->port == port && memcmp(r->addr, addr, 16) == 0)
            return r;
    return NULL;
}

static void drop_reg(hc_gateway *gw, int family, const unsigned char *addr, uint16_t port)
{
    pthread_mutex_lock(&gw->lock);
    for (struct reg **pp = &gw->regs; *pp; pp = &(*pp)->next) {
        if ((*pp)->family == family && (*pp)->port == port && memcmp((*pp)->addr, addr, 16) == 0) {
            struct reg *r = *pp;
            *pp = r->next;
            free(r);
            break;
        }
    }
    pthread_mutex_unlock(&gw->lock);
}

/* Wait for the registration of (family, addr, port); copy it into *o. 0 or HC_ENOTFOUND. */
static int await_reg(hc_gateway *gw, int family, const unsigned char *addr, uint16_t port,
                     hc_origin *o)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += REG_WAIT_MS / 1000;
    int rc = HC_ENOTFOUND;
    bool counted = false;
    pthread_mutex_lock(&gw->lock);
    for (;;) {
        struct reg *r = find_reg(gw, family, addr, port);
        if (r) {
            *o = r->origin;
            rc = 0;
            break;
        }
        if (!counted) {
            if (gw->strangers >= MAX_STRANGERS)
                break;
            gw->strangers++;
            counted = true;
        }
        if (gw->closing)
            break;
        if (pthread_cond_timedwait(&gw->cond, &gw->lock, &until) == ETIMEDOUT) {
            r = find_reg(gw, family, addr, port);
            if (r) {
                *o = r->origin;
                rc = 0;
            }
            break;
        }
    }
    if (counted)
        gw->strangers--;
    pthread_mutex_unlock(&gw->lock);
    return rc;
}

/* Peek until `want` bytes or a full ClientHello are available. Returns bytes
 * peeked (> 0), 0 if the app closed, or a negative HC_E*. */
static long peek_more(int fd, unsigned char *buf, size_t size, size_t have, int64_t deadline)
{
    for (;;) {
        ssize_t n = recv(fd, buf, size, MSG_PEEK);
        if (n == 0)
            return 0;
        if (n > 0 && (size_t)n > have)
            return n;
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            return HC_EIO;
        int64_t left = deadline - hc_mono_us();
        if (left <= 0)
            return HC_ETIMEDOUT;
        struct pollfd p = { .fd = fd, .events = POLLIN };
        if (n > 0 && (size_t)n == have) {
            /* Nothing new yet; poll says readable while old bytes sit there, so sleep briefly. */
            poll(NULL, 0, 2);
            continue;
        }
        poll(&p, 1, (int)(left / 1000) + 1);
    }
}

/* Set once an app of this process rejected the gateway's certificate: from
 * then on its TLS to LLM hosts is relayed untouched (the bet was lost). */
static int app_rejects_us;

/* May the gateway terminate this TLS connection for `name`? Not if the app's
 * TLS stack will not trust the gateway (the shim's policy, trust.h), nor once
 * this process has rejected the gateway's certificate. */
static bool terminate_tls(hc_core *core, const char *name)
{
    if (__atomic_load_n(&app_rejects_us, __ATOMIC_ACQUIRE))
        return false;
    return core->shim->tls_refusal == NULL || core->shim->tls_refusal(name) == NULL;
}

/* After a failed handshake with the app: if the app aborted it having seen
 * our certificate (alert bad_certificate 42, certificate_unknown 46,
 * unknown_ca 48, or the connection closed mid-handshake), stop terminating
 * its TLS; its retry then goes untouched to where it meant to go. */
static void note_handshake_failure(hc_core *core, const char *name, unsigned long err, bool eof,
                                   bool saw_cert)
{
    int reason = err ? ERR_GET_REASON(err) : 0;
    const char *what = NULL;
    if (reason == SSL_R_SSLV3_ALERT_BAD_CERTIFICATE)
        what = "TLS alert 42, bad certificate";
    else if (reason == SSL_R_SSLV3_ALERT_CERTIFICATE_UNKNOWN)
        what = "TLS alert 46, certificate unknown";
    else if (reason == SSL_R_TLSV1_ALERT_UNKNOWN_CA)
        what = "TLS alert 48, unknown CA";
    else if (saw_cert && (eof || reason == SSL_R_UNEXPECTED_EOF_WHILE_READING))
        what = "it closed the connection during the handshake";
    if (!what)
        return;
    __atomic_store_n(&app_rejects_us, 1, __ATOMIC_RELEASE);
    hc_log_warn_once(
        "app_rejects_gateway",
        "%s rejected the gateway's certificate for %s (%s): from now on this process's TLS to LLM "
        "hosts is relayed untouched and not recorded",
        core->program, name, what);
}

static void serve_tls(hc_gateway *gw, int fd, const hc_origin *o, const char *name)
{
    hc_core *core = gw->core;
    X509 *cert = NULL;
    EVP_PKEY *key = NULL;
    SSL *ssl = NULL;
    if (hc_ca_leaf(core->ca, name, &cert, &key) != 0) {
        hc_log_warn_once("leaf", "cannot mint a certificate for %s; closing the connection", name);
        close(fd);
        return;
    }
    ssl = SSL_new(core->server_ctx);
    if (!ssl || SSL_use_certificate(ssl, cert) != 1 || SSL_use_PrivateKey(ssl, key) != 1 ||
        SSL_set_fd(ssl, fd) != 1) {
        X509_free(cert);
        SSL_free(ssl);
        close(fd);
        return;
    }
    X509_free(cert);
    hc_io io;
    hc_io_init(&io, fd, ssl, core->cfg.connect_timeout_ms);
    const char *why;
    int hrc = hc_io_accept_tls(&io, &why);
    if (hrc != 0) {
        hc_log_debug("TLS handshake with the app for %s failed: %s", name, why);
        /* The app has seen our certificate once the server flight went out. */
        OSSL_HANDSHAKE_STATE st = SSL_get_state(ssl);
        bool saw_cert = st != TLS_ST_BEFORE && st != TLS_ST_SR_CLNT_HELLO;
        if (hrc == HC_ETLS)
            note_handshake_failure(core, name, ERR_peek_error(), ERR_peek_error() == 0, saw_cert);
        hc_io_close(&io);
        return;
    }
    hc_proxy_serve(core, &io, o, name, true);
    hc_io_close(&io);
}

/* Enter the live list; false (fd closed) if the gateway is quiescing. */
static bool live_enter(hc_gateway *gw, int fd, struct live *me)
{
    /* The connection's own modules close fd when they are done with it,
     * before the thread ends: shutting down a bare fd number at exit could
     * hit an app socket that reused it. A duplicate stays ours until
     * live_leave. Without one (out of fds), the connection is just waited for. */
    me->fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    /* Ours like every core descriptor: an app's sweep (closerange) leaves it
     * open, and if a raw one took the number our close below is skipped. */
    hc_core_own_fd(me->fd);
    hc_core_fd_id(me->fd, &me->id);
    pthread_mutex_lock(&gw->lock);
    bool ok = !gw->closing;
    if (ok) {
        me->next = gw->live;
        gw->live = me;
    }
    pthread_mutex_unlock(&gw->lock);
    if (!ok && me->fd >= 0) {
        close(me->fd);
        me->fd = -1;
    }
    return ok;
}

/* Leave the live list (if entered) and the thread count. */
static void live_leave(hc_gateway *gw, struct live *me, bool entered)
{
    pthread_mutex_lock(&gw->lock);
    for (struct live **pp = &gw->live; entered && *pp; pp = &(*pp)->next) {
        if (*pp == me) {
            *pp = me->next;
            break;
        }
    }
    gw->threads--;
    pthread_cond_broadcast(&gw->cond);
    pthread_mutex_unlock(&gw->lock);
    /* Not if the number names another file now, even one of the core's (the
     * store opened again on it after a raw close_range). */
    if (entered && me->fd >= 0 && hc_core_fd_same(me->fd, &me->id))
        close(me->fd);
}

static void *conn_main(void *arg)
{
    struct conn_start cs = *(struct conn_start *)arg;
    free(arg);
    hc_gateway *gw = cs.gw;
    hc_core *core = gw->core;
    core->shim->guard_thread();
    struct live me = { .fd = -1 };

    hc_origin o = cs.origin;
    if (!cs.registered && await_reg(gw, cs.family, cs.peer_addr, cs.peer_port, &o) != 0) {
        hc_log_debug("closing unregistered connection from port %u", cs.peer_port);
        close(cs.fd);
        live_leave(gw, &me, false);
        return NULL;
    }
    if (!live_enter(gw, cs.fd, &me)) {
        close(cs.fd);
        drop_reg(gw, cs.family, cs.peer_addr, cs.peer_port);
        live_leave(gw, &me, false);
        return NULL;
    }

    unsigned char *peek = malloc(65536), *scratch = malloc(65536);
    if (!peek || !scratch) {
        free(peek);
        free(scratch);
        close(cs.fd);
        goto out;
    }
    int64_t deadline = hc_mono_us() + (int64_t)PEEK_TIMEOUT_MS * 1000;
    long n = peek_more(cs.fd, peek, 65536, 0, deadline);
    if (n <= 0) {
        close(cs.fd);
        goto out_free;
    }
    if (hc_looks_like_tls(peek, (size_t)n)) {
        char sni[256];
        int rc;
        while ((rc = hc_clienthello_sni(peek, (size_t)n, scratch, 65536, sni, sizeof sni)) ==
               HC_PARTIAL) {
            long m = peek_more(cs.fd, peek, 65536, (size_t)n, deadline);
            if (m <= 0)
                break;
            n = m;
        }
        free(scratch);
        scratch = NULL;
        if (rc == 0 && sni[0] && !core->shim->is_llm_host(sni)) {
            hc_log_debug("relaying TLS for %s (not an LLM host) untouched", sni);
            hc_relay(core, cs.fd, &o);
        } else if ((rc == 0 || rc == HC_ETOOBIG) &&
                   !terminate_tls(core, (rc == 0 && sni[0]) ? sni : o.host)) {
            hc_relay_routed(core, cs.fd, &o); /* the app's TLS would not trust us: hands off */
        } else if (rc == 0 || rc == HC_ETOOBIG) {
            serve_tls(gw, cs.fd, &o, (rc == 0 && sni[0]) ? sni : o.host);
        } else {
            hc_relay(core, cs.fd, &o); /* not a ClientHello we understand: hands off */
        }
    } else {
        hc_io io;
        hc_io_init(&io, cs.fd, NULL, core->cfg.connect_timeout_ms);
        if (hc_proxy_looks_like_http(peek, (size_t)n)) {
            hc_proxy_serve(core, &io, &o, o.host, false);
            hc_io_close(&io);
        } else {
            hc_relay(core, cs.fd, &o);
        }
    }
out_free:
    free(peek);
    free(scratch);
out:
    drop_reg(gw, cs.family, cs.peer_addr, cs.peer_port);
    live_leave(gw, &me, true);
    return NULL;
}

int hc_gateway_quiesce(hc_gateway *gw, int timeout_ms)
{
    if (!gw)
        return 0;
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += timeout_ms / 1000;
    until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&gw->lock);
    gw->closing = true;
    for (struct live *l = gw->live; l; l = l->next)
        if (l->fd >= 0 && hc_core_fd_intact(l->fd) && hc_core_fd_same(l->fd, &l->id))
            shutdown(l->fd, SHUT_RDWR); /* the thread wakes, fails its I/O, cleans up */
    pthread_cond_broadcast(&gw->cond);  /* threads waiting for a registration give up */
    while (gw->threads > 0 && pthread_cond_timedwait(&gw->cond, &gw->lock, &until) != ETIMEDOUT)
        ;
    int left = gw->threads;
    pthread_mutex_unlock(&gw->lock);
    return left;
}

bool hc_gateway_closing(hc_gateway *gw)
{
    pthread_mutex_lock(&gw->lock);
    bool closing = gw->closing;
    pthread_mutex_unlock(&gw->lock);
    return closing;
}

void hc_gateway_reopen(hc_gateway *gw)
{
    pthread_mutex_lock(&gw->lock);
    gw->closing = false;
    pthread_mutex_unlock(&gw->lock);
}

/* A connection accepted on a listener: match it with the connect() that
 * made it and hand it to a thread of its own (or close it: not ours and
 * enough strangers already wait, the gateway is exiting, no thread). */
static void start_conn(hc_gateway *gw, int fd, const struct sockaddr_storage *peer)
{
    hc_core_own_fd(fd);
    struct conn_start *cs = calloc(1, sizeof *cs);
    if (!cs ||
        !addr_key((const struct sockaddr *)peer, &cs->family, cs->peer_addr, &cs->peer_port)) {
        close(fd);
        free(cs);
        return;
    }
    cs->gw = gw;
    cs->fd = fd;
    pthread_mutex_lock(&gw->lock);
    struct reg *known = find_reg(gw, cs->family, cs->peer_addr, cs->peer_port);
    if (known) {
        cs->registered = true;
        cs->origin = known->origin;
    }
    bool wait_ok = (known || gw->strangers < MAX_STRANGERS) && !gw->closing;
    if (wait_ok)
        gw->threads++; /* before the thread exists: quiesce waits for it */
    pthread_mutex_unlock(&gw->lock);
    if (!wait_ok) { /* not ours and enough are already waiting, or exiting */
        close(fd);
        free(cs);
        return;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (hc_thread_spawn(conn_main, cs) != 0) {
        hc_log_warn_once("thread", "cannot start a gateway thread; closing a connection");
        close(fd);
        free(cs);
        pthread_mutex_lock(&gw->lock);
        gw->threads--;
        pthread_mutex_unlock(&gw->lock);
    }
}

static void *accept_main(void *arg)
{
    hc_gateway *gw = arg;
    gw->core->shim->guard_thread();
    for (;;) {
        struct pollfd p[2] = { { .fd = gw->lfd4, .events = POLLIN },
                               { .fd = gw->lfd6, .events = POLLIN } };
        /* POLLNVAL: a listener was closed under us (checked below). */
        int r = poll(p, 2, -1);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            hc_log_error("gateway: poll failed: %s; no longer accepting", strerror(errno));
            return NULL;
        }
        for (int i = 0; i < 2; i++) {
            if (!(p[i].revents & POLLIN))
                continue;
            struct sockaddr_storage peer;
            socklen_t pl = sizeof peer;
            /* Identity first: a number the app took back may be its own
             * listening socket, whose connections are not ours to accept. */
            const hc_fdid *id = i == 0 ? &gw->id4 : &gw->id6;
            bool intact = hc_core_fd_intact(p[i].fd) && hc_core_fd_same(p[i].fd, id);
            int fd =
                (p[i].revents & POLLNVAL) || !intact
                    ? -1
                    : accept4(p[i].fd, (struct sockaddr *)&peer, &pl, SOCK_CLOEXEC | SOCK_NONBLOCK);
            if (fd < 0 &&
                (!intact || !hc_core_fd_intact(p[i].fd) || !hc_core_fd_same(p[i].fd, id))) {
                /* A raw close/dup2 system call of the app took the listener:
                 * stop (no spinning on a number that is the app's now);
                 * later connections go to their destinations directly. */
                hc_log_error(
                    "gateway: the app closed or replaced the gateway's listening descriptor %d; "
                    "a new listener takes the next LLM connections",
                    p[i].fd);
                __atomic_store_n(&gw->lost, 1, __ATOMIC_RELEASE);
                return NULL;
            }
            if (fd < 0) {
                if (errno == EMFILE || errno == ENFILE)
                    poll(NULL, 0, 50); /* out of fds: back off rather than spin */
                continue;
            }
            start_conn(gw, fd, &peer);
        }
    }
    return NULL;
}

static int listen_on(int family, struct sockaddr *addr, socklen_t len)
{
    int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (family == AF_INET6) {
        int one = 1;
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    }
    if (bind(fd, addr, len) != 0 || listen(fd, 512) != 0 || getsockname(fd, addr, &len) != 0) {
        close(fd);
        return -1;
    }
    hc_core_own_fd(fd);
    return fd;
}

int hc_gateway_start(hc_core *core, hc_gateway **out, char *err, size_t errlen)
{
    hc_gateway *gw = calloc(1, sizeof *gw);
    if (!gw) {
        snprintf(err, errlen, "out of memory");
        return HC_ENOMEM;
    }
    gw->core = core;
    pthread_mutex_init(&gw->lock, NULL);
    pthread_cond_init(&gw->cond, NULL);
    gw->addr4.sin_family = AF_INET;
    gw->addr4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    gw->lfd4 = listen_on(AF_INET, (struct sockaddr *)&gw->addr4, sizeof gw->addr4);
    if (gw->lfd4 < 0) {
        snprintf(err, errlen, "cannot listen on 127.0.0.1: %s", strerror(errno));
        goto fail;
    }
    gw->addr6.sin6_family = AF_INET6;
    gw->addr6.sin6_addr = in6addr_loopback;
    gw->lfd6 = listen_on(AF_INET6, (struct sockaddr *)&gw->addr6, sizeof gw->addr6);
    gw->have6 = gw->lfd6 >= 0;
    hc_core_fd_id(gw->lfd4, &gw->id4);
    hc_core_fd_id(gw->lfd6, &gw->id6);
    if (hc_thread_spawn(accept_main, gw) != 0) {
        snprintf(err, errlen, "cannot start the accept thread");
        goto fail;
    }
    *out = gw;
    return 0;
fail:
    if (gw->lfd4 >= 0)
        close(gw->lfd4);
    if (gw->lfd6 >= 0)
        close(gw->lfd6);
    free(gw);
    return HC_EIO;
}

/* Where to send a socket connecting to dst: the listener of the same
 * family if we can; an AF_INET6 socket without [::1] goes to the v4
 * listener through a v4-mapped address, unless the socket is IPV6_V6ONLY
 * (then false: it cannot reach the gateway). *fam: the listener's family. */
static bool listener_for(const hc_gateway *gw, int fd, const struct sockaddr *dst,
                         struct sockaddr_storage *gwa, socklen_t *gwl, int *fam)
{
    memset(gwa, 0, sizeof *gwa);
    if (dst->sa_family == AF_INET) {
        memcpy(gwa, &gw->addr4, sizeof gw->addr4);
        *gwl = sizeof gw->addr4;
        *fam = AF_INET;
    } else if (gw->have6) {
        memcpy(gwa, &gw->addr6, sizeof gw->addr6);
        *gwl = sizeof gw->addr6;
        *fam = AF_INET6;
    } else {
        int v6only = 0;
        socklen_t ol = sizeof v6only;
        getsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, &ol);
        if (v6only)
            return false;
        *gwl = hc_sa_v4mapped(&gw->addr4, (struct sockaddr_in6 *)gwa);
        *fam = AF_INET;
    }
    return true;
}

/* Bind fd to a loopback ephemeral port unless the app bound the socket, so
 * that the registry entry exists before the connection does. True with
 * *local = the socket's address when it is bound (by us or the app). */
static bool bind_early(int fd, int fam, struct sockaddr_storage *local)
{
    socklen_t ll = sizeof *local;
    int lf;
    unsigned char la[16];
    uint16_t lp;
    if (getsockname(fd, (struct sockaddr *)local, &ll) != 0 ||
        !addr_key((struct sockaddr *)local, &lf, la, &lp))
        return false;
    if (lp != 0)
        return true; /* bound by the app already */
    struct sockaddr_storage b;
    /* An AF_INET6 socket bound for the v4 listener: v4-mapped 127.0.0.1. */
    socklen_t bl =
        hc_sa_loopback(local->ss_family == AF_INET ? AF_INET : AF_INET6, fam != AF_INET6, &b);
    ll = sizeof *local;
    return bind(fd, (struct sockaddr *)&b, bl) == 0 &&
           getsockname(fd, (struct sockaddr *)local, &ll) == 0;
}

/* Register r under the socket's bound address local (before connecting).
 * True if r is consumed (registered, or freed: a second connect() on the
 * same socket finds its entry); false if local has no usable key. */
static bool register_early(hc_gateway *gw, struct reg *r, const struct sockaddr_storage *local,
                           int fam)
{
    if (!addr_key((const struct sockaddr *)local, &r->family, r->addr, &r->port))
        return false;
    static const unsigned char any[16];
    if (memcmp(r->addr, any, 16) == 0) {
        /* Bound by the app to the wildcard address (curl --local-port,
         * httpx local_address="0.0.0.0", Python source_address): the
         * connection to the loopback listener comes from the loopback
         * address of the listener's family, with the app's port. */
        r->family = fam;
        if (fam == AF_INET) {
            r->addr[0] = 127;
            r->addr[3] = 1;
        } else {
            r->addr[15] = 1; /* ::1 */
        }
    }
    pthread_mutex_lock(&gw->lock);
    if (!find_reg(gw, r->family, r->addr, r->port)) {
        r->next = gw->regs;
        gw->regs = r;
        r = NULL; /* owned by the registry now */
    }
    pthread_mutex_unlock(&gw->lock);
    free(r); /* a second connect() on the same socket: the entry exists */
    return true;
}

/* Late entry (the socket could not be bound first): register r under the
 * address the connect gave fd, and wake an accept waiting for it. r is
 * consumed. */
static void register_late(hc_gateway *gw, int fd, struct reg *r)
{
    struct sockaddr_storage local;
    socklen_t ll = sizeof local;
    if (getsockname(fd, (struct sockaddr *)&local, &ll) != 0 ||
        !addr_key((struct sockaddr *)&local, &r->family, r->addr, &r->port)) {
        free(r);
        return;
    }
    pthread_mutex_lock(&gw->lock);
    if (find_reg(gw, r->family, r->addr, r->port)) {
        free(r);
    } else {
        r->next = gw->regs;
        gw->regs = r;
        pthread_cond_broadcast(&gw->cond);
    }
    pthread_mutex_unlock(&gw->lock);
}

int hc_gateway_connect(hc_gateway *gw, int fd, const struct sockaddr *dst, socklen_t len,
                       const char *host)
{
    const hc_shim_api *shim = gw->core->shim;
    if (hc_gateway_lost(gw))
        return shim->connect(fd, dst,
                             len); /* fail open (core.c normally starts a new gateway first) */
    struct sockaddr_storage gwa, local;
    socklen_t gwl;
    int fam;
    struct reg *r = calloc(1, sizeof *r);
    if (!r)
        return shim->connect(fd, dst, len);
    if (!listener_for(gw, fd, dst, &gwa, &gwl, &fam)) {
        free(r);
        return shim->connect(fd, dst, len);
    }
    memcpy(&r->origin.dst, dst, len < sizeof r->origin.dst ? len : sizeof r->origin.dst);
    r->origin.dstlen = len;
    hc_strlcpy(r->origin.host, sizeof r->origin.host, host);
    r->origin.port = hc_sa_port(dst);
    if (bind_early(fd, fam, &local) && register_early(gw, r, &local, fam))
        r = NULL;

    int rc = shim->connect(fd, (struct sockaddr *)&gwa, gwl);
    int saved = errno;
    if (rc != 0 && errno != EINPROGRESS && errno != EINTR && errno != EALREADY &&
        errno != EISCONN) {
        hc_log_warn_once("gw_connect", "cannot reach the in-process gateway (%s)", strerror(saved));
        if (r) { /* not bound yet: connecting directly is still possible */
            free(r);
            return shim->connect(fd, dst, len);
        }
        errno = saved;
        return rc;
    }
    if (r)
        register_late(gw, fd, r);
    hc_log_debug("redirected connection to %s:%d into the gateway", host, hc_sa_port(dst));
    errno = saved;
    return rc;
}

int hc_gateway_getpeername(hc_gateway *gw, int fd, struct sockaddr *addr, socklen_t *len)
{
    struct sockaddr_storage peer, local;
    socklen_t pl = sizeof peer, ll = sizeof local;
    if (gw->core->shim->getpeername(fd, (struct sockaddr *)&peer, &pl) != 0 ||
        getsockname(fd, (struct sockaddr *)&local, &ll) != 0)
        return 1;
    uint16_t lport;
    int fam;
    /* The peer must be one of the gateway's listeners (a v4-mapped peer: the v4 one). */
    hc_sa_key pk, g4, g6;
    if (!hc_sa_key_of((struct sockaddr *)&peer, pl, &pk))
        return 1;
    hc_sa_key_of((const struct sockaddr *)&gw->addr4, sizeof gw->addr4, &g4);
    hc_sa_key_of((const struct sockaddr *)&gw->addr6, sizeof gw->addr6, &g6);
    if (hc_sa_key_eq(&pk, &g4))
        fam = AF_INET;
    else if (gw->have6 && hc_sa_key_eq(&pk, &g6))
        fam = AF_INET6;
    else
        return 1;
    int lfam;
    unsigned char laddr[16];
    if (!addr_key((struct sockaddr *)&local, &lfam, laddr, &lport) || lfam != fam)
        return 1;
    int rc = 1;
    pthread_mutex_lock(&gw->lock);
    struct reg *r = find_reg(gw, fam, laddr, lport);
    if (r) {
        socklen_t n = r->origin.dstlen < *len ? r->origin.dstlen : *len;
        memcpy(addr, &r->origin.dst, n);
        *len = r->origin.dstlen;
        rc = 0;
    }
    pthread_mutex_unlock(&gw->lock);
    return rc;
}

bool hc_gateway_lost(hc_gateway *gw)
{
    if (__atomic_load_n(&gw->lost, __ATOMIC_ACQUIRE))
        return true;
    if (hc_core_fd_intact(gw->lfd4) && hc_core_fd_same(gw->lfd4, &gw->id4) &&
        (gw->lfd6 < 0 || (hc_core_fd_intact(gw->lfd6) && hc_core_fd_same(gw->lfd6, &gw->id6))))
        return false;
    __atomic_store_n(&gw->lost, 1, __ATOMIC_RELEASE);
    return true;
}

void hc_gateway_abandon(hc_gateway *gw)
{
    if (!gw)
        return;
    if (gw->lfd4 >= 0)
        close(gw->lfd4);
    if (gw->lfd6 >= 0)
        close(gw->lfd6);
}

void hc_gateway_dispatch(hc_core *core, int fd, const hc_origin *o)
{
    /* The accept thread's own path, for a connection that needs no
     * registration (family AF_UNSPEC: no entry to drop afterwards). */
    struct conn_start *cs = core->gw ? calloc(1, sizeof *cs) : NULL;
    if (!cs) {
        close(fd);
        return;
    }
    cs->gw = core->gw;
    cs->fd = fd;
    cs->registered = true;
    cs->origin = *o;
    pthread_mutex_lock(&cs->gw->lock);
    cs->gw->threads++; /* conn_main leaves the count as a spawned thread does */
    pthread_mutex_unlock(&cs->gw->lock);
    conn_main(cs);
}

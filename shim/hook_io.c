/* hook_io.c — observe mode on plain sockets: copies of the bytes an app sends
 * and receives on a connection to an LLM host (plain-HTTP endpoints such as
 * a local Ollama). The app's call always runs first and its result is
 * returned untouched; only then are the bytes it moved handed to the core.
 *
 * These hooks sit on the hottest calls of every process (read, write,
 * close…), so each is one bitmap test and a call to the real function. The
 * bitmap only ever gets bits in observe mode.
 *
 * read, write and close may be called first from a signal handler, where
 * dlsym would not be safe, and resolving anything at start-up would cost
 * every process: they call glibc's exported aliases __read, __write and
 * __close directly (plain lazily bound calls). The socket calls resolve their
 * real function on first use.
 *
 * The same calls protect the shim's own descriptors (fdown.h): a shim
 * thread's read/write/send/recv of an owned descriptor that changed identity
 * fails with EBADF instead of touching the app's file, and close() keeps an
 * owned descriptor open when the app sweeps it. One more bitmap test each.
 */
#include "fdown.h"
#include "hosts.h"
#include "real.h"
#include "shim.h"
#include "trust.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#define MAX_WATCHED 65536
static uint64_t watched[MAX_WATCHED / 64]; /* bit set: fd is followed by an observer */

extern ssize_t __read(int, void *, size_t);
extern ssize_t __write(int, const void *, size_t);
extern int __close(int);

#define REAL(var, name, self) \
    static __typeof__(self) *var; \
    HC_REAL(var, name, self, NULL)

static inline bool is_watched(int fd)
{
    return fd >= 0 && fd < MAX_WATCHED &&
           (__atomic_load_n(&watched[fd >> 6], __ATOMIC_RELAXED) >> (fd & 63) & 1);
}

static void set_watched(int fd, bool on)
{
    if (fd < 0 || fd >= MAX_WATCHED)
        return;
    uint64_t bit = 1ull << (fd & 63);
    if (on)
        __atomic_fetch_or(&watched[fd >> 6], bit, __ATOMIC_RELAXED);
    else
        __atomic_fetch_and(&watched[fd >> 6], ~bit, __ATOMIC_RELAXED);
}

/* Called by connect() in observe mode once fd is connected (or connecting)
 * to LLM host `host`. */
void hc_io_watch(int fd, const char *host, int port);
void hc_io_watch(int fd, const char *host, int port)
{
    const hc_core_api *core = hc_shim_core();
    if (!core)
        return;
    hc_shim_guard_enter();
    bool ok = core->observe_fd_open(fd, host, port);
    hc_shim_guard_leave();
    set_watched(fd, ok);
}

/* A shim thread must not touch a descriptor that became the app's. */
#define OWNED_IO_CHECK(fd) \
    do { \
        if (__builtin_expect(hc_fd_is_owned(fd), 0) && hc_shim_guarded() && !hc_fd_io_ok(fd)) \
            return -1; \
    } while (0)

/* The app opens TLS on a followed connection: if its TLS stack is not the
 * hooked system OpenSSL, observe mode cannot see inside; say so (once). */
static void tls_starts(int fd)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    char host[HC_HOST_MAX];
    if (getpeername(fd, (struct sockaddr *)&ss, &sl) != 0 ||
        !hc_hosts_match_addr((struct sockaddr *)&ss, sl, host, sizeof host))
        snprintf(host, sizeof host, "an LLM host");
    hc_trust_observe_blind(host);
}

static void seen(int fd, bool out, const void *p, size_t n)
{
    const hc_core_api *core = hc_shim_core_if_loaded();
    if (!core || hc_shim_guarded())
        return;
    int saved = errno;
    hc_shim_guard_enter();
    /* A TLS record header (change_cipher_spec, alert, handshake, data; 3.x). The
     * app's ClientHello is usually the first thing seen; but another thread
     * may have begun the handshake before connect() marked the fd followed, so
     * any TLS record that makes the core stop following counts too. */
    const unsigned char *b = p;
    bool tls = n >= 3 && b[0] >= 0x14 && b[0] <= 0x17 && b[1] == 0x03;
    if (tls && out && b[0] == 0x16)
        tls_starts(fd);
    if (!core->observe_fd(fd, out, p, n)) {
        set_watched(fd, false);
        if (tls)
            tls_starts(fd);
    }
    hc_shim_guard_leave();
    errno = saved;
}

static void seen_iov(int fd, bool out, const struct iovec *iov, int cnt, size_t n)
{
    for (int i = 0; i < cnt && n; i++) {
        size_t k = iov[i].iov_len < n ? iov[i].iov_len : n;
        seen(fd, out, iov[i].iov_base, k);
        n -= k;
    }
}

HC_EXPORT ssize_t write(int fd, const void *buf, size_t n)
{
    OWNED_IO_CHECK(fd);
    ssize_t r = __write(fd, buf, n);
    if (r > 0 && is_watched(fd))
        seen(fd, true, buf, (size_t)r);
    return r;
}

HC_EXPORT ssize_t read(int fd, void *buf, size_t n)
{
    OWNED_IO_CHECK(fd);
    ssize_t r = __read(fd, buf, n);
    if (r > 0 && is_watched(fd))
        seen(fd, false, buf, (size_t)r);
    return r;
}

HC_EXPORT ssize_t writev(int fd, const struct iovec *iov, int cnt)
{
    REAL(real, "writev", writev);
    ssize_t r = real(fd, iov, cnt);
    if (r > 0 && is_watched(fd))
        seen_iov(fd, true, iov, cnt, (size_t)r);
    return r;
}

HC_EXPORT ssize_t readv(int fd, const struct iovec *iov, int cnt)
{
    REAL(real, "readv", readv);
    ssize_t r = real(fd, iov, cnt);
    if (r > 0 && is_watched(fd))
        seen_iov(fd, false, iov, cnt, (size_t)r);
    return r;
}

HC_EXPORT ssize_t send(int fd, const void *buf, size_t n, int flags)
{
    REAL(real, "send", send);
    OWNED_IO_CHECK(fd);
    ssize_t r = real(fd, buf, n, flags);
    if (r > 0 && is_watched(fd))
        seen(fd, true, buf, (size_t)r);
    return r;
}

HC_EXPORT ssize_t recv(int fd, void *buf, size_t n, int flags)
{
    REAL(real, "recv", recv);
    OWNED_IO_CHECK(fd);
    ssize_t r = real(fd, buf, n, flags);
    if (r > 0 && !(flags & MSG_PEEK) && is_watched(fd))
        seen(fd, false, buf, (size_t)r);
    return r;
}

HC_EXPORT ssize_t sendto(int fd, const void *buf, size_t n, int flags, const struct sockaddr *a,
                         socklen_t al)
{
    REAL(real, "sendto", sendto);
    ssize_t r = real(fd, buf, n, flags, a, al);
    if (r > 0 && is_watched(fd))
        seen(fd, true, buf, (size_t)r);
    return r;
}

HC_EXPORT ssize_t recvfrom(int fd, void *buf, size_t n, int flags, struct sockaddr *a,
                           socklen_t *al)
{
    REAL(real, "recvfrom", recvfrom);
    ssize_t r = real(fd, buf, n, flags, a, al);
    if (r > 0 && !(flags & MSG_PEEK) && is_watched(fd))
        seen(fd, false, buf, (size_t)r);
    return r;
}

HC_EXPORT ssize_t sendmsg(int fd, const struct msghdr *m, int flags)
{
    REAL(real, "sendmsg", sendmsg);
    ssize_t r = real(fd, m, flags);
    if (r > 0 && is_watched(fd))
        seen_iov(fd, true, m->msg_iov, (int)m->msg_iovlen, (size_t)r);
    return r;
}

HC_EXPORT ssize_t recvmsg(int fd, struct msghdr *m, int flags)
{
    REAL(real, "recvmsg", recvmsg);
    ssize_t r = real(fd, m, flags);
    if (r > 0 && !(flags & MSG_PEEK) && is_watched(fd))
        seen_iov(fd, false, m->msg_iov, (int)m->msg_iovlen, (size_t)r);
    return r;
}

HC_EXPORT int close(int fd)
{
    if (__builtin_expect(hc_fd_is_owned(fd), 0) && hc_fd_close_skips(fd, hc_shim_guarded()))
        return 0;
    if (is_watched(fd)) {
        set_watched(fd, false);
        const hc_core_api *core = hc_shim_core_if_loaded();
        if (core) {
            int saved = errno;
            hc_shim_guard_enter();
            core->observe_fd_close(fd);
            hc_shim_guard_leave();
            errno = saved;
        }
    }
    return __close(fd);
}

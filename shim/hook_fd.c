/* hook_fd.c — see fdown.h: the shim's descriptors survive the app's sweeps.
 *
 * close() itself is hooked in hook_io.c (one bitmap test there); this file
 * holds the owned-descriptor table and the hooks that close or replace many
 * or chosen descriptors: close_range, closefrom, dup2, dup3. Each passes
 * through untouched unless the shim owns a descriptor in its range, which is
 * never the case in a process that has not talked to an LLM.
 */
#include "fdown.h"
#include "log.h"
#include "real.h"
#include "shim.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

uint64_t hc_fd_owned_bits[HC_FD_MAX / 64];
int hc_fd_owned_count;

/* Identity of each owned descriptor; written before its bit is set. A
 * poisoned slot (dev = ino = ~0) matches no file. */
static struct {
    uint64_t dev, ino;
} ident[HC_FD_MAX];

/* The process whose descriptors the table describes. A vfork child shares
 * this memory but runs no atfork handler, so the bits are still set there:
 * the protection must not apply in it (its close_fds must close the shim's
 * descriptors, and its dup2 must not poison the parent's ident[]). */
static pid_t own_pid;

/* True in a process other than the one that owns the table (a vfork child,
 * or a fork child before its atfork handler ran). getpid is only called when
 * some bit is set. */
static bool not_owner(void)
{
    return getpid() != __atomic_load_n(&own_pid, __ATOMIC_RELAXED);
}

extern int __close(int);
extern int __dup2(int, int);

static bool same_file(int fd)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return false;
    return __atomic_load_n(&ident[fd].dev, __ATOMIC_RELAXED) == (uint64_t)st.st_dev &&
           __atomic_load_n(&ident[fd].ino, __ATOMIC_RELAXED) == (uint64_t)st.st_ino;
}

static void set_bit(int fd, bool on)
{
    uint64_t bit = 1ull << (fd & 63);
    uint64_t old = on ? __atomic_fetch_or(&hc_fd_owned_bits[fd >> 6], bit, __ATOMIC_RELEASE)
                      : __atomic_fetch_and(&hc_fd_owned_bits[fd >> 6], ~bit, __ATOMIC_RELEASE);
    if (on && !(old & bit))
        __atomic_fetch_add(&hc_fd_owned_count, 1, __ATOMIC_RELAXED);
    else if (!on && (old & bit))
        __atomic_fetch_sub(&hc_fd_owned_count, 1, __ATOMIC_RELAXED);
}

void hc_fd_own(int fd)
{
    struct stat st;
    if (fd < 0 || fd >= HC_FD_MAX || fstat(fd, &st) != 0)
        return;
    __atomic_store_n(&ident[fd].dev, (uint64_t)st.st_dev, __ATOMIC_RELAXED);
    __atomic_store_n(&ident[fd].ino, (uint64_t)st.st_ino, __ATOMIC_RELAXED);
    __atomic_store_n(&own_pid, getpid(), __ATOMIC_RELAXED);
    set_bit(fd, true);
}

bool hc_fd_intact(int fd)
{
    return !hc_fd_is_owned(fd) || same_file(fd);
}

bool hc_fd_io_ok(int fd)
{
    if (!hc_fd_is_owned(fd) || same_file(fd))
        return true;
    errno = EBADF;
    return false;
}

bool hc_fd_close_skips(int fd, bool shim_thread)
{
    if (!hc_fd_is_owned(fd) || not_owner())
        return false; /* not_owner: a vfork child must not touch the parent's bits */
    bool mine = same_file(fd);
    if (shim_thread) {
        /* Ours: close it and forget it. Not ours any more: the number is the
         * app's; forget it without closing. */
        set_bit(fd, false);
        return !mine;
    }
    if (mine)
        hc_log_debug("the app closed descriptor %d, which the shim uses; kept open", fd);
    return mine;
}

void hc_fd_taken(int fd)
{
    if (!hc_fd_is_owned(fd) || not_owner())
        return;
    __atomic_store_n(&ident[fd].dev, ~0ull, __ATOMIC_RELAXED);
    __atomic_store_n(&ident[fd].ino, ~0ull, __ATOMIC_RELAXED);
}

void hc_fd_atfork_child(void)
{
    memset(hc_fd_owned_bits, 0, sizeof hc_fd_owned_bits);
    hc_fd_owned_count = 0;
}

/* ---- the hooks ------------------------------------------------------------ */

/* The next intact owned descriptor in [from, last], or -1. */
static int next_kept(unsigned from, unsigned last)
{
    if (from >= HC_FD_MAX)
        return -1;
    unsigned end = last < HC_FD_MAX - 1 ? last : HC_FD_MAX - 1;
    for (unsigned fd = from; fd <= end; fd++) {
        uint64_t w = __atomic_load_n(&hc_fd_owned_bits[fd >> 6], __ATOMIC_ACQUIRE) >> (fd & 63);
        if (!w) {
            fd |= 63; /* nothing more in this word */
            continue;
        }
        if ((w & 1) && same_file((int)fd))
            return (int)fd;
    }
    return -1;
}

/* Resolved on first use or before a fork (hc_fd_resolve, atfork prepare):
 * children close and dup descriptors, and must not call dlsym. dup2 calls
 * glibc's exported __dup2 directly. */
static int (*real_cr)(unsigned, unsigned, int);
static void (*real_closefrom)(int);
static int (*real_dup3)(int, int, int);

void hc_fd_resolve(void)
{
    HC_REAL(real_cr, "close_range", close_range, NULL);
    HC_REAL(real_closefrom, "closefrom", closefrom, NULL);
    HC_REAL(real_dup3, "dup3", dup3, NULL);
}

static int real_close_range(unsigned first, unsigned last, int flags)
{
    HC_REAL(real_cr, "close_range", close_range, NULL);
    int (*real)(unsigned, unsigned, int) = real_cr;
    if (real)
        return real(first, last, flags);
    return (int)syscall(SYS_close_range, first, last, flags);
}

static bool nothing_owned(void)
{
    return __atomic_load_n(&hc_fd_owned_count, __ATOMIC_RELAXED) == 0 || hc_shim_guarded() ||
           not_owner();
}

HC_EXPORT int close_range(unsigned first, unsigned last, int flags)
{
    if (nothing_owned() || first > last)
        return real_close_range(first, last, flags);
    /* Close every sub-range between the shim's descriptors. */
    unsigned from = first;
    int fd;
    while ((fd = next_kept(from, last)) >= 0) {
        hc_log_debug("close_range(%u, %u) by the app: descriptor %d is the shim's; kept open",
                     first, last, fd);
        if ((unsigned)fd > from && real_close_range(from, (unsigned)fd - 1, flags) != 0)
            return -1;
        from = (unsigned)fd + 1;
    }
    return from <= last ? real_close_range(from, last, flags) : 0;
}

HC_EXPORT void closefrom(int lowfd)
{
    HC_REAL(real_closefrom, "closefrom", closefrom, NULL);
    void (*real)(int) = real_closefrom;
    if (nothing_owned() || lowfd < 0) {
        if (real)
            real(lowfd);
        return;
    }
    unsigned from = (unsigned)lowfd;
    int fd;
    while ((fd = next_kept(from, ~0u)) >= 0) {
        if ((unsigned)fd > from && real_close_range(from, (unsigned)fd - 1, 0) != 0)
            for (int i = (int)from; i < fd; i++) /* no close_range: one by one */
                __close(i);
        from = (unsigned)fd + 1;
    }
    if (real)
        real((int)from);
}

HC_EXPORT int dup2(int oldfd, int newfd)
{
    /* glibc exports __dup2: no lookup, even in a child. */
    int r = __dup2(oldfd, newfd);
    /* The app asked for this number: it gets it (as without the shim); the
     * shim's connection or store on it is abandoned and re-made. */
    if (r >= 0 && oldfd != newfd && hc_fd_is_owned(newfd) && !hc_shim_guarded() && !not_owner())
        hc_fd_taken(newfd);
    return r;
}

HC_EXPORT int dup3(int oldfd, int newfd, int flags)
{
    HC_REAL(real_dup3, "dup3", dup3, NULL);
    int r =
        real_dup3 ? real_dup3(oldfd, newfd, flags) : (int)syscall(SYS_dup3, oldfd, newfd, flags);
    if (r >= 0 && hc_fd_is_owned(newfd) && !hc_shim_guarded() && !not_owner())
        hc_fd_taken(newfd);
    return r;
}

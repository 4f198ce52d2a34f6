/* fdown.h — descriptors the shim owns, kept safe from the app.
 *
 * The core (gateway sockets, upstream sockets, the store's LMDB files) opens
 * descriptors inside the app's process, in the app's descriptor table. An app
 * that sweeps that table — os.closerange(3, 65536), close_range(), closefrom(),
 * dup2() onto a number it never opened — would otherwise close them behind the
 * shim's back, and the numbers, reused by the app's next open(), would carry
 * the shim's TLS bytes and LMDB pages into the app's files.
 *
 * Two defences:
 * - The hooks (close, close_range, closefrom in hook_fd.c and hook_io.c) skip
 *   owned descriptors whose identity is intact: the app's call succeeds for
 *   every descriptor of its own, and ours stay open.
 * - Paths that cannot be hooked (a raw close_range or dup2 system call, as Go
 *   makes) are caught by identity: each owned descriptor's st_dev/st_ino is
 *   recorded when the core takes it, and a shim thread's read, write and close
 *   of an owned descriptor first checks that it still names the same file. A
 *   descriptor that changed identity now belongs to the app: the shim's I/O on
 *   it fails with EBADF and its close is skipped.
 *
 * State: one bitmap (fd < HC_FD_MAX) and one identity slot per descriptor,
 * written by the core's threads, read by every hook. Lock-free: the bit is set
 * after the identity is stored (release) and read before it (acquire). After
 * fork the child owns nothing (the core starts afresh there).
 */
#ifndef HC_SHIM_FDOWN_H
#define HC_SHIM_FDOWN_H

#include <stdbool.h>
#include <stdint.h>

#define HC_FD_MAX 65536

extern uint64_t hc_fd_owned_bits[HC_FD_MAX / 64];
extern int hc_fd_owned_count; /* number of set bits (approximate upper bound) */

/* True if fd is marked as the shim's. One relaxed load; async-signal-safe. */
static inline bool hc_fd_is_owned(int fd)
{
    return fd >= 0 && fd < HC_FD_MAX &&
           (__atomic_load_n(&hc_fd_owned_bits[fd >> 6], __ATOMIC_ACQUIRE) >> (fd & 63) & 1);
}

/* The core takes fd (just created by it): record its identity and mark it.
 * fd outside [0, HC_FD_MAX) or not fstat-able is left unmarked. Thread-safe. */
void hc_fd_own(int fd);
/* False only if fd is owned and no longer names the file it named when
 * owned (a descriptor never owned, e.g. past HC_FD_MAX, is intact). One
 * fstat(2). Thread-safe, async-signal-safe. */
bool hc_fd_intact(int fd);
/* A shim thread is about to read or write owned fd: false (errno = EBADF) if
 * the descriptor changed identity — it is the app's now. */
bool hc_fd_io_ok(int fd);
/* close() of fd (any thread). Returns true when the real close must be
 * skipped (and 0 returned): the app closing an intact owned descriptor, or
 * the shim closing a number that became the app's. Clears the mark when the
 * shim closes its own. */
bool hc_fd_close_skips(int fd, bool shim_thread);
/* After a successful dup2/dup3 by the app onto owned fd: the number is the
 * app's now; the shim's next I/O on it fails and its close is skipped. */
void hc_fd_taken(int fd);
/* fork child: nothing is owned any more. */
void hc_fd_atfork_child(void);
/* Resolve the real close_range/closefrom/dup3 now (before a fork). */
void hc_fd_resolve(void);

#endif

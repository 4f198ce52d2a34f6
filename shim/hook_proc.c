/* hook_proc.c — the process ends or replaces itself: records of a process
 * that ends with _exit() (CPython's os._exit, every multiprocessing child),
 * quick_exit() (Bun), or replaces its image with exec (os.execv, a shell's
 * `exec`) would be lost in the recorder's queue; give the recorder a bounded
 * moment to write them first. exit() is covered by the core's atexit handler.
 *
 * The exec family: glibc's execv, execvp, execl… call execve internally, not
 * through our hook, so each one is hooked. A vfork child (posix_spawn,
 * CPython's subprocess) that execs owns none of the records: it shares the
 * parent's memory, and the core flushes only in the process that started it
 * (its pid), so there this costs one comparison. posix_spawn itself is not
 * hooked: the caller goes on, and its own exit flushes. If exec fails, the
 * process goes on too: nothing was lost, the flush only came early.
 */
#include "real.h"
#include "shim.h"
#include "summary.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <unistd.h>

#define FLUSH_MS 2000

/* The real functions, resolved on first use or, at the latest, before a
 * fork (hc_proc_resolve from the atfork prepare handler): a forked child of a
 * threaded program must not call dlsym (another thread may have held the
 * loader's lock at the fork), and children are where exec happens. */
static void (*real__exit)(int) HC_STARTUP_VAR, (*real__Exit)(int)HC_STARTUP_VAR,
    (*real_quick_exit)(int)HC_STARTUP_VAR;
static int (*real_execve)(const char *, char *const[], char *const[]);
static int (*real_execv)(const char *, char *const[]);
static int (*real_execvp)(const char *, char *const[]);
static int (*real_execvpe)(const char *, char *const[], char *const[]);
static int (*real_fexecve)(int, char *const[], char *const[]);
static int (*real_execveat)(int, const char *, char *const[], char *const[], int);

void hc_proc_resolve(void)
{
    HC_REAL(real__exit, "_exit", _exit, NULL);
    HC_REAL(real__Exit, "_Exit", _Exit, NULL);
    HC_REAL(real_quick_exit, "quick_exit", quick_exit, NULL);
    HC_REAL(real_execve, "execve", execve, NULL);
    HC_REAL(real_execv, "execv", execv, NULL);
    HC_REAL(real_execvp, "execvp", execvp, NULL);
    HC_REAL(real_execvpe, "execvpe", execvpe, NULL);
    HC_REAL(real_fexecve, "fexecve", fexecve, NULL);
    HC_REAL(real_execveat, "execveat", execveat, NULL);
}

static void flush_pending(void)
{
    const hc_core_api *core = hc_shim_core_if_loaded();
    if (core && !hc_shim_guarded()) {
        int saved = errno;
        hc_shim_guard_enter();
        core->flush(FLUSH_MS);
        hc_shim_guard_leave();
        errno = saved;
    }
}

HC_EXPORT void _exit(int status)
{
    HC_REAL(real__exit, "_exit", _exit, NULL);
    __typeof__(real__exit) real = real__exit;
    flush_pending();
    hc_summary_finish();
    real(status);
    __builtin_unreachable();
}

HC_EXPORT void _Exit(int status)
{
    HC_REAL(real__Exit, "_Exit", _Exit, NULL);
    __typeof__(real__Exit) real = real__Exit;
    flush_pending();
    hc_summary_finish();
    real(status);
    __builtin_unreachable();
}

HC_EXPORT void quick_exit(int status)
{
    HC_REAL(real_quick_exit, "quick_exit", quick_exit, NULL);
    __typeof__(real_quick_exit) real = real_quick_exit;
    flush_pending();
    real(status);
    __builtin_unreachable();
}

HC_EXPORT int execve(const char *path, char *const argv[], char *const envp[])
{
    HC_REAL(real_execve, "execve", execve, NULL);
    __typeof__(real_execve) real = real_execve;
    flush_pending();
    return real(path, argv, envp);
}

HC_EXPORT int execv(const char *path, char *const argv[])
{
    HC_REAL(real_execv, "execv", execv, NULL);
    __typeof__(real_execv) real = real_execv;
    flush_pending();
    return real(path, argv);
}

HC_EXPORT int execvp(const char *file, char *const argv[])
{
    HC_REAL(real_execvp, "execvp", execvp, NULL);
    __typeof__(real_execvp) real = real_execvp;
    flush_pending();
    return real(file, argv);
}

HC_EXPORT int execvpe(const char *file, char *const argv[], char *const envp[])
{
    HC_REAL(real_execvpe, "execvpe", execvpe, NULL);
    __typeof__(real_execvpe) real = real_execvpe;
    flush_pending();
    return real(file, argv, envp);
}

HC_EXPORT int fexecve(int fd, char *const argv[], char *const envp[])
{
    HC_REAL(real_fexecve, "fexecve", fexecve, NULL);
    __typeof__(real_fexecve) real = real_fexecve;
    flush_pending();
    return real(fd, argv, envp);
}

HC_EXPORT int execveat(int dirfd, const char *path, char *const argv[], char *const envp[],
                       int flags)
{
    HC_REAL(real_execveat, "execveat", execveat, NULL);
    __typeof__(real_execveat) real = real_execveat;
    if (!real) {
        errno = ENOSYS;
        return -1;
    }
    flush_pending();
    return real(dirfd, path, argv, envp, flags);
}

/* execl, execlp, execle: the list becomes an array (as glibc does), then the
 * hooked array form flushes and execs. */
#define COLLECT(arg, argv, envp) \
    size_t argc_ = 1; \
    va_list ap_; \
    va_start(ap_, arg); \
    while (va_arg(ap_, char *)) \
        argc_++; \
    va_end(ap_); \
    if (argc_ > 1u << 20) { \
        errno = E2BIG; \
        return -1; \
    } \
    char *argv[argc_ + 1]; \
    va_start(ap_, arg); \
    argv[0] = (char *)(arg); \
    for (size_t i_ = 1; i_ <= argc_; i_++) \
        argv[i_] = va_arg(ap_, char *); /* the last is the NULL */ \
    envp = va_arg(ap_, char **); \
    va_end(ap_)

HC_EXPORT int execl(const char *path, const char *arg, ...)
{
    char **envp_unused;
    COLLECT(arg, argv, envp_unused);
    (void)envp_unused;
    return execv(path, argv);
}

HC_EXPORT int execlp(const char *file, const char *arg, ...)
{
    char **envp_unused;
    COLLECT(arg, argv, envp_unused);
    (void)envp_unused;
    return execvp(file, argv);
}

HC_EXPORT int execle(const char *path, const char *arg, ...)
{
    char **envp;
    COLLECT(arg, argv, envp);
    return execve(path, argv, envp);
}

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

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <unistd.h>

#define FLUSH_MS 2000

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
    static void (*real)(int);
    HC_REAL(real, "_exit", _exit, NULL);
    flush_pending();
    real(status);
    __builtin_unreachable();
}

HC_EXPORT void _Exit(int status)
{
    static void (*real)(int);
    HC_REAL(real, "_Exit", _Exit, NULL);
    flush_pending();
    real(status);
    __builtin_unreachable();
}

HC_EXPORT void quick_exit(int status)
{
    static void (*real)(int);
    HC_REAL(real, "quick_exit", quick_exit, NULL);
    flush_pending();
    real(status);
    __builtin_unreachable();
}

HC_EXPORT int execve(const char *path, char *const argv[], char *const envp[])
{
    static int (*real)(const char *, char *const[], char *const[]);
    HC_REAL(real, "execve", execve, NULL);
    flush_pending();
    return real(path, argv, envp);
}

HC_EXPORT int execv(const char *path, char *const argv[])
{
    static int (*real)(const char *, char *const[]);
    HC_REAL(real, "execv", execv, NULL);
    flush_pending();
    return real(path, argv);
}

HC_EXPORT int execvp(const char *file, char *const argv[])
{
    static int (*real)(const char *, char *const[]);
    HC_REAL(real, "execvp", execvp, NULL);
    flush_pending();
    return real(file, argv);
}

HC_EXPORT int execvpe(const char *file, char *const argv[], char *const envp[])
{
    static int (*real)(const char *, char *const[], char *const[]);
    HC_REAL(real, "execvpe", execvpe, NULL);
    flush_pending();
    return real(file, argv, envp);
}

HC_EXPORT int fexecve(int fd, char *const argv[], char *const envp[])
{
    static int (*real)(int, char *const[], char *const[]);
    HC_REAL(real, "fexecve", fexecve, NULL);
    flush_pending();
    return real(fd, argv, envp);
}

HC_EXPORT int execveat(int dirfd, const char *path, char *const argv[], char *const envp[], int flags)
{
    static int (*real)(int, const char *, char *const[], char *const[], int);
    HC_REAL(real, "execveat", execveat, NULL);
    if (!real) {
        errno = ENOSYS;
        return -1;
    }
    flush_pending();
    return real(dirfd, path, argv, envp, flags);
}

/* execl, execlp, execle: the list becomes an array (as glibc does), then the
 * hooked array form flushes and execs. */
#define COLLECT(arg, argv, envp)                                     \
    size_t argc_ = 1;                                                \
    va_list ap_;                                                     \
    va_start(ap_, arg);                                              \
    while (va_arg(ap_, char *))                                      \
        argc_++;                                                     \
    va_end(ap_);                                                     \
    if (argc_ > 1u << 20) {                                          \
        errno = E2BIG;                                               \
        return -1;                                                   \
    }                                                                \
    char *argv[argc_ + 1];                                           \
    va_start(ap_, arg);                                              \
    argv[0] = (char *)(arg);                                         \
    for (size_t i_ = 1; i_ <= argc_; i_++)                           \
        argv[i_] = va_arg(ap_, char *); /* the last is the NULL */   \
    envp = va_arg(ap_, char **);                                     \
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

/* vfork_dup2.c — a library for fd_children.py: a vfork child (no atfork
 * handler runs, the parent's memory is shared) dup2's /dev/null onto every
 * number in [lo, hi), as a spawn helper arranging a child's descriptors
 * does, then _exits. Returns the child's exit status, or -1. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

int vfork_dup2(int lo, int hi)
{
    int null = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null < 0)
        return -1;
    pid_t pid = vfork();
    if (pid == 0) {
        for (int n = lo; n < hi; n++)
            if (n != null)
                dup2(null, n);
        _exit(0);
    }
    close(null);
    int st;
    if (pid < 0 || waitpid(pid, &st, 0) != pid)
        return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int debug_state = -1; /* -1 unknown, 0 off, 1 on */
static pthread_mutex_t once_lock = PTHREAD_MUTEX_INITIALIZER;
static const char *once_keys[64];
static int once_n;

bool hc_log_debug_enabled(void)
{
    int s = __atomic_load_n(&debug_state, __ATOMIC_RELAXED);
    if (s < 0) {
        const char *v = getenv("HC_DEBUG");
        s = v && *v && strcmp(v, "0") != 0;
        __atomic_store_n(&debug_state, s, __ATOMIC_RELAXED);
    }
    return s;
}

static void emit(const char *prefix, const char *fmt, va_list ap)
{
    char line[1024];
    int saved = errno;
    int n = snprintf(line, sizeof line, "hcshim[%d]: %s", (int)getpid(), prefix);
    if (n < 0 || (size_t)n >= sizeof line)
        n = 0;
    int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    if (m < 0)
        m = 0;
    size_t len = (size_t)n + (size_t)m;
    if (len > sizeof line - 2)
        len = sizeof line - 2;
    line[len++] = '\n';

    const char *path = getenv("HC_LOG");
    if (path && *path) {
        /* O_NONBLOCK: a FIFO nobody reads (or a full one) must not stop the
         * app; such a line goes to stderr instead. */
        int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NONBLOCK, 0600);
        if (fd >= 0) {
            ssize_t w = write(fd, line, len);
            (void)w;
            close(fd);
            errno = saved;
            return;
        }
    }
    struct stat st;
    if (fstat(2, &st) == 0 &&
        (S_ISCHR(st.st_mode) || S_ISFIFO(st.st_mode) || S_ISREG(st.st_mode))) {
        ssize_t w = write(2, line, len);
        (void)w;
    }
    errno = saved;
}

void hc_log_debug(const char *fmt, ...)
{
    if (!hc_log_debug_enabled())
        return;
    va_list ap;
    va_start(ap, fmt);
    emit("", fmt, ap);
    va_end(ap);
}

void hc_log_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    emit("", fmt, ap);
    va_end(ap);
}

void hc_log_warn_once(const char *key, const char *fmt, ...)
{
    int seen = 0;
    pthread_mutex_lock(&once_lock);
    for (int i = 0; i < once_n; i++)
        if (strcmp(once_keys[i], key) == 0) {
            seen = 1;
            break;
        }
    if (!seen && once_n < (int)(sizeof once_keys / sizeof once_keys[0]))
        once_keys[once_n++] = key;
    pthread_mutex_unlock(&once_lock);
    if (seen)
        return;
    va_list ap;
    va_start(ap, fmt);
    emit("", fmt, ap);
    va_end(ap);
}

int hc_log_warned(void)
{
    pthread_mutex_lock(&once_lock);
    int n = once_n;
    pthread_mutex_unlock(&once_lock);
    return n;
}

void hc_log_atfork_child(void)
{
    pthread_mutex_init(&once_lock, NULL);
    once_n = 0;
}

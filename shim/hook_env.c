/* hook_env.c — setenv/putenv/unsetenv: follow PYTEST_CURRENT_TEST safely.
 *
 * DESIGN
 * - Under pytest every LLM call is recorded with the test that made it
 *   (property "test"), read when the request arrives. The gateway thread may
 *   not read the environment for that: getenv() races with the app's own
 *   setenv() (pytest sets the variable through os.environ → setenv() before
 *   each phase of every test), which may move or free the environ array while
 *   we read it; /proc/self/environ does not change after exec at all.
 * - So the hooks watch the one variable as the app sets it: each hook calls
 *   libc first (the app gets exactly libc's answer and errno), and when the
 *   name is PYTEST_CURRENT_TEST, copies the new value into a buffer of ours.
 *   The constructor copies the inherited value (a subprocess of a test).
 * - The buffer is a seqlock: writers (rare; one at a time through a spin
 *   flag) bump the sequence to odd, copy, bump to even; readers (gateway
 *   threads) copy and retry while it moved, a bounded number of times, then
 *   give up (no "test" property: fail open). After fork the child resets the
 *   flag and the sequence (a writer thread of the parent does not exist there).
 * - setenv(VAR, v, overwrite) stores v itself, never getenv(VAR) afterwards:
 *   getenv takes no lock, and another thread's setenv of any variable may
 *   reallocate environ under it. With overwrite == 0 the copy changes only if
 *   the variable was absent, judged by our own copy (`present`).
 * - Cost: one strcmp-like check per setenv/putenv/unsetenv; nothing else.
 */
#include "real.h"
#include "shim.h"

#include <stdlib.h>
#include <string.h>

#define VAR     "PYTEST_CURRENT_TEST"
#define VAR_LEN (sizeof VAR - 1)

static char value[512]; /* guarded by seq (seqlock); "" when unset */
static unsigned seq;    /* atomic: odd while a writer copies */
static int writing;     /* atomic spin flag: one writer at a time */
static int present;     /* guarded by writing: set, even to "" (the overwrite == 0 case) */

/* The real functions, resolved on first use or, at the latest, before a fork
 * (hc_env_resolve from the atfork prepare handler): a forked child of a
 * threaded program must not call dlsym (another thread may have held the
 * loader's lock at the fork), and children set variables before they exec. */
static int (*real_setenv)(const char *, const char *, int);
static int (*real_putenv)(char *);
static int (*real_unsetenv)(const char *);
static int (*real_clearenv)(void);

void hc_env_resolve(void)
{
    HC_REAL(real_setenv, "setenv", setenv, NULL);
    HC_REAL(real_putenv, "putenv", putenv, NULL);
    HC_REAL(real_unsetenv, "unsetenv", unsetenv, NULL);
    HC_REAL(real_clearenv, "clearenv", clearenv, NULL);
}

static void store(const char *v)
{
    while (__atomic_exchange_n(&writing, 1, __ATOMIC_ACQUIRE))
        ;
    __atomic_fetch_add(&seq, 1, __ATOMIC_ACQ_REL);
    size_t n = v ? strlen(v) : 0;
    if (n >= sizeof value)
        n = sizeof value - 1;
    for (size_t i = 0; i < n; i++)
        __atomic_store_n(&value[i], v[i], __ATOMIC_RELAXED);
    __atomic_store_n(&value[n], 0, __ATOMIC_RELAXED);
    present = v != NULL;
    __atomic_fetch_add(&seq, 1, __ATOMIC_ACQ_REL);
    __atomic_store_n(&writing, 0, __ATOMIC_RELEASE);
}

size_t hc_env_current_test(char *out, size_t size)
{
    if (!size)
        return 0;
    for (int tries = 0; tries < 64; tries++) {
        unsigned s = __atomic_load_n(&seq, __ATOMIC_ACQUIRE);
        if (s & 1)
            continue;
        size_t n = 0;
        for (; n + 1 < size && n < sizeof value; n++) {
            char ch = __atomic_load_n(&value[n], __ATOMIC_RELAXED);
            if (!ch)
                break;
            out[n] = ch;
        }
        out[n] = 0;
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        if (__atomic_load_n(&seq, __ATOMIC_RELAXED) == s)
            return n;
    }
    out[0] = 0;
    return 0;
}

void hc_env_init(void)
{
    store(getenv(VAR)); /* constructor: no other thread yet */
}

void hc_env_atfork_child(void)
{
    __atomic_store_n(&writing, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&seq, (__atomic_load_n(&seq, __ATOMIC_RELAXED) + 1) & ~1u, __ATOMIC_RELEASE);
}

HC_EXPORT int setenv(const char *name, const char *val, int overwrite)
{
    HC_REAL(real_setenv, "setenv", setenv, NULL);
    __typeof__(real_setenv) real = real_setenv;
    int rc = real(name, val, overwrite); /* rc 0: name was valid (libc refuses NULL with EINVAL) */
    /* no getenv: outside libc's lock, a concurrent setenv may move environ under it */
    if (rc == 0 && strcmp(name, VAR) == 0 && (overwrite || !present))
        store(val);
    return rc;
}

HC_EXPORT int putenv(char *s)
{
    HC_REAL(real_putenv, "putenv", putenv, NULL);
    __typeof__(real_putenv) real = real_putenv;
    int rc = real(s);
    if (rc == 0 && strncmp(s, VAR, VAR_LEN) == 0 && (s[VAR_LEN] == '=' || s[VAR_LEN] == 0))
        store(s[VAR_LEN] == '=' ? s + VAR_LEN + 1 : NULL); /* glibc: "NAME" alone unsets */
    return rc;
}

HC_EXPORT int unsetenv(const char *name)
{
    HC_REAL(real_unsetenv, "unsetenv", unsetenv, NULL);
    __typeof__(real_unsetenv) real = real_unsetenv;
    int rc = real(name);
    if (rc == 0 && strcmp(name, VAR) == 0)
        store(NULL);
    return rc;
}

HC_EXPORT int clearenv(void)
{
    HC_REAL(real_clearenv, "clearenv", clearenv, NULL);
    __typeof__(real_clearenv) real = real_clearenv;
    int rc = real();
    if (rc == 0)
        store(NULL);
    return rc;
}

/* test_core_shared.c — core/shared.c (HC_SHARED) through ratelimit.h, against a
 * real redis-server started here on 127.0.0.1 (own port, no persistence).
 *
 * - A window of quota 5 shared by this process and a forked child with its own
 *   store: 5 takes allowed in total, whoever takes them; the child dials its
 *   own connection (never its parent's socket).
 * - Totals: INCRBY's before/after; a total read back from another store.
 * - Redis killed: window and total operations fall back to the local store,
 *   and the following ones too.
 * - A fake server that dribbles one byte every 49 ms (each wait within
 *   HC_SHARED_TIMEOUT_MS, the answer never complete): the call gives up
 *   within the round trip's deadline (2 timeouts), and the next call, right
 *   after, finds Redis marked down (the second counted from the end of the
 *   attempt) and returns at once.
 * With HC_BENCH set, prints (as # lines, never asserted) the cost of one
 * window operation in the local store and through Redis, and a bare PING.
 * Skips (TAP SKIP) when redis-server cannot be started.
 */
#include "ratelimit.h"
#include "err.h"
#include "store.h"
#include "t.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t l = sizeof a;
    bind(fd, (struct sockaddr *)&a, sizeof a);
    getsockname(fd, (struct sockaddr *)&a, &l);
    close(fd);
    return ntohs(a.sin_port);
}

static int dial(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET,
                             .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

static bool ping(int fd)
{
    char buf[16];
    return write(fd, "*1\r\n$4\r\nPING\r\n", 14) == 14 && read(fd, buf, sizeof buf) == 7;
}

static hc_store *open_store(const char *dir)
{
    hc_store *s = NULL;
    char err[256];
    return hc_store_open(dir, 0, &s, err, sizeof err) == 0 ? s : NULL;
}

/* Accept connections on lfd; on each, once a command arrives, send ':' and
 * then one digit every 49 ms (a reply line that never ends) until the peer
 * goes. */
static void dribble_server(int lfd)
{
    signal(SIGPIPE, SIG_IGN);
    for (;;) {
        int c = accept(lfd, NULL, NULL);
        if (c < 0)
            _exit(0);
        char buf[512];
        if (read(c, buf, sizeof buf) > 0 && write(c, ":", 1) == 1)
            while (write(c, "1", 1) == 1)
                usleep(49000);
        close(c);
    }
}

/* In a child (HC_SHARED is read once per process): 0 if both calls return
 * in time. */
static int dribble_child(const char *dir, int port)
{
    alarm(20); /* before the fix: ~200 s */
    char url[64];
    snprintf(url, sizeof url, "redis://127.0.0.1:%d", port);
    setenv("HC_SHARED", url, 1);
    setenv("HC_SHARED_TIMEOUT_MS", "600", 1);
    hc_store *s = open_store(dir);
    if (!s)
        return 10;
    bool a = false;
    uint64_t u = 0;
    double t0 = now_s();
    hc_window_take(s,
                   "rl\x1f"
                   "drib",
                   60000000, 5, 1, 1800000000LL * 1000000, &a, &u);
    double first = now_s() - t0;
    t0 = now_s();
    hc_window_take(s,
                   "rl\x1f"
                   "drib",
                   60000000, 5, 1, 1800000000LL * 1000000, &a, &u);
    double second = now_s() - t0;
    printf("# dribbling server: first call %.2f s, second %.3f s\n", first, second);
    fflush(stdout);
    hc_store_close(s);
    if (first > 1.2 + 1.0) /* deadline 2 x 600 ms, plus slack */
        return 1;
    if (second > 0.3) /* down: straight to the local store */
        return 2;
    return 0;
}

int main(void)
{
    {
        int lfd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t l = sizeof a;
        bind(lfd, (struct sockaddr *)&a, sizeof a);
        listen(lfd, 8);
        getsockname(lfd, (struct sockaddr *)&a, &l);
        pid_t srv = fork();
        if (srv == 0) {
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            dribble_server(lfd);
        }
        close(lfd);
        char dd[] = "/tmp/hc-shared-drib-XXXXXX";
        if (!mkdtemp(dd))
            return 1;
        pid_t c = fork();
        if (c == 0)
            _exit(dribble_child(dd, ntohs(a.sin_port)));
        int cst = 0;
        waitpid(c, &cst, 0);
        T_CHECK(WIFEXITED(cst) && WEXITSTATUS(cst) == 0,
                "a server dribbling a byte per wait: the call gives up within 2 timeouts and the "
                "next is local "
                "at once (status %d)",
                cst);
        kill(srv, SIGKILL);
        waitpid(srv, NULL, 0);
        char rm[128];
        snprintf(rm, sizeof rm, "rm -rf %s", dd);
        if (system(rm) != 0)
            printf("# could not remove %s\n", dd);
    }
    int port = free_port();
    char portstr[8], tmp[] = "/tmp/hc-shared-XXXXXX";
    snprintf(portstr, sizeof portstr, "%d", port);
    if (!mkdtemp(tmp))
        return 1;
    pid_t redis = fork();
    if (redis == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive a crashed test */
        int devnull = open("/dev/null", 1);
        dup2(devnull, 1);
        dup2(devnull, 2);
        execlp("redis-server", "redis-server", "--port", portstr, "--bind", "127.0.0.1", "--save",
               "", "--appendonly", "no", "--dir", tmp, (char *)NULL);
        _exit(127);
    }
    int pfd = -1;
    for (int i = 0; i < 100 && pfd < 0; i++) {
        pfd = dial(port);
        if (pfd < 0 || !ping(pfd)) {
            if (pfd >= 0)
                close(pfd);
            pfd = -1;
            usleep(50000);
        }
    }
    if (pfd < 0) {
        printf("ok 1 - # SKIP redis-server cannot be started\n1..1\n");
        kill(redis, SIGKILL);
        waitpid(redis, NULL, 0);
        return 0;
    }
    char d1[300], d2[300], url[64];
    snprintf(d1, sizeof d1, "%s/a", tmp);
    snprintf(d2, sizeof d2, "%s/b", tmp);
    snprintf(url, sizeof url, "redis://127.0.0.1:%d/5", port);
    const char *bench = getenv("HC_BENCH");
    int64_t now = 1800000000LL * 1000000;

    /* Local cost of a window operation, measured in a child without HC_SHARED. */
    if (bench) {
        pid_t c = fork();
        if (c == 0) {
            char dl[300];
            snprintf(dl, sizeof dl, "%s/local", tmp);
            hc_store *s = open_store(dl);
            bool ok;
            uint64_t used;
            int n = 5000;
            double t0 = now_s();
            for (int i = 0; i < n; i++)
                hc_window_take(s,
                               "rl\x1f"
                               "bench",
                               60000000, 1000000000, 1, now, &ok, &used);
            printf("# bench: one window check-and-take in the local store: %.1f us\n",
                   (now_s() - t0) / n * 1e6);
            fflush(stdout);
            hc_store_close(s);
            _exit(0);
        }
        waitpid(c, NULL, 0);
    }

    setenv("HC_SHARED", url, 1);
    setenv("HC_SHARED_TIMEOUT_MS", "2000", 1);
    hc_store *s1 = open_store(d1);
    T_CHECK(s1 != NULL, "store a opened");
    bool allowed = false;
    uint64_t used = 0;
    int granted = 0;
    for (int i = 0; i < 3; i++) {
        T_EQ_INT(hc_window_take(s1, "rl\x1fq5", 60000000, 5, 1, now, &allowed, &used), 0,
                 "take %d answered", i);
        granted += allowed;
    }
    T_EQ_INT(used, 3, "three taken, the window says 3");
    pid_t child = fork();
    if (child == 0) {
        /* Another process, another store: the same shared window. */
        hc_store *s2 = open_store(d2);
        int g = 0;
        for (int i = 0; i < 4; i++) {
            bool a = false;
            uint64_t u = 0;
            if (hc_window_take(s2, "rl\x1fq5", 60000000, 5, 1, now, &a, &u) == 0 && a)
                g++;
        }
        uint64_t before = 0, after = 0;
        hc_total_add(s2, "bu\x1ftest", 700, &before, &after);
        _exit(g == 2 && before == 0 && after == 700 ? 0 : 1);
    }
    int st = 0;
    waitpid(child, &st, 0);
    T_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0,
            "a forked child with its own store got exactly the 2 remaining takes and added 700 to "
            "a total");
    T_EQ_INT(hc_window_take(s1, "rl\x1fq5", 60000000, 5, 1, now, &allowed, &used), 0,
             "a sixth take answered");
    T_CHECK(!allowed && used == 5, "the sixth take is refused: 5 in the fleet's window");
    uint64_t total = 0, before = 0, after = 0;
    T_EQ_INT(hc_total_get(s1, "bu\x1ftest", &total), 0, "total read");
    T_EQ_INT(total, 700, "the child's spend is visible from the other store");
    hc_total_add(s1, "bu\x1ftest", 300, &before, &after);
    T_CHECK(before == 700 && after == 1000, "add: before 700, after 1000 (one crossing per add)");
    uint64_t local = 0;
    hc_store_close(s1);
    unsetenv("HC_SHARED");

    if (bench) {
        hc_store *sb = open_store(d1);
        bool ok;
        uint64_t u;
        int n = 5000;
        double t0 = now_s();
        for (int i = 0; i < n; i++)
            hc_window_take(sb,
                           "rl\x1f"
                           "bench",
                           60000000, 1000000000, 1, now, &ok, &u);
        printf("# bench: one window check-and-take through HC_SHARED (Redis): %.1f us\n",
               (now_s() - t0) / n * 1e6);
        t0 = now_s();
        for (int i = 0; i < n; i++)
            ping(pfd);
        printf("# bench: one bare Redis round trip (PING): %.1f us\n", (now_s() - t0) / n * 1e6);
        hc_store_close(sb);
    }
    close(pfd);

    /* Redis gone: the local store answers, and quickly. */
    kill(redis, SIGKILL);
    waitpid(redis, NULL, 0);
    s1 = open_store(d1);
    T_EQ_INT(hc_window_take(s1,
                            "rl\x1f"
                            "down",
                            60000000, 2, 1, now, &allowed, &used),
             0, "Redis down: the window operation is answered (by the local store)");
    T_CHECK(allowed && used == 1, "a fresh local window: allowed, 1 used");
    for (int i = 0; i < 50; i++)
        hc_window_take(s1,
                       "rl\x1f"
                       "down2",
                       60000000, 1000, 1, now, &allowed, &used);
    T_EQ_INT(used, 50, "50 more operations all counted in the local store");
    T_EQ_INT(hc_total_get(s1, "bu\x1ftest", &local), 0,
             "a total read falls back to the store (policy local)");
    T_EQ_INT(local, 0, "the local total is the store's own (0)");
    hc_store_close(s1);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    if (system(cmd) != 0)
        printf("# could not remove %s\n", tmp);
    return t_done();
}

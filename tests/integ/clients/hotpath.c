/* hotpath.c — connect() and getpeername() on the shim's hot path.
 *
 *   hotpath plain PORT      an AF_UNIX connect, then an AF_INET connect to
 *                           127.0.0.1:PORT (not an LLM host); prints "done"
 *   hotpath seccomp PORT    the same under a seccomp filter that kills the
 *                           process on process_vm_readv/writev (as systemd's
 *                           SystemCallFilter= or a browser sandbox does), then
 *                           a connect to api.openai.com:443 (routed, so
 *                           redirected to the gateway) and getpeername on it
 *   hotpath signal PORT     the main thread connects in a loop while a timer
 *                           signal's handler connects too, for 2 s; prints
 *                           the number of handler connects
 */
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <netdb.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static int port;

static void inet_connect(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((unsigned short)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int saved = errno;
    connect(fd, (struct sockaddr *)&a, sizeof a);
    close(fd);
    errno = saved;
}

static void plain(void)
{
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un u;
    memset(&u, 0, sizeof u);
    u.sun_family = AF_UNIX;
    strcpy(u.sun_path, "/nonexistent/hotpath.sock");
    int rc = connect(fd, (struct sockaddr *)&u, sizeof u);
    printf("unix connect: %d %s\n", rc, rc ? strerror(errno) : "");
    close(fd);
    inet_connect();
    printf("inet connect done\n");
}

static int no_vm_rw(void)
{
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_process_vm_readv, 2, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_process_vm_writev, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
    };
    struct sock_fprog prog = { (unsigned short)(sizeof f / sizeof f[0]), f };
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        return -1;
    return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog);
}

static void llm_connect(void)
{
    struct addrinfo h, *res = NULL;
    memset(&h, 0, sizeof h);
    h.ai_family = AF_INET;
    h.ai_socktype = SOCK_STREAM;
    int rc = getaddrinfo("api.openai.com", "443", &h, &res);
    if (rc != 0) {
        printf("llm lookup failed: %s\n", gai_strerror(rc));
        return;
    }
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    rc = connect(fd, res->ai_addr, res->ai_addrlen);
    printf("llm connect: %d\n", rc);
    struct sockaddr_storage ss;
    socklen_t l = sizeof ss;
    rc = getpeername(fd, (struct sockaddr *)&ss, &l);
    printf("llm getpeername: %d same=%d\n", rc,
           rc == 0 && memcmp(&((struct sockaddr_in *)&ss)->sin_addr,
                             &((struct sockaddr_in *)res->ai_addr)->sin_addr, 4) == 0);
    close(fd);
    freeaddrinfo(res);
}

static volatile long handled;

static void on_alarm(int sig)
{
    (void)sig;
    inet_connect();
    handled++;
}

static void signal_loop(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGALRM, &sa, NULL);
    struct itimerval it = { { 0, 200 }, { 0, 200 } };
    setitimer(ITIMER_REAL, &it, NULL);
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    long loops = 0;
    do {
        inet_connect();
        loops++;
        clock_gettime(CLOCK_MONOTONIC, &t);
    } while ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 < 2000);
    struct itimerval off = { { 0, 0 }, { 0, 0 } };
    setitimer(ITIMER_REAL, &off, NULL);
    printf("signal loop done: %ld loops, %ld handler connects\n", loops, (long)handled);
}

int main(int argc, char **argv)
{
    if (argc < 3)
        return 2;
    port = atoi(argv[2]);
    setvbuf(stdout, NULL, _IONBF, 0);
    if (strcmp(argv[1], "plain") == 0) {
        plain();
    } else if (strcmp(argv[1], "seccomp") == 0) {
        if (no_vm_rw() != 0) {
            printf("no seccomp: %s\n", strerror(errno));
            return 3;
        }
        plain();
        llm_connect();
    } else if (strcmp(argv[1], "signal") == 0) {
        signal_loop();
    } else {
        return 2;
    }
    printf("done\n");
    return 0;
}

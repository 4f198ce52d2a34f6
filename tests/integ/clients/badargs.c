/* badargs.c — hooked functions called with bad arguments, one case per line.
 *
 *   badargs HOST PORT     HOST: a name the shim routes (or an LLM host), PORT:
 *                         a port on 127.0.0.1 that accepts connections
 *
 * Each case runs in its own child process and prints "NAME: rc=R errno=E
 * [extra]" (errno "-" when rc is 0) or "NAME: killed by signal S" (glibc itself faults on some of
 * them). tests/integ/test_hooks_exact.py runs it without the shim and under
 * it, in every mode, and requires the same lines: hooks behave as libc.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *host;
static int port;

/* The address a lookup of host gives (the routed address under the shim). */
static struct sockaddr_in llm_addr(void)
{
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(443) };
    struct addrinfo hints = { .ai_family = AF_INET, .ai_socktype = SOCK_STREAM }, *res = NULL;
    if (getaddrinfo(host, "443", &hints, &res) == 0) {
        a = *(struct sockaddr_in *)res->ai_addr;
        freeaddrinfo(res);
    } else {
        inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
        a.sin_port = htons((unsigned short)port);
    }
    return a;
}

static int tcp(void) { return socket(AF_INET, SOCK_STREAM, 0); }

/* Each case returns the function's result; errno is printed after it. */
static int c_connect_badptr(char *x) { (void)x; return connect(tcp(), (const struct sockaddr *)(void *)1, 16); }
static int c_connect_null(char *x) { (void)x; return connect(tcp(), NULL, 16); }
static int c_connect_len0(char *x)
{
    (void)x;
    struct sockaddr_in a = llm_addr();
    return connect(tcp(), (struct sockaddr *)&a, 0);
}
static int c_connect_short(char *x)
{
    (void)x;
    struct sockaddr_in a = llm_addr();
    return connect(tcp(), (struct sockaddr *)&a, 8);
}
static int c_connect_huge(char *x)
{
    (void)x;
    struct sockaddr_in a = llm_addr();
    return connect(tcp(), (struct sockaddr *)&a, 100000);
}
static int c_connect_badfd(char *x)
{
    (void)x;
    struct sockaddr_in a = llm_addr();
    return connect(-1, (struct sockaddr *)&a, sizeof a);
}
static int c_connect_notsock(char *x)
{
    (void)x;
    int p[2];
    if (pipe(p) != 0)
        return -2;
    struct sockaddr_in a = llm_addr();
    return connect(p[0], (struct sockaddr *)&a, sizeof a);
}
static int c_connect_v6short(char *x)
{
    (void)x;
    struct sockaddr_in6 a = { .sin6_family = AF_INET6, .sin6_port = htons(443) };
    a.sin6_addr.s6_addr[10] = a.sin6_addr.s6_addr[11] = 0xff;
    struct sockaddr_in v4 = llm_addr();
    memcpy(&a.sin6_addr.s6_addr[12], &v4.sin_addr, 4);
    return connect(socket(AF_INET6, SOCK_STREAM, 0), (struct sockaddr *)&a, 20);
}
/* The last bytes of a mapping, then an unmapped page: a sockaddr_in6 that runs off it. */
static int c_connect_straddle(char *x)
{
    (void)x;
    long pg = sysconf(_SC_PAGESIZE);
    char *m = malloc((size_t)pg * 3);
    char *page = (char *)(((unsigned long)m + (unsigned long)pg - 1) & ~((unsigned long)pg - 1));
    struct sockaddr_in a = llm_addr();
    if (mprotect(page + pg, (size_t)pg, PROT_NONE) != 0)
        return -2;
    char *p = page + pg - sizeof a;
    memcpy(p, &a, sizeof a);
    return connect(tcp(), (struct sockaddr *)p, sizeof(struct sockaddr_in6));
}
static int c_getpeername_badaddr(char *x)
{
    (void)x;
    struct sockaddr_in a = llm_addr();
    int fd = tcp();
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0)
        return -2;
    socklen_t l = 16;
    return getpeername(fd, (struct sockaddr *)(void *)1, &l);
}
static int c_getpeername_badlen(char *x)
{
    (void)x;
    struct sockaddr_in a = llm_addr();
    int fd = tcp();
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0)
        return -2;
    struct sockaddr_storage ss;
    return getpeername(fd, (struct sockaddr *)&ss, (socklen_t *)(void *)1);
}
static int c_getpeername_nulllen(char *x)
{
    (void)x;
    struct sockaddr_in a = llm_addr();
    int fd = tcp();
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0)
        return -2;
    struct sockaddr_storage ss;
    return getpeername(fd, (struct sockaddr *)&ss, NULL);
}
static int c_getpeername_shortlen(char *x)
{
    struct sockaddr_in a = llm_addr();
    int fd = tcp();
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0)
        return -2;
    unsigned char buf[16];
    memset(buf, 0xAA, sizeof buf);
    socklen_t l = 4;
    int rc = getpeername(fd, (struct sockaddr *)buf, &l);
    sprintf(x, "len=%u family=%d tail=%02x", (unsigned)l, buf[0] | buf[1] << 8, buf[4]);
    return rc;
}
static int c_getpeername_neglen(char *x)
{
    (void)x;
    struct sockaddr_in a = llm_addr();
    int fd = tcp();
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0)
        return -2;
    struct sockaddr_storage ss;
    socklen_t l = (socklen_t)-1;
    return getpeername(fd, (struct sockaddr *)&ss, &l);
}
static int c_gai_nullres(char *x) { (void)x; return getaddrinfo(host, "443", NULL, NULL); }
static int c_gai_numerichost(char *x)
{
    (void)x;
    struct addrinfo h = { .ai_flags = AI_NUMERICHOST }, *res = NULL;
    int rc = getaddrinfo(host, "443", &h, &res);
    if (res)
        freeaddrinfo(res);
    return rc;
}
static int c_gai_badfamily(char *x)
{
    (void)x;
    struct addrinfo h = { .ai_family = 12345 }, *res = NULL;
    return getaddrinfo(host, "443", &h, &res);
}
static int c_gai_badflags(char *x)
{
    (void)x;
    struct addrinfo h = { .ai_flags = 0x40000000 }, *res = NULL;
    return getaddrinfo(host, "443", &h, &res);
}
static int c_gai_badservice(char *x)
{
    (void)x;
    struct addrinfo h = { .ai_socktype = SOCK_STREAM }, *res = NULL;
    return getaddrinfo(host, "no-such-service-name", &h, &res);
}
static int c_gai_badsocktype(char *x)
{
    (void)x;
    struct addrinfo h = { .ai_socktype = 12345 }, *res = NULL;
    return getaddrinfo(host, "443", &h, &res);
}
static int c_gai_nullnode(char *x) { (void)x; struct addrinfo *res = NULL; return getaddrinfo(NULL, NULL, NULL, &res); }
static int c_ghbn_r_erange(char *x)
{
    struct hostent h, *res = (struct hostent *)1;
    char buf[8];
    int herr = -1;
    int rc = gethostbyname_r(host, &h, buf, sizeof buf, &res, &herr);
    sprintf(x, "res=%s", res ? "set" : "NULL");
    return rc;
}
static int c_ghbn2_r_badfamily(char *x)
{
    (void)x;
    struct hostent h, *res = NULL;
    char buf[1024];
    int herr = 0;
    return gethostbyname2_r(host, 12345, &h, buf, sizeof buf, &res, &herr);
}
static int c_gai_a_badmode(char *x)
{
    (void)x;
    struct gaicb cb = { .ar_name = host }, *list[1] = { &cb };
    return getaddrinfo_a(77, list, 1, NULL);
}
static int c_gai_a_zero(char *x) { (void)x; return getaddrinfo_a(GAI_WAIT, NULL, 0, NULL); }

static const struct {
    const char *name;
    int (*fn)(char *);
} cases[] = {
    { "connect bad pointer", c_connect_badptr },
    { "connect NULL address", c_connect_null },
    { "connect length 0", c_connect_len0 },
    { "connect length 8 (short sockaddr_in)", c_connect_short },
    { "connect length 100000", c_connect_huge },
    { "connect fd -1", c_connect_badfd },
    { "connect on a pipe", c_connect_notsock },
    { "connect AF_INET6 length 20", c_connect_v6short },
    { "connect address running into an unmapped page", c_connect_straddle },
    { "getpeername bad address pointer", c_getpeername_badaddr },
    { "getpeername bad length pointer", c_getpeername_badlen },
    { "getpeername NULL length", c_getpeername_nulllen },
    { "getpeername length 4", c_getpeername_shortlen },
    { "getpeername length -1", c_getpeername_neglen },
    { "getaddrinfo NULL result pointer", c_gai_nullres },
    { "getaddrinfo AI_NUMERICHOST for a name", c_gai_numerichost },
    { "getaddrinfo bad family", c_gai_badfamily },
    { "getaddrinfo bad flags", c_gai_badflags },
    { "getaddrinfo unknown service", c_gai_badservice },
    { "getaddrinfo bad socktype", c_gai_badsocktype },
    { "getaddrinfo NULL node and service", c_gai_nullnode },
    { "gethostbyname_r 8-byte buffer", c_ghbn_r_erange },
    { "gethostbyname2_r bad family", c_ghbn2_r_badfamily },
    { "getaddrinfo_a bad mode", c_gai_a_badmode },
    { "getaddrinfo_a empty list", c_gai_a_zero },
};

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: badargs HOST PORT\n");
        return 2;
    }
    host = argv[1];
    port = atoi(argv[2]);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int p[2];
        if (pipe(p) != 0)
            return 2;
        fflush(stdout);
        pid_t pid = fork();
        if (pid == 0) {
            close(p[0]);
            char extra[256] = "";
            errno = 0;
            int rc = cases[i].fn(extra);
            int e = errno;
            char line[512];
            /* errno means something only when the call failed */
            int n = snprintf(line, sizeof line, "%s: rc=%d errno=%s %s\n", cases[i].name, rc,
                             rc == 0 ? "-" : e ? strerror(e) : "0", extra);
            if (write(p[1], line, (size_t)n) < 0)
                _exit(3);
            _exit(0);
        }
        close(p[1]);
        char buf[512];
        ssize_t n = read(p[0], buf, sizeof buf - 1);
        close(p[0]);
        int st = 0;
        waitpid(pid, &st, 0);
        if (n > 0) {
            buf[n] = '\0';
            fputs(buf, stdout);
        } else if (WIFSIGNALED(st)) {
            printf("%s: killed by signal %d\n", cases[i].name, WTERMSIG(st));
        } else {
            printf("%s: no answer (status %d)\n", cases[i].name, st);
        }
    }
    return 0;
}

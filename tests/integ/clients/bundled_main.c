/* bundled_main.c — an app that loads a library with its own OpenSSL
 * (bundled_tls.c, RTLD_LOCAL) and, with "sys", also uses the system OpenSSL
 * itself (like CPython's _ssl next to a wheel) when built -DWITH_SYSTEM
 * (-lssl -lcrypto); built without, the process has no system OpenSSL at all.
 *
 *   bundled_main LIB CA HOST IP PORT PATH [sys]
 * Prints "bundled: <status line or error>" and, with sys, "system: <...>"
 * from the same request through the system libssl. Exit 0 if the bundled
 * call worked, 1 if it failed cleanly, 2 on usage/load errors.
 */
#include <arpa/inet.h>
#include <dlfcn.h>
#include <netdb.h>
#ifdef WITH_SYSTEM
#include <openssl/ssl.h>
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

typedef int (*fetch_fn)(const char *, const char *, int, const char *, const char *, char *, size_t);

#ifdef WITH_SYSTEM
/* The same request through the system OpenSSL, by name (the shim's routing applies). */
static void system_fetch(const char *host, int port, const char *ca, const char *path, char *out, size_t size)
{
    char ps[16];
    snprintf(ps, sizeof ps, "%d", port);
    struct addrinfo hints = { .ai_family = AF_INET, .ai_socktype = SOCK_STREAM }, *res = NULL;
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    SSL_CTX_load_verify_locations(ctx, ca, NULL);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    int fd = -1;
    SSL *ssl = NULL;
    snprintf(out, size, "failed");
    if (getaddrinfo(host, ps, &hints, &res) != 0)
        goto done;
    fd = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(fd, res->ai_addr, res->ai_addrlen) != 0)
        goto done;
    ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
    SSL_set_tlsext_host_name(ssl, host);
    SSL_set1_host(ssl, host);
    if (SSL_connect(ssl) != 1) {
        snprintf(out, size, "handshake failed: %s", X509_verify_cert_error_string(SSL_get_verify_result(ssl)));
        goto done;
    }
    char req[512], buf[4096];
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", path, host);
    SSL_write(ssl, req, n);
    int have = 0, r;
    while (have < (int)sizeof buf - 1 && (r = SSL_read(ssl, buf + have, (int)sizeof buf - 1 - have)) > 0)
        have += r;
    buf[have] = '\0';
    char *eol = strstr(buf, "\r\n");
    if (eol)
        *eol = '\0';
    snprintf(out, size, "%s", buf);
done:
    if (ssl) {
        SSL_shutdown(ssl);
        SSL_free(ssl);
    }
    SSL_CTX_free(ctx);
    if (fd >= 0)
        close(fd);
    if (res)
        freeaddrinfo(res);
}
#endif

int main(int argc, char **argv)
{
    if (argc < 7) {
        fprintf(stderr, "usage: bundled_main LIB CA HOST IP PORT PATH [sys]\n");
        return 2;
    }
    char out[4096];
#ifdef WITH_SYSTEM
    if (argc > 7 && strcmp(argv[7], "sys") == 0) {
        system_fetch(argv[3], atoi(argv[5]), argv[2], argv[6], out, sizeof out);
        printf("system: %s\n", out);
    }
#endif
    void *h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        fprintf(stderr, "cannot load %s: %s\n", argv[1], dlerror());
        return 2;
    }
    fetch_fn f = (fetch_fn)dlsym(h, "bundled_fetch");
    if (!f)
        return 2;
    int rc = f(argv[3], argv[4], atoi(argv[5]), argv[2], argv[6], out, sizeof out);
    printf("bundled: %s\n", out);
    fflush(stdout);
    return rc == 0 ? 0 : 1;
}

/* bundled_tls.c — a library that carries its own OpenSSL, like a Python wheel
 * (psycopg2-binary's libpq → libssl-<hash>.so.3). Built by
 * tests/integ/test_hooks_exact.py against renamed copies of the system
 * libssl/libcrypto (other SONAME, other DT_NEEDED) and loaded RTLD_LOCAL by
 * bundled_main.c. Its calls to SSL_read/SSL_write, and libssl's own call to
 * X509_verify_cert, go through the PLT, so they meet the shim's hooks exactly
 * as a bundled OpenSSL's do.
 *
 * bundled_fetch(host, ip, port, ca, path, out, size): TLS to ip:port (ip "-":
 * host's first IPv4 address from getaddrinfo) with SNI and
 * host-name check `host`, verified against `ca` only; sends a GET /__mock/health
 * (or a POST of a chat completion when host is an LLM host) and copies the
 * status line into out. Returns 0, or -1 with the reason in out.
 */
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int bundled_fetch(const char *host, const char *ip, int port, const char *ca, const char *path, char *out,
                  size_t size);

int bundled_fetch(const char *host, const char *ip, int port, const char *ca, const char *path, char *out,
                  size_t size)
{
    int rc = -1, fd = -1;
    SSL_CTX *ctx = NULL;
    SSL *ssl = NULL;
    out[0] = '\0';
    ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx || SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1) {
        snprintf(out, size, "cannot set up the context");
        goto done;
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((unsigned short)port) };
    if (strcmp(ip, "-") == 0) {
        struct addrinfo hints = { .ai_family = AF_INET, .ai_socktype = SOCK_STREAM }, *res = NULL;
        if (getaddrinfo(host, NULL, &hints, &res) != 0) {
            snprintf(out, size, "cannot resolve %s", host);
            goto done;
        }
        a.sin_addr = ((struct sockaddr_in *)res->ai_addr)->sin_addr;
        freeaddrinfo(res);
    } else {
        inet_pton(AF_INET, ip, &a.sin_addr);
    }
    fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        snprintf(out, size, "connect failed");
        goto done;
    }
    ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
    SSL_set_tlsext_host_name(ssl, host);
    SSL_set1_host(ssl, host);
    if (SSL_connect(ssl) != 1) {
        long v = SSL_get_verify_result(ssl);
        snprintf(out, size, "handshake failed: %s", v != X509_V_OK ? X509_verify_cert_error_string(v) : "not a verify error");
        goto done;
    }
    char req[512];
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", path, host);
    if (SSL_write(ssl, req, n) != n) {
        snprintf(out, size, "write failed");
        goto done;
    }
    char buf[4096];
    size_t have = 0, got = 0;
    while (have < sizeof buf - 1 && SSL_read_ex(ssl, buf + have, sizeof buf - 1 - have, &got) == 1)
        have += got;
    buf[have] = '\0';
    char *eol = strstr(buf, "\r\n");
    if (eol)
        *eol = '\0';
    snprintf(out, size, "%s", buf);
    rc = 0;
done:
    if (ssl) {
        SSL_shutdown(ssl);
        SSL_free(ssl);
    }
    SSL_CTX_free(ctx);
    if (fd >= 0)
        close(fd);
    return rc;
}

/* bundled_main.c — an app that loads a library with its own OpenSSL
 * (bundled_tls.c, RTLD_LOCAL) and, with "sys", also uses the system OpenSSL
 * itself (like CPython's _ssl next to a wheel) when built -DWITH_SYSTEM
 * (-lssl -lcrypto); built without, the process has no system OpenSSL at all.
 *
 *   bundled_main LIB CA HOST IP PORT PATH [sys [PROMPT BODYFILE]]
 * Prints "bundled: <status line or error>" and, with sys, "system: <...>"
 * from the same request through the system libssl. With PROMPT, the system
 * OpenSSL's request is instead a chat completion (POST PATH, OpenAI format)
 * and the body of its answer (de-chunked) is written to BODYFILE.
 * BUNDLED_TARGET=HOST,IP,PORT,PATH in the environment sends the bundled
 * library's request elsewhere than the system OpenSSL's. Exit 0 if the bundled
 * call worked, 1 if it failed cleanly, 2 on usage/load errors.
 */
#define _GNU_SOURCE
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
/* Remove chunked framing in place; returns the new length. */
static size_t dechunk(char *b, size_t n)
{
    size_t in = 0, outp = 0;
    while (in < n) {
        char *end;
        unsigned long k = strtoul(b + in, &end, 16);
        char *eol = strstr(b + in, "\r\n");
        if (!eol || end == b + in)
            break;
        in = (size_t)(eol - b) + 2;
        if (k == 0 || in + k > n)
            break;
        memmove(b + outp, b + in, k);
        outp += k;
        in += k + 2;
    }
    return outp;
}

static void system_fetch(const char *host, int port, const char *ca, const char *path, const char *prompt,
                         const char *bodyfile, char *out, size_t size)
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
    static char req[2048], buf[65536];
    int n;
    if (prompt) {
        char body[1024];
        int bl = snprintf(body, sizeof body, "{\"model\": \"gpt-4o-mini\", \"messages\": [{\"role\": \"user\", "
                          "\"content\": \"%s\"}]}", prompt);
        n = snprintf(req, sizeof req, "POST %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\nContent-Type: "
                     "application/json\r\nAuthorization: Bearer sk-test-openai-SECRET-0123456789\r\n"
                     "Content-Length: %d\r\n\r\n%s", path, host, bl, body);
    } else {
        n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", path, host);
    }
    SSL_write(ssl, req, n);
    int have = 0, r;
    while (have < (int)sizeof buf - 1 && (r = SSL_read(ssl, buf + have, (int)sizeof buf - 1 - have)) > 0)
        have += r;
    buf[have] = '\0';
    char *sep = strstr(buf, "\r\n\r\n");
    if (prompt && bodyfile && sep) {
        *sep = '\0';
        char *body = sep + 4;
        size_t bl = (size_t)(buf + have - body);
        if (strcasestr(buf, "transfer-encoding: chunked"))
            bl = dechunk(body, bl);
        FILE *f = fopen(bodyfile, "wb");
        if (f) {
            fwrite(body, 1, bl, f);
            fclose(f);
        }
    }
    char *eol = strstr(buf, "\r\n");
    if (eol)
        *eol = '\0';
    snprintf(out, size, "%.200s", buf);
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
        fprintf(stderr, "usage: bundled_main LIB CA HOST IP PORT PATH [sys [PROMPT BODYFILE]]\n");
        return 2;
    }
    char out[4096];
#ifdef WITH_SYSTEM
    if (argc > 7 && strcmp(argv[7], "sys") == 0) {
        const char *prompt = argc > 9 ? argv[8] : NULL, *bodyfile = argc > 9 ? argv[9] : NULL;
        system_fetch(argv[3], atoi(argv[5]), argv[2], prompt ? "/v1/chat/completions" : argv[6], prompt, bodyfile,
                     out, sizeof out);
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
    char target[512];
    const char *th = argv[3], *ip = argv[4], *port = argv[5], *path = argv[6], *t = getenv("BUNDLED_TARGET");
    if (t && snprintf(target, sizeof target, "%s", t) < (int)sizeof target) {
        char *save = NULL;
        th = strtok_r(target, ",", &save);
        ip = strtok_r(NULL, ",", &save);
        port = strtok_r(NULL, ",", &save);
        path = strtok_r(NULL, ",", &save);
        if (!th || !ip || !port || !path)
            return 2;
    }
    int rc = f(th, ip, atoi(port), argv[2], path, out, sizeof out);
    printf("bundled: %s\n", out);
    fflush(stdout);
    return rc == 0 ? 0 : 1;
}

/* exit_call.c — an LLM call from an exit handler.
 *
 *   exit_call [cxx]   OPENSSL_init_ssl, then atexit(late), then one HTTPS
 *                     request to api.openai.com in main; late() makes
 *                     another. Each prints "<who>: <status line>" or
 *                     "<who>: error ...". The shim's own exit handler is
 *                     registered at its start (the first request), so it
 *                     runs before late().
 */
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void call(const char *who)
{
    const char *host = "api.openai.com";
    const char *body = "{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
    struct addrinfo h, *res = NULL;
    memset(&h, 0, sizeof h);
    h.ai_family = AF_UNSPEC;
    h.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(host, "443", &h, &res) != 0) {
        printf("%s: error lookup\n", who);
        return;
    }
    int fd = socket(res->ai_family, SOCK_STREAM, 0);
    if (connect(fd, res->ai_addr, res->ai_addrlen) != 0) {
        printf("%s: error connect\n", who);
        freeaddrinfo(res);
        close(fd);
        return;
    }
    freeaddrinfo(res);
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_default_verify_paths(ctx);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    SSL *ssl = SSL_new(ctx);
    SSL_set_tlsext_host_name(ssl, host);
    SSL_set1_host(ssl, host);
    SSL_set_fd(ssl, fd);
    char req[1024], buf[4096];
    snprintf(req, sizeof req,
             "POST /v1/chat/completions HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer sk-test\r\n"
             "Content-Type: application/json\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n%s",
             host, strlen(body), body);
    if (SSL_connect(ssl) != 1) {
        printf("%s: error handshake\n", who);
    } else if (SSL_write(ssl, req, (int)strlen(req)) <= 0) {
        printf("%s: error write\n", who);
    } else {
        int n = SSL_read(ssl, buf, sizeof buf - 1);
        if (n <= 0) {
            printf("%s: error read\n", who);
        } else {
            buf[n] = '\0';
            buf[strcspn(buf, "\r\n")] = '\0';
            printf("%s: %s\n", who, buf);
        }
        while (SSL_read(ssl, buf, sizeof buf) > 0)
            ;
    }
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    close(fd);
    fflush(stdout);
}

static void late(void)
{
    call("late");
}

int main(void)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    OPENSSL_init_ssl(0, NULL);
    atexit(late);
    call("main");
    return 0;
}

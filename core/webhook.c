#include "webhook.h"
#include "clock.h"
#include "config.h"
#include "core.h"
#include "err.h"
#include "io.h"
#include "log.h"
#include "thread.h"

#include <netdb.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define WEBHOOK_TIMEOUT_MS 10000

struct post {
    char *url, *json;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t done = PTHREAD_COND_INITIALIZER;
static int inflight; /* guarded by lock */

static void finish(void)
{
    pthread_mutex_lock(&lock);
    inflight--;
    pthread_cond_broadcast(&done);
    pthread_mutex_unlock(&lock);
}

static int send_post(const struct post *p, char *err, size_t errlen)
{
    hc_core *core = hc_core_get();
    hc_route r;
    memset(&r, 0, sizeof r);
    if (!core || hc_route_parse_url(p->url, &r) != 0) {
        snprintf(err, errlen, "not an http(s) URL");
        return HC_EINVAL;
    }
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *res = NULL;
    char port[8];
    snprintf(port, sizeof port, "%d", r.port);
    if (core->shim->getaddrinfo(r.target, port, &hints, &res) != 0 || !res) {
        snprintf(err, errlen, "cannot resolve %s", r.target);
        return HC_ECONNECT;
    }
    int fd = hc_io_connect(res->ai_addr, res->ai_addrlen, WEBHOOK_TIMEOUT_MS, -1);
    core->shim->freeaddrinfo(res);
    if (fd < 0) {
        snprintf(err, errlen, "cannot connect");
        return HC_ECONNECT;
    }
    SSL *ssl = NULL;
    if (r.tls) {
        ssl = SSL_new(core->client_ctx);
        if (!ssl) {
            close(fd);
            return HC_ETLS;
        }
        SSL_set_tlsext_host_name(ssl, r.target);
        X509_VERIFY_PARAM_set1_host(SSL_get0_param(ssl), r.target, 0);
        SSL_set_fd(ssl, fd);
    }
    hc_io io;
    hc_io_init(&io, fd, ssl, WEBHOOK_TIMEOUT_MS);
    const char *why;
    int rc = 0;
    if (ssl && hc_io_connect_tls(&io, &why) != 0) {
        snprintf(err, errlen, "TLS: %s", why);
        rc = HC_ETLS;
    } else {
        hc_buf req = HC_BUF_INIT;
        hc_buf_printf(&req, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
                            "User-Agent: hcshim\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n%s",
                      r.prefix[0] ? r.prefix : "/", r.authority, strlen(p->json), p->json);
        char line[64];
        long n;
        if (hc_io_write(&io, req.data, req.len) != 0 || (n = hc_io_read(&io, line, sizeof line - 1)) <= 0) {
            snprintf(err, errlen, "no answer");
            rc = HC_EIO;
        } else {
            line[n] = '\0';
            if (strncmp(line, "HTTP/1.", 7) != 0 || line[9] != '2') {
                snprintf(err, errlen, "answered %.12s", line);
                rc = HC_EIO;
            }
        }
        hc_buf_free(&req);
    }
    hc_io_close(&io);
    return rc;
}

static void *post_main(void *arg)
{
    struct post *p = arg;
    hc_core *core = hc_core_get();
    if (core)
        core->shim->guard_thread();
    char err[160] = "";
    if (send_post(p, err, sizeof err) != 0)
        hc_log_error("budget webhook %s failed: %s", p->url, err);
    free(p->url);
    free(p->json);
    free(p);
    finish();
    return NULL;
}

void hc_webhook_post(const char *url, const char *json)
{
    struct post *p = calloc(1, sizeof *p);
    if (!p || !(p->url = strdup(url)) || !(p->json = strdup(json))) {
        if (p) {
            free(p->url);
            free(p);
        }
        return;
    }
    pthread_mutex_lock(&lock);
    inflight++;
    pthread_mutex_unlock(&lock);
    if (hc_thread_spawn(post_main, p) != 0) {
        free(p->url);
        free(p->json);
        free(p);
        finish();
    }
}

void hc_webhook_flush(int timeout_ms)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += timeout_ms / 1000;
    until.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
    if (until.tv_nsec >= 1000000000) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000;
    }
    if (pthread_mutex_timedlock(&lock, &until) != 0)
        return; /* see hc_recorder_flush: may run in a signal handler */
    while (inflight > 0)
        if (pthread_cond_timedwait(&done, &lock, &until) != 0)
            break;
    pthread_mutex_unlock(&lock);
}

void hc_webhook_atfork_child(void)
{
    pthread_mutex_init(&lock, NULL);
    pthread_cond_init(&done, NULL);
    inflight = 0;
}

/* upstream.h — the gateway's own connection to the provider.
 *
 * A target is where one request goes: the route for the host (HC_ROUTE), or
 * else the very address the app was connecting to (so no second DNS lookup
 * and no surprise: same server the app would have reached). TLS upstreams are
 * verified as strictly as the app would have verified them, never less:
 * system trust store (honouring SSL_CERT_FILE / SSL_CERT_DIR) plus HC_CA_FILE,
 * host name checked, TLS >= 1.2. A verification failure is an error the app
 * sees (502), never a silent downgrade.
 *
 * An hc_upstream is one kept-alive connection owned by a connection thread;
 * it is reused for the next request to the same target and reopened when the
 * server closed it in between.
 */
#ifndef HC_CORE_UPSTREAM_H
#define HC_CORE_UPSTREAM_H

#include <stdbool.h>
#include <sys/socket.h>

#include "buf.h"
#include "core.h"
#include "gateway.h"
#include "io.h"

typedef struct hc_target {
    bool tls;
    char name[256];      /* TLS server name / name to verify */
    char authority[300]; /* Host header to send; "" = keep the app's */
    char prefix[256];    /* path prefix (routes) */
    int port;
    char url[400]; /* "https://api.openai.com:443", for records and errors */
    bool routed;
    const hc_origin *origin; /* when not routed: connect to origin->dst */
} hc_target;

typedef struct hc_upstream {
    hc_io io;        /* io.fd < 0: no connection */
    char key[420];   /* target url the connection is for */
    hc_buf in;       /* bytes read from it, not yet consumed */
    int requests;    /* requests sent on this connection */
    bool reused;     /* the current request reuses a kept-alive connection */
    bool can_resend; /* set by the caller: a failed send on a reused connection can be redone */
    int64_t last_used_us; /* monotonic: when a request last went out on it */
} hc_upstream;

/* Target for a request to `host` on a connection the app opened to origin
 * (client_tls: the app spoke TLS). */
void hc_target_for(hc_core *core, const hc_origin *origin, const char *host, bool client_tls,
                   hc_target *t);

/* Make u connected to t (reusing it if it is connected to t and still open).
 * cancel_fd: the app's socket (waits end if it hangs up). 0, or HC_ECONNECT /
 * HC_ETLS / HC_ETIMEDOUT / HC_ECANCELED with a reason in err. */
int hc_upstream_open(hc_core *core, hc_upstream *u, const hc_target *t, int cancel_fd, char *err,
                     size_t errlen);
void hc_upstream_close(hc_upstream *u);
void hc_upstream_free(hc_upstream *u);

/* A client TLS session on the connected socket fd, from ctx (hc_upstream_ctx_new),
 * that verifies the server as `name`: a host name is sent as SNI and checked against
 * the certificate's DNS names (no partial wildcards); an IP literal ("127.0.0.1",
 * "::1", no brackets) sends no SNI (RFC 6066) and is checked against its IP address
 * entries. The one place the gateway, OTLP push and webhooks set what they verify.
 * Returns the session (the caller owns it; fd stays the caller's to close), or NULL
 * with a reason in err (no session, or a name OpenSSL refuses: never connect then).
 * Thread-safe. */
SSL *hc_upstream_tls_session(SSL_CTX *ctx, int fd, const char *name, char *err, size_t errlen);

/* Create the verifying client SSL_CTX (config: HC_CA_FILE). NULL on failure. */
SSL_CTX *hc_upstream_ctx_new(const hc_config *cfg, char *err, size_t errlen);

#endif

/* core_api.h — the contract between libhcshim.so (the hooks) and libhcshim-core.so.
 *
 * Why two libraries: libhcshim.so is preloaded into every process of a CI job
 * (make, sh, cc, …). It links nothing but libc, so a process that never talks
 * to an LLM pays for a few symbol lookups and nothing else. The first time a
 * hook sees a connection to an LLM host, it dlopen()s libhcshim-core.so (which
 * brings OpenSSL, LMDB, cJSON, zstd) and calls hc_core_entry() once; from then
 * on the hooks hand their work to the core through the table below.
 *
 * Both tables are plain function pointers; every pointer is valid for the life
 * of the process (the core is loaded with RTLD_NODELETE and never unloaded).
 */
#ifndef HC_CORE_API_H
#define HC_CORE_API_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <netdb.h>

#define HC_CORE_API_VERSION 1

/* Routed hosts (HC_ROUTE) are answered by the hooks with synthetic addresses
 * 233.252.0.N (N = route index + 1): MCAST-TEST-NET (RFC 5771), a multicast
 * block reserved for documentation. A program that bypasses the connect hook
 * (Go's raw syscalls, a static binary) and dials one gets ENETUNREACH at once
 * — the kernel refuses TCP to a multicast address — instead of a SYN into the
 * void and a hang; and no real host can ever be reached by mistake. */
#define HC_SYNTHETIC_NET  0xE9FC0000u /* 233.252.0.0, host byte order */
#define HC_SYNTHETIC_MASK 0xFFFFFF00u /* /24 */

typedef struct x509_store_ctx_st X509_STORE_CTX_fwd;
typedef struct ssl_st SSL_fwd;

/* What the hooks give the core. */
typedef struct hc_shim_api {
    int version;
    /* The real libc functions (never our hooks). */
    int (*connect)(int, const struct sockaddr *, socklen_t);
    int (*getaddrinfo)(const char *, const char *, const struct addrinfo *, struct addrinfo **);
    void (*freeaddrinfo)(struct addrinfo *);
    int (*getpeername)(int, struct sockaddr *, socklen_t *);
    /* Mark the calling thread as the shim's own: its connects, lookups and TLS
     * calls pass through every hook untouched. Core threads call it first. */
    void (*guard_thread)(void);
    /* True if `host` (a name or an IP literal, no port) is an LLM host the
     * shim intercepts: built-in list, HC_HOSTS or HC_ROUTE. Thread-safe. */
    bool (*is_llm_host)(const char *host);
    /* The app's current PYTEST_CURRENT_TEST (followed through the app's
     * setenv/putenv/unsetenv, never read with getenv on a gateway thread),
     * copied into out; its length, 0 if none. Lock-free, any thread. */
    size_t (*current_test)(char *out, size_t size);
    /* Every LLM host name pattern, NULL-terminated ("api.openai.com",
     * ".openai.azure.com" for a suffix, "127.0.0.1" for an IP entry): the
     * names the per-process CA is constrained to. */
    const char *const *(*llm_host_patterns)(void);
    /* The core took descriptor fd (a socket it made, a store file): the hooks
     * keep it open when the app sweeps its descriptors, and refuse the
     * core's I/O on it once it names another file (fdown.h). Thread-safe. */
    void (*own_fd)(int fd);
    /* False once owned fd no longer names the file it named when owned (the
     * app replaced it with a raw close/dup2 system call); true otherwise. */
    bool (*fd_intact)(int fd);
    /* NULL if the gateway may terminate this process's TLS to `host` (the
     * app's TLS will trust it: trust.h); else why not — then the gateway
     * relays the connection untouched. Says so once on stderr. Thread-safe. */
    const char *(*tls_refusal)(const char *host);
} hc_shim_api;

/* What the core gives the hooks. */
typedef struct hc_core_api {
    int version;
    /* connect() of fd to an LLM destination `dst` (learned from a lookup of
     * `host`). The core connects fd to its gateway instead and returns what
     * connect would (0, or -1 with errno, e.g. EINPROGRESS for a non-blocking
     * socket). If the gateway cannot run, it connects fd to dst itself: the
     * app sees exactly the connect it asked for. */
    int (*connect)(int fd, const struct sockaddr *dst, socklen_t len, const char *host);
    /* getpeername() for fd: if fd was redirected, report the destination the
     * app asked for, and return 0; otherwise return 1 (caller does the real call). */
    int (*getpeername)(int fd, struct sockaddr *addr, socklen_t *len);
    /* X509_verify_cert() of the app's TLS: if the chain's leaf was issued by
     * this process's gateway CA, verify it against that CA only (all the app's
     * other checks — host name, purpose, callbacks — still apply); otherwise
     * return real(ctx) untouched. */
    int (*verify_cert)(X509_STORE_CTX_fwd *ctx, int (*real)(X509_STORE_CTX_fwd *));
    /* Write pending records before the process ends (exit, _exit). Waits at
     * most timeout_ms. Safe to call from any thread, more than once. */
    void (*flush)(int timeout_ms);
    /* Start the gateway if it is not running; true if it runs. The hooks ask
     * before answering a routed host's lookup with a synthetic address. */
    bool (*ready)(void);
    /* Observe mode (HC_MODE=observe): bytes that went through the app's own
     * SSL object (out = sent), after the app's call returned. */
    void (*observe_ssl)(SSL_fwd *ssl, bool out, const void *p, size_t n);
    /* Observe mode, plain HTTP: fd was connected to LLM host:port; start
     * following it. False if it will not be followed. */
    bool (*observe_fd_open)(int fd, const char *host, int port);
    /* Bytes on a followed fd; false: stop sending them (not HTTP/1.x). */
    bool (*observe_fd)(int fd, bool out, const void *p, size_t n);
    void (*observe_fd_close)(int fd);
    /* Gateway mode for programs with their own TLS (Node, Bun): make the
     * gateway's CA now (only the CA: the gateway itself starts at the first
     * LLM connection, with this CA) and write its certificate (public part
     * only) to a file readable by this user; returns its path (static
     * storage) or NULL. */
    const char *(*ca_file)(void);
    /* After fork, in the child (from the atfork handler): forget the parent's
     * threads, listener, store handle and locks; restart lazily on next use. */
    void (*atfork_child)(void);
} hc_core_api;

/* Exported by libhcshim-core.so. Returns NULL if the core cannot run in this
 * process (it has already logged why, once). Called once per process image. */
typedef const hc_core_api *(*hc_core_entry_fn)(const hc_shim_api *shim);
#define HC_CORE_ENTRY "hc_core_entry"

#endif

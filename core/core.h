/* core.h — the process-wide state of libhcshim-core.so.
 *
 * One hc_core exists per process image. It is created by the first redirected
 * connect (hc_core_start) and replaced, never reused, in a forked child: the
 * child's first redirected connect builds a fresh one (its own CA, listener,
 * threads and store handle) and the parent's is abandoned without being
 * touched — its locks may be held by threads that do not exist in the child.
 *
 * Field guards: fields marked "immutable" are written before any core thread
 * starts and only read afterwards. Subsystems (gateway, recorder, leaf cache)
 * have their own locks, documented in their headers.
 */
#ifndef HC_CORE_CORE_H
#define HC_CORE_CORE_H

#include <pthread.h>
#include <stdint.h>
#include <sys/types.h>

#include "budget.h"
#include "config.h"
#include "store.h"
#include "tally.h"
#include "../shim/core_api.h"

typedef struct ssl_ctx_st SSL_CTX;
struct hc_ca;
struct hc_gateway;
struct hc_recorder;
struct hc_record;

typedef struct hc_core {
    pid_t pid;                  /* immutable: the process this state belongs to */
    const hc_shim_api *shim;    /* immutable: real functions, guard (from the hooks) */
    hc_config cfg;              /* immutable */
    struct hc_ca *ca;           /* immutable pointer; leaf cache locked inside */
    SSL_CTX *server_ctx;        /* immutable: TLS server for the app's connections */
    SSL_CTX *client_ctx;        /* immutable: TLS client for upstreams (verifying) */
    struct hc_gateway *gw;      /* atomic pointer, registry locked inside; replaced
                                      * (under start_lock) when the app takes its listener */
    struct hc_gateway *gw_prev; /* the replaced one (its connections' getpeername) */
    struct hc_recorder *rec;    /* immutable pointer; queue locked inside */
    struct hc_otlp_push
        *otlp; /* immutable pointer (NULL: no OpenTelemetry export); locked inside */
    /* Set once before traffic by hc-gateway (its exchange log), NULL in the
     * shim: called on the exchange's thread with each finished record, just
     * before it is queued. Must not block or keep r. */
    void (*on_record)(const struct hc_record *r);
    /* Set once before traffic by hc-gateway, NULL in the shim. admit: for
     * each plain-HTTP request to its base URL (HC_UNIFIED_LOCAL_HOST), the
     * reason to refuse it with 403 (a web page, a rebound DNS name), or NULL;
     * checked per request because a keep-alive connection carries many.
     * private_header: true for a request header that must never go upstream
     * (the gateway's own token). Both are called on the exchange's thread. */
    const char *(*admit)(int fd, const struct hc_http_head *req);
    bool (*private_header)(const char *name, size_t nlen, const char *value, size_t vlen);
    char program[64]; /* immutable: basename of the executable */
    char run_id[65];  /* immutable: HC_RUN_ID (shim.c sets it in a bare tree), cut at 64 */
    hc_budget budgets[HC_MAX_BUDGETS]; /* immutable: HC_BUDGET */
    int nbudgets;
    hc_tally tally;             /* atomic counters for the exit summary (tally.h) */
    pthread_mutex_t store_lock; /* guards store, store_state */
    hc_store *store;            /* opened on first use by whoever needs it */
    int store_state;            /* 0 not tried, 1 open, -1 failed (logged once) */
    int store_fds[8];           /* the store's open descriptors (owned, see hc_core_store) */
    struct hc_fdid {
        uint64_t dev, ino;
    } store_ids[8]; /* their identities when opened */
    int nstore_fds;
} hc_core;

typedef struct hc_fdid hc_fdid;

/* The store, opened on first use (by the recorder thread, or by a connection
 * thread that needs the cache, rate limits or budgets). NULL if it cannot be
 * opened: features that need it fail open, and the reason is logged once.
 * Its descriptors are the shim's (hc_core_own_fd); when one of them no longer
 * names the store's file (the app closed or replaced it with a raw system
 * call), the handle is abandoned without closing anything and the store is
 * opened again: no page is ever written into a file of the app's. Call it
 * before each use rather than keeping the pointer. */
hc_store *hc_core_store(hc_core *c);

/* The current process's core, or NULL before the first start (or after fork,
 * until restarted). One atomic load. */
hc_core *hc_core_get(void);

/* The current process's core, starting it if needed. NULL if it cannot start
 * (logged once): callers fail open. Thread-safe. */
hc_core *hc_core_start(void);

/* The hooks' table (set once by hc_core_entry, survives fork). */
const hc_shim_api *hc_core_shim(void);

/* The core just made descriptor fd (socket, accepted connection): tell the
 * hooks it is ours, so an app sweeping its descriptors leaves it open and a
 * number the app took back is never written (shim/fdown.h). No-op without
 * hooks (unit tests). Thread-safe. */
void hc_core_own_fd(int fd);
/* True unless owned fd no longer names the file it named when owned (the
 * app's raw close or dup2 took it). True without hooks. Thread-safe. */
bool hc_core_fd_intact(int fd);
/* The identity (device, inode) of the file fd names now, into *id; all ones
 * (matching nothing) if fd cannot be fstat'ed. */
void hc_core_fd_id(int fd, hc_fdid *id);
/* True while fd still names the file recorded by hc_core_fd_id. Unlike
 * hc_core_fd_intact, which compares with the hooks' table (one identity per
 * number, whoever in the core owned it last), this is the holder's own
 * record: after a raw close_range the core itself may reuse a number for
 * another of its descriptors (the store opened again on the gateway
 * listener's old number), and only the holder can tell that the number is no
 * longer its own. One fstat(2). Thread-safe. */
bool hc_core_fd_same(int fd, const hc_fdid *id);

#endif

/* store.h — the LMDB store shared by every process that records, and read by hc-analyze.
 *
 * On disk a store is a directory (HC_DB; default $XDG_DATA_HOME/hcshim/store,
 * i.e. ~/.local/share/hcshim/store) holding LMDB's data.mdb and lock.mdb,
 * created 0700/0600. Any number of processes may write it at once: LMDB
 * serialises writers with a robust process-shared mutex, so a writer killed
 * with -9 in the middle of a transaction loses only that transaction.
 *
 * Tables (LMDB named databases):
 *   meta      "schema" → u32 LE HC_SCHEMA_VERSION; "created" → i64 LE µs
 *   records   id (16-byte UUIDv7, time-ordered) → record (record.h)
 *   bodies    id + 'q' (request) | 'r' (response) → body blob:
 *               byte 0   codec: 0 raw, 1 zstd
 *               byte 1   flags: 1 = truncated at the capture bound
 *               varint   original length in bytes (before compression, after truncation)
 *               rest     the (compressed) bytes, content-decoded (gzip/br undone)
 *   cache     32-byte cache key → cached response (core/cache.h)
 *   counters  text key → counter window state (budgets and rate limits, core/ratelimit.h)
 *
 * Durability: by default the environment is opened MDB_NOSYNC — a committed
 * transaction survives the death of the process at any point, but the last
 * few commits may be lost if the *machine* crashes. HC_DB_SYNC=1 makes every
 * commit durable (fsync).
 *
 * Size: the map starts at HC_DB_MAP_MB (default 1024 MiB, a sparse reservation,
 * not disk use) and doubles when full, up to HC_DB_MAX_MB (default 65536);
 * past that, writes fail with HC_EFULL and the recorder counts what it drops.
 *
 * Thread-safety: an hc_store may be used from many threads; each transaction
 * belongs to one thread at a time (MDB_NOTLS). Not fork-safe: after fork the
 * child must not touch its parent's hc_store (it opens its own; see recorder.c).
 */
#ifndef HC_STORE_H
#define HC_STORE_H

#include <lmdb.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "err.h"
#include "storecheck.h"
#include "uuid.h"

enum hc_table { HC_T_META, HC_T_RECORDS, HC_T_BODIES, HC_T_CACHE, HC_T_COUNTERS, HC_T__N };

enum {
    HC_STORE_RDONLY = 1u << 0, /* read-only (hc-analyze); never creates or modifies */
    HC_STORE_SYNC = 1u << 1,   /* fsync every commit */
};

#define HC_BODY_REQUEST  'q'
#define HC_BODY_RESPONSE 'r'

typedef struct hc_store hc_store;

/* The default store path (HC_DB, else $XDG_DATA_HOME/hcshim/store, else
 * $HOME/.local/share/hcshim/store) written into out. 0, or HC_EINVAL if no
 * path can be formed (no HOME) or it does not fit. */
int hc_store_default_path(char *out, size_t size);

/* Open (creating it unless HC_STORE_RDONLY) the store at `path`.
 * An existing store is verified first (storecheck.h: data.mdb a regular file,
 * its meta pages, then every page reachable from its roots, read with pread
 * in a pinned snapshot): a damaged store is refused with HC_EPARSE and a
 * reason "PATH: damaged store: page 12 (records): ...". A writable open skips
 * the page walk when the store's verification memo (store.c DESIGN) vouches
 * for data.mdb exactly as it is now, and writes the memo after a sound walk.
 * On failure returns a negative HC_E* and, when errbuf is non-NULL, a one-line
 * reason naming the path ("…/store: Permission denied"). HC_ESCHEMA means the
 * store was written by a newer version. The caller owns *out; close it with
 * hc_store_close(). Thread-safe with respect to other stores. */
int hc_store_open(const char *path, unsigned flags, hc_store **out, char *errbuf, size_t errlen);
void hc_store_close(hc_store *s);

/* How hc_store_open verified the store: HC_VERIFY_WALK (every reachable page
 * read), HC_VERIFY_MEMO (the cheap checks, and the verification memo vouched
 * for the rest: see store.c DESIGN), HC_VERIFY_NONE (a new, empty file). For
 * logs and tests. */
enum { HC_VERIFY_NONE, HC_VERIFY_WALK, HC_VERIFY_MEMO };
int hc_store_verified_by(const hc_store *s);

MDB_env *hc_store_env(hc_store *s);
MDB_dbi hc_store_dbi(hc_store *s, enum hc_table t);
const char *hc_store_path(const hc_store *s);
/* Make hc_store_path() report `label` (copied; at most 511 bytes) instead of
 * the directory, e.g. the ClickHouse URL a temporary store was filled from
 * (analyzer/source_ch.h). The store itself still uses its directory. */
void hc_store_set_label(hc_store *s, const char *label);

/* Transactions with the store's resize protocol applied. begin adopts a map
 * grown by another process (MDB_MAP_RESIZED) transparently. commit returns 0,
 * HC_EFULL when the map is full (the txn is gone: call hc_store_grow() and redo
 * the whole write), or HC_ESTORE. A thread must not open a second transaction
 * while it holds one. */
int hc_store_txn_begin(hc_store *s, bool write, MDB_txn **txn);
int hc_store_txn_commit(hc_store *s, MDB_txn *txn);
void hc_store_txn_abort(hc_store *s, MDB_txn *txn);
/* Double the map (up to HC_DB_MAX_MB) after MDB_MAP_FULL from a put or commit;
 * the caller's txn must already be aborted. 0 grown (redo), HC_EFULL at max. */
int hc_store_grow(hc_store *s);

/* One attempt of a write: do the puts/deletes in txn (a write transaction of
 * s; do not commit or abort it). Return 0 to commit; HC_EFULL when the map
 * is full (a put said MDB_MAP_FULL: hc_store_mdb_rc maps an LMDB code); another
 * negative HC_E* to abort with that error; or HC_STORE_WRITE_SKIP to abort with
 * success (nothing to write). An attempt may be run again on a fresh txn, so
 * everything it reads must be read from txn and every output it sets must be
 * set again. */
typedef int hc_store_write_fn(hc_store *s, MDB_txn *txn, void *ctx);
#define HC_STORE_WRITE_SKIP 1

/* Run fn in a write transaction and commit it. When the map is full (fn's
 * puts or the commit), abort, grow it (hc_store_grow) and run fn again, at most
 * `attempts` times in all. Returns 0 (committed, or fn skipped), HC_EFULL (the
 * map cannot grow, or attempts ran out), HC_ESTORE, hc_store_txn_begin's error,
 * or fn's own error. Thread-safe as hc_store_txn_begin is (one transaction per
 * thread at a time). */
int hc_store_write(hc_store *s, int attempts, hc_store_write_fn *fn, void *ctx);

/* An LMDB return code as the HC_E* a hc_store_write_fn returns: 0 -> 0,
 * MDB_MAP_FULL -> HC_EFULL, anything else -> HC_ESTORE. */
static inline int hc_store_mdb_rc(int mdb_rc)
{
    return mdb_rc == 0 ? 0 : mdb_rc == MDB_MAP_FULL ? HC_EFULL : HC_ESTORE;
}

/* Encode a body blob (header + zstd when it helps) into out. 0 or HC_ENOMEM. */
int hc_body_encode(const void *p, size_t len, bool truncated, hc_buf *out);
/* Decode a body blob into out (appends). *truncated set from the flag.
 * 0, HC_EPARSE (corrupt), HC_ENOMEM. */
int hc_body_decode(const void *p, size_t len, hc_buf *out, bool *truncated);

/* One exchange ready to be written: the encoded record and its bodies. */
typedef struct hc_store_item {
    uint8_t id[HC_UUID_LEN];
    const void *rec;
    size_t rec_len; /* hc_record_encode() output */
    const void *req_body;
    size_t req_len; /* already body-encoded, or NULL */
    const void *resp_body;
    size_t resp_len; /* already body-encoded, or NULL */
} hc_store_item;

/* Write n items in one transaction (growing the map as needed). Returns the
 * number written (n, or 0 on failure with *err set to a negative HC_E*). A
 * record whose id already exists is left as it is (ids are unique; this makes
 * `merge` idempotent). Thread-safe. */
size_t hc_store_put_items(hc_store *s, const hc_store_item *items, size_t n, int *err);

/* Release the reader slots of processes that died holding a read transaction
 * (their snapshots would keep freed pages from being reused). Opening a store
 * does this too; long-lived writers call it now and then. Returns the number
 * of slots cleared. Thread-safe. */
int hc_store_reader_check(hc_store *s);

/* Rewrite the store without its free pages: the bytes of deleted records and
 * bodies (prune, cache clear) are then gone from data.mdb, and the file is as
 * small as its live data.
 *   dest != NULL: write a compacted copy into the new directory dest (created
 *     0700, must not exist). Safe while programs record: the copy is one
 *     consistent snapshot; what they write afterwards is not in it.
 *   dest == NULL: compact in place. Refused with HC_EBUSY when any other
 *     process has the store open (a program under the shim, hc-analyze
 *     serve). The compacted copy replaces the store atomically; a process that
 *     opens the store meanwhile waits, then opens the new one.
 * *before and *after receive data.mdb's size. 0, or a negative HC_E* with a
 * one-line reason naming the path in errbuf. */
int hc_store_compact(const char *path, const char *dest, uint64_t *before, uint64_t *after,
                     char *errbuf, size_t errlen);

/* Why the store became unusable after it was opened (its data.mdb shrank or
 * was replaced while in use; see store.c), or NULL while it is sound. Every
 * transaction of a damaged store fails with HC_EPARSE. Thread-safe; the
 * string lives as long as the store. */
const char *hc_store_damage(hc_store *s);

/* Called (from the failing thread) when LMDB's own assertion finds damage
 * that the checks at open could not see (bytes overwritten while in use):
 * LMDB aborts the process when the hook returns. path names the store. Set it
 * once, before opening stores; NULL removes it. */
void hc_store_set_assert_hook(void (*fn)(const char *path, const char *msg));

/* Verify the store at path page by page (storecheck.h), in a snapshot
 * pinned by a read transaction when LMDB can open it, without ever mapping a
 * damaged file. problem is called for each problem (capped), entry for each
 * readable entry of a named table (salvage). 0 sound; HC_EPARSE damaged
 * (res->first, problem calls); HC_ENOTFOUND not a store, HC_EBUSY no still
 * snapshot, HC_ENOMEM (errbuf says). Not thread-safe with respect to another
 * open of the same store in this process (LMDB's rule). */
int hc_store_verify(const char *path, hc_check_problem_fn *problem, hc_check_entry_fn *entry,
                    void *ctx, hc_check_result *res, char *errbuf, size_t errlen);

/* Let the page walk of hc_store_open/hc_store_verify read through a map of
 * data.mdb instead of pread (storecheck.h HC_CHECK_MAPPED): several times
 * faster on big stores, but a file truncated during the walk is a SIGBUS, so
 * only for a process that handles SIGBUS (hc-analyze). Default off (the
 * shim). Set once at start; not thread-safe. */
void hc_store_set_check_mapped(bool on);

/* The path last given to hc_store_open ("" before), for a message in a
 * fatal-signal handler (hc-analyze). Not thread-safe. */
const char *hc_store_last_opened(void);

/* Describe an LMDB error code for messages (wraps mdb_strerror). */
const char *hc_store_strerror(int mdb_rc);

#endif

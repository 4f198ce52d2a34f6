/* store.c — LMDB environment, tables, resize protocol and body blobs.
 *
 * DESIGN
 * - One MDB_env per process per store (LMDB forbids opening the same env twice
 *   in a process). Map growth needs every transaction of this process closed,
 *   so all transactions go through hc_store_txn_begin/commit/abort, which hold
 *   a read lock on `resize_lock` for the life of the transaction; growth takes
 *   it for writing. A thread must not nest transactions (deadlock on the lock).
 * - When another process grew the map, begin sees MDB_MAP_RESIZED and adopts
 *   the new size (mdb_env_set_mapsize(env, 0)) under the write lock.
 * - Read-only opens (hc-analyze) never create anything. If the lock file
 *   cannot be opened for writing (a read-only directory) we retry with
 *   MDB_NOLOCK, which is safe for a reader that nobody writes under.
 * - Damaged stores (storecheck.h). LMDB trusts its file: a truncated data.mdb
 *   is a SIGBUS on the first page past the end, a damaged page a SIGSEGV or an
 *   mdb_assert() abort — in the shim, the death of the host program. So a
 *   store is opened only after checks LMDB never makes, with pread, never the
 *   map: before mdb_env_open the file (regular: a FIFO does not hang us) and
 *   both meta pages; after it, inside a read transaction that pins the
 *   snapshot against concurrent writers, every page reachable from its roots.
 *   A damaged store fails hc_store_open with HC_EPARSE and a reason.
 * - The verification memo spares that walk (~0.3 ms of CPU per MiB, in every
 *   process that makes an LLM call) when nothing but LMDB has written the
 *   file since a walk found it sound. verified.memo in the store directory
 *   (0600, created by rename, rewritten in place under the flock below,
 *   ignored unless ours, regular, 88 bytes with a valid checksum) holds data.mdb's dev, inode,
 *   size, mtime and ctime (ns), newest txnid and a hash of both meta pages. It is trusted only
 *   when ALL of these equal the file's state now; then only the cheap checks
 *   run (regular file, both meta pages, roots within the last page). Why that
 *   is sound: any write to the file changes its ctime (the kernel sets it;
 *   no program can set it back: `cp -p`, `touch -r` restore mtime only), and
 *   any commit changes a meta page. So `cp backup data.mdb` (same inode,
 *   maybe the same size and txnid), a truncate that is regrown to the same
 *   size, an older backup restored, a byte flipped — each leaves a state the
 *   memo does not describe, and the opener walks.
 * - Who writes the memo: (1) an open whose walk found the store sound, if the
 *   file's state after the walk equals its state when the pinned snapshot
 *   was the newest (no commit meanwhile; else the next opener walks again);
 *   (2) every write transaction whose commit starts from a state the memo
 *   describes: under flock(LOCK_EX) on data.mdb, compare, commit, describe
 *   the state after (its newest txnid must be this commit's) — the chain of
 *   custody: pages LMDB wrote from a verified state are trusted. The flock
 *   makes "compare, commit, rewrite" one step against other writers and
 *   against openers (LOCK_SH while comparing); it is taken while LMDB's
 *   writer mutex is held (never the other order), waited for at most ~10 ms,
 *   and if it cannot be had the commit goes on without the memo, which then
 *   no longer matches: the cost is one walk, never a wrong trust (and this
 *   process's commits skip the memo for a second: a lock held that long
 *   belongs to a stopped process, or to a child forked while it was held,
 *   which shares the descriptor).
 * - Residual: timestamps have the kernel's tick (~4 ms) granularity, so a
 *   foreign write within the same tick as a memo update, keeping the size
 *   and both meta pages byte for byte, would go unseen until the next
 *   commit; and a program that writes data.mdb while the store is open is
 *   not covered at all (below). Read-only opens (hc-analyze) never create or
 *   use the memo: they read everything anyway, walk through a map 5-10x
 *   faster, turn a SIGBUS into exit 2, and `check` must be the full walk.
 *   HC_DB_FULL_CHECK=1 forces the walk (benchmarks, doubts).
 * - After open, LMDB itself writes every page it later reads, so only two
 *   things can still hurt: the file shrinking (someone truncates or replaces
 *   it) and bytes changed by something other than LMDB. Every transaction
 *   begins with one stat() of data.mdb: smaller than seen before (LMDB never
 *   shrinks it) or another inode, and the store is marked damaged for good —
 *   each later transaction fails with HC_EPARSE, hc_store_damage() says why.
 *   Left uncovered (SECURITY.md): a truncation between that stat and the
 *   reads of the transaction, and bytes overwritten in place while the store
 *   is open; for those, hc_store_set_assert_hook() lets the process say why
 *   LMDB aborts it (hc-analyze exits 2 with a message; the shim logs).
 */
#include "store.h"
#include "buf.h"
#include "err.h"
#include "record.h"
#include "storecheck.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

struct hc_store {
    MDB_env *env;
    MDB_dbi dbi[HC_T__N];
    pthread_rwlock_t resize_lock; /* read: a txn is open; write: resizing */
    size_t map_size;              /* guarded by resize_lock (write) */
    size_t max_size;
    unsigned flags;
    uint64_t min_size;    /* data.mdb's size last seen (atomic): it never shrinks */
    uint64_t ino, dev;    /* data.mdb's identity at open */
    int damaged;          /* atomic: set once, never cleared */
    int verified_by;      /* HC_VERIFY_*, set by hc_store_open */
    int64_t memo_backoff; /* atomic: CLOCK_MONOTONIC ms before which commits skip the memo */
    char damage[320];     /* why (written before damaged is set) */
    char path[PATH_MAX];
    char label[512]; /* what hc_store_path() reports when set, else path */
};

static void (*assert_hook)(const char *path, const char *msg);
static __thread MDB_txn
    *tls_write_txn;          /* the write transaction this thread has open (commit_memo) */
static unsigned check_flags; /* HC_CHECK_MAPPED when the process handles SIGBUS */

void hc_store_set_check_mapped(bool on)
{
    check_flags = on ? HC_CHECK_MAPPED : 0;
}
static char last_opened[PATH_MAX]; /* for a fatal-signal message; written by hc_store_open */

const char *hc_store_last_opened(void)
{
    return last_opened;
}

void hc_store_set_assert_hook(void (*fn)(const char *path, const char *msg))
{
    assert_hook = fn;
}

static void on_assert(MDB_env *env, const char *msg)
{
    const char *path = NULL;
    if (mdb_env_get_path(env, &path) != 0 || !path)
        path = "?";
    if (assert_hook)
        assert_hook(path, msg);
}

static void mark_damaged(hc_store *s, const char *fmt, const char *arg)
{
    if (__atomic_load_n(&s->damaged, __ATOMIC_ACQUIRE))
        return;
    snprintf(s->damage, sizeof s->damage, fmt, arg);
    __atomic_store_n(&s->damaged, 1, __ATOMIC_RELEASE);
}

const char *hc_store_damage(hc_store *s)
{
    return __atomic_load_n(&s->damaged, __ATOMIC_ACQUIRE) ? s->damage : NULL;
}

/* The cheap guard run as each transaction begins (see DESIGN). */
static int guard(hc_store *s)
{
    if (__atomic_load_n(&s->damaged, __ATOMIC_ACQUIRE))
        return HC_EPARSE;
    char p[PATH_MAX + 16];
    struct stat st;
    snprintf(p, sizeof p, "%s/data.mdb", s->path);
    /* Read the size seen before stat(): read after, it may come from another
     * thread's later stat() of the grown file, and this thread's older size
     * would look like a truncation. */
    uint64_t seen = __atomic_load_n(&s->min_size, __ATOMIC_ACQUIRE);
    if (stat(p, &st) != 0 || (uint64_t)st.st_ino != s->ino || (uint64_t)st.st_dev != s->dev) {
        mark_damaged(s, "%s: data.mdb was removed or replaced while in use", s->path);
        return HC_EPARSE;
    }
    if ((uint64_t)st.st_size < seen) {
        mark_damaged(s, "%s: data.mdb shrank while in use (truncated)", s->path);
        return HC_EPARSE;
    }
    if ((uint64_t)st.st_size > seen) /* a racing smaller store loses nothing: sizes only grow */
        __atomic_store_n(&s->min_size, (uint64_t)st.st_size, __ATOMIC_RELEASE);
    return 0;
}

/* The verification memo (see DESIGN) ---------------------------------------
 * MEMO_NAME in the store directory, 0600, one fixed-size record: the state of
 * data.mdb (identity, size, both timestamps, newest txnid, a hash of both
 * meta pages) at a moment when every reachable page was known sound. It is
 * trusted only when all of it equals the file's state now. */
#define MEMO_NAME  "verified.memo"
#define MEMO_MAGIC "HCMEMO01"

typedef struct memo {
    char magic[8];
    uint64_t dev, ino, size;
    uint64_t mtime_s, mtime_ns, ctime_s, ctime_ns;
    uint64_t txnid;    /* the newest meta's transaction id */
    uint64_t metahash; /* FNV-1a of the first bytes of both meta pages */
    uint64_t sum;      /* FNV-1a of everything above */
} memo;

static uint64_t fnv1a(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}

#define META_BYTES 160 /* page header (16) + MDB_meta (144 on 64-bit) */

/* The current state of data.mdb open on fd. 0, or -1 when it cannot be read
 * (then nothing is trusted). */
static int memo_state(int fd, memo *m)
{
    struct stat st;
    unsigned char a[META_BYTES], b[META_BYTES];
    memset(m, 0, sizeof *m);
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
        return -1;
    if (pread(fd, a, sizeof a, 0) != (ssize_t)sizeof a)
        return -1;
    uint32_t psize;
    memcpy(&psize, a + 40, 4); /* mm_dbs[FREE_DBI].md_pad holds the page size */
    if (psize < 512 || psize > 32768 || (psize & (psize - 1)))
        return -1;
    if (pread(fd, b, sizeof b, psize) != (ssize_t)sizeof b)
        return -1;
    uint64_t ta, tb;
    memcpy(&ta, a + 144, 8);
    memcpy(&tb, b + 144, 8);
    memcpy(m->magic, MEMO_MAGIC, 8);
    m->dev = (uint64_t)st.st_dev;
    m->ino = (uint64_t)st.st_ino;
    m->size = (uint64_t)st.st_size;
    m->mtime_s = (uint64_t)st.st_mtim.tv_sec;
    m->mtime_ns = (uint64_t)st.st_mtim.tv_nsec;
    m->ctime_s = (uint64_t)st.st_ctim.tv_sec;
    m->ctime_ns = (uint64_t)st.st_ctim.tv_nsec;
    m->txnid = ta > tb ? ta : tb;
    m->metahash = fnv1a(fnv1a(0xcbf29ce484222325ull, a, sizeof a), b, sizeof b);
    return 0;
}

static bool memo_same(const memo *x, const memo *y)
{
    return memcmp(x, y, offsetof(memo, sum)) == 0;
}

/* Read dir's memo: 0, or -1 when absent, not ours, not a regular file or
 * not intact. */
static int memo_load(const char *dir, memo *m)
{
    char p[PATH_MAX + 32];
    struct stat st;
    snprintf(p, sizeof p, "%s/" MEMO_NAME, dir);
    int fd = open(p, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int ok = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == geteuid() &&
             st.st_size == (off_t)sizeof *m && pread(fd, m, sizeof *m, 0) == (ssize_t)sizeof *m;
    close(fd);
    if (!ok || memcmp(m->magic, MEMO_MAGIC, 8) != 0 ||
        m->sum != fnv1a(0xcbf29ce484222325ull, m, offsetof(memo, sum)))
        return -1;
    return 0;
}

/* Replace dir's memo atomically (a new file renamed over it). Best effort: a
 * memo not written only costs the next opener a full walk. */
static void memo_save(const char *dir, memo *m)
{
    char p[PATH_MAX + 32], tmp[PATH_MAX + 64];
    snprintf(p, sizeof p, "%s/" MEMO_NAME, dir);
    snprintf(tmp, sizeof tmp, "%s/" MEMO_NAME ".%ld.%lx", dir, (long)getpid(),
             (unsigned long)pthread_self());
    m->sum = fnv1a(0xcbf29ce484222325ull, m, offsetof(memo, sum));
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return;
    int ok = write(fd, m, sizeof *m) == (ssize_t)sizeof *m;
    ok = close(fd) == 0 && ok;
    if (!ok || rename(tmp, p) != 0)
        unlink(tmp);
}

/* Rewrite dir's memo in place (a writer's update, under the exclusive flock,
 * so no reader sees it half written; a crash mid-write leaves a record whose
 * checksum fails: a walk). Falls back to memo_save when it cannot. */
static void memo_update(const char *dir, memo *m)
{
    char p[PATH_MAX + 32];
    struct stat st;
    snprintf(p, sizeof p, "%s/" MEMO_NAME, dir);
    m->sum = fnv1a(0xcbf29ce484222325ull, m, offsetof(memo, sum));
    int fd = open(p, O_WRONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == geteuid() &&
        st.st_size == (off_t)sizeof *m && pwrite(fd, m, sizeof *m, 0) == (ssize_t)sizeof *m) {
        close(fd);
        return;
    }
    if (fd >= 0)
        close(fd);
    memo_save(dir, m);
}

/* flock with a short bounded wait: holders keep it for a few system calls;
 * one that is stopped must not hang us (we go on without the memo). */
static bool lock_briefly(int fd, int how)
{
    for (int i = 0; i < 120; i++) {
        if (flock(fd, how | LOCK_NB) == 0)
            return true;
        if (errno != EWOULDBLOCK && errno != EINTR)
            return false;
        if (i < 20) {
            sched_yield(); /* usually the previous writer's last few system calls */
        } else {
            struct timespec ts = { 0, 100000 };
            nanosleep(&ts, NULL);
        }
    }
    return false;
}

/* Does the memo vouch for data.mdb open on fd as it is now? */
static bool memo_trusted(hc_store *s, int fd)
{
    memo have, now;
    if (getenv("HC_DB_FULL_CHECK") && *getenv("HC_DB_FULL_CHECK") == '1')
        return false;
    if (memo_load(s->path, &have) != 0 || !lock_briefly(fd, LOCK_SH))
        return false;
    bool ok = memo_load(s->path, &have) == 0 && memo_state(fd, &now) == 0 && memo_same(&have, &now);
    flock(fd, LOCK_UN);
    return ok;
}

/* Commit txn; when it is a write transaction and the memo vouched for the
 * file just before it, make the memo vouch for the file just after (the new
 * pages are LMDB's own). Writers hold LMDB's writer mutex here, so the order
 * is always that mutex, then the flock. */
static int commit_memo(hc_store *s, MDB_txn *txn, bool write)
{
    memo have, now;
    int fd = -1;
    bool chain = false;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    int64_t now_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    if (write && !(s->flags & HC_STORE_RDONLY) &&
        now_ms >= __atomic_load_n(&s->memo_backoff, __ATOMIC_RELAXED) &&
        memo_load(s->path, &have) == 0) {
        char p[PATH_MAX + 16];
        snprintf(p, sizeof p, "%s/data.mdb", s->path);
        fd = open(p, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
        if (fd >= 0 && lock_briefly(fd, LOCK_EX))
            chain = memo_load(s->path, &have) == 0 && memo_state(fd, &now) == 0 &&
                    memo_same(&have, &now);
        else if (fd >= 0) /* held for long (a stopped process, a child forked while it was held): */
            __atomic_store_n(&s->memo_backoff, now_ms + 1000,
                             __ATOMIC_RELAXED); /* don't wait at every commit */
    }
    uint64_t id = (uint64_t)mdb_txn_id(txn);
    int rc = mdb_txn_commit(txn);
    if (chain && rc == 0 && memo_state(fd, &now) == 0 && now.ino == have.ino &&
        now.dev == have.dev && now.size >= have.size && now.txnid == id)
        memo_update(s->path, &now);
    if (fd >= 0)
        close(fd); /* drops the flock; LMDB holds no lock on data.mdb */
    return rc;
}

/* Before mdb_env_open: data.mdb must be a regular file (a FIFO would block
 * LMDB's open) whose meta pages are sound. Opens *fd for the page walk, or
 * leaves it -1 when there is nothing to check yet (no file, or an empty one
 * LMDB initialises). */
static int precheck(hc_store *s, int *fd, char *errbuf, size_t errlen)
{
    char p[PATH_MAX + 16];
    struct stat st;
    *fd = -1;
    snprintf(p, sizeof p, "%s/data.mdb", s->path);
    if (lstat(p, &st) != 0 && errno == ENOENT)
        return 0;
    int f = hc_store_check_open(s->path, errbuf, errlen);
    if (f < 0)
        return HC_EPARSE;
    hc_check_result res;
    if (fstat(f, &st) == 0 && st.st_size == 0) {
        close(f);
        return 0;
    }
    /* This read is not serialised with writers (LMDB's open lock comes
     * later): another process may be initialising a new store (its file grows
     * page by page) or rewriting a meta page in a commit (a torn read). Such a
     * state lasts microseconds, damage does not: look again a few times over
     * about 50 ms before calling the store damaged. */
    int bad = 0;
    for (int tries = 0; tries < 10; tries++) {
        if (tries)
            usleep(5000);
        if ((bad = hc_store_check_fd(f, 0, HC_CHECK_META_ONLY, NULL, NULL, NULL, &res)) == 0)
            break;
    }
    if (bad != 0) {
        close(f);
        if (errbuf && errlen)
            snprintf(errbuf, errlen, "%s: damaged store: %s (see 'hc-analyze check')", s->path,
                     res.first);
        return HC_EPARSE;
    }
    *fd = f;
    return 0;
}

/* After mdb_env_open: walk every reachable page of a snapshot pinned by a
 * read transaction (pages it reaches are not reused while it lives). */
static int walk_pinned(hc_store *s, int fd, char *errbuf, size_t errlen)
{
    hc_check_result res;
    for (int tries = 0; tries < 8; tries++) {
        MDB_txn *txn;
        int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
        if (rc) {
            if (errbuf && errlen)
                snprintf(errbuf, errlen, "%s: %s", s->path, mdb_strerror(rc));
            return HC_ESTORE;
        }
        /* The file's state with this snapshot the newest: what the memo
         * will vouch for if the walk finds it sound and nothing changes. */
        memo before, after;
        bool certify = !(s->flags & HC_STORE_RDONLY) && memo_state(fd, &before) == 0 &&
                       before.txnid == (uint64_t)mdb_txn_id(txn);
        int err =
            hc_store_check_fd(fd, (uint64_t)mdb_txn_id(txn), check_flags, NULL, NULL, NULL, &res);
        mdb_txn_abort(txn);
        if (err == 0 && certify && lock_briefly(fd, LOCK_EX)) {
            /* Unchanged since (a commit changes a meta page and the times):
             * sound as walked. Else a later opener walks again. */
            if (memo_state(fd, &after) == 0 && memo_same(&before, &after))
                memo_save(s->path, &after);
            flock(fd, LOCK_UN);
        }
        if (err == HC_EBUSY)
            continue; /* a writer committed twice since: take a new snapshot */
        if (err == HC_EPARSE) {
            if (errbuf && errlen)
                snprintf(errbuf, errlen, "%s: damaged store: %s (see 'hc-analyze check')", s->path,
                         res.first);
            return HC_EPARSE;
        }
        if (err)
            return err;
        s->min_size = res.file_size;
        return 0;
    }
    /* writers commit so fast that no snapshot stays still: they opened it, it is in use */
    return 0;
}

static const char *const table_names[HC_T__N] = { "meta", "records", "bodies", "cache",
                                                  "counters" };

static size_t env_mb(const char *name, size_t dflt)
{
    const char *v = getenv(name);
    if (!v || !*v)
        return dflt;
    char *end;
    unsigned long long mb = strtoull(v, &end, 10);
    if (*end || mb < 1 || mb > (1ull << 24))
        return dflt;
    return (size_t)mb;
}

int hc_store_default_path(char *out, size_t size)
{
    const char *db = getenv("HC_DB");
    int n;
    if (db && *db)
        n = snprintf(out, size, "%s", db);
    else if (getenv("XDG_DATA_HOME") && *getenv("XDG_DATA_HOME"))
        n = snprintf(out, size, "%s/hcshim/store", getenv("XDG_DATA_HOME"));
    else if (getenv("HOME") && *getenv("HOME"))
        n = snprintf(out, size, "%s/.local/share/hcshim/store", getenv("HOME"));
    else
        return HC_EINVAL;
    return (n < 0 || (size_t)n >= size) ? HC_EINVAL : 0;
}

/* mkdir -p with mode 0700 for the parts we create. */
static int mkdirs(const char *path)
{
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s", path) >= (int)sizeof tmp)
        return ENAMETOOLONG;
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
            return errno;
        *p = '/';
    }
    if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
        return errno;
    return 0;
}

static void set_err(char *errbuf, size_t errlen, const char *path, const char *what)
{
    if (errbuf && errlen)
        snprintf(errbuf, errlen, "%s: %s", path, what);
}

static int open_tables(hc_store *s, char *errbuf, size_t errlen)
{
    bool ro = s->flags & HC_STORE_RDONLY;
    MDB_txn *txn;
    int rc = mdb_txn_begin(s->env, NULL, ro ? MDB_RDONLY : 0, &txn);
    if (rc) {
        set_err(errbuf, errlen, s->path, mdb_strerror(rc));
        return HC_ESTORE;
    }
    for (int t = 0; t < HC_T__N; t++) {
        rc = mdb_dbi_open(txn, table_names[t], ro ? 0 : MDB_CREATE, &s->dbi[t]);
        if (rc == MDB_NOTFOUND && ro) {
            mdb_txn_abort(txn);
            set_err(errbuf, errlen, s->path, "not an hcshim store (no records table)");
            return HC_ENOTFOUND;
        }
        if (rc) {
            mdb_txn_abort(txn);
            set_err(errbuf, errlen, s->path, mdb_strerror(rc));
            return HC_ESTORE;
        }
    }
    /* Schema: write ours into a new store, refuse a newer one. */
    MDB_val k = { 6, "schema" }, v;
    rc = mdb_get(txn, s->dbi[HC_T_META], &k, &v);
    if (rc == 0 && v.mv_size == 4) {
        uint32_t ver;
        memcpy(&ver, v.mv_data, 4);
        if (ver > HC_SCHEMA_VERSION) {
            mdb_txn_abort(txn);
            char msg[128];
            snprintf(msg, sizeof msg,
                     "written by a newer hcshim (schema %u, this build reads up to %u)", ver,
                     HC_SCHEMA_VERSION);
            set_err(errbuf, errlen, s->path, msg);
            return HC_ESCHEMA;
        }
    } else if (rc == MDB_NOTFOUND && !ro) {
        uint32_t ver = HC_SCHEMA_VERSION;
        int64_t now;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        now = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
        MDB_val vv = { 4, &ver };
        MDB_val ck = { 7, "created" }, cv = { 8, &now };
        if ((rc = mdb_put(txn, s->dbi[HC_T_META], &k, &vv, 0)) == 0)
            rc = mdb_put(txn, s->dbi[HC_T_META], &ck, &cv, 0);
        if (rc) {
            mdb_txn_abort(txn);
            set_err(errbuf, errlen, s->path, mdb_strerror(rc));
            return HC_ESTORE;
        }
    } else if (rc == MDB_NOTFOUND && ro) {
        /* Store created but never written: fine, it is empty. */
    } else if (rc) {
        mdb_txn_abort(txn);
        set_err(errbuf, errlen, s->path, mdb_strerror(rc));
        return HC_ESTORE;
    }
    /* Commit even a read-only transaction: LMDB closes the table handles
     * opened in a transaction that is aborted. */
    rc = commit_memo(s, txn, !ro);
    if (rc) {
        set_err(errbuf, errlen, s->path, mdb_strerror(rc));
        return HC_ESTORE;
    }
    return 0;
}

int hc_store_open(const char *path, unsigned flags, hc_store **out, char *errbuf, size_t errlen)
{
    *out = NULL;
    bool ro = flags & HC_STORE_RDONLY;
    hc_store *s = calloc(1, sizeof *s);
    if (!s) {
        set_err(errbuf, errlen, path, "out of memory");
        return HC_ENOMEM;
    }
    hc_strlcpy(s->path, sizeof s->path, path);
    hc_strlcpy(last_opened, sizeof last_opened, path);
    s->flags = flags;
    s->map_size = env_mb("HC_DB_MAP_MB", 1024) << 20;
    s->max_size = env_mb("HC_DB_MAX_MB", 65536) << 20;
    if (s->max_size < s->map_size)
        s->max_size = s->map_size;
    pthread_rwlock_init(&s->resize_lock, NULL);

    int rc, err, cfd = -1;
    struct stat st;
    if (ro) {
        if (stat(path, &st) != 0) {
            set_err(errbuf, errlen, path, strerror(errno));
            err = HC_ENOTFOUND;
            goto fail_free;
        }
        if (!S_ISDIR(st.st_mode)) {
            set_err(errbuf, errlen, path,
                    "not a directory (a store is a directory holding data.mdb)");
            err = HC_EINVAL;
            goto fail_free;
        }
        char data[PATH_MAX + 16];
        snprintf(data, sizeof data, "%s/data.mdb", path);
        if (stat(data, &st) != 0) {
            set_err(errbuf, errlen, path,
                    errno == ENOENT ? "not an hcshim store (no data.mdb)" : strerror(errno));
            err = HC_ENOTFOUND;
            goto fail_free;
        }
    } else if ((rc = mkdirs(path)) != 0) {
        set_err(errbuf, errlen, path, strerror(rc));
        err = HC_ESTORE;
        goto fail_free;
    }

    if ((err = precheck(s, &cfd, errbuf, errlen)) != 0)
        goto fail_free;
    unsigned env_flags =
        MDB_NOTLS | (ro ? MDB_RDONLY : 0) | ((flags & HC_STORE_SYNC) ? 0 : MDB_NOSYNC);
    for (int attempt = 0; attempt < 2; attempt++) {
        if ((rc = mdb_env_create(&s->env)) != 0) {
            set_err(errbuf, errlen, path, mdb_strerror(rc));
            err = HC_ESTORE;
            goto fail_free;
        }
        mdb_env_set_maxdbs(s->env, HC_T__N + 2);
        mdb_env_set_maxreaders(s->env, 1024);
        mdb_env_set_assert(s->env, on_assert);
        if (!ro)
            mdb_env_set_mapsize(s->env, s->map_size);
        rc = mdb_env_open(s->env, path, env_flags, 0600);
        if (rc == 0)
            break;
        mdb_env_close(s->env);
        s->env = NULL;
        /* the lock file was emptied by an in-place compaction: the path names the new store now */
        if (attempt == 0 && rc == EINVAL)
            continue;
        if (ro && attempt == 0 && (rc == EACCES || rc == EROFS || rc == EPERM)) {
            env_flags |= MDB_NOLOCK; /* read-only directory: readers need no lock */
            continue;
        }
        set_err(errbuf, errlen, path, mdb_strerror(rc));
        err = (rc == MDB_VERSION_MISMATCH || rc == MDB_INVALID) ? HC_EPARSE : HC_ESTORE;
        goto fail_free;
    }
    {
        char data[PATH_MAX + 16];
        snprintf(data, sizeof data, "%s/data.mdb", path);
        if (stat(data, &st) != 0) {
            set_err(errbuf, errlen, path, strerror(errno));
            err = HC_ESTORE;
            goto fail_env;
        }
        s->ino = (uint64_t)st.st_ino;
        s->dev = (uint64_t)st.st_dev;
        s->min_size = (uint64_t)st.st_size;
    }
    struct stat cst;
    if (cfd >= 0 && fstat(cfd, &cst) == 0 &&
        ((uint64_t)cst.st_ino != s->ino || (uint64_t)cst.st_dev != s->dev)) {
        /* an in-place compaction swapped the store while mdb_env_open waited: check the new one */
        close(cfd);
        cfd = -1;
    }
    if (cfd < 0 &&
        s->min_size > 0) /* LMDB just initialised an empty file, or the file is new: check it */
        cfd = hc_store_check_open(path, errbuf, errlen);
    if (cfd >= 0 && !ro && memo_trusted(s, cfd)) {
        close(cfd); /* verified before and changed since only by LMDB: the cheap checks suffice */
        cfd = -1;
        s->verified_by = HC_VERIFY_MEMO;
    }
    if (cfd >= 0) {
        s->verified_by = HC_VERIFY_WALK;
        err = walk_pinned(s, cfd, errbuf, errlen);
        close(cfd);
        cfd = -1;
        if (err)
            goto fail_env;
    }
    if (ro) {
        MDB_envinfo info;
        mdb_env_info(s->env, &info);
        s->map_size = info.me_mapsize;
    }
    /* A process killed while it held a read transaction leaves its reader
     * slot behind, and the snapshot it pinned keeps every page freed since
     * from being reused: the file would only grow. Clear such slots. */
    if (!(env_flags & MDB_NOLOCK)) {
        int dead = 0;
        mdb_reader_check(s->env, &dead);
    }
    if ((err = open_tables(s, errbuf, errlen)) != 0)
        goto fail_env;
    *out = s;
    return 0;

fail_env:
    mdb_env_close(s->env);
fail_free:
    if (cfd >= 0)
        close(cfd);
    pthread_rwlock_destroy(&s->resize_lock);
    free(s);
    return err;
}

void hc_store_close(hc_store *s)
{
    if (!s)
        return;
    if (!(s->flags & HC_STORE_RDONLY))
        mdb_env_sync(s->env, 1);
    mdb_env_close(s->env);
    pthread_rwlock_destroy(&s->resize_lock);
    free(s);
}

MDB_env *hc_store_env(hc_store *s)
{
    return s->env;
}
int hc_store_verified_by(const hc_store *s)
{
    return s->verified_by;
}
MDB_dbi hc_store_dbi(hc_store *s, enum hc_table t)
{
    return s->dbi[t];
}
const char *hc_store_path(const hc_store *s)
{
    return s->label[0] ? s->label : s->path;
}
void hc_store_set_label(hc_store *s, const char *label)
{
    hc_strlcpy(s->label, sizeof s->label, label);
}
const char *hc_store_strerror(int mdb_rc)
{
    return mdb_strerror(mdb_rc);
}

int hc_store_reader_check(hc_store *s)
{
    int dead = 0;
    mdb_reader_check(s->env, &dead);
    return dead;
}

int hc_store_txn_begin(hc_store *s, bool write, MDB_txn **txn)
{
    int g = guard(s);
    if (g)
        return g;
    for (int tries = 0; tries < 3; tries++) {
        pthread_rwlock_rdlock(&s->resize_lock);
        int rc = mdb_txn_begin(s->env, NULL, write ? 0 : MDB_RDONLY, txn);
        if (rc == 0) {
            tls_write_txn = write ? *txn : NULL;
            return 0;
        }
        pthread_rwlock_unlock(&s->resize_lock);
        if (rc != MDB_MAP_RESIZED)
            return HC_ESTORE;
        pthread_rwlock_wrlock(&s->resize_lock);
        mdb_env_set_mapsize(s->env, 0);
        MDB_envinfo info;
        mdb_env_info(s->env, &info);
        s->map_size = info.me_mapsize;
        pthread_rwlock_unlock(&s->resize_lock);
    }
    return HC_ESTORE;
}

int hc_store_txn_commit(hc_store *s, MDB_txn *txn)
{
    int rc = commit_memo(s, txn, tls_write_txn == txn);
    tls_write_txn = NULL;
    pthread_rwlock_unlock(&s->resize_lock);
    if (rc == MDB_MAP_FULL)
        return HC_EFULL;
    return rc ? HC_ESTORE : 0;
}

void hc_store_txn_abort(hc_store *s, MDB_txn *txn)
{
    if (tls_write_txn == txn)
        tls_write_txn = NULL;
    mdb_txn_abort(txn);
    pthread_rwlock_unlock(&s->resize_lock);
}

int hc_store_grow(hc_store *s)
{
    int rc = HC_EFULL;
    pthread_rwlock_wrlock(&s->resize_lock);
    /* Another process may have grown it already; adopt that size first. */
    MDB_envinfo info;
    mdb_env_info(s->env, &info);
    if (info.me_mapsize > s->map_size)
        s->map_size = info.me_mapsize;
    if (s->map_size < s->max_size) {
        size_t want = s->map_size * 2 > s->max_size ? s->max_size : s->map_size * 2;
        if (mdb_env_set_mapsize(s->env, want) == 0) {
            s->map_size = want;
            rc = 0;
        }
    }
    pthread_rwlock_unlock(&s->resize_lock);
    return rc;
}

/* Body blobs -------------------------------------------------------------- */

/* One compression context per thread, reused: ZSTD_compress() would set one
 * up and tear it down for every body, which costs three times the compression
 * of a typical 1 KiB chat body. Freed when the thread exits. */
static pthread_key_t cctx_key;
static pthread_once_t cctx_once = PTHREAD_ONCE_INIT;

static void cctx_free(void *p)
{
    ZSTD_freeCCtx(p);
}

static void cctx_key_init(void)
{
    if (pthread_key_create(&cctx_key, cctx_free) != 0)
        cctx_key = (pthread_key_t)-1;
}

static ZSTD_CCtx *thread_cctx(void)
{
    pthread_once(&cctx_once, cctx_key_init);
    if (cctx_key == (pthread_key_t)-1)
        return NULL;
    ZSTD_CCtx *c = pthread_getspecific(cctx_key);
    if (!c && (c = ZSTD_createCCtx()) != NULL && pthread_setspecific(cctx_key, c) != 0) {
        ZSTD_freeCCtx(c);
        c = NULL;
    }
    return c;
}

int hc_body_encode(const void *p, size_t len, bool truncated, hc_buf *out)
{
    uint8_t hdr[12];
    size_t hn = 2;
    hdr[1] = truncated ? 1 : 0;
    hn += hc_varint_put(hdr + 2, len);
    /* Below 256 bytes zstd cannot win back its frame (and costs as much as
     * for 1 KiB). Level 3 throughout: the fast levels halve the CPU of small
     * bodies but stored 8% more per exchange on the realistic mix of the
     * storage benchmark, and the store is kept for months (BENCHMARKS.md). */
    if (len >= 256) {
        int level = 3;
        size_t bound = ZSTD_compressBound(len);
        if (hc_buf_reserve(out, hn + bound))
            return HC_ENOMEM;
        size_t at = out->len;
        ZSTD_CCtx *cctx = thread_cctx();
        size_t z = cctx ? ZSTD_compressCCtx(cctx, out->data + at + hn, bound, p, len, level)
                        : ZSTD_compress(out->data + at + hn, bound, p, len, level);
        if (!ZSTD_isError(z) && z + 8 < len) {
            hdr[0] = 1;
            memcpy(out->data + at, hdr, hn);
            out->len = at + hn + z;
            out->data[out->len] = '\0';
            return 0;
        }
    }
    hdr[0] = 0;
    if (hc_buf_append(out, hdr, hn) || hc_buf_append(out, p, len))
        return HC_ENOMEM;
    return 0;
}

int hc_body_decode(const void *vp, size_t len, hc_buf *out, bool *truncated)
{
    const uint8_t *p = vp;
    uint64_t raw;
    if (len < 3)
        return HC_EPARSE;
    size_t n = hc_varint_get(p + 2, len - 2, &raw);
    if (!n || raw > (1ull << 34))
        return HC_EPARSE;
    if (truncated)
        *truncated = p[1] & 1;
    const uint8_t *data = p + 2 + n;
    size_t dlen = len - 2 - n;
    if (p[0] == 0) {
        if (dlen != raw)
            return HC_EPARSE;
        return hc_buf_append(out, data, dlen);
    }
    if (p[0] != 1)
        return HC_EPARSE;
    /* Trust the claimed size only if the frame says the same (our writer
     * always records it) and dlen bytes can expand that far (every block
     * gives at most ZSTD_BLOCKSIZE_MAX and takes at least 4 bytes): a
     * corrupt or crafted blob must not make us allocate 16 GiB. */
    if (ZSTD_getFrameContentSize(data, dlen) != raw || raw / ZSTD_BLOCKSIZE_MAX > dlen / 4)
        return HC_EPARSE;
    if (hc_buf_reserve(out, (size_t)raw))
        return HC_ENOMEM;
    size_t z = ZSTD_decompress(out->data + out->len, (size_t)raw, data, dlen);
    if (ZSTD_isError(z) || z != raw)
        return HC_EPARSE;
    out->len += z;
    out->data[out->len] = '\0';
    return 0;
}

/* Batched writes ------------------------------------------------------------- */

static int put_items(hc_store *s, MDB_txn *txn, const hc_store_item *it, size_t n)
{
    MDB_dbi recs = s->dbi[HC_T_RECORDS], bodies = s->dbi[HC_T_BODIES];
    for (size_t i = 0; i < n; i++) {
        MDB_val k = { HC_UUID_LEN, (void *)it[i].id }, v = { it[i].rec_len, (void *)it[i].rec };
        int rc = mdb_put(txn, recs, &k, &v, MDB_NOOVERWRITE);
        if (rc == MDB_KEYEXIST)
            continue;
        if (rc)
            return rc;
        uint8_t bk[HC_UUID_LEN + 1];
        memcpy(bk, it[i].id, HC_UUID_LEN);
        MDB_val bkey = { sizeof bk, bk };
        if (it[i].req_body) {
            bk[HC_UUID_LEN] = HC_BODY_REQUEST;
            MDB_val bv = { it[i].req_len, (void *)it[i].req_body };
            if ((rc = mdb_put(txn, bodies, &bkey, &bv, 0)))
                return rc;
        }
        if (it[i].resp_body) {
            bk[HC_UUID_LEN] = HC_BODY_RESPONSE;
            MDB_val bv = { it[i].resp_len, (void *)it[i].resp_body };
            if ((rc = mdb_put(txn, bodies, &bkey, &bv, 0)))
                return rc;
        }
    }
    return 0;
}

int hc_store_write(hc_store *s, int attempts, hc_store_write_fn *fn, void *ctx)
{
    for (int attempt = 0; attempt < attempts; attempt++) {
        MDB_txn *txn;
        int rc = hc_store_txn_begin(s, true, &txn);
        if (rc)
            return rc;
        rc = fn(s, txn, ctx);
        if (rc == 0)
            rc = hc_store_txn_commit(s, txn);
        else
            hc_store_txn_abort(s, txn);
        if (rc == HC_STORE_WRITE_SKIP)
            return 0;
        if (rc != HC_EFULL)
            return rc;
        if (hc_store_grow(s) != 0)
            return HC_EFULL;
    }
    return HC_EFULL;
}

struct put_items_args {
    const hc_store_item *items;
    size_t n;
};

static int put_items_attempt(hc_store *s, MDB_txn *txn, void *ctx)
{
    const struct put_items_args *a = ctx;
    return hc_store_mdb_rc(put_items(s, txn, a->items, a->n));
}

size_t hc_store_put_items(hc_store *s, const hc_store_item *items, size_t n, int *err)
{
    struct put_items_args a = { items, n };
    *err = hc_store_write(s, 8, put_items_attempt, &a);
    return *err ? 0 : n;
}

/* ---- compaction ------------------------------------------------------------- */

/* Why in-place compaction is safe (LMDB 0.9, lmdb.h "Caveats" and mdb.c):
 * every process with the env open holds a shared fcntl lock on byte 0 of
 * lock.mdb for as long as it is open, and mdb_env_open() takes that lock
 * (waiting with F_SETLKW if it must) before it opens data.mdb by path.
 * We take an exclusive open-file-description lock on that byte: it fails while
 * anyone has the store open and, while held, makes new openers wait. We read
 * the store with MDB_NOLOCK (it is ours alone), write the compacted copy into
 * a sibling directory and swap the two directories atomically
 * (RENAME_EXCHANGE). The old lock.mdb, which any waiter has already opened, is
 * then truncated: its mmap fails with EINVAL, and hc_store_open() retries once
 * on EINVAL, reaching the new store — never the new data.mdb with the old
 * lock file, whose transaction ids no longer match. */

static int lock_exclusive(int fd)
{
    struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1 };
    return fcntl(fd, F_OFD_SETLK, &fl);
}

static uint64_t file_size(const char *dir)
{
    char p[PATH_MAX + 16];
    struct stat st;
    snprintf(p, sizeof p, "%s/data.mdb", dir);
    return stat(p, &st) == 0 ? (uint64_t)st.st_size : 0;
}

/* Write a compacted copy of the env at src into the empty directory dir. */
static int copy_compacted(const char *src, unsigned env_flags, const char *dir, char *errbuf,
                          size_t errlen)
{
    MDB_env *env;
    int rc = mdb_env_create(&env);
    if (rc) {
        set_err(errbuf, errlen, src, mdb_strerror(rc));
        return HC_ESTORE;
    }
    mdb_env_set_maxdbs(env, HC_T__N + 2);
    mdb_env_set_maxreaders(env, 1024);
    if ((rc = mdb_env_open(env, src, env_flags | MDB_RDONLY | MDB_NOTLS, 0600)) != 0) {
        set_err(errbuf, errlen, src, mdb_strerror(rc));
        mdb_env_close(env);
        return HC_ESTORE;
    }
    char out[PATH_MAX + 16];
    snprintf(out, sizeof out, "%s/data.mdb", dir);
    /* Our own file, 0600: mdb_env_copy2() would create it with the umask. */
    int fd = open(out, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    int err = 0;
    if (fd < 0) {
        set_err(errbuf, errlen, out, strerror(errno));
        err = HC_ESTORE;
    } else if ((rc = mdb_env_copyfd2(env, fd, MDB_CP_COMPACT)) != 0 || fsync(fd) != 0) {
        set_err(errbuf, errlen, out, rc ? mdb_strerror(rc) : strerror(errno));
        err = HC_ESTORE;
    }
    if (fd >= 0)
        close(fd);
    mdb_env_close(env);
    return err;
}

/* The whole check without a pinning transaction (compaction opens its own
 * env, and LMDB allows one per file per process): a problem counts only if
 * the newest meta is still the one walked, i.e. no writer committed meanwhile. */
static int check_unpinned(const char *path, char *errbuf, size_t errlen)
{
    int fd = hc_store_check_open(path, errbuf, errlen);
    if (fd < 0)
        return HC_EPARSE;
    hc_check_result res, again;
    int err = 0;
    for (int tries = 0; tries < 4; tries++) {
        err = hc_store_check_fd(fd, 0, check_flags, NULL, NULL, NULL, &res);
        if (err != HC_EPARSE)
            break;
        if (hc_store_check_fd(fd, 0, HC_CHECK_META_ONLY, NULL, NULL, NULL, &again) != 0 ||
            again.txnid == res.txnid)
            break;
    }
    close(fd);
    if (err == HC_EPARSE && errbuf && errlen)
        snprintf(errbuf, errlen, "%s: damaged store: %s (see 'hc-analyze check')", path, res.first);
    return err == HC_EPARSE ? HC_EPARSE : 0;
}

int hc_store_verify(const char *path, hc_check_problem_fn *problem, hc_check_entry_fn *entry,
                    void *ctx, hc_check_result *res, char *errbuf, size_t errlen)
{
    memset(res, 0, sizeof *res);
    struct stat st;
    if (stat(path, &st) != 0) {
        set_err(errbuf, errlen, path, strerror(errno));
        return HC_ENOTFOUND;
    }
    if (!S_ISDIR(st.st_mode)) {
        set_err(errbuf, errlen, path, "not a directory (a store is a directory holding data.mdb)");
        return HC_ENOTFOUND;
    }
    int fd = hc_store_check_open(path, errbuf, errlen);
    if (fd < 0) {
        char p[PATH_MAX + 16];
        snprintf(p, sizeof p, "%s/data.mdb", path);
        if (lstat(p, &st) != 0) {
            set_err(errbuf, errlen, path, "not an hcshim store (no data.mdb)");
            return HC_ENOTFOUND;
        }
        if (problem)
            problem(ctx, errbuf);
        res->problems = 1;
        snprintf(res->first, sizeof res->first, "%s", errbuf);
        return HC_EPARSE;
    }
    int err = hc_store_check_fd(fd, 0, HC_CHECK_META_ONLY, problem, NULL, ctx, res);
    if (err) {
        close(fd);
        return err;
    }
    /* Pin a snapshot with a read transaction when LMDB can open the store
     * (its open reads the meta pages just checked; nothing else). */
    MDB_env *env = NULL;
    MDB_txn *txn = NULL;
    unsigned fl = MDB_RDONLY | MDB_NOTLS;
    for (int attempt = 0; attempt < 2 && !txn; attempt++) {
        if (mdb_env_create(&env) != 0)
            break;
        mdb_env_set_maxdbs(env, HC_T__N + 2);
        mdb_env_set_maxreaders(env, 1024);
        if (mdb_env_open(env, path, fl, 0600) == 0 &&
            mdb_txn_begin(env, NULL, MDB_RDONLY, &txn) == 0)
            break;
        txn = NULL;
        mdb_env_close(env);
        env = NULL;
        fl |= MDB_NOLOCK;
    }
    for (int tries = 0; tries < 8; tries++) {
        err = hc_store_check_fd(fd, txn ? (uint64_t)mdb_txn_id(txn) : 0, check_flags, problem,
                                entry, ctx, res);
        if (err != HC_EBUSY)
            break;
        mdb_txn_abort(txn);
        txn = NULL;
        if (mdb_txn_begin(env, NULL, MDB_RDONLY, &txn) != 0)
            txn = NULL;
    }
    if (txn)
        mdb_txn_abort(txn);
    if (env)
        mdb_env_close(env);
    close(fd);
    if (err == HC_EBUSY) {
        set_err(errbuf, errlen, path, "written too fast to take a still snapshot; try again");
        return HC_EBUSY;
    }
    return err;
}

static void remove_store_dir(const char *dir)
{
    char p[PATH_MAX + 16];
    snprintf(p, sizeof p, "%s/data.mdb", dir);
    unlink(p);
    snprintf(p, sizeof p, "%s/lock.mdb", dir);
    unlink(p);
    snprintf(p, sizeof p, "%s/" MEMO_NAME, dir);
    unlink(p);
    rmdir(dir);
}

int hc_store_compact(const char *path, const char *dest, uint64_t *before, uint64_t *after,
                     char *errbuf, size_t errlen)
{
    *before = *after = 0;
    struct stat st;
    char data[PATH_MAX + 16];
    snprintf(data, sizeof data, "%s/data.mdb", path);
    if (stat(data, &st) != 0) {
        set_err(errbuf, errlen, path,
                errno == ENOENT ? "not an hcshim store (no data.mdb)" : strerror(errno));
        return HC_ENOTFOUND;
    }
    *before = (uint64_t)st.st_size;
    int cerr = check_unpinned(path, errbuf, errlen);
    if (cerr)
        return cerr;

    if (dest) {
        if (mkdir(dest, 0700) != 0) {
            set_err(errbuf, errlen, dest,
                    errno == EEXIST ? "already exists (give a new directory)" : strerror(errno));
            return HC_EINVAL;
        }
        int err = copy_compacted(path, 0, dest, errbuf, errlen);
        if (err)
            remove_store_dir(dest);
        else
            *after = file_size(dest);
        return err;
    }

    char lockp[PATH_MAX + 16];
    snprintf(lockp, sizeof lockp, "%s/lock.mdb", path);
    int lfd = open(lockp, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (lfd < 0) {
        set_err(errbuf, errlen, lockp, strerror(errno));
        return HC_ESTORE;
    }
    if (lock_exclusive(lfd) != 0) {
        int e = errno;
        close(lfd);
        set_err(errbuf, errlen, path,
                e == EAGAIN || e == EACCES
                    ? "in use by another process (a program under the shim, hc-analyze serve); "
                      "stop it, or write a compacted copy with -o DIR"
                    : strerror(e));
        return e == EAGAIN || e == EACCES ? HC_EBUSY : HC_ESTORE;
    }
    char tmp[PATH_MAX + 32];
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.compact.XXXXXX", path) >= sizeof tmp ||
        !mkdtemp(tmp)) {
        set_err(errbuf, errlen, path,
                "cannot create the directory for the compacted copy beside it");
        close(lfd);
        return HC_ESTORE;
    }
    int err = copy_compacted(path, MDB_NOLOCK, tmp, errbuf, errlen);
    if (!err && renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_EXCHANGE) != 0) {
        set_err(errbuf, errlen, path, strerror(errno));
        err = HC_ESTORE;
    }
    if (!err) {
        /* tmp now names the old store. */
        if (ftruncate(lfd, 0) != 0)
            set_err(errbuf, errlen, path,
                    "compacted; the old lock file could not be emptied"); /* only waiters care */
        *after = file_size(path);
    }
    remove_store_dir(tmp);
    close(lfd); /* releases the lock: waiting openers proceed */
    return err;
}

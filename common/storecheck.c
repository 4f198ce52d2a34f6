/* storecheck.c — see storecheck.h.
 *
 * DESIGN
 * - The on-disk layout read here is LMDB 0.9's (mdb.c: MDB_page, MDB_node,
 *   MDB_db, MDB_meta) on a 64-bit little-endian machine, the only build the
 *   project supports. Every field is read with memcpy from a page buffer, so
 *   alignment and garbage are harmless.
 * - One page buffer per tree level: a branch page stays in its buffer while
 *   its children are walked, so the key range handed down points into it.
 * - A bitmap of the pages seen finds cycles and pages shared by two places;
 *   its size is bounded by the file (pages past the end are never read).
 */
#include "storecheck.h"
#include "err.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* LMDB 0.9 layout (mdb.c). */
#define PAGEHDRSZ        16u
#define NODESIZE         8u
#define P_BRANCH         0x01
#define P_LEAF           0x02
#define P_OVERFLOW       0x04
#define P_META           0x08
#define F_BIGDATA        0x01
#define F_SUBDATA        0x02
#define F_DUPDATA        0x04
#define MDB_MAGIC        0xBEEFC0DEu
#define MDB_DATA_VERSION 1u
#define P_INVALID        (~(uint64_t)0)
#define DB_SIZE          48u  /* sizeof(MDB_db) */
#define META_SIZE        136u /* sizeof(MDB_meta) */
#define MAXDEPTH         32   /* LMDB's CURSOR_STACK */
#define MIN_PSIZE        512u
#define MAX_PSIZE        32768u
#define INTEGERKEY       0x08 /* MDB_INTEGERKEY (the free list's keys) */

typedef struct dbrec {
    uint32_t pad;
    uint16_t flags, depth;
    uint64_t branch, leaf, overflow, entries, root;
} dbrec;

typedef struct meta {
    uint32_t magic, version;
    uint64_t mapsize;
    dbrec dbs[2]; /* 0 free list, 1 main */
    uint64_t last_pg, txnid;
} meta;

typedef struct table {
    char name[64];
    dbrec db;
} table;

typedef struct tcount {
    uint64_t branch, leaf, overflow, entries;
} tcount;

typedef struct ck {
    int fd;
    const uint8_t *map; /* HC_CHECK_MAPPED: the file, fsize bytes */
    unsigned psize;
    uint64_t npages; /* last_pg + 1 */
    uint64_t fsize;
    uint8_t *seen; /* bitmap over min(npages, file pages) */
    uint64_t seen_bits;
    uint8_t *buf[MAXDEPTH + 1];
    uint8_t *ovbuf; /* an overflow value, for the entry callback */
    size_t ovcap;
    hc_check_problem_fn *problem;
    hc_check_entry_fn *entry;
    void *ctx;
    hc_check_result *res;
    bool stop; /* the entry callback asked to stop */
    /* free-list pages, checked after every tree is walked */
    uint64_t *freepg;
    size_t nfree, freecap;
    table *tables;
    size_t ntables, tabcap;
} ck;

static uint16_t rd16(const uint8_t *p)
{
    uint16_t v;
    memcpy(&v, p, 2);
    return v;
}
static uint32_t rd32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}
static uint64_t rd64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static void report(ck *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void report(ck *c, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (c->res->problems == 0)
        snprintf(c->res->first, sizeof c->res->first, "%s", msg);
    if (c->res->problems < HC_CHECK_MAX_REPORTS && c->problem)
        c->problem(c->ctx, msg);
    c->res->problems++;
}

static void db_parse(const uint8_t *p, dbrec *d)
{
    d->pad = rd32(p);
    d->flags = rd16(p + 4);
    d->depth = rd16(p + 6);
    d->branch = rd64(p + 8);
    d->leaf = rd64(p + 16);
    d->overflow = rd64(p + 24);
    d->entries = rd64(p + 32);
    d->root = rd64(p + 40);
}

/* 0 ok, -1 short read or error. */
static int read_at(ck *c, void *buf, size_t len, uint64_t off)
{
    if (c->map) {
        if (off > c->fsize || len > c->fsize - off) {
            errno = EIO;
            return -1;
        }
        memcpy(buf, c->map + off, len);
        return 0;
    }
    size_t got = 0;
    while (got < len) {
        ssize_t n = pread(c->fd, (char *)buf + got, len - got, (off_t)(off + got));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        got += (size_t)n;
    }
    return 0;
}

/* Page pgno whole: a pointer into the map, or read into buf. NULL (reported)
 * when it is not in the file. */
static const uint8_t *read_page(ck *c, uint64_t pgno, uint8_t *buf, const char *tbl)
{
    if ((pgno + 1) * (uint64_t)c->psize > c->fsize) {
        report(c, "page %llu (%s): past the end of the file (%llu bytes: truncated?)",
               (unsigned long long)pgno, tbl, (unsigned long long)c->fsize);
        return NULL;
    }
    c->res->pages_read++;
    if (c->map)
        return c->map + pgno * (uint64_t)c->psize;
    if (read_at(c, buf, c->psize, pgno * (uint64_t)c->psize) != 0) {
        report(c, "page %llu (%s): cannot be read (%s)", (unsigned long long)pgno, tbl,
               strerror(errno));
        return NULL;
    }
    return buf;
}

/* Mark pgno seen; -1 (reported) when it was seen before. */
static int mark(ck *c, uint64_t pgno, const char *tbl)
{
    if (pgno >= c->seen_bits)
        return 0; /* past the file: read_page reports it */
    uint8_t bit = (uint8_t)(1u << (pgno & 7));
    if (c->seen[pgno >> 3] & bit) {
        report(c, "page %llu (%s): reached twice (a cycle, or shared by two places)",
               (unsigned long long)pgno, tbl);
        return -1;
    }
    c->seen[pgno >> 3] |= bit;
    return 0;
}

static int cmp_keys(bool intkey, const uint8_t *a, size_t al, const uint8_t *b, size_t bl)
{
    if (intkey && al == 8 && bl == 8) {
        uint64_t x = rd64(a), y = rd64(b);
        return x < y ? -1 : x > y;
    }
    size_t n = al < bl ? al : bl;
    int r = memcmp(a, b, n);
    if (r)
        return r;
    return al < bl ? -1 : al > bl;
}

typedef struct krange {
    const uint8_t *lo;
    size_t lol;
    const uint8_t *hi;
    size_t hil;
    bool haslo, hashi;
} krange;

static void add_table(ck *c, const uint8_t *name, size_t nl, const uint8_t *db)
{
    if (c->ntables == c->tabcap) {
        size_t ncap = c->tabcap ? c->tabcap * 2 : 8;
        table *t = realloc(c->tables, ncap * sizeof *t);
        if (!t)
            return;
        c->tables = t;
        c->tabcap = ncap;
    }
    table *t = &c->tables[c->ntables++];
    size_t n = nl < sizeof t->name - 1 ? nl : sizeof t->name - 1;
    for (size_t i = 0; i < n; i++)
        t->name[i] = (name[i] >= 0x20 && name[i] < 0x7f) ? (char)name[i] : '?';
    t->name[n] = '\0';
    db_parse(db, &t->db);
}

static void add_free(ck *c, uint64_t pg)
{
    if (c->nfree == c->freecap) {
        size_t ncap = c->freecap ? c->freecap * 2 : 256;
        uint64_t *f = realloc(c->freepg, ncap * sizeof *f);
        if (!f)
            return;
        c->freepg = f;
        c->freecap = ncap;
    }
    c->freepg[c->nfree++] = pg;
}

/* The value of a big node: check its overflow chain; read it when want. */
static const uint8_t *overflow(ck *c, const char *tbl, uint64_t pgno, size_t dsize, bool want,
                               tcount *cnt)
{
    uint8_t hdr[PAGEHDRSZ];
    if (pgno < 2 || pgno >= c->npages) {
        report(c, "overflow page %llu (%s): outside the store (last page %llu)",
               (unsigned long long)pgno, tbl, (unsigned long long)(c->npages - 1));
        return NULL;
    }
    uint64_t pages = ((uint64_t)PAGEHDRSZ - 1 + dsize) / c->psize + 1;
    if (pgno + pages > c->npages) {
        report(c, "overflow pages %llu-%llu (%s): past the last page %llu",
               (unsigned long long)pgno, (unsigned long long)(pgno + pages - 1), tbl,
               (unsigned long long)(c->npages - 1));
        return NULL;
    }
    if ((pgno + pages) * (uint64_t)c->psize > c->fsize) {
        report(c,
               "overflow pages %llu-%llu (%s): past the end of the file (%llu bytes: truncated?)",
               (unsigned long long)pgno, (unsigned long long)(pgno + pages - 1), tbl,
               (unsigned long long)c->fsize);
        return NULL;
    }
    if (read_at(c, hdr, sizeof hdr, pgno * (uint64_t)c->psize) != 0) {
        report(c, "overflow page %llu (%s): cannot be read", (unsigned long long)pgno, tbl);
        return NULL;
    }
    c->res->pages_read++;
    uint16_t flags = rd16(hdr + 10);
    uint32_t np = rd32(hdr + 12);
    if (rd64(hdr) != pgno || flags != P_OVERFLOW || np != pages) {
        report(
            c,
            "overflow page %llu (%s): bad header (page number %llu, flags 0x%x, %u pages; expected "
            "%llu pages for a %zu-byte value)",
            (unsigned long long)pgno, tbl, (unsigned long long)rd64(hdr), flags, np,
            (unsigned long long)pages, dsize);
        return NULL;
    }
    for (uint64_t i = 0; i < pages; i++)
        if (mark(c, pgno + i, tbl) != 0)
            return NULL;
    cnt->overflow += pages;
    if (!want)
        return NULL;
    if (c->map)
        return c->map + pgno * (uint64_t)c->psize + PAGEHDRSZ; /* inside the file: checked above */
    if (c->ovcap < dsize + 1) {
        uint8_t *b = realloc(c->ovbuf, dsize + 1);
        if (!b)
            return NULL;
        c->ovbuf = b;
        c->ovcap = dsize + 1;
    }
    if (read_at(c, c->ovbuf, dsize, pgno * (uint64_t)c->psize + PAGEHDRSZ) != 0) {
        report(c, "overflow page %llu (%s): cannot be read", (unsigned long long)pgno, tbl);
        return NULL;
    }
    return c->ovbuf;
}

enum { T_FREE, T_MAIN, T_NAMED };

/* Walk the subtree at pgno, level 1 being the root. */
static void walk(ck *c, const char *tbl, int kind, uint64_t pgno, int level, int depth, krange kr,
                 tcount *cnt)
{
    if (c->stop)
        return;
    if (level > depth || level > MAXDEPTH) {
        report(c, "page %llu (%s): deeper than the table's depth %d", (unsigned long long)pgno, tbl,
               depth);
        return;
    }
    if (pgno < 2 || pgno >= c->npages) {
        report(c, "page %llu (%s): outside the store (last page %llu)", (unsigned long long)pgno,
               tbl, (unsigned long long)(c->npages - 1));
        return;
    }
    if (mark(c, pgno, tbl) != 0)
        return;
    const uint8_t *p = read_page(c, pgno, c->buf[level], tbl);
    if (!p)
        return;
    uint64_t hp = rd64(p);
    uint16_t flags = rd16(p + 10), lower = rd16(p + 12), upper = rd16(p + 14);
    bool leaf = level == depth;
    uint16_t want = leaf ? P_LEAF : P_BRANCH;
    if (hp != pgno || flags != want) {
        report(c, "page %llu (%s): bad header (page number %llu, flags 0x%x; expected a %s page)",
               (unsigned long long)pgno, tbl, (unsigned long long)hp, flags,
               leaf ? "leaf" : "branch");
        return;
    }
    if (lower < PAGEHDRSZ || (lower - PAGEHDRSZ) % 2 || lower > upper || upper > c->psize) {
        report(c, "page %llu (%s): bad free-space bounds (lower %u, upper %u, page size %u)",
               (unsigned long long)pgno, tbl, lower, upper, c->psize);
        return;
    }
    unsigned n = (lower - PAGEHDRSZ) / 2;
    if (n == 0 || (!leaf && n < 1)) {
        report(c, "page %llu (%s): empty %s page", (unsigned long long)pgno, tbl,
               leaf ? "leaf" : "branch");
        return;
    }
    if (leaf)
        cnt->leaf++;
    else
        cnt->branch++;
    bool intkey = kind == T_FREE;
    const uint8_t *prev = NULL;
    size_t prevl = 0;
    /* First pass: every node inside the page, keys in order. */
    for (unsigned i = 0; i < n; i++) {
        uint16_t off = rd16(p + PAGEHDRSZ + 2 * i);
        if (off < upper || off % 2 || (size_t)off + NODESIZE > c->psize) {
            report(c, "page %llu (%s): node %u at a bad offset %u", (unsigned long long)pgno, tbl,
                   i, off);
            return;
        }
        const uint8_t *nd = p + off;
        uint16_t nflags = rd16(nd + 4), ksize = rd16(nd + 6);
        size_t dsize = leaf ? ((size_t)rd16(nd) | (size_t)rd16(nd + 2) << 16) : 0;
        size_t body = ksize + (leaf ? ((nflags & F_BIGDATA) ? 8 : dsize) : 0);
        if ((size_t)off + NODESIZE + body > c->psize) {
            report(c, "page %llu (%s): node %u runs past the page (offset %u, %zu bytes)",
                   (unsigned long long)pgno, tbl, i, off, NODESIZE + body);
            return;
        }
        if (leaf &&
            ((nflags & ~(F_BIGDATA | F_SUBDATA)) || (nflags & F_SUBDATA && kind != T_MAIN) ||
             (nflags & F_SUBDATA && (nflags & F_BIGDATA || dsize != DB_SIZE)))) {
            report(c, "page %llu (%s): node %u has bad flags 0x%x", (unsigned long long)pgno, tbl,
                   i, nflags);
            return;
        }
        if (!leaf && i == 0)
            continue; /* a branch's first key is implicit */
        const uint8_t *k = nd + NODESIZE;
        if (intkey && ksize != 8) {
            report(c, "page %llu (%s): node %u key of %u bytes (expected 8)",
                   (unsigned long long)pgno, tbl, i, ksize);
            return;
        }
        if ((prev && cmp_keys(intkey, prev, prevl, k, ksize) >= 0) ||
            (kr.haslo && cmp_keys(intkey, kr.lo, kr.lol, k, ksize) > 0) ||
            (kr.hashi && cmp_keys(intkey, k, ksize, kr.hi, kr.hil) >= 0)) {
            report(c, "page %llu (%s): node %u key out of order", (unsigned long long)pgno, tbl, i);
            return;
        }
        prev = k;
        prevl = ksize;
    }
    /* Second pass: children, or the entries. */
    for (unsigned i = 0; i < n && !c->stop; i++) {
        const uint8_t *nd = p + rd16(p + PAGEHDRSZ + 2 * i);
        uint16_t nflags = rd16(nd + 4), ksize = rd16(nd + 6);
        const uint8_t *k = nd + NODESIZE;
        if (!leaf) {
            uint64_t child =
                (uint64_t)rd16(nd) | (uint64_t)rd16(nd + 2) << 16 | (uint64_t)nflags << 32;
            krange sub = kr;
            if (i > 0) {
                sub.lo = k;
                sub.lol = ksize;
                sub.haslo = true;
            }
            if (i + 1 < n) {
                const uint8_t *nn = p + rd16(p + PAGEHDRSZ + 2 * (i + 1));
                sub.hi = nn + NODESIZE;
                sub.hil = rd16(nn + 6);
                sub.hashi = true;
            }
            walk(c, tbl, kind, child, level + 1, depth, sub, cnt);
            continue;
        }
        cnt->entries++;
        size_t dsize = (size_t)rd16(nd) | (size_t)rd16(nd + 2) << 16;
        const uint8_t *v = k + ksize;
        if (nflags & F_BIGDATA) {
            bool want_val = (kind == T_NAMED && c->entry) || kind == T_FREE;
            v = overflow(c, tbl, rd64(v), dsize, want_val, cnt);
            if (!v)
                continue;
        }
        if (kind == T_MAIN && (nflags & F_SUBDATA))
            add_table(c, k, ksize, v);
        else if (kind == T_FREE) {
            /* LMDB reserves free-list records before it knows how many pages
             * they will hold (mdb_freelist_save): a record may have room past
             * its count, never a count past its room. */
            uint64_t cntf = dsize >= 8 ? rd64(v) : 0;
            if (dsize < 8 || dsize % 8 || cntf > dsize / 8 - 1) {
                report(c, "page %llu (%s): free-list entry %u is malformed",
                       (unsigned long long)pgno, tbl, i);
                continue;
            }
            for (uint64_t j = 1; j <= cntf; j++)
                add_free(c, rd64(v + 8 * j));
        } else if (kind == T_NAMED && c->entry && c->entry(c->ctx, tbl, k, ksize, v, dsize))
            c->stop = true;
    }
}

static void walk_table(ck *c, const char *tbl, int kind, const dbrec *db, bool check_counts)
{
    tcount cnt = { 0 };
    if (db->root == P_INVALID) {
        if (db->depth || db->entries)
            report(c, "table %s: empty but its header says depth %u, %llu entries", tbl, db->depth,
                   (unsigned long long)db->entries);
        return;
    }
    if (db->depth < 1 || db->depth > MAXDEPTH) {
        report(c, "table %s: bad depth %u", tbl, db->depth);
        return;
    }
    if (kind == T_NAMED && db->flags != 0) {
        report(c, "table %s: unexpected flags 0x%x (hcshim tables have none)", tbl, db->flags);
        return;
    }
    krange kr = { 0 };
    uint64_t before = c->res->problems;
    walk(c, tbl, kind, db->root, 1, db->depth, kr, &cnt);
    if (!check_counts || c->stop || c->res->problems != before)
        return;
    if (cnt.branch != db->branch || cnt.leaf != db->leaf || cnt.overflow != db->overflow ||
        cnt.entries != db->entries)
        report(c,
               "table %s: header says %llu branch, %llu leaf, %llu overflow pages, %llu entries; "
               "found %llu, "
               "%llu, %llu, %llu",
               tbl, (unsigned long long)db->branch, (unsigned long long)db->leaf,
               (unsigned long long)db->overflow, (unsigned long long)db->entries,
               (unsigned long long)cnt.branch, (unsigned long long)cnt.leaf,
               (unsigned long long)cnt.overflow, (unsigned long long)cnt.entries);
}

static int meta_read(ck *c, int i, uint64_t off, meta *m, unsigned *psize)
{
    uint8_t b[PAGEHDRSZ + META_SIZE];
    if (read_at(c, b, sizeof b, off) != 0) {
        report(c, "meta page %d: cannot be read (file of %llu bytes: truncated?)", i,
               (unsigned long long)c->fsize);
        return -1;
    }
    m->magic = rd32(b + PAGEHDRSZ);
    m->version = rd32(b + PAGEHDRSZ + 4);
    m->mapsize = rd64(b + PAGEHDRSZ + 16);
    db_parse(b + PAGEHDRSZ + 24, &m->dbs[0]);
    db_parse(b + PAGEHDRSZ + 24 + DB_SIZE, &m->dbs[1]);
    m->last_pg = rd64(b + PAGEHDRSZ + 120);
    m->txnid = rd64(b + PAGEHDRSZ + 128);
    uint16_t flags = rd16(b + 10);
    if (rd64(b) != (uint64_t)i || !(flags & P_META)) {
        report(c, "meta page %d: bad header (page number %llu, flags 0x%x)", i,
               (unsigned long long)rd64(b), flags);
        return -1;
    }
    if (m->magic != MDB_MAGIC) {
        report(c, "meta page %d: bad magic 0x%08x (not an LMDB file)", i, m->magic);
        return -1;
    }
    if (m->version != MDB_DATA_VERSION) {
        report(c, "meta page %d: LMDB format version %u (expected %u)", i, m->version,
               MDB_DATA_VERSION);
        return -1;
    }
    unsigned ps = m->dbs[0].pad;
    if (ps < MIN_PSIZE || ps > MAX_PSIZE || (ps & (ps - 1))) {
        report(c, "meta page %d: bad page size %u", i, ps);
        return -1;
    }
    if (i == 0)
        *psize = ps;
    else if (ps != *psize) {
        report(c, "meta page 1: page size %u differs from meta page 0's %u", ps, *psize);
        return -1;
    }
    if (m->last_pg < 1 || m->last_pg >= (1ull << 40) || m->mapsize / ps < m->last_pg + 1) {
        report(c, "meta page %d: last page %llu does not fit the map of %llu bytes", i,
               (unsigned long long)m->last_pg, (unsigned long long)m->mapsize);
        return -1;
    }
    for (int d = 0; d < 2; d++) {
        const dbrec *db = &m->dbs[d];
        if (db->root != P_INVALID && (db->root < 2 || db->root > m->last_pg)) {
            report(c, "meta page %d: %s root page %llu outside the store (last page %llu)", i,
                   d ? "main" : "free-list", (unsigned long long)db->root,
                   (unsigned long long)m->last_pg);
            return -1;
        }
        if (db->depth > MAXDEPTH) {
            report(c, "meta page %d: %s tree depth %u", i, d ? "main" : "free-list", db->depth);
            return -1;
        }
    }
    return 0;
}

int hc_store_check_open(const char *dir, char *errbuf, size_t errlen)
{
    char p[PATH_MAX + 16];
    snprintf(p, sizeof p, "%s/data.mdb", dir);
    int fd = open(p, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        snprintf(errbuf, errlen, "%s: %s", p, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(errbuf, errlen, "%s: %s", p,
                 S_ISFIFO(st.st_mode) ? "is a FIFO, not a store file" : "not a regular file");
        close(fd);
        return -1;
    }
    return fd;
}

int hc_store_check_fd(int fd, uint64_t txnid, unsigned flags, hc_check_problem_fn *problem,
                      hc_check_entry_fn *entry, void *ctx, hc_check_result *res)
{
    memset(res, 0, sizeof *res);
    ck c = { .fd = fd, .problem = problem, .entry = entry, .ctx = ctx, .res = res };
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        report(&c, "data.mdb is not a regular file");
        return HC_EPARSE;
    }
    c.fsize = res->file_size = (uint64_t)st.st_size;
    int err = HC_EPARSE;
    meta m[2];
    unsigned psize = 0;
    if (c.fsize < 2 * MIN_PSIZE) {
        report(&c, "data.mdb is %llu bytes, shorter than its two meta pages (truncated?)",
               (unsigned long long)c.fsize);
        return HC_EPARSE;
    }
    if (meta_read(&c, 0, 0, &m[0], &psize) != 0)
        return HC_EPARSE;
    if (c.fsize < 2ull * psize) {
        report(&c,
               "data.mdb is %llu bytes, shorter than its two meta pages of %u bytes (truncated?)",
               (unsigned long long)c.fsize, psize);
        return HC_EPARSE;
    }
    if (meta_read(&c, 1, psize, &m[1], &psize) != 0)
        return HC_EPARSE;
    const meta *use = &m[m[0].txnid < m[1].txnid];
    if (flags & HC_CHECK_OLDER)
        use = &m[m[0].txnid >= m[1].txnid];
    else if (txnid) {
        if (m[0].txnid == txnid)
            use = &m[0];
        else if (m[1].txnid == txnid)
            use = &m[1];
        else
            return HC_EBUSY;
    }
    c.psize = res->psize = psize;
    c.npages = use->last_pg + 1;
    res->last_pg = use->last_pg;
    res->txnid = use->txnid;
    if (flags & HC_CHECK_META_ONLY)
        return 0;

    if (flags & HC_CHECK_MAPPED) {
        void *mp = mmap(NULL, c.fsize, PROT_READ, MAP_SHARED, fd, 0);
        if (mp != MAP_FAILED)
            c.map = mp; /* default advice: the kernel's fault-around maps neighbours too */
    }
    uint64_t file_pages = c.fsize / psize;
    c.seen_bits = c.npages < file_pages ? c.npages : file_pages;
    c.seen = calloc(c.seen_bits / 8 + 1, 1);
    err = HC_ENOMEM;
    if (!c.seen)
        goto out;
    for (int i = 0; i <= MAXDEPTH; i++)
        if (!(c.buf[i] = malloc(psize)))
            goto out;
    c.seen[0] |= 3; /* the meta pages */
    walk_table(&c, "free list", T_FREE, &use->dbs[0], true);
    walk_table(&c, "main", T_MAIN, &use->dbs[1], true);
    for (size_t i = 0; i < c.ntables && !c.stop; i++) {
        if (strcmp(c.tables[i].name, "records") == 0)
            res->records = c.tables[i].db.entries;
        walk_table(&c, c.tables[i].name, T_NAMED, &c.tables[i].db, !c.entry);
    }
    if (!c.stop)
        for (size_t i = 0; i < c.nfree; i++) {
            uint64_t pg = c.freepg[i];
            if (pg < 2 || pg >= c.npages)
                report(&c, "free list: page %llu outside the store (last page %llu)",
                       (unsigned long long)pg, (unsigned long long)(c.npages - 1));
            else if (pg < c.seen_bits && (c.seen[pg >> 3] & (1u << (pg & 7))))
                report(&c, "free list: page %llu is in use (or listed twice)",
                       (unsigned long long)pg);
            else if (pg < c.seen_bits)
                c.seen[pg >> 3] |=
                    (uint8_t)(1u << (pg & 7)); /* a page listed twice is reported as in use */
        }
    err = res->problems ? HC_EPARSE : 0;
out:
    if (c.map)
        munmap((void *)c.map, c.fsize);
    for (int i = 0; i <= MAXDEPTH; i++)
        free(c.buf[i]);
    free(c.seen);
    free(c.ovbuf);
    free(c.freepg);
    free(c.tables);
    return err;
}

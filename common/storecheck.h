/* storecheck.h — verify an LMDB store file page by page without mapping it.
 *
 * LMDB trusts its file: a page number past the end of a truncated data.mdb is
 * a SIGBUS when the map is touched, a zeroed or flipped page header sends a
 * cursor outside its page (SIGSEGV) or into mdb_assert() (abort). The checker
 * reads data.mdb with pread() only — never through a map — so it cannot fault,
 * and reports what LMDB would trip over before LMDB is allowed to touch it:
 *   - the file: a regular file (not a FIFO: opened O_NONBLOCK), at least the
 *     two meta pages long;
 *   - both meta pages: page number, P_META flag, magic, version, page size (a
 *     power of two, 512..32768, the same in both), last page within the map
 *     size, tree roots within the last page;
 *   - every page reachable from the newest meta (the one LMDB uses): the free
 *     list, the main table, each named table it lists, and each overflow
 *     chain: inside the file, its own page number in its header, the type
 *     its place in the tree requires (branch above, leaf at the tree's depth,
 *     overflow for big values), free-space bounds, node offsets and sizes
 *     inside the page, keys strictly ascending and within the range the parent
 *     gives, no page reached twice, the counts in each table's header (pages,
 *     entries) equal to what the walk found;
 *   - the free list: every page it lists exists in the map and is not in use.
 * A file may legitimately be shorter than its last page number says (LMDB
 * never writes a page that was allocated and freed in one transaction), so
 * only pages that are reachable must lie inside the file.
 *
 * The walk reads a consistent snapshot only if nobody commits meanwhile:
 * callers that share the store with writers pin one with an LMDB read
 * transaction (whose pages cannot be reused while it lives) and pass its id
 * as `txnid`; the checker then walks the meta page of that transaction.
 *
 * Thread-safety: every function works on its own state; the callbacks run in
 * the caller's thread.
 */
#ifndef HC_STORECHECK_H
#define HC_STORECHECK_H

#include <stddef.h>
#include <stdint.h>

/* Called once per problem found, with a one-line description ("page 12
 * (records): ..."); at most HC_CHECK_MAX_REPORTS times, then counted only. */
typedef void hc_check_problem_fn(void *ctx, const char *msg);
/* Called for every leaf entry of a named table that can be read, in key
 * order, with its value (an overflow value read into a temporary buffer valid
 * during the call). Return nonzero to stop the walk. */
typedef int hc_check_entry_fn(void *ctx, const char *table, const void *key, size_t klen,
                              const void *val, size_t vlen);

#define HC_CHECK_MAX_REPORTS 100

enum {
    HC_CHECK_META_ONLY = 1u << 0, /* file and meta pages only (cheap: two reads) */
    HC_CHECK_OLDER = 1u << 1,     /* walk the older meta (the transaction before the newest) */
    HC_CHECK_MAPPED = 1u << 2,    /* read through a private read-only map of the file's current
                                      size instead of pread: 5-10x faster, but a file truncated
                                      during the walk is a SIGBUS — only for a process that
                                      handles it (hc-analyze) */
};

typedef struct hc_check_result {
    uint64_t problems;   /* how many problems (also those past the report cap) */
    uint64_t pages_read; /* tree and overflow header pages read */
    uint64_t file_size;  /* data.mdb's size in bytes */
    uint64_t last_pg;    /* the newest meta's last page number */
    uint64_t txnid;      /* the transaction id of the meta walked */
    unsigned psize;      /* page size */
    uint64_t records;    /* entries of the records table (its header), if found */
    char first[256];     /* the first problem, "" when none */
} hc_check_result;

/* Verify the store file data.mdb open on fd (read with pread only; not
 * closed). txnid 0 walks the newest meta; else the meta of that transaction
 * (HC_EBUSY when neither meta holds it any more: retry with a new snapshot).
 * problem and entry may be NULL. Returns 0 when the file is sound, HC_EPARSE
 * when a problem was found (res->first says the first), HC_EBUSY as above,
 * HC_ENOMEM. The walk goes on past problems to report them all (a damaged
 * subtree is skipped), so entry sees every entry that can still be read. */
int hc_store_check_fd(int fd, uint64_t txnid, unsigned flags, hc_check_problem_fn *problem,
                      hc_check_entry_fn *entry, void *ctx, hc_check_result *res);

/* Open dir/data.mdb for checking: O_RDONLY|O_NONBLOCK|O_CLOEXEC (a FIFO does
 * not block), and refuse anything but a regular file. Returns the fd, or -1
 * with a reason in errbuf ("PATH/data.mdb: is a FIFO, not a store file"). */
int hc_store_check_open(const char *dir, char *errbuf, size_t errlen);

#endif

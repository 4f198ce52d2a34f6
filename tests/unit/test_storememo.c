/* test_storememo.c — the verification memo of common/store.c: a store
 * verified once and since changed only by LMDB is opened without the full
 * page walk; the memo is never trusted for a file changed behind LMDB's back
 * in the ways that keep its inode: overwritten with a damaged copy (`cp`),
 * truncated and regrown to the same size, an older (damaged) backup restored.
 * Each of those is walked and refused with HC_EPARSE; a sound older backup
 * restored opens and gets a new memo; a garbage or foreign memo is ignored; a
 * flock on data.mdb held forever costs walks, never a hang or a wrong trust. */
#include "err.h"
#include "store.h"
#include "t.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define PS 4096

static char root[] = "/tmp/hc-storememo-XXXXXX";
static char dir[600], data[700], memo_path[700];

static int add(int batch)
{
    hc_store *s;
    char err[800];
    if (hc_store_open(dir, 0, &s, err, sizeof err) != 0) {
        printf("# %s\n", err);
        return -1;
    }
    hc_store_item it[50];
    char r[50][64];
    memset(it, 0, sizeof it);
    for (int i = 0; i < 50; i++) {
        it[i].id[0] = (uint8_t)batch;
        it[i].id[15] = (uint8_t)i;
        int n = snprintf(r[i], sizeof r[i], "not a real record %d/%d", batch, i);
        it[i].rec = (const uint8_t *)r[i];
        it[i].rec_len = (size_t)n;
    }
    int e = 0;
    hc_store_put_items(s, it, 50, &e);
    hc_store_close(s);
    return e ? -1 : 0;
}

static int how; /* hc_store_verified_by() of the last open_rc() */

static int open_rc(void)
{
    hc_store *s;
    char err[800];
    how = -1;
    int rc = hc_store_open(dir, 0, &s, err, sizeof err);
    if (rc == 0) {
        how = hc_store_verified_by(s);
        hc_store_close(s);
    } else
        printf("# refused: %s\n", err);
    return rc;
}

static uint8_t *slurp(const char *p, size_t *len)
{
    FILE *f = fopen(p, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    *len = (size_t)ftell(f);
    rewind(f);
    uint8_t *b = malloc(*len);
    if (b && fread(b, 1, *len, f) != *len) {
        free(b);
        b = NULL;
    }
    fclose(f);
    return b;
}

/* What `cp SRC data.mdb` does: the same inode, truncated, rewritten. */
static int cp_over(const uint8_t *b, size_t len)
{
    int fd = open(data, O_WRONLY | O_TRUNC);
    if (fd < 0)
        return -1;
    ssize_t w = write(fd, b, len);
    close(fd);
    return w == (ssize_t)len ? 0 : -1;
}

static uint64_t ino_of(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 ? (uint64_t)st.st_ino : 0;
}

/* A copy of b with every page past the two meta pages zeroed: only the
 * full walk sees it (the meta pages are intact). */
static uint8_t *damaged(const uint8_t *b, size_t len)
{
    uint8_t *d = malloc(len);
    if (d) {
        memcpy(d, b, len);
        memset(d + 2 * PS, 0, len - 2 * PS);
    }
    return d;
}

int main(void)
{
    if (!mkdtemp(root)) {
        perror("mkdtemp");
        return 1;
    }
    snprintf(dir, sizeof dir, "%s/s", root);
    snprintf(data, sizeof data, "%s/data.mdb", dir);
    snprintf(memo_path, sizeof memo_path, "%s/verified.memo", dir);

    T_EQ_INT(add(1), 0, "a new store with 50 records");
    struct stat st;
    T_CHECK(stat(memo_path, &st) == 0 && (st.st_mode & 0777) == 0600, "the memo is written, 0600");
    T_EQ_INT(add(2), 0, "reopened (memo trusted) and 50 records more");
    size_t old_len;
    uint8_t *old = slurp(data, &old_len); /* a sound backup at this transaction */
    T_CHECK(old && old_len > 3 * PS, "backup taken (%zu bytes)", old_len);
    T_EQ_INT(add(3), 0, "50 records more after the backup");
    T_EQ_INT(open_rc(), 0, "the store opens");
    T_EQ_INT(how, HC_VERIFY_MEMO, "without a walk: the memo vouched (its writers kept it current)");
    T_EQ_INT(open_rc(), 0, "opens again");
    T_EQ_INT(how, HC_VERIFY_MEMO, "again by the memo (a read-only open changes nothing)");
    size_t cur_len;
    uint8_t *cur = slurp(data, &cur_len);
    if (!old || !cur)
        return t_done();
    uint64_t ino = ino_of(data);

    /* 1. cp of a damaged copy of the current file over it: same inode, same size. */
    uint8_t *d = damaged(cur, cur_len);
    T_EQ_INT(cp_over(d, cur_len), 0, "cp damaged-copy data.mdb");
    T_CHECK(ino_of(data) == ino, "same inode after cp");
    T_EQ_INT(open_rc(), HC_EPARSE,
             "cp of a damaged copy (same inode, size, txnid): walked and refused");
    T_EQ_INT(open_rc(), HC_EPARSE, "refused again (no memo was written for it)");
    T_EQ_INT(cp_over(cur, cur_len), 0, "the sound file copied back");
    T_EQ_INT(open_rc(), 0, "the sound file opens");
    T_EQ_INT(how, HC_VERIFY_WALK, "after a full walk (the memo does not match the copy)");
    T_EQ_INT(open_rc(), 0, "opens again");
    T_EQ_INT(how, HC_VERIFY_MEMO, "by the memo the walk wrote");
    T_EQ_INT(add(4), 0, "and takes writes");
    free(cur);
    cur = slurp(data, &cur_len);

    /* 2. Truncated (the tail lost) and regrown to the same size with zeros. */
    T_CHECK(truncate(data, 2 * PS) == 0 && truncate(data, (off_t)cur_len) == 0,
            "truncated to 2 pages and regrown");
    T_CHECK(ino_of(data) == ino, "same inode");
    T_EQ_INT(open_rc(), HC_EPARSE, "truncated and regrown to its size: walked and refused");
    T_EQ_INT(cp_over(cur, cur_len), 0, "the sound file copied back");
    T_EQ_INT(open_rc(), 0, "opens");

    /* 3. An older backup restored: damaged, then sound. */
    free(d);
    d = damaged(old, old_len);
    T_EQ_INT(cp_over(d, old_len), 0, "an older, damaged backup restored with cp");
    T_EQ_INT(open_rc(), HC_EPARSE, "older txnid restored, damaged: walked and refused");
    T_EQ_INT(cp_over(old, old_len), 0, "the older, sound backup restored");
    T_EQ_INT(open_rc(), 0, "older txnid restored, sound: opens");
    T_EQ_INT(how, HC_VERIFY_WALK, "after a full walk");
    T_EQ_INT(add(5), 0, "and takes writes");

    /* 4. A damaged file whose memo was written by someone else, or is garbage:
     *    never trusted. */
    free(cur);
    cur = slurp(data, &cur_len);
    free(d);
    d = damaged(cur, cur_len);
    T_EQ_INT(cp_over(d, cur_len), 0, "damaged in place again");
    int fd = open(memo_path, O_WRONLY | O_TRUNC);
    T_CHECK(fd >= 0 && write(fd, "garbage", 7) == 7, "memo overwritten with garbage");
    if (fd >= 0)
        close(fd);
    T_EQ_INT(open_rc(), HC_EPARSE, "a garbage memo is ignored: walked and refused");
    T_EQ_INT(cp_over(cur, cur_len), 0, "sound file back");
    T_EQ_INT(open_rc(), 0, "opens, memo rewritten");
    T_EQ_INT(open_rc(), 0, "opens again");
    T_EQ_INT(how, HC_VERIFY_MEMO, "by the rewritten memo");
    T_CHECK(unlink(memo_path) == 0 && symlink("/dev/null", memo_path) == 0,
            "memo replaced by a symlink");
    T_EQ_INT(open_rc(), 0, "a symlinked memo is ignored");
    T_EQ_INT(how, HC_VERIFY_WALK, "opens after a full walk");
    T_CHECK(lstat(memo_path, &st) == 0 && S_ISREG(st.st_mode) && stat("/dev/null", &st) == 0 &&
                S_ISCHR(st.st_mode),
            "the symlink was replaced by a new memo, not written through");

    /* 5. The flock held by someone who does not let go (a stopped process, a
     *    child forked while it was held): opens and commits go on, without
     *    the memo, and nothing is trusted that was not verified. */
    T_EQ_INT(open_rc(), 0, "opens");
    T_EQ_INT(how, HC_VERIFY_MEMO, "by the memo");
    int lfd = open(data, O_RDONLY);
    T_CHECK(lfd >= 0 && flock(lfd, LOCK_EX) == 0, "another descriptor holds the flock on data.mdb");
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    T_EQ_INT(add(6), 0, "a store opened and written while the lock is held");
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
    T_CHECK(ms < 5000, "without hanging (%.0f ms; the waits are bounded)", ms);
    T_EQ_INT(open_rc(), 0, "opens while the lock is held");
    T_EQ_INT(how, HC_VERIFY_WALK, "after a full walk (the memo could not be compared)");
    if (lfd >= 0)
        close(lfd);
    T_EQ_INT(open_rc(), 0, "lock released: opens");
    T_EQ_INT(how, HC_VERIFY_WALK,
             "after a full walk (the commit made without the lock left the memo behind)");
    T_EQ_INT(open_rc(), 0, "opens again");
    T_EQ_INT(how, HC_VERIFY_MEMO, "by the memo that walk wrote");

    free(old);
    free(cur);
    free(d);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    if (system(cmd) != 0)
        printf("# could not remove %s\n", root);
    return t_done();
}

/* test_storecheck.c — the store verifier (common/storecheck.c) and the
 * damage guards of common/store.c, on a real store damaged in known ways:
 * each damage is found, named (page, table, what), and refused by
 * hc_store_open with HC_EPARSE; reads through pread and through a map agree;
 * a store that shrinks or is replaced while open fails every transaction. */
#include "err.h"
#include "store.h"
#include "storecheck.h"
#include "t.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PS 4096

static char root[] = "/tmp/hc-storecheck-XXXXXX";
static uint8_t *orig;
static size_t orig_len;

static void path_of(char *out, size_t n, const char *dir, const char *file)
{
    snprintf(out, n, "%s/%s%s%s", root, dir, file ? "/" : "", file ? file : "");
}

static int make_store(const char *dir)
{
    char p[512];
    path_of(p, sizeof p, dir, NULL);
    hc_store *s;
    char err[600];
    if (hc_store_open(p, 0, &s, err, sizeof err) != 0)
        return -1;
    uint8_t big[20000];
    uint64_t x = 88172645463325252ull;
    for (size_t i = 0; i < sizeof big; i++) { /* incompressible: an overflow chain of 5 pages */
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        big[i] = (uint8_t)x;
    }
    for (int batch = 0; batch < 3; batch++) {
        hc_store_item it[100];
        hc_buf rec[100], body[100];
        memset(it, 0, sizeof it);
        for (int i = 0; i < 100; i++) {
            rec[i] = (hc_buf)HC_BUF_INIT;
            body[i] = (hc_buf)HC_BUF_INIT;
            memset(it[i].id, 0, HC_UUID_LEN);
            it[i].id[0] = (uint8_t)batch;
            it[i].id[15] = (uint8_t)i;
            char r[64];
            int n = snprintf(r, sizeof r, "not a real record %d/%d", batch, i);
            hc_buf_append(&rec[i], r, (size_t)n);
            it[i].rec = rec[i].data;
            it[i].rec_len = rec[i].len;
            hc_body_encode(big, i % 10 == 0 ? sizeof big : 300, false, &body[i]);
            it[i].resp_body = body[i].data;
            it[i].resp_len = body[i].len;
        }
        int e;
        hc_store_put_items(s, it, 100, &e);
        for (int i = 0; i < 100; i++) {
            hc_buf_free(&rec[i]);
            hc_buf_free(&body[i]);
        }
        if (e)
            return -1;
    }
    hc_store_close(s);
    return 0;
}

static int write_copy(const char *dir, const uint8_t *data, size_t len)
{
    char p[512];
    path_of(p, sizeof p, dir, NULL);
    mkdir(p, 0700);
    path_of(p, sizeof p, dir, "data.mdb");
    unlink(p);
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0)
        return -1;
    ssize_t w = write(fd, data, len);
    close(fd);
    path_of(p, sizeof p, dir, "lock.mdb");
    unlink(p);
    return w == (ssize_t)len ? 0 : -1;
}

static uint64_t rd64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

/* The newest meta's offset. */
static size_t newest_meta(const uint8_t *d)
{
    return rd64(d + 16 + 128) >= rd64(d + PS + 16 + 128) ? 0 : PS;
}

/* Check dir with pread and with a map; both must agree. Returns the result. */
static int check_dir(const char *dir, hc_check_result *res)
{
    char p[512], err[600];
    path_of(p, sizeof p, dir, NULL);
    int fd = hc_store_check_open(p, err, sizeof err);
    if (fd < 0) {
        snprintf(res->first, sizeof res->first, "%s", err);
        return -100;
    }
    hc_check_result mres;
    int rc = hc_store_check_fd(fd, 0, 0, NULL, NULL, NULL, res);
    int mrc = hc_store_check_fd(fd, 0, HC_CHECK_MAPPED, NULL, NULL, NULL, &mres);
    close(fd);
    if (rc != mrc || strcmp(res->first, mres.first) != 0)
        return -200;
    return rc;
}

typedef void damage_fn(uint8_t *d, size_t *len);

static void d_short(uint8_t *d, size_t *len)
{
    (void)d;
    *len = 100;
}
static void d_magic(uint8_t *d, size_t *len)
{
    (void)len;
    d[16] ^= 0x40;
}
static void d_psize(uint8_t *d, size_t *len)
{
    (void)len;
    d[PS + 16 + 24 + 1] ^= 0x01;
} /* 4096 -> 4352 */
static void d_lastpage(uint8_t *d, size_t *len)
{
    (void)d;
    *len -= PS;
}
static void d_root_zero(uint8_t *d, size_t *len)
{
    (void)len;
    uint64_t rootpg = rd64(d + newest_meta(d) + 16 + 24 + 48 + 40); /* main table root */
    memset(d + rootpg * PS, 0, PS);
}
static void d_root_bounds(uint8_t *d, size_t *len)
{
    (void)len;
    uint64_t rootpg = rd64(d + newest_meta(d) + 16 + 24 + 48 + 40);
    uint16_t up = 8;
    memcpy(d + rootpg * PS + 14, &up, 2); /* upper below lower */
}
static void d_root_offset(uint8_t *d, size_t *len)
{
    (void)len;
    uint64_t rootpg = rd64(d + newest_meta(d) + 16 + 24 + 48 + 40);
    uint16_t off = 4095;
    memcpy(d + rootpg * PS + 16, &off, 2);
}
static void d_root_order(uint8_t *d, size_t *len)
{
    (void)len;
    uint64_t rootpg = rd64(d + newest_meta(d) + 16 + 24 + 48 + 40);
    uint8_t *p = d + rootpg * PS;
    uint16_t a, b;
    memcpy(&a, p + 16, 2);
    memcpy(&b, p + 18, 2);
    memcpy(p + 16, &b, 2); /* swap the first two node pointers */
    memcpy(p + 18, &a, 2);
}
static void d_root_out(uint8_t *d, size_t *len)
{
    (void)len;
    uint64_t big = 1ull << 30;
    memcpy(d + newest_meta(d) + 16 + 24 + 48 + 40, &big, 8);
}

static void test_damages(void)
{
    static const struct {
        const char *name;
        damage_fn *fn;
        const char *want;
    } cases[] = {
        { "truncated below the meta pages", d_short, "shorter than its two meta pages" },
        { "meta 0 magic", d_magic, "meta page 0: bad magic" },
        { "meta 1 page size", d_psize, "meta page 1: bad page size 4352" },
        { "last page cut off", d_lastpage, "past the end of the file" },
        { "main root zeroed", d_root_zero,
          "(main): bad header (page number 0, flags 0x0; expected a leaf page)" },
        { "main root bounds", d_root_bounds, "(main): bad free-space bounds" },
        { "main root node offset", d_root_offset, "(main): node 0 at a bad offset 4095" },
        { "main root keys swapped", d_root_order, "(main): node 1 key out of order" },
        { "main root past the last page", d_root_out,
          "main root page 1073741824 outside the store" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t *d = malloc(orig_len);
        size_t len = orig_len;
        memcpy(d, orig, orig_len);
        cases[i].fn(d, &len);
        T_CHECK(write_copy("bad", d, len) == 0, "%s: copy written", cases[i].name);
        free(d);
        hc_check_result res;
        int rc = check_dir("bad", &res);
        T_EQ_INT(rc, HC_EPARSE, "%s: found (pread and map agree)", cases[i].name);
        T_CHECK(strstr(res.first, cases[i].want) != NULL, "%s: says '%s'", cases[i].name,
                cases[i].want);
        if (!strstr(res.first, cases[i].want))
            printf("#   got: %s\n", res.first);
        char p[512], err[600] = "";
        path_of(p, sizeof p, "bad", NULL);
        hc_store *s = NULL;
        int orc = hc_store_open(p, 0, &s, err, sizeof err);
        T_CHECK(orc == HC_EPARSE && !s && strstr(err, "damaged store") && strstr(err, p),
                "%s: hc_store_open refuses it, naming the store: %s", cases[i].name, err);
        if (s)
            hc_store_close(s);
        orc = hc_store_open(p, HC_STORE_RDONLY, &s, err, sizeof err);
        T_CHECK(orc == HC_EPARSE && !s, "%s: so does a read-only open", cases[i].name);
        if (s)
            hc_store_close(s);
    }
}

static void test_fifo(void)
{
    char p[512], err[600];
    path_of(p, sizeof p, "fifo", NULL);
    mkdir(p, 0700);
    path_of(p, sizeof p, "fifo", "data.mdb");
    T_CHECK(mkfifo(p, 0600) == 0, "a FIFO as data.mdb");
    path_of(p, sizeof p, "fifo", NULL);
    int fd = hc_store_check_open(p, err, sizeof err);
    T_CHECK(fd < 0 && strstr(err, "is a FIFO"), "check_open refuses it without blocking: %s", err);
    hc_store *s = NULL;
    T_EQ_INT(hc_store_open(p, HC_STORE_RDONLY, &s, err, sizeof err), HC_EPARSE,
             "hc_store_open refuses it");
}

static void test_live(void)
{
    char p[512], data[600], err[600];
    T_CHECK(write_copy("live", orig, orig_len) == 0, "a sound copy");
    path_of(p, sizeof p, "live", NULL);
    path_of(data, sizeof data, "live", "data.mdb");
    hc_store *s = NULL;
    T_EQ_INT(hc_store_open(p, 0, &s, err, sizeof err), 0, "a sound store opens");
    if (!s)
        return;
    MDB_txn *txn;
    T_EQ_INT(hc_store_txn_begin(s, false, &txn), 0, "a transaction begins");
    hc_store_txn_abort(s, txn);
    T_CHECK(hc_store_damage(s) == NULL, "no damage");
    T_CHECK(truncate(data, (off_t)(orig_len - 3 * PS)) == 0, "the file shrinks while open");
    T_EQ_INT(hc_store_txn_begin(s, true, &txn), HC_EPARSE, "the next transaction fails");
    T_CHECK(hc_store_damage(s) && strstr(hc_store_damage(s), "shrank"), "damage says it shrank: %s",
            hc_store_damage(s) ? hc_store_damage(s) : "(null)");
    T_EQ_INT(truncate(data, (off_t)orig_len), 0, "the file is its size again");
    T_EQ_INT(hc_store_txn_begin(s, false, &txn), HC_EPARSE, "the store stays damaged");
    hc_store_close(s);

    T_CHECK(write_copy("live2", orig, orig_len) == 0, "another sound copy");
    path_of(p, sizeof p, "live2", NULL);
    T_EQ_INT(hc_store_open(p, 0, &s, err, sizeof err), 0, "it opens");
    if (!s)
        return;
    char other[600];
    path_of(data, sizeof data, "live2", "data.mdb");
    path_of(other, sizeof other, "live", "data.mdb");
    T_EQ_INT(rename(other, data), 0, "data.mdb is replaced while open");
    T_EQ_INT(hc_store_txn_begin(s, false, &txn), HC_EPARSE, "the next transaction fails");
    T_CHECK(hc_store_damage(s) && strstr(hc_store_damage(s), "replaced"),
            "damage says it was replaced");
    hc_store_close(s);
}

static int count_entry(void *ctx, const char *table, const void *k, size_t kl, const void *v,
                       size_t vl)
{
    (void)k;
    (void)kl;
    (void)v;
    size_t *n = ctx;
    if (strcmp(table, "records") == 0)
        n[0]++;
    else if (strcmp(table, "bodies") == 0 && vl > 10000)
        n[1]++;
    return 0;
}

int main(void)
{
    if (!mkdtemp(root)) {
        perror("mkdtemp");
        return 1;
    }
    T_EQ_INT(make_store("good"), 0,
             "a store with 300 records, 30 of them with a 5-page overflow body");
    char p[512];
    path_of(p, sizeof p, "good", "data.mdb");
    FILE *f = fopen(p, "rb");
    if (!f)
        return 1;
    fseek(f, 0, SEEK_END);
    orig_len = (size_t)ftell(f);
    rewind(f);
    orig = malloc(orig_len);
    if (fread(orig, 1, orig_len, f) != orig_len)
        return 1;
    fclose(f);

    hc_check_result res;
    T_EQ_INT(check_dir("good", &res), 0, "the sound store checks sound (pread and map)");
    T_EQ_INT(res.problems, 0, "no problems");
    T_EQ_INT(res.psize, PS, "page size");
    path_of(p, sizeof p, "good", NULL);
    size_t n[2] = { 0, 0 };
    char err[600];
    T_EQ_INT(hc_store_verify(p, NULL, count_entry, n, &res, err, sizeof err), 0,
             "hc_store_verify: sound");
    T_EQ_INT(n[0], 300, "every record is handed to the entry callback");
    T_EQ_INT(n[1], 30, "every overflow body, whole");
    T_EQ_INT(res.records, 300, "the records table's header count");

    test_damages();
    test_fifo();
    test_live();
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    if (system(cmd) != 0)
        return 1;
    free(orig);
    return t_done();
}

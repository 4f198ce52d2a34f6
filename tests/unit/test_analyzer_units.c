/* test_analyzer_units.c — hc-analyze's pure modules: exact percentiles
 * (against sorting), money and number formats, terminal escaping, UTF-8,
 * time filters, CSV quoting, option values.
 *
 * The unit-test build links common/ objects only, so the analyzer modules
 * under test are compiled into this binary by including their sources. */
#include "analyzer/agg.c"
#include "analyzer/agg_ch.c"
#include "analyzer/batch.c"
#include "analyzer/chdest.c"
#include "analyzer/cli.c"
#include "analyzer/fmt.c"
#include "analyzer/httpc.c"
#include "analyzer/jsonw.c"
#include "analyzer/query.c"
#include "analyzer/reprice.c"
#include "analyzer/source_ch.c"
#include "analyzer/table.c"
#include "analyzer/timebucket.c"
#include "analyzer/utf8.c"
#include "t.h"

#include <stdlib.h>

static int cmp64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* Nearest rank by sorting: the definition agg.h documents. */
static int64_t by_sort(const int64_t *v, size_t n, unsigned p)
{
    int64_t *c = malloc(n * sizeof *c);
    memcpy(c, v, n * sizeof *c);
    qsort(c, n, sizeof *c, cmp64);
    size_t rank = (size_t)(((unsigned long long)p * n + 99) / 100);
    int64_t r = c[(rank ? rank : 1) - 1];
    free(c);
    return r;
}

static void test_percentiles(void)
{
    static const size_t sizes[] = { 1, 2, 3, 7, 20, 99, 100, 101, 1000, 4097 };
    static const unsigned ps[] = { 1, 50, 90, 95, 99, 100 };
    uint64_t x = 42;
    int bad = 0, cases = 0;
    for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
        for (int dist = 0; dist < 3; dist++) {
            size_t n = sizes[si];
            int64_t *v = malloc(n * sizeof *v);
            for (size_t i = 0; i < n; i++) {
                x = x * 6364136223846793005ull + 1442695040888963407ull;
                v[i] = dist == 0   ? (int64_t)(x >> 33)
                       : dist == 1 ? (int64_t)((x >> 33) % 5)
                                   : (int64_t)(n - i);
            }
            for (size_t pi = 0; pi < sizeof ps / sizeof ps[0]; pi++) {
                agg_vec a = { 0 };
                for (size_t i = 0; i < n; i++)
                    agg_vec_push(&a, v[i]);
                cases++;
                if (agg_percentile(&a, ps[pi]) != by_sort(v, n, ps[pi]))
                    bad++;
                agg_vec_free(&a);
            }
            /* several at once, on one array */
            agg_vec a = { 0 };
            for (size_t i = 0; i < n; i++)
                agg_vec_push(&a, v[i]);
            int64_t out[6];
            agg_percentiles(&a, ps, 6, out);
            for (size_t pi = 0; pi < 6; pi++, cases++)
                if (out[pi] != by_sort(v, n, ps[pi]))
                    bad++;
            agg_vec_free(&a);
            free(v);
        }
    }
    T_EQ_INT(bad, 0, "quickselect percentiles equal sort-based nearest rank (%d cases)", cases);
    agg_vec empty = { 0 };
    T_EQ_INT(agg_percentile(&empty, 50), -1, "percentile of nothing is -1");
}

static void test_groups(void)
{
    agg_groups g;
    agg_groups_init(&g, 0);
    char key[32];
    for (int i = 0; i < 5000; i++) {
        int n = snprintf(key, sizeof key, "k%d", i % 1000);
        agg_acc *a = agg_group(&g, key, (size_t)n);
        a->cost_nusd += i % 1000;
        a->requests++;
    }
    T_EQ_INT(g.n, 1000, "group table: 1000 distinct keys");
    long gi = agg_group_find(&g, "k7", 2);
    T_CHECK(gi >= 0 && g.accs[gi].requests == 5 && g.accs[gi].cost_nusd == 35,
            "group k7 accumulated 5 times");
    T_EQ_INT(agg_group_find(&g, "nope", 4), -1, "missing key");
    T_CHECK(agg_group(&g, "a\0b", 3) != agg_group(&g, "a\0c", 3), "keys with NULs are distinct");
    size_t *order = malloc(g.n * sizeof *order);
    agg_groups_order(&g, order);
    T_EQ_STR(g.keys[order[0]], "k999", "ordered by cost, highest first");
    free(order);
    agg_groups_free(&g);
}

static void test_money(void)
{
    static const struct {
        int64_t nusd;
        const char *text, *exact;
    } cases[] = {
        { 0, "$0", "0" },
        { 1, "$0.000000001", "0.000000001" },
        { 999, "$0.000000999", "0.000000999" },
        { 123456, "$0.000123", "0.000123456" },
        { 123500, "$0.000124", "0.0001235" },
        { 7950, "$0.00000795", "0.00000795" },
        { 10000000, "$0.0100", "0.01" },
        { 99960000, "$0.100", "0.09996" },
        { 999999999, "$1.00", "0.999999999" },
        { 1000000000, "$1.00", "1" },
        { 2500000000, "$2.50", "2.5" },
        { 1234567890123, "$1,234.57", "1234.567890123" },
        { -5, "-$0.000000005", "-0.000000005" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char a[FMT_NUM], b[FMT_NUM];
        T_EQ_STR(fmt_usd(a, cases[i].nusd), cases[i].text, "fmt_usd(%lld)",
                 (long long)cases[i].nusd);
        T_EQ_STR(fmt_usd_exact(b, cases[i].nusd), cases[i].exact, "fmt_usd_exact(%lld)",
                 (long long)cases[i].nusd);
    }
    char n[FMT_NUM];
    T_EQ_STR(fmt_int(n, 1234567), "1,234,567", "fmt_int thousands");
    T_EQ_STR(fmt_int(n, -1000), "-1,000", "fmt_int negative");
    T_EQ_STR(fmt_dur(n, 812345), "812 ms", "fmt_dur ms");
    T_EQ_STR(fmt_dur(n, 2410000), "2.41 s", "fmt_dur s");
    T_EQ_STR(fmt_dur(n, 192000000), "3m 12s", "fmt_dur minutes");
    T_EQ_STR(fmt_dur(n, -1), "-", "fmt_dur none");
    T_EQ_STR(fmt_ms_exact(n, 812345), "812.345", "fmt_ms_exact");
}

static void test_term(void)
{
    static const struct {
        const char *in, *out;
        unsigned flags;
    } cases[] = {
        { "plain text", "plain text", 0 },
        { "a\x1b[2Jb", "a\\e[2Jb", 0 },
        { "bell\x07", "bell\\x07", 0 },
        { "line\nbreak\ttab\r", "line\\nbreak\\ttab\\r", 0 },
        { "line\nkept\t", "line\nkept\t", FMT_KEEP_NL },
        { "c1 \xc2\x9b"
          "31m",
          "c1 \\u009b31m", 0 },
        { "del\x7f", "del\\x7f", 0 },
        { "bad \xff utf8", "bad \\xff utf8", 0 },
        { "overlong \xc0\xaf", "overlong \\xc0\\xaf", 0 },
        { "ünïcødé ✓ €", "ünïcødé ✓ €", 0 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        hc_buf b = HC_BUF_INIT;
        fmt_term(&b, cases[i].in, strlen(cases[i].in), cases[i].flags);
        T_EQ_STR(b.data, cases[i].out, "fmt_term case %zu", i);
        hc_buf_free(&b);
    }
    T_CHECK(fmt_term_safe("abc", 3) && !fmt_term_safe("a\x1b", 2), "fmt_term_safe");
}

static void test_utf8(void)
{
    uint32_t cp;
    T_EQ_INT(utf8_decode((const unsigned char *)"\xe2\x82\xac", 3, &cp), 3, "euro sign decodes");
    T_EQ_INT(cp, 0x20ac, "euro code point");
    T_EQ_INT(utf8_decode((const unsigned char *)"\xed\xa0\x80", 3, &cp), 0, "surrogate refused");
    T_EQ_INT(utf8_decode((const unsigned char *)"\xe2\x82", 2, &cp), 0,
             "truncated sequence refused");
    T_EQ_INT(utf8_width("ab€…"), 4, "width counts code points");
    T_EQ_INT(utf8_prefix("ab€cd", 3), 5, "prefix of 3 columns is 5 bytes");
}

static void test_times(void)
{
    int64_t now = 1790000000LL * 1000000, t;
    static const struct {
        const char *in;
        int ok;
        int64_t want;
    } cases[] = {
        { "2026-11-01", 1, 1793491200LL * 1000000 },
        { "2026-11-01T10:00", 1, (1793491200LL + 36000) * 1000000 },
        { "2026-11-01 10:00:30Z", 1, (1793491200LL + 36030) * 1000000 },
        { "1790000000", 1, 1790000000LL * 1000000 },
        { "7d", 1, 1790000000LL * 1000000 - 7 * 86400LL * 1000000 },
        { "24h", 1, 1790000000LL * 1000000 - 86400LL * 1000000 },
        { "30m", 1, 1790000000LL * 1000000 - 1800LL * 1000000 },
        { "yesterday", 0, 0 },
        { "90", 0, 0 },
        { "2026-13-01", 0, 0 },
        { "", 0, 0 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int rc = query_parse_time(cases[i].in, now, &t);
        if (cases[i].ok)
            T_CHECK(rc == 0 && t == cases[i].want, "time '%s'", cases[i].in);
        else
            T_CHECK(rc != 0, "time '%s' refused", cases[i].in);
    }
}

static void test_filter(void)
{
    query_filter f;
    memset(&f, 0, sizeof f);
    char err[256];
    T_EQ_INT(query_filter_set(&f, "--where", "Workflow=research", 0, err, sizeof err), 0,
             "--where K=V");
    T_EQ_INT(query_filter_set(&f, "--model", "gpt-4o*", 0, err, sizeof err), 0, "--model glob");
    T_EQ_INT(query_filter_set(&f, "--status", "5xx", 0, err, sizeof err), 0, "--status 5xx");
    T_CHECK(query_filter_set(&f, "--status", "6xx", 0, err, sizeof err) != 0 && strstr(err, "6xx"),
            "--status 6xx refused");
    T_CHECK(query_filter_set(&f, "--where", "novalue", 0, err, sizeof err) != 0,
            "--where without = refused");
    hc_buf props = HC_BUF_INIT;
    hc_pairs_add(&props, "Workflow", "research");
    hc_record r;
    hc_record_init(&r);
    r.props.p = props.data;
    r.props.len = (uint32_t)props.len;
    r.model_req = "gpt-4o-mini";
    r.status = 503;
    T_CHECK(query_match(&f, &r), "record matches where+model+status");
    r.status = 200;
    T_CHECK(!query_match(&f, &r), "status 200 does not match 5xx");
    r.status = 503;
    r.model_req = "claude";
    r.model_resp = "gpt-4o-2024-08-06";
    T_CHECK(query_match(&f, &r), "--model matches the answered model too");
    query_filter_free(&f);
    hc_buf_free(&props);
}

static void test_csv_and_values(void)
{
    char *mem = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&mem, &len);
    table_csv_field(f, "plain");
    fputc('|', f);
    table_csv_field(f, "a,b");
    fputc('|', f);
    table_csv_field(f, "say \"hi\"\nbye");
    fclose(f);
    T_EQ_STR(mem, "plain|\"a,b\"|\"say \"\"hi\"\"\nbye\"", "RFC 4180 quoting");
    free(mem);

    long long nusd;
    T_CHECK(cli_parse_usd("--max-cost", "2.50", &nusd) == 0 && nusd == 2500000000LL, "usd 2.50");
    T_CHECK(cli_parse_usd("--max-cost", "$0.000000001", &nusd) == 0 && nusd == 1,
            "usd one nano-dollar");
    T_CHECK(cli_parse_usd("--max-cost", "3", &nusd) == 0 && nusd == 3000000000LL,
            "usd whole dollars");
    T_CHECK(cli_parse_usd("--max-cost", "1.0000000001", &nusd) != 0,
            "usd finer than a nano-dollar refused");
    T_CHECK(cli_parse_usd("--max-cost", "two", &nusd) != 0, "usd words refused");
    double r;
    T_CHECK(cli_parse_rate("--max-error-rate", "5%", 1.0, &r) == 0 && r == 0.05, "rate 5%%");
    T_CHECK(cli_parse_rate("--max-error-rate", "0.05", 1.0, &r) == 0 && r == 0.05, "rate 0.05");
    T_CHECK(cli_parse_rate("--max-error-rate", "5", 1.0, &r) != 0, "rate 5 (ambiguous) refused");
    unsigned long long u;
    T_CHECK(cli_parse_u64("--limit", "-3", &u) != 0, "negative count refused");
}

static void test_timebuckets(void)
{
    /* 2026-11-26 (a Thursday) 10:07:30 UTC */
    const int64_t t = 1795687650LL * 1000000;
    char l[32];
    tb_label(TB_HOUR, tb_start(TB_HOUR, t), l, sizeof l);
    T_EQ_STR(l, "2026-11-26 10:00", "hour bucket label");
    tb_label(TB_MINUTE, tb_start(TB_MINUTE, t), l, sizeof l);
    T_EQ_STR(l, "2026-11-26 10:07", "minute bucket label");
    int64_t w = tb_start(TB_WEEK, t);
    tb_label(TB_DAY, w, l, sizeof l);
    T_EQ_STR(l, "2026-11-23", "a week starts on Monday");
    tb_label(TB_WEEK, w, l, sizeof l);
    T_EQ_STR(l, "2026-W48", "ISO week label");
    T_CHECK(tb_next(TB_WEEK, w) - w == 7LL * 86400 * 1000000, "next week: 7 days later");
    int64_t dec = tb_start(TB_MONTH, 1796083200LL * 1000000 + 5); /* 2026-12-01 00:00:00 + 5 µs */
    tb_label(TB_MONTH, tb_next(TB_MONTH, dec), l, sizeof l);
    T_EQ_STR(l, "2027-01", "December's next month is January of the next year");
    T_CHECK(tb_start(TB_DAY, -1) == -86400LL * 1000000, "before the epoch: floor, not truncation");
    tb_label(TB_DAY, tb_start(TB_DAY, -1), l, sizeof l);
    T_EQ_STR(l, "1969-12-31", "the day before the epoch");
    enum tb_unit u = TB_NONE;
    T_CHECK(tb_parse("week", &u) == 0 && u == TB_WEEK && strcmp(tb_name(u), "week") == 0,
            "parse and name");
    T_CHECK(tb_parse("none", &u) != 0 && tb_parse("fortnight", &u) != 0, "unknown units refused");
}

/* source_ch.c: the WHERE clause pushed to ClickHouse, and decoding pairs. */
static void test_source_ch(void)
{
    query_filter f;
    memset(&f, 0, sizeof f);
    hc_buf w = HC_BUF_INIT;
    bool exact = false;
    T_CHECK(source_ch_where(&f, NULL, &w, &exact) == 0 && exact, "empty filter: exact");
    T_EQ_STR(w.data, "1", "empty filter: WHERE 1");
    char err[200];
    query_filter_set(&f, "user", "a'b", 0, err, sizeof err);
    query_filter_set(&f, "model", "gpt-4o*", 0, err, sizeof err);
    query_filter_set(&f, "status", "error", 0, err, sizeof err);
    query_filter_set(&f, "where", "Env=pr'od", 0, err, sizeof err);
    hc_buf_reset(&w);
    T_CHECK(source_ch_where(&f, NULL, &w, &exact) == 0 && exact,
            "user, model glob, status, property: exact");
    T_CHECK(strstr(w.data, "user = unhex('612762')") != NULL, "a quote travels as hex: %s", w.data);
    T_CHECK(strstr(w.data, "model_req LIKE 'gpt-4o%'") != NULL, "a * glob becomes LIKE %%: %s",
            w.data);
    T_CHECK(strstr(w.data, "(status >= 400 OR status <= 0)") != NULL, "status error: %s", w.data);
    T_CHECK(
        strstr(w.data, "props.value[indexOf(props.name, unhex('456E76'))] = unhex('7072276F64')") !=
            NULL,
        "property term: %s", w.data);
    query_filter_free(&f);
    memset(&f, 0, sizeof f);
    query_filter_set(&f, "model", "claude-[35]*", 0, err, sizeof err);
    query_filter_set(&f, "run", "last", 0, err, sizeof err);
    hc_buf_reset(&w);
    T_CHECK(source_ch_where(&f, "", &w, &exact) == 0 && !exact,
            "a [..] glob is left to the client (not exact)");
    T_CHECK(!strstr(w.data, "LIKE") && strstr(w.data, " AND 0"),
            "no LIKE; --run last with no run: nothing: %s", w.data);
    hc_buf_free(&w);

    hc_buf pl = HC_BUF_INIT;
    char n1[] = "4142,43", v1[] = "31,", n2[] = "", v2[] = "", n3[] = "41,42", v3[] = "31";
    T_CHECK(pairs_from(n1, v1, &pl) == 0, "two pairs, one value empty");
    hc_pairs pp = { pl.data, (uint32_t)pl.len };
    T_EQ_STR(hc_pairs_get(&pp, "AB"), "1", "pair AB=1");
    T_EQ_STR(hc_pairs_get(&pp, "C"), "", "pair C=''");
    T_CHECK(pairs_from(n2, v2, &pl) == 0 && pl.len == 0, "no names: no pairs");
    T_CHECK(pairs_from(n3, v3, &pl) == HC_EPARSE, "fewer values than names: refused");
    hc_buf_free(&pl);
}

int main(void)
{
    test_percentiles();
    test_groups();
    test_money();
    test_term();
    test_utf8();
    test_times();
    test_filter();
    test_csv_and_values();
    test_timebuckets();
    test_source_ch();
    return t_done();
}

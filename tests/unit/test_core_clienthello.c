/* test_core_clienthello.c — core/clienthello.h: SNI peek on untrusted bytes.
 *
 * Every ClientHello here is REAL: an OpenSSL client on a memory BIO pair
 * writes it (SSL_connect returns WANT_READ after sending the hello). From the
 * handshake bytes the test builds other record layouts by hand (the same
 * hello split over many records), every prefix (must be HC_PARTIAL), and
 * hostile variants (truncations, lying lengths, byte mutations) that must be
 * rejected without a crash. Inputs are copied into heap blocks of exactly
 * their size, and scratch too, so an ASan build catches any over-read or
 * over-write.
 */
#include "clienthello.h"
#include "err.h"
#include "t.h"

#include <openssl/bio.h>
#include <openssl/ssl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define SCRATCH (64 * 1024)

typedef struct {
    unsigned char *p;
    size_t n;
} bytes;

static unsigned char *dup_exact(const void *p, size_t n)
{
    unsigned char *d = malloc(n ? n : 1);
    if (!d)
        abort();
    memcpy(d, p, n);
    return d;
}

/* Options for one generated hello. */
typedef struct {
    const char *sni;       /* NULL: no server_name */
    int max_version;       /* 0: library default (TLS 1.3) */
    size_t alpn_bytes;     /* > 0: an ALPN list of about this many bytes (a big hello) */
    const char *groups;    /* NULL: default */
    const char *ciphers12; /* NULL: default */
} hello_opts;

/* The bytes an OpenSSL client writes as its first flight. */
static bytes make_hello(const hello_opts *o)
{
    bytes b = { NULL, 0 };
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    SSL *ssl = NULL;
    BIO *in = NULL, *out = NULL;
    unsigned char *alpn = NULL;
    if (!ctx)
        goto done;
    if (o->max_version)
        SSL_CTX_set_max_proto_version(ctx, o->max_version);
    if (o->groups && SSL_CTX_set1_groups_list(ctx, o->groups) != 1)
        goto done;
    if (o->ciphers12 && SSL_CTX_set_cipher_list(ctx, o->ciphers12) != 1)
        goto done;
    ssl = SSL_new(ctx);
    in = BIO_new(BIO_s_mem());
    out = BIO_new(BIO_s_mem());
    if (!ssl || !in || !out)
        goto done;
    SSL_set_bio(ssl, in, out); /* ssl owns both now */
    in = out = NULL;
    if (o->sni && SSL_set_tlsext_host_name(ssl, o->sni) != 1)
        goto done;
    if (o->alpn_bytes) {
        /* Protocols of 200 bytes each: a hello far larger than one record. */
        size_t n = 0, cap = o->alpn_bytes + 256;
        alpn = malloc(cap);
        for (int k = 0; n + 201 <= o->alpn_bytes; k++) {
            alpn[n] = 200;
            memset(alpn + n + 1, 'a' + k % 26, 200);
            n += 201;
        }
        if (SSL_set_alpn_protos(ssl, alpn, (unsigned)n) != 0)
            goto done;
    }
    int r = SSL_connect(ssl);
    if (r != -1 || SSL_get_error(ssl, r) != SSL_ERROR_WANT_READ)
        goto done;
    BIO *wb = SSL_get_wbio(ssl);
    char *data;
    long len = BIO_get_mem_data(wb, &data);
    if (len > 0)
        b = (bytes){ dup_exact(data, (size_t)len), (size_t)len };
done:
    free(alpn);
    BIO_free(in);
    BIO_free(out);
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    return b;
}

/* Concatenated payloads of the TLS records in b: the handshake bytes. */
static bytes handshake_of(bytes rec)
{
    bytes h = { malloc(rec.n ? rec.n : 1), 0 };
    size_t pos = 0;
    while (pos + 5 <= rec.n) {
        size_t l = (size_t)rec.p[pos + 3] << 8 | rec.p[pos + 4];
        if (pos + 5 + l > rec.n)
            break;
        memcpy(h.p + h.n, rec.p + pos + 5, l);
        h.n += l;
        pos += 5 + l;
    }
    return h;
}

/* Handshake bytes re-framed as handshake records of `frag` bytes each (the
 * last may be shorter); sizes[] (0-terminated) overrides frag when non-NULL. */
static bytes records_of(const unsigned char *hs, size_t n, size_t frag, const size_t *sizes)
{
    size_t cap = n + 5 * (n + 1) + 16;
    bytes r = { malloc(cap), 0 };
    size_t pos = 0, k = 0;
    while (pos < n) {
        size_t l = sizes && sizes[k] ? sizes[k++] : frag;
        if (l > n - pos)
            l = n - pos;
        r.p[r.n++] = 0x16;
        r.p[r.n++] = 0x03;
        r.p[r.n++] = 0x01;
        r.p[r.n++] = (unsigned char)(l >> 8);
        r.p[r.n++] = (unsigned char)l;
        memcpy(r.p + r.n, hs + pos, l);
        r.n += l;
        pos += l;
    }
    return r;
}

/* Run the parser on an exact copy of buf[0..n) with an exact heap scratch. */
static int sni_of(const unsigned char *buf, size_t n, size_t scratch_len, char *sni,
                  size_t sni_size)
{
    unsigned char *in = dup_exact(buf, n);
    unsigned char *scratch = malloc(scratch_len ? scratch_len : 1);
    char *s = malloc(sni_size ? sni_size : 1);
    int rc = hc_clienthello_sni(in, n, scratch, scratch_len, s, sni_size);
    if (sni && sni_size)
        memcpy(sni, s, sni_size);
    free(s);
    free(scratch);
    free(in);
    return rc;
}

/* ---- well-formed hellos --------------------------------------------------- */

static const struct {
    const char *set;  /* what the client sets (NULL: no SNI) */
    const char *want; /* what the parser reports */
    int max_version;
    size_t alpn_bytes;
    const char *groups;
} hello_cases[] = {
    { "api.openai.com", "api.openai.com", 0, 0, NULL },
    { "API.OpenAI.COM", "api.openai.com", 0, 0, NULL },        /* lower-cased */
    { "api.anthropic.com.", "api.anthropic.com", 0, 0, NULL }, /* trailing dot dropped */
    { "Generativelanguage.GoogleAPIs.com.", "generativelanguage.googleapis.com", 0, 0, NULL },
    { "localhost", "localhost", TLS1_2_VERSION, 0, NULL }, /* TLS 1.2 hello */
    { "x.openai.azure.com", "x.openai.azure.com", TLS1_2_VERSION, 0, NULL },
    { NULL, "", 0, 0, NULL }, /* no SNI */
    { NULL, "", TLS1_2_VERSION, 0, NULL },
    /* Large: many groups (bigger supported_groups/key_share) and big ALPN lists,
     * the last ones larger than one TLS record, so OpenSSL itself splits them. */
    { "api.groq.com", "api.groq.com", 0, 0,
      "X25519:P-256:P-384:P-521:X448:ffdhe2048:ffdhe3072:ffdhe4096:ffdhe6144:ffdhe8192" },
    { "api.mistral.ai", "api.mistral.ai", 0, 3000, "ffdhe8192:X25519" }, /* 1 KiB DH key share */
    { "api.together.xyz", "api.together.xyz", 0, 20000, NULL },
    { "openrouter.ai", "openrouter.ai", 0, 40000, NULL },
};

static void test_hellos(void)
{
    for (size_t c = 0; c < sizeof hello_cases / sizeof hello_cases[0]; c++) {
        hello_opts o = { hello_cases[c].set, hello_cases[c].max_version, hello_cases[c].alpn_bytes,
                         hello_cases[c].groups, NULL };
        bytes h = make_hello(&o);
        T_CHECK(h.n > 0, "hello %zu: OpenSSL wrote a ClientHello (%zu bytes)", c, h.n);
        if (!h.n)
            continue;
        T_CHECK(hc_looks_like_tls(h.p, h.n), "hello %zu: looks like TLS", c);
        char sni[256] = "junk";
        int rc = sni_of(h.p, h.n, SCRATCH, sni, sizeof sni);
        T_EQ_INT(rc, 0, "hello %zu: parsed", c);
        T_EQ_STR(rc == 0 ? sni : "(error)", hello_cases[c].want, "hello %zu: SNI", c);
        if (hello_cases[c].alpn_bytes > 16384) {
            /* The point of these cases: the hello spans several records. */
            size_t l0 = (size_t)h.p[3] << 8 | h.p[4];
            T_CHECK(l0 + 5 < h.n, "hello %zu: spans several records (first %zu of %zu bytes)", c,
                    l0, h.n);
        }

        /* Trailing bytes after the hello (e.g. early data) do not matter. */
        unsigned char *more = malloc(h.n + 7);
        memcpy(more, h.p, h.n);
        memcpy(more + h.n, "\x17\x03\x03\x00\x02zz", 7);
        rc = sni_of(more, h.n + 7, SCRATCH, sni, sizeof sni);
        T_CHECK(rc == 0 && strcmp(sni, hello_cases[c].want) == 0,
                "hello %zu: bytes after the hello ignored", c);
        free(more);

        /* Every strict prefix is HC_PARTIAL. */
        size_t bad = 0, first_bad = 0;
        int first_rc = 0;
        for (size_t cut = 0; cut < h.n; cut++) {
            int r = sni_of(h.p, cut, SCRATCH, NULL, 256);
            if (r != HC_PARTIAL && !bad++) {
                first_bad = cut;
                first_rc = r;
            }
        }
        T_EQ_INT(bad, 0, "hello %zu: every prefix (0..%zu) is HC_PARTIAL", c, h.n - 1);
        if (bad)
            printf("#   first at %zu: %d\n", first_bad, first_rc);
        free(h.p);
    }
}

/* The same handshake message split across many records, every fragment size. */
static void test_record_splits(void)
{
    hello_opts o = { "Api.OpenAI.com.", 0, 0, NULL, NULL };
    bytes h = make_hello(&o);
    if (!h.n) {
        T_CHECK(0, "split: no hello");
        return;
    }
    bytes hs = handshake_of(h);
    T_EQ_INT(hs.p[0], 0x01, "split: handshake type client_hello");
    size_t bad = 0, bad_prefix = 0;
    for (size_t frag = 1; frag <= hs.n; frag++) {
        bytes r = records_of(hs.p, hs.n, frag, NULL);
        char sni[256];
        int rc = sni_of(r.p, r.n, SCRATCH, sni, sizeof sni);
        if (rc != 0 || strcmp(sni, "api.openai.com") != 0) {
            if (!bad++)
                printf("# fragment %zu: rc %d sni '%s'\n", frag, rc, rc == 0 ? sni : "");
        }
        /* Prefixes of a few layouts (all of them for fragment sizes 1..8 is
         * enough to cover every split of the 4-byte handshake header). */
        if (frag <= 8 || frag % 97 == 0)
            for (size_t cut = 0; cut < r.n; cut++)
                if (sni_of(r.p, cut, SCRATCH, NULL, 256) != HC_PARTIAL)
                    bad_prefix++;
        free(r.p);
    }
    T_EQ_INT(bad, 0, "split: same SNI with every fragment size 1..%zu", hs.n);
    T_EQ_INT(bad_prefix, 0, "split: every prefix of a fragmented hello is HC_PARTIAL");

    /* Irregular fragments: 1, 2, 3 (handshake header across three records), then big ones. */
    static const size_t irregular[] = { 1, 2, 3, 50, 1, 7, 0 };
    bytes r = records_of(hs.p, hs.n, 4096, irregular);
    char sni[256];
    T_EQ_INT(sni_of(r.p, r.n, SCRATCH, sni, sizeof sni), 0, "split irregular: parsed");
    T_EQ_STR(sni, "api.openai.com", "split irregular: SNI");
    free(r.p);

    /* A record of another content type in the middle is not a ClientHello. */
    size_t half = hs.n / 2;
    bytes a = records_of(hs.p, half, 16384, NULL),
          b = records_of(hs.p + half, hs.n - half, 16384, NULL);
    unsigned char *mix = malloc(a.n + 6 + b.n);
    memcpy(mix, a.p, a.n);
    memcpy(mix + a.n, "\x14\x03\x03\x00\x01\x01", 6); /* change_cipher_spec */
    memcpy(mix + a.n + 6, b.p, b.n);
    T_EQ_INT(sni_of(mix, a.n + 6 + b.n, SCRATCH, NULL, 256), HC_EPARSE,
             "split: foreign record between fragments");
    free(mix);
    free(a.p);
    free(b.p);

    /* Scratch too small for the handshake message: HC_ETOOBIG, whatever the
     * record layout (one record bigger than scratch, or many small ones). */
    T_EQ_INT(sni_of(h.p, h.n, 64, NULL, 256), HC_ETOOBIG, "scratch 64: one record");
    T_EQ_INT(sni_of(h.p, h.n, hs.n - 1, NULL, 256), HC_ETOOBIG,
             "scratch one byte short: one record");
    T_EQ_INT(sni_of(h.p, h.n, hs.n, sni, sizeof sni), 0, "scratch exactly the handshake: ok");
    r = records_of(hs.p, hs.n, 10, NULL);
    T_EQ_INT(sni_of(r.p, r.n, 64, NULL, 256), HC_ETOOBIG, "scratch 64: 10-byte records");
    T_EQ_INT(sni_of(r.p, r.n, 3, NULL, 256), HC_ETOOBIG, "scratch 3: 10-byte records");
    /* The bound is decided from the handshake length, before all bytes are there. */
    T_EQ_INT(sni_of(r.p, 40, 64, NULL, 256), HC_ETOOBIG,
             "scratch 64: known too big from the first record");
    free(r.p);
    T_EQ_INT(sni_of(h.p, h.n, SCRATCH, NULL, 0), HC_EINVAL, "sni_size 0: HC_EINVAL");
    free(hs.p);
    free(h.p);
}

/* ---- hostile input ---------------------------------------------------------- */

static const struct {
    const char *name;
    const char *bytes;
    size_t n;
    int want;
} junk_cases[] = {
    { "HTTP request", "GET /v1/models HTTP/1.1\r\nHost: api.openai.com\r\n\r\n", 48, HC_EPARSE },
    { "HTTP POST", "POST /v1/chat/completions HTTP/1.1\r\n", 36, HC_EPARSE },
    { "one G", "G", 1, HC_EPARSE },
    { "SSH banner", "SSH-2.0-OpenSSH_9.6\r\n", 21, HC_EPARSE },
    { "alert record", "\x15\x03\x03\x00\x02\x02\x28", 7, HC_EPARSE },
    { "application data", "\x17\x03\x03\x00\x05hello", 10, HC_EPARSE },
    { "SSLv2 hello", "\x80\x2e\x01\x00\x02\x00\x15\x00\x00\x00\x10", 11, HC_EPARSE },
    { "0x16 then not 0x03", "\x16\x04\x01\x00\x05\x01\x00\x00\x01\x00", 10, HC_EPARSE },
    { "0x16 0x02", "\x16\x02", 2, HC_EPARSE },
    { "record length 0", "\x16\x03\x01\x00\x00", 5, HC_EPARSE },
    { "record length over the maximum", "\x16\x03\x01\xff\xff", 5, HC_EPARSE },
    { "not a client_hello (server_hello)", "\x16\x03\x03\x00\x04\x02\x00\x00\x00", 9, HC_EPARSE },
    { "empty client_hello", "\x16\x03\x03\x00\x04\x01\x00\x00\x00", 9, HC_EPARSE },
    { "hello shorter than version+random", "\x16\x03\x03\x00\x08\x01\x00\x00\x04\x03\x03\x00\x00",
      13, HC_EPARSE },
    { "handshake longer than 64 KiB", "\x16\x03\x01\x00\x04\x01\xff\xff\xff", 9, HC_ETOOBIG },
    { "just 0x16", "\x16", 1, HC_PARTIAL },
    { "0x16 0x03", "\x16\x03", 2, HC_PARTIAL },
    { "record header only", "\x16\x03\x01\x02\x00", 5, HC_PARTIAL },
    { "nothing", "", 0, HC_PARTIAL },
};

static void test_junk(void)
{
    for (size_t i = 0; i < sizeof junk_cases / sizeof junk_cases[0]; i++) {
        char sni[256];
        int rc = sni_of((const unsigned char *)junk_cases[i].bytes, junk_cases[i].n, SCRATCH, sni,
                        sizeof sni);
        T_EQ_INT(rc, junk_cases[i].want, "junk: %s", junk_cases[i].name);
    }
    static const struct {
        const char *b;
        size_t n;
        int want;
    } looks[] = {
        { "\x16", 1, 1 },
        { "\x16\x03", 2, 1 },
        { "\x16\x03\x01\x02\x00", 5, 1 },
        { "\x16\x02", 2, 0 },
        { "\x17\x03", 2, 0 },
        { "G", 1, 0 },
        { "GET / HTTP/1.1", 14, 0 },
        { "\x00", 1, 0 },
    };
    for (size_t i = 0; i < sizeof looks / sizeof looks[0]; i++) {
        unsigned char *b = dup_exact(looks[i].b, looks[i].n);
        T_EQ_INT(hc_looks_like_tls(b, looks[i].n), looks[i].want, "hc_looks_like_tls case %zu", i);
        free(b);
    }
}

static unsigned be16(const unsigned char *p)
{
    return (unsigned)p[0] << 8 | p[1];
}
static void put16(unsigned char *p, unsigned v)
{
    p[0] = (unsigned char)(v >> 8), p[1] = (unsigned char)v;
}

/* Offsets of the interesting length fields inside a handshake message. */
typedef struct {
    size_t sid, cs, comp, ext, sni_ext, sni_list, sni_name;
} hello_layout;

static bool layout_of(const unsigned char *hs, size_t n, hello_layout *L)
{
    size_t i = 4 + 2 + 32;
    memset(L, 0, sizeof *L);
    L->sid = i;
    i += 1 + hs[i];
    L->cs = i;
    i += 2 + be16(hs + i);
    L->comp = i;
    i += 1 + hs[i];
    L->ext = i;
    size_t end = i + 2 + be16(hs + i);
    i += 2;
    while (i + 4 <= end && i + 4 <= n) {
        if (be16(hs + i) == 0) {
            L->sni_ext = i + 2;
            L->sni_list = i + 4;
            L->sni_name = i + 7;
            return true;
        }
        i += 4 + be16(hs + i + 2);
    }
    return false;
}

/* Frame hs as one record and parse it. */
static int parse_hs(const unsigned char *hs, size_t n, char *sni)
{
    bytes r = records_of(hs, n, 16384, NULL);
    int rc = sni_of(r.p, r.n, SCRATCH, sni, 256);
    free(r.p);
    return rc;
}

static void test_lying_lengths(void)
{
    hello_opts o = { "api.openai.com", 0, 0, NULL, NULL };
    bytes h = make_hello(&o);
    if (!h.n) {
        T_CHECK(0, "lying: no hello");
        return;
    }
    bytes hs = handshake_of(h);
    hello_layout L;
    T_CHECK(layout_of(hs.p, hs.n, &L), "lying: found the server_name extension");
    char sni[256];
    T_EQ_INT(parse_hs(hs.p, hs.n, sni), 0, "lying: unmodified hello parses");

    /* Each length field set to more than what follows (or to its maximum). */
    static const struct {
        const char *name;
        /* 0 sid (1 byte), 1 cs, 2 comp (1 byte), 3 ext, 4 sni ext, 5 sni list, 6 sni name */
        int field;
        int delta; /* added to the real value; 0 = set to the field's maximum */
    } lies[] = {
        { "session id length 255", 0, 0 },
        { "session id length +1", 0, 1 },
        { "cipher suites length 0xffff", 1, 0 },
        { "cipher suites length +1 (odd; then an empty compression list)", 1, 1 },
        { "compression length 255", 2, 0 },
        { "extensions length 0xffff", 3, 0 },
        { "extensions length +1", 3, 1 },
        { "server_name extension length 0xffff", 4, 0 },
        { "server_name extension length +1 (disagrees with its list)", 4, 1 },
        { "server name list length 0xffff", 5, 0 },
        { "server name list length +1", 5, 1 },
        { "host name length 0xffff", 6, 0 },
        { "host name length +1", 6, 1 },
        { "server name list length -1", 5, -1 },
        { "host name length 0", 6, -14 },
    };
    size_t offs[] = { L.sid, L.cs, L.comp, L.ext, L.sni_ext, L.sni_list, L.sni_name };
    for (size_t i = 0; i < sizeof lies / sizeof lies[0]; i++) {
        unsigned char *m = dup_exact(hs.p, hs.n);
        size_t off = offs[lies[i].field];
        bool one = lies[i].field == 0 || lies[i].field == 2;
        unsigned v = one ? m[off] : be16(m + off);
        v = lies[i].delta ? v + (unsigned)lies[i].delta : (one ? 255u : 0xffffu);
        if (one)
            m[off] = (unsigned char)v;
        else
            put16(m + off, v);
        int rc = parse_hs(m, hs.n, sni);
        T_EQ_INT(rc, HC_EPARSE, "lying: %s", lies[i].name);
        if (rc == 0)
            printf("#   parsed as a hello with SNI '%s'\n", sni);
        free(m);
    }

    /* The handshake length says less than there is: the body ends inside a
     * field. Every such truncation is HC_EPARSE, except the one that ends
     * exactly after compression_methods (a hello without extensions: legal,
     * no SNI). */
    size_t bad = 0;
    for (size_t body = 0; body + 4 < hs.n; body++) {
        unsigned char *m = dup_exact(hs.p, 4 + body);
        m[1] = (unsigned char)(body >> 16);
        m[2] = (unsigned char)(body >> 8);
        m[3] = (unsigned char)body;
        int rc = parse_hs(m, 4 + body, sni);
        int want = (4 + body == L.ext) ? 0 : HC_EPARSE;
        if (rc != want || (rc == 0 && sni[0] != '\0')) {
            if (!bad++)
                printf("# truncated body %zu: rc %d, want %d\n", body, rc, want);
        }
        free(m);
    }
    T_EQ_INT(bad, 0, "lying: every truncation of the body (0..%zu bytes) is rejected", hs.n - 5);

    /* The handshake length says more than there is: more records are needed. */
    unsigned char *m = dup_exact(hs.p, hs.n);
    size_t big = hs.n - 4 + 100;
    m[1] = (unsigned char)(big >> 16), m[2] = (unsigned char)(big >> 8), m[3] = (unsigned char)big;
    T_EQ_INT(parse_hs(m, hs.n, sni), HC_PARTIAL, "lying: handshake length +100 waits for more");
    free(m);

    /* Host names with bytes no DNS name has: rejected, not passed on. */
    static const unsigned char badc[] = { 0x00, ' ', 0x7f, 0x80, 0xff, '\n' };
    for (size_t i = 0; i < sizeof badc; i++) {
        m = dup_exact(hs.p, hs.n);
        m[L.sni_name + 2 + 3] = badc[i]; /* "api" + this byte + ... */
        T_EQ_INT(parse_hs(m, hs.n, sni), HC_EPARSE, "lying: host name byte 0x%02x rejected",
                 badc[i]);
        free(m);
    }

    /* A host name longer than the caller's buffer is an error, not an overflow. */
    unsigned char *in = dup_exact(h.p, h.n);
    unsigned char *scratch = malloc(SCRATCH);
    char *small = malloc(8);
    int rc = hc_clienthello_sni(in, h.n, scratch, SCRATCH, small, 8);
    T_CHECK(rc != 0, "lying: 14-byte name into an 8-byte sni buffer is refused (rc %d)", rc);
    free(small);
    free(scratch);
    free(in);

    /* Mutations: every byte of the record set to 0x00, 0xff and flipped.
     * Anything may come back but a crash (ASan watches the heap copies); the
     * result is always one of the documented codes. */
    size_t odd = 0;
    static const int ops[] = { 0x00, 0xff, -1 };
    for (size_t op = 0; op < 3; op++)
        for (size_t i = 0; i < h.n; i++) {
            unsigned char *x = dup_exact(h.p, h.n);
            x[i] = ops[op] < 0 ? (unsigned char)~x[i] : (unsigned char)ops[op];
            rc = sni_of(x, h.n, SCRATCH, sni, sizeof sni);
            if (rc != 0 && rc != HC_PARTIAL && rc != HC_EPARSE && rc != HC_ETOOBIG)
                odd++;
            if (rc == 0 && strlen(sni) >= sizeof sni)
                odd++;
            free(x);
        }
    T_EQ_INT(odd, 0, "mutations: %zu variants, each a documented result", 3 * h.n);

    /* Random bytes behind a valid-looking record header. */
    uint32_t seed = 12345;
    odd = 0;
    for (int t = 0; t < 20000; t++) {
        unsigned char x[300];
        size_t n = 5 + (size_t)(t % 290);
        for (size_t i = 0; i < n; i++) {
            seed = seed * 1103515245u + 12345u;
            x[i] = (unsigned char)(seed >> 16);
        }
        x[0] = 0x16, x[1] = 0x03;
        if (t % 2) {
            x[3] = (unsigned char)((n - 5) >> 8),
            x[4] = (unsigned char)(n - 5); /* consistent record length */
            x[5] = 0x01;
        }
        rc = sni_of(x, n, SCRATCH, sni, sizeof sni);
        if (rc != 0 && rc != HC_PARTIAL && rc != HC_EPARSE && rc != HC_ETOOBIG)
            odd++;
    }
    T_EQ_INT(odd, 0, "random: 20000 inputs, each a documented result");
    free(hs.p);
    free(h.p);
}

int main(void)
{
    test_hellos();
    test_record_splits();
    test_junk();
    test_lying_lengths();
    return t_done();
}

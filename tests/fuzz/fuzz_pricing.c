/* fuzz_pricing.c — price files and model names (common/pricing.c).
 *
 * Byte 0 picks:
 *   even  the rest is a user price file: written to a temporary file and
 *         checked with hc_pricing_check_file (what `hc-analyze prices --check`
 *         and HC_PRICES do), with an error buffer of input-derived size;
 *   odd   the rest is "PROVIDER\tMODEL\tTOKENS…": hc_model_normalize into an
 *         exact-size buffer, hc_price_lookup in the embedded table, and
 *         hc_cost_nusd with token counts taken from the input, and
 *         hc_cost_nusd_at at a time taken from the input (the peak tier).
 * Invariants: check returns 0 / HC_EINVAL (with a "FILE:LINE: …" message) /
 * HC_EIO, and the message is NUL-terminated inside its buffer; normalised
 * names are NUL-terminated within `size`; a price found has a row's fields;
 * a cost is never negative. */
#include "fuzz.h"
#include "err.h"
#include "pricing.h"

#include <unistd.h>

static char tmp_path[256];

static void cleanup(void)
{
    if (tmp_path[0])
        unlink(tmp_path);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    const char *dir = getenv("TMPDIR");
    snprintf(tmp_path, sizeof tmp_path, "%s/hc-fuzz-prices-XXXXXX", dir && *dir ? dir : "/tmp");
    int fd = mkstemp(tmp_path);
    if (fd < 0) {
        perror("mkstemp");
        abort();
    }
    close(fd);
    atexit(cleanup);
    char err[512];
    hc_pricing_init(NULL, err, sizeof err); /* load the embedded table once */
    return 0;
}

static void check_file(const uint8_t *d, size_t n, size_t errlen)
{
    FILE *f = fopen(tmp_path, "wb");
    FUZZ_CHECK(f != NULL);
    FUZZ_CHECK(fwrite(d, 1, n, f) == n);
    fclose(f);
    char *err = fuzz_dup("", errlen);
    memset(err, 'x', errlen);
    int r = hc_pricing_check_file(tmp_path, err, errlen);
    unlink(tmp_path); /* nothing is left behind, even if a check below aborts */
    FUZZ_CHECK(r == 0 || r == HC_EINVAL || r == HC_EIO ||
               r == HC_ENOMEM); /* EIO: unreadable (e.g. a NUL byte) */
    FUZZ_CHECK(memchr(err, '\0', errlen) != NULL);
    if (r == 0)
        FUZZ_CHECK(err[0] == '\0');
    else if (errlen > strlen(tmp_path) + 1)
        FUZZ_CHECK(strncmp(err, tmp_path, strlen(tmp_path)) == 0);
    free(err);
}

static void lookup(const char *s, size_t n, uint8_t sel)
{
    char *t = fuzz_str(s, n);
    char *prov = t, *model = strchr(t, '\t'), *rest = NULL;
    if (model) {
        *model++ = '\0';
        rest = strchr(model, '\t');
        if (rest)
            *rest++ = '\0';
    } else {
        model = t;
        prov = NULL;
    }
    size_t size = (size_t)(sel >> 1) % 300 + 1;
    char *norm = fuzz_dup("", size);
    memset(norm, 'x', size);
    hc_model_normalize(model, norm, size);
    FUZZ_CHECK(memchr(norm, '\0', size) != NULL);
    free(norm);

    const hc_price *p = hc_price_lookup(prov, model);
    if (p) {
        FUZZ_CHECK(p->provider && p->model && p->source && p->date);
        /* lookup trims blanks first; longer names are unpriced */
        const char *b = model;
        while (*b == ' ' || *b == '\t' || *b == '\r' || *b == '\n')
            b++;
        size_t bl = strlen(b);
        while (bl &&
               (b[bl - 1] == ' ' || b[bl - 1] == '\t' || b[bl - 1] == '\r' || b[bl - 1] == '\n'))
            bl--;
        FUZZ_CHECK(bl > 0 && bl <= HC_MODEL_MAX);
        hc_tokens tk = { 0 };
        int64_t *v[6] = { &tk.in, &tk.out, &tk.cached, &tk.cw5m, &tk.cw1h, &tk.reasoning };
        char *q = rest;
        for (int i = 0; i < 6 && q && *q; i++) {
            *v[i] = strtoll(q, &q, 10);
            while (*q == ' ' || *q == ',')
                q++;
        }
        FUZZ_CHECK(hc_cost_nusd(p, &tk) >= 0);
        /* time-of-day tier: at any instant the cost is >= 0, and equal to the
         * untimed cost outside the peak hours; the tier's text fits its buffer */
        int64_t when = q && *q ? strtoll(q, NULL, 10) : 0;
        int64_t at = hc_cost_nusd_at(p, &tk, when);
        FUZZ_CHECK(at >= 0);
        if (!hc_cost_peak(p, when))
            FUZZ_CHECK(at == hc_cost_nusd(p, &tk));
        char txt[24];
        hc_price_peak_text(p, txt, sizeof txt);
        FUZZ_CHECK(memchr(txt, '\0', sizeof txt) != NULL);
    }
    free(t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    if (data[0] % 2 == 0)
        check_file(data + 1, size - 1, (size_t)(data[0] >> 1) * 4 + 1);
    else
        lookup((const char *)data + 1, size - 1, data[0]);
    return 0;
}

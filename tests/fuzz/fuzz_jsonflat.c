/* fuzz_jsonflat.c — common/jsonflat.c, differentially against cJSON.
 *
 * Input: the whole input is one JSON text (exact-size copy: a read past the
 * end hits ASan's redzone). Invariants: hc_jf_parse returns one of its
 * documented codes; on success every node lies inside the text, containers'
 * children are in order and inside their parent's span; when cJSON also
 * accepts the text, both read the same tree (tests/unit/jf_same.h says where
 * they differ by design). */
#include "fuzz.h"
#include "err.h"
#include "jsonflat.h"
#include "tests/unit/jf_same.h"

static void check_spans(const hc_jf_node *n, const char *b, const char *e)
{
    FUZZ_CHECK(n->val >= b && n->val + n->vlen <= e);
    if (n->key)
        FUZZ_CHECK(n->key >= b && n->key + n->klen <= e);
    const char *after = n->val;
    for (const hc_jf_node *c = hc_jf_child(n); c; c = hc_jf_next(c)) {
        FUZZ_CHECK(n->type == HC_JF_ARRAY || n->type == HC_JF_OBJECT);
        FUZZ_CHECK((c->key != NULL) == (n->type == HC_JF_OBJECT));
        FUZZ_CHECK(c->val > after);
        check_spans(c, n->val, n->val + n->vlen);
        after = c->val + c->vlen;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_dup(data, size);
    hc_jf_doc d;
    int r = hc_jf_parse(&d, text, size);
    FUZZ_CHECK(r == 0 || r == HC_EPARSE || r == HC_ETOOBIG || r == HC_ENOMEM);
    if (r == 0) {
        FUZZ_CHECK(d.n >= 1);
        check_spans(hc_jf_root(&d), text, text + size);
        char *z = fuzz_str(data, size); /* cJSON wants a terminated text */
        cJSON *c = memchr(data, '\0', size) ? NULL : cJSON_ParseWithLength(z, size);
        if (c) {
            char why[128] = "";
            if (!jf_same_tree(c, hc_jf_root(&d), why, sizeof why)) {
                fprintf(stderr, "differs from cJSON: %s\n", why);
                FUZZ_CHECK(0);
            }
            cJSON_Delete(c);
        }
        free(z);
    }
    hc_jf_free(&d);
    free(text);
    return 0;
}

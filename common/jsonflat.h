/* jsonflat.h — a JSON text read in one pass into a flat array of nodes.
 *
 * DESIGN. The usage extractors (usage.c) run on the gateway's hot path, once per
 * response body and once per stream event that can carry usage. They used a
 * cJSON tree: one malloc per value and per key, strtod per number, a free per
 * node afterwards. A profile of a 1 KiB chat completion had that at a quarter of
 * the gateway thread's instructions per exchange. The readers only ever ask a
 * few keys of a few objects, so a tree of decoded values is wasted work: here a
 * text becomes one array of nodes that point into the text (the first 64 inline,
 * then one heap array grown by doubling), and nothing is decoded until a reader
 * asks for that value.
 *
 * The grammar is RFC 8259's, strictly (cJSON is laxer with numbers), except
 * that raw control bytes inside strings are accepted as cJSON accepts them.
 * Nesting deeper than HC_JF_DEPTH is refused (HC_EPARSE, as cJSON does); more
 * nodes than HC_JF_MAX_NODES is HC_ETOOBIG (usage.c then reads the text's tail).
 * The text must outlive the document; nodes are never modified after parsing.
 */
#ifndef HC_JSONFLAT_H
#define HC_JSONFLAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HC_JF_DEPTH     1000       /* as cJSON's CJSON_NESTING_LIMIT */
#define HC_JF_MAX_NODES (1u << 18) /* 12 MiB of nodes at most */
#define HC_JF_INLINE    64

enum hc_jf_type {
    HC_JF_NULL,
    HC_JF_FALSE,
    HC_JF_TRUE,
    HC_JF_NUMBER,
    HC_JF_STRING,
    HC_JF_ARRAY,
    HC_JF_OBJECT,
};

typedef struct hc_jf_node {
    const char *key; /* a member's key: raw text between its quotes; NULL outside objects */
    const char *val; /* string: raw text between the quotes; other: the value's first byte */
    uint32_t klen;   /* bytes at key */
    uint32_t vlen;   /* bytes at val (containers: through the closing bracket) */
    uint32_t first;  /* nodes from this one to its first child; 0: none */
    uint32_t next;   /* nodes from this one to its next sibling; 0: none */
    uint32_t up;     /* index of the parent (parsing only) */
    uint32_t last;   /* index of the last child so far (parsing only) */
    uint8_t type;    /* enum hc_jf_type */
    uint8_t kesc;    /* the key has backslash escapes */
    uint8_t vesc;    /* the string value has backslash escapes */
} hc_jf_node;

typedef struct hc_jf_doc {
    hc_jf_node *nodes; /* nodes[0] is the root */
    uint32_t n, cap;
    hc_jf_node inl[HC_JF_INLINE];
} hc_jf_doc;

/* Parse exactly [text, text+len): one value, whitespace around it allowed.
 * Returns 0, HC_EPARSE (also: deeper than HC_JF_DEPTH), HC_ETOOBIG (more nodes
 * than HC_JF_MAX_NODES) or HC_ENOMEM. Call hc_jf_free() afterwards in every case. */
int hc_jf_parse(hc_jf_doc *d, const char *text, size_t len);
void hc_jf_free(hc_jf_doc *d);

static inline const hc_jf_node *hc_jf_root(const hc_jf_doc *d)
{
    return d->n ? &d->nodes[0] : NULL;
}

/* Children of an array or object in order: hc_jf_child(c) is the first (NULL
 * if none or c is not a container), hc_jf_next(n) the one after n. */
static inline const hc_jf_node *hc_jf_child(const hc_jf_node *c)
{
    return c && c->first ? c + c->first : NULL;
}
static inline const hc_jf_node *hc_jf_next(const hc_jf_node *n)
{
    return n && n->next ? n + n->next : NULL;
}

/* The first member of object obj whose decoded key equals key (as cJSON's
 * GetObjectItemCaseSensitive); NULL if none or obj is NULL or not an object. */
const hc_jf_node *hc_jf_get(const hc_jf_node *obj, const char *key);

/* A number's value (as strtod would read it, in any locale). False if n is
 * not a number. */
bool hc_jf_number(const hc_jf_node *n, double *v);

/* A string decoded into out (see hc_json_read_string); false (out = "") if n
 * is not a string. */
bool hc_jf_string(const hc_jf_node *n, char *out, size_t outsz);

/* Whether n is a string whose decoded value equals s / starts with s. */
bool hc_jf_str_is(const hc_jf_node *n, const char *s);
bool hc_jf_str_prefix(const hc_jf_node *n, const char *s);

/* Decode the JSON string at p (its opening quote), bounded by e, into out: at
 * most outsz-1 bytes, cut on a code point boundary, control characters (raw or
 * escaped) as '?', unpaired surrogates as U+FFFD. Returns past the closing
 * quote; NULL (out = "") if the string is cut short or has a bad escape. */
const char *hc_json_read_string(const char *p, const char *e, char *out, size_t outsz);

#endif

/* tally.c — see tally.h. */
#include "tally.h"
#include "buf.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

void hc_tally_init(hc_tally *t)
{
    const char *p = getenv("HC_SUMMARY_FILE");
    hc_strlcpy(t->path, sizeof t->path, p && *p == '/' ? p : "");
}

#define ADD(f, v) __atomic_fetch_add(&t->f, (v), __ATOMIC_RELAXED)

void hc_tally_add(hc_tally *t, const hc_record *r)
{
    if (!t->path[0])
        return;
    ADD(calls, 1);
    if (r->flags & HC_REC_BLOCKED)
        ADD(blocked, 1);
    else if (r->status == 0 || r->status >= 400)
        ADD(errors, 1);
    if (r->flags & HC_REC_CACHE_HIT)
        ADD(cache_hits, 1);
    if ((r->cost_flags & HC_COST_UNPRICED) && (r->tok_in > 0 || r->tok_out > 0))
        ADD(unpriced, 1);
    ADD(tok_in, r->tok_in > 0 ? r->tok_in : 0);
    ADD(tok_out, r->tok_out > 0 ? r->tok_out : 0);
    ADD(cost_nusd, r->cost_nusd > 0 ? r->cost_nusd : 0);
}

#define GET(f) __atomic_load_n(&t->f, __ATOMIC_RELAXED)

void hc_tally_emit(hc_tally *t)
{
    if (!t->path[0] || __atomic_exchange_n(&t->emitted, 1, __ATOMIC_ACQ_REL))
        return;
    if (!GET(calls))
        return; /* nothing to add to the tree's totals */
    char line[256];
    int n = snprintf(line, sizeof line, "hcsum1 %llu %llu %llu %llu %llu %lld %lld %lld\n",
                     (unsigned long long)GET(calls), (unsigned long long)GET(errors),
                     (unsigned long long)GET(blocked), (unsigned long long)GET(cache_hits),
                     (unsigned long long)GET(unpriced), (long long)GET(tok_in),
                     (long long)GET(tok_out), (long long)GET(cost_nusd));
    if (n <= 0 || (size_t)n >= sizeof line)
        return;
    /* No O_CREAT: the top process made the file; if it is gone, the summary
     * was printed already (or nobody wants one). O_NOFOLLOW: never write
     * through a link someone else put there. */
    int fd = open(t->path, O_WRONLY | O_APPEND | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return;
    ssize_t w = write(fd, line, (size_t)n);
    (void)w;
    close(fd);
}

/* tally.h — this process's LLM totals, for the one-line summary at exit.
 *
 * hc-run (and HC_SUMMARY=1 under a bare LD_PRELOAD) ends with one stderr line
 * for the whole process tree (shim/summary.c). Each process that started a
 * core counts its exchanges here, in memory, and at exit appends one line of
 * totals to the tree's summary file (HC_SUMMARY_FILE, created 0600 by the
 * tree's top process); the top process sums the lines when it exits. The
 * store is not read: the summary works with an unwritable store, costs no
 * LMDB transaction, and is not mixed up with another run writing the same
 * store at the same time.
 *
 * Line format (one write(2) with O_APPEND, so lines of processes exiting at
 * the same time never interleave):
 *     "hcsum1 CALLS ERRORS BLOCKED CACHE_HITS UNPRICED TOK_IN TOK_OUT COST_NUSD\n"
 */
#ifndef HC_CORE_TALLY_H
#define HC_CORE_TALLY_H

#include <stdint.h>

#include "record.h"

typedef struct hc_tally {
    /* All counters are updated with atomic adds: any connection thread. */
    uint64_t calls, errors, blocked, cache_hits, unpriced;
    int64_t tok_in, tok_out, cost_nusd;
    int emitted;     /* atomic: the line was written (once per process) */
    char path[4096]; /* immutable after hc_tally_init: HC_SUMMARY_FILE, "" if none */
} hc_tally;

/* Read HC_SUMMARY_FILE (call once, at core start, before any thread uses t). */
void hc_tally_init(hc_tally *t);

/* Count one finished exchange. errors: no HTTP status or status >= 400 that
 * was not a budget/rate-limit block; blocked: HC_REC_BLOCKED. Lock-free,
 * thread-safe; a no-op when there is no summary file. */
void hc_tally_add(hc_tally *t, const hc_record *r);

/* Append this process's line to the summary file, once (later calls do
 * nothing). Only open/write/close: safe at exit and from the _exit hook.
 * Failures are silent (the summary is a convenience; fail open). */
void hc_tally_emit(hc_tally *t);

#endif

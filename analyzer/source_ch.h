/* source_ch.h — records read from a ClickHouse server (what `ship` sent),
 * for every read command given `--db clickhouse://HOST:PORT/DB`.
 *
 * DESIGN
 * - One entry point, at the place every command opens its store
 *   (cli_open_store): the records the command's filter can select are read
 *   from DB.hc_records FINAL (one row per record id, the newest copy: re-sent
 *   rows collapse) and written, decoded back into the same hc_record bytes and
 *   body blobs the local store holds, into a temporary store (mkdtemp, mode
 *   0700, removed when closed or at exit). The command then opens and scans
 *   that store exactly as a local one, so its output equals the same command
 *   on a local `merge` of the shipped stores (docs/FLEET.md).
 * - Filters pushed down: --since/--until, --user, --session, --run (last
 *   resolved on the server: the newest record's run id), --provider,
 *   --status, --cache, --where/--property and simple --model globs become the
 *   WHERE clause; the command still applies query_match() to what arrives
 *   (the pushed clause selects a superset), so a term the server cannot
 *   express is filtered on the client. Records the server left out still
 *   count in "records scanned" (query_prefiltered, which query_scan adds), as a local scan counts
 *   every record it read.
 * - Transfer: TabSeparated, strings as hex() (bytes exact, no escaping
 *   rules), pages of rows in id order (keyset: WHERE id > last), each answer
 *   bounded; a page cut by the bound is fetched again with fewer rows.
 * - `report` aggregates on the server instead (report_ch in cmd_report.c) when
 *   its options allow; see docs/FLEET.md for which commands stream.
 *
 * Not thread-safe (hc-analyze is single-threaded).
 */
#ifndef HC_ANA_SOURCE_CH_H
#define HC_ANA_SOURCE_CH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chdest.h"
#include "query.h"

/* Make a new private (0700) temporary directory for a store in dir: 0, or -1
 * with errno. */
int source_ch_mkdir(char *dir, size_t size);

/* Fill a new temporary store from the server named by url (a --db value),
 * in dir when the caller made it already (source_ch_mkdir(): so that it can
 * guard it against signals before the long download), else in a new one:
 * the records f selects (f NULL or push false: every record). On success 0
 * with the store's directory in dir (caller removes it with
 * source_ch_remove()) and the server's name without credentials
 * (clickhouse://HOST:PORT/DB) in label; query_prefiltered (query.h) is set
 * to the records the server left out. Errors print one line "hc-analyze: …" naming the
 * server and return CLI_EXIT_MISUSE (bad URL) or 2 for an unreachable
 * server, a missing table or a broken answer. */
int source_ch_fill(const char *url, const query_filter *f, bool push, char *dir, size_t size,
                   char *label, size_t lsize);

/* Remove a directory source_ch_fill() made (its files, then itself). */
void source_ch_remove(const char *dir);

/* The WHERE clause (without "WHERE") pushing f down, appended to out; "1"
 * when nothing can be pushed. run_last: the resolved --run last ("" when no
 * record has one), or NULL. *exact (may be NULL) is set false when a term
 * was left to the client (a --model glob LIKE cannot say), so the clause
 * selects a superset. Used by report's server-side aggregation (agg_ch.h)
 * too. 0 or HC_ENOMEM. */
int source_ch_where(const query_filter *f, const char *run_last, hc_buf *out, bool *exact);

/* Resolve --run last on the server: the run id of the newest record having
 * one, into out ("" when none). 0 or HC_E* with err. */
int source_ch_last_run(const ch_dest *d, char *out, size_t size, char *err, size_t errlen);

/* Records on the server (one per id). 0 or HC_E* with err. */
int source_ch_count(const ch_dest *d, uint64_t *n, char *err, size_t errlen);

#endif

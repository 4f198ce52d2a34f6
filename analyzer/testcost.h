/* testcost.h — cost per pytest test (the "test" property that the core
 * records from PYTEST_CURRENT_TEST, core/context.h), and the tests whose cost
 * grew against a baseline: what `audit --baseline` names.
 *
 * A table is an agg_groups keyed by the test id ("tests/test_x.py::test_y");
 * records without a test are not in it. Not thread-safe.
 */
#ifndef HC_ANA_TESTCOST_H
#define HC_ANA_TESTCOST_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "agg.h"
#include "jsonw.h"
#include "record.h"

#define TESTCOST_PROP "test"

/* Add r to its test's group (no-op without a test). 0 or HC_ENOMEM. */
int tc_add(agg_groups *g, const hc_record *r);

/* Fill g from the "by_test" array of an `audit --json` document ([{"test",
 * "cost_nusd", "requests"}…]). Returns the number of tests read, or -1 when
 * doc has no such array (an older audit or a report). */
long tc_from_json(const cJSON *doc, agg_groups *g);

/* Write "by_test": [...] (cost desc) as a key of the current object. */
void tc_json(jw *w, const agg_groups *g);

typedef struct tc_grown {
    const char *test; /* borrowed from cur */
    int64_t base_nusd, cur_nusd;
    uint64_t base_req, cur_req;
    bool is_new; /* not in the baseline */
} tc_grown;

/* Tests of cur whose cost grew by more than max_inc (0.1 = 10%) over base,
 * and tests new in cur with a cost; largest growth in dollars first. *out is
 * allocated (free it); *n their number. 0 or HC_ENOMEM. */
int tc_grown_list(const agg_groups *cur, const agg_groups *base, double max_inc, tc_grown **out,
                  size_t *n);

/* "TEST $a → $b (+X%)" or "TEST new, $b" into out. */
void tc_grown_text(const tc_grown *t, char *out, size_t size);

#endif

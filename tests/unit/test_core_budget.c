/* test_core_budget.c — core/budget.c across fork.
 *
 * A thread keeps checking and accounting budgets while the main thread forks;
 * each child then checks a budget itself (with an alarm: a hang is a failure).
 * A child forked while the thread held a lock hung in two ways before:
 *   - the "process" budgets' own lock (now reset by hc_budget_atfork_child,
 *     which core.c's fork handler calls with its siblings);
 *   - glibc's tzset lock, taken by gmtime_r/timegm in hc_period_start (now
 *     plain arithmetic; checked here against gmtime_r/timegm). */
#include "budget.h"
#include "options.h"
#include "t.h"

#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <time.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define FORKS  200
#define NOW_US (1700000000LL * 1000000)

static hc_budget budgets[2];
static int nbudgets;
static hc_opts opts;
static volatile int stop;

/* Take and release the process budgets' lock as often as possible. */
static void *hammer(void *arg)
{
    (void)arg;
    uint64_t spent;
    while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
        hc_budget_account(NULL, budgets, nbudgets, &opts, 1, NOW_US, NULL, NULL, 0);
        hc_budget_blocked(NULL, budgets, nbudgets, &opts, NOW_US, &spent);
    }
    return NULL;
}

/* In the child: the budgets answer at once, starting from zero. */
static int child(void)
{
    alarm(10);
    uint64_t spent = 1;
    int blocked = hc_budget_blocked(NULL, budgets, nbudgets, &opts, NOW_US, &spent);
    hc_budget_account(NULL, budgets, nbudgets, &opts, 7, NOW_US, NULL, NULL, 0);
    return blocked == -1 ? 0 : 3;
}

/* hc_period_start as it was: through gmtime_r and timegm. */
static int64_t period_start_ref(enum hc_period p, int64_t now_us)
{
    time_t t = (time_t)(now_us / 1000000);
    struct tm tm;
    gmtime_r(&t, &tm);
    tm.tm_sec = 0;
    switch (p) {
    case HC_PERIOD_HOUR: tm.tm_min = 0; break;
    case HC_PERIOD_DAY: tm.tm_min = tm.tm_hour = 0; break;
    case HC_PERIOD_WEEK:
        tm.tm_min = tm.tm_hour = 0;
        tm.tm_mday -= (tm.tm_wday + 6) % 7;
        break;
    case HC_PERIOD_MONTH:
        tm.tm_min = tm.tm_hour = 0;
        tm.tm_mday = 1;
        break;
    default: return 0;
    }
    return (int64_t)timegm(&tm) * 1000000;
}

static void period_starts(void)
{
    static const int64_t fixed[] = {
        0,
        1,
        86399,
        86400,
        951782400 /* 2000-02-29 */,
        951868799,
        4107542399 /* 2100-02-28 23:59:59 */,
        4107542400,
        1700000000,
        1709251199 /* 2024-02-29 23:59:59 */,
        1709251200,
        1704067199,
        1704067200,
        1704671999 /* Sunday 2024-01-07 23:59:59 */,
        1704672000,
        253402300799 /* 9999-12-31 */,
    };
    static const enum hc_period kinds[] = { HC_PERIOD_HOUR,  HC_PERIOD_DAY,     HC_PERIOD_WEEK,
                                            HC_PERIOD_MONTH, HC_PERIOD_PROCESS, HC_PERIOD_TOTAL };
    int bad = 0, n = 0;
    unsigned seed = 12345;
    for (int i = 0; i < 20000; i++) {
        int64_t secs = i < (int)(sizeof fixed / sizeof fixed[0])
                           ? fixed[i]
                           : (int64_t)(rand_r(&seed) % 4102444800u);
        int64_t us = secs * 1000000 + (i % 7) * 123457;
        for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++, n++) {
            int64_t got = hc_period_start(kinds[k], us), want = period_start_ref(kinds[k], us);
            if (got != want && bad++ < 5)
                printf("# period %d at %lld s: got %lld, want %lld\n", (int)kinds[k],
                       (long long)secs, (long long)got, (long long)want);
        }
    }
    T_EQ_INT(bad, 0,
             "period starts equal gmtime_r/timegm's for %d (time, period) pairs, leap days and "
             "Sunday/Monday edges included",
             n);
}

int main(void)
{
    period_starts();
    char err[256] = "";
    memset(&opts, 0, sizeof opts);
    T_CHECK(hc_budgets_parse("1000/process:block", budgets, 2, &nbudgets, err, sizeof err) == 0 &&
                nbudgets == 1,
            "a process budget parses (%s)", err);
    /* As core.c's fork handler does for the loaded core. */
    pthread_atfork(NULL, NULL, hc_budget_atfork_child);

    pthread_t t;
    T_CHECK(pthread_create(&t, NULL, hammer, NULL) == 0,
            "a thread takes the budget lock in a loop");
    int hung = 0, failed = 0;
    for (int i = 0; i < FORKS; i++) {
        pid_t pid = fork();
        if (pid == 0)
            _exit(child());
        int st = 0;
        if (pid < 0 || waitpid(pid, &st, 0) != pid) {
            failed++;
            continue;
        }
        if (WIFSIGNALED(st) && WTERMSIG(st) == SIGALRM)
            hung++;
        else if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
            failed++;
    }
    __atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
    pthread_join(t, NULL);
    T_EQ_INT(hung, 0, "no child forked while another thread held the budget lock hangs (%d forks)",
             FORKS);
    T_EQ_INT(failed, 0, "every child reads its process budget as unspent and accounts its cost");

    uint64_t spent = 0;
    T_EQ_INT(hc_budget_blocked(NULL, budgets, nbudgets, &opts, NOW_US, &spent), -1,
             "the parent's process budget is still usable after the forks");
    return t_done();
}

/* t.h — minimal TAP producer for unit tests (one binary per module).
 *
 *   T_CHECK(cond, "what", ...)      one assertion = one TAP line
 *   T_EQ_INT(a, b, "what", ...)     shows both values on failure
 *   T_EQ_STR(a, b, "what", ...)
 *   return t_done();                at the end of main: prints the plan and
 *                                   "# N passed, N failed"; exit 1 on any failure
 */
#ifndef HC_T_H
#define HC_T_H

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int t_n, t_fail;

static void t_report(int ok, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5), unused));
static void t_report(int ok, const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    t_n++;
    if (!ok)
        t_fail++;
    printf("%sok %d - ", ok ? "" : "not ", t_n);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    if (!ok)
        printf(" (%s:%d)", file, line);
    printf("\n");
    fflush(stdout);
}

#define T_CHECK(cond, ...) t_report(!!(cond), __FILE__, __LINE__, __VA_ARGS__)
#define T_EQ_INT(a, b, ...) \
    do { \
        long long t_a_ = (long long)(a), t_b_ = (long long)(b); \
        t_report(t_a_ == t_b_, __FILE__, __LINE__, __VA_ARGS__); \
        if (t_a_ != t_b_) \
            printf("#   got %lld, expected %lld\n", t_a_, t_b_); \
    } while (0)
#define T_EQ_STR(a, b, ...) \
    do { \
        const char *t_a_ = (a), *t_b_ = (b); \
        int t_ok_ = t_a_ && t_b_ && strcmp(t_a_, t_b_) == 0; \
        t_report(t_ok_, __FILE__, __LINE__, __VA_ARGS__); \
        if (!t_ok_) \
            printf("#   got \"%s\", expected \"%s\"\n", t_a_ ? t_a_ : "(null)", \
                   t_b_ ? t_b_ : "(null)"); \
    } while (0)

static int t_done(void) __attribute__((unused));
static int t_done(void)
{
    printf("1..%d\n# %d passed, %d failed\n", t_n, t_n - t_fail, t_fail);
    return t_fail ? 1 : 0;
}

#endif

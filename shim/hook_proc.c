/* hook_proc.c — process exit: records of a process that ends with _exit()
 * (CPython's os._exit, every multiprocessing child) would be lost in the
 * recorder's queue; give the recorder a bounded moment to write them. exit()
 * is covered by the core's atexit handler. */
#include "real.h"
#include "shim.h"
#include "summary.h"

#include <stdlib.h>
#include <unistd.h>

static void flush_pending(void)
{
    const hc_core_api *core = hc_shim_core_if_loaded();
    if (core && !hc_shim_guarded()) {
        hc_shim_guard_enter();
        core->flush(2000);
        hc_shim_guard_leave();
    }
}

HC_EXPORT void _exit(int status)
{
    static void (*real)(int);
    HC_REAL(real, "_exit", _exit, NULL);
    flush_pending();
    hc_summary_finish();
    real(status);
    __builtin_unreachable();
}

HC_EXPORT void _Exit(int status)
{
    static void (*real)(int);
    HC_REAL(real, "_Exit", _Exit, NULL);
    flush_pending();
    hc_summary_finish();
    real(status);
    __builtin_unreachable();
}

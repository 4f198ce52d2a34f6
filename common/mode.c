/* mode.c — see mode.h. libc only: linked into the shim too. */
#include "mode.h"

#include <stdlib.h>
#include <string.h>

enum hc_mode hc_mode_parse(const char *text, bool *unknown)
{
    enum hc_mode m = HC_MODE_GATEWAY;
    bool bad = false;
    if (text && *text) {
        if (strcmp(text, "off") == 0 || strcmp(text, "0") == 0)
            m = HC_MODE_OFF;
        else if (strcmp(text, "observe") == 0)
            m = HC_MODE_OBSERVE;
        else
            bad = strcmp(text, "gateway") != 0;
    }
    if (unknown)
        *unknown = bad;
    return m;
}

enum hc_mode hc_mode_from_env(bool *unknown)
{
    return hc_mode_parse(getenv("HC_MODE"), unknown);
}

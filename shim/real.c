#include "real.h"

#include <dlfcn.h>
#include <stddef.h>

void *hc_real(const char *name, const void *self, const char *lib)
{
    void *p = dlsym(RTLD_NEXT, name);
    if (p && p != self)
        return p;
    if (lib) {
        void *h = dlopen(lib, RTLD_LAZY | RTLD_NOLOAD);
        if (h) {
            p = dlsym(h, name);
            dlclose(h); /* drops only the reference NOLOAD took */
            if (p && p != self)
                return p;
        }
    }
    return NULL;
}

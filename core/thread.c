/* thread.c — see thread.h. */
#include "thread.h"
#include "err.h"

#include <pthread.h>
#include <signal.h>

int hc_thread_spawn(void *(*fn)(void *), void *arg)
{
    pthread_attr_t attr;
    sigset_t all, old;
    pthread_t t;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, HC_THREAD_STACK);
    /* The new thread inherits the mask in force at creation: block all. */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&t, &attr, fn, arg);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&attr);
    return rc ? HC_ENOMEM : 0;
}

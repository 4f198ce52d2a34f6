/* thread.h — the core's background threads (gateway accept and connections,
 * recorder writer, webhook posts, hc-gateway's connections).
 *
 * Every thread the core starts is detached, runs with all signals blocked
 * (signals belong to the app's threads: a SIGINT or SIGCHLD the app handles
 * must never land on a thread of ours) and has a modest fixed stack
 * (HC_THREAD_STACK), so that hundreds of live connections cost little memory.
 */
#ifndef HC_CORE_THREAD_H
#define HC_CORE_THREAD_H

#define HC_THREAD_STACK (512 * 1024) /* bytes of stack per thread */

/* Start fn(arg) on a new detached thread as described above. The calling
 * thread's signal mask is unchanged on return. Ownership of arg passes to fn
 * on success; on failure fn never runs and arg stays the caller's.
 * Returns 0, or HC_ENOMEM when the thread cannot be created. Thread-safe. */
int hc_thread_spawn(void *(*fn)(void *), void *arg);

#endif

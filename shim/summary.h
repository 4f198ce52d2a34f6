/* summary.h — one stderr line at the end of a process tree: its LLM calls,
 * tokens, cost and errors, and the hc-analyze command that shows more.
 *
 * Who prints: the tree's top process. hc-run sets HC_SUMMARY=1 (a bare
 * LD_PRELOAD may too; unset or 0, nothing is printed: quiet by default). The
 * first process whose constructor sees HC_SUMMARY=1 and no HC_SUMMARY_FILE
 * creates an empty file (mkstemp: mode 0600, unguessable name, in $TMPDIR or
 * /tmp) and puts HC_SUMMARY_FILE and HC_SUMMARY_OWNER (its pid) in its
 * environment, so every descendant inherits them and an exec() keeps the
 * ownership. Each process whose core ran appends its totals (core/tally.h);
 * when the owner exits (exit, return from main, _exit) it sums the lines,
 * prints one line on stderr and removes the file.
 *
 * Limits: descendants still running when the top process exits, or killed by
 * a signal, are not in the line; a tree that clears its environment loses its
 * children's totals. The store has every record regardless.
 *
 * Cost when idle: the constructor reads two variables. Libc only.
 */
#ifndef HC_SHIM_SUMMARY_H
#define HC_SHIM_SUMMARY_H

/* From the constructor: take ownership of a new summary file if asked. */
void hc_summary_init(void);

/* At the owner's exit (destructor, _exit hook), after the core flushed:
 * print the line and remove the file. Once; a no-op in any other process,
 * including a fork()ed or vfork()ed child of the owner that exits without
 * exec (the owner is a pid, compared with getpid()). Async-signal-safe (no
 * stdio, no malloc, no getenv): _exit may be called from a signal handler. */
void hc_summary_finish(void);

#endif

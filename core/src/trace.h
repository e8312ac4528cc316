/* trace.h — the phase trace (MOONJAIL_TRACE=timing): microseconds per phase of a run, a create,
 * an exec, printed to stderr.  Off, a mark costs one branch on mj_trace_on.
 *
 * A mark names the phase that ends at it ("plan", "clone", "mounts"…); a phase lasts from the
 * previous mark (of any process of the run: marks live in one shared page, so the sandbox's init
 * and supervisor mark too) to its own.  The first phase, "start+ld.so", is the CPU time the
 * process spent before main's constructors: exec and dynamic linking.
 *
 * Marks taken after clone do no more than a vDSO clock read and stores into the shared page: no
 * allocation, no system call, no lock. */
#ifndef MJ_TRACE_H
#define MJ_TRACE_H

#include <stdbool.h>

extern bool mj_trace_on; /* set once, before main, from MOONJAIL_TRACE */

void mj_trace_mark_slow(const char *phase);
/* Ends the phase named phase (copied: at most 31 bytes kept). */
static inline void mj_trace_mark(const char *phase)
{
    if (__builtin_expect(mj_trace_on, 0))
        mj_trace_mark_slow(phase);
}

/* An operation (what: "run", "create", "exec") ends: prints the phases marked since the last
 * print, unless a host holds the trace (mj_trace_hold) to print it once at its own end. */
void mj_trace_op_end(const char *what);
/* The CLI holds the trace for the whole process; mj_trace_print then prints everything. */
void mj_trace_hold(void);
void mj_trace_print(const char *what);

#endif

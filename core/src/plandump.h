/* plandump.h — a plan as text (plandump.c), for tests and `moonjail run --dump-plan`. */
#ifndef MJ_PLANDUMP_H
#define MJ_PLANDUMP_H

#include "plan.h"

/* The plan as stable text (malloc'ed): what a sandbox made from it would be — mounts, the layer's
 * base, ids inside, limits, filters, argv and environment (sorted) — and nothing that differs
 * from one run to the next (host id ranges, fds, addresses). */
char *mj_plan_dump(const mj_plan_t *plan);

#endif

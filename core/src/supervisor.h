/* supervisor.h — pid 1 of a persistent sandbox (supervisor.c). */
#ifndef MJ_SUPERVISOR_H
#define MJ_SUPERVISOR_H

#include <stdbool.h>
#include <sys/types.h>

#include "plan.h"

/* What the spawn stage's child hands the supervisor besides the plan. */
typedef struct {
    int ctl;       /* the control connection to the creator (SETUP_FAILED goes there too) */
    int listen;    /* named sandbox: its listening socket, else -1 */
    int lock;      /* named sandbox: its state lock, held for life, else -1 */
    int pidns;     /* the workload's pid namespace (the spawner forks commands into it) */
    pid_t reaper;  /* that namespace's init (reaper.c), a child of ours */
    bool detached; /* named: setsid, and the creator may leave once it has published it */
} mj_supervisor_fds_t;

/* Called by the spawn stage's child once the root is built (ids switched, dumpable off): keeps
 * the fds above and the plan's id slot and work-cgroup fds, closes every other fd, forks the
 * spawner (shim.c) into the workload's namespace, loads its own filters and serves requests until
 * shut down.  Setup failures go to ctl as SETUP_FAILED.  Never returns. */
__attribute__((noreturn)) void mj_supervisor_start(mj_plan_t *plan, const mj_supervisor_fds_t *fds);

#endif

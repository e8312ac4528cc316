/* supervisor.h — pid 1 of a persistent sandbox (supervisor.c). */
#ifndef MJ_SUPERVISOR_H
#define MJ_SUPERVISOR_H

#include <stdbool.h>

#include "plan.h"

/* Called by the spawn stage's child once the root is built (ids switched, dumpable off): keeps
 * ctl_fd (the control connection), listen_fd and lock_fd (named sandboxes, else -1) and the
 * plan's id slot and work-cgroup fds, closes every other fd, loads the workload's seccomp filter
 * and serves requests until shut down.  Setup failures go to ctl_fd as SETUP_FAILED.  Never
 * returns. */
__attribute__((noreturn)) void mj_supervisor_start(mj_plan_t *plan, int ctl_fd, int listen_fd, int lock_fd,
                                                   bool detached);

#endif

/* init.h — pid 1 of a one-shot run (init.c). */
#ifndef MJ_INIT_H
#define MJ_INIT_H

#include "plan.h"

/* Called by the spawn stage's child once the root is built (ids switched, dumpable off): makes
 * stdin_r/stdout_w/stderr_w the command's stdio and status_fd fd 3, closes every other fd, starts
 * the plan's command and waits for it, reporting STARTED / EXEC_FAILED / DENIED / EXITED (or
 * SETUP_FAILED) on the status pipe.  Never returns: leaving pid 1 ends the sandbox. */
__attribute__((noreturn)) void mj_init_main(mj_plan_t *plan, int status_fd, int stdin_r, int stdout_w, int stderr_w);

#endif

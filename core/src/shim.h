/* shim.h — the spawner of a persistent sandbox (shim.c): it starts and watches every command. */
#ifndef MJ_SHIM_H
#define MJ_SHIM_H

#include "plan.h"

/* The spawner, forked by the supervisor before any seccomp filter: enters pidns_fd (the
 * workload's pid namespace) for the commands it forks, loads the workload's filter and sends the
 * supervisor one packet on sock — int32_t {stage, errno}, {0, 0} when ready, with the listener fd
 * attached when refusals are logged.  Then it reads exec requests (an mj_req_t + mj_exec_req_t
 * with 4 fds: stdin, stdout, stderr, the command's channel) from sock and runs each command
 * (answers go to its channel, never to sock); procfd is a procfs of the supervisor's namespace,
 * where it finds a command's tree.  Exits when sock closes; never returns. */
__attribute__((noreturn)) void mj_shim_spawner_main(mj_plan_t *plan, int sock, int pidns_fd, int procfd);

#endif

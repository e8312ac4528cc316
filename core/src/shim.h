/* shim.h — the spawner and the exec shims of a persistent sandbox (shim.c). */
#ifndef MJ_SHIM_H
#define MJ_SHIM_H

#include "plan.h"

/* The spawner, forked by the supervisor before it narrows its own seccomp filter: reads exec
 * requests (an mj_req_t + mj_exec_req_t with 4 fds: stdin, stdout, stderr, the command's channel)
 * from sock, forks a shim for each and answers the shim's pid (or -errno) as an int32_t.  Exits
 * when sock closes; never returns. */
__attribute__((noreturn)) void mj_shim_spawner_main(const mj_plan_t *plan, int sock);

#endif

/* spawn.h — the spawn stage (spawn.c): from a plan to a released sandbox, the one sequence that
 * one-shot runs (run.c) and persistent sandboxes (sandbox.c) share. */
#ifndef MJ_SPAWN_H
#define MJ_SPAWN_H

#include <stdbool.h>
#include <sys/types.h>

#include "cgroup.h"
#include "netsetup.h"
#include "plan.h"
#include "proto.h"

/* What the host hands the sandbox's first process besides the plan. */
typedef struct {
    int status_w;  /* its end of the status channel: a pipe (one-shot) or the control socket (persistent) */
    int stdin_r, stdout_w, stderr_w; /* one-shot: the command's stdio (a pty slave for all three), else -1 */
    int listen_fd; /* named sandbox: listening socket in its state dir, else -1 */
    int lock_fd;   /* named sandbox: flock held for the supervisor's life (liveness), else -1 */
    bool detached; /* named sandbox: outlives the host process once its creator has published it */
    int host_ends[4]; /* the host's ends of those channels, closed first thing in the child; -1 = none */
} mj_spawn_fds_t;

typedef struct {
    pid_t pid;       /* the sandbox's pid 1, as the host sees it */
    int pidfd;       /* a pidfd of it (clone3), -1 where the kernel gives none; the caller closes it */
    double released; /* CLOCK_MONOTONIC when it was released */
    mj_netsetup_t net; /* outbound/filtered: its moonjail-net (the caller ends it: mj_netsetup_stop) */
} mj_spawned_t;

/* Host side, before the clone: the network helper's directory and resolv.conf (netsetup.c), idmapped read-write binds, the sandbox's cgroups <id> with the
 * plan's limits (*cg NULL when nothing needs one; want_freezer: also for freezing and CPU time),
 * and the fds of their sup/work leaves in the plan.  On failure nothing is left behind. */
int mj_spawn_prepare(mj_plan_t *plan, const char *id, bool want_freezer, mj_cgroup_t **cg, mj_error_t **err);

/* Clones the sandbox's first process into its namespaces, writes its uid/gid maps, places it in cg
 * (and almost out of the OOM killer's reach), then releases it over the sync pipe.  The child
 * switches to the mapped ids, builds the root and becomes the one-shot init (init.c) or the
 * persistent supervisor (supervisor.c), as plan->persistent says; it never returns here.  On a
 * failure after the clone the child is killed and reaped before -1 is returned. */
int mj_spawn(mj_plan_t *plan, mj_cgroup_t *cg, const mj_spawn_fds_t *fds, mj_spawned_t *out, mj_error_t **err);

/* The error for the child's SETUP_FAILED report (stage, errno, op index). */
mj_error_t *mj_spawn_setup_error(const mj_plan_t *plan, const mj_msg_t *m);

#endif

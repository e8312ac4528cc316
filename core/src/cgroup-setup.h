/* cgroup-setup.h — where a sandbox's groups go (cgroup-setup.c): the hierarchies this process
 * sees and its place in each (/proc/self/mountinfo, /proc/self/cgroup), the delegation and
 * creation of <own>/moonjail/<id>/{sup,work}, and what to tell a user when that is not possible.
 * It stands on the backends and cgroup-utils.c; the facade (cgroup.c) calls it. */
#ifndef MJ_CGROUP_SETUP_H
#define MJ_CGROUP_SETUP_H

#include <stdbool.h>

#include "cgroup-utils.h"
#include "util.h"

/* Where a rootless caller alone in a delegated v2 group moves itself (not a hex id, so never a
 * sandbox's name): <own>/moonjail/host. */
#define MJ_CG_HOST_LEAF "/moonjail/host"
#define MJ_CG_MAX_HIER 16

/* One hierarchy as this process sees it. */
typedef struct {
    int version;          /* 1 or 2 */
    char *mount;          /* path_prefix + mount point */
    char *own;            /* the caller's path in the hierarchy (from /proc/self/cgroup) */
    char *own_dir;        /* mount + own relative to the mount's root: the caller's cgroup dir */
    char *names;          /* v1: "cpu,cpuacct"; v2: the contents of <own>/cgroup.controllers */
    unsigned controllers; /* 1u << MJ_CGC_* offered */
} mj_cg_hier_t;

typedef struct {
    mj_cg_hier_t h[MJ_CG_MAX_HIER];
    size_t n;
    int v2;                     /* index of the unified hierarchy or -1 */
    bool v2_primary;            /* the unified hierarchy carries our controllers (pure v2, or it offers some) */
    int by_ctl[MJ_CGC__COUNT];  /* hierarchy index chosen for each controller, -1 = none */
} mj_cg_host_t;

/* Reads mountinfo + /proc/self/cgroup (or the env's texts) and resolves each controller. */
int mj_cg_host_detect(const mj_cgroup_env_t *env, mj_cg_host_t *host, mj_error_t **err);
void mj_cg_host_free(mj_cg_host_t *host);

/* Creates <own>/moonjail/<id> in hierarchy h, enabling the controllers of mask for it on v2 (a
 * rootless caller alone in its delegated group first moves itself to MJ_CG_HOST_LEAF), with
 * notify_on_release cleared on v1, and with split its leaves <id>/sup and <id>/work.  What only
 * deserves a warning goes to warnings (may be NULL).  -1 with errno and *failed (owned) naming
 * the path that failed. */
int mj_cg_setup_group(const mj_cg_hier_t *h, const char *id, unsigned mask, bool split, mj_strv_t *warnings,
                      char **failed);

/* The error code for errno e: setup (mkdir, subtree_control, where EBUSY is v2's
 * no-internal-processes rule, a delegation problem) or a limit write (EBUSY: the value does not
 * fit the group's state). */
mj_error_code_t mj_cg_code_for_errno(int e, bool setup);
/* How to get past errno e on a hierarchy of this version: one sentence for the user. */
const char *mj_cg_fix_for(int version, int e);
/* Why controller ctl cannot be had on this host, and how to get it (malloc'ed). */
char *mj_cg_missing_reason(const mj_cg_host_t *host, int ctl);

#endif

/* cgroup-v2.h — the cgroup v2 backend (cgroup-v2.c): one group dir in the unified hierarchy.
 * It stands on cgroup-utils.c only; the facade and cgroup-setup.c call it. */
#ifndef MJ_CGROUP_V2_H
#define MJ_CGROUP_V2_H

#include <stdbool.h>
#include <stdint.h>

#include "cgroup-utils.h"

/* Applies one controller's limits to a group dir (-1 + errno, *failed_file names the file). */
int mj_cgv2_apply(int ctl, const char *dir, const mj_cgroup_limits_t *limits, const char **failed_file);
/* Enables the controllers in mask in dir's cgroup.subtree_control (those already on are skipped). */
int mj_cgv2_enable(const char *dir, unsigned mask);
/* Adds that controller's figures to stats; *peak_seen is the highest memory.current seen, the
 * peak where the kernel has no memory.peak. */
void mj_cgv2_stats(int ctl, const char *dir, mj_cgroup_stats_t *out, uint64_t *peak_seen);
/* cgroup.freeze, with a bounded wait (ETIMEDOUT). */
int mj_cgv2_freeze(const char *dir, bool frozen, int timeout_ms);
/* 1 frozen, 0 not, -1 unknown. */
int mj_cgv2_frozen(const char *dir);
/* cgroup.kill (5.14+); -1 ENOENT when the kernel lacks it. */
int mj_cgv2_kill(const char *dir);

#endif

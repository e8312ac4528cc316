/* cgroup-v1.h — the cgroup v1 backend (cgroup-v1.c): one group dir per controller hierarchy.
 * It stands on cgroup-utils.c only; the facade and cgroup-setup.c call it. */
#ifndef MJ_CGROUP_V1_H
#define MJ_CGROUP_V1_H

#include <stdbool.h>

#include "cgroup-utils.h"

/* Applies one controller's limits to a group dir (-1 + errno, *failed_file names the file). */
int mj_cgv1_apply(int ctl, const char *dir, const mj_cgroup_limits_t *limits, const char **failed_file);
/* Adds that controller's figures to stats. */
void mj_cgv1_stats(int ctl, const char *dir, mj_cgroup_stats_t *out);
/* freezer.state, with a bounded wait (ETIMEDOUT). */
int mj_cgv1_freeze(const char *dir, bool frozen, int timeout_ms);
/* 1 frozen, 0 not, -1 unknown. */
int mj_cgv1_frozen(const char *dir);
/* Sets notify_on_release to 0 (CVE-2022-0492: a group of ours must never run a release agent). */
int mj_cgv1_no_release(const char *dir);

#endif

/* cgroup.h — the cgroup facade: one API, a v2 backend and a v1 backend (hybrid hosts use v1).
 * A sandbox gets <own>/moonjail/<id> in each hierarchy it uses, where <own> is the caller's place
 * in that hierarchy (from /proc/self/cgroup) — never anywhere else.  Only controllers for limits
 * that are set are used; the freezer (v1) / cgroup.freeze (v2) and kill-all are used when present.
 * Limits the caller asked for fail closed (the create call fails, saying what is missing and how
 * to get it); limits marked best-effort that cannot be applied become warnings. */
#ifndef MJ_CGROUP_H
#define MJ_CGROUP_H

#include <moonjail/moonjail.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "util.h"

typedef struct {
    uint64_t memory_max;     /* bytes, 0 = none */
    uint64_t memory_request; /* bytes, 0 = none (v1 soft limit, v2 memory.low) */
    double cpus;             /* cores, 0 = none (quota/period) */
    double cpu_request;      /* cores, 0 = none (weight / shares) */
    uint64_t pids_max;       /* 0 = none */
    /* which of the above were asked for by the user (fail closed) rather than defaults (warn) */
    bool memory_required, cpus_required, pids_required;
} mj_cgroup_limits_t;

typedef struct mj_cgroup mj_cgroup_t;

typedef struct {
    bool oom;            /* the kernel OOM-killed something in the group */
    bool pids_max_hit;   /* a fork failed at pids.max */
    uint64_t memory_current, memory_peak; /* bytes */
    double cpu_time;     /* seconds, user+system of the whole group */
    unsigned pids_current;
    bool have_memory, have_cpu, have_pids;
} mj_cgroup_stats_t;

/* Root of the cgroup file systems to use: "/sys/fs/cgroup" normally; tests point it at a fake
 * tree (plus fake /proc/self/mountinfo and /proc/self/cgroup texts). */
typedef struct {
    const char *mountinfo_text; /* NULL: read /proc/self/mountinfo */
    const char *cgroup_text;    /* NULL: read /proc/self/cgroup */
    const char *path_prefix;    /* prepended to every mount point found (fake trees), NULL = none */
} mj_cgroup_env_t;

/* Creates the sandbox's cgroups and applies the limits.  *out is NULL (and 0 returned) when no
 * limit is set and freezing/killing needs nothing (then the caller falls back to signals).
 * want_freezer: also set up freezing (persistent sandboxes). */
int mj_cgroup_create(const mj_cgroup_env_t *env, const char *id, const mj_cgroup_limits_t *limits, bool want_freezer,
                     mj_cgroup_t **out, mj_strv_t *warnings, mj_error_t **err);
/* Moves pid (a host pid) into every hierarchy of the group. */
int mj_cgroup_add_pid(mj_cgroup_t *cg, pid_t pid, mj_error_t **err);
int mj_cgroup_stats(mj_cgroup_t *cg, mj_cgroup_stats_t *out);
bool mj_cgroup_can_freeze(const mj_cgroup_t *cg);
int mj_cgroup_freeze(mj_cgroup_t *cg, bool frozen, mj_error_t **err);
/* 1 frozen, 0 not, -1 unknown. */
int mj_cgroup_frozen(mj_cgroup_t *cg);
/* SIGKILLs every process in the group (cgroup.kill, or freeze + kill + thaw on v1). */
int mj_cgroup_kill_all(mj_cgroup_t *cg);
/* Kills what is left, waits for the group to empty (bounded), removes the directories, frees. */
void mj_cgroup_destroy(mj_cgroup_t *cg);
/* Reattaches to an existing group by id (named sandboxes opened from another process). */
int mj_cgroup_open(const mj_cgroup_env_t *env, const char *id, mj_cgroup_t **out);
/* "v1", "v2" or "none" — for reports. */
const char *mj_cgroup_version(const mj_cgroup_t *cg);

/* What this host offers, for moonjail doctor: one line per fact appended to lines. */
void mj_cgroup_describe(const mj_cgroup_env_t *env, mj_strv_t *lines);

#endif

/* cgroup.h — the cgroup facade: one API, a v2 backend and a v1 backend (hybrid hosts use v1).
 * A sandbox gets <own>/moonjail/<id> in each hierarchy it uses, where <own> is the caller's place
 * in that hierarchy (from /proc/self/cgroup) — never anywhere else.  Only controllers for limits
 * that are set are used; the freezer (v1) / cgroup.freeze (v2) and kill-all are used when present.
 * Limits the caller asked for fail closed (the create call fails, saying what is missing and how
 * to get it); limits marked best-effort that cannot be applied become warnings.
 * The files, lowest first (each calls only those before it): cgroup-utils.c (file helpers) →
 * cgroup-v1.c, cgroup-v2.c (backends) → cgroup-setup.c (hierarchies, creation, doctor's report)
 * → cgroup.c (this API). */
#ifndef MJ_CGROUP_H
#define MJ_CGROUP_H

#include <moonjail/moonjail.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "util.h"

#define MJ_CG_MAX_IO 4
/* The leaves of a sandbox's group: the supervisor (or one-shot init) and the commands. */
#define MJ_CG_SUP "sup"
#define MJ_CG_WORK "work"

typedef struct {
    uint64_t memory_max;     /* bytes, 0 = none */
    uint64_t memory_request; /* bytes, 0 = none (v1 soft limit, v2 memory.low) */
    double cpus;             /* cores, 0 = none (quota/period) */
    double cpu_request;      /* cores, 0 = none (weight / shares) */
    uint64_t pids_max;       /* 0 = none */
    /* io bandwidth per block device (v1 blkio throttling, v2 io.max); 0 = no limit for a field */
    struct {
        unsigned major, minor;
        uint64_t read_bps, write_bps, read_iops, write_iops;
    } io[MJ_CG_MAX_IO];
    unsigned n_io;
    /* which of the above were asked for by the user (fail closed) rather than defaults (warn) */
    bool memory_required, cpus_required, pids_required, io_required;
} mj_cgroup_limits_t;

typedef struct mj_cgroup mj_cgroup_t;

typedef struct {
    bool oom;            /* the kernel OOM-killed something in the group */
    uint64_t oom_kills;  /* the counter behind oom (memory.events / memory.oom_control oom_kill) */
    uint64_t pids_max_events; /* the counter behind pids_max_hit (pids.events max) */
    bool pids_max_hit;   /* a fork failed at pids.max */
    uint64_t memory_current, memory_peak; /* bytes */
    double cpu_time;     /* seconds, user+system of the whole group */
    unsigned pids_current;
    uint64_t cpu_periods, cpu_throttled; /* CFS quota periods elapsed / throttled (cpu.stat) */
    uint64_t io_read_bytes, io_write_bytes, io_read_ops, io_write_ops; /* block I/O (io.stat / blkio) */
    bool have_memory, have_cpu, have_pids, have_throttle, have_io;
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
 * want_freezer: also set up freezing (persistent sandboxes).  An existing <id> group is reused.
 * On a v1 host the group also joins cpuacct (CPU time for stats) whenever anything is created. */
int mj_cgroup_create(const mj_cgroup_env_t *env, const char *id, const mj_cgroup_limits_t *limits, bool want_freezer,
                     mj_cgroup_t **out, mj_strv_t *warnings, mj_error_t **err);
/* Moves pid (a host pid: the supervisor or a one-shot init) into <id> of every hierarchy; in a
 * split group it then moves itself on into <id>/sup (see mj_cgroup_leaf_fds), after rooting its
 * cgroup namespace at <id>, so that inside, the supervisor is /sup and the commands /work. */
int mj_cgroup_add_pid(mj_cgroup_t *cg, pid_t pid, mj_error_t **err);
/* Opens <id>/<leaf>/cgroup.procs (leaf MJ_CG_SUP or MJ_CG_WORK) of every hierarchy, O_WRONLY and
 * O_CLOEXEC, into fds (at most max): a process writes "0" to each and so joins that leaf.  The
 * write's permission check uses the opener's credentials (Linux 5.16+), so it works from inside
 * the sandbox's user namespace.  *n = 0 for groups without the sup/work split. */
int mj_cgroup_leaf_fds(mj_cgroup_t *cg, const char *leaf, int *fds, size_t max, size_t *n, mj_error_t **err);
/* Whether pausing freezes the supervisor too (groups without the split). */
bool mj_cgroup_freezes_supervisor(const mj_cgroup_t *cg);
int mj_cgroup_stats(mj_cgroup_t *cg, mj_cgroup_stats_t *out);
bool mj_cgroup_can_freeze(const mj_cgroup_t *cg);
int mj_cgroup_freeze(mj_cgroup_t *cg, bool frozen, mj_error_t **err);
/* 1 frozen, 0 not, -1 unknown. */
int mj_cgroup_frozen(mj_cgroup_t *cg);
/* SIGKILLs every process in the group (cgroup.kill, or freeze + kill + thaw on v1); returns once
 * cgroup.procs is empty, or -1 EBUSY after ~1 s. */
int mj_cgroup_kill_all(mj_cgroup_t *cg);
/* Kills what is left, waits for the group to empty (bounded), removes the directories, frees. */
void mj_cgroup_destroy(mj_cgroup_t *cg);
/* Reattaches to an existing group by id (named sandboxes opened from another process). */
int mj_cgroup_open(const mj_cgroup_env_t *env, const char *id, mj_cgroup_t **out);
/* Removes the groups <own>/moonjail/<id> that no process is in and that busy(id, ctx) (optional)
 * does not claim — what a sandbox whose owner crashed left behind — in every hierarchy;
 * *removed counts the directories removed.  Never touches a group with a process in it. */
int mj_cgroup_prune(const mj_cgroup_env_t *env, bool (*busy)(const char *id, void *ctx), void *ctx, unsigned *removed);
/* "v1", "v2" or "none" — for reports. */
const char *mj_cgroup_version(const mj_cgroup_t *cg);

/* What this host offers, for moonjail doctor: one line per fact appended to lines (cgroup-setup.c). */
void mj_cgroup_describe(const mj_cgroup_env_t *env, mj_strv_t *lines);

/* Frees the handle only: the groups and their processes stay (a handle from mj_cgroup_open used
 * to pause or read usage of a sandbox that another process owns).  NULL is a no-op. */
void mj_cgroup_free(mj_cgroup_t *cg);
/* true for 1..64 hex digits: the only ids that ever become a path component. */
bool mj_cgroup_id_is_valid(const char *id);
/* The group's directory for a controller ("memory", "pids", "cpu", "cpuacct", "freezer"), borrowed;
 * NULL when the group does not use it.  For reports and tests. */
const char *mj_cgroup_dir(const mj_cgroup_t *cg, const char *controller);

#endif

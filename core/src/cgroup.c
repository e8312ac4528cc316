/* cgroup.c — the cgroup facade: a sandbox's groups as one handle.  It creates them (with
 * cgroup-setup.c, which knows the hierarchies and builds <own>/moonjail/<id>), decides what fails
 * closed and what only warns, and drives the v1 (cgroup-v1.c) and v2 (cgroup-v2.c) backends to
 * apply limits, read usage, freeze, kill and remove.
 * It must never create, write or remove anything outside <own>/moonjail, never touch release_agent,
 * and never signal a process it did not read from one of its own groups' cgroup.procs. */
#define _GNU_SOURCE
#include "cgroup.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgroup-setup.h"
#include "cgroup-utils.h"
#include "cgroup-v1.h"
#include "cgroup-v2.h"
#include "error.h"

static char *join(const char *dir, const char *file)
{
    return mj_xasprintf("%s/%s", dir, file);
}

bool mj_cgroup_id_is_valid(const char *id)
{
    if (!id)
        return false;
    size_t n = strlen(id);
    if (n == 0 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isxdigit((unsigned char)id[i]))
            return false;
    return true;
}

/* ------------------------------------------------------------------ the group */

typedef struct {
    int version;
    int hier;             /* index in the host's hierarchies when created/opened */
    char *dir;            /* <own_dir>/moonjail/<id> */
    unsigned controllers; /* 1u << MJ_CGC_* served from this dir */
    bool split;           /* dir/sup holds the supervisor (init), dir/work the commands */
} mj_cg_dir_t;

/* The leaves of a split group (see mj_cg_setup_group). */
static const char *const leaves[] = {MJ_CG_SUP, MJ_CG_WORK};

struct mj_cgroup {
    char *id;
    mj_cg_dir_t dirs[MJ_CGC__COUNT];
    size_t n;
    int at[MJ_CGC__COUNT]; /* index into dirs, -1 = unused */
    uint64_t peak_seen;    /* v2 without memory.peak: the highest memory.current seen */
};

static mj_cgroup_t *cg_new(const char *id)
{
    mj_cgroup_t *cg = mj_xcalloc(1, sizeof(*cg));
    cg->id = mj_xstrdup(id);
    for (int c = 0; c < MJ_CGC__COUNT; c++)
        cg->at[c] = -1;
    return cg;
}

void mj_cgroup_free(mj_cgroup_t *cg)
{
    if (!cg)
        return;
    for (size_t i = 0; i < cg->n; i++)
        free(cg->dirs[i].dir);
    free(cg->id);
    free(cg);
}

static int cg_dir_for(mj_cgroup_t *cg, const mj_cg_host_t *host, int hier, const char *dir)
{
    for (size_t i = 0; i < cg->n; i++)
        if (cg->dirs[i].hier == hier)
            return (int)i;
    mj_cg_dir_t *d = &cg->dirs[cg->n];
    d->version = host->h[hier].version;
    d->hier = hier;
    d->dir = mj_xstrdup(dir);
    d->controllers = 0;
    cleanup_free char *sup = join(dir, MJ_CG_SUP);
    struct stat st;
    d->split = stat(sup, &st) == 0 && S_ISDIR(st.st_mode); /* groups of older versions have none */
    return (int)cg->n++;
}

static void cg_attach(mj_cgroup_t *cg, int ctl, int idx)
{
    cg->at[ctl] = idx;
    cg->dirs[idx].controllers |= 1u << ctl;
}

static void cg_detach(mj_cgroup_t *cg, int ctl)
{
    if (cg->at[ctl] >= 0)
        cg->dirs[cg->at[ctl]].controllers &= ~(1u << ctl);
    cg->at[ctl] = -1;
}

const char *mj_cgroup_dir(const mj_cgroup_t *cg, const char *controller)
{
    if (!cg || !controller)
        return NULL;
    int c = mj_cg_controller_from_name(controller, strlen(controller));
    if (c < 0 || cg->at[c] < 0)
        return NULL;
    return cg->dirs[cg->at[c]].dir;
}

const char *mj_cgroup_version(const mj_cgroup_t *cg)
{
    if (!cg || cg->n == 0)
        return "none";
    bool v1 = false, v2 = false;
    for (size_t i = 0; i < cg->n; i++) {
        if (cg->dirs[i].version == 1)
            v1 = true;
        else
            v2 = true;
    }
    return v1 && v2 ? "v1+v2" : v2 ? "v2" : "v1";
}

/* ------------------------------------------------------------------ create */

typedef struct {
    mj_cgroup_limits_t lim; /* our copy; a skipped limit is zeroed */
    unsigned want;          /* 1u << MJ_CGC_* still wanted */
    mj_strv_t *warnings;
} create_ctx_t;

static void warn(create_ctx_t *cx, char *line)
{
    if (cx->warnings)
        mj_strv_push_owned(cx->warnings, line);
    else
        free(line);
}

static bool required(const create_ctx_t *cx, int ctl)
{
    switch (ctl) {
    case MJ_CGC_MEMORY:
        return cx->lim.memory_required;
    case MJ_CGC_CPU:
        return cx->lim.cpus_required;
    case MJ_CGC_PIDS:
        return cx->lim.pids_required;
    case MJ_CGC_IO:
        return cx->lim.io_required;
    default:
        return false;
    }
}

/* "memory limit (memory_max=67108864 bytes)" and the like. */
static char *describe_limit(const mj_cgroup_limits_t *l, int ctl)
{
    switch (ctl) {
    case MJ_CGC_MEMORY:
        if (l->memory_max && l->memory_request)
            return mj_xasprintf("memory limit (memory_max=%llu bytes, memory_request=%llu bytes)",
                                (unsigned long long)l->memory_max, (unsigned long long)l->memory_request);
        if (l->memory_max)
            return mj_xasprintf("memory limit (memory_max=%llu bytes)", (unsigned long long)l->memory_max);
        return mj_xasprintf("memory request (memory_request=%llu bytes)", (unsigned long long)l->memory_request);
    case MJ_CGC_CPU:
        if (l->cpus > 0 && l->cpu_request > 0)
            return mj_xasprintf("CPU limit (cpus=%g, cpu_request=%g)", l->cpus, l->cpu_request);
        if (l->cpus > 0)
            return mj_xasprintf("CPU limit (cpus=%g)", l->cpus);
        return mj_xasprintf("CPU request (cpu_request=%g)", l->cpu_request);
    case MJ_CGC_PIDS:
        return mj_xasprintf("process limit (pids_max=%llu)", (unsigned long long)l->pids_max);
    case MJ_CGC_FREEZER:
        return mj_xstrdup("freezing (pause/resume)");
    case MJ_CGC_IO:
        return mj_xasprintf("io limit (%u device%s, e.g. %u:%u)", l->n_io, l->n_io == 1 ? "" : "s",
                            l->n_io ? l->io[0].major : 0, l->n_io ? l->io[0].minor : 0);
    default:
        return mj_xstrdup("CPU time accounting");
    }
}

static void drop_limit(mj_cgroup_limits_t *l, int ctl)
{
    if (ctl == MJ_CGC_MEMORY)
        l->memory_max = l->memory_request = 0;
    else if (ctl == MJ_CGC_CPU)
        l->cpus = l->cpu_request = 0;
    else if (ctl == MJ_CGC_PIDS)
        l->pids_max = 0;
    else if (ctl == MJ_CGC_IO)
        l->n_io = 0;
}

/* ctl cannot be used here.  A limit the user asked for fails the create (-1, *err set); anything
 * else becomes a warning and is skipped (0). */
static int give_up(create_ctx_t *cx, int ctl, mj_error_code_t code, int errnum, mj_error_t **err, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
static int give_up(create_ctx_t *cx, int ctl, mj_error_code_t code, int errnum, mj_error_t **err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cleanup_free char *reason = NULL;
    if (vasprintf(&reason, fmt, ap) < 0)
        abort();
    va_end(ap);
    cleanup_free char *what = describe_limit(&cx->lim, ctl);
    cx->want &= ~(1u << ctl);
    if (required(cx, ctl)) {
        if (err)
            *err = mj_error_new(code, errnum, "%s cannot be applied: %s; or mark the limit best effort", what, reason);
        return -1;
    }
    if (ctl == MJ_CGC_FREEZER)
        warn(cx, mj_xasprintf("%s not available: %s; pausing uses SIGSTOP and kill uses signals instead", what, reason));
    else if (ctl != MJ_CGC_CPUACCT)
        warn(cx, mj_xasprintf("%s not applied: %s", what, reason));
    drop_limit(&cx->lim, ctl);
    return 0;
}

static unsigned wanted_ctls(const mj_cgroup_limits_t *l, bool want_freezer)
{
    unsigned want = 0;
    if (l && (l->memory_max || l->memory_request))
        want |= 1u << MJ_CGC_MEMORY;
    if (l && (l->cpus > 0 || l->cpu_request > 0))
        want |= 1u << MJ_CGC_CPU;
    if (l && l->pids_max)
        want |= 1u << MJ_CGC_PIDS;
    if (l && l->n_io)
        want |= 1u << MJ_CGC_IO;
    if (want_freezer)
        want |= 1u << MJ_CGC_FREEZER;
    return want;
}

/* Destroys a group left in a cleanup-attributed variable: whatever was built before a failure goes. */
static void cgroup_destroyp(mj_cgroup_t **cg)
{
    mj_cgroup_destroy(*cg);
}

int mj_cgroup_create(const mj_cgroup_env_t *env, const char *id, const mj_cgroup_limits_t *limits, bool want_freezer,
                     mj_cgroup_t **out, mj_strv_t *warnings, mj_error_t **err)
{
    *out = NULL;
    if (!mj_cgroup_id_is_valid(id)) {
        if (err)
            *err = mj_error_new(MJ_ERR_INVALID_CONFIG, EINVAL, "cgroup id '%s' is not 1-64 hex digits", id ? id : "(null)");
        return -1;
    }
    create_ctx_t cx = {.want = wanted_ctls(limits, want_freezer), .warnings = warnings};
    if (limits)
        cx.lim = *limits;
    if (!cx.want)
        return 0; /* fast path: nothing to enforce, nothing to pay */

    __attribute__((cleanup(mj_cg_host_free))) mj_cg_host_t host = {0};
    mj_error_t *derr = NULL;
    if (mj_cg_host_detect(env, &host, &derr) < 0) {
        for (int c = 0; c < MJ_CGC__COUNT; c++)
            if ((cx.want & (1u << c)) &&
                give_up(&cx, c, mj_error_code(derr), mj_error_errno(derr), err, "%s", mj_error_message(derr)) < 0) {
                mj_error_free(derr);
                return -1;
            }
        mj_error_free(derr);
        return 0;
    }
    /* destroyed on the way out unless handed out: an empty group costs nothing to destroy */
    __attribute__((cleanup(cgroup_destroyp))) mj_cgroup_t *cg = cg_new(id);

    for (int c = 0; c < MJ_CGC__COUNT; c++) {
        if (!(cx.want & (1u << c)) || host.by_ctl[c] >= 0)
            continue;
        cleanup_free char *why = mj_cg_missing_reason(&host, c);
        if (give_up(&cx, c, MJ_ERR_UNSUPPORTED, ENOTSUP, err, "%s", why) < 0)
            return -1;
    }
    if (!cx.want)
        return 0;
    if (host.by_ctl[MJ_CGC_CPUACCT] >= 0)
        cx.want |= 1u << MJ_CGC_CPUACCT; /* usage for free wherever we create anything */

    for (size_t hi = 0; hi < host.n; hi++) {
        unsigned mask = 0;
        for (int c = 0; c < MJ_CGC__COUNT; c++)
            if ((cx.want & (1u << c)) && host.by_ctl[c] == (int)hi)
                mask |= 1u << c;
        if (!mask)
            continue;
        cleanup_free char *failed = NULL;
        bool split = cx.want & (1u << MJ_CGC_FREEZER);
        if (mj_cg_setup_group(&host.h[hi], id, mask, split, cx.warnings, &failed) < 0) {
            int e = errno;
            for (int c = 0; c < MJ_CGC__COUNT; c++)
                if ((mask & (1u << c)) &&
                    give_up(&cx, c, mj_cg_code_for_errno(e, true), e, err, "%s controller (cgroup v%d): cannot set up %s: %s; %s",
                            mj_cg_controller_name(c), host.h[hi].version, failed, strerror(e),
                            mj_cg_fix_for(host.h[hi].version, e)) < 0)
                    return -1;
            continue;
        }
        cleanup_free char *base = join(host.h[hi].own_dir, "moonjail");
        cleanup_free char *dir = join(base, id);
        int idx = cg_dir_for(cg, &host, (int)hi, dir);
        for (int c = 0; c < MJ_CGC__COUNT; c++)
            if (mask & (1u << c))
                cg_attach(cg, c, idx);
    }

    static const int limit_ctls[] = {MJ_CGC_MEMORY, MJ_CGC_CPU, MJ_CGC_PIDS, MJ_CGC_IO};
    for (size_t i = 0; i < MJ_ARRAY_LEN(limit_ctls); i++) {
        int c = limit_ctls[i];
        if (!(cx.want & (1u << c)) || cg->at[c] < 0)
            continue;
        const mj_cg_dir_t *d = &cg->dirs[cg->at[c]];
        const char *file = "?";
        int r = d->version == 2 ? mj_cgv2_apply(c, d->dir, &cx.lim, &file) : mj_cgv1_apply(c, d->dir, &cx.lim, &file);
        if (r < 0) {
            int e = errno;
            if (give_up(&cx, c, mj_cg_code_for_errno(e, false), e, err, "%s controller (cgroup v%d): cannot write %s/%s: %s; %s",
                        mj_cg_controller_name(c), d->version, d->dir, file, strerror(e), mj_cg_fix_for(d->version, e)) < 0)
                return -1;
        }
    }

    if (cg->at[MJ_CGC_FREEZER] >= 0) {
        const mj_cg_dir_t *d = &cg->dirs[cg->at[MJ_CGC_FREEZER]];
        const char *file = d->version == 2 ? "cgroup.freeze" : "freezer.state";
        if (!mj_cg_exists(d->dir, file)) {
            cg_detach(cg, MJ_CGC_FREEZER);
            if (give_up(&cx, MJ_CGC_FREEZER, MJ_ERR_UNSUPPORTED, ENOENT, err, "%s/%s does not exist (kernel too old?)",
                        d->dir, file) < 0)
                return -1;
        }
    }
    if (cg->n > 0)
        *out = steal_pointer(&cg);
    return 0;
}

/* ------------------------------------------------------------------ open */

int mj_cgroup_open(const mj_cgroup_env_t *env, const char *id, mj_cgroup_t **out)
{
    *out = NULL;
    if (!mj_cgroup_id_is_valid(id)) {
        errno = EINVAL;
        return -1;
    }
    mj_cg_host_t host;
    mj_error_t *derr = NULL;
    if (mj_cg_host_detect(env, &host, &derr) < 0) {
        errno = mj_error_errno(derr) ? mj_error_errno(derr) : ENOENT;
        mj_error_free(derr);
        return -1;
    }
    mj_cgroup_t *cg = cg_new(id);
    for (int c = 0; c < MJ_CGC__COUNT; c++) {
        int hi = host.by_ctl[c];
        if (hi < 0)
            continue;
        cleanup_free char *dir = mj_xasprintf("%s/moonjail/%s", host.h[hi].own_dir, id);
        struct stat st;
        if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode))
            continue;
        if (c == MJ_CGC_FREEZER && !mj_cg_exists(dir, host.h[hi].version == 2 ? "cgroup.freeze" : "freezer.state"))
            continue;
        cg_attach(cg, c, cg_dir_for(cg, &host, hi, dir));
    }
    mj_cg_host_free(&host);
    if (cg->n == 0) {
        mj_cgroup_free(cg);
        errno = ENOENT;
        return -1;
    }
    *out = cg;
    return 0;
}

/* ------------------------------------------------------------------ processes */

int mj_cgroup_add_pid(mj_cgroup_t *cg, pid_t pid, mj_error_t **err)
{
    if (!cg)
        return 0;
    for (size_t i = 0; i < cg->n; i++) {
        const mj_cg_dir_t *d = &cg->dirs[i];
        if (mj_cg_writef(d->dir, "cgroup.procs", "%d", (int)pid) < 0) {
            int e = errno;
            if (err) {
                if (e == ESRCH)
                    *err = mj_error_new(MJ_ERR_SANDBOX_INIT_FAILED, e, "cannot move process %d into %s: it is gone",
                                        (int)pid, d->dir);
                else
                    *err = mj_error_new(e == EACCES || e == EPERM ? MJ_ERR_PERMISSION_DENIED : MJ_ERR_SANDBOX_INIT_FAILED,
                                        e, "cannot move process %d into %s/cgroup.procs: %s%s%s", (int)pid, d->dir,
                                        strerror(e), e == EACCES || e == EPERM ? "; " : "",
                                        e == EACCES || e == EPERM ? mj_cg_fix_for(d->version, e) : "");
            }
            return -1;
        }
    }
    return 0;
}

/* mj_cg_for_each_pid over the group's processes in one hierarchy: <id>, and <id>/sup, <id>/work. */
static size_t for_each_pid_in(const mj_cg_dir_t *d, void (*fn)(pid_t, void *))
{
    size_t n = mj_cg_for_each_pid(d->dir, fn, NULL);
    if (d->split) {
        for (size_t i = 0; i < MJ_ARRAY_LEN(leaves); i++) {
            cleanup_free char *leaf = join(d->dir, leaves[i]);
            n += mj_cg_for_each_pid(leaf, fn, NULL);
        }
    }
    return n;
}

static void sigkill_pid(pid_t pid, void *ud)
{
    (void)ud;
    if (pid > 1 && pid != getpid())
        kill(pid, SIGKILL);
}

static size_t count_procs(const mj_cgroup_t *cg)
{
    size_t n = 0;
    for (size_t i = 0; i < cg->n; i++)
        n += for_each_pid_in(&cg->dirs[i], NULL);
    return n;
}

bool mj_cgroup_can_freeze(const mj_cgroup_t *cg)
{
    return cg && cg->at[MJ_CGC_FREEZER] >= 0;
}

/* The freezer directory: the commands' <id>/work for pause, or all of <id> (kill_all). */
static char *freezer_dir(const mj_cgroup_t *cg, bool whole)
{
    const mj_cg_dir_t *d = &cg->dirs[cg->at[MJ_CGC_FREEZER]];
    return d->split && !whole ? join(d->dir, MJ_CG_WORK) : mj_xstrdup(d->dir);
}

static int freeze_bounded(mj_cgroup_t *cg, bool whole, bool frozen, int timeout_ms)
{
    const mj_cg_dir_t *d = &cg->dirs[cg->at[MJ_CGC_FREEZER]];
    cleanup_free char *dir = freezer_dir(cg, whole);
    return d->version == 2 ? mj_cgv2_freeze(dir, frozen, timeout_ms) : mj_cgv1_freeze(dir, frozen, timeout_ms);
}

bool mj_cgroup_freezes_supervisor(const mj_cgroup_t *cg)
{
    return mj_cgroup_can_freeze(cg) && !cg->dirs[cg->at[MJ_CGC_FREEZER]].split;
}

int mj_cgroup_leaf_fds(mj_cgroup_t *cg, const char *leaf, int *fds, size_t max, size_t *n, mj_error_t **err)
{
    *n = 0;
    for (size_t i = 0; cg && i < cg->n; i++) {
        const mj_cg_dir_t *d = &cg->dirs[i];
        if (!d->split)
            continue;
        cleanup_free char *path = mj_xasprintf("%s/%s/cgroup.procs", d->dir, leaf);
        int fd = *n < max ? open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW) : -1;
        if (fd < 0) {
            int e = *n < max ? errno : E2BIG;
            for (size_t k = 0; k < *n; k++)
                close(fds[k]);
            *n = 0;
            if (err)
                *err = mj_error_sys(MJ_ERR_SANDBOX_INIT_FAILED, e, "cannot open %s", path);
            return -1;
        }
        fds[(*n)++] = fd;
    }
    return 0;
}

int mj_cgroup_freeze(mj_cgroup_t *cg, bool frozen, mj_error_t **err)
{
    if (!mj_cgroup_can_freeze(cg)) {
        if (err)
            *err = mj_error_new(MJ_ERR_UNSUPPORTED, ENOTSUP, "this sandbox's cgroup has no freezer");
        return -1;
    }
    if (freeze_bounded(cg, false, frozen, 1000) < 0) {
        int e = errno;
        cleanup_free char *dir = freezer_dir(cg, false);
        if (err)
            *err = mj_error_sys(e == ETIMEDOUT ? MJ_ERR_TIMEOUT : mj_cg_code_for_errno(e, false), e, "cannot %s %s",
                                frozen ? "freeze" : "thaw", dir);
        return -1;
    }
    return 0;
}

int mj_cgroup_frozen(mj_cgroup_t *cg)
{
    if (!mj_cgroup_can_freeze(cg))
        return -1;
    const mj_cg_dir_t *d = &cg->dirs[cg->at[MJ_CGC_FREEZER]];
    cleanup_free char *dir = freezer_dir(cg, false);
    return d->version == 2 ? mj_cgv2_frozen(dir) : mj_cgv1_frozen(dir);
}

int mj_cgroup_kill_all(mj_cgroup_t *cg)
{
    if (!cg || cg->n == 0)
        return 0;
    bool kernel_kill = false;
    for (size_t i = 0; i < cg->n; i++)
        if (cg->dirs[i].version == 2 && mj_cgv2_kill(cg->dirs[i].dir) == 0)
            kernel_kill = true;
    bool can_freeze = mj_cgroup_can_freeze(cg);
    double deadline = mj_now_monotonic() + 1.0;
    for (int round = 0;; round++) {
        /* Freeze so nothing forks between reading cgroup.procs and the kills; a frozen task dies
         * only once thawed, so thaw right after. */
        bool froze = !kernel_kill && can_freeze && round < 3 && freeze_bounded(cg, true, true, 100) == 0;
        size_t found = 0;
        for (size_t i = 0; i < cg->n; i++)
            found += for_each_pid_in(&cg->dirs[i], sigkill_pid);
        if (froze || (can_freeze && round == 0)) {
            freeze_bounded(cg, true, false, 100);
            freeze_bounded(cg, false, false, 100); /* a paused work group too: frozen tasks die only thawed */
        }
        if (found == 0)
            return 0;
        if (mj_now_monotonic() > deadline) {
            errno = EBUSY;
            return -1;
        }
        mj_cg_sleep_ms(round < 10 ? 1 : 10);
    }
}

static void remove_group(const char *dir, int depth);

struct remove_ctx {
    const char *dir;
    int depth;
};

static int remove_child_group(int dfd, const char *name, unsigned char type, void *ctx)
{
    (void)dfd;
    const struct remove_ctx *rc = ctx;
    if (type == DT_DIR) {
        cleanup_free char *sub = join(rc->dir, name);
        remove_group(sub, rc->depth + 1);
    }
    return 0;
}

/* rmdir dir after its child groups (depth-bounded); cgroupfs holds no symlinks or files to unlink. */
static void remove_group(const char *dir, int depth)
{
    if (depth > 8)
        return;
    cleanup_close int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        struct remove_ctx rc = {.dir = dir, .depth = depth};
        (void)mj_dir_each(dfd, remove_child_group, &rc);
    }
    for (int tries = 0; tries < 40; tries++) {
        if (rmdir(dir) == 0 || errno == ENOENT || errno != EBUSY)
            return;
        mj_cg_sleep_ms(5); /* EBUSY: the last tasks are still leaving */
    }
}

void mj_cgroup_destroy(mj_cgroup_t *cg)
{
    if (!cg)
        return;
    mj_cgroup_kill_all(cg);
    double deadline = mj_now_monotonic() + 2.0;
    double next_kill = mj_now_monotonic() + 0.1;
    while (count_procs(cg) > 0 && mj_now_monotonic() < deadline) {
        mj_cg_sleep_ms(5);
        if (mj_now_monotonic() > next_kill) {
            mj_cgroup_kill_all(cg);
            next_kill = mj_now_monotonic() + 0.1;
        }
    }
    for (size_t i = 0; i < cg->n; i++)
        remove_group(cg->dirs[i].dir, 0);
    mj_cgroup_free(cg);
}

/* ------------------------------------------------------------------ prune */

typedef struct {
    const char *base; /* <own>/moonjail */
    bool (*busy)(const char *id, void *ctx);
    void *ctx;
    unsigned removed;
} prune_ctx_t;

/* Processes in a sandbox's group: <id> itself and any leaf below it. */
static size_t group_procs(const char *dir)
{
    size_t n = mj_cg_for_each_pid(dir, NULL, NULL);
    for (size_t i = 0; i < MJ_ARRAY_LEN(leaves); i++) {
        cleanup_free char *leaf = join(dir, leaves[i]);
        n += mj_cg_for_each_pid(leaf, NULL, NULL);
    }
    return n;
}

static int prune_entry(int dfd, const char *name, unsigned char type, void *ctx)
{
    (void)dfd;
    prune_ctx_t *pc = ctx;
    if ((type != DT_DIR && type != DT_UNKNOWN) || !mj_cgroup_id_is_valid(name))
        return 0;
    cleanup_free char *dir = join(pc->base, name);
    if (group_procs(dir) > 0 || (pc->busy && pc->busy(name, pc->ctx)))
        return 0;
    remove_group(dir, 0);
    struct stat st;
    if (stat(dir, &st) < 0 && errno == ENOENT)
        pc->removed++;
    return 0;
}

int mj_cgroup_prune(const mj_cgroup_env_t *env, bool (*busy)(const char *id, void *ctx), void *ctx, unsigned *removed)
{
    *removed = 0;
    mj_cg_host_t host;
    mj_error_t *derr = NULL;
    if (mj_cg_host_detect(env, &host, &derr) < 0) {
        mj_error_free(derr);
        return 0; /* no cgroups here: nothing can be left */
    }
    for (size_t i = 0; i < host.n; i++) {
        prune_ctx_t pc = {.busy = busy, .ctx = ctx};
        cleanup_free char *base = mj_xasprintf("%s/moonjail", host.h[i].own_dir);
        pc.base = base;
        cleanup_close int dfd = open(base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0)
            (void)mj_dir_each(dfd, prune_entry, &pc);
        *removed += pc.removed;
    }
    mj_cg_host_free(&host);
    return 0;
}

/* ------------------------------------------------------------------ stats */

int mj_cgroup_stats(mj_cgroup_t *cg, mj_cgroup_stats_t *out)
{
    memset(out, 0, sizeof(*out));
    if (!cg) {
        errno = EINVAL;
        return -1;
    }
    static const int stat_ctls[] = {MJ_CGC_MEMORY, MJ_CGC_PIDS, MJ_CGC_CPU, MJ_CGC_CPUACCT, MJ_CGC_IO};
    for (size_t i = 0; i < MJ_ARRAY_LEN(stat_ctls); i++) {
        int c = stat_ctls[i];
        if (cg->at[c] < 0)
            continue;
        const mj_cg_dir_t *d = &cg->dirs[cg->at[c]];
        if (d->version == 2) {
            mj_cgv2_stats(c, d->dir, out, &cg->peak_seen);
            continue;
        }
        mj_cgv1_stats(c, d->dir, out);
        /* v1 keeps OOM kills, pids.max hits and blkio counts where they happen (in the leaves),
         * not in <id>; usage itself is hierarchical there too. */
        for (size_t k = 0; d->split && c != MJ_CGC_CPU && c != MJ_CGC_CPUACCT && k < MJ_ARRAY_LEN(leaves); k++) {
            cleanup_free char *leaf = join(d->dir, leaves[k]);
            mj_cgroup_stats_t part;
            memset(&part, 0, sizeof(part));
            mj_cgv1_stats(c, leaf, &part);
            out->oom = out->oom || part.oom;
            out->oom_kills += part.oom_kills;
            out->pids_max_events += part.pids_max_events;
            out->pids_max_hit = out->pids_max_hit || part.pids_max_hit;
            out->io_read_bytes += part.io_read_bytes;
            out->io_write_bytes += part.io_write_bytes;
            out->io_read_ops += part.io_read_ops;
            out->io_write_ops += part.io_write_ops;
            out->have_io = out->have_io || part.have_io;
        }
    }
    /* v2 keeps cpu.stat in every group: use it when no accounting dir was chosen. */
    if (!out->have_cpu)
        for (size_t i = 0; i < cg->n; i++)
            if (cg->dirs[i].version == 2) {
                mj_cgv2_stats(MJ_CGC_CPUACCT, cg->dirs[i].dir, out, &cg->peak_seen);
                break;
            }
    return 0;
}

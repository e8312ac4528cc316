/* plandump.c — a plan as stable text: what two ways of asking for a sandbox (the C default config,
 * the CLI's default policy) must agree on, compared by spec/integration/embed_default_spec.lua
 * through core/tests/plan_dump and `moonjail run --dump-plan`.  Internal, not public API.  Never:
 * prints what differs between runs of the same config (host id ranges, fds, the staging dir). */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "plan.h"
#include "plandump.h"
#include "util.h"

__attribute__((format(printf, 2, 3))) static void out(mj_buf_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    int n = vasprintf(&s, fmt, ap);
    va_end(ap);
    if (n < 0)
        abort();
    mj_buf_append(b, s, (size_t)n);
    free(s);
}

static const char *const op_names[] = {
    [MJ_OP_BIND] = "bind", [MJ_OP_SYMLINK] = "symlink", [MJ_OP_TMPFS] = "tmpfs", [MJ_OP_PROC] = "proc",
    [MJ_OP_DEVPTS] = "devpts", [MJ_OP_MASK] = "mask", [MJ_OP_READONLY] = "readonly", [MJ_OP_OVERLAY] = "overlay",
};

static const char *const base_names[] = {
    [MJ_BASE_DIR] = "dir", [MJ_BASE_FILE] = "file", [MJ_BASE_LINK] = "link", [MJ_BASE_DATA] = "data",
    [MJ_BASE_COPY] = "copy",
};

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A short, stable digest of bytes (FNV-1a), for filters and generated files. */
static unsigned long long fnv(const void *data, size_t len)
{
    const unsigned char *p = data;
    unsigned long long h = 1469598103934665603ULL;
    for (size_t i = 0; i < len; i++)
        h = (h ^ p[i]) * 1099511628211ULL;
    return h;
}

char *mj_plan_dump(const mj_plan_t *plan)
{
    mj_buf_t b = {0};
    out(&b, "root %s%s layer %d size %llu inodes %llu\n", plan->host_root ? "host" : "dir",
        plan->readonly_root ? " read-only" : " writable", plan->layer, (unsigned long long)plan->layer_size,
        (unsigned long long)plan->layer_inodes);
    for (size_t k = 0; k < plan->root_lowers.n; k++)
        out(&b, "root-lower %s\n", plan->root_lowers.v[k]);
    for (size_t i = 0; i < plan->n_ops; i++) {
        const mj_op_t *op = &plan->ops[i];
        out(&b, "op %s /%s src=%s flags=%#x size=%llu inodes=%llu mode=%o owner=%s\n", op_names[op->kind], op->dst,
            op->src ? op->src : "-", op->flags, (unsigned long long)op->size, (unsigned long long)op->inodes, op->mode,
            op->has_owner ? "set" : "-");
    }
    for (size_t i = 0; i < plan->n_base; i++) {
        const mj_base_entry_t *e = &plan->base[i];
        out(&b, "base %s %s mode=%o", base_names[e->kind], e->path, e->mode);
        if (e->kind == MJ_BASE_DATA)
            out(&b, " len=%zu fnv=%016llx", e->len, fnv(e->data, e->len));
        else if (e->data)
            out(&b, " -> %s", e->data);
        out(&b, "\n");
    }
    out(&b, "index %016llx\n", plan->layer_index ? fnv(plan->layer_index, strlen(plan->layer_index)) : 0ULL);
    out(&b, "hostname %s netns %d rootless %d\n", plan->hostname, plan->new_netns, plan->rootless);
    out(&b, "ids inner %u:%u init %u:%u\n", (unsigned)plan->inner_uid, (unsigned)plan->inner_gid,
        (unsigned)plan->init_uid, (unsigned)plan->init_gid);
    for (int i = 0; i < MJ_RLIMIT__COUNT; i++)
        if (plan->rlimit_set[i])
            out(&b, "rlimit %d %llu %llu\n", i, (unsigned long long)plan->rlimits[i].rlim_cur,
                (unsigned long long)plan->rlimits[i].rlim_max);
    out(&b, "caps %#llx\n", (unsigned long long)plan->caps_keep);
    out(&b, "seccomp len %u fnv %016llx notify %d\n", plan->seccomp_len,
        plan->seccomp ? fnv(plan->seccomp, plan->seccomp_len * 8u) : 0ULL, plan->seccomp_notify);
    out(&b, "landlock abi %d required %d tcp %d\n", plan->landlock_abi, plan->landlock_required, plan->landlock_tcp_ok);
    for (size_t i = 0; i < plan->landlock_write.n; i++)
        out(&b, "landlock-write %s\n", plan->landlock_write.v[i]);
    const mj_cgroup_limits_t *l = &plan->limits;
    out(&b, "limits memory %llu request %llu cpus %g request %g pids %llu io %u\n", (unsigned long long)l->memory_max,
        (unsigned long long)l->memory_request, l->cpus, l->cpu_request, (unsigned long long)l->pids_max, l->n_io);
    out(&b, "cpu_time %g cleanup_delay %g persistent %d tty %d\n", plan->cpu_time_limit, plan->cleanup_delay,
        plan->persistent, plan->tty);
    for (size_t i = 0; i < plan->disk_paths.n; i++)
        out(&b, "disk %s\n", plan->disk_paths.v[i]);
    out(&b, "lsm %s %s\n", plan->lsm_attr_path ? plan->lsm_attr_path : "-", plan->lsm_attr_value ? plan->lsm_attr_value : "-");
    for (size_t i = 0; i < plan->argv.n; i++)
        out(&b, "argv %s\n", plan->argv.v[i]);
    char **env = mj_xcalloc(plan->envp.n ? plan->envp.n : 1, sizeof(*env));
    for (size_t i = 0; i < plan->envp.n; i++)
        env[i] = plan->envp.v[i];
    qsort(env, plan->envp.n, sizeof(*env), cmp_str);
    for (size_t i = 0; i < plan->envp.n; i++)
        out(&b, "env %s\n", env[i]);
    free(env);
    out(&b, "path %s\nworkdir %s\n", plan->path_env, plan->workdir);
    for (size_t i = 0; i < plan->warnings.n; i++)
        out(&b, "warning %s\n", plan->warnings.v[i]);
    mj_buf_append(&b, "", 1);
    return b.data;
}

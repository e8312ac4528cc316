/* layerplan.c — the plan of a sandbox's container layer (layer.c builds it after clone): its
 * base (every mount point and symlink the ops make on the root, so none shows as a change; the
 * generated /etc of a "host" root, etc.c, and its copies of host files), its size and inodes from
 * the disk cap (lowered to fit the memory limit unless asked for), and the index of its
 * copy-on-write layers for the host-side diff.  Plan time: allocates, reads the host; never
 * touches the sandbox. */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "config.h"
#include "error.h"
#include "etc.h"
#include "layerplan.h"
#include "plan.h"
#include "util.h"

uint64_t mj_tmpfs_inodes(uint64_t size)
{
    uint64_t n = size / 4096;
    return n < 1024 ? 1024 : n;
}

mj_base_entry_t *mj_base_push(mj_plan_t *plan, mj_base_kind_t kind, const char *path, const char *data,
                                  size_t len, unsigned mode)
{
    plan->base = mj_xrealloc(plan->base, (plan->n_base + 1) * sizeof(*plan->base));
    mj_base_entry_t *e = &plan->base[plan->n_base++];
    while (*path == '/')
        path++;
    e->kind = kind;
    e->path = mj_xstrdup(path);
    e->data = NULL;
    if (data) {
        e->data = mj_xmalloc(len + 1);
        memcpy(e->data, data, len);
        e->data[len] = '\0';
    }
    e->len = len;
    e->mode = mode;
    e->fd = -1;
    return e;
}

bool mj_base_has(const mj_plan_t *plan, const char *path)
{
    while (*path == '/')
        path++;
    for (size_t i = 0; i < plan->n_base; i++)
        if (strcmp(plan->base[i].path, path) == 0)
            return true;
    return false;
}

/* The generated /etc of a "host" root (etc.c), but for the files host paths bring on purpose. */
static void add_etc(const mj_config_t *cfg, mj_plan_t *plan)
{
    mj_etc_params_t p = {.uid = cfg->uid, .gid = cfg->gid, .hostname = plan->hostname,
                         .host_network = cfg->network == MJ_NET_HOST, .hosts = &cfg->etc_hosts,
                         .resolv_conf = cfg->resolv_conf};
    for (int f = 0; f < MJ_ETC__COUNT; f++) {
        cleanup_free char *path = mj_xasprintf("etc/%s", mj_etc_name((mj_etc_file_t)f));
        if (mj_base_has(plan, path))
            continue;
        if (f == MJ_ETC_RESOLV && plan->net_resolv && plan->resolv_op == SIZE_MAX) {
            /* moonjail-net's, known once it is ready: a copy of the file netsetup.c writes then */
            plan->resolv_base = plan->n_base;
            mj_base_push(plan, MJ_BASE_COPY, path, NULL, 0, 0644);
            continue;
        }
        cleanup_free char *text = mj_etc_text((mj_etc_file_t)f, &p);
        mj_base_push(plan, MJ_BASE_DATA, path, text, strlen(text), 0644);
    }
}

static bool is_mount_op(const mj_op_t *op)
{
    return op->dst[0] && (op->kind == MJ_OP_BIND || op->kind == MJ_OP_TMPFS || op->kind == MJ_OP_PROC ||
                          op->kind == MJ_OP_DEVPTS || op->kind == MJ_OP_OVERLAY);
}

/* Whether op i's target lies inside the mount of an earlier op (it is made there, not in base). */
static bool inside_earlier_mount(const mj_plan_t *plan, size_t i)
{
    for (size_t j = 0; j < i; j++) {
        if (!is_mount_op(&plan->ops[j]))
            continue;
        size_t n = strlen(plan->ops[j].dst);
        if (strncmp(plan->ops[i].dst, plan->ops[j].dst, n) == 0 && plan->ops[i].dst[n] == '/')
            return true;
    }
    return false;
}

static bool in_root_lowers(const mj_plan_t *plan, const char *rel)
{
    for (size_t k = 0; k < plan->root_lowers.n; k++) {
        cleanup_free char *p = mj_xasprintf("%s/%s", plan->root_lowers.v[k], rel);
        struct stat st;
        if (lstat(p, &st) == 0)
            return true;
    }
    return false;
}

/* The disk cap: limits.disk, but a cap that was not asked for is lowered to half the memory
 * limit (tmpfs pages are memory: filling one must end in ENOSPC, not an OOM kill).  0 = none. */
int mj_disk_check(const mj_config_t *cfg, mj_error_t **err)
{
    uint64_t mem = cfg->limits.memory_max;
    if (cfg->disk_required && mem && cfg->disk_limit > mem) {
        *err = mj_error_new(MJ_ERR_UNSUPPORTED, EINVAL,
                            "limits.disk (%llu bytes) is larger than limits.memory (%llu bytes): the sandbox's layer "
                            "and tmpfs are memory, so filling them would end in an OOM kill, not ENOSPC — lower "
                            "limits.disk or raise limits.memory",
                            (unsigned long long)cfg->disk_limit, (unsigned long long)mem);
        return -1;
    }
    return 0;
}

uint64_t mj_disk_lowered(const mj_config_t *cfg, mj_plan_t *plan, uint64_t size)
{
    uint64_t mem = cfg->limits.memory_max;
    if (!mem || cfg->disk_required || size <= mem / 2)
        return size;
    if (!plan->disk_lowered) {
        plan->disk_lowered = true;
        mj_strv_push_owned(&plan->warnings,
                           mj_xasprintf("limits.disk: lowered to %llu MiB, half of limits.memory, so that filling the "
                                        "sandbox's root or tmpfs ends in ENOSPC rather than an OOM kill",
                                        (unsigned long long)(mem / 2) >> 20));
    }
    return mem / 2;
}

/* The container layer's plan: the base holds every mount point and symlink the ops make on the
 * root (so none of them shows as a change of the root), its size follows the disk cap, and the
 * index names each copy-on-write layer for the host-side diff. */
void mj_layer_plan(const mj_config_t *cfg, mj_plan_t *plan)
{
    if (plan->host_root)
        add_etc(cfg, plan);
    for (size_t i = 0; i < plan->n_ops; i++) {
        const mj_op_t *op = &plan->ops[i];
        if (!op->dst[0] || op->kind == MJ_OP_MASK || op->kind == MJ_OP_READONLY || inside_earlier_mount(plan, i) ||
            mj_base_has(plan, op->dst) || in_root_lowers(plan, op->dst))
            continue;
        if (op->kind == MJ_OP_SYMLINK)
            mj_base_push(plan, MJ_BASE_LINK, op->dst, op->src, strlen(op->src), 0);
        else
            mj_base_push(plan, (op->flags & MJ_OPF_DIR) ? MJ_BASE_DIR : MJ_BASE_FILE, op->dst, NULL, 0, 0755);
    }
    if (plan->readonly_root) {
        uint64_t bytes = 1 << 20;
        for (size_t i = 0; i < plan->n_base; i++) {
            struct stat st;
            if (plan->base[i].kind == MJ_BASE_DATA)
                bytes += plan->base[i].len + 4096;
            else if (plan->base[i].kind == MJ_BASE_COPY && !plan->base[i].data)
                bytes += 4096; /* moonjail-net's resolv.conf, written later: a few lines */
            else if (plan->base[i].kind == MJ_BASE_COPY && stat(plan->base[i].data, &st) == 0)
                bytes += (uint64_t)st.st_size + 4096;
        }
        plan->layer_size = bytes;
    } else {
        plan->layer_size = mj_disk_lowered(cfg, plan, cfg->disk_limit ? cfg->disk_limit : MJ_LAYER_DEFAULT_SIZE);
        mj_strv_push(&plan->disk_paths, "/");
    }
    plan->layer_inodes = mj_tmpfs_inodes(plan->layer_size);
    plan->root_lower_fds = mj_xcalloc(plan->root_lowers.n ? plan->root_lowers.n : 1, sizeof(int));
    for (size_t k = 0; k < plan->root_lowers.n; k++)
        plan->root_lower_fds[k] = -1;
    mj_buf_t idx = {0};
    if (!plan->readonly_root) {
        cleanup_free char *line = mj_xasprintf("/\troot/upper\t@base");
        mj_buf_append(&idx, line, strlen(line));
        for (size_t k = 0; k < plan->root_lowers.n; k++) {
            mj_buf_append(&idx, "\t", 1);
            mj_buf_append(&idx, plan->root_lowers.v[k], strlen(plan->root_lowers.v[k]));
        }
        mj_buf_append(&idx, "\n", 1);
    }
    for (size_t i = 0; i < plan->n_ops; i++) {
        if (!(plan->ops[i].flags & MJ_OPF_LAYER))
            continue;
        cleanup_free char *line = mj_xasprintf("/%s\tlayers/%zu/upper\t%s\n", plan->ops[i].dst, i, plan->ops[i].src);
        mj_buf_append(&idx, line, strlen(line));
    }
    mj_buf_append(&idx, "", 1);
    plan->layer_index = idx.data;
}


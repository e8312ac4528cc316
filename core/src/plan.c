/* plan.c — turns a config and a command into a plain plan: the ordered mount operations, id maps,
 * limits, argv/envp.  Everything that parses, allocates or can fail for a user's reason happens
 * here, before clone; the child only executes the plan.  Never touches the sandbox itself. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "caps.h"
#include "config.h"
#include "error.h"
#include "layerplan.h"
#include "landlock.h"
#include "plan.h"
#include "seccomp.h"
#include "util.h"

#define MJ_DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define MJ_ID_RANGE 65536UL
#define MJ_ID_BASE 1000000UL /* host ids of root-started sandboxes: 1000000 + slot * 65536 */
#define MJ_ID_SLOTS 4096

static const char *const stage_names[MJ_STAGE__COUNT] = {
    [MJ_STAGE_NONE] = "none",
    [MJ_STAGE_SYNC] = "waiting for the host",
    [MJ_STAGE_SETID] = "switching to the mapped ids",
    [MJ_STAGE_HOSTNAME] = "setting the hostname",
    [MJ_STAGE_LOOPBACK] = "bringing up loopback",
    [MJ_STAGE_PRIVATE] = "making mounts private",
    [MJ_STAGE_OPEN_SOURCE] = "opening a mount source",
    [MJ_STAGE_ROOT_TMPFS] = "creating the root",
    [MJ_STAGE_MKPATH] = "creating a mount point",
    [MJ_STAGE_MOUNT] = "mounting",
    [MJ_STAGE_READONLY_ROOT] = "making the root read-only",
    [MJ_STAGE_PIVOT] = "pivoting into the root",
    [MJ_STAGE_FORK] = "starting the command",
    [MJ_STAGE_LANDLOCK] = "building the Landlock ruleset",
    [MJ_STAGE_SECCOMP] = "loading the seccomp filter",
    [MJ_STAGE_LAYER] = "building the root's layer",
};

const char *mj_stage_name(mj_stage_t stage)
{
    if ((unsigned)stage >= MJ_STAGE__COUNT || !stage_names[stage])
        return "unknown stage";
    return stage_names[stage];
}

static mj_op_t *push_op(mj_plan_t *plan, mj_op_kind_t kind, unsigned flags, const char *src, const char *dst)
{
    plan->ops = mj_xrealloc(plan->ops, (plan->n_ops + 1) * sizeof(*plan->ops));
    mj_op_t *op = &plan->ops[plan->n_ops++];
    memset(op, 0, sizeof(*op));
    op->kind = kind;
    op->flags = flags;
    op->src = src ? mj_xstrdup(src) : NULL;
    while (dst && *dst == '/')
        dst++;
    op->dst = mj_xstrdup(dst ? dst : "");
    op->src_fd = op->upper_fd = op->work_fd = -1;
    return op;
}

void mj_plan_free(mj_plan_t *plan)
{
    for (size_t i = 0; i < plan->n_ops; i++) {
        free(plan->ops[i].src);
        free(plan->ops[i].dst);
        free(plan->ops[i].upper);
        free(plan->ops[i].work);
        if (plan->ops[i].src_fd >= 0)
            close(plan->ops[i].src_fd);
        if (plan->ops[i].upper_fd >= 0)
            close(plan->ops[i].upper_fd);
        if (plan->ops[i].work_fd >= 0)
            close(plan->ops[i].work_fd);
    }
    free(plan->ops);
    free(plan->staging);
    free(plan->hostname);
    free(plan->net_config);
    free(plan->net_audit_log);
    free(plan->net_helper);
    if (plan->net_dir) { /* made for a helper that never started (netsetup.c): nothing else is in it */
        cleanup_free char *resolv = mj_xasprintf("%s/resolv.conf", plan->net_dir);
        cleanup_free char *ctl = mj_xasprintf("%s/ctl", plan->net_dir);
        unlink(resolv);
        unlink(ctl);
        rmdir(plan->net_dir);
        free(plan->net_dir);
    }
    mj_strv_free(&plan->dns_search);
    free(plan->uid_map);
    free(plan->gid_map);
    if (plan->id_slot_fd >= 0)
        close(plan->id_slot_fd);
    for (size_t i = 0; i < plan->n_cg_work_fds; i++)
        close(plan->cg_work_fds[i]);
    plan->n_cg_work_fds = 0;
    for (size_t i = 0; i < plan->n_cg_sup_fds; i++)
        close(plan->cg_sup_fds[i]);
    plan->n_cg_sup_fds = 0;
    mj_strv_free(&plan->argv);
    mj_strv_free(&plan->envp);
    free(plan->path_env);
    free(plan->exec_buf);
    free(plan->workdir);
    mj_strv_free(&plan->warnings);
    free(plan->seccomp);
    mj_strv_free(&plan->landlock_write);
    mj_strv_free(&plan->disk_paths);
    free(plan->lsm_attr_path);
    free(plan->lsm_attr_value);
    for (size_t i = 0; i < plan->n_base; i++) {
        free(plan->base[i].path);
        free(plan->base[i].data);
        if (plan->base[i].fd >= 0)
            close(plan->base[i].fd);
    }
    free(plan->base);
    for (size_t k = 0; plan->root_lower_fds && k < plan->root_lowers.n; k++)
        if (plan->root_lower_fds[k] >= 0)
            close(plan->root_lower_fds[k]);
    free(plan->root_lower_fds);
    mj_strv_free(&plan->root_lowers);
    free(plan->layer_index);
    if (plan->layer_fd >= 0)
        close(plan->layer_fd);
    if (plan->root_mnt_fd >= 0)
        close(plan->root_mnt_fd);
    if (plan->landlock_fd >= 0)
        close(plan->landlock_fd);
    if (plan->landlock_ro_fd >= 0)
        close(plan->landlock_ro_fd);
    memset(plan, 0, sizeof(*plan));
    plan->id_slot_fd = -1;
    plan->landlock_fd = plan->landlock_ro_fd = -1;
    plan->layer_fd = plan->root_mnt_fd = -1;
}

static int path_depth(const char *p)
{
    int n = 0;
    for (; *p; p++)
        if (*p == '/' && p[1] && p[1] != '/')
            n++;
    return n;
}

static int cmp_mount_depth(const void *a, const void *b)
{
    const mj_mount_spec_t *const *ma = a, *const *mb = b;
    int da = path_depth((*ma)->dst), db = path_depth((*mb)->dst);
    if (da != db)
        return da - db;
    return (*ma < *mb) ? -1 : (*ma > *mb);
}

/* The host paths of a "host" root: symlinks recreated, directories bound read-only (a read-only
 * root) or made copy-on-write layers (a writable one), files of /etc copied into the generated
 * /etc (those others may read: what the sandbox would see of them), other files bound read-only. */
static int add_host_paths(const mj_config_t *cfg, mj_plan_t *plan, mj_error_t **err)
{
    for (size_t i = 0; i < cfg->n_host_paths; i++) {
        const mj_host_path_t *hp = &cfg->host_paths[i];
        struct stat st;
        if (lstat(hp->path, &st) < 0) {
            if (errno == ENOENT && !hp->required)
                continue;
            *err = mj_error_sys(MJ_ERR_INVALID_CONFIG, errno, "host_paths: cannot use '%s'",
                                hp->path);
            return -1;
        }
        if (strpbrk(hp->path, "\t\n:,\\")) { /* the layer's index and overlayfs options hold them */
            *err = mj_error_new(MJ_ERR_INVALID_CONFIG, EINVAL,
                                "host_paths: '%s' holds a tab, newline, ':', ',' or '\\'", hp->path);
            return -1;
        }
        if (S_ISLNK(st.st_mode)) {
            char target[PATH_MAX];
            ssize_t n = readlink(hp->path, target, sizeof(target) - 1);
            if (n < 0) {
                *err = mj_error_new(MJ_ERR_INVALID_CONFIG, errno, "host_paths: cannot read link '%s'", hp->path);
                return -1;
            }
            target[n] = '\0';
            push_op(plan, MJ_OP_SYMLINK, 0, target, hp->path);
        } else if (S_ISDIR(st.st_mode)) {
            if (plan->readonly_root)
                push_op(plan, MJ_OP_BIND, MJ_OPF_RDONLY | MJ_OPF_DIR, hp->path, hp->path);
            else
                push_op(plan, MJ_OP_OVERLAY, MJ_OPF_LAYER | MJ_OPF_DIR, hp->path, hp->path);
        } else if (strncmp(hp->path, "/etc/", 5) == 0 && S_ISREG(st.st_mode)) {
            if (!(st.st_mode & S_IROTH)) {
                mj_strv_push_owned(&plan->warnings,
                                   mj_xasprintf("host_paths: %s is not readable by others on the host, so it is "
                                                "left out of the sandbox's /etc", hp->path));
                continue;
            }
            mj_base_push(plan, MJ_BASE_COPY, hp->path, hp->path, strlen(hp->path), st.st_mode & 07777);
        } else {
            push_op(plan, MJ_OP_BIND, MJ_OPF_RDONLY, hp->path, hp->path);
        }
    }
    return 0;
}

static int add_dev(mj_plan_t *plan, mj_error_t **err)
{
    mj_op_t *op = push_op(plan, MJ_OP_TMPFS, MJ_OPF_DIR | MJ_OPF_NOEXEC, NULL, "/dev"); /* nodev: the nodes are binds */
    op->mode = 0755;
    op->size = 1 << 20;
    op->inodes = mj_tmpfs_inodes(op->size);
    static const struct {
        const char *name;
        unsigned maj, min;
    } nodes[] = {{"null", 1, 3}, {"zero", 1, 5}, {"full", 1, 7}, {"random", 1, 8}, {"urandom", 1, 9}, {"tty", 5, 0}};
    for (size_t i = 0; i < MJ_ARRAY_LEN(nodes); i++) {
        char path[32];
        snprintf(path, sizeof(path), "/dev/%s", nodes[i].name);
        struct stat st;
        /* Only bind the genuine device: a host whose /dev/null is not 1:3 is refused. */
        if (stat(path, &st) < 0 || !S_ISCHR(st.st_mode) || major(st.st_rdev) != nodes[i].maj ||
            minor(st.st_rdev) != nodes[i].min) {
            *err = mj_error_new(MJ_ERR_SANDBOX_INIT_FAILED, ENODEV, "host %s is not the expected device", path);
            return -1;
        }
        push_op(plan, MJ_OP_BIND, MJ_OPF_NODEV_KEEP, path, path);
    }
    push_op(plan, MJ_OP_DEVPTS, MJ_OPF_DIR | MJ_OPF_NODEV_KEEP, NULL, "/dev/pts");
    push_op(plan, MJ_OP_SYMLINK, 0, "pts/ptmx", "/dev/ptmx");
    op = push_op(plan, MJ_OP_TMPFS, MJ_OPF_DIR | MJ_OPF_NOEXEC, NULL, "/dev/shm");
    op->mode = 01777;
    op->size = 64 << 20;
    op->inodes = mj_tmpfs_inodes(op->size);
    push_op(plan, MJ_OP_SYMLINK, 0, "/proc/self/fd", "/dev/fd");
    push_op(plan, MJ_OP_SYMLINK, 0, "/proc/self/fd/0", "/dev/stdin");
    push_op(plan, MJ_OP_SYMLINK, 0, "/proc/self/fd/1", "/dev/stdout");
    push_op(plan, MJ_OP_SYMLINK, 0, "/proc/self/fd/2", "/dev/stderr");
    return 0;
}

static int add_user_mounts(const mj_config_t *cfg, mj_plan_t *plan, mj_error_t **err)
{
    if (cfg->n_mounts == 0)
        return 0;
    const mj_mount_spec_t **sorted = mj_xcalloc(cfg->n_mounts, sizeof(*sorted));
    for (size_t i = 0; i < cfg->n_mounts; i++)
        sorted[i] = &cfg->mounts[i];
    qsort(sorted, cfg->n_mounts, sizeof(*sorted), cmp_mount_depth);
    int ret = 0;
    for (size_t i = 0; i < cfg->n_mounts; i++) {
        const mj_mount_spec_t *m = sorted[i];
        if (m->kind == MJ_MOUNT_TMPFS) {
            mj_op_t *op = push_op(plan, MJ_OP_TMPFS, MJ_OPF_DIR, NULL, m->dst);
            op->size = m->size ? m->size : mj_disk_lowered(cfg, plan, cfg->disk_limit ? cfg->disk_limit : MJ_TMPFS_DEFAULT_SIZE);
            op->inodes = mj_tmpfs_inodes(op->size);
            op->mode = m->mode ? m->mode : 01777;
            continue;
        }
        struct stat st;
        if (stat(m->src, &st) < 0) {
            *err = mj_error_new(MJ_ERR_INVALID_CONFIG, errno, "mounts: source '%s' %s", m->src,
                                errno == ENOENT ? "does not exist" : strerror(errno));
            ret = -1;
            break;
        }
        if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode)) {
            *err = mj_error_new(MJ_ERR_INVALID_CONFIG, EINVAL,
                                "mounts: source '%s' is neither a directory nor a regular file", m->src);
            ret = -1;
            break;
        }
        if (m->has_owner && plan->rootless && (m->owner_uid != plan->inner_uid || m->owner_gid != plan->inner_gid)) {
            *err = mj_error_new(MJ_ERR_UNSUPPORTED, EPERM,
                                "mounts: %s: owner %u:%u: a rootless sandbox maps only its own user (%u:%u); "
                                "run moonjail as root to give files another owner",
                                m->dst, (unsigned)m->owner_uid, (unsigned)m->owner_gid, (unsigned)plan->inner_uid,
                                (unsigned)plan->inner_gid);
            ret = -1;
            break;
        }
        mj_op_t *op;
        if (m->kind == MJ_MOUNT_COW) {
            if (!S_ISDIR(st.st_mode)) {
                *err = mj_error_new(MJ_ERR_INVALID_CONFIG, ENOTDIR, "mounts: cow source '%s' is not a directory",
                                    m->src);
                ret = -1;
                break;
            }
            op = push_op(plan, MJ_OP_OVERLAY, MJ_OPF_DIR, m->src, m->dst);
            op->upper = mj_xstrdup(m->upper);
            op->work = mj_xstrdup(m->work);
        } else {
            unsigned flags = (m->kind == MJ_MOUNT_RO ? MJ_OPF_RDONLY : 0) | (S_ISDIR(st.st_mode) ? MJ_OPF_DIR : 0);
            op = push_op(plan, MJ_OP_BIND, flags, m->src, m->dst);
        }
        op->has_owner = m->has_owner;
        op->owner_uid = m->owner_uid;
        op->owner_gid = m->owner_gid;
    }
    free(sorted);
    return ret;
}

static const char *pick_staging(void)
{
    static const char *const candidates[] = {"/tmp", "/mnt", "/run", "/var/tmp"};
    for (size_t i = 0; i < MJ_ARRAY_LEN(candidates); i++) {
        struct stat st;
        if (lstat(candidates[i], &st) == 0 && S_ISDIR(st.st_mode))
            return candidates[i];
    }
    return NULL;
}

/* Slot files: a flock on one of them, held for the sandbox's life, gives it a host id range. */
static bool take_slot(mj_plan_t *plan, int dfd, unsigned slot)
{
    char name[32];
    snprintf(name, sizeof(name), "%u", slot);
    cleanup_close int fd = openat(dfd, name, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0 || flock(fd, LOCK_EX | LOCK_NB) < 0)
        return false;
    plan->id_slot_fd = mj_steal_fd(&fd);
    plan->id_base = MJ_ID_BASE + slot * MJ_ID_RANGE;
    return true;
}

/* Root: hold a flock on one of MJ_ID_SLOTS slot files so concurrent sandboxes get disjoint host id
 * ranges (RLIMIT_NPROC and file ownership stay per sandbox).  A few random probes, first among the
 * lowest MJ_ID_SLOTS_HOT slots (so few files exist), then among all: with n sandboxes alive a probe
 * finds a free slot with probability 1 - n/slots, so the cost does not grow with n (a scan of
 * every slot did: one open and flock per live sandbox).  The lowest-first scan stays as the
 * fallback, so a free slot is always found. */
#define MJ_ID_SLOTS_HOT 1024
static int allocate_id_slot(mj_plan_t *plan, mj_error_t **err)
{
    const char *dir = "/run/moonjail/ids";
    cleanup_close int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
    if (dfd < 0 && errno == ENOENT && (mkdir("/run/moonjail", 0700) == 0 || errno == EEXIST) &&
        (mkdir(dir, 0700) == 0 || errno == EEXIST))
        dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
    if (dfd >= 0) {
        uint32_t r[8];
        if (getrandom(r, sizeof(r), GRND_NONBLOCK) == (ssize_t)sizeof(r))
            for (unsigned i = 0; i < MJ_ARRAY_LEN(r); i++)
                if (take_slot(plan, dfd, r[i] % (i < 4 ? MJ_ID_SLOTS_HOT : MJ_ID_SLOTS)))
                    return 0;
        for (unsigned slot = 0; slot < MJ_ID_SLOTS; slot++)
            if (take_slot(plan, dfd, slot))
                return 0;
        errno = EAGAIN;
    }
    *err = mj_error_sys(MJ_ERR_SANDBOX_INIT_FAILED, errno, "cannot allocate a host id range under /run/moonjail/ids");
    return -1;
}

static void read_proc_areas(mj_plan_t *plan)
{
    char buf[2048];
    int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    ssize_t n = mj_read_all(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return;
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    if (!p)
        return;
    /* Fields after "comm" start at field 3; arg_start..env_end are fields 48..51. */
    int field = 2;
    unsigned long long v[4] = {0};
    for (char *tok = strtok(p + 1, " "); tok; tok = strtok(NULL, " ")) {
        field++;
        if (field >= 48 && field <= 51)
            v[field - 48] = strtoull(tok, NULL, 10);
    }
    if (v[0] && v[1] > v[0] && v[2] && v[3] > v[2]) {
        plan->arg_start = (uintptr_t)v[0];
        plan->arg_end = (uintptr_t)v[1];
        plan->env_start = (uintptr_t)v[2];
        plan->env_end = (uintptr_t)v[3];
    }
}

const int mj_rlimit_resource[MJ_RLIMIT__COUNT] = {
    [MJ_RLIMIT_NOFILE] = RLIMIT_NOFILE, [MJ_RLIMIT_NPROC] = RLIMIT_NPROC, [MJ_RLIMIT_FSIZE] = RLIMIT_FSIZE,
    [MJ_RLIMIT_CORE] = RLIMIT_CORE,     [MJ_RLIMIT_CPU] = RLIMIT_CPU,     [MJ_RLIMIT_AS] = RLIMIT_AS,
    [MJ_RLIMIT_STACK] = RLIMIT_STACK,
};

static void set_rlimit(mj_plan_t *plan, mj_rlimit_t which, uint64_t value)
{
    rlim_t v = value == UINT64_MAX ? RLIM_INFINITY : (rlim_t)value;
    plan->rlimit_set[which] = true;
    plan->rlimits[which].rlim_cur = v;
    plan->rlimits[which].rlim_max = v;
}

static int build(const mj_config_t *cfg, const mj_command_t *cmd, mj_plan_t *plan, mj_error_t **err);

/* The helper's "dns-search NAME" lines, for the sandbox's resolv.conf (the helper ignores them). */
static void add_dns_search(mj_plan_t *plan)
{
    for (const char *p = plan->net_config; *p;) {
        const char *end = strchr(p, '\n');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (n > 11 && strncmp(p, "dns-search ", 11) == 0 && plan->dns_search.n < 6) {
            char *name = mj_xasprintf("%.*s", (int)(n - 11), p + 11);
            name[strcspn(name, " \t#")] = '\0';
            if (*name)
                mj_strv_push(&plan->dns_search, name);
            free(name);
        }
        p += n + (end ? 1 : 0);
    }
}

int mj_plan_build(const mj_config_t *cfg, const mj_command_t *cmd, mj_plan_t *plan, mj_error_t **err)
{
    memset(plan, 0, sizeof(*plan));
    plan->id_slot_fd = -1;
    plan->landlock_fd = plan->landlock_ro_fd = -1;
    plan->layer_fd = plan->root_mnt_fd = -1;
    plan->lease_fd = cfg->lease_fd;
    if (build(cfg, cmd, plan, err) < 0) {
        mj_plan_free(plan);
        return -1;
    }
    return 0;
}

static int build(const mj_config_t *cfg, const mj_command_t *cmd, mj_plan_t *plan, mj_error_t **err)
{
    plan->persistent = cmd == NULL;

    if (cmd && cmd->argv.n == 0) {
        *err = mj_error_new(MJ_ERR_INVALID_CONFIG, EINVAL, "command: empty command");
        return -1;
    }

    const char *staging = pick_staging();
    if (!staging) {
        *err = mj_error_new(MJ_ERR_SANDBOX_INIT_FAILED, ENOENT, "no directory to assemble the root on (/tmp)");
        return -1;
    }
    plan->staging = mj_xstrdup(staging);
    plan->host_root = cfg->root == NULL;
    plan->readonly_root = cfg->readonly_root;
    plan->hostname = mj_xstrdup(cfg->hostname ? cfg->hostname : "moonjail");
    plan->new_netns = cfg->network != MJ_NET_HOST;
    plan->net_mode = cfg->network;
    bool outbound = cfg->network == MJ_NET_OUTBOUND || cfg->network == MJ_NET_FILTERED;
    if (outbound || (cfg->network == MJ_NET_NONE && cfg->net_config)) { /* none: published ports only */
        plan->net_config = mj_xstrdup(cfg->net_config ? cfg->net_config : "");
        plan->net_audit_log = cfg->net_audit_log ? mj_xstrdup(cfg->net_audit_log) : NULL;
        add_dns_search(plan);
    }
    plan->limits = cfg->limits;
    plan->cleanup_delay = cfg->cleanup_delay;
    plan->lifetime = cfg->lifetime;

    /* ----- ids */
    plan->host_uid = geteuid();
    plan->host_gid = getegid();
    plan->rootless = plan->host_uid != 0;
    plan->inner_uid = cfg->uid;
    plan->inner_gid = cfg->gid;
    if (cmd && cmd->has_user) {
        plan->inner_uid = cmd->uid;
        plan->inner_gid = cmd->gid;
    }
    if (plan->rootless) {
        plan->init_uid = plan->inner_uid;
        plan->init_gid = plan->inner_gid;
        plan->uid_map = mj_xasprintf("%u %u 1\n", (unsigned)plan->inner_uid, (unsigned)plan->host_uid);
        plan->gid_map = mj_xasprintf("%u %u 1\n", (unsigned)plan->inner_gid, (unsigned)plan->host_gid);
    } else {
        if (allocate_id_slot(plan, err) < 0)
            return -1;
        plan->init_uid = 0;
        plan->init_gid = 0;
        plan->uid_map = mj_xasprintf("0 %lu %lu\n", plan->id_base, MJ_ID_RANGE);
        plan->gid_map = mj_xasprintf("0 %lu %lu\n", plan->id_base, MJ_ID_RANGE);
    }

    /* ----- file system */
    plan->layer = plan->host_root || !cfg->readonly_root;
    if (mj_disk_check(cfg, err) < 0)
        return -1;
    if (plan->host_root) {
        if (add_host_paths(cfg, plan, err) < 0)
            return -1;
    } else {
        struct stat st;
        if (stat(cfg->root, &st) < 0 || !S_ISDIR(st.st_mode)) {
            *err = mj_error_new(MJ_ERR_INVALID_CONFIG, errno ? errno : ENOTDIR,
                                "filesystem.root: '%s' is not a directory", cfg->root);
            return -1;
        }
        if (plan->layer && strpbrk(cfg->root, "\t\n:,\\")) {
            *err = mj_error_new(MJ_ERR_INVALID_CONFIG, EINVAL,
                                "filesystem.root: '%s' holds a tab, newline, ':', ',' or '\\'", cfg->root);
            return -1;
        }
        if (!plan->layer && cfg->root_layers.n) {
            *err = mj_error_new(MJ_ERR_UNSUPPORTED, EINVAL,
                                "a read-only root over an image's %zu layers is not supported yet",
                                cfg->root_layers.n + 1);
            return -1;
        }
        if (plan->layer) { /* a writable root: the directory (and an image's layers) its lowers */
            mj_strv_push(&plan->root_lowers, cfg->root);
            for (size_t k = 0; k < cfg->root_layers.n; k++)
                mj_strv_push(&plan->root_lowers, cfg->root_layers.v[k]);
        } else /* the root bind itself is op 0 with an empty destination */
            push_op(plan, MJ_OP_BIND, MJ_OPF_DIR, cfg->root, "");
    }
    mj_op_t *op = push_op(plan, MJ_OP_PROC, MJ_OPF_DIR, NULL, "/proc");
    (void)op;
    if (add_dev(plan, err) < 0)
        return -1;
    if (add_user_mounts(cfg, plan, err) < 0)
        return -1;
    /* The resolv.conf of moonjail-net (outbound, filtered), unless a C host set its own: a
     * "host" root's generated /etc takes it (layerplan.c) but where a host path brings the host's
     * on purpose; any other root gets it bound.  Its source is made by mj_netsetup_prepare. */
    plan->resolv_op = plan->resolv_base = SIZE_MAX;
    if (plan->net_config && plan->net_mode != MJ_NET_NONE && !(plan->host_root && cfg->resolv_conf)) {
        plan->net_resolv = true;
        if (!plan->host_root || mj_base_has(plan, "etc/resolv.conf")) {
            plan->resolv_op = plan->n_ops;
            push_op(plan, MJ_OP_BIND, MJ_OPF_RDONLY, NULL, "/etc/resolv.conf");
        }
    }
    for (size_t i = 0; i < cfg->masked.n; i++)
        push_op(plan, MJ_OP_MASK, 0, NULL, cfg->masked.v[i]);
    for (size_t i = 0; i < cfg->readonly.n; i++)
        push_op(plan, MJ_OP_READONLY, 0, NULL, cfg->readonly.v[i]);
    if (plan->layer)
        mj_layer_plan(cfg, plan);

    /* ----- limits */
    set_rlimit(plan, MJ_RLIMIT_CORE, 0);
    for (int i = 0; i < MJ_RLIMIT__COUNT; i++)
        if (cfg->rlimit_set[i])
            set_rlimit(plan, (mj_rlimit_t)i, cfg->rlimit[i]);
    for (size_t i = 0; i < cfg->n_mounts; i++)
        if (cfg->mounts[i].kind == MJ_MOUNT_TMPFS)
            mj_strv_push(&plan->disk_paths, cfg->mounts[i].dst);
    if (cfg->apparmor) {
        /* The per-LSM file (5.8+) where it exists, the shared one otherwise. */
        plan->lsm_attr_path = mj_xstrdup(access("/proc/self/attr/apparmor/exec", F_OK) == 0
                                             ? "/proc/self/attr/apparmor/exec"
                                             : "/proc/self/attr/exec");
        plan->lsm_attr_value = mj_xasprintf("exec %s", cfg->apparmor);
    } else if (cfg->selinux) {
        plan->lsm_attr_path = mj_xstrdup("/proc/self/attr/exec");
        plan->lsm_attr_value = mj_xstrdup(cfg->selinux);
    }
    /* CPU time: SIGXCPU at the limit, SIGKILL a second later if it is caught or ignored. */
    if (plan->rlimit_set[MJ_RLIMIT_CPU] && plan->rlimits[MJ_RLIMIT_CPU].rlim_cur != RLIM_INFINITY) {
        plan->rlimits[MJ_RLIMIT_CPU].rlim_max = plan->rlimits[MJ_RLIMIT_CPU].rlim_cur + 1;
        plan->cpu_time_limit = (double)plan->rlimits[MJ_RLIMIT_CPU].rlim_cur;
    }
    /* A process can lower its hard limits but never raise them, not even as root inside a user
     * namespace: a limit above the caller's own hard limit is clamped to it (stricter, never
     * looser) and reported, so a default like nproc=4096 still runs on a host capped lower. */
    static const char *const rlimit_names[MJ_RLIMIT__COUNT] = {
        [MJ_RLIMIT_NOFILE] = "nofile", [MJ_RLIMIT_NPROC] = "nproc", [MJ_RLIMIT_FSIZE] = "fsize",
        [MJ_RLIMIT_CORE] = "core",     [MJ_RLIMIT_CPU] = "cpu",     [MJ_RLIMIT_AS] = "as",
        [MJ_RLIMIT_STACK] = "stack",
    };
    for (int i = 0; i < MJ_RLIMIT__COUNT; i++) {
        struct rlimit host;
        if (!plan->rlimit_set[i] || getrlimit(mj_rlimit_resource[i], &host) < 0 || host.rlim_max == RLIM_INFINITY)
            continue;
        struct rlimit *want = &plan->rlimits[i];
        if (want->rlim_max == RLIM_INFINITY || want->rlim_max > host.rlim_max) {
            char asked[32];
            if (want->rlim_max == RLIM_INFINITY)
                snprintf(asked, sizeof(asked), "unlimited");
            else
                snprintf(asked, sizeof(asked), "%llu", (unsigned long long)want->rlim_max);
            char *w = mj_xasprintf("limits.%s: %s is above the caller's hard limit, lowered to %llu", rlimit_names[i],
                                   asked, (unsigned long long)host.rlim_max);
            mj_strv_push(&plan->warnings, w);
            free(w);
            want->rlim_max = host.rlim_max;
            if (want->rlim_cur == RLIM_INFINITY || want->rlim_cur > host.rlim_max)
                want->rlim_cur = host.rlim_max;
            if (i == MJ_RLIMIT_CPU && plan->cpu_time_limit > (double)want->rlim_cur)
                plan->cpu_time_limit = (double)want->rlim_cur;
        }
    }
    plan->caps_keep = cfg->caps_keep;
    plan->last_cap = mj_caps_last_cap();
    if (mj_seccomp_compile(cfg, plan, err) < 0)
        return -1;
    bool tcp = cfg->landlock_tcp.bind_restricted || cfg->landlock_tcp.connect_restricted;
    if (tcp && cfg->landlock_mode == MJ_LANDLOCK_OFF) {
        *err = mj_error_new(MJ_ERR_INVALID_CONFIG, EINVAL,
                            "landlock: TCP port rules need Landlock on (true or \"best_effort\"), not off");
        return -1;
    }
    if (tcp) {
        int abi = mj_landlock_abi();
        plan->landlock_tcp = cfg->landlock_tcp;
        plan->landlock_tcp_ok = abi >= 4;
        if (abi < 4 && cfg->landlock_mode == MJ_LANDLOCK_REQUIRED) {
            *err = mj_error_new(MJ_ERR_UNSUPPORTED, ENOTSUP,
                                "landlock: TCP port rules need Landlock ABI 4 (Linux 6.7); this kernel has ABI %d — "
                                "use a newer kernel, drop tcp_bind/tcp_connect, or set landlock to \"best_effort\"",
                                abi);
            return -1;
        }
        if (abi < 4)
            mj_strv_push_owned(&plan->warnings,
                               mj_xasprintf("landlock: TCP port rules not applied: this kernel has ABI %d, they "
                                            "need 4 (Linux 6.7) (best effort)", abi));
    }
    if (cfg->landlock_mode != MJ_LANDLOCK_OFF) {
        plan->landlock_abi = mj_landlock_abi();
        plan->landlock_required = cfg->landlock_mode == MJ_LANDLOCK_REQUIRED;
        if (plan->landlock_abi == 0) {
            if (plan->landlock_required) {
                *err = mj_error_new(MJ_ERR_UNSUPPORTED, ENOSYS,
                                    "landlock: this kernel has no Landlock (needs 5.13+ with 'landlock' in the LSM "
                                    "list); set landlock = \"best_effort\" to run without it");
                return -1;
            }
            mj_strv_push(&plan->warnings, "landlock: not available on this kernel, not applied (best effort)");
        } else if (plan->landlock_abi == 1 && !plan->landlock_required) {
            /* ABI 1 lacks REFER: renames across directories fail under it.  Only when insisted on. */
            plan->landlock_abi = 0;
            mj_strv_push(&plan->warnings, "landlock: this kernel has ABI 1 (no cross-directory renames), not "
                                          "applied as best effort; set landlock = true to insist");
        } else if (cfg->landlock_write.n) {
            mj_strv_copy(&plan->landlock_write, &cfg->landlock_write);
        } else {
            for (size_t i = 0; i < cfg->n_mounts; i++)
                if (cfg->mounts[i].kind != MJ_MOUNT_RO)
                    mj_strv_push(&plan->landlock_write, cfg->mounts[i].dst);
            mj_strv_push(&plan->landlock_write, "/dev/shm");
            if (!cfg->readonly_root)
                mj_strv_push(&plan->landlock_write, "/");
        }
    }

    /* ----- command (none for a persistent sandbox: its commands come later) */
    mj_strv_copy(&plan->envp, &cfg->env);
    if (cmd) {
        mj_strv_copy(&plan->argv, &cmd->argv);
        mj_env_overlay(&plan->envp, &cmd->env);
        plan->tty = cmd->tty;
        struct winsize ws;
        if (cmd->tty && ioctl(cmd->stdin_fd, TIOCGWINSZ, &ws) == 0) {
            plan->tty_rows = ws.ws_row;
            plan->tty_cols = ws.ws_col;
        }
    }
    const char *path = mj_env_lookup(&plan->envp, "PATH");
    plan->path_env = mj_xstrdup(path ? path : MJ_DEFAULT_PATH);
    plan->exec_buf = mj_xmalloc(PATH_MAX);
    plan->workdir = mj_xstrdup(cmd && cmd->workdir ? cmd->workdir : cfg->workdir ? cfg->workdir : "/");
    read_proc_areas(plan);
    return 0;
}

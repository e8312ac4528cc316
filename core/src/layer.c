/* layer.c — the container layer: a tmpfs of the sandbox's own (capped by limits.disk: size and
 * nr_inodes) that holds
 *   base/         the root's topmost lower: mount points, the host root's symlinks, the generated
 *                 /etc and its copies of host files (plan->base)
 *   root/{upper,work}      the root overlay's upper (a writable root)
 *   layers/N/{upper,work}  the upper of op N, a host directory made copy-on-write (MJ_OPF_LAYER)
 *   lowers/N, lowers/rK    idmapped lowers, attached here when moonjail runs as root
 *   index         what the host-side diff reads: one line per layer, "DST\tUPPER\tLOWER…"
 * and builds the root and the layers' overlays from it.  Nothing a sandbox writes reaches a host
 * directory: every write lands in this tmpfs.  An image root is the same overlay with the
 * image's layers as root lowers.
 * Runs after clone, in the sandbox's own user and mount namespaces: system calls only, no
 * allocation.  Started as root, the host has opened the lowers already, idmapped (idmap.c).  Never: follows a symlink while creating the base, writes a lower,
 * or leaves the layer reachable from inside the sandbox (only the root's and the layers' overlays
 * are; the supervisor keeps an fd of it for the host). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include "layer.h"
#include "mountapi.h"
#include "plan.h"
#include "util.h"

typedef struct {
    int t;          /* the layer's root */
    bool idmapped;  /* lowers are idmapped trees from the host, attached in lowers/ */
} builder_t;

/* "/proc/self/fd/N" into buf (at least 32 bytes). */
static const char *fd_path(char *buf, int fd)
{
    static const char prefix[] = "/proc/self/fd/";
    char num[16];
    const char *n = mj_fmt_num(num, sizeof(num), (uint64_t)fd, 0);
    memcpy(buf, prefix, sizeof(prefix) - 1);
    memcpy(buf + sizeof(prefix) - 1, n, strlen(n) + 1);
    return buf;
}

/* mkdirat (the builder runs with umask 0: modes are exact); an existing directory is fine. */
static int make_dir(int dfd, const char *name, unsigned mode)
{
    return mkdirat(dfd, name, mode) < 0 && errno != EEXIST ? -1 : 0;
}

/* Opens the directory rel[0..len) under dfd (O_PATH), creating missing components (0755); never
 * follows a symlink. */
static int open_dirs(int dfd, const char *rel, size_t len)
{
    char comp[NAME_MAX + 1];
    int cur = fcntl(dfd, F_DUPFD_CLOEXEC, 3);
    size_t i = 0;
    while (cur >= 0 && i < len) {
        while (i < len && rel[i] == '/')
            i++;
        size_t s = i;
        while (i < len && rel[i] != '/')
            i++;
        size_t n = i - s;
        if (n == 0)
            break;
        int next = -1;
        if (n > NAME_MAX) {
            errno = ENAMETOOLONG;
        } else {
            memcpy(comp, rel + s, n);
            comp[n] = '\0';
            if (make_dir(cur, comp, 0755) == 0)
                next = openat(cur, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        }
        int e = errno;
        close(cur);
        errno = e;
        cur = next;
    }
    return cur;
}

static int write_all_fd(int fd, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, data, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

/* A copy of a host regular file; one that cannot be opened is left out (plan.c took only files
 * others may read).  A file the host opened for us (e->fd: moonjail-net's resolv.conf, which
 * lives where the sandbox's ids may not look) must be copied: it is consumed here. */
static int copy_host_file(int dir, const char *name, mj_base_entry_t *e)
{
    int in = e->fd >= 0 ? mj_steal_fd(&e->fd) : open(e->data, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (in < 0)
        return 0;
    struct stat st;
    int out = -1, r = -1;
    off_t off = 0; /* explicit: an fd from the host shares its offset with the host's */
    if (fstat(in, &st) == 0 && S_ISREG(st.st_mode)) {
        out = openat(dir, name, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, e->mode & 07777);
        r = out < 0 ? -1 : 0;
        for (off_t left = st.st_size; r == 0 && left > 0;) {
            ssize_t n = sendfile(out, in, &off, (size_t)(left > (1 << 30) ? (1 << 30) : left));
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                break; /* shrank meanwhile: what there is */
            left -= n;
        }
    } else {
        r = 0; /* no longer a regular file: left out */
    }
    int en = errno;
    close(in);
    if (out >= 0)
        close(out);
    errno = en;
    return r;
}

static int make_entry(int base, mj_base_entry_t *e)
{
    const char *slash = strrchr(e->path, '/');
    const char *name = slash ? slash + 1 : e->path;
    int dir = open_dirs(base, e->path, slash ? (size_t)(slash - e->path) : 0);
    if (dir < 0)
        return -1;
    int r = 0;
    switch (e->kind) {
    case MJ_BASE_DIR:
        r = make_dir(dir, name, e->mode ? e->mode : 0755);
        break;
    case MJ_BASE_FILE: {
        int fd = openat(dir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (fd >= 0)
            close(fd);
        else if (errno != EEXIST)
            r = -1;
        break;
    }
    case MJ_BASE_LINK:
        if (symlinkat(e->data, dir, name) < 0 && errno != EEXIST)
            r = -1;
        break;
    case MJ_BASE_DATA: {
        int fd = openat(dir, name, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, e->mode & 07777);
        r = fd < 0 || write_all_fd(fd, e->data, e->len) < 0 ? -1 : 0;
        int en = errno;
        if (fd >= 0)
            close(fd);
        errno = en;
        break;
    }
    case MJ_BASE_COPY:
        r = copy_host_file(dir, name, e);
        break;
    }
    int en = errno;
    close(dir);
    errno = en;
    return r;
}

/* Opens a lower still in view (an idmapped one came open from the host). */
static int open_lower(const char *path)
{
    return open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
}

/* Idmapped lowers are attached at lowers/NAME (overlayfs clones a lower only from the mounter's
 * own namespace): *fd becomes the attached directory. */
static int place_lower(const builder_t *b, int *fd, const char *name)
{
    if (!b->idmapped)
        return 0;
    char rel[40] = "lowers/";
    memcpy(rel + 7, name, strlen(name) + 1);
    if (make_dir(b->t, rel, 0700) < 0)
        return -1;
    int at = openat(b->t, rel, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (at < 0 || mj_attach(*fd, at) < 0) {
        int e = errno;
        if (at >= 0)
            close(at);
        errno = e;
        return -1;
    }
    close(at);
    close(*fd);
    *fd = openat(b->t, rel, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    return *fd < 0 ? -1 : 0;
}

/* upper and work directories of a layer under dir (rel, e.g. "layers/7"), the upper's top with
 * the lower's permissions (its attributes are the merged directory's); their fds. */
static int make_upper(const builder_t *b, const char *rel, int lower, int *upper, int *work)
{
    struct stat st;
    if (fstat(lower, &st) < 0)
        return -1;
    int dir = open_dirs(b->t, rel, strlen(rel));
    if (dir < 0)
        return -1;
    int r = make_dir(dir, "upper", st.st_mode & 07777);
    if (r == 0 && b->idmapped) /* the lower's owner as the idmapped lower shows it */
        r = fchownat(dir, "upper", st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW);
    if (r == 0)
        r = make_dir(dir, "work", 0700);
    if (r == 0) {
        *upper = openat(dir, "upper", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        *work = openat(dir, "work", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        r = *upper < 0 || *work < 0 ? -1 : 0;
    }
    int e = errno;
    close(dir);
    errno = e;
    return r;
}

/* An overlay of lowerdir (a ':'-list of /proc/self/fd paths) with upper and work; closes upper
 * and work. */
static int make_overlay(const char *lowerdir, int upper, int work)
{
    char u[32], w[32];
    const char *kv[] = {"lowerdir", lowerdir, "upperdir", fd_path(u, upper), "workdir", fd_path(w, work),
                        "userxattr", NULL, NULL};
    int mnt = mj_make_fs("overlay", kv, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV);
    int e = errno;
    close(upper);
    close(work);
    errno = e;
    return mnt;
}

/* Appends ":" (unless first) and fd's magic path to buf (size len); -1 ENAMETOOLONG. */
static int add_lower(char *buf, size_t len, int fd)
{
    char p[32];
    size_t at = strlen(buf), n = strlen(fd_path(p, fd));
    if (at + n + 2 > len) {
        errno = ENAMETOOLONG;
        return -1;
    }
    if (at)
        buf[at++] = ':';
    memcpy(buf + at, p, n + 1);
    return 0;
}

static int build(builder_t *b, mj_plan_t *plan, int *op_index)
{
    /* The lowers, while the host tree is in view (the layer is about to cover plan->staging). */
    for (size_t i = 0; i < plan->n_ops; i++) {
        mj_op_t *op = &plan->ops[i];
        if (!(op->flags & MJ_OPF_LAYER) || op->src_fd >= 0)
            continue;
        *op_index = (int)i;
        if ((op->src_fd = open_lower(op->src)) < 0)
            return -1;
    }
    *op_index = -1;
    for (size_t k = 0; k < plan->root_lowers.n; k++)
        if (plan->root_lower_fds[k] < 0 && (plan->root_lower_fds[k] = open_lower(plan->root_lowers.v[k])) < 0)
            return -1;

    int mnt = mj_make_tmpfs(plan->layer_size, plan->layer_inodes, 0755, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV);
    if (mnt < 0)
        return -1;
    int staging = open(plan->staging, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    int r = staging < 0 ? -1 : mj_attach(mnt, staging);
    int e = errno;
    close(mnt);
    if (staging >= 0)
        close(staging);
    errno = e;
    if (r < 0 || (b->t = open(plan->staging, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
        return -1;
    if (make_dir(b->t, "base", 0755) < 0 || make_dir(b->t, "layers", 0700) < 0 || make_dir(b->t, "lowers", 0700) < 0)
        return -1;
    cleanup_close int base = openat(b->t, "base", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (base < 0)
        return -1;
    for (size_t i = 0; i < plan->n_base; i++)
        if (make_entry(base, &plan->base[i]) < 0)
            return -1;
    if (plan->layer_index) {
        cleanup_close int fd = openat(b->t, "index", O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0 || write_all_fd(fd, plan->layer_index, strlen(plan->layer_index)) < 0)
            return -1;
    }

    /* The root: an overlay of base and the root lowers, or base itself (read-only). */
    if (plan->readonly_root) {
        plan->root_mnt_fd = mj_open_tree(base, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH);
        if (plan->root_mnt_fd < 0 ||
            mj_mount_setattr(plan->root_mnt_fd, "", AT_EMPTY_PATH, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, 0, -1) < 0)
            return -1;
    } else {
        char lowerdir[4096] = "";
        if (add_lower(lowerdir, sizeof(lowerdir), base) < 0)
            return -1;
        for (size_t k = 0; k < plan->root_lowers.n; k++) {
            char num[16], name[20] = "r";
            const char *n = mj_fmt_num(num, sizeof(num), (uint64_t)k, 0);
            memcpy(name + 1, n, strlen(n) + 1);
            if (place_lower(b, &plan->root_lower_fds[k], name) < 0 ||
                add_lower(lowerdir, sizeof(lowerdir), plan->root_lower_fds[k]) < 0)
                return -1;
        }
        int upper, work;
        if (make_upper(b, "root", plan->root_lower_fds && plan->root_lowers.n ? plan->root_lower_fds[0] : base, &upper,
                       &work) < 0)
            return -1;
        if ((plan->root_mnt_fd = make_overlay(lowerdir, upper, work)) < 0)
            return -1;
    }

    /* The copy-on-write layers of host directories. */
    for (size_t i = 0; i < plan->n_ops; i++) {
        mj_op_t *op = &plan->ops[i];
        if (!(op->flags & MJ_OPF_LAYER) || (op->flags & MJ_OPF_PREPARED))
            continue;
        *op_index = (int)i;
        char num[16], rel[32] = "layers/";
        const char *n = mj_fmt_num(num, sizeof(num), (uint64_t)i, 0);
        memcpy(rel + 7, n, strlen(n) + 1);
        char lowerdir[32];
        int upper, work;
        if (place_lower(b, &op->src_fd, n) < 0 || make_upper(b, rel, op->src_fd, &upper, &work) < 0)
            return -1;
        fd_path(lowerdir, op->src_fd);
        int ov = make_overlay(lowerdir, upper, work);
        if (ov < 0)
            return -1;
        close(op->src_fd);
        op->src_fd = ov;
        op->flags |= MJ_OPF_PREPARED;
    }
    *op_index = -1;
    plan->layer_fd = mj_steal_fd(&b->t);
    return 0;
}

int mj_layer_build(mj_plan_t *plan, int *op_index)
{
    builder_t b = {.t = -1, .idmapped = plan->layer_idmapped};
    *op_index = -1;
    mode_t mask = umask(0); /* modes exactly as planned */
    int r = build(&b, plan, op_index);
    int e = errno;
    umask(mask);
    if (b.t >= 0)
        close(b.t);
    for (size_t k = 0; plan->root_lower_fds && k < plan->root_lowers.n; k++)
        if (plan->root_lower_fds[k] >= 0) {
            close(plan->root_lower_fds[k]);
            plan->root_lower_fds[k] = -1;
        }
    errno = e;
    return r;
}

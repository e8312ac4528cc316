/* rootfs.c — assembles the sandbox's root file system in the cloned child and pivots into it.
 * Owns: attaching the new root (the container layer's, layer.c, or a bind of a read-only rootfs
 * dir), every mount the plan lists, masks, read-only remounts, pivot_root.  Runs after clone: system calls on the prepared plan only —
 * no allocation, no parsing.  Mount targets are resolved component by component under the new
 * root without following symlinks, and mounts are attached through fds (open_tree/fsmount +
 * move_mount), so nothing planted in a bound directory can redirect a mount. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>

#include "layer.h"
#include "mountapi.h"
#include "plan.h"
#include "rootfs.h"
#include "trace.h"
#include "util.h"

static int sys_pivot_root(const char *new_root, const char *put_old)
{
    return (int)syscall(SYS_pivot_root, new_root, put_old);
}

/* Opens (creating when missing) the path rel under root_fd, one component at a time, refusing
 * symlinks.  The last component is a directory when dir is set, else a regular file.
 * create=false only opens.  Returns an O_PATH fd. */
static int open_target(int root_fd, const char *rel, bool dir, bool create)
{
    char comp[NAME_MAX + 1];
    int cur = fcntl(root_fd, F_DUPFD_CLOEXEC, 3);
    if (cur < 0)
        return -1;
    const char *p = rel;
    while (*p == '/')
        p++;
    if (!*p)
        return cur; /* the root itself */
    while (*p) {
        const char *start = p;
        while (*p && *p != '/')
            p++;
        size_t n = (size_t)(p - start);
        while (*p == '/')
            p++;
        bool last = *p == '\0';
        if (n > NAME_MAX) {
            close(cur);
            errno = ENAMETOOLONG;
            return -1;
        }
        memcpy(comp, start, n);
        comp[n] = '\0';
        if ((n == 1 && comp[0] == '.') || (n == 2 && comp[0] == '.' && comp[1] == '.')) {
            close(cur);
            errno = EINVAL;
            return -1;
        }
        int next;
        if (!last || dir) {
            next = openat(cur, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (next < 0 && errno == ENOENT && create) {
                if (mkdirat(cur, comp, 0755) < 0 && errno != EEXIST) {
                    close(cur);
                    return -1;
                }
                next = openat(cur, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            }
        } else {
            next = openat(cur, comp, O_PATH | O_NOFOLLOW | O_CLOEXEC);
            if (next < 0 && errno == ENOENT && create) {
                int f = openat(cur, comp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
                if (f < 0 && errno != EEXIST) {
                    close(cur);
                    return -1;
                }
                if (f >= 0)
                    close(f);
                next = openat(cur, comp, O_PATH | O_NOFOLLOW | O_CLOEXEC);
            }
            if (next >= 0) {
                struct stat st;
                if (fstat(next, &st) < 0 || S_ISLNK(st.st_mode) || S_ISDIR(st.st_mode)) {
                    close(next);
                    next = -1;
                    errno = S_ISDIR(st.st_mode) ? EISDIR : ELOOP;
                }
            }
        }
        int e = errno;
        close(cur);
        if (next < 0) {
            errno = e == ENOTDIR ? ELOOP : e;
            return -1;
        }
        cur = next;
    }
    return cur;
}

static int attach(int mnt_fd, int target_fd)
{
    return mj_attach(mnt_fd, target_fd);
}

static int do_symlink(int root_fd, const mj_op_t *op)
{
    /* Split dst into parent and name; create the parent under the root safely. */
    const char *slash = strrchr(op->dst, '/');
    char parent[PATH_MAX];
    const char *name = op->dst;
    parent[0] = '\0';
    if (slash) {
        size_t n = (size_t)(slash - op->dst);
        if (n >= sizeof(parent)) {
            errno = ENAMETOOLONG;
            return -1;
        }
        memcpy(parent, op->dst, n);
        parent[n] = '\0';
        name = slash + 1;
    }
    int dfd = open_target(root_fd, parent, true, true);
    if (dfd < 0)
        return -1;
    int r = symlinkat(op->src, dfd, name);
    int e = errno;
    close(dfd);
    if (r < 0 && e == EEXIST)
        return 0;
    errno = e;
    return r;
}

static int do_mask(int root_fd, const mj_op_t *op, int devnull_fd)
{
    cleanup_close int target = open_target(root_fd, op->dst, false, false);
    bool is_dir = false;
    if (target < 0 && errno == EISDIR) {
        target = open_target(root_fd, op->dst, true, false);
        is_dir = true;
    }
    if (target < 0)
        return errno == ENOENT ? 0 : -1; /* nothing to hide */
    cleanup_close int mnt = -1;
    if (is_dir) {
        mnt = mj_make_tmpfs(4096, 2, 0555, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC);
    } else {
        /* Mask with our own /dev/null, verified through the fd (CVE-2025-31133). */
        struct stat st;
        if (devnull_fd < 0 || fstat(devnull_fd, &st) < 0 || !S_ISCHR(st.st_mode) || st.st_rdev != makedev(1, 3)) {
            errno = ENODEV;
            return -1;
        }
        mnt = mj_open_tree(devnull_fd, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH);
        if (mnt >= 0 &&
            mj_mount_setattr(mnt, "", AT_EMPTY_PATH, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC, 0, -1) < 0)
            return -1;
    }
    return mnt < 0 ? -1 : attach(mnt, target); /* mnt, then target, closed on the way out (errno kept) */
}

static int do_readonly(int root_fd, const mj_op_t *op)
{
    cleanup_close int target = open_target(root_fd, op->dst, true, false);
    if (target < 0 && (errno == ENOTDIR || errno == ELOOP))
        target = open_target(root_fd, op->dst, false, false);
    if (target < 0)
        return errno == ENOENT ? 0 : -1;
    cleanup_close int mnt = mj_open_tree(target, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE | AT_EMPTY_PATH);
    if (mnt < 0 || mj_mount_setattr(mnt, "", AT_EMPTY_PATH | AT_RECURSIVE,
                                     MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, 0, -1) != 0)
        return -1;
    return attach(mnt, target);
}

static int do_mount_op(int root_fd, mj_op_t *op, int *devnull_fd)
{
    unsigned base = MOUNT_ATTR_NOSUID | ((op->flags & MJ_OPF_NODEV_KEEP) ? 0 : MOUNT_ATTR_NODEV) |
                    ((op->flags & MJ_OPF_NOEXEC) ? MOUNT_ATTR_NOEXEC : 0);
    cleanup_close int mnt = -1;
    switch (op->kind) {
    case MJ_OP_BIND:
        if (op->src_fd < 0)
            return 0; /* optional and missing */
        mnt = mj_steal_fd(&op->src_fd);
        if (mj_mount_setattr(mnt, "", AT_EMPTY_PATH | AT_RECURSIVE,
                              base | ((op->flags & MJ_OPF_RDONLY) ? MOUNT_ATTR_RDONLY : 0), 0, -1) < 0)
            return -1;
        break;
    case MJ_OP_TMPFS:
        mnt = mj_make_tmpfs(op->size, op->inodes, op->mode, base);
        break;
    case MJ_OP_PROC: {
        /* A persistent sandbox's /proc comes made, by its workload namespace's init (reaper.c). */
        mnt = op->src_fd >= 0 ? mj_steal_fd(&op->src_fd)
                              : mj_make_fs("proc", NULL, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC);
        break;
    }
    case MJ_OP_DEVPTS: {
        const char *kv[] = {"newinstance", NULL, "ptmxmode", "0666", "mode", "0620", NULL};
        mnt = mj_make_fs("devpts", kv, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC);
        break;
    }
    case MJ_OP_OVERLAY: {
        if (op->flags & MJ_OPF_PREPARED) { /* mounted by moonjail as root (idmap.c) */
            mnt = mj_steal_fd(&op->src_fd);
            if (mj_mount_setattr(mnt, "", AT_EMPTY_PATH, base, 0, -1) < 0)
                return -1;
            break;
        }
        /* The layers were opened while the host tree was in view (the new root now covers it);
         * overlayfs takes them by their magic links. */
        char lower[32], upper[32], work[32];
        snprintf(lower, sizeof(lower), "/proc/self/fd/%d", op->src_fd);
        snprintf(upper, sizeof(upper), "/proc/self/fd/%d", op->upper_fd);
        snprintf(work, sizeof(work), "/proc/self/fd/%d", op->work_fd);
        /* userxattr: the mounter is root of a user namespace, never of the host. */
        const char *kv[] = {"lowerdir", lower, "upperdir", upper, "workdir", work, "userxattr", NULL, NULL};
        mnt = mj_make_fs("overlay", kv, base);
        int e = errno;
        close(mj_steal_fd(&op->src_fd));
        close(mj_steal_fd(&op->upper_fd));
        close(mj_steal_fd(&op->work_fd));
        errno = e;
        break;
    }
    case MJ_OP_SYMLINK:
        return do_symlink(root_fd, op);
    case MJ_OP_MASK:
        return do_mask(root_fd, op, *devnull_fd);
    case MJ_OP_READONLY:
        return do_readonly(root_fd, op);
    }
    if (mnt < 0)
        return -1;
    cleanup_close int target = open_target(root_fd, op->dst, (op->flags & MJ_OPF_DIR) != 0, true);
    if (target < 0)
        return -1;
    int r = attach(mnt, target);
    int e = errno;
    if (r == 0 && op->kind == MJ_OP_BIND && strcmp(op->dst, "dev/null") == 0 && *devnull_fd < 0)
        *devnull_fd = openat(root_fd, "dev/null", O_PATH | O_NOFOLLOW | O_CLOEXEC);
    errno = e;
    return r; /* target, then mnt, closed on the way out (errno kept) */
}

int mj_rootfs_setup(mj_plan_t *plan, mj_stage_t *stage, int *op_index)
{
    *op_index = -1;
    *stage = MJ_STAGE_PRIVATE;
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
        return -1;

    /* Take detached copies of every source while the host tree is still in view (the layers of
     * the container layer are opened by the layer's builder). */
    *stage = MJ_STAGE_OPEN_SOURCE;
    for (size_t i = 0; i < plan->n_ops; i++) {
        mj_op_t *op = &plan->ops[i];
        if (op->kind == MJ_OP_OVERLAY && !(op->flags & (MJ_OPF_PREPARED | MJ_OPF_LAYER))) {
            *op_index = (int)i;
            op->src_fd = open(op->src, O_PATH | O_DIRECTORY | O_CLOEXEC);
            op->upper_fd = open(op->upper, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            op->work_fd = open(op->work, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (op->src_fd < 0 || op->upper_fd < 0 || op->work_fd < 0)
                return -1;
            continue;
        }
        if (op->kind != MJ_OP_BIND || op->src_fd >= 0) /* idmapped trees and overlays come prepared */
            continue;
        *op_index = (int)i;
        op->src_fd = mj_open_tree(AT_FDCWD, op->src, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
        if (op->src_fd < 0 && !(errno == ENOENT && (op->flags & MJ_OPF_OPTIONAL)))
            return -1;
    }
    *op_index = -1;
    mj_trace_mark("child: open mount sources");

    /* The new root: the container layer's (layer.c), or the tree of a read-only rootfs directory. */
    size_t first = 0;
    int root_mnt;
    if (plan->layer) {
        *stage = MJ_STAGE_LAYER;
        if (mj_layer_build(plan, op_index) < 0)
            return -1;
        *op_index = -1;
        root_mnt = mj_steal_fd(&plan->root_mnt_fd);
    } else {
        *stage = MJ_STAGE_ROOT_TMPFS;
        root_mnt = mj_steal_fd(&plan->ops[0].src_fd);
        if (root_mnt >= 0 && mj_mount_setattr(root_mnt, "", AT_EMPTY_PATH | AT_RECURSIVE,
                                               MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, 0, -1) < 0) {
            close(root_mnt);
            root_mnt = -1;
        }
        first = 1;
    }
    *stage = MJ_STAGE_ROOT_TMPFS;
    mj_trace_mark(plan->layer ? "child: container layer" : "child: root bind");
    if (root_mnt < 0)
        return -1;
    int staging = open(plan->staging, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (staging < 0 || attach(root_mnt, staging) < 0) {
        close(root_mnt);
        return -1;
    }
    close(root_mnt);
    close(staging);
    int root_fd = open(plan->staging, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (root_fd < 0)
        return -1;

    int devnull_fd = -1;
    for (size_t i = first; i < plan->n_ops; i++) {
        *op_index = (int)i;
        *stage = MJ_STAGE_MOUNT;
        if (do_mount_op(root_fd, &plan->ops[i], &devnull_fd) < 0) {
            int e = errno;
            close(root_fd);
            if (devnull_fd >= 0)
                close(devnull_fd);
            errno = e;
            return -1;
        }
    }
    *op_index = -1;
    if (devnull_fd >= 0)
        close(devnull_fd);
    mj_trace_mark("child: mounts");

    if (plan->readonly_root) {
        *stage = MJ_STAGE_READONLY_ROOT;
        /* Only the root mount itself; rw mounts below it stay rw. */
        if (mj_mount_setattr(root_fd, "", AT_EMPTY_PATH, MOUNT_ATTR_RDONLY, 0, -1) < 0) {
            close(root_fd);
            return -1;
        }
    }

    *stage = MJ_STAGE_PIVOT;
    if (fchdir(root_fd) < 0 || sys_pivot_root(".", ".") < 0 || umount2(".", MNT_DETACH) < 0 || chdir("/") < 0) {
        int e = errno;
        close(root_fd);
        errno = e;
        return -1;
    }
    close(root_fd);
    return 0;
}

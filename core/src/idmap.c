/* idmap.c — user-namespace id maps written from the host side, and idmapped mounts for
 * read-write binds when moonjail runs as root.  Owns the procfs writes of uid_map/gid_map
 * (always through an fd verified to be procfs) and the short-lived helper namespaces that
 * carry an idmapping.  Never maps host uid 0 into a sandbox. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/magic.h>
#include <limits.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "error.h"
#include "idmap.h"
#include "plan.h"
#include "proc.h"
#include "mountapi.h"
#include "util.h"


/* The helper's body: it only holds its user namespace until the host closes the pipe.  It shares
 * the host's memory (CLONE_VM), so it makes raw system calls only: no errno, no locks. */
static int hold_userns(void *arg)
{
    const int *sync = arg;
    char c;
    (void)syscall(SYS_close, sync[1]); /* its copy of the write end: the host's close is the EOF */
    (void)syscall(SYS_read, sync[0], &c, 1);
    syscall(SYS_exit, 0);
    return 0;
}

/* The holder of a helper namespace, once its fd is open: it exits by itself; reaped (and its
 * stack freed) by holder_reap, which the caller defers until its own work with the fd is done, so
 * the holder's exit overlaps that work instead of being waited for. */
#define HOLDER_STACK (64 * 1024)
typedef struct {
    pid_t pid;
    void *stack;
} holder_t;

static void holder_reap(holder_t *h)
{
    if (h->pid > 0)
        while (waitpid(h->pid, NULL, 0) < 0 && errno == EINTR)
            ;
    if (h->stack)
        munmap(h->stack, HOLDER_STACK);
    *h = (holder_t){0};
}

#define cleanup_holder __attribute__((cleanup(holder_reap)))

/* A user namespace carrying the given maps, as an fd (for MOUNT_ATTR_IDMAP).  Its holder is a
 * CLONE_VM child on a small stack of its own: a copy of this (possibly large) process's page
 * tables, as fork would make, is what a namespace that lives for a few system calls cost most.
 * *holder is left for holder_reap (also on failure). */
static int idmap_userns(const char *uid_map, const char *gid_map, holder_t *holder, mj_error_t **err)
{
    *holder = (holder_t){0};
    int sync[2];
    if (pipe2(sync, O_CLOEXEC) < 0) {
        *err = mj_error_sys(MJ_ERR_SANDBOX_INIT_FAILED, errno, "pipe");
        return -1;
    }
    void *stack = mmap(NULL, HOLDER_STACK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (stack == MAP_FAILED) {
        *err = mj_error_sys(MJ_ERR_SANDBOX_INIT_FAILED, errno, "idmap namespace: stack");
        close(sync[0]);
        close(sync[1]);
        return -1;
    }
    holder->stack = stack;
    pid_t pid = clone(hold_userns, (char *)stack + HOLDER_STACK, CLONE_VM | CLONE_NEWUSER | SIGCHLD, sync);
    if (pid < 0) {
        *err = mj_error_sys(MJ_ERR_SANDBOX_INIT_FAILED, errno, "idmap namespace");
        close(sync[0]);
        close(sync[1]);
        return -1;
    }
    holder->pid = pid;
    int fd = -1;
    if (mj_proc_write(pid, "uid_map", uid_map, err) == 0 && mj_proc_write(pid, "gid_map", gid_map, err) == 0) {
        char path[64];
        snprintf(path, sizeof(path), "/proc/%d/ns/user", (int)pid);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            *err = mj_error_sys(MJ_ERR_SANDBOX_INIT_FAILED, errno, "opening %s", path);
    }
    close(sync[1]); /* the holder's EOF: it exits while the caller goes on */
    close(sync[0]);
    return fd;
}

struct mj_mount_attr_idmap {
    uint64_t attr_set, attr_clr, propagation, userns_fd;
};

/* The host ids that uid:gid inside a root-started sandbox map to. */
static uid_t outer_uid(const mj_plan_t *plan, uid_t inside)
{
    return (uid_t)(plan->id_base + inside);
}

/* Replaces *lower (a detached, idmapped copy of op->src) with a detached overlay over it, mounted
 * here by host root: the sandbox's user namespace could not mount over an idmapped layer it does
 * not own.  As with any root-mounted overlay (Docker's), copy-up runs with the mounter's
 * credentials; the layers are reachable only through this mount. */
typedef struct {
    const mj_op_t *op;
    int lower; /* the idmapped tree */
    int mnt;   /* out: the overlay, or -1 */
    int err;
} overlay_job_t;

/* Linux 6.1 clones an overlay's lower layer only from the mounter's own mount namespace (a
 * detached tree gives "failed to clone lowerpath"), so the tree is attached in a private
 * namespace of this short-lived thread, beside the upper directory, and the overlay built there. */
static void *overlay_thread(void *arg)
{
    overlay_job_t *j = arg;
    j->mnt = -1;
    char at[PATH_MAX];
    if ((size_t)snprintf(at, sizeof(at), "%s.lower", j->op->upper) >= sizeof(at)) {
        j->err = ENAMETOOLONG;
        return NULL;
    }
    if (unshare(CLONE_FS | CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
        (mkdir(at, 0700) < 0 && errno != EEXIST) ||
        syscall(SYS_move_mount, j->lower, "", AT_FDCWD, at, 0x4 /* MOVE_MOUNT_F_EMPTY_PATH */) < 0) {
        j->err = errno;
        return NULL;
    }
    const char *kv[] = {"lowerdir", at, "upperdir", j->op->upper, "workdir", j->op->work, NULL};
    j->mnt = mj_make_fs("overlay", kv, 0); /* nosuid, nodev: set when the child attaches it */
    j->err = errno;
    return NULL;
}

static int mount_overlay(mj_op_t *op, int *lower)
{
    overlay_job_t job = {.op = op, .lower = *lower, .mnt = -1, .err = 0};
    pthread_t t;
    int rc = pthread_create(&t, NULL, overlay_thread, &job);
    if (rc != 0) {
        errno = rc;
        return -1;
    }
    pthread_join(t, NULL);
    if (job.mnt < 0) {
        errno = job.err;
        return -1;
    }
    close(*lower);
    *lower = job.mnt;
    op->flags |= MJ_OPF_PREPARED;
    return 0;
}

/* Gives a caller-made overlay upper or work directory to the sandbox's ids. */
static int give_dir(const mj_plan_t *plan, const mj_op_t *op, const char *dir, uid_t uid, gid_t gid, mj_error_t **err)
{
    cleanup_close int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0 ||
        fchown(fd, outer_uid(plan, uid), (gid_t)(plan->id_base + gid)) < 0) {
        *err = mj_error_sys(MJ_ERR_SANDBOX_INIT_FAILED, errno, "cow mount %s: preparing %s", op->dst, dir);
        return -1;
    }
    return 0;
}

/* Closes the idmapped lowers opened so far: the child opens the plain ones itself. */
static void unidmapped_lowers(mj_plan_t *plan)
{
    for (size_t i = 0; i < plan->n_ops; i++)
        if (plan->ops[i].flags & MJ_OPF_LAYER)
            mj_close_fd(&plan->ops[i].src_fd);
    for (size_t k = 0; k < plan->root_lowers.n; k++)
        mj_close_fd(&plan->root_lower_fds[k]);
}

/* The container layer's lowers (the host paths made layers, a rootfs directory), opened here as
 * detached trees idmapped so that host id N shows as N inside — the sandbox's root owns what
 * host root owns there, as a container's root owns its image; the child attaches them and builds
 * the layer over them (layer.c). */
static int open_layer_lowers(mj_plan_t *plan, mj_error_t **err)
{
    cleanup_free char *map = mj_xasprintf("0 %lu 65536\n", plan->id_base);
    cleanup_holder holder_t holder;
    cleanup_close int ns = idmap_userns(map, map, &holder, err);
    if (ns < 0)
        return -1;
    struct mj_mount_attr_idmap attr = {.attr_set = MOUNT_ATTR_IDMAP, .userns_fd = (uint64_t)ns};
    for (size_t i = 0, k = 0; i < plan->n_ops || k < plan->root_lowers.n;) {
        const char *src = i < plan->n_ops ? plan->ops[i].src : plan->root_lowers.v[k];
        int *fd = i < plan->n_ops ? &plan->ops[i].src_fd : &plan->root_lower_fds[k];
        bool want = i < plan->n_ops ? (plan->ops[i].flags & MJ_OPF_LAYER) != 0 : true;
        if (i < plan->n_ops)
            i++;
        else
            k++;
        if (!want)
            continue;
        cleanup_close int tree = mj_open_tree(AT_FDCWD, src, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
        if (tree < 0) {
            *err = mj_error_sys(MJ_ERR_SANDBOX_INIT_FAILED, errno, "idmapping %s for the root's layer", src);
            return -1;
        }
        if (syscall(SYS_mount_setattr, tree, "", AT_EMPTY_PATH, &attr, sizeof(attr)) < 0) {
            /* A file system that cannot be idmapped (9p, tmpfs before 6.3, …): the layer is built
             * over the plain lowers, as rootless — host root's files show as nobody inside. */
            int e = errno;
            unidmapped_lowers(plan);
            mj_strv_push_owned(&plan->warnings,
                               mj_xasprintf("the root's layer: the file system of %s cannot be idmapped (%s); host "
                                            "files show their host owners (root's as nobody) and stay unwritable "
                                            "to the sandbox's root below each layer's top, as rootless",
                                            src, strerror(e)));
            return 0;
        }
        *fd = mj_steal_fd(&tree);
    }
    plan->layer_idmapped = true;
    return 0;
}

int mj_idmap_rw_binds(mj_plan_t *plan, mj_error_t **err)
{
    if (plan->rootless)
        return 0;
    if (plan->layer && open_layer_lowers(plan, err) < 0)
        return -1;
    for (size_t i = 0; i < plan->n_ops; i++) {
        mj_op_t *op = &plan->ops[i];
        if (op->flags & MJ_OPF_LAYER)
            continue; /* built with the layer */
        bool overlay = op->kind == MJ_OP_OVERLAY;
        if (!overlay && (op->kind != MJ_OP_BIND || (op->flags & MJ_OPF_NODEV_KEEP) || !op->dst[0] ||
                         ((op->flags & MJ_OPF_RDONLY) && !op->has_owner)))
            continue;
        uid_t uid = op->has_owner ? op->owner_uid : plan->inner_uid;
        gid_t gid = op->has_owner ? op->owner_gid : plan->inner_gid;
        if (overlay && (give_dir(plan, op, op->upper, uid, gid, err) < 0 || give_dir(plan, op, op->work, uid, gid, err) < 0))
            return -1;
        struct stat st;
        if (stat(op->src, &st) < 0)
            continue; /* reported by the child with the stage that failed */
        /* A host-root-owned tree is shown as the sandbox's only where it cannot be written
         * through: a read-only bind, or a cow lower layer (overlayfs never writes a lower). */
        if ((st.st_uid == 0 || st.st_gid == 0) && !overlay && !(op->flags & MJ_OPF_RDONLY)) {
            mj_strv_push_owned(&plan->warnings,
                               mj_xasprintf("rw mount %s is owned by host root, which is never mapped into a sandbox: "
                                            "the sandbox can write there only where permissions allow (chown it to "
                                            "an unprivileged user, or run moonjail as that user)",
                                            op->src));
            continue;
        }
        cleanup_free char *umap = mj_xasprintf("%u %lu 1\n", (unsigned)st.st_uid, (unsigned long)outer_uid(plan, uid));
        cleanup_free char *gmap = mj_xasprintf("%u %lu 1\n", (unsigned)st.st_gid, plan->id_base + gid);
        cleanup_holder holder_t holder;
        cleanup_close int ns = idmap_userns(umap, gmap, &holder, err);
        if (ns < 0)
            return -1;
        cleanup_close int tree = (int)syscall(SYS_open_tree, AT_FDCWD, op->src, OPEN_TREE_CLONE | O_CLOEXEC);
        if (tree < 0) {
            *err = mj_error_sys(MJ_ERR_SANDBOX_INIT_FAILED, errno, "opening %s", op->src);
            return -1;
        }
        struct mj_mount_attr_idmap attr = {.attr_set = MOUNT_ATTR_IDMAP, .userns_fd = (uint64_t)ns};
        bool idmapped = syscall(SYS_mount_setattr, tree, "", AT_EMPTY_PATH, &attr, sizeof(attr)) == 0;
        if (idmapped && overlay && mount_overlay(op, &tree) < 0) {
            mj_strv_push_owned(&plan->warnings,
                               mj_xasprintf("cow mount %s: overlayfs refused the idmapped lower layer (%s); the "
                                            "sandbox mounts it itself, so files keep their host owners and those "
                                            "of other users cannot be changed",
                                            op->dst, strerror(errno)));
            continue;
        }
        if (!idmapped) {
            if (op->has_owner) {
                *err = mj_error_new(MJ_ERR_UNSUPPORTED, errno,
                                    "mount %s: owner %u:%u needs an idmapped mount, which the file system of %s "
                                    "cannot take (%s)", op->dst, (unsigned)uid, (unsigned)gid, op->src, strerror(errno));
                return -1;
            }
            mj_strv_push_owned(&plan->warnings,
                               mj_xasprintf("%s mount %s: this file system cannot be idmapped (%s); files keep their "
                                            "host owners", overlay ? "cow" : "rw", op->src, strerror(errno)));
            continue;
        }
        op->src_fd = mj_steal_fd(&tree);
    }
    /* Every other bind source is opened here too, by host root, while the child would open it as
     * the sandbox's unprivileged ids: a source under a directory only root may enter (a checkout
     * in /root) would be refused there.  What a mount shows does not depend on who opened it;
     * inside, every file is checked against the sandbox's own ids.  Missing or failing sources are
     * left to the child, which skips optional ones and reports the rest with their stage. */
    for (size_t i = 0; i < plan->n_ops; i++) {
        mj_op_t *op = &plan->ops[i];
        /* (a layer's lower the host did not idmap is the child's to open: overlayfs takes lowers
         * from the mounter's own mount namespace) */
        if (op->kind != MJ_OP_BIND || op->src_fd >= 0 || !op->src || (op->flags & MJ_OPF_LAYER))
            continue;
        int tree = (int)syscall(SYS_open_tree, AT_FDCWD, op->src, OPEN_TREE_CLONE | O_CLOEXEC | AT_RECURSIVE);
        if (tree >= 0)
            op->src_fd = tree;
    }
    return 0;
}

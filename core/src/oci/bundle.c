/* oci/bundle.c — a bundle's paths made reachable for a container's unprivileged ids.
 *
 * Engines keep a container's root file system and the files they bind into it (/etc/hosts,
 * /etc/resolv.conf, …) beneath directories only host root may enter (podman's storage is 0700).
 * moonjail's sandbox child resolves those paths after it has switched to its mapped ids, so the
 * runtime binds them, in a mount namespace of its own, onto mount points those ids can reach
 * (beneath the runtime's state directory); the sandbox's mount namespace is copied from it.
 * Nothing is mounted in the host's mount namespace, and nothing of the engine's changes mode or
 * owner.  It also creates the mount points a bundle's root lacks (/proc, mount destinations), as
 * runc does, since the container's ids cannot create them in a root-owned tree: one component
 * at a time, never following a symlink of the (untrusted) image.
 * Owns: that namespace, those binds, those mount points.  Never: a mount outside it, a path
 * resolved through the image's symlinks. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "oci/bundle.h"
#include "util.h"

int mj_oci_private_mounts(mj_error_t **err)
{
    if (unshare(CLONE_NEWNS) < 0) {
        *err = mj_error_sys(MJ_ERR_SANDBOX_INIT_FAILED, errno, "a mount namespace for the runtime");
        return -1;
    }
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
        *err = mj_error_sys(MJ_ERR_SANDBOX_INIT_FAILED, errno, "making the runtime's mounts private");
        return -1;
    }
    return 0;
}

int mj_oci_bind(const char *src, const char *dst, mj_error_t **err)
{
    if (mount(src, dst, NULL, MS_BIND | MS_REC, NULL) < 0) {
        *err = mj_error_sys(MJ_ERR_SANDBOX_INIT_FAILED, errno, "binding %s onto %s", src, dst);
        return -1;
    }
    return 0;
}

void mj_oci_unbind(const char *path)
{
    (void)umount2(path, MNT_DETACH | UMOUNT_NOFOLLOW);
}

int mj_oci_mountpoint(const char *root, const char *rel, bool dir, mj_error_t **err)
{
    cleanup_close int cur = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (cur < 0) {
        *err = mj_error_sys(MJ_ERR_SANDBOX_INIT_FAILED, errno, "opening the root %s", root);
        return -1;
    }
    const char *p = rel;
    while (*p) {
        while (*p == '/')
            p++;
        const char *start = p;
        while (*p && *p != '/')
            p++;
        size_t n = (size_t)(p - start);
        if (n == 0)
            break;
        char comp[NAME_MAX + 1];
        if (n > NAME_MAX || (n == 1 && start[0] == '.') || (n == 2 && start[0] == '.' && start[1] == '.')) {
            *err = mj_error_new(MJ_ERR_INVALID_CONFIG, EINVAL, "mount point %s: a bad path", rel);
            return -1;
        }
        memcpy(comp, start, n);
        comp[n] = '\0';
        while (*p == '/')
            p++;
        bool last = *p == '\0';
        if (last && !dir) {
            int f = openat(cur, comp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
            if (f >= 0)
                close(f);
            return 0; /* there already (whatever it is: the sandbox checks what it mounts on) */
        }
        if (mkdirat(cur, comp, 0755) < 0 && errno != EEXIST) {
            *err = mj_error_sys(MJ_ERR_SANDBOX_INIT_FAILED, errno, "creating the mount point %s", rel);
            return -1;
        }
        int next = openat(cur, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (next < 0)
            return 0; /* a symlink or a file of the image's: left alone, never followed */
        close(cur);
        cur = next;
    }
    return 0;
}

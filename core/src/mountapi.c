/* mountapi.c — the new mount API (fsopen/fsconfig/fsmount, open_tree, move_mount,
 * mount_setattr) as plain system calls, usable after clone: no allocation, no stdio, errno kept.
 * Owns nothing; rootfs.c, layer.c and idmap.c build their mounts with it.  Never: resolves a path
 * a sandbox controls (callers pass fds they opened safely). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "mountapi.h"

#ifndef FSMOUNT_CLOEXEC
#define FSMOUNT_CLOEXEC 0x00000001
#endif

/* Our own names so we never clash with whatever libc declares. */
struct mj_mount_attr {
    uint64_t attr_set;
    uint64_t attr_clr;
    uint64_t propagation;
    uint64_t userns_fd;
};

enum { MJ_FSCONFIG_SET_FLAG = 0, MJ_FSCONFIG_SET_STRING = 1, MJ_FSCONFIG_CMD_CREATE = 6 };

int mj_open_tree(int dfd, const char *path, unsigned flags)
{
    return (int)syscall(SYS_open_tree, dfd, path, flags);
}

int mj_move_mount(int from_dfd, const char *from, int to_dfd, const char *to, unsigned flags)
{
    return (int)syscall(SYS_move_mount, from_dfd, from, to_dfd, to, flags);
}

int mj_mount_setattr(int dfd, const char *path, unsigned flags, uint64_t set, uint64_t clr, int userns_fd)
{
    struct mj_mount_attr attr = {.attr_set = set, .attr_clr = clr, .userns_fd = (uint64_t)(userns_fd < 0 ? 0 : userns_fd)};
    return (int)syscall(SYS_mount_setattr, dfd, path, flags, &attr, sizeof(attr));
}

int mj_attach(int mnt, int target)
{
    return mj_move_mount(mnt, "", target, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH);
}

const char *mj_fmt_num(char *buf, unsigned long len, uint64_t v, int octal)
{
    unsigned base = octal ? 8 : 10;
    char *p = buf + len - 1;
    *p = '\0';
    do {
        *--p = (char)('0' + v % base);
        v /= base;
    } while (v && p > buf + 1);
    if (octal)
        *--p = '0';
    return p;
}

int mj_make_fs(const char *fstype, const char *const *kv, unsigned attrs)
{
    int fs = (int)syscall(SYS_fsopen, fstype, 1 /* FSOPEN_CLOEXEC */);
    if (fs < 0)
        return -1;
    for (unsigned long i = 0; kv && kv[i]; i += 2) {
        int r = kv[i + 1] ? (int)syscall(SYS_fsconfig, fs, MJ_FSCONFIG_SET_STRING, kv[i], kv[i + 1], 0)
                          : (int)syscall(SYS_fsconfig, fs, MJ_FSCONFIG_SET_FLAG, kv[i], NULL, 0);
        if (r < 0) {
            int e = errno;
            close(fs);
            errno = e;
            return -1;
        }
    }
    if (syscall(SYS_fsconfig, fs, MJ_FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0) {
        int e = errno;
        close(fs);
        errno = e;
        return -1;
    }
    int mnt = (int)syscall(SYS_fsmount, fs, FSMOUNT_CLOEXEC, attrs);
    int e = errno;
    close(fs);
    errno = e;
    return mnt;
}

int mj_make_tmpfs(uint64_t size, uint64_t inodes, unsigned mode, unsigned attrs)
{
    char sbuf[32], ibuf[32], mbuf[16];
    const char *kv[] = {"size", mj_fmt_num(sbuf, sizeof(sbuf), size, 0), "mode", mj_fmt_num(mbuf, sizeof(mbuf), mode, 1),
                        inodes ? "nr_inodes" : NULL, inodes ? mj_fmt_num(ibuf, sizeof(ibuf), inodes, 0) : NULL, NULL};
    return mj_make_fs("tmpfs", kv, attrs);
}

/* mountapi.h — the new mount API as plain system calls (mountapi.c): fresh superblocks as
 * detached mount fds, trees opened and attached through fds, mount attributes. */
#ifndef MJ_MOUNTAPI_H
#define MJ_MOUNTAPI_H

#include <fcntl.h>
#include <stdint.h>

#ifndef OPEN_TREE_CLONE
#define OPEN_TREE_CLONE 1
#endif
#ifndef OPEN_TREE_CLOEXEC
#define OPEN_TREE_CLOEXEC O_CLOEXEC
#endif
#ifndef MOVE_MOUNT_F_EMPTY_PATH
#define MOVE_MOUNT_F_EMPTY_PATH 0x00000004
#define MOVE_MOUNT_T_EMPTY_PATH 0x00000040
#endif
#ifndef MOUNT_ATTR_RDONLY
#define MOUNT_ATTR_RDONLY 0x00000001
#define MOUNT_ATTR_NOSUID 0x00000002
#define MOUNT_ATTR_NODEV 0x00000004
#define MOUNT_ATTR_NOEXEC 0x00000008
#endif
#ifndef MOUNT_ATTR_IDMAP
#define MOUNT_ATTR_IDMAP 0x00100000
#endif
#ifndef AT_RECURSIVE
#define AT_RECURSIVE 0x8000
#endif

int mj_open_tree(int dfd, const char *path, unsigned flags);
int mj_move_mount(int from_dfd, const char *from, int to_dfd, const char *to, unsigned flags);
/* mount_setattr with attr_set / attr_clr; userns_fd >= 0 with MOUNT_ATTR_IDMAP. */
int mj_mount_setattr(int dfd, const char *path, unsigned flags, uint64_t set, uint64_t clr, int userns_fd);
/* Attaches the detached mount mnt on the directory or file target (both fds). */
int mj_attach(int mnt, int target);
/* A fresh superblock of fstype configured by the NULL-terminated key/value list (a NULL value is
 * a flag), as a detached mount fd; -1 with errno. */
int mj_make_fs(const char *fstype, const char *const *kv, unsigned attrs);
/* A tmpfs of size bytes and at most inodes inodes (0: the kernel's default), its root dir of
 * mode; -1 with errno. */
int mj_make_tmpfs(uint64_t size, uint64_t inodes, unsigned mode, unsigned attrs);
/* Formats v in decimal (octal when octal, with a leading 0) into buf without stdio, for use after
 * clone; returns the start of the digits inside buf. */
const char *mj_fmt_num(char *buf, unsigned long len, uint64_t v, int octal);

#endif

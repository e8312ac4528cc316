/* landlock.c — Landlock on top of the mount namespace: the command may read and execute
 * anything in its root, but write only beneath the paths the policy grants (by default every
 * read-write mount and tmpfs).  So a path that is mounted read-write but not granted stays
 * unwritable, and per-command narrowing (allow_write = false) can take writes away entirely.
 * The ruleset is built once in the sandbox's init/supervisor after pivot_root (fds of the granted
 * paths, opened inside the new root); each command only calls landlock_restrict_self on it.
 * Raw system calls only: this runs after clone. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/landlock.h>
#include <sys/syscall.h>

#include "landlock.h"
#include "plan.h"
#include "util.h"

#ifndef LANDLOCK_ACCESS_FS_REFER
#define LANDLOCK_ACCESS_FS_REFER (1ULL << 13)
#endif
#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE (1ULL << 14)
#endif
#ifndef LANDLOCK_ACCESS_FS_IOCTL_DEV
#define LANDLOCK_ACCESS_FS_IOCTL_DEV (1ULL << 15)
#endif

#define READ_ACCESS (LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR)
#define WRITE_ACCESS_V1                                                                                          \
    (LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_REMOVE_DIR | LANDLOCK_ACCESS_FS_REMOVE_FILE |           \
     LANDLOCK_ACCESS_FS_MAKE_DIR | LANDLOCK_ACCESS_FS_MAKE_REG | LANDLOCK_ACCESS_FS_MAKE_SOCK |                  \
     LANDLOCK_ACCESS_FS_MAKE_FIFO | LANDLOCK_ACCESS_FS_MAKE_SYM)
#define DEVICE_ACCESS (LANDLOCK_ACCESS_FS_MAKE_CHAR | LANDLOCK_ACCESS_FS_MAKE_BLOCK)

int mj_landlock_abi(void)
{
    long abi = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
    return abi > 0 ? (int)abi : 0;
}

static uint64_t handled_for(int abi)
{
    uint64_t h = READ_ACCESS | WRITE_ACCESS_V1 | DEVICE_ACCESS;
    if (abi >= 2)
        h |= LANDLOCK_ACCESS_FS_REFER;
    if (abi >= 3)
        h |= LANDLOCK_ACCESS_FS_TRUNCATE;
    if (abi >= 5)
        h |= LANDLOCK_ACCESS_FS_IOCTL_DEV;
    return h;
}

static uint64_t write_for(int abi)
{
    uint64_t w = WRITE_ACCESS_V1;
    if (abi >= 2)
        w |= LANDLOCK_ACCESS_FS_REFER;
    if (abi >= 3)
        w |= LANDLOCK_ACCESS_FS_TRUNCATE;
    return w;
}

static int add_rule(int ruleset, const char *path, uint64_t access)
{
    int fd = open(path, O_PATH | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? 0 : -1; /* a granted path that does not exist grants nothing */
    struct landlock_path_beneath_attr attr = {.allowed_access = access, .parent_fd = fd};
    long r = syscall(SYS_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH, &attr, 0);
    int e = errno;
    close(fd);
    errno = e;
    return r < 0 ? -1 : 0;
}

static int prepare(const mj_plan_t *plan, int *ruleset_out, bool read_only)
{
    *ruleset_out = -1;
    int abi = plan->landlock_abi;
    if (abi <= 0)
        return 0;
    uint64_t handled = handled_for(abi);
    struct landlock_ruleset_attr rs = {.handled_access_fs = handled};
    cleanup_close int fd = (int)syscall(SYS_landlock_create_ruleset, &rs, sizeof(rs), 0);
    if (fd < 0)
        return -1;
    uint64_t write = write_for(abi);
    /* Everything may be read and executed; writes only beneath the granted paths. */
    if (add_rule(fd, "/", READ_ACCESS) < 0)
        return -1;
    /* Devices: the bound nodes are written (/dev/null…) and ttys take ioctls. */
    uint64_t dev = LANDLOCK_ACCESS_FS_WRITE_FILE | (abi >= 3 ? LANDLOCK_ACCESS_FS_TRUNCATE : 0) |
                   (abi >= 5 ? LANDLOCK_ACCESS_FS_IOCTL_DEV : 0);
    if (add_rule(fd, "/dev", dev) < 0)
        return -1;
    for (size_t i = 0; !read_only && i < plan->landlock_write.n; i++)
        if (add_rule(fd, plan->landlock_write.v[i], write) < 0)
            return -1;
    *ruleset_out = mj_steal_fd(&fd);
    return 0;
}

int mj_landlock_restrict_paths(char *const *paths)
{
    int abi = mj_landlock_abi();
    if (abi <= 0) {
        errno = ENOTSUP;
        return -1;
    }
    static const char *const system[] = {"/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc"};
    uint64_t handled = handled_for(abi);
    struct landlock_ruleset_attr rs = {.handled_access_fs = handled};
    cleanup_close int fd = (int)syscall(SYS_landlock_create_ruleset, &rs, sizeof(rs), 0);
    if (fd < 0)
        return -1;
    for (size_t i = 0; i < MJ_ARRAY_LEN(system); i++)
        if (add_rule(fd, system[i], READ_ACCESS) < 0)
            return -1;
    uint64_t dev = READ_ACCESS | LANDLOCK_ACCESS_FS_WRITE_FILE | (abi >= 3 ? LANDLOCK_ACCESS_FS_TRUNCATE : 0) |
                   (abi >= 5 ? LANDLOCK_ACCESS_FS_IOCTL_DEV : 0);
    if (add_rule(fd, "/dev", dev) < 0 || add_rule(fd, "/proc", LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR) < 0)
        return -1;
    for (size_t i = 0; paths[i]; i++)
        if (add_rule(fd, paths[i], READ_ACCESS | write_for(abi)) < 0)
            return -1;
    return mj_landlock_restrict(fd);
}

int mj_landlock_build(mj_plan_t *plan)
{
    if (plan->landlock_abi <= 0)
        return 0;
    /* The read-only variant serves per-command allow_write = false, which only exists for
     * persistent sandboxes. */
    if (prepare(plan, &plan->landlock_fd, false) < 0 ||
        (plan->persistent && prepare(plan, &plan->landlock_ro_fd, true) < 0)) {
        if (plan->landlock_required)
            return -1;
        plan->landlock_abi = 0; /* best effort: the host reported availability at plan time */
    }
    return 0;
}

/* The ruleset attribute with handled_access_net (ABI 4, Linux 6.7): Debian 12's headers stop at
 * handled_access_fs, so it is spelled out here. */
struct mj_landlock_ruleset_attr_v4 {
    uint64_t handled_access_fs;
    uint64_t handled_access_net;
};
#define MJ_LANDLOCK_ACCESS_NET_BIND_TCP (1ULL << 0)
#define MJ_LANDLOCK_ACCESS_NET_CONNECT_TCP (1ULL << 1)

int mj_landlock_deny_tcp(void)
{
    if (mj_landlock_abi() < 4) {
        errno = ENOTSUP;
        return -1;
    }
    struct mj_landlock_ruleset_attr_v4 rs = {
        .handled_access_net = MJ_LANDLOCK_ACCESS_NET_BIND_TCP | MJ_LANDLOCK_ACCESS_NET_CONNECT_TCP,
    };
    cleanup_close int fd = (int)syscall(SYS_landlock_create_ruleset, &rs, sizeof(rs), 0);
    if (fd < 0)
        return -1;
    long r = syscall(SYS_landlock_restrict_self, fd, 0);
    int e = errno;
    close(fd);
    errno = e;
    return r < 0 ? -1 : 0;
}

struct mj_landlock_net_port_attr {
    uint64_t allowed_access;
    uint64_t port;
} __attribute__((packed));
#define MJ_LANDLOCK_RULE_NET_PORT 2

int mj_landlock_tcp(const mj_plan_t *plan)
{
    const mj_landlock_tcp_t *t = &plan->landlock_tcp;
    if (!plan->landlock_tcp_ok || (!t->bind_restricted && !t->connect_restricted))
        return 0;
    struct mj_landlock_ruleset_attr_v4 rs = {
        .handled_access_net = (t->bind_restricted ? MJ_LANDLOCK_ACCESS_NET_BIND_TCP : 0) |
                              (t->connect_restricted ? MJ_LANDLOCK_ACCESS_NET_CONNECT_TCP : 0),
    };
    cleanup_close int fd = (int)syscall(SYS_landlock_create_ruleset, &rs, sizeof(rs), 0);
    if (fd < 0)
        return -1;
    long r = 0;
    for (size_t i = 0; r == 0 && t->bind_restricted && i < t->n_bind; i++) {
        struct mj_landlock_net_port_attr a = {.allowed_access = MJ_LANDLOCK_ACCESS_NET_BIND_TCP, .port = t->bind[i]};
        r = syscall(SYS_landlock_add_rule, fd, MJ_LANDLOCK_RULE_NET_PORT, &a, 0);
    }
    for (size_t i = 0; r == 0 && t->connect_restricted && i < t->n_connect; i++) {
        struct mj_landlock_net_port_attr a = {.allowed_access = MJ_LANDLOCK_ACCESS_NET_CONNECT_TCP,
                                              .port = t->connect[i]};
        r = syscall(SYS_landlock_add_rule, fd, MJ_LANDLOCK_RULE_NET_PORT, &a, 0);
    }
    if (r == 0)
        r = syscall(SYS_landlock_restrict_self, fd, 0);
    int e = errno;
    close(fd);
    errno = e;
    return r < 0 ? -1 : 0;
}

int mj_landlock_restrict(int ruleset)
{
    if (ruleset < 0)
        return 0;
    return (int)syscall(SYS_landlock_restrict_self, ruleset, 0);
}

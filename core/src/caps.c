/* caps.c — capability sets and id switching for a command about to exec inside the sandbox (in a
 * forked child after the plan was built) and for the thread that does the host's file operations
 * as a sandbox's user (confine.c).  Only system calls, each acting on the calling thread; no
 * allocation. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "caps.h"

#ifndef PR_CAP_AMBIENT
#define PR_CAP_AMBIENT 47
#define PR_CAP_AMBIENT_RAISE 2
#define PR_CAP_AMBIENT_CLEAR_ALL 4
#endif

int mj_caps_last_cap(void)
{
    int fd = open("/proc/sys/kernel/cap_last_cap", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        char buf[16] = {0};
        ssize_t n = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        if (n > 0) {
            int v = atoi(buf);
            if (v > 0 && v < 64)
                return v;
        }
    }
    return CAP_LAST_CAP;
}

static int capset_all(uint64_t eff, uint64_t prm, uint64_t inh)
{
    struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
    struct __user_cap_data_struct data[2] = {
        {.effective = (uint32_t)eff, .permitted = (uint32_t)prm, .inheritable = (uint32_t)inh},
        {.effective = (uint32_t)(eff >> 32), .permitted = (uint32_t)(prm >> 32), .inheritable = (uint32_t)(inh >> 32)},
    };
    return (int)syscall(SYS_capset, &hdr, data);
}

int mj_caps_clear(void)
{
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
        return -1;
    return capset_all(0, 0, 0);
}

int mj_caps_drop_and_setid(uint64_t keep, int last_cap, uid_t uid, gid_t gid, bool can_setgroups)
{
    for (int cap = 0; cap <= last_cap; cap++) {
        if (keep & (UINT64_C(1) << cap))
            continue;
        if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL)
            return -1;
    }
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
        return -1;
    if (keep && prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
        return -1;
    /* Raw system calls: glibc's wrappers broadcast to threads a cloned child does not have. */
    if (can_setgroups && syscall(SYS_setgroups, 0, NULL) < 0)
        return -1;
    if (syscall(SYS_setresgid, gid, gid, gid) < 0)
        return -1;
    if (syscall(SYS_setresuid, uid, uid, uid) < 0)
        return -1;
    /* Permitted, effective and inheritable: exactly the kept set (empty by default). */
    if (capset_all(keep, keep, keep) < 0)
        return -1;
    for (int cap = 0; cap <= last_cap; cap++)
        if ((keep & (UINT64_C(1) << cap)) && prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) < 0)
            return -1;
    if (keep && prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
        return -1;
    return 0;
}

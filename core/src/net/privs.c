/* privs.c — privilege drop and the seccomp allow-lists of moonjail-net and its agent.
 * Owns: the exact order (groups, gid, uid, no_new_privs, then the filter) and the lists.
 * Never: choosing which ids to drop to. */
#define _GNU_SOURCE
#include "privs.h"

#include <errno.h>
#include <grp.h>
#include <seccomp.h>
#include <stdbool.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../error.h"
#include "../util.h"

int mj_net_privs_drop(uid_t uid, gid_t gid, mj_error_t **err)
{
    if (geteuid() == 0) {
        if (uid == 0 || gid == 0) {
            if (err)
                *err = mj_error_new(MJ_ERR_INVALID_CONFIG, EINVAL, "moonjail-net: refusing to keep uid or gid 0");
            return -1;
        }
        if (setgroups(0, NULL) < 0 || setresgid(gid, gid, gid) < 0 || setresuid(uid, uid, uid) < 0) {
            if (err)
                *err = mj_error_sys(MJ_ERR_PERMISSION_DENIED, errno, "moonjail-net: dropping to %u:%u",
                                    (unsigned)uid, (unsigned)gid);
            return -1;
        }
        /* Regaining root must fail now. */
        if (setresuid(0, 0, 0) == 0 || geteuid() == 0) {
            if (err)
                *err = mj_error_new(MJ_ERR_PERMISSION_DENIED, 0, "moonjail-net: could regain root after dropping");
            return -1;
        }
    }
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) {
        if (err)
            *err = mj_error_sys(MJ_ERR_PERMISSION_DENIED, errno, "moonjail-net: prctl");
        return -1;
    }
    return 0;
}

static int allow(scmp_filter_ctx ctx, const char *const *names, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int nr = seccomp_syscall_resolve_name(names[i]);
        if (nr == __NR_SCMP_ERROR)
            continue; /* not on this architecture */
        if (seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0) < 0)
            return -1;
    }
    return 0;
}

static int allow_inet_sockets(scmp_filter_ctx ctx)
{
    if (seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1, SCMP_A0(SCMP_CMP_EQ, AF_INET)) < 0 ||
        seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1, SCMP_A0(SCMP_CMP_EQ, AF_INET6)) < 0)
        return -1;
    return 0;
}

static const char *const common[] = {
    "read", "write", "close", "recvfrom", "sendto", "recvmsg", "sendmsg", "setsockopt", "getsockopt",
    "brk", "mmap", "munmap", "mremap", "madvise", "exit", "exit_group", "rt_sigreturn", "rt_sigprocmask",
    "clock_gettime", "gettimeofday", "getpid", "gettid", "tgkill", "futex", "restart_syscall", "getrandom",
};

static const char *const helper_only[] = {
    "readv", "writev", "recvmmsg", "sendmmsg", "connect", "accept", "accept4", "getsockname", "getpeername",
    "shutdown", "epoll_wait", "epoll_pwait", "epoll_ctl", "fcntl", "pipe2", "splice", "wait4", "waitid", "kill",
    "pidfd_send_signal", "nanosleep", "clock_nanosleep", "sched_yield",
};

static const char *const agent_only[] = {"bind", "listen"};

static int load(bool agent)
{
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ERRNO(EPERM));
    if (!ctx)
        return -1;
    int r = allow(ctx, common, MJ_ARRAY_LEN(common));
    if (r == 0)
        r = agent ? allow(ctx, agent_only, MJ_ARRAY_LEN(agent_only)) : allow(ctx, helper_only, MJ_ARRAY_LEN(helper_only));
    if (r == 0)
        r = allow_inet_sockets(ctx);
    if (r == 0)
        r = seccomp_load(ctx);
    seccomp_release(ctx);
    if (r < 0) {
        errno = -r > 0 ? -r : EINVAL;
        return -1;
    }
    return 0;
}

int mj_net_privs_helper_filter(mj_error_t **err)
{
    if (load(false) < 0) {
        if (err)
            *err = mj_error_sys(MJ_ERR_SANDBOX_INIT_FAILED, errno, "moonjail-net: loading its seccomp filter");
        return -1;
    }
    return 0;
}

int mj_net_privs_agent_filter(void)
{
    return load(true);
}

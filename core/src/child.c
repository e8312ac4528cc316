/* child.c — the sandbox's pid 1 for a one-shot run: switches to the mapped ids, builds the root,
 * starts the command and reaps until it exits, reporting to the host over the status pipe.
 * Runs after clone in a copy of a possibly multi-threaded host, so it uses raw system calls only:
 * no malloc, no stdio, no glibc fork() or set*id() wrappers (they take locks or broadcast to
 * threads that do not exist here).  The persistent supervisor of later issues grows from this. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>

#include "internal.h"

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif


static int64_t realtime_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void send_msg(int fd, uint32_t type, int32_t a, int32_t b, int32_t c)
{
    mj_msg_t m = {.type = type, .a = a, .b = b, .c = c, .t_ns = realtime_ns()};
    (void)mj_write_all(fd, &m, sizeof(m));
}

/* One refused system call of the command: answered EPERM, reported to the host. */
static void serve_notification(int nfd, int status_fd)
{
    int32_t nr, pid;
    if (mj_seccomp_refuse_one(nfd, &nr, &pid) == 0)
        send_msg(status_fd, MJ_MSG_DENIED, nr, pid, 0);
}

__attribute__((noreturn)) static void setup_failed(int status_fd, mj_stage_t stage, int op_index)
{
    send_msg(status_fd, MJ_MSG_SETUP_FAILED, (int32_t)stage, errno, op_index);
    _exit(1);
}

static int raw_setids(uid_t uid, gid_t gid, bool setgroups_allowed)
{
    if (setgroups_allowed && syscall(SYS_setgroups, 0, NULL) < 0)
        return -1;
    if (syscall(SYS_setresgid, gid, gid, gid) < 0)
        return -1;
    if (syscall(SYS_setresuid, uid, uid, uid) < 0)
        return -1;
    return 0;
}

static int loopback_up(void)
{
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0)
        return -1;
    struct ifreq ifr;
    memset(&ifr, 0, sizeof(ifr));
    memcpy(ifr.ifr_name, "lo", 3);
    int r = ioctl(s, SIOCGIFFLAGS, &ifr);
    if (r == 0) {
        ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
        r = ioctl(s, SIOCSIFFLAGS, &ifr);
    }
    int e = errno;
    close(s);
    errno = e;
    return r;
}

/* Overwrites the host process's argv/environment strings so /proc/1/cmdline and
 * /proc/1/environ of the sandbox's init show nothing of the host. */
static void wipe_host_strings(const mj_plan_t *plan)
{
    if (plan->env_end > plan->env_start)
        memset((void *)plan->env_start, 0, plan->env_end - plan->env_start);
    if (plan->arg_end > plan->arg_start) {
        static const char name[] = "moonjail-init";
        size_t n = plan->arg_end - plan->arg_start;
        memset((void *)plan->arg_start, 0, n);
        memcpy((void *)plan->arg_start, name, n > sizeof(name) ? sizeof(name) : n - 1);
    }
    prctl(PR_SET_NAME, "moonjail-init", 0, 0, 0);
}

/* Landlock rulesets for the commands: built here, inside the new root, once. */
static int prepare_landlock(mj_plan_t *plan)
{
    if (plan->landlock_abi <= 0)
        return 0;
    /* The read-only variant serves per-command allow_write = false, which only exists for
     * persistent sandboxes. */
    if (mj_landlock_prepare(plan, &plan->landlock_fd, false) < 0 ||
        (plan->persistent && mj_landlock_prepare(plan, &plan->landlock_ro_fd, true) < 0)) {
        if (plan->landlock_required)
            return -1;
        plan->landlock_abi = 0; /* best effort: the host reported availability at plan time */
    }
    return 0;
}

int mj_lift_work_fds(mj_plan_t *plan)
{
    for (size_t i = 0; i < plan->n_cg_work_fds; i++) {
        int high = fcntl(plan->cg_work_fds[i], F_DUPFD_CLOEXEC, 64);
        if (high < 0)
            return -1;
        close(plan->cg_work_fds[i]);
        plan->cg_work_fds[i] = high;
    }
    return 0;
}

__attribute__((noreturn)) void mj_child_main(mj_plan_t *plan, mj_child_fds_t *fds)
{
    int status_fd = fds->status_w;
    char go;

    for (size_t i = 0; i < MJ_ARRAY_LEN(fds->host_ends); i++)
        if (fds->host_ends[i] >= 0)
            close(fds->host_ends[i]);
    /* Die with the host process (unless named); the sync read below catches a parent that died
     * before this. */
    if (!fds->detached)
        prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    if (mj_read_all(fds->sync_r, &go, 1) != 1)
        _exit(1);

    if (raw_setids(plan->init_uid, plan->init_gid, !plan->rootless) < 0)
        setup_failed(status_fd, MJ_STAGE_SETID, -1);
    /* Changing ids cleared the parent-death signal: set it again, then make sure the parent did
     * not die in between (its end of the status channel would be gone). */
    if (!fds->detached) {
        prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
        struct pollfd pfd = {.fd = status_fd, .events = POLLOUT};
        if (poll(&pfd, 1, 0) == 1 && (pfd.revents & (POLLERR | POLLHUP)))
            _exit(1);
    }
    /* The host has put us in our cgroups (<id>) by now: root our cgroup view there, then move
     * on into <id>/sup where the group is split, so inside we are /sup and commands /work. */
    if (unshare(CLONE_NEWCGROUP) < 0)
        setup_failed(status_fd, MJ_STAGE_SETID, -1);
    for (size_t i = 0; i < plan->n_cg_sup_fds; i++) {
        if (write(plan->cg_sup_fds[i], "0", 1) != 1)
            setup_failed(status_fd, MJ_STAGE_SETID, -1);
        close(plan->cg_sup_fds[i]);
    }
    plan->n_cg_sup_fds = 0;
    if (sethostname(plan->hostname, strlen(plan->hostname)) < 0)
        setup_failed(status_fd, MJ_STAGE_HOSTNAME, -1);
    if (plan->new_netns && loopback_up() < 0)
        setup_failed(status_fd, MJ_STAGE_LOOPBACK, -1);

    mj_stage_t stage;
    int op_index;
    if (mj_rootfs_setup(plan, &stage, &op_index) < 0)
        setup_failed(status_fd, stage, op_index);

    wipe_host_strings(plan);
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    /* out of the low numbers that stdio, the status channel and the kept fds take next */
    if (mj_lift_work_fds(plan) < 0)
        setup_failed(status_fd, MJ_STAGE_FORK, -1);

    if (fds->supervisor) {
        /* 0-2 /dev/null, 3 control, 4 listen, 5 lock, 6 id slot; nothing else survives. */
        int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (devnull >= 0 && devnull < 64) { /* out of the 3..6 range we are about to fill */
            int high = fcntl(devnull, F_DUPFD_CLOEXEC, 64);
            close(devnull);
            devnull = high;
        }
        int keep[4] = {status_fd, fds->listen_fd, fds->lock_fd, plan->id_slot_fd};
        /* Move the kept fds above the range we are about to fill, then into place. */
        for (int i = 0; i < 4; i++)
            if (keep[i] >= 0 && (keep[i] = fcntl(keep[i], F_DUPFD_CLOEXEC, 64)) < 0)
                setup_failed(status_fd, MJ_STAGE_FORK, -1);
        if (devnull < 0 || dup2(devnull, 0) < 0 || dup2(devnull, 1) < 0 || dup2(devnull, 2) < 0)
            setup_failed(status_fd, MJ_STAGE_FORK, -1);
        for (int i = 0; i < 4; i++) {
            if (keep[i] < 0) {
                /* a placeholder keeps the slot taken, so nothing else (a Landlock ruleset) lands
                 * on a number the supervisor treats as its own */
                if (dup3(devnull, 3 + i, O_CLOEXEC) < 0)
                    setup_failed(keep[0], MJ_STAGE_FORK, -1);
                continue;
            }
            if (dup3(keep[i], 3 + i, O_CLOEXEC) < 0)
                setup_failed(keep[0], MJ_STAGE_FORK, -1);
        }
        /* 7.. the work cgroup's cgroup.procs, one per hierarchy */
        int next = mj_place_fds(plan->cg_work_fds, plan->n_cg_work_fds, 7);
        if (next < 0)
            setup_failed(3, MJ_STAGE_FORK, -1);
        if (syscall(SYS_close_range, (unsigned)next, ~0U, 0U) < 0)
            for (int fd = next; fd < 1024; fd++)
                close(fd);
        if (prepare_landlock(plan) < 0)
            setup_failed(3, MJ_STAGE_LANDLOCK, -1);
        /* The workload's filter, loaded once here: every command inherits it (no per-exec load),
         * and the supervisor itself runs under it too (it needs nothing the workload may not do;
         * CAP_SYS_ADMIN in our user namespace stands in for no_new_privs, which would get in the
         * way of LSM transitions at exec). */
        int notify_fd = -1;
        if (plan->seccomp_notify) {
            notify_fd = mj_seccomp_load_listener(plan);
            if (notify_fd < 0)
                setup_failed(3, MJ_STAGE_SECCOMP, -1);
        } else if (mj_seccomp_load(plan) < 0) {
            setup_failed(3, MJ_STAGE_SECCOMP, -1);
        }
        plan->seccomp_loaded = true;
        mj_supervisor_main(plan, fds->detached, fds->listen_fd >= 0 ? 4 : -1, notify_fd);
    }

    /* stdio of init and the command: the host's pipes; 3 = status; everything else closed. */
    if (dup2(fds->stdin_r, 0) < 0 || dup2(fds->stdout_w, 1) < 0 || dup2(fds->stderr_w, 2) < 0 ||
        dup2(status_fd, 3) < 0)
        setup_failed(status_fd, MJ_STAGE_FORK, -1);
    status_fd = 3;
    int next = mj_place_fds(plan->cg_work_fds, plan->n_cg_work_fds, 4); /* 4.. work cgroup */
    if (next < 0)
        setup_failed(status_fd, MJ_STAGE_FORK, -1);
    if (syscall(SYS_close_range, (unsigned)next, ~0U, 0U) < 0) {
        for (int fd = next; fd < 1024; fd++)
            close(fd);
    }
    if (prepare_landlock(plan) < 0)
        setup_failed(status_fd, MJ_STAGE_LANDLOCK, -1);
    /* Logged refusals: the workload's filter goes on here, with init holding the listener, and
     * the command inherits it (as under a supervisor). */
    int notify_fd = -1;
    if (plan->seccomp_notify) {
        notify_fd = mj_seccomp_load_listener(plan);
        if (notify_fd < 0)
            setup_failed(status_fd, MJ_STAGE_SECCOMP, -1);
        plan->seccomp_loaded = true;
    }

    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    for (size_t i = 0; i < MJ_N_FORWARDED_SIGNALS; i++)
        sigaddset(&set, mj_forwarded_signals[i]);
    sigprocmask(SIG_BLOCK, &set, NULL);
    int sfd = notify_fd >= 0 ? signalfd(-1, &set, SFD_CLOEXEC) : -1;
    if (notify_fd >= 0 && sfd < 0)
        setup_failed(status_fd, MJ_STAGE_FORK, -1);

    int errpipe[2];
    if (pipe2(errpipe, O_CLOEXEC) < 0)
        setup_failed(status_fd, MJ_STAGE_FORK, -1);
    int64_t start_ns = realtime_ns();
    pid_t cmd = (pid_t)syscall(SYS_clone, SIGCHLD, 0, NULL, NULL, 0);
    if (cmd < 0)
        setup_failed(status_fd, MJ_STAGE_FORK, -1);
    if (cmd == 0) {
        close(errpipe[0]);
        close(status_fd);
        mj_exec_params_t params = {
            .argv = plan->argv.v, .envp = plan->envp.v, .path_env = plan->path_env, .workdir = plan->workdir,
            .uid = plan->inner_uid, .gid = plan->inner_gid, .exec_buf = plan->exec_buf,
            .landlock_fd = plan->landlock_fd, .tty = plan->tty,
            .cg_work_fds = plan->cg_work_fds, .n_cg_work_fds = plan->n_cg_work_fds,
        };
        mj_exec_child(plan, &params, errpipe[1]);
    }
    close(errpipe[1]);
    /* Init keeps no copy of the command's stdio: the host sees EOF when the tree is gone. */
    int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (devnull >= 0) {
        dup2(devnull, 0);
        dup2(devnull, 1);
        dup2(devnull, 2);
        close(devnull);
    }

    int32_t report[2];
    ssize_t n = mj_read_all(errpipe[0], report, sizeof(report));
    close(errpipe[0]);
    if (n == (ssize_t)sizeof(report)) {
        int st;
        while (waitpid(cmd, &st, 0) < 0 && errno == EINTR)
            ;
        send_msg(status_fd, MJ_MSG_EXEC_FAILED, report[0], report[1], 0);
        _exit(0);
    }
    mj_msg_t started = {.type = MJ_MSG_STARTED, .a = cmd, .t_ns = start_ns};
    (void)mj_write_all(status_fd, &started, sizeof(started));
    /* From here on init only waits, forwards signals and reports: lock it down to that. */
    if (mj_seccomp_load_init(notify_fd >= 0) < 0 && plan->seccomp) {
        kill(cmd, SIGKILL);
        setup_failed(status_fd, MJ_STAGE_SECCOMP, -1);
    }

    for (;;) {
        int sig;
        if (notify_fd >= 0) {
            struct pollfd pfd[2] = {{.fd = sfd, .events = POLLIN}, {.fd = notify_fd, .events = POLLIN}};
            if (ppoll(pfd, 2, NULL, NULL) < 0)
                continue;
            if (pfd[1].revents & POLLIN)
                serve_notification(notify_fd, status_fd);
            else if (pfd[1].revents & (POLLHUP | POLLERR | POLLNVAL))
                pfd[1].fd = -1; /* nothing filtered is left: stop watching it */
            if (pfd[1].fd < 0) {
                close(notify_fd);
                notify_fd = -1;
            }
            struct signalfd_siginfo ssi;
            if (!(pfd[0].revents & POLLIN) || read(sfd, &ssi, sizeof(ssi)) != (ssize_t)sizeof(ssi))
                continue;
            sig = (int)ssi.ssi_signo;
        } else {
            siginfo_t info;
            sig = sigwaitinfo(&set, &info);
            if (sig < 0)
                continue;
        }
        if (sig != SIGCHLD) {
            kill(cmd, sig);
            continue;
        }
        int st;
        pid_t pid;
        while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
            if (pid != cmd)
                continue;
            struct rusage ru;
            memset(&ru, 0, sizeof(ru));
            getrusage(RUSAGE_CHILDREN, &ru);
            mj_msg_t m = {
                .type = MJ_MSG_EXITED,
                .a = st,
                .c = mj_disk_full(plan),
                .t_ns = realtime_ns(),
                .u1 = (uint64_t)ru.ru_utime.tv_sec * 1000000 + (uint64_t)ru.ru_utime.tv_usec,
                .u2 = (uint64_t)ru.ru_stime.tv_sec * 1000000 + (uint64_t)ru.ru_stime.tv_usec,
                .u3 = (uint64_t)ru.ru_maxrss,
            };
            (void)mj_write_all(status_fd, &m, sizeof(m));
            /* Leaving pid 1 kills whatever the command left behind (setsid, double forks). */
            _exit(0);
        }
    }
}

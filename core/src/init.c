/* init.c — the sandbox's pid 1 for a one-shot run: takes over from the spawn stage's common child
 * setup (spawn.c) with the root built, starts the command and reaps until it exits, forwarding the
 * signals the host relays and reporting to the host over the status pipe (a socket when the command
 * has a terminal: a pty of the sandbox's own, console.c, whose master goes to the host first).
 * Runs after clone in a copy of a possibly multi-threaded host, so it uses raw system calls only:
 * no malloc, no stdio, no glibc fork() or set*id() wrappers (they take locks or broadcast to
 * threads that do not exist here).  Never: serves requests (that is the supervisor's). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "console.h"
#include "exec.h"
#include "init.h"
#include "landlock.h"
#include "plan.h"
#include "proto.h"
#include "seccomp.h"
#include "trace.h"
#include "util.h"
#include "wire.h"

/* One refused system call of the command: answered EPERM, reported to the host. */
static void serve_notification(int nfd, int status_fd)
{
    int32_t nr, pid;
    if (mj_seccomp_refuse_one(nfd, &nr, &pid) == 0)
        mj_wire_msg(status_fd, MJ_MSG_DENIED, nr, pid, 0);
}

__attribute__((noreturn)) void mj_init_main(mj_plan_t *plan, int status_fd, int stdin_r, int stdout_w, int stderr_w)
{
    /* stdio of init and the command: the host's pipes; 3 = status; everything else closed. */
    if (dup2(stdin_r, 0) < 0 || dup2(stdout_w, 1) < 0 || dup2(stderr_w, 2) < 0 || dup2(status_fd, 3) < 0)
        mj_wire_setup_failed(status_fd, MJ_STAGE_FORK, -1);
    status_fd = 3;
    int next = mj_place_fds(plan->cg_work_fds, plan->n_cg_work_fds, 4); /* 4.. work cgroup */
    if (next < 0)
        mj_wire_setup_failed(status_fd, MJ_STAGE_FORK, -1);
    if (syscall(SYS_close_range, (unsigned)next, ~0U, 0U) < 0) {
        for (int fd = next; fd < 1024; fd++)
            close(fd);
    }
    if (mj_landlock_build(plan) < 0)
        mj_wire_setup_failed(status_fd, MJ_STAGE_LANDLOCK, -1);
    /* Logged refusals: the workload's filter goes on here, with init holding the listener, and
     * the command inherits it (as under a supervisor). */
    int notify_fd = -1;
    if (plan->seccomp_notify) {
        notify_fd = mj_seccomp_load_listener(plan);
        if (notify_fd < 0)
            mj_wire_setup_failed(status_fd, MJ_STAGE_SECCOMP, -1);
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
        mj_wire_setup_failed(status_fd, MJ_STAGE_FORK, -1);

    int errpipe[2];
    if (pipe2(errpipe, O_CLOEXEC) < 0)
        mj_wire_setup_failed(status_fd, MJ_STAGE_FORK, -1);
    int tty = -1; /* the terminal's slave: the command's stdio instead of the host's pipes */
    if (plan->tty && mj_console_open(status_fd, plan->inner_uid, plan->inner_gid, plan->tty_rows, plan->tty_cols, &tty) < 0) {
        mj_wire_msg(status_fd, MJ_MSG_EXEC_FAILED, MJ_EXEC_STAGE_TTY, errno, 0);
        _exit(0);
    }
    mj_trace_mark("init: fds, landlock");
    int64_t start_ns = mj_realtime_ns();
    pid_t cmd = (pid_t)syscall(SYS_clone, SIGCHLD, 0, NULL, NULL, 0);
    if (cmd < 0)
        mj_wire_setup_failed(status_fd, MJ_STAGE_FORK, -1);
    if (cmd == 0) {
        close(errpipe[0]);
        close(status_fd);
        if (tty >= 0 && (dup2(tty, 0) < 0 || dup2(tty, 1) < 0 || dup2(tty, 2) < 0))
            _exit(127);
        mj_exec_params_t params = {
            .argv = plan->argv.v, .envp = plan->envp.v, .path_env = plan->path_env, .workdir = plan->workdir,
            .uid = plan->inner_uid, .gid = plan->inner_gid, .exec_buf = plan->exec_buf,
            .landlock_fd = plan->landlock_fd, .tty = plan->tty,
            .cg_work_fds = plan->cg_work_fds, .n_cg_work_fds = plan->n_cg_work_fds,
        };
        mj_exec_child(plan, &params, errpipe[1]);
    }
    close(errpipe[1]);
    if (tty >= 0)
        close(tty);
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
        mj_wire_msg(status_fd, MJ_MSG_EXEC_FAILED, report[0], report[1], 0);
        _exit(0);
    }
    mj_msg_t started = {.type = MJ_MSG_STARTED, .a = cmd, .t_ns = start_ns};
    (void)mj_write_all(status_fd, &started, sizeof(started));
    /* From here on init only waits, forwards signals and reports: lock it down to that. */
    if (mj_seccomp_load_init(notify_fd >= 0) < 0 && plan->seccomp) {
        kill(cmd, SIGKILL);
        mj_wire_setup_failed(status_fd, MJ_STAGE_SECCOMP, -1);
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
                .t_ns = mj_realtime_ns(),
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

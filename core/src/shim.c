/* shim.c — how a persistent sandbox starts its commands: the spawner and the exec shims.
 *
 * Seccomp filters are inherited, so the supervisor cannot narrow its own filter while it forks
 * the commands' shims.  It forks the spawner first (comm "moonjail-spawn") — a child that keeps
 * the workload's filter and only turns exec requests into shims — and then narrows itself.
 *
 * Each command runs under a shim (a child of the spawner, comm "moonjail-exec") that is a
 * child subreaper: whatever the command starts — setsid, double forks — stays below the shim,
 * so a timeout or a kill ends the whole tree.  The shim talks to the host over the per-command
 * channel the host passed with the request: STARTED, EXEC_FAILED, EXITED out; SIGNAL, KILL_TREE
 * in.  When the host end goes away the shim kills its tree, unless the command was detached.
 *
 * Owns: parsing exec requests (every field checked), the shim's life.  Never: allocation (the
 * request lands in a static buffer), or anything the supervisor itself does (it forks us). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>

#include "exec.h"
#include "plan.h"
#include "proc.h"
#include "proto.h"
#include "shim.h"
#include "util.h"
#include "wire.h"

static char req_buf[MJ_PROTO_MAX + sizeof(mj_req_t)];
static char *exec_argv[MJ_PROTO_MAX_ARGS + 1];
static char *exec_envp[MJ_PROTO_MAX_ENV + 1];
static char *exec_paths[MJ_PROTO_MAX_PATHS + 1];
static char exec_path[PATH_MAX];

static void reap_all(void)
{
    while (waitpid(-1, NULL, WNOHANG) > 0)
        ;
}

/* ------------------------------------------------------------------ exec shim */

static const mj_plan_t *shim_plan;

static void shim_send(int chan, uint32_t type, int32_t a, int32_t b, int64_t t_ns, const struct rusage *ru)
{
    mj_msg_t m = {.type = type, .a = a, .b = b, .t_ns = t_ns};
    if (type == MJ_MSG_EXITED && shim_plan)
        m.c = mj_disk_full(shim_plan);
    if (ru) {
        m.u1 = (uint64_t)ru->ru_utime.tv_sec * 1000000 + (uint64_t)ru->ru_utime.tv_usec;
        m.u2 = (uint64_t)ru->ru_stime.tv_sec * 1000000 + (uint64_t)ru->ru_stime.tv_usec;
        m.u3 = (uint64_t)ru->ru_maxrss;
    }
    (void)send(chan, &m, sizeof(m), MSG_NOSIGNAL);
}

static pid_t shim_cmd = -1;
static bool shim_cmd_done;
static int shim_cmd_status;
static struct rusage shim_cmd_ru;

/* Reaps whatever has exited, remembering the command's own status. */
static void shim_reap(void)
{
    int st;
    struct rusage ru;
    pid_t pid;
    while ((pid = wait4(-1, &st, WNOHANG, &ru)) > 0) {
        if (pid == shim_cmd) {
            shim_cmd_done = true;
            shim_cmd_status = st;
            shim_cmd_ru = ru;
        }
    }
}

typedef struct {
    pid_t self;
    int found;
} kill_tree_t;

/* SIGKILLs pid when it is a child of the shim. */
static int kill_if_child(int procfd, const char *name, pid_t pid, void *ctx)
{
    (void)procfd;
    (void)name;
    kill_tree_t *k = ctx;
    if (pid <= 1 || pid == k->self)
        return 0;
    char path[32], stat[512], digits[12];
    int nd = 0, len = 0;
    for (pid_t v = pid; v > 0 && nd < 11; v /= 10)
        digits[nd++] = (char)('0' + v % 10);
    memcpy(path, "/proc/", 6);
    len = 6;
    while (nd > 0)
        path[len++] = digits[--nd];
    memcpy(path + len, "/stat", 6);
    int sfd = open(path, O_RDONLY | O_CLOEXEC);
    if (sfd < 0)
        return 0;
    ssize_t r = read(sfd, stat, sizeof(stat) - 1);
    close(sfd);
    if (r <= 0)
        return 0;
    stat[r] = '\0';
    char *p = strrchr(stat, ')');
    if (!p || p[1] != ' ' || !p[2] || p[3] != ' ')
        return 0;
    if ((pid_t)atoi(p + 4) == k->self) {
        kill(pid, SIGKILL);
        k->found++;
    }
    return 0;
}

/* Kills every descendant of the shim.  With the shim as subreaper, orphans come back to it, so
 * repeated passes over /proc catch processes forked while we were killing. */
static void shim_kill_tree(void)
{
    kill_tree_t k = {.self = getpid()};
    for (int pass = 0; pass < 200; pass++) {
        k.found = 0;
        if (mj_proc_each_pid(-1, kill_if_child, &k) < 0)
            return;
        /* Reap what we killed; their children reparent to us for the next pass. */
        shim_reap();
        if (!k.found)
            return;
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
}

__attribute__((noreturn)) static void run_shim(const mj_plan_t *plan, const mj_exec_params_t *params, int fds[4],
                                               bool detached)
{
    int chan = fds[3];
    shim_plan = plan;
    prctl(PR_SET_NAME, "moonjail-exec", 0, 0, 0);
    prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);

    int errpipe[2];
    if (pipe2(errpipe, O_CLOEXEC) < 0) {
        shim_send(chan, MJ_MSG_EXEC_FAILED, MJ_EXEC_STAGE_EXEC, errno, mj_realtime_ns(), NULL);
        _exit(1);
    }
    int64_t start_ns = mj_realtime_ns();
    pid_t cmd = (pid_t)syscall(SYS_clone, SIGCHLD, 0, NULL, NULL, 0);
    if (cmd < 0) {
        shim_send(chan, MJ_MSG_EXEC_FAILED, MJ_EXEC_STAGE_EXEC, errno, start_ns, NULL);
        _exit(1);
    }
    if (cmd == 0) {
        /* stdio from the host's pipes, 3 = error pipe, nothing else. */
        /* stdio, 3 = error pipe, 4 = the Landlock ruleset (if any), nothing else. */
        int ep = fcntl(errpipe[1], F_DUPFD_CLOEXEC, 10);
        int src_ll = params->read_only ? plan->landlock_ro_fd : plan->landlock_fd;
        int ll = src_ll >= 0 ? fcntl(src_ll, F_DUPFD_CLOEXEC, 10) : -1;
        /* stdio, 3 = error pipe, 4 = Landlock ruleset, 5.. the work cgroup's cgroup.procs */
        int work[MJ_PLAN_MAX_WORK_FDS];
        size_t n_work = plan->n_cg_work_fds;
        for (size_t i = 0; i < n_work; i++)
            if ((work[i] = fcntl(plan->cg_work_fds[i], F_DUPFD_CLOEXEC, 64)) < 0)
                _exit(127);
        if (ep < 0 || (src_ll >= 0 && ll < 0) || dup2(fds[0], 0) < 0 || dup2(fds[1], 1) < 0 || dup2(fds[2], 2) < 0 ||
            dup3(ep, 3, O_CLOEXEC) < 0 || (ll >= 0 && dup3(ll, 4, O_CLOEXEC) < 0))
            _exit(127);
        int next = mj_place_fds(work, n_work, 5);
        if (next < 0)
            _exit(127);
        if (syscall(SYS_close_range, (unsigned)next, ~0U, 0U) < 0)
            for (int fd = next; fd < 1024; fd++)
                close(fd);
        mj_exec_params_t p2 = *params;
        p2.landlock_fd = ll >= 0 ? 4 : -1;
        p2.cg_work_fds = work;
        p2.n_cg_work_fds = n_work;
        mj_exec_child(plan, &p2, 3);
    }
    close(errpipe[1]);
    close(fds[0]);
    close(fds[1]);
    close(fds[2]);

    int32_t report[2];
    ssize_t n = mj_read_all(errpipe[0], report, sizeof(report));
    close(errpipe[0]);
    if (n == (ssize_t)sizeof(report)) {
        while (waitpid(cmd, NULL, 0) < 0 && errno == EINTR)
            ;
        shim_send(chan, MJ_MSG_EXEC_FAILED, report[0], report[1], mj_realtime_ns(), NULL);
        _exit(0);
    }
    shim_send(chan, MJ_MSG_STARTED, cmd, 0, start_ns, NULL);
    shim_cmd = cmd;

    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigprocmask(SIG_BLOCK, &set, NULL);
    int sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
    bool chan_open = true, killed = false;
    for (;;) {
        struct pollfd pfd[2] = {{.fd = sfd, .events = POLLIN}, {.fd = chan_open ? chan : -1, .events = POLLIN}};
        if (poll(pfd, 2, -1) < 0 && errno != EINTR)
            _exit(1);
        if (pfd[1].revents) {
            mj_req_t req;
            ssize_t r = recv(chan, &req, sizeof(req), MSG_DONTWAIT);
            if (r == (ssize_t)sizeof(req) && req.magic == MJ_PROTO_MAGIC) {
                if (req.type == MJ_CHAN_SIGNAL && req.arg > 0 && req.arg < NSIG)
                    kill(cmd, req.arg);
                else if (req.type == MJ_CHAN_KILL_TREE && !killed) {
                    killed = true;
                    shim_kill_tree();
                }
            } else if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
                chan_open = false;
                if (!detached && !killed) {
                    killed = true;
                    shim_kill_tree();
                }
            }
        }
        struct signalfd_siginfo si;
        while (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
            ;
        shim_reap();
        if (shim_cmd_done) {
            if (chan_open)
                shim_send(chan, MJ_MSG_EXITED, shim_cmd_status, 0, mj_realtime_ns(), &shim_cmd_ru);
            if (killed)
                shim_kill_tree();
            /* Leftovers (daemons) reparent to the supervisor and keep running. */
            _exit(0);
        }
    }
}

/* ------------------------------------------------------------------ spawner */

/* Parses an exec request in req_buf into exec_argv/exec_envp; -1 with errno on a bad one. */
static int parse_exec(const mj_plan_t *plan, size_t len, mj_exec_params_t *params)
{
    mj_exec_req_t er;
    char *strings[1] = {NULL};
    uint32_t only_ids[2] = {plan->inner_uid, plan->inner_gid}; /* rootless maps exactly one id */
    if (mj_wire_decode_exec(req_buf + sizeof(mj_req_t), len, plan->rootless ? only_ids : NULL, &er, &strings[0],
                            exec_argv, exec_envp, exec_paths) < 0)
        return -1;
    const char *path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    for (size_t i = 0; i < er.envc; i++)
        if (strncmp(exec_envp[i], "PATH=", 5) == 0)
            path = exec_envp[i] + 5;
    params->argv = exec_argv;
    params->envp = exec_envp;
    params->path_env = path;
    params->workdir = strings[0];
    params->uid = er.uid;
    params->gid = er.gid;
    params->exec_buf = exec_path;
    params->read_only = (er.flags & MJ_EXEC_READ_ONLY) != 0;
    params->tty = (er.flags & MJ_EXEC_TTY) != 0;
    params->no_network = (er.flags & MJ_EXEC_NO_NETWORK) != 0;
    params->landlock_fd = -1;
    params->restrict_paths = er.npaths ? exec_paths : NULL;
    if (params->read_only && plan->landlock_ro_fd < 0) {
        errno = ENOTSUP; /* cannot narrow without Landlock: refuse rather than run unrestricted */
        return -1;
    }
    return (int)er.flags;
}

__attribute__((noreturn)) void mj_shim_spawner_main(const mj_plan_t *plan, int sock)
{
    prctl(PR_SET_NAME, "moonjail-spawn", 0, 0, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    if (getppid() != 1)
        _exit(0); /* the supervisor is already gone */
    /* Every signal stays blocked, as in the supervisor: a shim inherits the mask, so its command's
     * SIGCHLD waits for its signalfd.  Shims are reaped here (so their times, with their
     * commands', land in this process's children times, which usage counts). */
    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    int sfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
    for (;;) {
        struct pollfd pfd[2] = {{.fd = sock, .events = POLLIN}, {.fd = sfd, .events = POLLIN}};
        if (poll(pfd, sfd >= 0 ? 2 : 1, -1) < 0)
            continue;
        if (sfd >= 0 && pfd[1].revents) {
            struct signalfd_siginfo si;
            while (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
                ;
            reap_all();
        }
        if (!pfd[0].revents)
            continue;
        int rfds[4] = {-1, -1, -1, -1}, nfds = 0;
        ssize_t n = mj_wire_recv_request(sock, req_buf, sizeof(req_buf), 0, rfds, &nfds);
        if (n == -1 && errno == EINTR)
            continue;
        if (n == 0 || (n == -1))
            _exit(0);
        int32_t answer;
        mj_exec_params_t params;
        int eflags = -1;
        if (n < (ssize_t)sizeof(mj_req_t) || nfds != 4)
            errno = EPROTO;
        else
            eflags = parse_exec(plan, (size_t)n - sizeof(mj_req_t), &params);
        if (eflags < 0) {
            answer = -errno;
        } else {
            pid_t shim = (pid_t)syscall(SYS_clone, SIGCHLD, 0, NULL, NULL, 0);
            if (shim == 0) {
                close(sock);
                if (sfd >= 0)
                    close(sfd);
                run_shim(plan, &params, rfds, (eflags & MJ_EXEC_DETACHED) != 0);
            }
            answer = shim < 0 ? -errno : (int32_t)shim;
        }
        for (int i = 0; i < nfds; i++)
            close(rfds[i]);
        (void)send(sock, &answer, sizeof(answer), MSG_NOSIGNAL);
    }
}


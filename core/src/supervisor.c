/* supervisor.c — pid 1 of a persistent sandbox, and the per-command exec shims it forks.
 *
 * The supervisor reaps zombies and serves requests from host connections (control socket from
 * the creator, plus connections accepted on a named sandbox's listening socket): exec, signal
 * everything, pause/resume, stop, shut down, status.  It allocates nothing: requests land in a
 * static buffer, connections in a fixed table.  Every request is checked before use; a bad one
 * gets an error reply and its fds are closed.
 *
 * The supervisor forks the spawner first (comm "moonjail-spawn"), then narrows its own seccomp
 * filter to what serving requests takes (no fork, exec, mount or writes to files): commands must
 * not inherit that, so the spawner — under the workload's filter only — forks their shims.
 *
 * Each command runs under a shim (a child of the spawner, comm "moonjail-exec") that is a
 * child subreaper: whatever the command starts — setsid, double forks — stays below the shim,
 * so a timeout or a kill ends the whole tree.  The shim talks to the host over the per-command
 * channel the host passed with the request: STARTED, EXEC_FAILED, EXITED out; SIGNAL, KILL_TREE
 * in.  When the host end goes away the shim kills its tree, unless the command was detached. */
#define _GNU_SOURCE
#include <dirent.h>
#include <sys/ioctl.h>
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

#include "internal.h"
#include "proto.h"

#define MAX_CONNS 64
#define CTL_FD 3

static char req_buf[MJ_PROTO_MAX + sizeof(mj_req_t)];
static char *exec_argv[MJ_PROTO_MAX_ARGS + 1];
static char *exec_envp[MJ_PROTO_MAX_ENV + 1];
static char exec_path[PATH_MAX];

static int64_t monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void reply(int fd, uint32_t type, int32_t err, int32_t value)
{
    mj_rep_t r = {.magic = MJ_PROTO_MAGIC, .type = type, .err = err, .value = value};
    (void)send(fd, &r, sizeof(r), MSG_NOSIGNAL | MSG_DONTWAIT);
}

static void reap_all(void)
{
    while (waitpid(-1, NULL, WNOHANG) > 0)
        ;
}

/* Waits up to ms for every other process to be gone, reaping; true when none is left. */
static bool wait_empty(int64_t ms)
{
    int64_t deadline = monotonic_ms() + ms;
    for (;;) {
        pid_t r;
        while ((r = waitpid(-1, NULL, WNOHANG)) > 0)
            ;
        if (r < 0 && errno == ECHILD)
            return true;
        if (monotonic_ms() >= deadline)
            return false;
        struct timespec ts = {0, 5 * 1000000};
        nanosleep(&ts, NULL);
    }
}

static void kill_everything(void)
{
    kill(-1, SIGKILL);
    (void)wait_empty(5000);
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

/* Seccomp filters are inherited, so the supervisor cannot narrow its own filter while it forks
 * the commands' shims.  It forks the spawner first — a child that keeps the workload's filter and
 * only turns exec requests into shims — and then narrows itself (mj_seccomp_load_supervisor). */
static pid_t spawner_pid = -1;
static int spawner_fd = -1; /* the supervisor's end of the spawner's socket */

static int parse_exec(const mj_plan_t *plan, size_t len, mj_exec_params_t *params);

/* Receives a request (into req_buf) with up to 4 fds; bytes, -1, or -2 (EMSGSIZE) when it was
 * truncated (its fds, if any, are in rfds for the caller to close). */
static ssize_t recv_request(int fd, int flags, int rfds[4], int *nfds)
{
    bool truncated;
    ssize_t n = mj_wire_recv(fd, req_buf, sizeof(req_buf), flags, rfds, 4, nfds, &truncated);
    if (truncated) {
        errno = EMSGSIZE;
        return -2;
    }
    return n;
}

__attribute__((noreturn)) static void spawner_main(const mj_plan_t *plan, int sock, bool detached_sandbox)
{
    (void)detached_sandbox;
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
        ssize_t n = recv_request(sock, 0, rfds, &nfds);
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

/* Hands the exec request in req_buf (n bytes) with its 4 fds to the spawner; the shim's pid, or
 * -1 with errno. */
static pid_t forward_exec(size_t n, const int rfds[4])
{
    struct iovec iov = {.iov_base = req_buf, .iov_len = n};
    int32_t answer;
    if (spawner_fd < 0 || mj_wire_send(spawner_fd, &iov, 1, rfds, 4, MSG_NOSIGNAL) < 0 ||
        recv(spawner_fd, &answer, sizeof(answer), 0) != (ssize_t)sizeof(answer)) {
        errno = ECHILD; /* the spawner is gone: this sandbox can start no more commands */
        return -1;
    }
    if (answer < 0) {
        errno = -answer;
        return -1;
    }
    return (pid_t)answer;
}

/* Signals every process of the sandbox but the supervisor and the spawner (kill(-1) would hit
 * the spawner too, and a sandbox whose spawner is gone can start nothing). */
static int signal_unless_ours(int procfd, const char *name, pid_t pid, void *ctx)
{
    (void)procfd;
    (void)name;
    if (pid > 1 && pid != spawner_pid)
        kill(pid, *(int *)ctx);
    return 0;
}

static void signal_all(int sig)
{
    if (mj_proc_each_pid(-1, signal_unless_ours, &sig) < 0)
        kill(-1, sig);
}

/* ------------------------------------------------------------------ requests */

/* Parses an exec request in req_buf into exec_argv/exec_envp; -1 with errno on a bad one. */
static int parse_exec(const mj_plan_t *plan, size_t len, mj_exec_params_t *params)
{
    if (len < sizeof(mj_exec_req_t)) {
        errno = EPROTO;
        return -1;
    }
    mj_exec_req_t er;
    memcpy(&er, req_buf + sizeof(mj_req_t), sizeof(er));
    if (er.argc < 1 || er.argc > MJ_PROTO_MAX_ARGS || er.envc > MJ_PROTO_MAX_ENV || (er.flags & ~(MJ_EXEC_DETACHED | MJ_EXEC_READ_ONLY | MJ_EXEC_TTY | MJ_EXEC_NO_NETWORK))) {
        errno = E2BIG;
        return -1;
    }
    if (er.uid >= 65536 || er.gid >= 65536 ||
        (plan->rootless && (er.uid != plan->inner_uid || er.gid != plan->inner_gid))) {
        errno = EINVAL; /* rootless maps exactly one id */
        return -1;
    }
    char *p = req_buf + sizeof(mj_req_t) + sizeof(er);
    char *end = req_buf + sizeof(mj_req_t) + len;
    size_t want = 1 + er.argc + er.envc;
    char *strings[1] = {NULL};
    for (size_t i = 0; i < want; i++) {
        char *nul = memchr(p, '\0', (size_t)(end - p));
        if (!nul) {
            errno = EPROTO;
            return -1;
        }
        if (i == 0)
            strings[0] = p;
        else if (i <= er.argc)
            exec_argv[i - 1] = p;
        else
            exec_envp[i - 1 - er.argc] = p;
        p = nul + 1;
    }
    exec_argv[er.argc] = NULL;
    exec_envp[er.envc] = NULL;
    if (strings[0][0] != '/' || !exec_argv[0][0]) {
        errno = EINVAL;
        return -1;
    }
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
    if (params->read_only && plan->landlock_ro_fd < 0) {
        errno = ENOTSUP; /* cannot narrow without Landlock: refuse rather than run unrestricted */
        return -1;
    }
    return (int)er.flags;
}

typedef struct {
    int fd;
    bool owner; /* the creator of an anonymous sandbox: its going away ends the sandbox */
} conn_t;

static conn_t conns[MAX_CONNS];

/* Refused system calls (seccomp user notification): answered EPERM, remembered for the host. */
static mj_denial_rec_t denials[MJ_DENIALS_MAX];
static unsigned n_denials;

static void handle_notification(int nfd)
{
    int32_t nr, pid;
    if (mj_seccomp_refuse_one(nfd, &nr, &pid) == 0 && n_denials < MJ_DENIALS_MAX)
        denials[n_denials++] = (mj_denial_rec_t){.nr = nr, .pid = pid};
}
static int own_fds[5] = {-1, -1, -1, -1, -1}; /* listen, lock, id slot, signalfd, notify: closed in shims */
static int n_conns;
static int flags_state;
static int64_t linger_until = -1;

static void close_conn(int i)
{
    close(conns[i].fd);
    conns[i] = conns[--n_conns];
}

static void begin_shutdown(int64_t linger_ms)
{
    kill_everything();
    flags_state |= MJ_SUP_SHUTTING_DOWN | MJ_SUP_STOPPED;
    flags_state &= ~MJ_SUP_PAUSED;
    linger_until = monotonic_ms() + (linger_ms > 0 ? linger_ms : 0);
}

static void handle_request(int ci)
{
    int fd = conns[ci].fd;
    int rfds[4] = {-1, -1, -1, -1};
    int nfds = 0;
    ssize_t n = recv_request(fd, MSG_DONTWAIT, rfds, &nfds);
    if (n == -1 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n == 0 || n == -1) {
        for (int i = 0; i < nfds; i++)
            close(rfds[i]);
        bool owner = conns[ci].owner;
        close_conn(ci);
        if (owner && !(flags_state & MJ_SUP_SHUTTING_DOWN))
            begin_shutdown(0);
        return;
    }
    mj_req_t req;
    if (n == -2 || (size_t)n < sizeof(req)) { /* short, or truncated */
        for (int i = 0; i < nfds; i++)
            close(rfds[i]);
        reply(fd, MJ_REP_ERR, EPROTO, 0);
        return;
    }
    memcpy(&req, req_buf, sizeof(req));
    if (req.magic != MJ_PROTO_MAGIC || req.len != (size_t)n - sizeof(req) ||
        (req.type != MJ_REQ_EXEC && nfds > 0)) {
        for (int i = 0; i < nfds; i++)
            close(rfds[i]);
        reply(fd, MJ_REP_ERR, EPROTO, 0);
        return;
    }
    switch (req.type) {
    case MJ_REQ_PING:
        reply(fd, MJ_REP_OK, 0, 0);
        break;
    case MJ_REQ_STATUS:
        reply(fd, MJ_REP_OK, 0, flags_state);
        break;
    case MJ_REQ_DENIALS: {
        mj_rep_t r = {.magic = MJ_PROTO_MAGIC, .type = MJ_REP_OK, .value = (int32_t)n_denials};
        struct iovec iov2[2] = {{.iov_base = &r, .iov_len = sizeof(r)},
                                {.iov_base = denials, .iov_len = n_denials * sizeof(denials[0])}};
        (void)mj_wire_send(fd, iov2, 2, NULL, 0, MSG_NOSIGNAL | MSG_DONTWAIT);
        n_denials = 0;
        break;
    }
    case MJ_REQ_ROOT_FD: {
        /* The host reaches our files through this (rootless hosts cannot open /proc/1/root of a
         * non-dumpable process whose mm belongs to the initial user namespace). */
        int root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (root < 0) {
            reply(fd, MJ_REP_ERR, errno, 0);
            break;
        }
        mj_rep_t r = {.magic = MJ_PROTO_MAGIC, .type = MJ_REP_OK};
        struct iovec iov2 = {.iov_base = &r, .iov_len = sizeof(r)};
        (void)mj_wire_send(fd, &iov2, 1, &root, 1, MSG_NOSIGNAL | MSG_DONTWAIT);
        close(root);
        break;
    }
    case MJ_REQ_EXEC: {
        int refuse = nfds != 4                                              ? EPROTO
                     : (flags_state & (MJ_SUP_STOPPED | MJ_SUP_SHUTTING_DOWN)) ? ESHUTDOWN
                     : (flags_state & MJ_SUP_PAUSED)                         ? EBUSY
                                                                             : 0;
        if (refuse) {
            for (int i = 0; i < nfds; i++)
                close(rfds[i]);
            reply(fd, MJ_REP_ERR, refuse, 0);
            break;
        }
        pid_t shim = forward_exec((size_t)n, rfds); /* the spawner parses and forks */
        int e = errno;
        for (int i = 0; i < 4; i++)
            close(rfds[i]);
        if (shim < 0)
            reply(fd, MJ_REP_ERR, e, 0);
        else
            reply(fd, MJ_REP_OK, 0, shim);
        break;
    }
    case MJ_REQ_SIGNAL_ALL:
        if (req.arg <= 0 || req.arg >= NSIG) {
            reply(fd, MJ_REP_ERR, EINVAL, 0);
            break;
        }
        signal_all(req.arg);
        reply(fd, MJ_REP_OK, 0, 0);
        break;
    case MJ_REQ_PAUSE:
        if (flags_state & (MJ_SUP_PAUSED | MJ_SUP_STOPPED)) {
            reply(fd, MJ_REP_ERR, (flags_state & MJ_SUP_PAUSED) ? EALREADY : ESHUTDOWN, 0);
            break;
        }
        kill(-1, SIGSTOP);
        flags_state |= MJ_SUP_PAUSED;
        reply(fd, MJ_REP_OK, 0, 0);
        break;
    case MJ_REQ_RESUME:
        if (!(flags_state & MJ_SUP_PAUSED)) {
            reply(fd, MJ_REP_ERR, EALREADY, 0);
            break;
        }
        kill(-1, SIGCONT);
        flags_state &= ~MJ_SUP_PAUSED;
        reply(fd, MJ_REP_OK, 0, 0);
        break;
    case MJ_REQ_STOP: {
        int64_t grace = req.arg > 0 ? req.arg : 0;
        /* no command starts after a stop: the spawner (which ignores SIGTERM) goes first */
        if (spawner_pid > 0)
            kill(spawner_pid, SIGKILL);
        kill(-1, SIGTERM);
        kill(-1, SIGCONT);
        if (!wait_empty(grace))
            kill_everything();
        flags_state = (flags_state & ~MJ_SUP_PAUSED) | MJ_SUP_STOPPED;
        reply(fd, MJ_REP_OK, 0, 0);
        break;
    }
    case MJ_REQ_SHUTDOWN:
        begin_shutdown(req.arg);
        reply(fd, MJ_REP_OK, 0, 0);
        break;
    default:
        reply(fd, MJ_REP_ERR, EOPNOTSUPP, 0);
        break;
    }
}

__attribute__((noreturn)) void mj_supervisor_main(const mj_plan_t *plan, bool detached, int listen_fd, int notify_fd)
{
    prctl(PR_SET_NAME, "moonjail-init", 0, 0, 0);
    if (detached)
        setsid();
    /* listen() here, not on the host: peers' SO_PEERCRED then names the supervisor itself. */
    if (listen_fd >= 0 && listen(listen_fd, 64) < 0)
        _exit(1);
    sigset_t set;
    sigfillset(&set);
    sigprocmask(SIG_BLOCK, &set, NULL);
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    /* Which of our fixed fds exist (named sandboxes have a lock; root-started ones an id slot). */
    own_fds[0] = listen_fd;
    own_fds[1] = fcntl(5, F_GETFD) >= 0 ? 5 : -1;
    own_fds[2] = fcntl(6, F_GETFD) >= 0 ? 6 : -1;
    int sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
    own_fds[3] = sfd;
    own_fds[4] = notify_fd;

    conns[n_conns++] = (conn_t){.fd = CTL_FD, .owner = !detached};

    int sp[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0)
        _exit(1);
    spawner_pid = (pid_t)syscall(SYS_clone, SIGCHLD, 0, NULL, NULL, 0);
    if (spawner_pid < 0)
        _exit(1);
    if (spawner_pid == 0) {
        close(sp[0]);
        close(CTL_FD);
        for (size_t f = 0; f < MJ_ARRAY_LEN(own_fds); f++)
            if (own_fds[f] >= 0)
                close(own_fds[f]);
        spawner_main(plan, sp[1], detached);
    }
    close(sp[1]);
    spawner_fd = sp[0];
    /* From here the supervisor only serves requests: a filter of its own, narrower than the
     * workload's (which the spawner and every command keep). */
    if (mj_seccomp_load_supervisor(notify_fd >= 0) < 0 && plan->seccomp)
        _exit(1);

    mj_msg_t ready = {.type = MJ_MSG_READY, .t_ns = mj_realtime_ns()};
    (void)send(CTL_FD, &ready, sizeof(ready), MSG_NOSIGNAL);

    struct pollfd pfd[MAX_CONNS + 3];
    for (;;) {
        if (linger_until >= 0 && monotonic_ms() >= linger_until)
            _exit(0);
        int np = 0;
        pfd[np++] = (struct pollfd){.fd = sfd, .events = POLLIN};
        int notify_slot = -1;
        if (notify_fd >= 0) {
            notify_slot = np;
            pfd[np++] = (struct pollfd){.fd = notify_fd, .events = POLLIN};
        }
        int listen_slot = -1;
        if (listen_fd >= 0 && n_conns < MAX_CONNS) {
            listen_slot = np;
            pfd[np++] = (struct pollfd){.fd = listen_fd, .events = POLLIN};
        }
        int first_conn = np;
        for (int i = 0; i < n_conns; i++)
            pfd[np++] = (struct pollfd){.fd = conns[i].fd, .events = POLLIN};
        int timeout = -1;
        if (linger_until >= 0) {
            int64_t left = linger_until - monotonic_ms();
            timeout = left > 0 ? (int)left : 0;
        }
        if (poll(pfd, (nfds_t)np, timeout) < 0) {
            if (errno == EINTR)
                continue;
            _exit(1);
        }
        if (pfd[0].revents) {
            struct signalfd_siginfo si;
            while (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
                ;
            reap_all();
        }
        if (notify_slot >= 0 && (pfd[notify_slot].revents & POLLIN))
            handle_notification(notify_fd);
        if (listen_slot >= 0 && pfd[listen_slot].revents) {
            int c = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
            if (c >= 0)
                conns[n_conns++] = (conn_t){.fd = c, .owner = false};
        }
        /* Walk backwards: handling may close (swap-remove) a connection. */
        for (int i = np - 1; i >= first_conn; i--) {
            int ci = i - first_conn;
            if (ci < n_conns && pfd[i].revents && conns[ci].fd == pfd[i].fd)
                handle_request(ci);
        }
        if ((flags_state & MJ_SUP_SHUTTING_DOWN) && n_conns == 0 && linger_until >= 0 &&
            monotonic_ms() >= linger_until)
            _exit(0);
    }
}

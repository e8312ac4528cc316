/* supervisor.c — pid 1 of a persistent sandbox.
 *
 * Takes over from the spawn stage's common child setup (spawn.c): arranges its fds, builds the
 * Landlock rulesets and loads the workload's seccomp filter, which every command inherits.  Then
 * it reaps zombies and serves requests from host connections (control socket from the creator,
 * plus connections accepted on a named sandbox's listening socket): exec, signal everything,
 * pause/resume, stop, shut down, status, the root fd, the commands' Landlock ruleset, denials.  It allocates nothing: requests
 * land in a static buffer, connections in a fixed table.  Every request is checked before use; a
 * bad one gets an error reply and its fds are closed.
 *
 * The supervisor forks the spawner first (shim.c), then narrows its own seccomp filter to what
 * serving requests takes (no fork, exec, mount or writes to files): commands must not inherit
 * that, so the spawner — under the workload's filter only — forks their exec shims.
 * Never: runs a command itself, or calls back into the spawn stage. */
#define _GNU_SOURCE
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

#include "landlock.h"
#include "plan.h"
#include "proc.h"
#include "proto.h"
#include "seccomp.h"
#include "shim.h"
#include "supervisor.h"
#include "util.h"
#include "wire.h"

#define MAX_CONNS 64
#define CTL_FD 3

static char req_buf[MJ_PROTO_MAX + sizeof(mj_req_t)];

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

/* ------------------------------------------------------------------ spawner (shim.c) */

static pid_t spawner_pid = -1;
static int spawner_fd = -1; /* the supervisor's end of the spawner's socket */

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
static int own_fds[6] = {-1, -1, -1, -1, -1, -1}; /* listen, lock, id slot, signalfd, notify, layer: closed in shims */
static int layer_fd = -1; /* the container layer (layer.c), for the host's diff of the root */
static int ruleset_fd = -1; /* the commands' Landlock ruleset (the plan's), -1 without Landlock */
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

/* Stops every command: SIGTERM, SIGKILL after grace ms; the sandbox is then "stopped". */
static void stop_all(int64_t grace)
{
    /* no command starts after a stop: the spawner (which ignores SIGTERM) goes first */
    if (spawner_pid > 0)
        kill(spawner_pid, SIGKILL);
    kill(-1, SIGTERM);
    kill(-1, SIGCONT);
    if (!wait_empty(grace))
        kill_everything();
    flags_state = (flags_state & ~MJ_SUP_PAUSED) | MJ_SUP_STOPPED;
}

static void handle_request(int ci)
{
    int fd = conns[ci].fd;
    int rfds[4] = {-1, -1, -1, -1};
    int nfds = 0;
    ssize_t n = mj_wire_recv_request(fd, req_buf, sizeof(req_buf), MSG_DONTWAIT, rfds, &nfds);
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
    if (n == -2 || mj_wire_check_request(req_buf, (size_t)n, nfds, &req) != 0) { /* truncated, short, bad */
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
         * non-dumpable process whose mm belongs to the initial user namespace); arg 1 asks for the
         * container layer instead (what the root changed, for the host's diff). */
        if (req.arg == 1 && layer_fd < 0) {
            reply(fd, MJ_REP_ERR, ENOENT, 0);
            break;
        }
        int root = req.arg == 1 ? fcntl(layer_fd, F_DUPFD_CLOEXEC, 3) : open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
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
    case MJ_REQ_RULESET: {
        /* The host confines its own operations on our files with the rules our commands have. */
        mj_rep_t r = {.magic = MJ_PROTO_MAGIC, .type = MJ_REP_OK, .value = ruleset_fd >= 0};
        struct iovec iov2 = {.iov_base = &r, .iov_len = sizeof(r)};
        (void)mj_wire_send(fd, &iov2, 1, &ruleset_fd, ruleset_fd >= 0 ? 1 : 0, MSG_NOSIGNAL | MSG_DONTWAIT);
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
    case MJ_REQ_STOP:
        stop_all(req.arg > 0 ? req.arg : 0);
        reply(fd, MJ_REP_OK, 0, 0);
        break;
    case MJ_REQ_SHUTDOWN:
        begin_shutdown(req.arg);
        reply(fd, MJ_REP_OK, 0, 0);
        break;
    default:
        reply(fd, MJ_REP_ERR, EOPNOTSUPP, 0);
        break;
    }
}

/* Serves requests until shut down; never returns.  fds 0-2 are /dev/null, 3 = control
 * connection, 4 = listen socket or -1, 5 = lock, 6 = id slot, then the work cgroups' and the
 * container layer's. */
__attribute__((noreturn)) static void serve(const mj_plan_t *plan, bool detached, int listen_fd, int notify_fd)
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
    own_fds[5] = layer_fd;
    ruleset_fd = plan->landlock_fd;

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
        mj_shim_spawner_main(plan, sp[1]);
    }
    close(sp[1]);
    spawner_fd = sp[0];
    /* From here the supervisor only serves requests: a filter of its own, narrower than the
     * workload's (which the spawner and every command keep). */
    if (mj_seccomp_load_supervisor(notify_fd >= 0) < 0 && plan->seccomp)
        _exit(1);

    mj_msg_t ready = {.type = MJ_MSG_READY, .t_ns = mj_realtime_ns()};
    (void)send(CTL_FD, &ready, sizeof(ready), MSG_NOSIGNAL);

    /* A lifetime: the sandbox stops itself when it ends (its files stay readable). */
    int64_t expire_at = plan->lifetime > 0 ? monotonic_ms() + (int64_t)(plan->lifetime * 1000) : -1;
    struct pollfd pfd[MAX_CONNS + 3];
    for (;;) {
        if (linger_until >= 0 && monotonic_ms() >= linger_until)
            _exit(0);
        if (expire_at >= 0 && monotonic_ms() >= expire_at) {
            expire_at = -1;
            if (!(flags_state & (MJ_SUP_STOPPED | MJ_SUP_SHUTTING_DOWN))) {
                stop_all(5000);
                flags_state |= MJ_SUP_EXPIRED;
            }
        }
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
        if (expire_at >= 0) {
            int64_t left = expire_at - monotonic_ms();
            int t = left > 0 ? (left > INT32_MAX ? INT32_MAX : (int)left) : 0;
            timeout = timeout < 0 || t < timeout ? t : timeout;
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

__attribute__((noreturn)) void mj_supervisor_start(mj_plan_t *plan, int ctl_fd, int listen_fd, int lock_fd, bool detached)
{
    /* 0-2 /dev/null, 3 control, 4 listen, 5 lock, 6 id slot; nothing else survives. */
    int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (devnull >= 0 && devnull < 64) { /* out of the 3..6 range we are about to fill */
        int high = fcntl(devnull, F_DUPFD_CLOEXEC, 64);
        close(devnull);
        devnull = high;
    }
    /* the container layer's fd, kept for the host's diff: out of the way first */
    int layer = plan->layer_fd >= 0 ? fcntl(plan->layer_fd, F_DUPFD_CLOEXEC, 64) : -1;
    if (plan->layer_fd >= 0 && layer < 0)
        mj_wire_setup_failed(ctl_fd, MJ_STAGE_FORK, -1);
    int keep[4] = {ctl_fd, listen_fd, lock_fd, plan->id_slot_fd};
    /* Move the kept fds above the range we are about to fill, then into place. */
    for (int i = 0; i < 4; i++)
        if (keep[i] >= 0 && (keep[i] = fcntl(keep[i], F_DUPFD_CLOEXEC, 64)) < 0)
            mj_wire_setup_failed(ctl_fd, MJ_STAGE_FORK, -1);
    if (devnull < 0 || dup2(devnull, 0) < 0 || dup2(devnull, 1) < 0 || dup2(devnull, 2) < 0)
        mj_wire_setup_failed(ctl_fd, MJ_STAGE_FORK, -1);
    for (int i = 0; i < 4; i++) {
        if (keep[i] < 0) {
            /* a placeholder keeps the slot taken, so nothing else (a Landlock ruleset) lands
             * on a number the supervisor treats as its own */
            if (dup3(devnull, 3 + i, O_CLOEXEC) < 0)
                mj_wire_setup_failed(keep[0], MJ_STAGE_FORK, -1);
            continue;
        }
        if (dup3(keep[i], 3 + i, O_CLOEXEC) < 0)
            mj_wire_setup_failed(keep[0], MJ_STAGE_FORK, -1);
    }
    /* 7.. the work cgroup's cgroup.procs, one per hierarchy */
    int next = mj_place_fds(plan->cg_work_fds, plan->n_cg_work_fds, 7);
    if (next < 0)
        mj_wire_setup_failed(CTL_FD, MJ_STAGE_FORK, -1);
    /* then the layer's */
    if (layer >= 0) {
        if (dup3(layer, next, O_CLOEXEC) < 0)
            mj_wire_setup_failed(CTL_FD, MJ_STAGE_FORK, -1);
        layer_fd = next++;
    }
    plan->layer_fd = -1; /* its number is closed below or reused */
    if (syscall(SYS_close_range, (unsigned)next, ~0U, 0U) < 0)
        for (int fd = next; fd < 1024; fd++)
            close(fd);
    if (mj_landlock_build(plan) < 0)
        mj_wire_setup_failed(CTL_FD, MJ_STAGE_LANDLOCK, -1);
    /* The workload's filter, loaded once here: every command inherits it (no per-exec load),
     * and the supervisor itself runs under it too (it needs nothing the workload may not do;
     * CAP_SYS_ADMIN in our user namespace stands in for no_new_privs, which would get in the
     * way of LSM transitions at exec). */
    int notify_fd = -1;
    if (plan->seccomp_notify) {
        notify_fd = mj_seccomp_load_listener(plan);
        if (notify_fd < 0)
            mj_wire_setup_failed(CTL_FD, MJ_STAGE_SECCOMP, -1);
    } else if (mj_seccomp_load(plan) < 0) {
        mj_wire_setup_failed(CTL_FD, MJ_STAGE_SECCOMP, -1);
    }
    plan->seccomp_loaded = true;
    serve(plan, detached, listen_fd >= 0 ? 4 : -1, notify_fd);
}

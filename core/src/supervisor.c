/* supervisor.c — pid 1 of a persistent sandbox.
 *
 * Takes over from the spawn stage's common child setup (spawn.c): arranges its fds, builds the
 * Landlock rulesets, forks the spawner (shim.c), which forks every command into the workload's
 * pid namespace under the workload's seccomp filter, then loads its own filters and reaps and
 * serves requests from host connections (the control connection from the creator, plus
 * connections accepted on a named sandbox's listening socket): exec (handed on to the spawner),
 * signal everything, pause/resume, stop (every command, not the spawner or the reaper, so
 * that start can take commands again), start, shut down, status, the root fd, the commands' Landlock
 * ruleset, denials, detach, and an OCI container's main command (maincmd.c: handed over, let go,
 * signalled; when it ends, the supervisor exits with its status).  It allocates nothing: requests land in a static buffer, connections
 * in a fixed table.  Every request is checked before use; a bad one gets an error reply and its
 * fds are closed.
 *
 * Out of the workload's reach: the supervisor and the spawner live in the sandbox's first pid
 * namespace, every command in a nested one whose init is reaper.c, so no command can see, signal,
 * stop or trace them (SECURITY.md, "Helpers inside the workload's reach").  The root's /proc is
 * the workload's; the supervisor sees its own namespace through a procfs of its own (a detached,
 * read-only mount no command can reach).  It never waits on anything a command controls: replies
 * and hand-offs to the spawner are non-blocking, and a stop's grace period is a deadline in the
 * loop, not a sleep.  Its spawner or reaper dying is the end of the sandbox: it cannot start
 * another (it may not fork), so it ends everything, and the host reports the sandbox failed.
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
#include "maincmd.h"
#include "plan.h"
#include "proc.h"
#include "proto.h"
#include "rootfs.h"
#include "seccomp.h"
#include "shim.h"
#include "supervisor.h"
#include "util.h"
#include "wire.h"

#define MAX_CONNS 64
/* Fixed fd numbers: 0-2 /dev/null, then these, then the work cgroup's cgroup.procs. */
#define CTL_FD 3
#define LISTEN_FD 4
#define LOCK_FD 5
#define ID_SLOT_FD 6
#define PIDNS_FD 7
#define FIRST_WORK_FD 8

#ifndef MOUNT_ATTR_RDONLY
#define MOUNT_ATTR_RDONLY 0x00000001
#define MOUNT_ATTR_NOSUID 0x00000002
#define MOUNT_ATTR_NODEV 0x00000004
#define MOUNT_ATTR_NOEXEC 0x00000008
#endif

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

/* ------------------------------------------------------------------ our processes */

static pid_t spawner_pid = -1;
static int spawner_fd = -1; /* the supervisor's end of the spawner's socket */
static pid_t reaper_pid = -1;
static int own_proc = -1;   /* a procfs of our own namespace: every process of the sandbox */

/* Waits up to ms for every child (the spawner, the reaper, commands whose spawner died) to be
 * gone, reaping; true when none is left. */
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
    kill(-1, SIGKILL); /* everyone in our namespace; the workload's dies with its init */
    spawner_pid = reaper_pid = -1;
    (void)wait_empty(5000);
}

typedef struct {
    int sig;
    unsigned found;
} signal_walk_t;

/* Signals pid when it is one of the workload's (not us, the spawner or the reaper). */
static int signal_workload_pid(int procfd, const char *name, pid_t pid, void *ctx)
{
    (void)procfd;
    (void)name;
    signal_walk_t *w = ctx;
    if (pid > 1 && pid != spawner_pid && pid != reaper_pid) {
        w->found++;
        if (w->sig)
            kill(pid, w->sig);
    }
    return 0;
}

/* Sends sig (0: none) to every process of the workload; how many there were. */
static unsigned signal_workload(int sig)
{
    signal_walk_t w = {.sig = sig};
    /* A fresh fd each time: a walk reads from the fd's offset and moves it. */
    int d = own_proc >= 0 ? openat(own_proc, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
    if (d < 0)
        return 0;
    (void)mj_proc_each_pid(d, signal_workload_pid, &w);
    close(d);
    return w.found;
}

/* The pid a process of ours has in the workload's namespace (what commands and the host see
 * there): the last field of NSpid in its status, or pid itself when there is none. */
static int32_t workload_pid(pid_t pid)
{
    char path[24], buf[2048];
    int n = 0;
    for (pid_t v = pid; v > 0 && n < 11; v /= 10)
        buf[n++] = (char)('0' + v % 10);
    int len = 0;
    while (n > 0)
        path[len++] = buf[--n];
    memcpy(path + len, "/status", 8);
    int fd = own_proc >= 0 ? openat(own_proc, path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW) : -1;
    if (fd < 0)
        return pid;
    ssize_t r = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (r <= 0)
        return pid;
    buf[r] = '\0';
    char *line = strstr(buf, "\nNSpid:");
    if (!line)
        return pid;
    char *end = strchr(line + 1, '\n');
    if (end)
        *end = '\0';
    char *last = strrchr(line, '\t');
    if (!last)
        last = strrchr(line, ' ');
    long v = last ? strtol(last + 1, NULL, 10) : 0;
    return v > 0 ? (int32_t)v : pid;
}

/* ------------------------------------------------------------------ requests */

typedef struct {
    int fd;
    bool owner; /* the creator, until it detached: its going away ends the sandbox */
    uint32_t serial;
} conn_t;

static conn_t conns[MAX_CONNS];
static uint32_t next_serial = 1;

/* Refused system calls (seccomp user notification): answered EPERM, remembered for the host. */
static mj_denial_rec_t denials[MJ_DENIALS_MAX];
static unsigned n_denials;

static void handle_notification(int nfd)
{
    int32_t nr, pid;
    if (mj_seccomp_refuse_one(nfd, &nr, &pid) == 0 && n_denials < MJ_DENIALS_MAX)
        denials[n_denials++] = (mj_denial_rec_t){.nr = nr, .pid = workload_pid(pid)};
}
static int layer_fd = -1; /* the container layer (layer.c), for the host's diff of the root */
static int lease_fd = -1; /* an image's lease (image/lease.h): open while the supervisor lives */
static int ruleset_fd = -1; /* the commands' Landlock ruleset (the plan's), -1 without Landlock */
static int n_conns;
static int flags_state;
static int64_t linger_until = -1;
/* A stop under way: its deadline, and who asked (serial of the connection, 0 = gone). */
static int64_t stop_deadline = -1;
static uint32_t stop_asker;

static void close_conn(int i)
{
    close(conns[i].fd);
    conns[i] = conns[--n_conns];
}

static void begin_shutdown(int64_t linger_ms)
{
    kill_everything();
    flags_state |= MJ_SUP_SHUTTING_DOWN | MJ_SUP_STOPPED;
    flags_state &= ~(MJ_SUP_PAUSED | MJ_SUP_STOPPING);
    stop_deadline = -1;
    linger_until = monotonic_ms() + (linger_ms > 0 ? linger_ms : 0);
}

/* A stop: SIGTERM (and SIGCONT) to every command; finish_stop ends it once the workload is gone
 * or after grace ms.  No command starts from here (exec requests are refused); the spawner and
 * the reaper stay, so that start can take commands again.  asker: the connection to answer when
 * it is done (0: none, a lifetime's end). */
static void finish_stop(void);
static void begin_stop(int64_t grace, uint32_t asker)
{
    (void)signal_workload(SIGTERM);
    (void)signal_workload(SIGCONT);
    flags_state = (flags_state & ~MJ_SUP_PAUSED) | MJ_SUP_STOPPING;
    stop_deadline = monotonic_ms() + grace;
    stop_asker = asker;
    if (signal_workload(0) == 0)
        finish_stop();
}

/* The end of a stop: the grace period is over or nothing of the workload is left. */
static void finish_stop(void)
{
    /* The grace period is over: whatever is left goes.  The workload's init (reaper.c) stays,
     * with its pid namespace, so that start can take commands again. */
    (void)signal_workload(SIGKILL);
    /* Stopped means gone: a SIGKILLed process lives on until the kernel has torn it down and the
     * reaper has reaped it.  Bounded: a task stuck in the kernel must not stop us serving. */
    int64_t gone_by = monotonic_ms() + 2000;
    while (signal_workload(0) > 0 && monotonic_ms() < gone_by) {
        struct timespec ts = {0, 2 * 1000000};
        nanosleep(&ts, NULL);
    }
    flags_state = (flags_state & ~(MJ_SUP_PAUSED | MJ_SUP_STOPPING)) | MJ_SUP_STOPPED;
    stop_deadline = -1;
    for (int i = 0; i < n_conns; i++)
        if (stop_asker && conns[i].serial == stop_asker)
            reply(conns[i].fd, MJ_REP_OK, 0, 0);
    stop_asker = 0;
}

/* Hands an exec request (n bytes in req_buf, its 4 fds) to the spawner without waiting: its
 * verdict goes to the command's channel.  0, or -1 with errno. */
static int forward_exec(size_t n, const int rfds[4])
{
    struct iovec iov = {.iov_base = req_buf, .iov_len = n};
    if (spawner_fd < 0) {
        errno = ECHILD;
        return -1;
    }
    if (mj_wire_send(spawner_fd, &iov, 1, rfds, 4, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
        return -1; /* EAGAIN: the spawner's queue is full */
    return 0;
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
        if (stop_asker == conns[ci].serial)
            stop_asker = 0;
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
        reply(fd, MJ_REP_OK, 0, flags_state | mj_maincmd_flags());
        break;
    case MJ_REQ_DETACH:
        conns[ci].owner = false;
        reply(fd, MJ_REP_OK, 0, 0);
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
        int refuse = nfds != 4 ? EPROTO
                     : (flags_state & (MJ_SUP_STOPPED | MJ_SUP_STOPPING | MJ_SUP_SHUTTING_DOWN)) ? ESHUTDOWN
                     : (flags_state & MJ_SUP_PAUSED) ? EBUSY
                                                     : 0;
        if (!refuse && forward_exec((size_t)n, rfds) < 0)
            refuse = errno;
        for (int i = 0; i < nfds; i++)
            close(rfds[i]);
        if (refuse)
            reply(fd, MJ_REP_ERR, refuse, 0);
        else
            reply(fd, MJ_REP_OK, 0, 0);
        break;
    }
    case MJ_REQ_SIGNAL_ALL:
        if (req.arg <= 0 || req.arg >= NSIG) {
            reply(fd, MJ_REP_ERR, EINVAL, 0);
            break;
        }
        (void)signal_workload(req.arg);
        reply(fd, MJ_REP_OK, 0, 0);
        break;
    case MJ_REQ_PAUSE:
        if (flags_state & (MJ_SUP_PAUSED | MJ_SUP_STOPPED | MJ_SUP_STOPPING)) {
            reply(fd, MJ_REP_ERR, (flags_state & MJ_SUP_PAUSED) ? EALREADY : ESHUTDOWN, 0);
            break;
        }
        /* Without a freezer: SIGSTOP, twice, for what forked while the first pass ran. */
        (void)signal_workload(SIGSTOP);
        (void)signal_workload(SIGSTOP);
        flags_state |= MJ_SUP_PAUSED;
        reply(fd, MJ_REP_OK, 0, 0);
        break;
    case MJ_REQ_RESUME:
        if (!(flags_state & MJ_SUP_PAUSED)) {
            reply(fd, MJ_REP_ERR, EALREADY, 0);
            break;
        }
        (void)signal_workload(SIGCONT);
        flags_state &= ~MJ_SUP_PAUSED;
        reply(fd, MJ_REP_OK, 0, 0);
        break;
    case MJ_REQ_STOP: {
        if (flags_state & MJ_SUP_STOPPED) {
            reply(fd, MJ_REP_OK, 0, 0);
            break;
        }
        if (flags_state & MJ_SUP_STOPPING) {
            reply(fd, MJ_REP_ERR, EALREADY, 0);
            break;
        }
        begin_stop(req.arg > 0 ? req.arg : 0, conns[ci].serial);
        break; /* answered by finish_stop */
    }
    case MJ_REQ_START:
        if (flags_state & MJ_SUP_SHUTTING_DOWN)
            reply(fd, MJ_REP_ERR, ESHUTDOWN, 0);
        else if (!(flags_state & MJ_SUP_STOPPED))
            reply(fd, MJ_REP_ERR, EALREADY, 0);
        else if (spawner_pid <= 0 || reaper_pid <= 0)
            reply(fd, MJ_REP_ERR, ECHILD, 0); /* nothing can start commands here any more */
        else {
            flags_state &= ~MJ_SUP_STOPPED;
            reply(fd, MJ_REP_OK, 0, 0);
        }
        break;
    case MJ_REQ_MAIN_WATCH: {
        int e = nfds != 1 ? EPROTO : mj_maincmd_watch(rfds[0]);
        if (e)
            for (int i = 0; i < nfds; i++)
                close(rfds[i]);
        reply(fd, e ? MJ_REP_ERR : MJ_REP_OK, e, 0);
        break;
    }
    case MJ_REQ_MAIN_START: {
        int e = mj_maincmd_start();
        reply(fd, e ? MJ_REP_ERR : MJ_REP_OK, e, 0);
        break;
    }
    case MJ_REQ_MAIN_SIGNAL: {
        int e = mj_maincmd_signal(req.arg);
        reply(fd, e ? MJ_REP_ERR : MJ_REP_OK, e, 0);
        break;
    }
    case MJ_REQ_SHUTDOWN:
        /* Answered first: the host does not wait for the killing. */
        reply(fd, MJ_REP_OK, 0, 0);
        begin_shutdown(req.arg);
        break;
    default:
        reply(fd, MJ_REP_ERR, EOPNOTSUPP, 0);
        break;
    }
}

/* Reaps our children; the spawner or the reaper dying on its own ends the sandbox. */
static void reap_children(void)
{
    pid_t pid;
    bool lost = false;
    while ((pid = waitpid(-1, NULL, WNOHANG)) > 0) {
        if (pid == spawner_pid || pid == reaper_pid) {
            lost = true;
            if (pid == spawner_pid)
                spawner_pid = -1;
            else
                reaper_pid = -1;
        }
    }
    if (lost && !(flags_state & (MJ_SUP_STOPPED | MJ_SUP_STOPPING | MJ_SUP_SHUTTING_DOWN))) {
        kill_everything();
        _exit(1);
    }
}

/* Serves requests until shut down; never returns.  fds 0-2 are /dev/null, then the control
 * connection, the listen socket, the lock, the id slot, the pid namespace (see below), the work
 * cgroups' and the container layer's. */
__attribute__((noreturn)) static void serve(const mj_plan_t *plan, bool detached, int listen_fd, int notify_fd)
{
    (void)plan;
    prctl(PR_SET_NAME, "moonjail-init", 0, 0, 0);
    if (detached) {
        setsid();
        /* From here the creator's connection says whether we are wanted (until it detaches). */
        prctl(PR_SET_PDEATHSIG, 0, 0, 0, 0);
    }
    /* listen() here, not on the host: peers' SO_PEERCRED then names the supervisor itself. */
    if (listen_fd >= 0 && listen(listen_fd, 64) < 0)
        _exit(1);
    sigset_t set;
    sigfillset(&set);
    sigprocmask(SIG_BLOCK, &set, NULL);
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    int sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
    ruleset_fd = plan->landlock_fd;

    conns[n_conns++] = (conn_t){.fd = CTL_FD, .owner = true, .serial = next_serial++};

    /* From here the supervisor only serves requests: a filter of its own, narrower than the
     * workload's (which the spawner and every command keep). */
    if (mj_seccomp_load_supervisor(notify_fd >= 0) < 0 && plan->seccomp)
        _exit(1);

    mj_msg_t ready = {.type = MJ_MSG_READY, .t_ns = mj_realtime_ns()};
    (void)send(CTL_FD, &ready, sizeof(ready), MSG_NOSIGNAL | MSG_DONTWAIT);

    /* A lifetime: the sandbox stops itself when it ends (its files stay readable). */
    int64_t expire_at = plan->lifetime > 0 ? monotonic_ms() + (int64_t)(plan->lifetime * 1000) : -1;
    struct pollfd pfd[MAX_CONNS + 4];
    for (;;) {
        int64_t now = monotonic_ms();
        if (linger_until >= 0 && now >= linger_until)
            _exit(0);
        if (stop_deadline >= 0 && (now >= stop_deadline || signal_workload(0) == 0))
            finish_stop();
        if (expire_at >= 0 && now >= expire_at) {
            expire_at = -1;
            if (!(flags_state & (MJ_SUP_STOPPED | MJ_SUP_STOPPING | MJ_SUP_SHUTTING_DOWN))) {
                flags_state |= MJ_SUP_EXPIRED;
                begin_stop(5000, 0);
            }
        }
        int np = 0;
        pfd[np++] = (struct pollfd){.fd = sfd, .events = POLLIN};
        int notify_slot = -1;
        if (notify_fd >= 0) {
            notify_slot = np;
            pfd[np++] = (struct pollfd){.fd = notify_fd, .events = POLLIN};
        }
        int main_slot = -1;
        if (mj_maincmd_fd() >= 0) {
            main_slot = np;
            pfd[np++] = (struct pollfd){.fd = mj_maincmd_fd(), .events = POLLIN};
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
        if (linger_until >= 0)
            timeout = linger_until > now ? (int)(linger_until - now) : 0;
        if (stop_deadline >= 0) /* a stop: look for an empty workload every 10 ms */
            timeout = timeout >= 0 && timeout < 10 ? timeout : 10;
        if (expire_at >= 0) {
            int64_t left = expire_at - now;
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
            reap_children();
        }
        if (notify_slot >= 0 && (pfd[notify_slot].revents & POLLIN))
            handle_notification(notify_fd);
        if (main_slot >= 0 && pfd[main_slot].revents) {
            /* A container's main command ended: everything goes with it and we exit with its
             * status, as a container's init does. */
            int code = mj_maincmd_read();
            if (code >= 0) {
                kill_everything();
                _exit(code);
            }
        }
        if (listen_slot >= 0 && pfd[listen_slot].revents) {
            int c = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
            if (c >= 0)
                conns[n_conns++] = (conn_t){.fd = c, .owner = false, .serial = next_serial++};
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

/* A procfs of our own pid namespace (the root's /proc is the workload's), read-only and attached
 * nowhere: the supervisor and the spawner see every process of the sandbox through it. */
static int open_own_proc(void)
{
    int mnt = mj_make_fs("proc", NULL, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC);
    if (mnt < 0)
        return -1;
    int fd = openat(mnt, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int e = errno;
    close(mnt);
    errno = e;
    return fd;
}

/* Forks the spawner, which enters the workload's namespace for its children and loads the
 * workload's filter (with the listener when refusals are logged), and waits for its word: 0 with
 * *notify_fd (-1 without a listener), or -1 with errno. */
static int start_spawner(mj_plan_t *plan, int *notify_fd, int *stage)
{
    *notify_fd = -1;
    int sp[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0)
        return -1;
    spawner_pid = (pid_t)syscall(SYS_clone, SIGCHLD, 0, NULL, NULL, 0);
    if (spawner_pid < 0) {
        *stage = MJ_STAGE_FORK;
        return -1;
    }
    if (spawner_pid == 0) {
        close(sp[0]);
        /* Nothing of the supervisor's: its connections, the name's lock and socket, the id slot. */
        for (int fd = CTL_FD; fd < PIDNS_FD; fd++)
            close(fd);
        if (layer_fd >= 0)
            close(layer_fd);
        if (lease_fd >= 0)
            close(lease_fd);
        mj_shim_spawner_main(plan, sp[1], PIDNS_FD, own_proc);
    }
    close(sp[1]);
    spawner_fd = sp[0];
    int32_t report[2] = {MJ_STAGE_FORK, ECHILD}; /* {stage, errno}: {0, 0} when it is ready */
    int nfds = 0;
    struct pollfd p = {.fd = spawner_fd, .events = POLLIN};
    ssize_t n = -1;
    if (poll(&p, 1, 30000) == 1)
        n = mj_wire_recv(spawner_fd, report, sizeof(report), 0, notify_fd, 1, &nfds, NULL);
    if (n != (ssize_t)sizeof(report) || report[0] || (plan->seccomp_notify && nfds != 1)) {
        if (*notify_fd >= 0)
            close(*notify_fd);
        *notify_fd = -1;
        *stage = n == (ssize_t)sizeof(report) && report[0] ? report[0] : MJ_STAGE_FORK;
        errno = n == (ssize_t)sizeof(report) && report[0] ? report[1] : ECHILD;
        return -1;
    }
    return 0;
}

__attribute__((noreturn)) void mj_supervisor_start(mj_plan_t *plan, const mj_supervisor_fds_t *fds)
{
    reaper_pid = fds->reaper;
    /* 0-2 /dev/null, 3 control, 4 listen, 5 lock, 6 id slot, 7 the workload's pid namespace;
     * nothing else survives. */
    int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (devnull >= 0 && devnull < 64) { /* out of the 3..7 range we are about to fill */
        int high = fcntl(devnull, F_DUPFD_CLOEXEC, 64);
        close(devnull);
        devnull = high;
    }
    /* the container layer's fd, kept for the host's diff: out of the way first */
    int layer = plan->layer_fd >= 0 ? fcntl(plan->layer_fd, F_DUPFD_CLOEXEC, 64) : -1;
    if (plan->layer_fd >= 0 && layer < 0)
        mj_wire_setup_failed(fds->ctl, MJ_STAGE_FORK, -1);
    /* and an image's lease (image/lease.h): held until the supervisor exits */
    int lease = plan->lease_fd >= 0 ? fcntl(plan->lease_fd, F_DUPFD_CLOEXEC, 64) : -1;
    if (plan->lease_fd >= 0 && lease < 0)
        mj_wire_setup_failed(fds->ctl, MJ_STAGE_FORK, -1);
    int keep[5] = {fds->ctl, fds->listen, fds->lock, plan->id_slot_fd, fds->pidns};
    bool open_fds[5];
    /* Move the kept fds above the range we are about to fill, then into place. */
    for (int i = 0; i < 5; i++)
        if (keep[i] >= 0 && (keep[i] = fcntl(keep[i], F_DUPFD_CLOEXEC, 64)) < 0)
            mj_wire_setup_failed(fds->ctl, MJ_STAGE_FORK, -1);
    if (devnull < 0 || dup2(devnull, 0) < 0 || dup2(devnull, 1) < 0 || dup2(devnull, 2) < 0)
        mj_wire_setup_failed(fds->ctl, MJ_STAGE_FORK, -1);
    for (int i = 0; i < 5; i++) {
        open_fds[i] = keep[i] >= 0;
        if (keep[i] < 0) {
            /* a placeholder keeps the slot taken, so nothing else (a Landlock ruleset) lands
             * on a number the supervisor treats as its own */
            if (dup3(devnull, CTL_FD + i, O_CLOEXEC) < 0)
                mj_wire_setup_failed(keep[0], MJ_STAGE_FORK, -1);
            continue;
        }
        if (dup3(keep[i], CTL_FD + i, O_CLOEXEC) < 0)
            mj_wire_setup_failed(keep[0], MJ_STAGE_FORK, -1);
    }
    if (!open_fds[PIDNS_FD - CTL_FD])
        mj_wire_setup_failed(CTL_FD, MJ_STAGE_FORK, -1);
    /* 8.. the work cgroup's cgroup.procs, one per hierarchy */
    int next = mj_place_fds(plan->cg_work_fds, plan->n_cg_work_fds, FIRST_WORK_FD);
    if (next < 0)
        mj_wire_setup_failed(CTL_FD, MJ_STAGE_FORK, -1);
    /* then the layer's */
    if (layer >= 0) {
        if (dup3(layer, next, O_CLOEXEC) < 0)
            mj_wire_setup_failed(CTL_FD, MJ_STAGE_FORK, -1);
        layer_fd = next++;
    }
    if (lease >= 0) {
        if (dup3(lease, next, O_CLOEXEC) < 0)
            mj_wire_setup_failed(CTL_FD, MJ_STAGE_FORK, -1);
        lease_fd = next++;
    }
    plan->lease_fd = -1;
    plan->layer_fd = -1; /* its number is closed below or reused */
    if (syscall(SYS_close_range, (unsigned)next, ~0U, 0U) < 0)
        for (int fd = next; fd < 1024; fd++)
            close(fd);
    if (mj_landlock_build(plan) < 0)
        mj_wire_setup_failed(CTL_FD, MJ_STAGE_LANDLOCK, -1);
    own_proc = open_own_proc();
    if (own_proc < 0)
        mj_wire_setup_failed(CTL_FD, MJ_STAGE_FORK, -1);
    /* The spawner goes before any filter: it has a namespace to enter, and loads the workload's
     * filter itself (every command inherits it from there, no per-exec load). */
    int notify_fd, stage = MJ_STAGE_FORK;
    if (start_spawner(plan, &notify_fd, &stage) < 0)
        mj_wire_setup_failed(CTL_FD, stage, -1);
    close(PIDNS_FD);
    /* The workload's filter for the supervisor too (it needs nothing the workload may not do;
     * CAP_SYS_ADMIN in our user namespace stands in for no_new_privs, which would get in the way
     * of LSM transitions at exec); its own, narrower one follows in serve(). */
    if (mj_seccomp_load(plan) < 0)
        mj_wire_setup_failed(CTL_FD, MJ_STAGE_SECCOMP, -1);
    plan->seccomp_loaded = true;
    serve(plan, fds->detached, fds->listen >= 0 ? LISTEN_FD : -1, notify_fd);
}

/* shim.c — how a persistent sandbox starts and watches its commands: the spawner.
 *
 * The supervisor forks the spawner (comm "moonjail-spawn") before it loads any seccomp filter.
 * The spawner enters the workload's pid namespace for its children (setns on pid_for_children:
 * it stays in the supervisor's namespace itself, where no command can see, signal, stop or trace
 * it), loads the workload's filter, which every command inherits, and from then on turns exec
 * requests into commands.  It is every command's parent and watches all of them in one poll loop
 * — the supervisor's socket, its SIGCHLD signalfd, each command's channel to the host and each
 * starting command's error pipe — and never blocks on anything a command or a host controls:
 * channel sends are non-blocking, a starting command's report is read as it comes.
 *
 * A command's channel: STARTED (with the command's pid as the sandbox sees it), EXEC_FAILED (a
 * request refused here, stage MJ_EXEC_STAGE_REQUEST, or a failure before execve), EXITED out;
 * SIGNAL and KILL_TREE in, each answered with ACK once carried out.  When the host end goes away
 * the spawner kills the command's tree, unless the command was detached.  The tree is the
 * command, its session and everything descending from them, read from a procfs of the
 * supervisor's namespace; a daemon that left both (setsid, then its parent exited) has become the
 * workload init's (reaper.c) and outlives the command like any daemon a command leaves behind.
 * A command with a terminal gets a pty of the sandbox's own (console.c), whose master goes out
 * on its channel (PTY) before anything else; the slave becomes its stdio.
 * An OCI container's main command (MJ_EXEC_MAIN) is held before it sets anything up, waiting on
 * a gate pipe the spawner keeps, until START comes on its channel (from the supervisor, which the
 * host hands that channel to: maincmd.c); while it waits, a signal acts on it with its default
 * action (it ends it as if the command had died of it); its channel closing unheld ends it.
 *
 * Owns: parsing exec requests (every field checked), the commands' lives.  Never: allocation
 * (requests land in a static buffer, commands in a fixed table), or anything the supervisor does
 * (it forks us). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>

#include "console.h"
#include "exec.h"
#include "plan.h"
#include "proc.h"
#include "proto.h"
#include "seccomp.h"
#include "shim.h"
#include "util.h"
#include "wire.h"

#define MAX_EXECS 1024   /* commands alive at once (each holds its channel) */
#define MAX_TREE 8192    /* processes one kill-tree pass looks at */

static char req_buf[MJ_PROTO_MAX + sizeof(mj_req_t)];
static char *exec_argv[MJ_PROTO_MAX_ARGS + 1];
static char *exec_envp[MJ_PROTO_MAX_ENV + 1];
static char *exec_paths[MJ_PROTO_MAX_PATHS + 1];
static char exec_path[PATH_MAX];

static const mj_plan_t *spawner_plan;
static int own_proc = -1; /* a procfs of our own (the supervisor's) namespace */

/* ------------------------------------------------------------------ the commands */

typedef struct {
    bool used;
    bool detached;
    bool killed;    /* its tree was killed on the host's word (or its going away) */
    bool resolved;  /* exec'd or failed: the error pipe said which */
    pid_t pid;      /* as we see it (we are its parent) */
    int32_t inner_pid; /* as the sandbox sees it */
    int chan;       /* the host's channel, -1 once closed */
    int errpipe;    /* read end of the command's report, -1 once resolved */
    int gate;       /* an MJ_EXEC_MAIN command held: the write end of its gate, -1 once let go */
    unsigned char report[12]; /* its pid inside, then {stage, errno} if it failed before execve */
    size_t report_len;
    int64_t start_ns;
} exec_t;

static exec_t execs[MAX_EXECS];
static size_t n_slots; /* execs[0..n_slots) have been used */

static void chan_msg(exec_t *e, uint32_t type, int32_t a, int32_t b, int64_t t_ns, const struct rusage *ru)
{
    if (e->chan < 0)
        return;
    mj_msg_t m = {.type = type, .a = a, .b = b, .t_ns = t_ns};
    if (type == MJ_MSG_EXITED)
        m.c = mj_disk_full(spawner_plan);
    if (ru) {
        m.u1 = (uint64_t)ru->ru_utime.tv_sec * 1000000 + (uint64_t)ru->ru_utime.tv_usec;
        m.u2 = (uint64_t)ru->ru_stime.tv_sec * 1000000 + (uint64_t)ru->ru_stime.tv_usec;
        m.u3 = (uint64_t)ru->ru_maxrss;
    }
    (void)send(e->chan, &m, sizeof(m), MSG_NOSIGNAL | MSG_DONTWAIT);
}

static void free_exec(exec_t *e)
{
    mj_close_fd(&e->chan);
    mj_close_fd(&e->errpipe);
    mj_close_fd(&e->gate);
    e->used = false;
}

/* A request refused before any command existed: the host hears why on the channel. */
static void refuse(int chan, int err)
{
    mj_msg_t m = {.type = MJ_MSG_EXEC_FAILED, .a = MJ_EXEC_STAGE_REQUEST, .b = err, .t_ns = mj_realtime_ns()};
    (void)send(chan, &m, sizeof(m), MSG_NOSIGNAL | MSG_DONTWAIT);
    close(chan);
}

/* ------------------------------------------------------------------ a command's tree */

typedef struct {
    size_t n;
    pid_t pid[MAX_TREE], ppid[MAX_TREE], sid[MAX_TREE];
    signed char member[MAX_TREE]; /* -1 unknown, 0 no, 1 yes */
    bool zombie[MAX_TREE];
    int16_t index[2 * MAX_TREE]; /* open addressing on pid: index + 1, 0 = empty */
    size_t chain[MAX_TREE];
} tree_t;

static tree_t tree;

static size_t tree_hash(pid_t pid)
{
    return ((uint32_t)pid * 2654435761u) % (2 * MAX_TREE);
}

static int tree_find(pid_t pid)
{
    for (size_t h = tree_hash(pid), k = 0; k < 2 * MAX_TREE; k++, h = (h + 1) % (2 * MAX_TREE)) {
        if (tree.index[h] == 0)
            return -1;
        if (tree.pid[tree.index[h] - 1] == pid)
            return tree.index[h] - 1;
    }
    return -1;
}

/* Reads pid's stat from our procfs into the table. */
static int note_process(int procfd, const char *name, pid_t pid, void *ctx)
{
    tree_t *t = ctx;
    if (t->n == MAX_TREE || pid <= 1 || pid == getpid())
        return 0;
    char path[32], stat[512];
    size_t len = strlen(name);
    if (len > 16)
        return 0;
    memcpy(path, name, len);
    memcpy(path + len, "/stat", 6);
    int fd = openat(procfd, path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return 0;
    ssize_t r = read(fd, stat, sizeof(stat) - 1);
    close(fd);
    if (r <= 0)
        return 0;
    stat[r] = '\0';
    /* "pid (comm) S ppid pgrp session ..." — comm may hold anything but ends at the last ')' */
    char *p = strrchr(stat, ')');
    if (!p || p[1] != ' ' || !p[2] || p[3] != ' ')
        return 0;
    char *end;
    long ppid = strtol(p + 4, &end, 10);
    (void)strtol(end, &end, 10); /* pgrp */
    long sid = strtol(end, &end, 10);
    size_t i = t->n++;
    t->pid[i] = pid;
    t->ppid[i] = (pid_t)ppid;
    t->sid[i] = (pid_t)sid;
    t->zombie[i] = p[2] == 'Z' || p[2] == 'X';
    t->member[i] = -1;
    size_t h = tree_hash(pid);
    while (t->index[h] != 0)
        h = (h + 1) % (2 * MAX_TREE);
    t->index[h] = (int16_t)(i + 1);
    return 0;
}

/* Whether process i is the command (root), of its session, or descends from one of those: walks
 * up the parent chain to the first answer and gives it to the whole chain. */
static bool in_tree(size_t i, pid_t root)
{
    size_t depth = 0;
    signed char answer = 0;
    for (int at = (int)i; at >= 0 && depth < MAX_TREE;) {
        if (tree.member[at] >= 0) {
            answer = tree.member[at];
            break;
        }
        tree.chain[depth++] = (size_t)at;
        if (tree.pid[at] == root || tree.sid[at] == root) {
            answer = 1;
            break;
        }
        at = tree_find(tree.ppid[at]);
    }
    for (size_t k = 0; k < depth; k++)
        tree.member[tree.chain[k]] = answer;
    return answer == 1;
}

/* One pass: SIGKILLs the command, the processes of its session and everything descending from
 * them; how many of those were still alive. */
static unsigned kill_tree_pass(pid_t root)
{
    tree.n = 0;
    memset(tree.index, 0, sizeof(tree.index));
    /* A fresh fd each time: a walk reads from the fd's offset and moves it. */
    int d = own_proc >= 0 ? openat(own_proc, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
    if (d < 0)
        return 0;
    int r = mj_proc_each_pid(d, note_process, &tree);
    close(d);
    if (r < 0)
        return 0;
    unsigned alive = 0;
    for (size_t i = 0; i < tree.n; i++) {
        if (!in_tree(i, root))
            continue;
        kill(tree.pid[i], SIGKILL);
        if (!tree.zombie[i])
            alive++;
    }
    return alive;
}

/* Kills the command's whole tree: passes until nothing of it is alive (what it forked meanwhile
 * is caught by the next pass), bounded. */
static void kill_tree(exec_t *e)
{
    for (int pass = 0; pass < 200; pass++) {
        if (kill_tree_pass(e->pid) == 0)
            return;
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
}

/* ------------------------------------------------------------------ starting a command */

/* A held main command waits here for its gate: one byte lets it go on; the gate closing without
 * one (the spawner gone, its channel closed unheld) ends it.  Signals act with their default
 * actions meanwhile (exec.c resets them again before execve). */
static void wait_gate(int gate)
{
    sigset_t empty;
    sigemptyset(&empty);
    for (int sig = 1; sig < NSIG; sig++)
        if (sig != SIGKILL && sig != SIGSTOP)
            signal(sig, SIG_DFL);
    sigprocmask(SIG_SETMASK, &empty, NULL);
    char c;
    ssize_t r;
    while ((r = read(gate, &c, 1)) < 0 && errno == EINTR)
        ;
    if (r != 1)
        _exit(0);
    close(gate);
}

/* In the forked child: stdio from the host's pipes, 3 = its report pipe, 4 = the Landlock
 * ruleset (if any), 5.. the work cgroup's cgroup.procs, then a held main command's gate, nothing
 * else; its pid in the sandbox goes into the report first, then (once let go) exec (exec.c). */
__attribute__((noreturn)) static void command_child(const mj_plan_t *plan, const mj_exec_params_t *params,
                                                    const int fds[3], int report_w, int gate)
{
    prctl(PR_SET_NAME, "moonjail-exec", 0, 0, 0);
    int ep = fcntl(report_w, F_DUPFD_CLOEXEC, 10);
    if (gate >= 0 && (gate = fcntl(gate, F_DUPFD_CLOEXEC, 64)) < 0) /* out of the way of what is placed below */
        _exit(127);
    int src_ll = params->read_only ? plan->landlock_ro_fd : plan->landlock_fd;
    int ll = src_ll >= 0 ? fcntl(src_ll, F_DUPFD_CLOEXEC, 10) : -1;
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
    if (gate >= 0) { /* a held main command's gate: the one fd past the others, closed once let go */
        if (dup3(gate, next, O_CLOEXEC) < 0)
            _exit(127);
        gate = next++;
    }
    if (syscall(SYS_close_range, (unsigned)next, ~0U, 0U) < 0)
        for (int fd = next; fd < 1024; fd++)
            close(fd);
    int32_t self = (int32_t)syscall(SYS_getpid);
    if (mj_write_all(3, &self, sizeof(self)) < 0)
        _exit(127);
    if (gate >= 0)
        wait_gate(gate);
    mj_exec_params_t p2 = *params;
    p2.landlock_fd = ll >= 0 ? 4 : -1;
    p2.cg_work_fds = work;
    p2.n_cg_work_fds = n_work;
    mj_exec_child(plan, &p2, 3);
}

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
    params->tty_rows = er.tty_rows;
    params->tty_cols = er.tty_cols;
    params->no_network = (er.flags & MJ_EXEC_NO_NETWORK) != 0;
    params->landlock_fd = -1;
    params->restrict_paths = er.npaths ? exec_paths : NULL;
    if (params->read_only && plan->landlock_ro_fd < 0) {
        errno = ENOTSUP; /* cannot narrow without Landlock: refuse rather than run unrestricted */
        return -1;
    }
    return (int)er.flags;
}

/* An exec request (n bytes in req_buf, fds: stdin, stdout, stderr, channel): a command, or a
 * refusal on its channel. */
static void start_command(const mj_plan_t *plan, size_t n, int rfds[4])
{
    int chan = rfds[3];
    exec_t *e = NULL;
    for (size_t i = 0; i < MAX_EXECS && !e; i++)
        if (!execs[i].used)
            e = &execs[i];
    mj_exec_params_t params;
    int eflags = e ? parse_exec(plan, n - sizeof(mj_req_t), &params) : (errno = EAGAIN, -1);
    int report[2] = {-1, -1}, gate[2] = {-1, -1};
    if (eflags >= 0 && pipe2(report, O_CLOEXEC) < 0)
        eflags = -1;
    if (eflags >= 0 && (eflags & MJ_EXEC_MAIN) && pipe2(gate, O_CLOEXEC) < 0)
        eflags = -1;
    /* A terminal: the master goes out on the channel first (a fresh socket: the send cannot
     * block), the slave is the command's stdio. */
    int tty = -1, tty_err = 0;
    if (eflags >= 0 && params.tty && mj_console_open(chan, params.uid, params.gid, params.tty_rows, params.tty_cols, &tty) < 0) {
        tty_err = errno;
        eflags = -1;
    }
    int stdio[3] = {rfds[0], rfds[1], rfds[2]};
    if (tty >= 0)
        stdio[0] = stdio[1] = stdio[2] = tty;
    int64_t start_ns = mj_realtime_ns();
    pid_t pid = eflags >= 0 ? (pid_t)syscall(SYS_clone, SIGCHLD, 0, NULL, NULL, 0) : -1;
    if (pid == 0) {
        if (gate[1] >= 0)
            close(gate[1]);
        command_child(plan, &params, stdio, report[1], gate[0]);
    }
    int e_clone = errno;
    for (int i = 0; i < 3; i++)
        close(rfds[i]);
    if (tty >= 0)
        close(tty);
    if (report[1] >= 0)
        close(report[1]);
    if (gate[0] >= 0)
        close(gate[0]);
    if (pid < 0) {
        if (report[0] >= 0)
            close(report[0]);
        if (gate[1] >= 0)
            close(gate[1]);
        if (tty_err) {
            mj_msg_t m = {.type = MJ_MSG_EXEC_FAILED, .a = MJ_EXEC_STAGE_TTY, .b = tty_err, .t_ns = mj_realtime_ns()};
            (void)send(chan, &m, sizeof(m), MSG_NOSIGNAL | MSG_DONTWAIT);
            close(chan);
        } else {
            refuse(chan, e_clone);
        }
        return;
    }
    mj_set_nonblock(report[0]);
    *e = (exec_t){.used = true, .detached = (eflags & MJ_EXEC_DETACHED) != 0, .pid = pid, .chan = chan,
                  .errpipe = report[0], .gate = gate[1], .start_ns = start_ns};
    if ((size_t)(e - execs) + 1 > n_slots)
        n_slots = (size_t)(e - execs) + 1;
}

/* Reads what a starting command reported; at EOF (it exec'd, failed or died) tells the host:
 * STARTED, or EXEC_FAILED with the stage and errno. */
static void read_report(exec_t *e)
{
    while (e->report_len < sizeof(e->report)) {
        ssize_t r = read(e->errpipe, e->report + e->report_len, sizeof(e->report) - e->report_len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && errno == EAGAIN)
            return;
        if (r <= 0)
            break;
        e->report_len += (size_t)r;
    }
    mj_close_fd(&e->errpipe);
    e->resolved = true;
    if (e->report_len >= sizeof(int32_t))
        memcpy(&e->inner_pid, e->report, sizeof(int32_t));
    if (e->report_len == sizeof(e->report)) {
        int32_t failed[2];
        memcpy(failed, e->report + sizeof(int32_t), sizeof(failed));
        chan_msg(e, MJ_MSG_EXEC_FAILED, failed[0], failed[1], mj_realtime_ns(), NULL);
        mj_close_fd(&e->chan); /* nothing more to say; the child exits 127 and is reaped */
        return;
    }
    chan_msg(e, MJ_MSG_STARTED, e->inner_pid, 0, e->start_ns, NULL);
}

/* A request from the host on a command's channel, or the channel closing. */
static void read_channel(exec_t *e)
{
    mj_req_t req;
    ssize_t r = recv(e->chan, &req, sizeof(req), MSG_DONTWAIT);
    if (r < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (r == (ssize_t)sizeof(req) && req.magic == MJ_PROTO_MAGIC) {
        if (req.type == MJ_CHAN_SIGNAL && req.arg > 0 && req.arg < NSIG) {
            kill(e->pid, req.arg); /* ours until reaped: never a reused pid */
            /* A stopped command acts on a request to end only once continued (as systemd does). */
            if (req.arg == SIGTERM || req.arg == SIGINT || req.arg == SIGHUP || req.arg == SIGQUIT)
                kill(e->pid, SIGCONT);
            chan_msg(e, MJ_MSG_ACK, (int32_t)req.type, req.arg, mj_realtime_ns(), NULL);
        } else if (req.type == MJ_CHAN_KILL_TREE) {
            e->killed = true;
            kill_tree(e);
            chan_msg(e, MJ_MSG_ACK, (int32_t)req.type, 0, mj_realtime_ns(), NULL);
        } else if (req.type == MJ_CHAN_START && e->gate >= 0) {
            char go = 1;
            (void)!write(e->gate, &go, 1); /* a fresh pipe: cannot block */
            mj_close_fd(&e->gate);
            chan_msg(e, MJ_MSG_ACK, (int32_t)req.type, 0, mj_realtime_ns(), NULL);
        }
        return;
    }
    if (r > 0)
        return; /* malformed: ignored */
    mj_close_fd(&e->chan);
    mj_close_fd(&e->gate); /* held and nobody left to let it go: it ends */
    if (!e->detached && !e->killed) {
        e->killed = true;
        kill_tree(e);
    }
}

/* Reaps our children (the commands): EXITED with the status and usage; a killed command's tree is
 * killed once more (what it forked while dying). */
static void reap(void)
{
    int st;
    struct rusage ru;
    pid_t pid;
    while ((pid = wait4(-1, &st, WNOHANG, &ru)) > 0) {
        exec_t *e = NULL;
        for (size_t i = 0; i < n_slots && !e; i++)
            if (execs[i].used && execs[i].pid == pid)
                e = &execs[i];
        if (!e)
            continue;
        if (!e->resolved)
            read_report(e); /* the child is gone: its report is complete */
        if (e->chan >= 0)
            chan_msg(e, MJ_MSG_EXITED, st, 0, mj_realtime_ns(), &ru);
        if (e->killed)
            kill_tree(e);
        free_exec(e);
    }
}

/* ------------------------------------------------------------------ the spawner */

__attribute__((noreturn)) void mj_shim_spawner_main(mj_plan_t *plan, int sock, int pidns_fd, int procfd)
{
    prctl(PR_SET_NAME, "moonjail-spawn", 0, 0, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    if (getppid() != 1)
        _exit(0); /* the supervisor is already gone */
    spawner_plan = plan;
    own_proc = procfd;
    /* Every signal stays blocked (a command's child resets its mask): SIGCHLD comes through the
     * signalfd. */
    sigset_t all;
    sigfillset(&all);
    sigprocmask(SIG_BLOCK, &all, NULL);

    /* Our children go to the workload's namespace; we stay here, out of their sight. */
    int32_t word[2] = {0, 0};
    int notify = -1;
    if (setns(pidns_fd, CLONE_NEWPID) < 0) {
        word[0] = MJ_STAGE_FORK;
        word[1] = errno;
    } else if (plan->seccomp_notify) {
        notify = mj_seccomp_load_listener(plan);
        if (notify < 0) {
            word[0] = MJ_STAGE_SECCOMP;
            word[1] = errno;
        }
    } else if (mj_seccomp_load(plan) < 0) {
        word[0] = MJ_STAGE_SECCOMP;
        word[1] = errno;
    }
    close(pidns_fd);
    plan->seccomp_loaded = true;
    struct iovec iov = {.iov_base = word, .iov_len = sizeof(word)};
    if (mj_wire_send(sock, &iov, 1, &notify, notify >= 0 ? 1 : 0, MSG_NOSIGNAL) < 0 || word[0])
        _exit(1);
    if (notify >= 0)
        close(notify); /* the supervisor serves it */

    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    int sfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
    if (sfd < 0)
        _exit(1);
    static struct pollfd pfd[2 + 2 * MAX_EXECS];
    static exec_t *owner[2 + 2 * MAX_EXECS];
    for (;;) {
        nfds_t np = 0;
        pfd[np++] = (struct pollfd){.fd = sock, .events = POLLIN};
        pfd[np++] = (struct pollfd){.fd = sfd, .events = POLLIN};
        for (size_t i = 0; i < n_slots; i++) {
            exec_t *e = &execs[i];
            if (!e->used)
                continue;
            if (e->errpipe >= 0) {
                owner[np] = e;
                pfd[np++] = (struct pollfd){.fd = e->errpipe, .events = POLLIN};
            }
            if (e->chan >= 0) {
                owner[np] = e;
                pfd[np++] = (struct pollfd){.fd = e->chan, .events = POLLIN};
            }
        }
        if (poll(pfd, np, -1) < 0)
            continue;
        /* Reports before reaping: a command that exec'd and exited at once says STARTED first. */
        for (nfds_t i = 2; i < np; i++) {
            exec_t *e = owner[i];
            if (!pfd[i].revents || !e->used)
                continue;
            if (pfd[i].fd == e->errpipe)
                read_report(e);
            else if (pfd[i].fd == e->chan)
                read_channel(e);
        }
        if (pfd[1].revents) {
            struct signalfd_siginfo si;
            while (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
                ;
            reap();
        }
        if (pfd[0].revents) {
            int rfds[4] = {-1, -1, -1, -1}, nfds = 0;
            ssize_t n = mj_wire_recv_request(sock, req_buf, sizeof(req_buf), MSG_DONTWAIT, rfds, &nfds);
            if (n == -1 && (errno == EINTR || errno == EAGAIN))
                continue;
            if (n == 0 || n == -1)
                _exit(0); /* the supervisor is gone */
            if (n < (ssize_t)sizeof(mj_req_t) || nfds != 4) {
                for (int i = 0; i < nfds; i++)
                    close(rfds[i]);
                continue; /* the supervisor checked it: cannot happen */
            }
            start_command(plan, (size_t)n, rfds);
        }
    }
}

/* process.c — commands in a persistent sandbox, from the host: exec (run and collect), spawn
 * (a process handle to stream from), spawn_detached, and the mj_process_* handle.  Builds each
 * exec request (checked against the protocol's bounds), passes the command's stdio and its own
 * channel to the supervisor, and pumps (pump.c) or collects what the command's shim reports.
 * An exec may also keep its output in the sandbox's logs (logfile.c, opened at STARTED).
 * Owns: mj_process_t.  Never: the sandbox's life cycle (sandbox.c) or the control connection's
 * framing (client.c); detached commands are detach.c's, over mj_process_start_detached. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <termios.h>

#include "cgroup.h"
#include "client.h"
#include "config.h"
#include "error.h"
#include "exec.h"
#include "handle.h"
#include "landlock.h"
#include "logfile.h"
#include "process.h"
#include "proto.h"
#include "pty.h"
#include "pump.h"
#include "result.h"
#include "trace.h"
#include "util.h"

/* A command's three stdio pipes: the sandbox's ends go with the exec request, the host keeps
 * the others. */
typedef struct {
    int in[2], out[2], err[2];
} stdio_pipes_t;

static void close_pipes(stdio_pipes_t *p)
{
    mj_cleanup_pipep(&p->in);
    mj_cleanup_pipep(&p->out);
    mj_cleanup_pipep(&p->err);
}
#define cleanup_pipes __attribute__((cleanup(close_pipes)))

static int open_pipes(stdio_pipes_t *p, mj_error_t **err)
{
    if (pipe2(p->in, O_CLOEXEC) < 0 || pipe2(p->out, O_CLOEXEC) < 0 || pipe2(p->err, O_CLOEXEC) < 0) {
        *err = mj_error_sys(MJ_ERR_COMMAND_EXECUTION_FAILED, errno, "pipe");
        return -1;
    }
    return 0;
}

/* Once the request went out: the sandbox's ends are the supervisor's now. */
static void close_sandbox_ends(stdio_pipes_t *p)
{
    mj_close_fd(&p->in[0]);
    mj_close_fd(&p->out[1]);
    mj_close_fd(&p->err[1]);
}

struct mj_process {
    mj_sandbox_t *sb; /* borrowed */
    int chan;
    int stdin_w, stdout_r, stderr_r;
    pid_t pid;
    double t_released;
    bool done;
    mj_pump_t pump; /* its status, and the output wait collects (read() did not take) */
    char *argv0;
    char *workdir;
};

/* An exec request the supervisor or the spawner refused (errno e). */
static mj_error_t *refusal_error(mj_sandbox_t *sb, int e)
{
    if (e == ESHUTDOWN || e == EBUSY)
        return mj_client_state_error(sb, e, "exec");
    if (e == ENOTSUP)
        return mj_error_new(MJ_ERR_PERMISSION_DENIED, ENOTSUP,
                            "allow_write = false cannot be enforced: this sandbox runs without Landlock");
    if (e == EINVAL && sb->rootless)
        return mj_error_new(MJ_ERR_PERMISSION_DENIED, EINVAL, "user: a rootless sandbox maps only uid %u:%u",
                            (unsigned)sb->uid, (unsigned)sb->gid);
    if (e == EAGAIN)
        return mj_error_new(MJ_ERR_TEMPORARY_FAILURE, EAGAIN,
                            "sandbox %s is starting too many commands at once: try again", mj_client_name(sb));
    return mj_error_sys(MJ_ERR_COMMAND_EXECUTION_FAILED, e, "exec");
}

/* The error for a command that never ran: refused by the spawner, or failed before execve. */
static mj_error_t *not_started_error(mj_sandbox_t *sb, const char *argv0, const char *workdir, const mj_msg_t *m)
{
    return m->a == MJ_EXEC_STAGE_REQUEST ? refusal_error(sb, m->b) : mj_exec_error(argv0, workdir, m);
}

/* Builds and sends an exec request (flags: MJ_EXEC_DETACHED, MJ_EXEC_MAIN; the command's own come
 * from cmd); on success *chan is the host end of the command's channel. */
static int start_exec(mj_sandbox_t *sb, const mj_command_t *cmd, uint32_t flags, const int io[3], int *chan,
                      char **workdir_out, mj_error_t **err)
{
    if (mj_client_check_usable(sb, "exec", err) < 0)
        return -1;
    if (cmd->argv.n == 0) {
        *err = mj_error_new(MJ_ERR_INVALID_CONFIG, EINVAL, "command: empty command");
        return -1;
    }
    if (cmd->restrict_paths.n && mj_landlock_abi() <= 0) {
        *err = mj_error_new(MJ_ERR_UNSUPPORTED, ENOTSUP,
                            "restrict_paths cannot be enforced: this kernel has no Landlock");
        return -1;
    }
    if (cmd->no_network) {
        int abi = mj_landlock_abi();
        if (abi < 4) {
            *err = mj_error_new(MJ_ERR_UNSUPPORTED, ENOTSUP,
                                "allow_network = false cannot be enforced: it needs Landlock TCP rules (ABI 4, Linux "
                                "6.7+) and this kernel has %s",
                                abi > 0 ? (abi == 1 ? "ABI 1" : abi == 2 ? "ABI 2" : "ABI 3") : "no Landlock");
            return -1;
        }
    }
    mj_strv_t env = {0};
    mj_strv_copy(&env, &sb->env);
    mj_env_overlay(&env, &cmd->env);
    const char *workdir = cmd->workdir ? cmd->workdir : sb->workdir;
    mj_exec_req_t er = {
        .uid = cmd->has_user ? cmd->uid : sb->uid,
        .gid = cmd->has_user ? cmd->gid : sb->gid,
        .flags = flags | (cmd->read_only ? MJ_EXEC_READ_ONLY : 0) |
                 (cmd->tty ? MJ_EXEC_TTY : 0) | (cmd->no_network ? MJ_EXEC_NO_NETWORK : 0),
        .argc = (uint32_t)cmd->argv.n,
        .envc = (uint32_t)env.n,
        .npaths = (uint32_t)cmd->restrict_paths.n,
    };
    struct winsize ws;
    if (cmd->tty && ioctl(cmd->stdin_fd, TIOCGWINSZ, &ws) == 0) {
        er.tty_rows = ws.ws_row;
        er.tty_cols = ws.ws_col;
    }
    cleanup_buf mj_buf_t b = {0};
    mj_buf_append(&b, &er, sizeof(er));
    mj_buf_append(&b, workdir, strlen(workdir) + 1);
    for (size_t i = 0; i < cmd->argv.n; i++)
        mj_buf_append(&b, cmd->argv.v[i], strlen(cmd->argv.v[i]) + 1);
    for (size_t i = 0; i < env.n; i++)
        mj_buf_append(&b, env.v[i], strlen(env.v[i]) + 1);
    for (size_t i = 0; i < cmd->restrict_paths.n; i++)
        mj_buf_append(&b, cmd->restrict_paths.v[i], strlen(cmd->restrict_paths.v[i]) + 1);
    mj_strv_free(&env);
    if (b.len > MJ_PROTO_MAX || cmd->argv.n > MJ_PROTO_MAX_ARGS || er.envc > MJ_PROTO_MAX_ENV) {
        *err = mj_error_new(MJ_ERR_INVALID_CONFIG, E2BIG, "command: arguments and environment exceed %u KiB",
                            MJ_PROTO_MAX / 1024);
        return -1;
    }
    cleanup_pipe int sp[2] = {-1, -1};
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0) {
        *err = mj_error_sys(MJ_ERR_COMMAND_EXECUTION_FAILED, errno, "socketpair");
        return -1;
    }
    int fds[4] = {io[0], io[1], io[2], sp[1]};
    mj_rep_t rep;
    if (mj_client_request(sb, MJ_REQ_EXEC, 0, b.data, b.len, fds, 4, 30, &rep, err) < 0)
        return -1;
    if (rep.type != MJ_REP_OK) {
        *err = refusal_error(sb, rep.err);
        return -1;
    }
    *chan = mj_steal_fd(&sp[0]);
    if (workdir_out)
        *workdir_out = mj_xstrdup(workdir);
    return 0;
}

typedef struct {
    int *chan;
    mj_cgroup_t *cg;
    double cpu_base;
    int pty_master; /* -1 without a terminal */
    int tty_in;     /* the caller's terminal whose size the pty follows, -1 = none */
} exec_ctx_t;

static void chan_send(int chan, uint32_t type, int32_t arg)
{
    mj_req_t req = {.magic = MJ_PROTO_MAGIC, .type = type, .len = 0, .arg = arg};
    (void)send(chan, &req, sizeof(req), MSG_NOSIGNAL | MSG_DONTWAIT);
}

static void exec_kill(void *ctx)
{
    chan_send(*((exec_ctx_t *)ctx)->chan, MJ_CHAN_KILL_TREE, 0);
}

static void exec_signal(void *ctx, int sig)
{
    exec_ctx_t *c = ctx;
    if (sig == SIGWINCH && c->pty_master >= 0) {
        mj_pty_copy_winsize(c->tty_in, c->pty_master); /* the kernel tells the command's foreground group */
        return;
    }
    chan_send(*c->chan, MJ_CHAN_SIGNAL, sig);
}

/* CPU seconds the sandbox used since this command started (the tree-wide cpu_time watchdog). */
static int exec_cpu(void *ctx, double *seconds)
{
    exec_ctx_t *c = ctx;
    mj_cgroup_stats_t st;
    if (!c->cg || mj_cgroup_stats(c->cg, &st) < 0 || !st.have_cpu)
        return -1;
    *seconds = st.cpu_time - c->cpu_base;
    return 0;
}

int mj_sandbox_exec(mj_sandbox_t *sb, const mj_command_t *cmd, mj_result_t **out, mj_error_t **errp)
{
    cleanup_error mj_error_t *local_err = NULL;
    mj_error_t **err = errp ? errp : &local_err;
    mj_trace_mark("until the exec call");
    cleanup_pipes stdio_pipes_t pipes = {{-1, -1}, {-1, -1}, {-1, -1}};
    if (open_pipes(&pipes, err) < 0)
        return -1;
    int io[3] = {pipes.in[0], pipes.out[1], pipes.err[1]};
    struct termios saved_tio;
    bool raw = false;
    double t0 = mj_now_monotonic();
    /* OOM and pids hits are counted by the kernel: compare the counters around the command, but
     * only where a memory or pids limit can produce them (file reads cost on every exec). */
    mj_cgroup_stats_t before;
    bool have_before = mj_client_cgroup(sb) &&
                       (mj_cgroup_dir(sb->cg, "memory") || mj_cgroup_dir(sb->cg, "pids")) &&
                       mj_cgroup_stats(sb->cg, &before) == 0;
    cleanup_pump mj_pump_t pump;
    mj_pump_init(&pump);
    cleanup_free char *log_dir = NULL;
    if (cmd->log) {
        if (!(log_dir = mj_process_log_dir(sb))) {
            *err = mj_error_new(MJ_ERR_INVALID_STATE, EINVAL, "log: only a named sandbox keeps output");
            return -1;
        }
        pump.log_dir = log_dir; /* opened when STARTED names the command's pid */
        pump.log_max = cmd->log_max;
    }
    int chan = -1;
    cleanup_free char *workdir = NULL;
    mj_trace_mark("exec: pipes, cgroup stats");
    if (start_exec(sb, cmd, 0, io, &chan, &workdir, err) < 0)
        return -1;
    mj_trace_mark("exec: request sent");
    close_sandbox_ends(&pipes);
    pump.status_fd = chan; /* closed by mj_pump_close */
    if (cmd->tty) {
        /* Everything goes through the terminal, a pty of the sandbox's own whose master the
         * command's shim hands over first: its output reads as stdout, input is typed in. */
        if (mj_pump_take_pty(&pump, 30, err) < 0) {
            exec_kill(&(exec_ctx_t){.chan = &chan});
            return -1;
        }
        if (pump.out_r >= 0) {
            raw = mj_tty_raw(cmd->stdin_fd, &saved_tio);
            mj_pty_copy_winsize(cmd->stdin_fd, pump.out_r);
        }
    } else {
        pump.out_r = mj_steal_fd(&pipes.out[0]);
        pump.err_r = mj_steal_fd(&pipes.err[0]);
        pump.stdin_w = mj_steal_fd(&pipes.in[1]);
    }
    pump.stop_on_exit = true;
    pump.acks = true; /* the spawner acknowledges signals and kills: silence means it is stuck */
    mj_pump_take_command(&pump, cmd, t0);
    exec_ctx_t ectx = {.chan = &chan, .cg = sb->cg, .pty_master = cmd->tty ? pump.out_r : -1,
                       .tty_in = cmd->stdin_fd};
    mj_cgroup_stats_t cpu0;
    if (sb->cpu_time_limit > 0 && sb->cg && mj_cgroup_stats(sb->cg, &cpu0) == 0 && cpu0.have_cpu)
        ectx.cpu_base = cpu0.cpu_time;
    else
        ectx.cg = NULL;
    pump.kill = exec_kill;
    pump.signal = exec_signal;
    pump.cpu_limit = sb->cpu_time_limit; /* SIGXCPU from RLIMIT_CPU reads as ended_by cpu_time */
    pump.cpu_usage = exec_cpu;
    pump.ctx = &ectx;
    int pr = mj_pump_run(&pump, err);
    if (raw)
        mj_tty_restore(cmd->stdin_fd, &saved_tio);
    if (pr < 0)
        return -1;
    if (pump.unresponsive) {
        *err = mj_error_new(MJ_ERR_TIMEOUT, ETIMEDOUT,
                            "sandbox %s did not answer within %.0f s of being told to %s; the command may still run",
                            mj_client_name(sb), pump.killed ? MJ_PUMP_KILL_GRACE : MJ_PUMP_ACK_GRACE,
                            pump.killed ? "kill it" : "signal it");
        return -1;
    }
    if (pump.got_exec_failed) {
        *err = not_started_error(sb, cmd->argv.v[0], workdir, &pump.failed);
        return -1;
    }
    if (pump.status_fd < 0 && !pump.got_exited && !pump.got_exec_failed) {
        /* The channel closed without an answer: the shim or the supervisor died. */
        (void)mj_client_status(sb);
        if (sb->status == MJ_STATUS_FAILED || !pump.timed_out) {
            *err = sb->status == MJ_STATUS_FAILED ? mj_client_gone_error(sb)
                                                   : mj_error_new(MJ_ERR_COMMAND_EXECUTION_FAILED, EPIPE,
                                                                  "the command's supervisor process died");
            return -1;
        }
    }
    mj_result_t *res = NULL;
    if (mj_result_from_pump(&pump, cmd->argv.v[0], workdir, t0, &res, err) < 0) {
        mj_log_end(pump.log, NULL, *err);
        return -1;
    }
    if (sb->cg && have_before) {
        mj_cgroup_stats_t after;
        if (mj_cgroup_stats(sb->cg, &after) == 0)
            mj_result_apply_cgroup(res, &before, &after);
    }
    mj_log_end(pump.log, res, NULL);
    if (pump.log_errno || mj_log_errno(pump.log))
        mj_strv_push_owned(&res->warnings, mj_xasprintf("log: the output was not kept in full: %s",
                                                        strerror(pump.log_errno ? pump.log_errno : mj_log_errno(pump.log))));
    *out = res;
    mj_trace_mark("result");
    mj_trace_op_end("exec");
    return 0;
}

/* Reads the channel until STARTED or EXEC_FAILED, for up to 30 s. */
static int wait_started(mj_process_t *p, mj_error_t **err)
{
    double deadline = mj_now_monotonic() + 30;
    for (;;) {
        mj_msg_t m;
        ssize_t n;
        struct pollfd pfd = {.fd = p->chan, .events = POLLIN};
        double left = deadline - mj_now_monotonic();
        int r = left > 0 ? poll(&pfd, 1, (int)(left * 1000) + 1) : 0;
        if (r < 0 && errno == EINTR)
            continue;
        if (r == 0) {
            *err = mj_error_new(MJ_ERR_TIMEOUT, ETIMEDOUT, "sandbox %s did not start the command within 30 s",
                                mj_client_name(p->sb));
            return -1;
        }
        do
            n = recv(p->chan, &m, sizeof(m), MSG_DONTWAIT);
        while (n < 0 && errno == EINTR);
        if (n < 0 && errno == EAGAIN)
            continue;
        if (n != (ssize_t)sizeof(m)) {
            *err = mj_error_new(MJ_ERR_COMMAND_EXECUTION_FAILED, EPIPE, "the command's supervisor process died");
            return -1;
        }
        if (m.type == MJ_MSG_EXEC_FAILED) {
            *err = not_started_error(p->sb, p->argv0, p->workdir, &m);
            return -1;
        }
        if (m.type == MJ_MSG_STARTED) {
            p->pid = m.a;
            p->pump.started = m;
            p->pump.got_started = true;
            p->pump.started_mono = mj_now_monotonic();
            return 0;
        }
    }
}

/* A handle that never reached its caller. */
static void discard_process(mj_process_t **p)
{
    mj_process_free(*p);
}

/* The output cap of a spawned process, passed while wait collects what read did not take. */
static void process_kill(void *ctx)
{
    mj_process_t *p = ctx;
    if (!p->done && p->chan >= 0)
        chan_send(p->chan, MJ_CHAN_KILL_TREE, 0);
}

int mj_sandbox_spawn(mj_sandbox_t *sb, const mj_command_t *cmd, mj_process_t **out, mj_error_t **errp)
{
    cleanup_error mj_error_t *local_err = NULL;
    mj_error_t **err = errp ? errp : &local_err;
    if (cmd->tty) {
        *err = mj_error_new(MJ_ERR_UNSUPPORTED, ENOTSUP, "tty: a spawned process has no terminal (use exec)");
        return -1;
    }
    __attribute__((cleanup(discard_process))) mj_process_t *p = mj_xcalloc(1, sizeof(*p));
    p->sb = sb;
    p->chan = p->stdin_w = p->stdout_r = p->stderr_r = -1;
    mj_pump_init(&p->pump);
    cleanup_pipes stdio_pipes_t pipes = {{-1, -1}, {-1, -1}, {-1, -1}};
    if (open_pipes(&pipes, err) < 0)
        return -1;
    int io[3] = {pipes.in[0], pipes.out[1], pipes.err[1]};
    p->t_released = mj_now_monotonic();
    p->argv0 = mj_xstrdup(cmd->argv.n ? cmd->argv.v[0] : "");
    p->pump.limit = cmd->output_limit;
    p->pump.kill = process_kill;
    p->pump.ctx = p;
    if (start_exec(sb, cmd, 0, io, &p->chan, &p->workdir, err) < 0)
        return -1;
    close_sandbox_ends(&pipes);
    p->stdin_w = mj_steal_fd(&pipes.in[1]);
    p->stdout_r = mj_steal_fd(&pipes.out[0]);
    p->stderr_r = mj_steal_fd(&pipes.err[0]);
    mj_set_nonblock(p->stdout_r);
    mj_set_nonblock(p->stderr_r);
    if (wait_started(p, err) < 0)
        return -1;
    *out = steal_pointer(&p);
    return 0;
}

/* What a detached command's short-lived handle holds. */
static void detached_release(mj_process_t *p)
{
    mj_close_fd(&p->chan);
    free(p->argv0);
    free(p->workdir);
}

int mj_process_start_detached(mj_sandbox_t *sb, const mj_command_t *cmd, int io[3], int *chan, pid_t *pid,
                              mj_error_t **err)
{
    __attribute__((cleanup(detached_release))) mj_process_t p = {.sb = sb, .chan = -1};
    mj_pump_init(&p.pump);
    p.argv0 = mj_xstrdup(cmd->argv.n ? cmd->argv.v[0] : "");
    if (start_exec(sb, cmd, MJ_EXEC_DETACHED, io, &p.chan, &p.workdir, err) < 0 || wait_started(&p, err) < 0)
        return -1;
    *pid = p.pid;
    *chan = mj_steal_fd(&p.chan);
    return 0;
}

int mj_process_send_exec(mj_sandbox_t *sb, const mj_command_t *cmd, uint32_t flags, const int io[3], int *chan,
                         mj_error_t **err)
{
    return start_exec(sb, cmd, flags & (MJ_EXEC_DETACHED | MJ_EXEC_MAIN), io, chan, NULL, err);
}

mj_error_t *mj_process_not_started_error(mj_sandbox_t *sb, const char *argv0, const mj_msg_t *m)
{
    return not_started_error(sb, argv0, sb->workdir, m);
}

void mj_process_kill_detached(int chan)
{
    chan_send(chan, MJ_CHAN_KILL_TREE, 0);
}

char *mj_process_log_dir(const mj_sandbox_t *sb)
{
    return sb->dir ? mj_xasprintf("%s/logs", sb->dir) : NULL;
}

/* ------------------------------------------------------------------ processes */

int mj_process_stdin_fd(const mj_process_t *p) { return p->stdin_w; }
int mj_process_stdout_fd(const mj_process_t *p) { return p->stdout_r; }
int mj_process_stderr_fd(const mj_process_t *p) { return p->stderr_r; }
pid_t mj_process_pid(const mj_process_t *p) { return p->pid; }

void mj_process_close_stdin(mj_process_t *p)
{
    mj_close_fd(&p->stdin_w);
}

int mj_process_signal(mj_process_t *p, int sig, mj_error_t **err)
{
    if (sig <= 0 || sig >= NSIG) {
        *err = mj_error_new(MJ_ERR_INVALID_CONFIG, EINVAL, "signal: %d is not a signal", sig);
        return -1;
    }
    if (p->done || p->chan < 0) {
        *err = mj_error_new(MJ_ERR_INVALID_STATE, ESRCH, "the process has exited");
        return -1;
    }
    chan_send(p->chan, MJ_CHAN_SIGNAL, sig);
    return 0;
}

int mj_process_kill_tree(mj_process_t *p, mj_error_t **err)
{
    if (p->done || p->chan < 0) {
        *err = mj_error_new(MJ_ERR_INVALID_STATE, ESRCH, "the process has exited");
        return -1;
    }
    chan_send(p->chan, MJ_CHAN_KILL_TREE, 0);
    return 0;
}

/* Whatever the caller did not read: everything readable now on the process's stdout and stderr
 * goes into its result (a pipe at EOF is closed, so read() sees the end). */
static void take_unread(mj_process_t *p)
{
    if (p->stdout_r >= 0)
        mj_pump_take_output(&p->pump, &p->stdout_r, false);
    if (p->stderr_r >= 0)
        mj_pump_take_output(&p->pump, &p->stderr_r, true);
}

/* Waits up to timeout_ms (-1: forever) for the command's EXITED, collecting the output nobody
 * read meanwhile, so a command that writes more than a pipe holds never blocks on it.  1 with the
 * result, 0 when the time passed, -1 with the error. */
static int process_collect(mj_process_t *p, int timeout_ms, mj_result_t **out, mj_error_t **err)
{
    if (p->done) {
        *err = mj_error_new(MJ_ERR_INVALID_STATE, ESRCH, "the process was already waited for");
        return -1;
    }
    double deadline = timeout_ms < 0 ? 0 : mj_now_monotonic() + timeout_ms / 1000.0;
    for (;;) {
        int left = -1;
        if (timeout_ms >= 0) {
            double l = deadline - mj_now_monotonic();
            left = l > 0 ? (int)(l * 1000) + 1 : 0;
        }
        struct pollfd pfd[3] = {{.fd = p->chan, .events = POLLIN}};
        nfds_t n = 1;
        int i_out = -1, i_err = -1;
        if (p->stdout_r >= 0)
            pfd[i_out = (int)n++] = (struct pollfd){.fd = p->stdout_r, .events = POLLIN};
        if (p->stderr_r >= 0)
            pfd[i_err = (int)n++] = (struct pollfd){.fd = p->stderr_r, .events = POLLIN};
        int r = poll(pfd, n, left);
        if (r < 0 && errno == EINTR)
            continue;
        if (r == 0)
            return 0;
        if (i_out >= 0 && pfd[i_out].revents)
            mj_pump_take_output(&p->pump, &p->stdout_r, false);
        if (i_err >= 0 && pfd[i_err].revents)
            mj_pump_take_output(&p->pump, &p->stderr_r, true);
        if (!pfd[0].revents)
            continue;
        mj_msg_t m;
        ssize_t got = recv(p->chan, &m, sizeof(m), MSG_DONTWAIT);
        if (got < 0 && (errno == EAGAIN || errno == EINTR))
            continue;
        if (got != (ssize_t)sizeof(m)) {
            p->done = true;
            *err = mj_error_new(MJ_ERR_COMMAND_EXECUTION_FAILED, EPIPE, "the command's supervisor process died");
            return -1;
        }
        if (m.type != MJ_MSG_EXITED)
            continue;
        /* What it wrote before it exited is in the pipes (background processes that still hold
         * them do not keep us waiting). */
        take_unread(p);
        p->pump.exited = m;
        p->pump.got_exited = true;
        p->pump.exited_mono = mj_now_monotonic();
        p->done = true;
        mj_result_t *res = NULL;
        if (mj_result_from_pump(&p->pump, p->argv0, p->workdir, p->t_released, &res, err) < 0)
            return -1;
        *out = res;
        return 1;
    }
}

int mj_process_wait(mj_process_t *p, double timeout, mj_result_t **out, mj_error_t **err)
{
    int r = process_collect(p, timeout < 0 ? -1 : (int)(timeout * 1000), out, err);
    if (r == 0) {
        *err = mj_error_new(MJ_ERR_TIMEOUT, ETIMEDOUT, "the process did not exit within %.3g s", timeout);
        return -1;
    }
    return r < 0 ? -1 : 0;
}

int mj_process_poll(mj_process_t *p, mj_result_t **out, mj_error_t **err)
{
    return process_collect(p, 0, out, err);
}

void mj_process_free(mj_process_t *p)
{
    if (!p)
        return;
    if (!p->done && p->chan >= 0)
        chan_send(p->chan, MJ_CHAN_KILL_TREE, 0);
    mj_close_fd(&p->chan);
    mj_close_fd(&p->stdin_w);
    mj_close_fd(&p->stdout_r);
    mj_close_fd(&p->stderr_r);
    mj_pump_close(&p->pump);
    free(p->argv0);
    free(p->workdir);
    free(p);
}

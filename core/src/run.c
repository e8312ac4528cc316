/* run.c — the host side of a one-shot run: clone into the namespaces, write the id maps, release
 * the child, then pump stdin/stdout/stderr, watch the wall clock and the output cap, and turn
 * what the sandbox's init reports into an mj_result_t.  Every byte from the sandbox is treated as
 * hostile: messages are fixed-size, validated, and bounded. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/magic.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <sys/signalfd.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "internal.h"

#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x00001000
#endif
#ifndef CLONE_NEWCGROUP
#define CLONE_NEWCGROUP 0x02000000
#endif

struct mj_clone_args {
    uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls;
};

static const int forwarded_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH};

/* Fork-like clone; *pidfd gets a pidfd when the kernel supports clone3, else -1. */
static pid_t clone_sandbox(unsigned long flags, int *pidfd)
{
    struct mj_clone_args args = {.flags = flags | CLONE_PIDFD, .pidfd = (uint64_t)(uintptr_t)pidfd,
                                 .exit_signal = SIGCHLD};
    *pidfd = -1;
    long r = syscall(SYS_clone3, &args, sizeof(args));
    if (r >= 0 || (errno != ENOSYS && errno != E2BIG))
        return (pid_t)r;
    *pidfd = -1;
    return (pid_t)syscall(SYS_clone, flags | SIGCHLD, 0, NULL, NULL, 0);
}

static int write_id_maps(const mj_plan_t *plan, pid_t pid, mj_error_t **err)
{
    if (plan->rootless && mj_proc_write(pid, "setgroups", "deny", err) < 0)
        return -1;
    if (mj_proc_write(pid, "uid_map", plan->uid_map, err) < 0)
        return -1;
    if (mj_proc_write(pid, "gid_map", plan->gid_map, err) < 0)
        return -1;
    return 0;
}

static int set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static void close_fd(int *fd)
{
    if (*fd >= 0) {
        close(*fd);
        *fd = -1;
    }
}

typedef struct {
    pid_t pid;
    int pidfd;
    bool killed;
} mj_child_t;

static void kill_child(mj_child_t *c)
{
    if (c->killed)
        return;
    c->killed = true;
    if (c->pidfd >= 0 && syscall(SYS_pidfd_send_signal, c->pidfd, SIGKILL, NULL, 0) == 0)
        return;
    kill(c->pid, SIGKILL);
}

/* Everything the pump loop tracks. */
typedef struct {
    int out_r, err_r, status_r, stdin_w, relay_r, sig_fd;
    const char *stdin_data;
    size_t stdin_len, stdin_off;
    char relay_buf[65536];
    size_t relay_len, relay_off;
    unsigned char msg_buf[sizeof(mj_msg_t)];
    size_t msg_len;
    bool got_started, got_exited, got_exec_failed, got_setup_failed;
    mj_msg_t started, exited, failed;
    uint64_t limit, total;
    bool timed_out, over_limit;
    int tee_out, tee_err;
} mj_pump_t;

static void handle_msg(mj_pump_t *p, const mj_msg_t *m)
{
    switch (m->type) {
    case MJ_MSG_STARTED:
        p->started = *m;
        p->got_started = true;
        break;
    case MJ_MSG_EXITED:
        p->exited = *m;
        p->got_exited = true;
        break;
    case MJ_MSG_EXEC_FAILED:
        p->failed = *m;
        p->got_exec_failed = true;
        break;
    case MJ_MSG_SETUP_FAILED:
        p->failed = *m;
        p->got_setup_failed = true;
        break;
    default:
        break; /* unknown: ignored, never trusted */
    }
}

static void read_status(mj_pump_t *p)
{
    for (;;) {
        ssize_t n = read(p->status_r, p->msg_buf + p->msg_len, sizeof(p->msg_buf) - p->msg_len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return;
        if (n <= 0) {
            close_fd(&p->status_r);
            return;
        }
        p->msg_len += (size_t)n;
        if (p->msg_len == sizeof(mj_msg_t)) {
            mj_msg_t m;
            memcpy(&m, p->msg_buf, sizeof(m));
            handle_msg(p, &m);
            p->msg_len = 0;
        }
    }
}

static void read_output(mj_pump_t *p, int *fd, mj_buf_t *own, mj_buf_t *combined, int tee, mj_child_t *child)
{
    char buf[65536];
    for (;;) {
        ssize_t n = read(*fd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return;
        if (n <= 0) {
            close_fd(fd);
            return;
        }
        size_t take = (size_t)n;
        if (p->limit && p->total + take > p->limit) {
            take = (size_t)(p->limit - p->total);
            if (!p->over_limit) {
                p->over_limit = true;
                kill_child(child);
            }
        }
        if (p->over_limit && take == 0)
            continue; /* keep draining so the writers see no backpressure while they die */
        mj_buf_append(own, buf, take);
        mj_buf_append(combined, buf, take);
        p->total += take;
        if (tee >= 0)
            (void)mj_write_all(tee, buf, take);
    }
}

static void pump_stdin(mj_pump_t *p)
{
    if (p->stdin_data) {
        while (p->stdin_off < p->stdin_len) {
            ssize_t n = write(p->stdin_w, p->stdin_data + p->stdin_off, p->stdin_len - p->stdin_off);
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0 && errno == EAGAIN)
                return;
            if (n < 0) {
                break; /* EPIPE: the command stopped reading */
            }
            p->stdin_off += (size_t)n;
        }
        close_fd(&p->stdin_w);
        return;
    }
    while (p->relay_off < p->relay_len) {
        ssize_t n = write(p->stdin_w, p->relay_buf + p->relay_off, p->relay_len - p->relay_off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return;
        if (n < 0) {
            close_fd(&p->stdin_w);
            p->relay_r = -1; /* borrowed: not ours to close */
            return;
        }
        p->relay_off += (size_t)n;
    }
}

static void read_relay(mj_pump_t *p)
{
    ssize_t n;
    do
        n = read(p->relay_r, p->relay_buf, sizeof(p->relay_buf));
    while (n < 0 && errno == EINTR);
    if (n < 0 && errno == EAGAIN)
        return;
    if (n <= 0) {
        p->relay_r = -1;
        close_fd(&p->stdin_w);
        return;
    }
    p->relay_len = (size_t)n;
    p->relay_off = 0;
    pump_stdin(p);
}

static void forward_signal(mj_pump_t *p, mj_child_t *child)
{
    struct signalfd_siginfo si;
    while (read(p->sig_fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
        /* The sandbox's init forwards it to the command. */
        if (child->pidfd >= 0)
            syscall(SYS_pidfd_send_signal, child->pidfd, (int)si.ssi_signo, NULL, 0);
        else
            kill(child->pid, (int)si.ssi_signo);
    }
}

static mj_error_t *setup_error(const mj_plan_t *plan, const mj_msg_t *m)
{
    int stage = m->a, e = m->b, idx = m->c;
    const char *what = "";
    const char *path = "";
    if (idx >= 0 && (size_t)idx < plan->n_ops) {
        const mj_op_t *op = &plan->ops[idx];
        what = op->kind == MJ_OP_BIND ? (op->src ? op->src : "") : "";
        path = op->dst;
    }
    if (idx >= 0 && (size_t)idx < plan->n_ops)
        return mj_error_new(MJ_ERR_SANDBOX_INIT_FAILED, e, "%s %s%s/%s: %s", mj_stage_name((mj_stage_t)stage), what,
                            *what ? " on " : "", path, strerror(e));
    return mj_error_new(MJ_ERR_SANDBOX_INIT_FAILED, e, "%s: %s", mj_stage_name((mj_stage_t)stage), strerror(e));
}

static mj_error_t *exec_error(const mj_plan_t *plan, const mj_msg_t *m)
{
    int stage = m->a, e = m->b;
    switch (stage) {
    case 1:
        return mj_error_new(MJ_ERR_COMMAND_EXECUTION_FAILED, e, "working directory '%s': %s", plan->workdir, strerror(e));
    case 2:
        return mj_error_new(MJ_ERR_COMMAND_EXECUTION_FAILED, e, "setting resource limits: %s", strerror(e));
    case 3:
        return mj_error_new(MJ_ERR_COMMAND_EXECUTION_FAILED, e, "dropping privileges: %s", strerror(e));
    default:
        if (e == ENOENT)
            return mj_error_new(MJ_ERR_COMMAND_EXECUTION_FAILED, e, "'%s': command not found", plan->argv.v[0]);
        if (e == EACCES)
            return mj_error_new(MJ_ERR_COMMAND_EXECUTION_FAILED, e, "'%s': permission denied (not executable)",
                                plan->argv.v[0]);
        return mj_error_new(MJ_ERR_COMMAND_EXECUTION_FAILED, e, "'%s': %s", plan->argv.v[0], strerror(e));
    }
}

int mj_run(const mj_config_t *cfg, const mj_command_t *cmd, mj_result_t **out, mj_error_t **errp)
{
    mj_error_t *local_err = NULL;
    mj_error_t **err = errp ? errp : &local_err;
    mj_plan_t plan;
    if (mj_plan_build(cfg, cmd, &plan, err) < 0) {
        mj_error_free(local_err);
        return -1;
    }

    int p_in[2] = {-1, -1}, p_out[2] = {-1, -1}, p_err[2] = {-1, -1}, p_status[2] = {-1, -1}, p_sync[2] = {-1, -1};
    int ret = -1;
    double t0 = mj_now_monotonic();
    mj_result_t *res = NULL;
    mj_child_t child = {.pid = -1, .pidfd = -1};
    mj_pump_t pump;
    memset(&pump, 0, sizeof(pump));
    pump.sig_fd = pump.relay_r = -1;
    sigset_t oldmask, blockmask;
    sigemptyset(&blockmask);
    sigaddset(&blockmask, SIGPIPE);
    if (cmd->forward_signals)
        for (size_t i = 0; i < MJ_ARRAY_LEN(forwarded_signals); i++)
            sigaddset(&blockmask, forwarded_signals[i]);
    pthread_sigmask(SIG_BLOCK, &blockmask, &oldmask);

    if (pipe2(p_in, O_CLOEXEC) < 0 || pipe2(p_out, O_CLOEXEC) < 0 || pipe2(p_err, O_CLOEXEC) < 0 ||
        pipe2(p_status, O_CLOEXEC) < 0 || pipe2(p_sync, O_CLOEXEC) < 0) {
        *err = mj_error_new(MJ_ERR_SANDBOX_INIT_FAILED, errno, "pipe: %s", strerror(errno));
        goto out;
    }

    if (mj_idmap_rw_binds(&plan, err) < 0)
        goto out;
    unsigned long flags = CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWCGROUP;
    if (plan.new_netns)
        flags |= CLONE_NEWNET;
    child.pid = clone_sandbox(flags, &child.pidfd);
    if (child.pid < 0) {
        int e = errno;
        *err = mj_error_new(MJ_ERR_SANDBOX_INIT_FAILED, e, "creating namespaces: %s%s", strerror(e),
                            e == EPERM || e == ENOSPC ? " (are unprivileged user namespaces allowed? see moonjail doctor)"
                                                      : "");
        goto out;
    }
    if (child.pid == 0) {
        mj_child_fds_t fds = {
            .sync_r = p_sync[0], .status_w = p_status[1], .stdin_r = p_in[0], .stdout_w = p_out[1],
            .stderr_w = p_err[1], .host_ends = {p_sync[1], p_status[0], p_in[1], p_out[0], p_err[0]},
        };
        mj_child_main(&plan, &fds);
    }
    close_fd(&p_sync[0]);
    close_fd(&p_status[1]);
    close_fd(&p_in[0]);
    close_fd(&p_out[1]);
    close_fd(&p_err[1]);

    if (write_id_maps(&plan, child.pid, err) < 0) {
        kill_child(&child);
        goto reap;
    }
    t0 = mj_now_monotonic();
    if (mj_write_all(p_sync[1], "g", 1) < 0) {
        *err = mj_error_new(MJ_ERR_SANDBOX_INIT_FAILED, errno, "releasing the sandbox: %s", strerror(errno));
        kill_child(&child);
        goto reap;
    }
    close_fd(&p_sync[1]);

    res = mj_xcalloc(1, sizeof(*res));
    pump.out_r = mj_steal_fd(&p_out[0]);
    pump.err_r = mj_steal_fd(&p_err[0]);
    pump.status_r = mj_steal_fd(&p_status[0]);
    pump.stdin_w = mj_steal_fd(&p_in[1]);
    pump.limit = cmd->output_limit;
    pump.tee_out = cmd->tee_out;
    pump.tee_err = cmd->tee_err;
    if (cmd->has_stdin) {
        pump.stdin_data = cmd->stdin_data.data ? cmd->stdin_data.data : "";
        pump.stdin_len = cmd->stdin_data.len;
    } else if (cmd->stdin_fd >= 0) {
        pump.relay_r = cmd->stdin_fd;
    } else {
        close_fd(&pump.stdin_w); /* stdin reads EOF */
    }
    set_nonblock(pump.out_r);
    set_nonblock(pump.err_r);
    set_nonblock(pump.status_r);
    if (pump.stdin_w >= 0)
        set_nonblock(pump.stdin_w);
    if (cmd->forward_signals) {
        sigset_t fwd;
        sigemptyset(&fwd);
        for (size_t i = 0; i < MJ_ARRAY_LEN(forwarded_signals); i++)
            sigaddset(&fwd, forwarded_signals[i]);
        pump.sig_fd = signalfd(-1, &fwd, SFD_CLOEXEC | SFD_NONBLOCK);
    }
    if (pump.stdin_data)
        pump_stdin(&pump);

    double deadline = cmd->timeout > 0 ? t0 + cmd->timeout : 0;
    while (pump.out_r >= 0 || pump.err_r >= 0 || pump.status_r >= 0) {
        struct pollfd pfd[6];
        int n = 0, i_out = -1, i_err = -1, i_st = -1, i_in = -1, i_relay = -1, i_sig = -1;
        if (pump.out_r >= 0)
            pfd[i_out = n++] = (struct pollfd){.fd = pump.out_r, .events = POLLIN};
        if (pump.err_r >= 0)
            pfd[i_err = n++] = (struct pollfd){.fd = pump.err_r, .events = POLLIN};
        if (pump.status_r >= 0)
            pfd[i_st = n++] = (struct pollfd){.fd = pump.status_r, .events = POLLIN};
        bool stdin_pending = pump.stdin_w >= 0 && (pump.stdin_data ? pump.stdin_off < pump.stdin_len
                                                                     : pump.relay_off < pump.relay_len);
        if (stdin_pending)
            pfd[i_in = n++] = (struct pollfd){.fd = pump.stdin_w, .events = POLLOUT};
        else if (pump.relay_r >= 0 && pump.stdin_w >= 0)
            pfd[i_relay = n++] = (struct pollfd){.fd = pump.relay_r, .events = POLLIN};
        if (pump.sig_fd >= 0)
            pfd[i_sig = n++] = (struct pollfd){.fd = pump.sig_fd, .events = POLLIN};
        int timeout_ms = -1;
        if (deadline > 0 && !child.killed) {
            double left = deadline - mj_now_monotonic();
            if (left <= 0) {
                pump.timed_out = true;
                kill_child(&child);
                continue;
            }
            timeout_ms = (int)(left * 1000) + 1;
        }
        int r = poll(pfd, (nfds_t)n, timeout_ms);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            *err = mj_error_new(MJ_ERR_SANDBOX_INIT_FAILED, errno, "poll: %s", strerror(errno));
            kill_child(&child);
            break;
        }
        if (i_st >= 0 && pfd[i_st].revents)
            read_status(&pump);
        if (i_out >= 0 && pfd[i_out].revents)
            read_output(&pump, &pump.out_r, &res->out, &res->combined, pump.tee_out, &child);
        if (i_err >= 0 && pfd[i_err].revents)
            read_output(&pump, &pump.err_r, &res->err, &res->combined, pump.tee_err, &child);
        if (i_in >= 0 && pfd[i_in].revents) {
            if (pfd[i_in].revents & (POLLERR | POLLHUP)) {
                close_fd(&pump.stdin_w);
                pump.relay_r = -1;
            } else {
                pump_stdin(&pump);
            }
        }
        if (i_relay >= 0 && pfd[i_relay].revents)
            read_relay(&pump);
        if (i_sig >= 0 && pfd[i_sig].revents)
            forward_signal(&pump, &child);
    }

reap:
    if (child.pid > 0) {
        int st;
        while (waitpid(child.pid, &st, 0) < 0 && errno == EINTR)
            ;
    }
    if (*err)
        goto out;
    if (pump.got_setup_failed) {
        *err = setup_error(&plan, &pump.failed);
        goto out;
    }
    if (pump.got_exec_failed) {
        *err = exec_error(&plan, &pump.failed);
        goto out;
    }
    if (!pump.got_started && !pump.timed_out) {
        *err = mj_error_new(MJ_ERR_SANDBOX_INIT_FAILED, 0, "the sandbox's init exited before starting the command");
        goto out;
    }

    double now = mj_now_realtime();
    res->start_time = pump.got_started ? (double)pump.started.t_ns / 1e9 : now - (mj_now_monotonic() - t0);
    res->pid = pump.got_started ? pump.started.a : 0;
    if (pump.timed_out) {
        res->ended_by = MJ_END_TIMEOUT;
        res->exit_code = 124;
        res->signal = SIGKILL;
        res->end_time = now;
    } else if (pump.got_exited) {
        int st = pump.exited.a;
        res->end_time = (double)pump.exited.t_ns / 1e9;
        res->cpu_time = (double)(pump.exited.u1 + pump.exited.u2) / 1e6;
        res->memory_peak = pump.exited.u3 * 1024;
        if (WIFEXITED(st)) {
            res->ended_by = MJ_END_EXIT;
            res->exit_code = WEXITSTATUS(st);
        } else if (WIFSIGNALED(st)) {
            res->ended_by = MJ_END_SIGNAL;
            res->signal = WTERMSIG(st);
            res->exit_code = 128 + res->signal;
        }
        if (pump.over_limit)
            res->ended_by = MJ_END_OUTPUT_LIMIT;
    } else if (pump.over_limit) {
        res->ended_by = MJ_END_OUTPUT_LIMIT;
        res->signal = SIGKILL;
        res->exit_code = 128 + SIGKILL;
        res->end_time = now;
    } else {
        *err = mj_error_new(MJ_ERR_SANDBOX_INIT_FAILED, 0, "the sandbox's init died before the command finished");
        goto out;
    }
    if (res->end_time < res->start_time)
        res->end_time = res->start_time;
    res->truncated = pump.over_limit;
    mj_strv_copy(&res->warnings, &plan.warnings);
    *out = steal_pointer(&res);
    ret = 0;

out:
    close_fd(&pump.out_r);
    close_fd(&pump.err_r);
    close_fd(&pump.status_r);
    close_fd(&pump.stdin_w);
    close_fd(&pump.sig_fd);
    if (child.pidfd >= 0)
        close(child.pidfd);
    for (int i = 0; i < 2; i++) {
        close_fd(&p_in[i]);
        close_fd(&p_out[i]);
        close_fd(&p_err[i]);
        close_fd(&p_status[i]);
        close_fd(&p_sync[i]);
    }
    /* Swallow a SIGPIPE raised while feeding stdin, then restore the caller's mask. */
    {
        sigset_t pipeset;
        sigemptyset(&pipeset);
        sigaddset(&pipeset, SIGPIPE);
        struct timespec zero = {0, 0};
        while (sigtimedwait(&pipeset, NULL, &zero) > 0)
            ;
    }
    pthread_sigmask(SIG_SETMASK, &oldmask, NULL);
    if (res)
        mj_result_free(res);
    mj_plan_free(&plan);
    mj_error_free(local_err);
    return ret;
}

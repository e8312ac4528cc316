/* pump.c — the host-side loop that carries a command's stdio and status: feeds stdin (bytes or a
 * relayed host fd), captures stdout and stderr separately and in arrival order, enforces the
 * output cap and the wall-clock deadline, forwards signals, and collects the fixed-size status
 * messages (mj_msg_t) the sandbox side sends.  Used by one-shot runs and by execs in persistent
 * sandboxes.  Everything read from the sandbox is bounded and validated. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "error.h"
#include "config.h"
#include "exec.h"
#include "proto.h"
#include "pty.h"
#include "pump.h"
#include "trace.h"
#include "seccomp.h"
#include "util.h"
#include "wire.h"

void mj_pump_init(mj_pump_t *p)
{
    memset(p, 0, sizeof(*p));
    p->out_r = p->err_r = p->status_fd = p->stdin_w = p->relay_r = p->sig_fd = -1;
    p->tee_out = p->tee_err = -1;
}

void mj_pump_take_command(mj_pump_t *p, const mj_command_t *cmd, double released)
{
    p->limit = cmd->output_limit;
    p->tee_out = cmd->tee_out;
    p->tee_err = cmd->tee_err;
    p->no_capture = cmd->no_capture;
    p->forward_signals = cmd->forward_signals;
    p->timeout = cmd->timeout > 0 ? cmd->timeout : 0;
    p->deadline = p->timeout > 0 ? released + p->timeout : 0;
    if (cmd->has_stdin) {
        p->stdin_data = cmd->stdin_data.data ? cmd->stdin_data.data : "";
        p->stdin_len = cmd->stdin_data.len;
    } else {
        p->relay_r = cmd->stdin_fd;
    }
}

/* With acks, every word to the sandbox side starts a clock: a stuck supervisor or spawner never
 * keeps the host waiting for good. */
static void expect_ack(mj_pump_t *p)
{
    if (p->acks && p->ack_due <= 0)
        p->ack_due = mj_now_monotonic() + MJ_PUMP_ACK_GRACE;
}

static void do_kill(mj_pump_t *p)
{
    if (p->killed)
        return;
    p->killed = true;
    if (p->kill)
        p->kill(p->ctx);
    expect_ack(p);
    if (p->acks)
        p->exit_due = mj_now_monotonic() + MJ_PUMP_KILL_GRACE;
}

static void handle_msg(mj_pump_t *p, const mj_msg_t *m)
{
    switch (m->type) {
    case MJ_MSG_STARTED:
        p->started = *m;
        p->got_started = true;
        p->started_mono = mj_now_monotonic();
        mj_trace_mark("started (reported)");
        if (p->log_dir && !p->log && !p->log_errno) {
            mj_error_t *e = NULL;
            if (mj_log_open(p->log_dir, m->a, p->log_max, &p->log, &e) < 0) {
                p->log_errno = mj_error_errno(e) ? mj_error_errno(e) : EIO;
                mj_error_free(e);
            }
        }
        /* The timeout is the command's wall-clock time, as its duration is: counted again from
         * its start, so a slow sandbox set-up (a container layer under emulation) does not eat it.
         * Until STARTED the deadline from the release bounds the set-up too. */
        if (p->timeout > 0)
            p->deadline = p->started_mono + p->timeout;
        break;
    case MJ_MSG_EXITED:
        p->exited = *m;
        p->got_exited = true;
        p->exited_mono = mj_now_monotonic();
        mj_trace_mark("exit status");
        break;
    case MJ_MSG_EXEC_FAILED:
        p->failed = *m;
        p->got_exec_failed = true;
        break;
    case MJ_MSG_SETUP_FAILED:
        p->failed = *m;
        p->got_setup_failed = true;
        break;
    case MJ_MSG_ACK:
        p->ack_due = 0;
        break;
    case MJ_MSG_DENIED:
        p->denials_total++;
        if (p->n_denials < MJ_RESULT_DENIALS_MAX) {
            mj_denial_t *d = &p->denials[p->n_denials++];
            d->nr = m->a;
            d->syscall = mj_seccomp_syscall_name(m->a);
            d->pid = m->b;
        }
        break;
    default:
        break; /* unknown: ignored, never trusted */
    }
}

int mj_pump_take_pty(mj_pump_t *p, double timeout, mj_error_t **err)
{
    double deadline = mj_now_monotonic() + timeout;
    mj_msg_t m;
    int fds[1] = {-1}, nfds = 0;
    bool truncated = false;
    ssize_t n;
    for (;;) {
        double left = deadline - mj_now_monotonic();
        struct pollfd pfd = {.fd = p->status_fd, .events = POLLIN};
        int r = left > 0 ? poll(&pfd, 1, (int)(left * 1000) + 1) : 0;
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            *err = mj_error_new(MJ_ERR_COMMAND_EXECUTION_FAILED, ETIMEDOUT,
                                "the sandbox did not hand over the command's terminal within %g s", timeout);
            return -1;
        }
        n = mj_wire_recv(p->status_fd, &m, sizeof(m), MSG_DONTWAIT, fds, 1, &nfds, &truncated);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        break;
    }
    int master = nfds == 1 ? fds[0] : -1;
    if (n != (ssize_t)sizeof(m) || truncated) {
        mj_close_fd(&master);
        if (n == 0) { /* gone before a word: the pump reports it from the EOF */
            mj_close_fd(&p->status_fd);
            return 0;
        }
        *err = mj_error_new(MJ_ERR_COMMAND_EXECUTION_FAILED, EPROTO, "a bad message from the sandbox");
        return -1;
    }
    if (m.type != MJ_MSG_PTY) {
        mj_close_fd(&master); /* only PTY carries an fd */
        handle_msg(p, &m);
        return 0;
    }
    if (master < 0 || !mj_pty_is_master(master)) {
        mj_close_fd(&master);
        *err = mj_error_new(MJ_ERR_COMMAND_EXECUTION_FAILED, EPROTO, "the sandbox handed over no terminal");
        return -1;
    }
    p->stdin_w = fcntl(master, F_DUPFD_CLOEXEC, 3);
    if (p->stdin_w < 0) {
        mj_close_fd(&master);
        *err = mj_error_sys(MJ_ERR_COMMAND_EXECUTION_FAILED, errno, "dup");
        return -1;
    }
    p->out_r = master;
    return 0;
}

static void read_status(mj_pump_t *p)
{
    for (;;) {
        ssize_t n = read(p->status_fd, p->msg_buf + p->msg_len, sizeof(p->msg_buf) - p->msg_len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return;
        if (n <= 0) {
            mj_close_fd(&p->status_fd);
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

static void read_output(mj_pump_t *p, int *fd, mj_buf_t *own, int tee)
{
    char buf[65536];
    for (;;) {
        ssize_t n = read(*fd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return;
        if (n <= 0) {
            mj_close_fd(fd);
            return;
        }
        size_t take = (size_t)n;
        if (p->total == 0)
            mj_trace_mark("first byte");
        if (p->limit && p->total + take > p->limit) {
            take = (size_t)(p->limit - p->total);
            if (!p->over_limit) {
                p->over_limit = true;
                do_kill(p);
            }
        }
        if (take == 0)
            continue; /* keep draining so writers do not block while they die */
        if (!p->no_capture) {
            mj_buf_append(own, buf, take);
            mj_buf_append(&p->combined, buf, take);
        }
        if (p->log)
            mj_log_write(p->log, own == &p->err ? MJ_LOG_STDERR : MJ_LOG_STDOUT, buf, take);
        p->total += take;
        if (tee >= 0)
            (void)mj_write_all(tee, buf, take);
    }
}

void mj_pump_take_output(mj_pump_t *p, int *fd, bool is_err)
{
    read_output(p, fd, is_err ? &p->err : &p->out, is_err ? p->tee_err : p->tee_out);
}

static void pump_stdin(mj_pump_t *p)
{
    const char *data = p->stdin_data ? p->stdin_data : p->relay_buf;
    size_t *off = p->stdin_data ? &p->stdin_off : &p->relay_off;
    size_t len = p->stdin_data ? p->stdin_len : p->relay_len;
    while (*off < len) {
        ssize_t n = write(p->stdin_w, data + *off, len - *off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return;
        if (n < 0) { /* EPIPE: the command stopped reading */
            mj_close_fd(&p->stdin_w);
            p->relay_r = -1;
            return;
        }
        *off += (size_t)n;
    }
    if (p->stdin_data)
        mj_close_fd(&p->stdin_w);
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
        p->relay_r = -1; /* borrowed: not ours to close */
        mj_close_fd(&p->stdin_w);
        return;
    }
    p->relay_len = (size_t)n;
    p->relay_off = 0;
    pump_stdin(p);
}

static void forward_signals(mj_pump_t *p)
{
    struct signalfd_siginfo si;
    while (read(p->sig_fd, &si, sizeof(si)) == (ssize_t)sizeof(si))
        if (p->signal) {
            p->signal(p->ctx, (int)si.ssi_signo);
            if (si.ssi_signo != SIGWINCH) /* a window size goes to the pty, not the sandbox */
                expect_ack(p);
        }
}

static bool finished(const mj_pump_t *p)
{
    if (p->stop_on_exit)
        return p->status_fd < 0 || p->got_exited || p->got_exec_failed || p->got_setup_failed;
    return p->out_r < 0 && p->err_r < 0 && p->status_fd < 0;
}

int mj_pump_run(mj_pump_t *p, mj_error_t **err)
{
    int ret = 0;
    sigset_t oldmask, blockmask, fwd;
    sigemptyset(&blockmask);
    sigemptyset(&fwd);
    sigaddset(&blockmask, SIGPIPE);
    if (p->forward_signals)
        for (size_t i = 0; i < MJ_N_FORWARDED_SIGNALS; i++) {
            sigaddset(&blockmask, mj_forwarded_signals[i]);
            sigaddset(&fwd, mj_forwarded_signals[i]);
        }
    pthread_sigmask(SIG_BLOCK, &blockmask, &oldmask);
    if (p->forward_signals)
        p->sig_fd = signalfd(-1, &fwd, SFD_CLOEXEC | SFD_NONBLOCK);

    if (p->out_r >= 0)
        mj_set_nonblock(p->out_r);
    if (p->err_r >= 0)
        mj_set_nonblock(p->err_r);
    if (p->status_fd >= 0)
        mj_set_nonblock(p->status_fd);
    if (p->stdin_w >= 0) {
        mj_set_nonblock(p->stdin_w);
        if (!p->stdin_data && p->relay_r < 0)
            mj_close_fd(&p->stdin_w); /* no input: the command reads EOF */
    }
    if (p->stdin_data)
        pump_stdin(p);

    while (!finished(p)) {
        struct pollfd pfd[6];
        int n = 0, i_out = -1, i_err = -1, i_st = -1, i_in = -1, i_relay = -1, i_sig = -1;
        /* Output to be logged waits for the log (STARTED names it), unless the status is over. */
        bool hold = p->log_dir && !p->log && !p->log_errno && p->status_fd >= 0;
        if (p->out_r >= 0 && !hold)
            pfd[i_out = n++] = (struct pollfd){.fd = p->out_r, .events = POLLIN};
        if (p->err_r >= 0 && !hold)
            pfd[i_err = n++] = (struct pollfd){.fd = p->err_r, .events = POLLIN};
        if (p->status_fd >= 0)
            pfd[i_st = n++] = (struct pollfd){.fd = p->status_fd, .events = POLLIN};
        bool pending = p->stdin_w >= 0 &&
                       (p->stdin_data ? p->stdin_off < p->stdin_len : p->relay_off < p->relay_len);
        if (pending)
            pfd[i_in = n++] = (struct pollfd){.fd = p->stdin_w, .events = POLLOUT};
        else if (p->relay_r >= 0 && p->stdin_w >= 0)
            pfd[i_relay = n++] = (struct pollfd){.fd = p->relay_r, .events = POLLIN};
        if (p->sig_fd >= 0)
            pfd[i_sig = n++] = (struct pollfd){.fd = p->sig_fd, .events = POLLIN};
        int timeout_ms = -1;
        /* CPU time of the whole tree (RLIMIT_CPU only sees one process): sampled from the
         * cgroup every 100 ms. */
        if (p->cpu_limit > 0 && p->cpu_usage && !p->killed) {
            double used;
            if (p->cpu_usage(p->ctx, &used) == 0 && used >= p->cpu_limit) {
                p->over_cpu = true;
                do_kill(p);
                continue;
            }
            timeout_ms = 100;
        }
        if (p->deadline > 0 && !p->killed) {
            double left = p->deadline - mj_now_monotonic();
            if (left <= 0) {
                p->timed_out = true;
                do_kill(p);
                continue;
            }
            int left_ms = (int)(left * 1000) + 1;
            if (timeout_ms < 0 || left_ms < timeout_ms)
                timeout_ms = left_ms;
        }
        if (p->acks) {
            double now = mj_now_monotonic(), due = 0;
            if (p->ack_due > 0)
                due = p->ack_due;
            if (p->exit_due > 0 && (due <= 0 || p->exit_due < due))
                due = p->exit_due;
            if (due > 0 && now >= due) {
                p->unresponsive = true;
                break;
            }
            if (due > 0) {
                int due_ms = (int)((due - now) * 1000) + 1;
                if (timeout_ms < 0 || due_ms < timeout_ms)
                    timeout_ms = due_ms;
            }
        }
        int r = poll(pfd, (nfds_t)n, timeout_ms);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            *err = mj_error_sys(MJ_ERR_COMMAND_EXECUTION_FAILED, errno, "poll");
            do_kill(p);
            ret = -1;
            break;
        }
        if (i_out >= 0 && pfd[i_out].revents)
            read_output(p, &p->out_r, &p->out, p->tee_out);
        if (i_err >= 0 && pfd[i_err].revents)
            read_output(p, &p->err_r, &p->err, p->tee_err);
        if (i_st >= 0 && pfd[i_st].revents)
            read_status(p);
        if (i_in >= 0 && pfd[i_in].revents) {
            if (pfd[i_in].revents & (POLLERR | POLLHUP)) {
                mj_close_fd(&p->stdin_w);
                p->relay_r = -1;
            } else {
                pump_stdin(p);
            }
        }
        if (i_relay >= 0 && pfd[i_relay].revents)
            read_relay(p);
        if (i_sig >= 0 && pfd[i_sig].revents)
            forward_signals(p);
    }
    /* What the command wrote before it exited is in the pipes: take it (background processes
     * that still hold them do not keep us waiting). */
    if (p->stop_on_exit) {
        if (p->out_r >= 0)
            read_output(p, &p->out_r, &p->out, p->tee_out);
        if (p->err_r >= 0)
            read_output(p, &p->err_r, &p->err, p->tee_err);
    }

    mj_close_fd(&p->sig_fd);
    sigset_t pipeset;
    sigemptyset(&pipeset);
    sigaddset(&pipeset, SIGPIPE);
    struct timespec zero = {0, 0};
    while (sigtimedwait(&pipeset, NULL, &zero) > 0)
        ;
    pthread_sigmask(SIG_SETMASK, &oldmask, NULL);
    return ret;
}

void mj_pump_close(mj_pump_t *p)
{
    mj_close_fd(&p->out_r);
    mj_close_fd(&p->err_r);
    mj_close_fd(&p->status_fd);
    mj_close_fd(&p->stdin_w);
    mj_close_fd(&p->sig_fd);
    mj_buf_free(&p->out);
    mj_buf_free(&p->err);
    mj_buf_free(&p->combined);
    mj_log_close(p->log);
    p->log = NULL;
}

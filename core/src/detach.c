/* detach.c — commands that outlive their caller (`moonjail exec -d`, `moonjail run --name`):
 * mj_sandbox_spawn_detached.  A plain one gets /dev/null for its stdio.  One whose output is kept
 * (mj_command_set_log) gets pipes, and a small host process of its own ("moonjail-log", in its own
 * session, holding nothing of its caller but the command's channel, pipes and log) carries them
 * into the log (logfile.c) through the pump — the command's timeout and output limit included —
 * writes the command's end, and then stops or destroys the sandbox when asked (the command of
 * `run --name` ends its sandbox as docker's container does).
 * Never: holds the caller's terminal or other fds, or waits on the sandbox without the pump's
 * deadlines. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"
#include "error.h"
#include "handle.h"
#include "logfile.h"
#include "process.h"
#include "pump.h"
#include "result.h"
#include "util.h"

char *mj_sandbox_log_dir(const mj_sandbox_t *sb)
{
    return mj_process_log_dir(sb);
}

/* Overwrites this process's command line (what ps and /proc/PID/cmdline show) with title: a forked
 * monitor would otherwise show its caller's, which names the command it watches.  The arguments
 * live in our own stack, between /proc/self/stat's arg_start and arg_end (fields 48 and 49). */
static void set_title(const char *title)
{
    char buf[1024];
    int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
    ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
    if (fd >= 0)
        close(fd);
    if (n <= 0)
        return;
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    unsigned long start = 0, end = 0;
    for (int field = 2; p && field < 48; field++)
        p = strchr(p + 1, ' ');
    if (!p || sscanf(p + 1, "%lu %lu", &start, &end) != 2 || end <= start)
        return;
    char *args = (char *)start;
    size_t len = end - start;
    memset(args, 0, len);
    memcpy(args, title, strnlen(title, len - 1));
}

static void pump_kill(void *ctx)
{
    mj_process_kill_detached(*(int *)ctx);
}

/* The monitor: never returns.  fds: chan, stdout and stderr of the command, the log's two. */
__attribute__((noreturn)) static void monitor(const char *name, const mj_command_t *cmd, pid_t pid, int fds[5],
                                              mj_log_t *log, double t0)
{
    prctl(PR_SET_NAME, "moonjail-log", 0, 0, 0);
    set_title("moonjail-log");
    signal(SIGPIPE, SIG_IGN);
    signal(SIGHUP, SIG_IGN);
    int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
    /* Keep only what the monitor needs: fds above 64 first, so placing them clobbers nothing. */
    for (int i = 0; i < 5; i++)
        if ((fds[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 64)) < 0)
            _exit(1);
    if (devnull < 0 || dup2(devnull, 0) < 0 || dup2(devnull, 1) < 0 || dup2(devnull, 2) < 0)
        _exit(1);
    int next = mj_place_fds(fds, 5, 3);
    if (next < 0)
        _exit(1);
    if (syscall(SYS_close_range, (unsigned)next, ~0U, 0U) < 0)
        for (int fd = next; fd < 1024; fd++)
            close(fd);
    mj_log_adopt_fds(log, fds[3], fds[4]);
    mj_log_claim(log);

    mj_pump_t pump;
    mj_pump_init(&pump);
    pump.status_fd = fds[0];
    pump.out_r = fds[1];
    pump.err_r = fds[2];
    pump.stop_on_exit = true;
    mj_pump_take_command(&pump, cmd, t0);
    pump.tee_out = pump.tee_err = -1;
    pump.forward_signals = false;
    pump.no_capture = true;
    pump.log = log;
    pump.got_started = true;
    pump.started = (mj_msg_t){.type = MJ_MSG_STARTED, .a = pid, .t_ns = mj_realtime_ns()};
    pump.started_mono = t0;
    int chan = fds[0];
    pump.kill = pump_kill;
    pump.ctx = &chan;
    mj_error_t *err = NULL;
    mj_result_t *res = NULL;
    if (mj_pump_run(&pump, &err) == 0 && !pump.got_exited && !pump.got_exec_failed)
        err = mj_error_new(MJ_ERR_COMMAND_EXECUTION_FAILED, EPIPE, "the command's supervisor process died");
    if (!err)
        (void)mj_result_from_pump(&pump, cmd->argv.v[0], "", t0, &res, &err);
    mj_log_end(log, res, err);
    if (cmd->on_exit != MJ_ON_EXIT_NOTHING && name) {
        mj_sandbox_t *sb = NULL;
        mj_error_t *e = NULL;
        if (mj_sandbox_open(name, &sb, &e) == 0) {
            if (cmd->on_exit == MJ_ON_EXIT_DESTROY)
                (void)mj_sandbox_destroy(sb, &e);
            else if (mj_sandbox_status(sb) == MJ_STATUS_RUNNING)
                (void)mj_sandbox_stop(sb, 1, &e);
            mj_sandbox_free(sb);
        }
    }
    _exit(0);
}

int mj_sandbox_spawn_detached(mj_sandbox_t *sb, const mj_command_t *cmd, pid_t *pid, mj_error_t **errp)
{
    cleanup_error mj_error_t *local_err = NULL;
    mj_error_t **err = errp ? errp : &local_err;
    if (cmd->tty) {
        *err = mj_error_new(MJ_ERR_UNSUPPORTED, ENOTSUP, "tty: a detached command has no terminal");
        return -1;
    }
    cleanup_free char *log_dir = cmd->log ? mj_process_log_dir(sb) : NULL;
    if (cmd->log && !log_dir) {
        *err = mj_error_new(MJ_ERR_INVALID_STATE, EINVAL, "log: only a named sandbox keeps output");
        return -1;
    }
    cleanup_close int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (devnull < 0) {
        *err = mj_error_sys(MJ_ERR_COMMAND_EXECUTION_FAILED, errno, "/dev/null");
        return -1;
    }
    cleanup_pipe int out[2] = {-1, -1};
    cleanup_pipe int errp2[2] = {-1, -1};
    int io[3] = {devnull, devnull, devnull};
    if (cmd->log) {
        if (pipe2(out, O_CLOEXEC) < 0 || pipe2(errp2, O_CLOEXEC) < 0) {
            *err = mj_error_sys(MJ_ERR_COMMAND_EXECUTION_FAILED, errno, "pipe");
            return -1;
        }
        io[1] = out[1];
        io[2] = errp2[1];
    }
    double t0 = mj_now_monotonic();
    cleanup_close int chan = -1;
    pid_t cpid;
    if (mj_process_start_detached(sb, cmd, io, &chan, &cpid, err) < 0)
        return -1;
    if (cmd->log) {
        mj_close_fd(&out[1]);
        mj_close_fd(&errp2[1]);
        mj_log_t *log = NULL;
        if (mj_log_open(log_dir, cpid, cmd->log_max, &log, err) < 0) {
            mj_process_kill_detached(chan);
            return -1;
        }
        int fds[5] = {chan, out[0], errp2[0], -1, -1};
        mj_log_fds(log, fds + 3);
        pid_t child = fork();
        if (child < 0) {
            *err = mj_error_sys(MJ_ERR_COMMAND_EXECUTION_FAILED, errno, "fork");
            mj_process_kill_detached(chan);
            mj_log_close(log);
            return -1;
        }
        if (child == 0) { /* out of the caller's session and process tree: a grandchild */
            setsid();
            pid_t g = fork();
            if (g == 0)
                monitor(sb->name, cmd, cpid, fds, log, t0);
            _exit(g < 0 ? 1 : 0);
        }
        int st;
        while (waitpid(child, &st, 0) < 0 && errno == EINTR)
            ;
        mj_log_close(log);
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            *err = mj_error_new(MJ_ERR_COMMAND_EXECUTION_FAILED, EAGAIN, "could not start the process that keeps "
                                                                         "the command's output");
            mj_process_kill_detached(chan);
            return -1;
        }
    }
    if (pid)
        *pid = cpid;
    return 0;
}

/* run.c — one-shot runs: the plan, the spawn stage (spawn.c: clone, maps, cgroups, release; the
 * sandbox's init is init.c), then the pump (pump.c) carries the command's stdio and status until
 * the whole tree is gone, and what init reported becomes an mj_result_t.  A command with a terminal
 * gets one of the sandbox's own: init hands its master over the status channel (then a socket).
 * Never: reads the config after the plan, or does anything inside the sandbox. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>

#include "cgroup.h"
#include "config.h"
#include "error.h"
#include "netsetup.h"
#include "plan.h"
#include "pty.h"
#include "pump.h"
#include "result.h"
#include "spawn.h"
#include "state.h"
#include "trace.h"
#include "util.h"

/* The sandbox of one run, as the pump's callbacks see it. */
typedef struct {
    pid_t pid;
    int pidfd;
    mj_cgroup_t *cg;
    int pty_master; /* the terminal's master (borrowed from the pump), -1 without one */
    int tty_in;
} oneshot_child_t;

static void oneshot_release(oneshot_child_t *c)
{
    if (c->cg)
        mj_cgroup_destroy(c->cg);
    c->cg = NULL;
    mj_close_fd(&c->pidfd);
}

static void kill_init(void *ctx)
{
    oneshot_child_t *c = ctx;
    if (c->cg)
        mj_cgroup_kill_all(c->cg);
    if (c->pidfd >= 0 && syscall(SYS_pidfd_send_signal, c->pidfd, SIGKILL, NULL, 0) == 0)
        return;
    kill(c->pid, SIGKILL);
}

static int group_cpu(void *ctx, double *seconds)
{
    oneshot_child_t *c = ctx;
    mj_cgroup_stats_t st;
    if (!c->cg || mj_cgroup_stats(c->cg, &st) < 0 || !st.have_cpu)
        return -1;
    *seconds = st.cpu_time;
    return 0;
}

static void signal_init(void *ctx, int sig)
{
    /* The sandbox's init forwards it to the command; a window change resizes its terminal. */
    oneshot_child_t *c = ctx;
    if (sig == SIGWINCH && c->pty_master >= 0) {
        mj_pty_copy_winsize(c->tty_in, c->pty_master);
        return;
    }
    if (c->pidfd < 0 || syscall(SYS_pidfd_send_signal, c->pidfd, sig, NULL, 0) < 0)
        kill(c->pid, sig);
}

/* The claim on a new sandbox's id (state.c): held until its init is in its cgroups. */
typedef struct {
    const char *id;
    int fd;
} id_claim_t;

static void release_claim(id_claim_t *c)
{
    mj_state_release_id(c->id, c->fd);
    c->fd = -1;
}

static int run_plan(mj_plan_t *plan, const mj_command_t *cmd, mj_result_t **out, mj_error_t **err)
{
    __attribute__((cleanup(oneshot_release))) oneshot_child_t child = {
        .pid = -1, .pidfd = -1, .pty_master = -1, .tty_in = cmd->stdin_fd};
    char cgid[33];
    mj_random_id(cgid);
    __attribute__((cleanup(release_claim))) id_claim_t claim = {.id = cgid, .fd = mj_state_claim_id(cgid)};
    /* A CPU-time limit wants a group too (CPU accounting for the whole tree). */
    if (mj_spawn_prepare(plan, cgid, plan->cpu_time_limit > 0, &child.cg, err) < 0)
        return -1;
    mj_trace_mark("cgroups");
    if (plan->cpu_time_limit > 0 && !child.cg)
        mj_strv_push(&plan->warnings, "limits.cpu_time: no cgroup here, so it applies per process (RLIMIT_CPU), "
                                      "not to the whole process tree");
    cleanup_pipe int p_in[2] = {-1, -1};
    cleanup_pipe int p_out[2] = {-1, -1};
    cleanup_pipe int p_err[2] = {-1, -1};
    cleanup_pipe int p_status[2] = {-1, -1};
    /* With a terminal, the status channel is a socket: the terminal's master comes over it. */
    if (pipe2(p_in, O_CLOEXEC) < 0 || pipe2(p_out, O_CLOEXEC) < 0 || pipe2(p_err, O_CLOEXEC) < 0 ||
        (cmd->tty ? socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, p_status) : pipe2(p_status, O_CLOEXEC)) < 0) {
        *err = mj_error_sys(MJ_ERR_SANDBOX_INIT_FAILED, errno, "pipe");
        return -1;
    }
    mj_spawn_fds_t fds = {
        .status_w = p_status[1], .stdin_r = p_in[0], .stdout_w = p_out[1], .stderr_w = p_err[1],
        .listen_fd = -1, .lock_fd = -1, .host_ends = {p_status[0], p_in[1], p_out[0], p_err[0]},
    };
    mj_spawned_t spawned;
    if (mj_spawn(plan, child.cg, &fds, &spawned, err) < 0)
        return -1;
    release_claim(&claim);
    child.pid = spawned.pid;
    child.pidfd = spawned.pidfd;
    mj_close_fd(&p_status[1]);
    mj_close_fd(&p_in[0]);
    mj_close_fd(&p_out[1]);
    mj_close_fd(&p_err[1]);

    cleanup_pump mj_pump_t pump;
    mj_pump_init(&pump);
    struct termios saved_tio;
    bool raw = false;
    pump.status_fd = mj_steal_fd(&p_status[0]);
    if (cmd->tty) {
        /* The command's terminal is the sandbox's own: its init hands the master over first. */
        if (mj_pump_take_pty(&pump, 30, err) < 0) {
            kill_init(&child);
            while (waitpid(child.pid, NULL, 0) < 0 && errno == EINTR)
                ;
            return -1;
        }
        child.pty_master = pump.out_r;
        if (child.pty_master >= 0) {
            raw = mj_tty_raw(cmd->stdin_fd, &saved_tio);
            mj_pty_copy_winsize(cmd->stdin_fd, child.pty_master);
        }
    } else {
        pump.out_r = mj_steal_fd(&p_out[0]);
        pump.err_r = mj_steal_fd(&p_err[0]);
        pump.stdin_w = mj_steal_fd(&p_in[1]);
    }
    mj_pump_take_command(&pump, cmd, spawned.released);
    pump.kill = kill_init;
    pump.signal = signal_init;
    pump.cpu_limit = plan->cpu_time_limit;
    pump.cpu_usage = group_cpu;
    pump.ctx = &child;
    (void)mj_pump_run(&pump, err);
    if (raw)
        mj_tty_restore(cmd->stdin_fd, &saved_tio);
    while (waitpid(child.pid, NULL, 0) < 0 && errno == EINTR)
        ;
    mj_netsetup_stop(&spawned.net, 2); /* it follows the sandbox's init by itself: reaped here */
    mj_trace_mark("reap");
    if (*err)
        return -1;
    /* Init died without reporting the command's end: the OOM killer takes it last, when what
     * fills the memory is not a process's to free (tmpfs pages).  The kernel's counter says so:
     * the command ended by the OOM killer, not a sandbox that failed to start. */
    bool init_oom = false;
    if (!pump.got_exited && !pump.got_exec_failed && !pump.got_setup_failed && !pump.timed_out &&
        !pump.over_limit && child.cg) {
        mj_cgroup_stats_t st;
        if (mj_cgroup_stats(child.cg, &st) == 0 && st.oom_kills > 0) {
            pump.exited = (mj_msg_t){.type = MJ_MSG_EXITED, .a = SIGKILL, .t_ns = mj_realtime_ns()};
            pump.got_exited = true;
            pump.exited_mono = mj_now_monotonic();
            init_oom = true;
        }
    }
    if (pump.got_setup_failed) {
        *err = mj_spawn_setup_error(plan, &pump.failed);
        return -1;
    }
    mj_result_t *res = NULL;
    if (mj_result_from_pump(&pump, plan->argv.v[0], plan->workdir, spawned.released, &res, err) < 0)
        return -1;
    mj_strv_copy(&res->warnings, &plan->warnings);
    if (init_oom)
        mj_strv_push(&res->warnings, "the OOM killer ended the sandbox's init too: what filled the memory limit "
                                     "was not a process's to free (a tmpfs, or the root's layer)");
    if (child.cg) {
        mj_cgroup_stats_t st;
        if (mj_cgroup_stats(child.cg, &st) == 0) {
            mj_result_apply_cgroup(res, NULL, &st);
            if (st.have_cpu && st.cpu_time > res->cpu_time)
                res->cpu_time = st.cpu_time;
        }
    }
    *out = res;
    mj_trace_mark("result");
    return 0;
}

int mj_run(const mj_config_t *cfg, const mj_command_t *cmd, mj_result_t **out, mj_error_t **errp)
{
    cleanup_error mj_error_t *local_err = NULL;
    mj_error_t **err = errp ? errp : &local_err;
    cleanup_plan mj_plan_t plan;
    mj_trace_mark("config");
    if (mj_plan_build(cfg, cmd, &plan, err) < 0)
        return -1;
    mj_trace_mark("plan");
    int r = run_plan(&plan, cmd, out, err);
    mj_trace_op_end("run");
    return r;
}

/* run.c — one-shot runs: clone into the namespaces, write the id maps, release the child (the
 * sandbox's init, child.c), pump the command's stdio and status until the whole tree is gone,
 * then turn what init reported into an mj_result_t. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>

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

pid_t mj_clone_sandbox(const mj_plan_t *plan, int *pidfd)
{
    /* No CLONE_NEWCGROUP here: the child unshares its cgroup namespace once the host has placed it
     * in its own cgroups, so its view is rooted there. */
    unsigned long flags = CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS;
    if (plan->new_netns)
        flags |= CLONE_NEWNET;
    struct mj_clone_args args = {.flags = flags | CLONE_PIDFD, .pidfd = (uint64_t)(uintptr_t)pidfd,
                                 .exit_signal = SIGCHLD};
    *pidfd = -1;
    long r = syscall(SYS_clone3, &args, sizeof(args));
    if (r >= 0 || (errno != ENOSYS && errno != E2BIG))
        return (pid_t)r;
    *pidfd = -1;
    return (pid_t)syscall(SYS_clone, flags | SIGCHLD, 0, NULL, NULL, 0);
}

int mj_write_id_maps(const mj_plan_t *plan, pid_t pid, mj_error_t **err)
{
    if (plan->rootless && mj_proc_write(pid, "setgroups", "deny", err) < 0)
        return -1;
    if (mj_proc_write(pid, "uid_map", plan->uid_map, err) < 0)
        return -1;
    if (mj_proc_write(pid, "gid_map", plan->gid_map, err) < 0)
        return -1;
    return 0;
}

mj_error_t *mj_clone_error(int e)
{
    return mj_error_new(MJ_ERR_SANDBOX_INIT_FAILED, e, "creating namespaces: %s%s", strerror(e),
                        e == EPERM || e == ENOSPC ? " (are unprivileged user namespaces allowed? see moonjail doctor)"
                                                  : "");
}

mj_error_t *mj_setup_error(const mj_plan_t *plan, const mj_msg_t *m)
{
    int stage = m->a, e = m->b, idx = m->c;
    if (idx >= 0 && (size_t)idx < plan->n_ops) {
        const mj_op_t *op = &plan->ops[idx];
        const char *src = op->kind == MJ_OP_BIND && op->src ? op->src : "";
        return mj_error_new(MJ_ERR_SANDBOX_INIT_FAILED, e, "%s %s%s/%s: %s", mj_stage_name((mj_stage_t)stage), src,
                            *src ? " on " : "", op->dst, strerror(e));
    }
    return mj_error_new(MJ_ERR_SANDBOX_INIT_FAILED, e, "%s: %s", mj_stage_name((mj_stage_t)stage), strerror(e));
}

typedef struct {
    pid_t pid;
    int pidfd;
    mj_cgroup_t *cg;
    int pty_master; /* -1 without a terminal */
    int tty_in;
} oneshot_child_t;

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

/* Places the sandbox's first process: its cgroups, and almost out of the OOM killer's reach (root
 * only: lowering oom_score_adj needs CAP_SYS_RESOURCE on the host). -999, never -1000: the value
 * and its floor (oom_score_adj_min) are inherited, and a sandbox whose processes were all at
 * -1000 would have nothing the kernel may kill at its memory limit — a livelock, not an OOM. */
int mj_place_child(const mj_plan_t *plan, mj_cgroup_t *cg, pid_t pid, mj_error_t **err)
{
    if (cg && mj_cgroup_add_pid(cg, pid, err) < 0)
        return -1;
    if (!plan->rootless) {
        mj_error_t *ignored = NULL;
        if (mj_proc_write(pid, "oom_score_adj", "-999", &ignored) < 0) /* no CAP_SYS_RESOURCE: stays */
            mj_error_free(ignored);
    }
    return 0;
}

/* Turns the kernel's own counters into the reason a command ended. */
void mj_result_apply_cgroup(mj_result_t *res, const mj_cgroup_stats_t *before, const mj_cgroup_stats_t *after)
{
    bool oom = after->oom_kills > (before ? before->oom_kills : 0);
    bool pids = after->pids_max_events > (before ? before->pids_max_events : 0);
    if (res->ended_by != MJ_END_TIMEOUT && res->ended_by != MJ_END_OUTPUT_LIMIT) {
        /* killed itself, or a shell reporting its killed child as 137 */
        if (oom && (res->signal == SIGKILL || res->exit_code == 128 + SIGKILL))
            res->ended_by = MJ_END_OOM;
        else if (pids && !(res->ended_by == MJ_END_EXIT && res->exit_code == 0))
            res->ended_by = MJ_END_PIDS;
    }
    if (after->have_throttle) {
        res->cpu_periods = after->cpu_periods - (before && before->have_throttle ? before->cpu_periods : 0);
        res->cpu_throttled = after->cpu_throttled - (before && before->have_throttle ? before->cpu_throttled : 0);
    }
    if (after->have_memory && after->memory_peak > res->memory_peak)
        res->memory_peak = after->memory_peak;
    if (oom)
        mj_strv_push(&res->warnings, "the kernel's OOM killer ended a process of this command (memory limit)");
    if (pids)
        mj_strv_push(&res->warnings, "a fork failed at the pids limit");
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
    oneshot_child_t child = {.pid = -1, .pidfd = -1, .pty_master = -1, .tty_in = cmd->stdin_fd};
    int pty_slave = -1;
    struct termios saved_tio;
    bool raw = false;
    mj_pump_t pump;
    mj_pump_init(&pump);

    if (mj_idmap_rw_binds(&plan, err) < 0)
        goto out;
    char cgid[33];
    mj_random_id(cgid);
    /* A CPU-time limit wants a group too (CPU accounting for the whole tree). */
    if (mj_cgroup_create(NULL, cgid, &cfg->limits, plan.cpu_time_limit > 0, &child.cg, &plan.warnings, err) < 0)
        goto out;
    if (plan.cpu_time_limit > 0 && !child.cg)
        mj_strv_push(&plan.warnings, "limits.cpu_time: no cgroup here, so it applies per process (RLIMIT_CPU), "
                                     "not to the whole process tree");
    if (mj_cgroup_leaf_fds(child.cg, MJ_CG_WORK, plan.cg_work_fds, MJ_PLAN_MAX_WORK_FDS, &plan.n_cg_work_fds, err) < 0 ||
        mj_cgroup_leaf_fds(child.cg, MJ_CG_SUP, plan.cg_sup_fds, MJ_PLAN_MAX_WORK_FDS, &plan.n_cg_sup_fds, err) < 0)
        goto out;
    if (pipe2(p_in, O_CLOEXEC) < 0 || pipe2(p_out, O_CLOEXEC) < 0 || pipe2(p_err, O_CLOEXEC) < 0 ||
        pipe2(p_status, O_CLOEXEC) < 0 || pipe2(p_sync, O_CLOEXEC) < 0) {
        *err = mj_error_new(MJ_ERR_SANDBOX_INIT_FAILED, errno, "pipe: %s", strerror(errno));
        goto out;
    }
    if (cmd->tty && mj_pty_open(&child.pty_master, &pty_slave, err) < 0)
        goto out;
    child.pid = mj_clone_sandbox(&plan, &child.pidfd);
    if (child.pid < 0) {
        *err = mj_clone_error(errno);
        goto out;
    }
    if (child.pid == 0) {
        mj_child_fds_t fds = {
            .sync_r = p_sync[0], .status_w = p_status[1], .stdin_r = p_in[0], .stdout_w = p_out[1],
            .stderr_w = p_err[1], .host_ends = {p_sync[1], p_status[0], p_in[1], p_out[0], p_err[0]},
            .listen_fd = -1, .lock_fd = -1,
        };
        if (pty_slave >= 0) /* a terminal of its own: stdin, stdout and stderr */
            fds.stdin_r = fds.stdout_w = fds.stderr_w = pty_slave;
        mj_child_main(&plan, &fds);
    }
    mj_close_fd(&p_sync[0]);
    mj_close_fd(&p_status[1]);
    mj_close_fd(&p_in[0]);
    mj_close_fd(&p_out[1]);
    mj_close_fd(&p_err[1]);

    if (mj_write_id_maps(&plan, child.pid, err) < 0 || mj_place_child(&plan, child.cg, child.pid, err) < 0) {
        kill_init(&child);
        goto reap;
    }
    t0 = mj_now_monotonic();
    if (mj_write_all(p_sync[1], "g", 1) < 0) {
        *err = mj_error_new(MJ_ERR_SANDBOX_INIT_FAILED, errno, "releasing the sandbox: %s", strerror(errno));
        kill_init(&child);
        goto reap;
    }
    mj_close_fd(&p_sync[1]);

    pump.status_fd = mj_steal_fd(&p_status[0]);
    if (child.pty_master >= 0) {
        mj_close_fd(&pty_slave);
        pump.out_r = fcntl(child.pty_master, F_DUPFD_CLOEXEC, 3);
        pump.stdin_w = fcntl(child.pty_master, F_DUPFD_CLOEXEC, 3);
        raw = mj_tty_raw(cmd->stdin_fd, &saved_tio);
        mj_pty_copy_winsize(cmd->stdin_fd, child.pty_master);
    } else {
        pump.out_r = mj_steal_fd(&p_out[0]);
        pump.err_r = mj_steal_fd(&p_err[0]);
        pump.stdin_w = mj_steal_fd(&p_in[1]);
    }
    pump.limit = cmd->output_limit;
    pump.tee_out = cmd->tee_out;
    pump.tee_err = cmd->tee_err;
    pump.forward_signals = cmd->forward_signals;
    pump.deadline = cmd->timeout > 0 ? t0 + cmd->timeout : 0;
    pump.kill = kill_init;
    pump.signal = signal_init;
    pump.cpu_limit = plan.cpu_time_limit;
    pump.cpu_usage = group_cpu;
    pump.ctx = &child;
    if (cmd->has_stdin) {
        pump.stdin_data = cmd->stdin_data.data ? cmd->stdin_data.data : "";
        pump.stdin_len = cmd->stdin_data.len;
    } else {
        pump.relay_r = cmd->stdin_fd;
    }
    (void)mj_pump_run(&pump, err);
    if (raw)
        mj_tty_restore(cmd->stdin_fd, &saved_tio);

reap:
    if (child.pid > 0)
        while (waitpid(child.pid, NULL, 0) < 0 && errno == EINTR)
            ;
    if (*err)
        goto out;
    if (pump.got_setup_failed) {
        *err = mj_setup_error(&plan, &pump.failed);
        goto out;
    }
    mj_result_t *res = NULL;
    if (mj_pump_result(&pump, plan.argv.v[0], plan.workdir, t0, &res, err) < 0)
        goto out;
    mj_strv_copy(&res->warnings, &plan.warnings);
    if (child.cg) {
        mj_cgroup_stats_t st;
        if (mj_cgroup_stats(child.cg, &st) == 0) {
            mj_result_apply_cgroup(res, NULL, &st);
            if (st.have_cpu && st.cpu_time > res->cpu_time)
                res->cpu_time = st.cpu_time;
        }
    }
    *out = res;
    ret = 0;

out:
    mj_pump_close(&pump);
    mj_close_fd(&child.pty_master);
    mj_close_fd(&pty_slave);
    if (child.cg)
        mj_cgroup_destroy(child.cg);
    if (child.pidfd >= 0)
        close(child.pidfd);
    for (int i = 0; i < 2; i++) {
        mj_close_fd(&p_in[i]);
        mj_close_fd(&p_out[i]);
        mj_close_fd(&p_err[i]);
        mj_close_fd(&p_status[i]);
        mj_close_fd(&p_sync[i]);
    }
    mj_plan_free(&plan);
    mj_error_free(local_err);
    return ret;
}

/* spawn.c — the spawn stage: the one clone → uid/gid maps → cgroup placement → release sequence
 * that one-shot runs and persistent sandboxes share, and the first steps of the cloned child that
 * both have in common, before it becomes the one-shot init (init.c) or the supervisor
 * (supervisor.c).
 *
 * Host side: the namespaces are created by clone; the maps are written from here, the child is
 * placed in its cgroups (and its oom_score_adj lowered), and only then released over the sync
 * pipe.  Child side: it runs in a copy of a possibly multi-threaded host, so it uses raw system
 * calls on the prepared plan only — no malloc, no stdio, no glibc fork() or set*id() wrappers
 * (they take locks or broadcast to threads that do not exist here).  The first thing it does
 * after the release is switch to the mapped ids (SECURITY.md: a child cloned by root keeps host
 * root's credentials until then).  Never: parses or allocates after clone, or reads the config. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "cgroup.h"
#include "error.h"
#include "idmap.h"
#include "init.h"
#include "netsetup.h"
#include "plan.h"
#include "proc.h"
#include "proto.h"
#include "reaper.h"
#include "rootfs.h"
#include "spawn.h"
#include "supervisor.h"
#include "trace.h"
#include "util.h"
#include "wire.h"

#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x00001000
#endif
#ifndef CLONE_NEWCGROUP
#define CLONE_NEWCGROUP 0x02000000
#endif

/* ------------------------------------------------------------------ host side */

struct mj_clone_args {
    uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls;
};

static pid_t clone_sandbox(const mj_plan_t *plan, int *pidfd)
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

static mj_error_t *clone_error(int e)
{
    return mj_error_new(MJ_ERR_SANDBOX_INIT_FAILED, e, "creating namespaces: %s%s", strerror(e),
                        e == EPERM || e == ENOSPC ? " (are unprivileged user namespaces allowed? see moonjail doctor)"
                                                  : "");
}

mj_error_t *mj_spawn_setup_error(const mj_plan_t *plan, const mj_msg_t *m)
{
    int stage = m->a, e = m->b, idx = m->c;
    if (idx >= 0 && (size_t)idx < plan->n_ops) {
        const mj_op_t *op = &plan->ops[idx];
        const char *src = op->kind == MJ_OP_BIND && op->src ? op->src : "";
        return mj_error_sys(MJ_ERR_SANDBOX_INIT_FAILED, e, "%s %s%s/%s", mj_stage_name((mj_stage_t)stage), src,
                            *src ? " on " : "", op->dst);
    }
    return mj_error_sys(MJ_ERR_SANDBOX_INIT_FAILED, e, "%s", mj_stage_name((mj_stage_t)stage));
}

static int write_id_maps(const mj_plan_t *plan, pid_t pid, mj_error_t **err)
{
    if (plan->rootless && mj_proc_write(pid, "setgroups", "deny", err) < 0)
        return -1;
    if (mj_proc_write(pid, "uid_map", plan->uid_map, err) < 0)
        return -1;
    return mj_proc_write(pid, "gid_map", plan->gid_map, err);
}

/* Places the sandbox's first process: its cgroups, and almost out of the OOM killer's reach (root
 * only: lowering oom_score_adj needs CAP_SYS_RESOURCE on the host). -999, never -1000: the value
 * and its floor (oom_score_adj_min) are inherited, and a sandbox whose processes were all at
 * -1000 would have nothing the kernel may kill at its memory limit — a livelock, not an OOM. */
static int place_child(const mj_plan_t *plan, mj_cgroup_t *cg, pid_t pid, mj_error_t **err)
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

/* The child is still waiting for its release: nothing else of the sandbox exists yet. */
static void kill_and_reap(mj_spawned_t *s)
{
    if (s->pidfd < 0 || syscall(SYS_pidfd_send_signal, s->pidfd, SIGKILL, NULL, 0) < 0)
        kill(s->pid, SIGKILL);
    while (waitpid(s->pid, NULL, 0) < 0 && errno == EINTR)
        ;
    mj_close_fd(&s->pidfd);
    s->pid = -1;
}

int mj_spawn_prepare(mj_plan_t *plan, const char *id, bool want_freezer, mj_cgroup_t **cg, mj_error_t **err)
{
    *cg = NULL;
    if (mj_netsetup_prepare(plan, id, err) < 0)
        return -1;
    if (mj_idmap_rw_binds(plan, err) < 0)
        return -1;
    mj_trace_mark("idmapped trees (helper userns)");
    if (mj_cgroup_create(NULL, id, &plan->limits, want_freezer, cg, &plan->warnings, err) < 0)
        return -1;
    if (mj_cgroup_leaf_fds(*cg, MJ_CG_WORK, plan->cg_work_fds, MJ_PLAN_MAX_WORK_FDS, &plan->n_cg_work_fds, err) < 0 ||
        mj_cgroup_leaf_fds(*cg, MJ_CG_SUP, plan->cg_sup_fds, MJ_PLAN_MAX_WORK_FDS, &plan->n_cg_sup_fds, err) < 0) {
        mj_cgroup_destroy(*cg);
        *cg = NULL;
        return -1;
    }
    return 0;
}

__attribute__((noreturn)) static void child_main(mj_plan_t *plan, const mj_spawn_fds_t *fds, int sync_r, int sync_w);

int mj_spawn(mj_plan_t *plan, mj_cgroup_t *cg, const mj_spawn_fds_t *fds, mj_spawned_t *out, mj_error_t **err)
{
    *out = (mj_spawned_t){.pid = -1, .pidfd = -1, .net = MJ_NETSETUP_INIT};
    cleanup_pipe int sync[2] = {-1, -1};
    if (pipe2(sync, O_CLOEXEC) < 0) {
        *err = mj_error_sys(MJ_ERR_SANDBOX_INIT_FAILED, errno, "pipe");
        return -1;
    }
    out->pid = clone_sandbox(plan, &out->pidfd);
    if (out->pid < 0) {
        *err = clone_error(errno);
        return -1;
    }
    if (out->pid == 0)
        child_main(plan, fds, sync[0], sync[1]);
    mj_trace_mark("clone");
    mj_close_fd(&sync[0]);
    if (write_id_maps(plan, out->pid, err) < 0 || place_child(plan, cg, out->pid, err) < 0) {
        kill_and_reap(out);
        return -1;
    }
    mj_trace_mark("maps+cgroup place");
    /* The namespaces exist and are mapped: the network helper sets them up before the sandbox
     * runs anything (its resolv.conf is written by then too).  Fail closed. */
    if (mj_netsetup_start(plan, out->pid, out->pidfd, &out->net, err) < 0) {
        kill_and_reap(out);
        return -1;
    }
    mj_trace_mark("network helper ready");
    out->released = mj_now_monotonic();
    if (mj_write_all(sync[1], "g", 1) < 0) {
        *err = mj_error_sys(MJ_ERR_SANDBOX_INIT_FAILED, errno, "releasing the sandbox");
        kill_and_reap(out);
        mj_netsetup_stop(&out->net, 2);
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------ child side (after clone) */

static int raw_setids(uid_t uid, gid_t gid, bool setgroups_allowed)
{
    if (setgroups_allowed && syscall(SYS_setgroups, 0, NULL) < 0)
        return -1;
    if (syscall(SYS_setresgid, gid, gid, gid) < 0)
        return -1;
    if (syscall(SYS_setresuid, uid, uid, uid) < 0)
        return -1;
    return 0;
}

static int loopback_up(void)
{
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0)
        return -1;
    struct ifreq ifr;
    memset(&ifr, 0, sizeof(ifr));
    memcpy(ifr.ifr_name, "lo", 3);
    int r = ioctl(s, SIOCGIFFLAGS, &ifr);
    if (r == 0) {
        ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
        r = ioctl(s, SIOCSIFFLAGS, &ifr);
    }
    int e = errno;
    close(s);
    errno = e;
    return r;
}

/* Overwrites the host process's argv/environment strings so /proc/1/cmdline and
 * /proc/1/environ of the sandbox's init show nothing of the host. */
static void wipe_host_strings(const mj_plan_t *plan)
{
    if (plan->env_end > plan->env_start)
        memset((void *)plan->env_start, 0, plan->env_end - plan->env_start);
    if (plan->arg_end > plan->arg_start) {
        static const char name[] = "moonjail-init";
        size_t n = plan->arg_end - plan->arg_start;
        memset((void *)plan->arg_start, 0, n);
        memcpy((void *)plan->arg_start, name, n > sizeof(name) ? sizeof(name) : n - 1);
    }
    prctl(PR_SET_NAME, "moonjail-init", 0, 0, 0);
}

/* The plan's work-cgroup fds, moved out of the low numbers that stdio, the status channel and the
 * kept fds take next (init and the supervisor place them after those). */
static int lift_work_fds(mj_plan_t *plan)
{
    for (size_t i = 0; i < plan->n_cg_work_fds; i++) {
        int high = fcntl(plan->cg_work_fds[i], F_DUPFD_CLOEXEC, 64);
        if (high < 0)
            return -1;
        close(plan->cg_work_fds[i]);
        plan->cg_work_fds[i] = high;
    }
    return 0;
}

/* A persistent sandbox's workload gets a pid namespace of its own, nested in this one: this
 * process (the supervisor to be) and the spawner it forks later stay outside, where no command
 * can see, signal or trace them.  The namespace's init (reaper.c) is forked now, before the root
 * is built, because a procfs shows the namespace of whoever made it: it makes the root's /proc
 * and hands it over for the plan's proc mount.  Our own children go to our namespace again
 * afterwards; *pidns_fd is the workload's, for the spawner to fork commands into, and *reaper
 * its init's pid. */
static int start_workload_ns(mj_plan_t *plan, int *pidns_fd, pid_t *reaper)
{
    cleanup_close int own = open("/proc/self/ns/pid", O_RDONLY | O_CLOEXEC);
    if (own < 0 || unshare(CLONE_NEWPID) < 0)
        return -1;
    cleanup_pipe int sp[2] = {-1, -1};
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0)
        return -1;
    *reaper = (pid_t)syscall(SYS_clone, SIGCHLD, 0, NULL, NULL, 0);
    if (*reaper < 0)
        return -1;
    if (*reaper == 0) {
        close(sp[0]);
        mj_reaper_main(sp[1]);
    }
    mj_close_fd(&sp[1]);
    int32_t e = 0;
    int mnt = -1, nfds = 0;
    ssize_t n;
    do
        n = mj_wire_recv(sp[0], &e, sizeof(e), 0, &mnt, 1, &nfds, NULL);
    while (n < 0 && errno == EINTR);
    if (n != (ssize_t)sizeof(e) || e || nfds != 1) {
        if (mnt >= 0)
            close(mnt);
        errno = n == (ssize_t)sizeof(e) && e ? e : ECHILD;
        return -1;
    }
    for (size_t i = 0; i < plan->n_ops; i++)
        if (plan->ops[i].kind == MJ_OP_PROC && plan->ops[i].src_fd < 0) {
            plan->ops[i].src_fd = mj_steal_fd(&mnt);
            break;
        }
    if (mnt >= 0)
        close(mnt);
    *pidns_fd = open("/proc/self/ns/pid_for_children", O_RDONLY | O_CLOEXEC);
    if (*pidns_fd < 0 || setns(own, CLONE_NEWPID) < 0)
        return -1;
    return 0;
}

__attribute__((noreturn)) static void child_main(mj_plan_t *plan, const mj_spawn_fds_t *fds, int sync_r, int sync_w)
{
    int status_fd = fds->status_w;
    char go;

    close(sync_w);
    for (size_t i = 0; i < MJ_ARRAY_LEN(fds->host_ends); i++)
        if (fds->host_ends[i] >= 0)
            close(fds->host_ends[i]);
    /* Die with the host process until set up (a named sandbox's supervisor clears this once it
     * serves: its creator's connection then says whether it is still wanted); the sync read below
     * catches a parent that died before this. */
    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    if (mj_read_all(sync_r, &go, 1) != 1)
        _exit(1);

    if (raw_setids(plan->init_uid, plan->init_gid, !plan->rootless) < 0)
        mj_wire_setup_failed(status_fd, MJ_STAGE_SETID, -1);
    /* Changing ids cleared the parent-death signal: set it again, then make sure the parent did
     * not die in between (its end of the status channel would be gone). */
    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    struct pollfd pfd = {.fd = status_fd, .events = POLLOUT};
    if (poll(&pfd, 1, 0) == 1 && (pfd.revents & (POLLERR | POLLHUP)))
        _exit(1);
    /* The host has put us in our cgroups (<id>) by now: root our cgroup view there, then move
     * on into <id>/sup where the group is split, so inside we are /sup and commands /work. */
    if (unshare(CLONE_NEWCGROUP) < 0)
        mj_wire_setup_failed(status_fd, MJ_STAGE_SETID, -1);
    for (size_t i = 0; i < plan->n_cg_sup_fds; i++) {
        if (write(plan->cg_sup_fds[i], "0", 1) != 1)
            mj_wire_setup_failed(status_fd, MJ_STAGE_SETID, -1);
        close(plan->cg_sup_fds[i]);
    }
    plan->n_cg_sup_fds = 0;
    if (sethostname(plan->hostname, strlen(plan->hostname)) < 0)
        mj_wire_setup_failed(status_fd, MJ_STAGE_HOSTNAME, -1);
    if (plan->new_netns && loopback_up() < 0)
        mj_wire_setup_failed(status_fd, MJ_STAGE_LOOPBACK, -1);
    mj_trace_mark("child: ids, cgns, lo");

    int pidns_fd = -1;
    pid_t reaper = -1;
    if (plan->persistent) {
        wipe_host_strings(plan); /* before the reaper copies them */
        if (start_workload_ns(plan, &pidns_fd, &reaper) < 0)
            mj_wire_setup_failed(status_fd, MJ_STAGE_FORK, -1);
    }

    mj_stage_t stage;
    int op_index;
    if (mj_rootfs_setup(plan, &stage, &op_index) < 0)
        mj_wire_setup_failed(status_fd, stage, op_index);
    mj_trace_mark("child: pivot_root");

    wipe_host_strings(plan);
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    /* out of the low numbers that stdio, the status channel and the kept fds take next */
    if (lift_work_fds(plan) < 0)
        mj_wire_setup_failed(status_fd, MJ_STAGE_FORK, -1);

    if (plan->persistent) {
        mj_supervisor_fds_t sup = {.ctl = status_fd, .listen = fds->listen_fd, .lock = fds->lock_fd,
                                   .pidns = pidns_fd, .reaper = reaper, .detached = fds->detached};
        mj_supervisor_start(plan, &sup);
    }
    mj_init_main(plan, status_fd, fds->stdin_r, fds->stdout_w, fds->stderr_w);
}

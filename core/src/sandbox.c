/* sandbox.c — persistent sandboxes on the host side: their life cycle and status.  Create (the
 * plan, then the spawn stage with a supervisor as pid 1), open a named one (its state, its
 * socket, checked to be served by the supervisor the state names), signal, pause/resume (the
 * cgroup freezer, or the supervisor's SIGSTOP fallback), stop, destroy and free; the defaults
 * (workdir, env, meta), info, warnings and denials.  Never: the wire's framing (client.c),
 * commands (process.c), files inside (fileops.c) or usage (usage.c). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>

#include "cgroup.h"
#include "client.h"
#include "error.h"
#include "fsview.h"
#include "handle.h"
#include "netsetup.h"
#include "plan.h"
#include "proc.h"
#include "proto.h"
#include "prune.h"
#include "seccomp.h"
#include "spawn.h"
#include "state.h"
#include "trace.h"
#include "util.h"

static const char *const status_names[] = {
    [MJ_STATUS_CREATING] = "creating", [MJ_STATUS_STARTING] = "starting", [MJ_STATUS_RUNNING] = "running",
    [MJ_STATUS_PAUSED] = "paused",     [MJ_STATUS_STOPPING] = "stopping", [MJ_STATUS_STOPPED] = "stopped",
    [MJ_STATUS_FAILED] = "failed",     [MJ_STATUS_DESTROYED] = "destroyed",
};

const char *mj_status_name(mj_status_t status)
{
    if ((unsigned)status >= MJ_ARRAY_LEN(status_names))
        return "unknown";
    return status_names[status];
}

static void sandbox_free_fields(mj_sandbox_t *sb)
{
    mj_cgroup_free(sb->cg);
    sb->cg = NULL;
    free(sb->name);
    free(sb->dir);
    mj_close_fd(&sb->ctl);
    mj_close_fd(&sb->pidfd);
    mj_close_fd(&sb->root_fd);
    mj_fsview_release(sb);
    mj_strv_free(&sb->env);
    free(sb->workdir);
    free(sb->meta);
    mj_strv_free(&sb->tmpfs);
    mj_strv_free(&sb->warnings);
    mj_netsetup_clear(&sb->net);
}

static mj_sandbox_t *sandbox_alloc(void)
{
    mj_sandbox_t *sb = mj_xcalloc(1, sizeof(*sb));
    sb->ctl = sb->pidfd = sb->root_fd = sb->claim_fd = -1;
    sb->net = (mj_netsetup_t)MJ_NETSETUP_INIT;
    sb->status = MJ_STATUS_CREATING;
    return sb;
}

int mj_sandbox_denials(mj_sandbox_t *sb, mj_denial_t **out, size_t *count, uint64_t *total, mj_error_t **err)
{
    *out = NULL;
    *count = 0;
    if (total)
        *total = 0;
    if (mj_client_check_usable(sb, "read denials", err) < 0)
        return -1;
    if (mj_client_send(sb, MJ_REQ_DENIALS, 0, NULL, 0, NULL, 0, err) < 0)
        return -1;
    struct {
        mj_rep_t rep;
        mj_denial_rec_t rec[MJ_DENIALS_MAX];
    } buf;
    ssize_t n;
    int r = mj_client_recv(sb, (int)(MJ_CLIENT_QUICK * 1000), &buf, sizeof(buf), NULL, &n);
    if (r == 0) {
        mj_close_fd(&sb->ctl); /* a late reply would answer the next request */
        sb->unresponsive = true;
        *err = mj_error_new(MJ_ERR_TIMEOUT, ETIMEDOUT, "sandbox %s is not responding", mj_client_name(sb));
        return -1;
    }
    if (n < (ssize_t)sizeof(mj_rep_t) || buf.rep.magic != MJ_PROTO_MAGIC || buf.rep.type != MJ_REP_OK ||
        buf.rep.value < 0 || buf.rep.value > MJ_DENIALS_MAX ||
        (size_t)n != sizeof(mj_rep_t) + (size_t)buf.rep.value * sizeof(mj_denial_rec_t)) {
        if (n <= 0 && r != 0) {
            mj_close_fd(&sb->ctl);
            *err = mj_client_gone_error(sb);
        } else {
            *err = mj_error_new(MJ_ERR_INVALID_STATE, EPROTO, "sandbox %s: bad denials reply", mj_client_name(sb));
        }
        return -1;
    }
    size_t k = (size_t)buf.rep.value;
    mj_denial_t *v = mj_xcalloc(k ? k : 1, sizeof(*v));
    for (size_t i = 0; i < k; i++) {
        v[i].nr = buf.rec[i].nr;
        v[i].syscall = mj_seccomp_syscall_name(buf.rec[i].nr);
        v[i].pid = buf.rec[i].pid;
    }
    *out = v;
    *count = k;
    if (total)
        *total = k;
    return 0;
}

/* ------------------------------------------------------------------ create / open */

static int wait_ready(mj_sandbox_t *sb, const mj_plan_t *plan, mj_error_t **err)
{
    mj_msg_t m;
    ssize_t n;
    int r = mj_client_recv(sb, 60000, &m, sizeof(m), NULL, &n);
    if (n == (ssize_t)sizeof(m) && m.type == MJ_MSG_READY) {
        sb->started_at = (double)m.t_ns / 1e9;
        return 0;
    }
    if (n == (ssize_t)sizeof(m) && m.type == MJ_MSG_SETUP_FAILED)
        *err = mj_spawn_setup_error(plan, &m);
    else if (r == 0)
        *err = mj_error_new(MJ_ERR_TIMEOUT, ETIMEDOUT, "the sandbox did not come up within 60 s");
    else
        *err = mj_error_new(MJ_ERR_SANDBOX_INIT_FAILED, EPIPE, "the sandbox's supervisor exited during setup");
    return -1;
}

/* A sandbox that did not come up: its supervisor killed, its state and cgroups removed. */
static void discard_new(mj_sandbox_t **sbp)
{
    mj_sandbox_t *sb = *sbp;
    if (!sb)
        return;
    if (sb->pid > 0) {
        kill(sb->pid, SIGKILL);
        while (waitpid(sb->pid, NULL, 0) < 0 && errno == EINTR)
            ;
    }
    mj_netsetup_stop(&sb->net, 1);
    if (sb->dir)
        mj_state_remove(sb->dir);
    if (sb->cg) {
        mj_cgroup_destroy(sb->cg);
        sb->cg = NULL;
    }
    mj_state_release_id(sb->id, sb->claim_fd);
    sandbox_free_fields(sb);
    free(sb);
}

/* Gives the new sandbox in sb->dir (.new-<id>) its name, taking the name over from a dead
 * sandbox (its state and cgroups removed first); INVALID_STATE when a live one holds it. */
static int publish(mj_sandbox_t *sb, mj_error_t **err)
{
    for (int attempt = 0; attempt < 2; attempt++) {
        char *named = mj_state_publish(sb->dir, sb->name);
        if (named) {
            free(sb->dir);
            sb->dir = named;
            return 0;
        }
        if (errno != EEXIST && errno != ENOTEMPTY)
            break;
        mj_error_t *ignored = NULL;
        cleanup_free char *base = mj_state_sandboxes_dir(false, &ignored);
        mj_error_free(ignored);
        cleanup_free char *holder = mj_xasprintf("%s/%s", base ? base : ".", sb->name);
        if (mj_prune_state_dir(holder, false, NULL) < 0) {
            *err = mj_error_new(MJ_ERR_INVALID_STATE, EEXIST, "a sandbox named '%s' already exists", sb->name);
            return -1;
        }
    }
    *err = mj_error_sys(MJ_ERR_FILE_OPERATION_FAILED, errno, "naming sandbox %s", sb->name);
    return -1;
}

int mj_sandbox_create(const mj_config_t *cfg, const char *name, mj_sandbox_t **out, mj_error_t **errp)
{
    cleanup_error mj_error_t *local_err = NULL;
    mj_error_t **err = errp ? errp : &local_err;
    if (name && !mj_name_valid(name)) {
        *err = mj_error_new(MJ_ERR_INVALID_CONFIG, EINVAL,
                            "name: expected 1-64 characters of [A-Za-z0-9_.-] starting with a letter or digit, got '%s'",
                            name);
        return -1;
    }
    cleanup_plan mj_plan_t plan;
    mj_trace_mark("config");
    if (mj_plan_build(cfg, NULL, &plan, err) < 0)
        return -1;
    mj_trace_mark("plan");
    __attribute__((cleanup(discard_new))) mj_sandbox_t *sb = sandbox_alloc();
    mj_random_id(sb->id);
    sb->created_at = mj_now_realtime();
    snprintf(sb->hostname, sizeof(sb->hostname), "%s", plan.hostname);
    sb->uid = plan.inner_uid;
    sb->gid = plan.inner_gid;
    sb->id_base = plan.id_base;
    sb->rootless = plan.rootless;
    sb->host_uid = plan.host_uid;
    sb->host_gid = plan.host_gid;
    sb->cleanup_delay = plan.cleanup_delay;
    sb->own_netns = plan.new_netns;
    sb->net_mode = plan.net_mode;
    sb->cpu_time_limit = plan.cpu_time_limit;
    sb->memory_limit = plan.limits.memory_max;
    sb->creator = true;
    mj_strv_copy(&sb->env, &plan.envp);
    sb->workdir = mj_xstrdup(plan.workdir);
    mj_strv_copy(&sb->tmpfs, &plan.disk_paths);

    cleanup_close int lock_fd = -1;
    cleanup_close int listen_fd = -1;
    /* Until its supervisor is in its cgroups, the id is claimed: prune leaves them alone. */
    sb->claim_fd = mj_state_claim_id(sb->id);
    if (name) {
        /* Made under a hidden name, named once up: a crash leaves no half-made sandbox listed. */
        sb->name = mj_xstrdup(name);
        sb->dir = mj_state_create(name, sb->id, err);
        if (!sb->dir || mj_state_claim(sb->dir, &lock_fd, &listen_fd, err) < 0)
            return -1;
    }
    if (mj_spawn_prepare(&plan, sb->id, true, &sb->cg, err) < 0)
        return -1;
    mj_trace_mark("state dir, cgroups");
    sb->cg_looked = true;
    mj_strv_copy(&sb->warnings, &plan.warnings);
    cleanup_pipe int ctl[2] = {-1, -1};
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ctl) < 0) {
        *err = mj_error_sys(MJ_ERR_SANDBOX_INIT_FAILED, errno, "socketpair");
        return -1;
    }
    sb->status = MJ_STATUS_STARTING;
    mj_spawn_fds_t fds = {
        .status_w = ctl[1], .stdin_r = -1, .stdout_w = -1, .stderr_w = -1, .listen_fd = listen_fd,
        .lock_fd = lock_fd, .detached = name != NULL, .host_ends = {ctl[0], -1, -1, -1},
    };
    mj_spawned_t spawned;
    if (mj_spawn(&plan, sb->cg, &fds, &spawned, err) < 0)
        return -1;
    sb->pid = spawned.pid;
    sb->pidfd = spawned.pidfd;
    sb->net = spawned.net; /* its helper's status pipe is not read: "stats" comes from the control socket */
    mj_close_fd(&sb->net.status_r);
    mj_state_release_id(sb->id, mj_steal_fd(&sb->claim_fd));
    mj_close_fd(&ctl[1]);
    sb->ctl = mj_steal_fd(&ctl[0]);
    if (wait_ready(sb, &plan, err) < 0)
        return -1;
    mj_trace_mark("supervisor ready");
    sb->starttime = mj_proc_starttime(sb->pid);
    sb->status = MJ_STATUS_RUNNING;
    mj_error_t *ignored = NULL;
    if (mj_client_root_fd(sb, &ignored) < 0) /* cached now: later it works while paused too */
        mj_error_free(ignored);
    if (name && (mj_state_save(sb, err) < 0 || mj_state_save_defaults(sb, err) < 0 || publish(sb, err) < 0))
        return -1;
    if (name) {
        /* Published: from now on the sandbox outlives this process (until now, our going away
         * ended it: a creator killed halfway leaves no orphaned supervisor). */
        mj_rep_t rep;
        if (mj_client_request(sb, MJ_REQ_DETACH, 0, NULL, 0, NULL, 0, MJ_CLIENT_QUICK, &rep, err) < 0)
            return -1;
    }
    *out = steal_pointer(&sb);
    mj_trace_mark("state saved, detached");
    mj_trace_op_end("create");
    return 0;
}

static void free_handle(mj_sandbox_t **sbp)
{
    if (*sbp) {
        sandbox_free_fields(*sbp);
        free(*sbp);
    }
}

/* Connects the non-blocking sock to sa, retrying while the supervisor's backlog is full, for up
 * to MJ_CLIENT_QUICK seconds: 1 connected, 0 still full at the deadline, -1 refused (nobody
 * listens). */
static int connect_by(int sock, const struct sockaddr_un *sa)
{
    double deadline = mj_now_monotonic() + MJ_CLIENT_QUICK;
    for (;;) {
        if (connect(sock, (const struct sockaddr *)sa, sizeof(*sa)) == 0)
            return 1;
        if (errno != EAGAIN && errno != EINTR)
            return -1;
        if (mj_now_monotonic() >= deadline)
            return 0;
        struct timespec ts = {0, 10 * 1000000};
        nanosleep(&ts, NULL);
    }
}

int mj_sandbox_open(const char *name, mj_sandbox_t **out, mj_error_t **errp)
{
    cleanup_error mj_error_t *local_err = NULL;
    mj_error_t **err = errp ? errp : &local_err;
    if (!mj_name_valid(name)) {
        *err = mj_error_new(MJ_ERR_SANDBOX_NOT_FOUND, EINVAL, "%s", name ? name : "(null)");
        return -1;
    }
    __attribute__((cleanup(free_handle))) mj_sandbox_t *sb = sandbox_alloc();
    sb->name = mj_xstrdup(name);
    mj_error_t *ignored = NULL;
    cleanup_free char *base = mj_state_sandboxes_dir(false, &ignored);
    mj_error_free(ignored);
    sb->dir = mj_xasprintf("%s/%s", base, name);
    struct stat st;
    if (lstat(sb->dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
        *err = mj_error_new(MJ_ERR_SANDBOX_NOT_FOUND, ENOENT, "%s", name);
        return -1;
    }
    if (st.st_uid != geteuid()) {
        *err = mj_error_new(MJ_ERR_PERMISSION_DENIED, EPERM, "sandbox %s belongs to another user", name);
        return -1;
    }
    if (mj_state_load(sb, err) < 0)
        return -1;
    mj_trace_mark("open: state loaded");
    if (mj_state_alive(sb->dir) != 1) {
        /* Supervisor gone: a failed sandbox (or one whose delayed shutdown ended). */
        cleanup_free char *destroyed = NULL;
        if (access(sb->dir, F_OK) == 0 && (destroyed = mj_state_read_file(sb->dir, "destroyed", NULL)) == NULL &&
            errno == ENOENT) {
            sb->status = MJ_STATUS_FAILED;
            *out = steal_pointer(&sb);
            return 0;
        }
        /* its delayed shutdown is over; its network helper is ended there too (prune.c) */
        (void)mj_prune_state_dir(sb->dir, false, NULL);
        *err = mj_error_new(MJ_ERR_SANDBOX_NOT_FOUND, ENOENT, "%s", name);
        return -1;
    }
    cleanup_close int dir_fd = open(sb->dir, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    struct sockaddr_un sa;
    sb->ctl = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    int connected = sb->ctl >= 0 && mj_state_sock_address(sb->dir, dir_fd, &sa) == 0 ? connect_by(sb->ctl, &sa) : -1;
    mj_close_fd(&dir_fd);
    if (connected == 0 && sb->ctl >= 0) {
        /* Not responding: alive by its lock, but its queue stayed full. */
        mj_close_fd(&sb->ctl);
        sb->unresponsive = true;
        sb->status = MJ_STATUS_RUNNING;
        *out = steal_pointer(&sb);
        return 0;
    }
    if (connected < 0) {
        mj_close_fd(&sb->ctl);
        sb->status = MJ_STATUS_FAILED;
        *out = steal_pointer(&sb);
        return 0;
    }
    int fl = fcntl(sb->ctl, F_GETFL);
    if (fl >= 0)
        (void)fcntl(sb->ctl, F_SETFL, fl & ~O_NONBLOCK);
    /* The peer must be the supervisor the state names (same pid, same start time). */
    struct ucred cred;
    socklen_t clen = sizeof(cred);
    if (getsockopt(sb->ctl, SOL_SOCKET, SO_PEERCRED, &cred, &clen) < 0 || cred.pid != sb->pid ||
        mj_proc_starttime(sb->pid) != sb->starttime) {
        *err = mj_error_new(MJ_ERR_PERMISSION_DENIED, EPERM, "sandbox %s: the socket is not served by its supervisor",
                            name);
        return -1;
    }
    sb->status = MJ_STATUS_RUNNING;
    (void)mj_sandbox_status(sb);
    *out = steal_pointer(&sb);
    return 0;
}

/* ------------------------------------------------------------------ status, life cycle */

mj_status_t mj_sandbox_status(mj_sandbox_t *sb)
{
    return mj_client_status(sb);
}

static int simple_request(mj_sandbox_t *sb, uint32_t type, int32_t arg, double timeout, const char *what,
                          mj_error_t **err)
{
    if (mj_client_check_usable(sb, what, err) < 0)
        return -1;
    (void)mj_sandbox_status(sb);
    mj_rep_t rep;
    if (mj_client_request(sb, type, arg, NULL, 0, NULL, 0, timeout, &rep, err) < 0)
        return -1;
    if (rep.type != MJ_REP_OK) {
        *err = mj_client_state_error(sb, rep.err, what);
        return -1;
    }
    (void)mj_sandbox_status(sb);
    return 0;
}

int mj_sandbox_signal(mj_sandbox_t *sb, int sig, mj_error_t **err)
{
    if (sig <= 0 || sig >= NSIG) {
        *err = mj_error_new(MJ_ERR_INVALID_CONFIG, EINVAL, "signal: %d is not a signal", sig);
        return -1;
    }
    return simple_request(sb, MJ_REQ_SIGNAL_ALL, sig, MJ_CLIENT_QUICK, "signal", err);
}

int mj_sandbox_pause(mj_sandbox_t *sb, mj_error_t **err)
{
    mj_cgroup_t *cg = mj_client_cgroup(sb);
    if (!cg || !mj_cgroup_can_freeze(cg))
        return simple_request(sb, MJ_REQ_PAUSE, 0, MJ_CLIENT_QUICK, "pause", err); /* SIGSTOP fallback */
    if (mj_client_check_usable(sb, "pause", err) < 0)
        return -1;
    if (mj_cgroup_frozen(cg) == 1 || mj_sandbox_status(sb) == MJ_STATUS_PAUSED) {
        sb->status = MJ_STATUS_PAUSED;
        *err = mj_client_state_error(sb, EALREADY, "pause");
        return -1;
    }
    if (sb->status == MJ_STATUS_STOPPED) {
        *err = mj_client_state_error(sb, ESHUTDOWN, "pause");
        return -1;
    }
    if (mj_cgroup_freeze(cg, true, err) < 0)
        return -1;
    sb->status = MJ_STATUS_PAUSED;
    return 0;
}

int mj_sandbox_resume(mj_sandbox_t *sb, mj_error_t **err)
{
    mj_cgroup_t *cg = mj_client_cgroup(sb);
    if (!cg || !mj_cgroup_can_freeze(cg))
        return simple_request(sb, MJ_REQ_RESUME, 0, MJ_CLIENT_QUICK, "resume", err);
    if (mj_client_check_usable(sb, "resume", err) < 0)
        return -1;
    if (mj_cgroup_frozen(cg) != 1) {
        sb->status = MJ_STATUS_RUNNING;
        *err = mj_client_state_error(sb, EALREADY, "resume");
        return -1;
    }
    if (mj_cgroup_freeze(cg, false, err) < 0)
        return -1;
    sb->status = MJ_STATUS_RUNNING;
    (void)mj_sandbox_status(sb);
    return 0;
}

int mj_sandbox_stop(mj_sandbox_t *sb, double grace, mj_error_t **err)
{
    if (grace < 0)
        grace = 0;
    if (grace > 3600)
        grace = 3600;
    mj_cgroup_t *cg = mj_client_cgroup(sb);
    if (cg && mj_cgroup_can_freeze(cg) && mj_cgroup_frozen(cg) == 1 && mj_cgroup_freeze(cg, false, err) < 0)
        return -1;
    sb->status = MJ_STATUS_STOPPING;
    return simple_request(sb, MJ_REQ_STOP, (int32_t)(grace * 1000), grace + 15, "stop", err);
}

int mj_sandbox_start(mj_sandbox_t *sb, mj_error_t **err)
{
    if (mj_client_check_usable(sb, "start", err) < 0)
        return -1;
    mj_rep_t rep;
    if (mj_client_request(sb, MJ_REQ_START, 0, NULL, 0, NULL, 0, 10, &rep, err) < 0)
        return -1;
    if (rep.type != MJ_REP_OK) {
        *err = rep.err == EALREADY ? mj_error_new(MJ_ERR_INVALID_STATE, EALREADY, "cannot start: sandbox %s is not "
                                                  "stopped", sb->name ? sb->name : sb->id)
               : rep.err == ECHILD ? mj_error_new(MJ_ERR_INVALID_STATE, ECHILD, "cannot start: sandbox %s can start "
                                                  "no commands any more (remove it)", sb->name ? sb->name : sb->id)
                                   : mj_client_state_error(sb, rep.err, "start");
        return -1;
    }
    (void)mj_sandbox_status(sb);
    return 0;
}

int mj_sandbox_destroy(mj_sandbox_t *sb, mj_error_t **err)
{
    if (sb->status == MJ_STATUS_DESTROYED)
        return 0;
    if (sb->dir && sb->cleanup_delay <= 0) {
        /* Unlisted first: a removal cut short is finished by prune, never half-listed. */
        char *moved = mj_state_unpublish(sb->dir, sb->id);
        if (moved) {
            free(sb->dir);
            sb->dir = moved;
        }
    }
    mj_cgroup_t *cg = mj_client_cgroup(sb);
    if (cg && mj_cgroup_can_freeze(cg) && mj_cgroup_frozen(cg) == 1) {
        mj_error_t *ignored = NULL;
        if (mj_cgroup_freeze(cg, false, &ignored) < 0)
            mj_error_free(ignored);
    }
    if (sb->ctl >= 0) {
        mj_rep_t rep;
        mj_error_t *ignored = NULL;
        int32_t linger = (int32_t)(sb->cleanup_delay * 1000);
        if (mj_client_request(sb, MJ_REQ_SHUTDOWN, linger, NULL, 0, NULL, 0, MJ_CLIENT_QUICK, &rep, &ignored) < 0)
            mj_error_free(ignored);
    }
    mj_close_fd(&sb->ctl);
    mj_close_fd(&sb->root_fd);
    /* Without a linger the supervisor exits at once; make sure of it. */
    if (sb->pid > 0 && sb->cleanup_delay <= 0) {
        if (sb->pidfd >= 0)
            syscall(SYS_pidfd_send_signal, sb->pidfd, SIGKILL, NULL, 0);
        else if (sb->starttime && mj_proc_starttime(sb->pid) == sb->starttime)
            kill(sb->pid, SIGKILL);
    }
    if (sb->creator && sb->pid > 0) {
        if (sb->cleanup_delay <= 0)
            while (waitpid(sb->pid, NULL, 0) < 0 && errno == EINTR)
                ;
        else
            (void)waitpid(sb->pid, NULL, WNOHANG);
    }
    if (cg && sb->cleanup_delay <= 0) {
        mj_cgroup_destroy(cg);
        sb->cg = NULL;
    }
    /* Its network helper follows the supervisor by itself (it watches a pidfd); without a
     * linger make sure of it and remove its directory now, else whoever finds the lingering
     * sandbox's state later does (mj_sandbox_open). */
    if (sb->cleanup_delay <= 0)
        mj_netsetup_stop(&sb->net, 2);
    if (sb->dir) {
        if (sb->cleanup_delay > 0) {
            /* Keep the name while the supervisor lingers; whoever looks later cleans up. */
            mj_error_t *ignored = NULL;
            if (mj_state_write_file(sb->dir, "destroyed", "1", 1, &ignored) < 0)
                mj_error_free(ignored);
        } else {
            mj_state_remove(sb->dir);
        }
    }
    sb->status = MJ_STATUS_DESTROYED;
    (void)err;
    return 0;
}

void mj_sandbox_free(mj_sandbox_t *sb)
{
    if (!sb)
        return;
    if (!sb->name || sb->status == MJ_STATUS_FAILED) {
        if (!sb->name) {
            mj_error_t *ignored = NULL;
            mj_sandbox_destroy(sb, &ignored);
            mj_error_free(ignored);
        }
    }
    if (sb->creator && sb->pid > 0 && sb->status != MJ_STATUS_DESTROYED)
        (void)waitpid(sb->pid, NULL, WNOHANG); /* a named sandbox's supervisor outlives us */
    sandbox_free_fields(sb);
    free(sb);
}

/* ------------------------------------------------------------------ defaults */

const char *mj_sandbox_workdir(const mj_sandbox_t *sb)
{
    return sb->workdir;
}

int mj_sandbox_set_workdir(mj_sandbox_t *sb, const char *dir, mj_error_t **err)
{
    if (!mj_path_is_clean_absolute(dir)) {
        *err = mj_error_new(MJ_ERR_INVALID_CONFIG, EINVAL, "workdir: expected an absolute path without '..', got '%s'",
                            dir ? dir : "(null)");
        return -1;
    }
    free(sb->workdir);
    sb->workdir = mj_xstrdup(dir);
    return mj_state_save_defaults(sb, err);
}

const char *const *mj_sandbox_env(const mj_sandbox_t *sb)
{
    static const char *const empty[] = {NULL};
    return sb->env.v ? (const char *const *)sb->env.v : empty;
}

int mj_sandbox_set_env(mj_sandbox_t *sb, const char *key, const char *value, mj_error_t **err)
{
    if (!key || !*key || strchr(key, '=') || !value) {
        *err = mj_error_new(MJ_ERR_INVALID_CONFIG, EINVAL, "env: invalid variable name '%s'", key ? key : "(null)");
        return -1;
    }
    mj_strv_t one = {0};
    mj_strv_push_owned(&one, mj_xasprintf("%s=%s", key, value));
    mj_env_overlay(&sb->env, &one);
    mj_strv_free(&one);
    return mj_state_save_defaults(sb, err);
}

int mj_sandbox_unset_env(mj_sandbox_t *sb, const char *key, mj_error_t **err)
{
    size_t klen = key ? strlen(key) : 0;
    for (size_t i = 0; i < sb->env.n; i++) {
        if (strncmp(sb->env.v[i], key, klen) == 0 && sb->env.v[i][klen] == '=') {
            free(sb->env.v[i]);
            memmove(&sb->env.v[i], &sb->env.v[i + 1], (sb->env.n - i) * sizeof(char *));
            sb->env.n--;
            break;
        }
    }
    return mj_state_save_defaults(sb, err);
}

void mj_sandbox_clear_env(mj_sandbox_t *sb)
{
    mj_strv_free(&sb->env);
    mj_error_t *ignored = NULL;
    if (mj_state_save_defaults(sb, &ignored) < 0)
        mj_error_free(ignored);
}

int mj_sandbox_set_meta(mj_sandbox_t *sb, const char *text, mj_error_t **err)
{
    free(sb->meta);
    sb->meta = mj_xstrdup(text ? text : "");
    if (sb->dir)
        return mj_state_write_file(sb->dir, "meta", sb->meta, strlen(sb->meta), err);
    return 0;
}

const char *mj_sandbox_meta(const mj_sandbox_t *sb)
{
    return sb->meta;
}

int mj_sandbox_info(mj_sandbox_t *sb, mj_sandbox_info_t *out, mj_error_t **err)
{
    (void)err;
    memset(out, 0, sizeof(*out));
    out->id = sb->id;
    out->name = mj_client_name(sb);
    out->status = mj_sandbox_status(sb);
    out->created_at = sb->created_at;
    out->started_at = sb->started_at;
    out->hostname = sb->hostname;
    out->supervisor_pid = sb->pid;
    out->uid = sb->uid;
    out->gid = sb->gid;
    out->rootless = sb->rootless;
    static const char *const modes[] = {[MJ_NET_NONE] = "none", [MJ_NET_HOST] = "host",
                                        [MJ_NET_OUTBOUND] = "outbound", [MJ_NET_FILTERED] = "filtered"};
    out->network = (unsigned)sb->net_mode < MJ_ARRAY_LEN(modes) ? modes[sb->net_mode] : "none";
    out->ip = sb->net.ip ? sb->net.ip : "";
    out->responding = !sb->unresponsive;
    out->ended_by = sb->expired && out->status == MJ_STATUS_STOPPED ? "lifetime" : NULL;
    return 0;
}

size_t mj_sandbox_warning_count(const mj_sandbox_t *sb)
{
    return sb->warnings.n;
}

const char *mj_sandbox_warning(const mj_sandbox_t *sb, size_t i)
{
    return i < sb->warnings.n ? sb->warnings.v[i] : NULL;
}


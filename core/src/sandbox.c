/* sandbox.c — persistent sandboxes on the host side: create (clone + supervisor), open a named
 * one, talk to its supervisor (exec, spawn, signal, pause, stop, shut down), keep the defaults
 * (workdir, env, meta) and the status machine.  File operations live in fileops.c and usage in
 * usage.c; the supervisor itself in supervisor.c.  Replies from the supervisor are checked like
 * any other untrusted input. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <sys/ioctl.h>
#include <stdlib.h>

#include "internal.h"
#include "proto.h"
#include "spawn.h"

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
    mj_strv_free(&sb->env);
    free(sb->workdir);
    free(sb->meta);
    mj_strv_free(&sb->tmpfs);
    mj_strv_free(&sb->warnings);
}

static mj_sandbox_t *sandbox_alloc(void)
{
    mj_sandbox_t *sb = mj_xcalloc(1, sizeof(*sb));
    sb->ctl = sb->pidfd = sb->root_fd = -1;
    sb->status = MJ_STATUS_CREATING;
    return sb;
}

/* ------------------------------------------------------------------ talking to the supervisor */

static mj_error_t *gone_error(mj_sandbox_t *sb)
{
    /* Gone because someone destroyed it (its name went with it), or because it died. */
    struct stat st;
    sb->status = sb->dir && stat(sb->dir, &st) < 0 && errno == ENOENT ? MJ_STATUS_DESTROYED : MJ_STATUS_FAILED;
    if (sb->status == MJ_STATUS_DESTROYED)
        return mj_error_new(MJ_ERR_INVALID_STATE, EPIPE, "sandbox %s was destroyed", sb->name ? sb->name : sb->id);
    return mj_error_new(MJ_ERR_INVALID_STATE, EPIPE, "sandbox %s has failed: its supervisor is gone",
                        sb->name ? sb->name : sb->id);
}

static int send_request(mj_sandbox_t *sb, uint32_t type, int32_t arg, const void *payload, size_t len,
                        const int *fds, int nfds, mj_error_t **err)
{
    if (sb->ctl < 0) {
        *err = gone_error(sb);
        return -1;
    }
    mj_req_t req = {.magic = MJ_PROTO_MAGIC, .type = type, .len = (uint32_t)len, .arg = arg};
    struct iovec iov[2] = {{.iov_base = &req, .iov_len = sizeof(req)}, {.iov_base = (void *)payload, .iov_len = len}};
    char cbuf[CMSG_SPACE(sizeof(int) * 4)];
    struct msghdr msg = {.msg_iov = iov, .msg_iovlen = len ? 2 : 1};
    if (nfds > 0) {
        memset(cbuf, 0, sizeof(cbuf));
        msg.msg_control = cbuf;
        msg.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds);
        struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
        memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)nfds);
    }
    ssize_t n;
    do
        n = sendmsg(sb->ctl, &msg, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    if (n < 0) {
        if (errno == EMSGSIZE) {
            *err = mj_error_new(MJ_ERR_INVALID_CONFIG, E2BIG, "request too large (arguments and environment over %u KiB)",
                                MJ_PROTO_MAX / 1024);
            return -1;
        }
        mj_close_fd(&sb->ctl);
        *err = gone_error(sb);
        return -1;
    }
    return 0;
}

static int recv_reply(mj_sandbox_t *sb, double timeout, mj_rep_t *rep, mj_error_t **err)
{
    struct pollfd pfd = {.fd = sb->ctl, .events = POLLIN};
    int r;
    do
        r = poll(&pfd, 1, timeout > 0 ? (int)(timeout * 1000) : -1);
    while (r < 0 && errno == EINTR);
    if (r == 0) {
        *err = mj_error_new(MJ_ERR_TIMEOUT, ETIMEDOUT, "the supervisor of %s did not answer", sb->name ? sb->name : sb->id);
        return -1;
    }
    ssize_t n;
    do
        n = recv(sb->ctl, rep, sizeof(*rep), 0);
    while (n < 0 && errno == EINTR);
    if (n != (ssize_t)sizeof(*rep) || rep->magic != MJ_PROTO_MAGIC || (rep->type != MJ_REP_OK && rep->type != MJ_REP_ERR)) {
        mj_close_fd(&sb->ctl);
        *err = gone_error(sb);
        return -1;
    }
    return 0;
}

static int request(mj_sandbox_t *sb, uint32_t type, int32_t arg, const void *payload, size_t len, const int *fds,
                   int nfds, double timeout, mj_rep_t *rep, mj_error_t **err)
{
    if (send_request(sb, type, arg, payload, len, fds, nfds, err) < 0)
        return -1;
    return recv_reply(sb, timeout, rep, err);
}

static mj_error_t *state_error(mj_sandbox_t *sb, int e, const char *what)
{
    const char *why = e == ESHUTDOWN ? "is stopped"
                      : e == EBUSY   ? "is paused"
                      : e == EALREADY ? (sb->status == MJ_STATUS_PAUSED ? "is already paused" : "is not paused")
                                      : strerror(e);
    return mj_error_new(MJ_ERR_INVALID_STATE, e, "cannot %s: sandbox %s %s", what, sb->name ? sb->name : sb->id, why);
}

static bool cgroup_frozen(mj_sandbox_t *sb);

static int check_usable(mj_sandbox_t *sb, const char *what, mj_error_t **err)
{
    if (sb->status == MJ_STATUS_DESTROYED || sb->status == MJ_STATUS_FAILED || sb->ctl < 0) {
        const char *why = sb->status == MJ_STATUS_DESTROYED ? "was destroyed" : "has failed";
        *err = mj_error_new(MJ_ERR_INVALID_STATE, 0, "cannot %s: sandbox %s %s", what, sb->name ? sb->name : sb->id, why);
        return -1;
    }
    if (strcmp(what, "resume") != 0 && strcmp(what, "pause") != 0 && cgroup_frozen(sb)) {
        sb->status = MJ_STATUS_PAUSED;
        *err = state_error(sb, EBUSY, what);
        return -1;
    }
    return 0;
}

int mj_sandbox_request_root(mj_sandbox_t *sb, mj_error_t **err)
{
    if (send_request(sb, MJ_REQ_ROOT_FD, 0, NULL, 0, NULL, 0, err) < 0)
        return -1;
    struct pollfd pfd = {.fd = sb->ctl, .events = POLLIN};
    int r;
    do
        r = poll(&pfd, 1, 10000);
    while (r < 0 && errno == EINTR);
    mj_rep_t rep;
    char cbuf[CMSG_SPACE(sizeof(int) * 4)];
    struct iovec iov = {.iov_base = &rep, .iov_len = sizeof(rep)};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf)};
    ssize_t n = r > 0 ? recvmsg(sb->ctl, &msg, MSG_CMSG_CLOEXEC) : -1;
    int fd = -1;
    for (struct cmsghdr *c = n > 0 ? CMSG_FIRSTHDR(&msg) : NULL; c; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
            continue;
        int cnt = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
        for (int i = 0; i < cnt; i++) {
            int f;
            memcpy(&f, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
            if (fd < 0)
                fd = f;
            else
                close(f); /* never keep more than we asked for */
        }
    }
    if (n != (ssize_t)sizeof(rep) || rep.magic != MJ_PROTO_MAGIC || rep.type != MJ_REP_OK || fd < 0) {
        if (fd >= 0)
            close(fd);
        if (r == 0) {
            *err = mj_error_new(MJ_ERR_TIMEOUT, ETIMEDOUT, "the supervisor of %s did not answer",
                                sb->name ? sb->name : sb->id);
        } else if (n <= 0) {
            mj_close_fd(&sb->ctl);
            *err = gone_error(sb);
        } else {
            *err = mj_error_new(MJ_ERR_INVALID_STATE, rep.type == MJ_REP_ERR ? rep.err : EPROTO,
                                "sandbox %s: cannot reach its root", sb->name ? sb->name : sb->id);
        }
        return -1;
    }
    return fd;
}

int mj_sandbox_denials(mj_sandbox_t *sb, mj_denial_t **out, size_t *count, uint64_t *total, mj_error_t **err)
{
    *out = NULL;
    *count = 0;
    if (total)
        *total = 0;
    if (check_usable(sb, "read denials", err) < 0)
        return -1;
    if (send_request(sb, MJ_REQ_DENIALS, 0, NULL, 0, NULL, 0, err) < 0)
        return -1;
    struct {
        mj_rep_t rep;
        mj_denial_rec_t rec[MJ_DENIALS_MAX];
    } buf;
    struct pollfd pfd = {.fd = sb->ctl, .events = POLLIN};
    int r;
    do
        r = poll(&pfd, 1, 10000);
    while (r < 0 && errno == EINTR);
    ssize_t n = r > 0 ? recv(sb->ctl, &buf, sizeof(buf), 0) : -1;
    if (n < (ssize_t)sizeof(mj_rep_t) || buf.rep.magic != MJ_PROTO_MAGIC || buf.rep.type != MJ_REP_OK ||
        buf.rep.value < 0 || buf.rep.value > MJ_DENIALS_MAX ||
        (size_t)n != sizeof(mj_rep_t) + (size_t)buf.rep.value * sizeof(mj_denial_rec_t)) {
        if (n <= 0 && r != 0) {
            mj_close_fd(&sb->ctl);
            *err = gone_error(sb);
        } else {
            *err = mj_error_new(MJ_ERR_INVALID_STATE, EPROTO, "sandbox %s: bad denials reply",
                                sb->name ? sb->name : sb->id);
        }
        return -1;
    }
    size_t k = (size_t)buf.rep.value;
    mj_denial_t *v = mj_xcalloc(k ? k : 1, sizeof(*v));
    for (size_t i = 0; i < k; i++) {
        mj_seccomp_syscall_name(buf.rec[i].nr, v[i].syscall, sizeof(v[i].syscall));
        v[i].pid = buf.rec[i].pid;
    }
    *out = v;
    *count = k;
    if (total)
        *total = k;
    return 0;
}

/* ------------------------------------------------------------------ named state */

static int save_state(mj_sandbox_t *sb, mj_error_t **err)
{
    if (!sb->dir)
        return 0;
    mj_buf_t b = {0};
    char *line = mj_xasprintf("id %s\npid %d\nstarttime %llu\ncreated %.6f\nstarted %.6f\nhostname %s\nuid %u\n"
                              "gid %u\nbase %lu\nrootless %d\nhost_uid %u\nhost_gid %u\ncleanup_delay %.3f\nnetns %d\n"
                              "cpu_time_limit %.3f\nmemory_limit %llu\n",
                              sb->id, (int)sb->pid, sb->starttime, sb->created_at, sb->started_at, sb->hostname,
                              (unsigned)sb->uid, (unsigned)sb->gid, sb->id_base, sb->rootless ? 1 : 0,
                              (unsigned)sb->host_uid, (unsigned)sb->host_gid, sb->cleanup_delay, sb->own_netns ? 1 : 0,
                              sb->cpu_time_limit, (unsigned long long)sb->memory_limit);
    mj_buf_append(&b, line, strlen(line));
    free(line);
    for (size_t i = 0; i < sb->tmpfs.n; i++) {
        line = mj_xasprintf("tmpfs %s\n", sb->tmpfs.v[i]);
        mj_buf_append(&b, line, strlen(line));
        free(line);
    }
    int r = mj_state_write_file(sb->dir, "state", b.data, b.len, err);
    mj_buf_free(&b);
    return r;
}

static int save_env(mj_sandbox_t *sb, mj_error_t **err)
{
    if (!sb->dir)
        return 0;
    mj_buf_t b = {0};
    for (size_t i = 0; i < sb->env.n; i++)
        mj_buf_append(&b, sb->env.v[i], strlen(sb->env.v[i]) + 1);
    int r = mj_state_write_file(sb->dir, "env", b.data ? b.data : "", b.len, err);
    mj_buf_free(&b);
    if (r == 0)
        r = mj_state_write_file(sb->dir, "workdir", sb->workdir, strlen(sb->workdir), err);
    return r;
}

static int load_state(mj_sandbox_t *sb, mj_error_t **err)
{
    size_t len;
    cleanup_free char *text = mj_state_read_file(sb->dir, "state", &len);
    if (!text) {
        *err = mj_error_new(MJ_ERR_SANDBOX_NOT_FOUND, ENOENT, "%s", sb->name);
        return -1;
    }
    for (char *save = NULL, *ln = strtok_r(text, "\n", &save); ln; ln = strtok_r(NULL, "\n", &save)) {
        char *sp = strchr(ln, ' ');
        if (!sp)
            continue;
        *sp++ = '\0';
        if (strcmp(ln, "id") == 0)
            snprintf(sb->id, sizeof(sb->id), "%s", sp);
        else if (strcmp(ln, "pid") == 0)
            sb->pid = (pid_t)atoi(sp);
        else if (strcmp(ln, "starttime") == 0)
            sb->starttime = strtoull(sp, NULL, 10);
        else if (strcmp(ln, "created") == 0)
            sb->created_at = strtod(sp, NULL);
        else if (strcmp(ln, "started") == 0)
            sb->started_at = strtod(sp, NULL);
        else if (strcmp(ln, "hostname") == 0)
            snprintf(sb->hostname, sizeof(sb->hostname), "%s", sp);
        else if (strcmp(ln, "uid") == 0)
            sb->uid = (uid_t)strtoul(sp, NULL, 10);
        else if (strcmp(ln, "gid") == 0)
            sb->gid = (gid_t)strtoul(sp, NULL, 10);
        else if (strcmp(ln, "base") == 0)
            sb->id_base = strtoul(sp, NULL, 10);
        else if (strcmp(ln, "rootless") == 0)
            sb->rootless = atoi(sp) != 0;
        else if (strcmp(ln, "host_uid") == 0)
            sb->host_uid = (uid_t)strtoul(sp, NULL, 10);
        else if (strcmp(ln, "host_gid") == 0)
            sb->host_gid = (gid_t)strtoul(sp, NULL, 10);
        else if (strcmp(ln, "cleanup_delay") == 0)
            sb->cleanup_delay = strtod(sp, NULL);
        else if (strcmp(ln, "cpu_time_limit") == 0)
            sb->cpu_time_limit = strtod(sp, NULL);
        else if (strcmp(ln, "memory_limit") == 0)
            sb->memory_limit = strtoull(sp, NULL, 10);
        else if (strcmp(ln, "netns") == 0)
            sb->own_netns = atoi(sp) != 0;
        else if (strcmp(ln, "tmpfs") == 0)
            mj_strv_push(&sb->tmpfs, sp);
    }
    size_t elen = 0;
    cleanup_free char *env = mj_state_read_file(sb->dir, "env", &elen);
    for (size_t off = 0; env && off < elen;) {
        size_t l = strlen(env + off);
        if (l && strchr(env + off, '='))
            mj_strv_push(&sb->env, env + off);
        off += l + 1;
    }
    char *wd = mj_state_read_file(sb->dir, "workdir", NULL);
    sb->workdir = wd && mj_path_is_clean_absolute(wd) ? wd : (free(wd), mj_xstrdup("/"));
    sb->meta = mj_state_read_file(sb->dir, "meta", NULL);
    return 0;
}

/* ------------------------------------------------------------------ create / open */

static int wait_ready(mj_sandbox_t *sb, const mj_plan_t *plan, mj_error_t **err)
{
    struct pollfd pfd = {.fd = sb->ctl, .events = POLLIN};
    int r;
    do
        r = poll(&pfd, 1, 60000);
    while (r < 0 && errno == EINTR);
    mj_msg_t m;
    ssize_t n = r > 0 ? recv(sb->ctl, &m, sizeof(m), 0) : -1;
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
    if (sb->dir)
        mj_state_remove(sb->dir);
    if (sb->cg) {
        mj_cgroup_destroy(sb->cg);
        sb->cg = NULL;
    }
    sandbox_free_fields(sb);
    free(sb);
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
    if (mj_plan_build(cfg, NULL, &plan, err) < 0)
        return -1;
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
    sb->cpu_time_limit = plan.cpu_time_limit;
    sb->memory_limit = plan.limits.memory_max;
    sb->creator = true;
    mj_strv_copy(&sb->env, &plan.envp);
    sb->workdir = mj_xstrdup(plan.workdir);
    mj_strv_copy(&sb->tmpfs, &plan.disk_paths);

    cleanup_close int lock_fd = -1;
    cleanup_close int listen_fd = -1;
    if (name) {
        sb->name = mj_xstrdup(name);
        sb->dir = mj_state_create(name, err);
        if (!sb->dir || mj_state_claim(sb->dir, &lock_fd, &listen_fd, err) < 0)
            return -1;
    }
    if (mj_spawn_prepare(&plan, sb->id, true, &sb->cg, err) < 0)
        return -1;
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
    mj_close_fd(&ctl[1]);
    sb->ctl = mj_steal_fd(&ctl[0]);
    if (wait_ready(sb, &plan, err) < 0)
        return -1;
    sb->starttime = mj_proc_starttime(sb->pid);
    sb->status = MJ_STATUS_RUNNING;
    mj_error_t *ignored = NULL;
    if (mj_sandbox_root_fd(sb, &ignored) < 0) /* cached now: later it works while paused too */
        mj_error_free(ignored);
    if (name && (save_state(sb, err) < 0 || save_env(sb, err) < 0))
        return -1;
    *out = steal_pointer(&sb);
    return 0;
}

int mj_sandbox_open(const char *name, mj_sandbox_t **out, mj_error_t **errp)
{
    mj_error_t *local_err = NULL;
    mj_error_t **err = errp ? errp : &local_err;
    if (!mj_name_valid(name)) {
        *err = mj_error_new(MJ_ERR_SANDBOX_NOT_FOUND, EINVAL, "%s", name ? name : "(null)");
        mj_error_free(local_err);
        return -1;
    }
    mj_sandbox_t *sb = sandbox_alloc();
    sb->name = mj_xstrdup(name);
    mj_error_t *ignored = NULL;
    cleanup_free char *base = mj_state_sandboxes_dir(false, &ignored);
    mj_error_free(ignored);
    sb->dir = mj_xasprintf("%s/%s", base, name);
    struct stat st;
    if (lstat(sb->dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
        *err = mj_error_new(MJ_ERR_SANDBOX_NOT_FOUND, ENOENT, "%s", name);
        goto fail;
    }
    if (st.st_uid != geteuid()) {
        *err = mj_error_new(MJ_ERR_PERMISSION_DENIED, EPERM, "sandbox %s belongs to another user", name);
        goto fail;
    }
    if (load_state(sb, err) < 0)
        goto fail;
    int alive = mj_state_alive(sb->dir);
    if (alive != 1) {
        /* Supervisor gone: a failed sandbox (or one whose delayed shutdown ended). */
        if (access(sb->dir, F_OK) == 0 && mj_state_read_file(sb->dir, "destroyed", NULL) == NULL && errno == ENOENT) {
            sb->status = MJ_STATUS_FAILED;
            *out = sb;
            mj_error_free(local_err);
            return 0;
        }
        mj_state_remove(sb->dir);
        *err = mj_error_new(MJ_ERR_SANDBOX_NOT_FOUND, ENOENT, "%s", name);
        goto fail;
    }
    int dir_fd = open(sb->dir, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    struct sockaddr_un sa;
    sb->ctl = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    int connected = sb->ctl >= 0 && mj_state_sock_address(sb->dir, dir_fd, &sa) == 0 &&
                    connect(sb->ctl, (struct sockaddr *)&sa, sizeof(sa)) == 0;
    mj_close_fd(&dir_fd);
    if (!connected) {
        mj_close_fd(&sb->ctl);
        sb->status = MJ_STATUS_FAILED;
        *out = sb;
        mj_error_free(local_err);
        return 0;
    }
    /* The peer must be the supervisor the state names (same pid, same start time). */
    struct ucred cred;
    socklen_t clen = sizeof(cred);
    if (getsockopt(sb->ctl, SOL_SOCKET, SO_PEERCRED, &cred, &clen) < 0 || cred.pid != sb->pid ||
        mj_proc_starttime(sb->pid) != sb->starttime) {
        *err = mj_error_new(MJ_ERR_PERMISSION_DENIED, EPERM, "sandbox %s: the socket is not served by its supervisor",
                            name);
        goto fail;
    }
    sb->status = MJ_STATUS_RUNNING;
    (void)mj_sandbox_status(sb);
    *out = sb;
    mj_error_free(local_err);
    return 0;
fail:
    sandbox_free_fields(sb);
    free(sb);
    mj_error_free(local_err);
    return -1;
}

/* ------------------------------------------------------------------ status, life cycle */

mj_cgroup_t *mj_sandbox_cgroup(mj_sandbox_t *sb)
{
    if (!sb->cg_looked) {
        sb->cg_looked = true;
        if (mj_cgroup_open(NULL, sb->id, &sb->cg) < 0)
            sb->cg = NULL;
    }
    return sb->cg;
}

/* Frozen by the cgroup freezer: the supervisor cannot answer, so nothing may ask it anything. */
static bool cgroup_frozen(mj_sandbox_t *sb)
{
    mj_cgroup_t *cg = mj_sandbox_cgroup(sb);
    return cg && mj_cgroup_can_freeze(cg) && mj_cgroup_frozen(cg) == 1;
}

mj_status_t mj_sandbox_status(mj_sandbox_t *sb)
{
    if (sb->status == MJ_STATUS_DESTROYED || sb->status == MJ_STATUS_FAILED)
        return sb->status;
    if (cgroup_frozen(sb))
        return sb->status = MJ_STATUS_PAUSED;
    mj_rep_t rep;
    mj_error_t *e = NULL;
    if (request(sb, MJ_REQ_STATUS, 0, NULL, 0, NULL, 0, 10, &rep, &e) < 0) {
        mj_error_free(e);
        return sb->status; /* gone_error set FAILED when the supervisor is gone */
    }
    if (rep.type == MJ_REP_OK) {
        if (rep.value & MJ_SUP_SHUTTING_DOWN)
            sb->status = MJ_STATUS_STOPPING;
        else if (rep.value & MJ_SUP_STOPPED)
            sb->status = MJ_STATUS_STOPPED;
        else if (rep.value & MJ_SUP_PAUSED)
            sb->status = MJ_STATUS_PAUSED;
        else
            sb->status = MJ_STATUS_RUNNING;
    }
    return sb->status;
}

static int simple_request(mj_sandbox_t *sb, uint32_t type, int32_t arg, double timeout, const char *what,
                          mj_error_t **err)
{
    if (check_usable(sb, what, err) < 0)
        return -1;
    (void)mj_sandbox_status(sb);
    mj_rep_t rep;
    if (request(sb, type, arg, NULL, 0, NULL, 0, timeout, &rep, err) < 0)
        return -1;
    if (rep.type != MJ_REP_OK) {
        *err = state_error(sb, rep.err, what);
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
    return simple_request(sb, MJ_REQ_SIGNAL_ALL, sig, 10, "signal", err);
}

int mj_sandbox_pause(mj_sandbox_t *sb, mj_error_t **err)
{
    mj_cgroup_t *cg = mj_sandbox_cgroup(sb);
    if (!cg || !mj_cgroup_can_freeze(cg))
        return simple_request(sb, MJ_REQ_PAUSE, 0, 10, "pause", err); /* SIGSTOP fallback */
    if (check_usable(sb, "pause", err) < 0)
        return -1;
    if (mj_cgroup_frozen(cg) == 1 || mj_sandbox_status(sb) == MJ_STATUS_PAUSED) {
        sb->status = MJ_STATUS_PAUSED;
        *err = state_error(sb, EALREADY, "pause");
        return -1;
    }
    if (sb->status == MJ_STATUS_STOPPED) {
        *err = state_error(sb, ESHUTDOWN, "pause");
        return -1;
    }
    if (mj_cgroup_freeze(cg, true, err) < 0)
        return -1;
    sb->status = MJ_STATUS_PAUSED;
    return 0;
}

int mj_sandbox_resume(mj_sandbox_t *sb, mj_error_t **err)
{
    mj_cgroup_t *cg = mj_sandbox_cgroup(sb);
    if (!cg || !mj_cgroup_can_freeze(cg))
        return simple_request(sb, MJ_REQ_RESUME, 0, 10, "resume", err);
    if (check_usable(sb, "resume", err) < 0)
        return -1;
    if (mj_cgroup_frozen(cg) != 1) {
        sb->status = MJ_STATUS_RUNNING;
        *err = state_error(sb, EALREADY, "resume");
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
    mj_cgroup_t *cg = mj_sandbox_cgroup(sb);
    if (cg && mj_cgroup_can_freeze(cg) && mj_cgroup_frozen(cg) == 1 && mj_cgroup_freeze(cg, false, err) < 0)
        return -1;
    sb->status = MJ_STATUS_STOPPING;
    return simple_request(sb, MJ_REQ_STOP, (int32_t)(grace * 1000), grace + 15, "stop", err);
}

int mj_sandbox_destroy(mj_sandbox_t *sb, mj_error_t **err)
{
    if (sb->status == MJ_STATUS_DESTROYED)
        return 0;
    mj_cgroup_t *cg = mj_sandbox_cgroup(sb);
    if (cg && mj_cgroup_can_freeze(cg) && mj_cgroup_frozen(cg) == 1) {
        mj_error_t *ignored = NULL;
        if (mj_cgroup_freeze(cg, false, &ignored) < 0)
            mj_error_free(ignored);
    }
    if (sb->ctl >= 0) {
        mj_rep_t rep;
        mj_error_t *ignored = NULL;
        int32_t linger = (int32_t)(sb->cleanup_delay * 1000);
        if (request(sb, MJ_REQ_SHUTDOWN, linger, NULL, 0, NULL, 0, 15, &rep, &ignored) < 0)
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
    return save_env(sb, err);
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
    return save_env(sb, err);
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
    return save_env(sb, err);
}

void mj_sandbox_clear_env(mj_sandbox_t *sb)
{
    mj_strv_free(&sb->env);
    mj_error_t *ignored = NULL;
    if (save_env(sb, &ignored) < 0)
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
    snprintf(out->id, sizeof(out->id), "%s", sb->id);
    snprintf(out->name, sizeof(out->name), "%s", sb->name ? sb->name : sb->id);
    out->status = mj_sandbox_status(sb);
    out->created_at = sb->created_at;
    out->started_at = sb->started_at;
    snprintf(out->hostname, sizeof(out->hostname), "%s", sb->hostname);
    out->supervisor_pid = sb->pid;
    out->uid = sb->uid;
    out->gid = sb->gid;
    out->rootless = sb->rootless;
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

/* ------------------------------------------------------------------ exec */

struct mj_process {
    mj_sandbox_t *sb; /* borrowed */
    int chan;
    int stdin_w, stdout_r, stderr_r;
    pid_t pid;
    double t_released;
    bool done;
    mj_pump_t pump; /* only the status part is used */
    char *argv0;
    char *workdir;
};

/* Builds and sends an exec request; on success *chan is the host end of the command's channel. */
static int start_exec(mj_sandbox_t *sb, const mj_command_t *cmd, bool detached, int io[3], int *chan, char **workdir_out,
                      mj_error_t **err)
{
    if (check_usable(sb, "exec", err) < 0)
        return -1;
    if (cmd->argv.n == 0) {
        *err = mj_error_new(MJ_ERR_INVALID_CONFIG, EINVAL, "command: empty command");
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
        .flags = (detached ? MJ_EXEC_DETACHED : 0) | (cmd->read_only ? MJ_EXEC_READ_ONLY : 0) |
                 (cmd->tty ? MJ_EXEC_TTY : 0) | (cmd->no_network ? MJ_EXEC_NO_NETWORK : 0),
        .argc = (uint32_t)cmd->argv.n,
        .envc = (uint32_t)env.n,
    };
    mj_buf_t b = {0};
    mj_buf_append(&b, &er, sizeof(er));
    mj_buf_append(&b, workdir, strlen(workdir) + 1);
    for (size_t i = 0; i < cmd->argv.n; i++)
        mj_buf_append(&b, cmd->argv.v[i], strlen(cmd->argv.v[i]) + 1);
    for (size_t i = 0; i < env.n; i++)
        mj_buf_append(&b, env.v[i], strlen(env.v[i]) + 1);
    mj_strv_free(&env);
    int ret = -1;
    int sp[2] = {-1, -1};
    if (b.len > MJ_PROTO_MAX || cmd->argv.n > MJ_PROTO_MAX_ARGS || er.envc > MJ_PROTO_MAX_ENV) {
        *err = mj_error_new(MJ_ERR_INVALID_CONFIG, E2BIG, "command: arguments and environment exceed %u KiB",
                            MJ_PROTO_MAX / 1024);
        goto out;
    }
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0) {
        *err = mj_error_new(MJ_ERR_COMMAND_EXECUTION_FAILED, errno, "socketpair: %s", strerror(errno));
        goto out;
    }
    int fds[4] = {io[0], io[1], io[2], sp[1]};
    mj_rep_t rep;
    if (request(sb, MJ_REQ_EXEC, 0, b.data, b.len, fds, 4, 30, &rep, err) < 0)
        goto out;
    if (rep.type != MJ_REP_OK) {
        if (rep.err == ESHUTDOWN || rep.err == EBUSY)
            *err = state_error(sb, rep.err, "exec");
        else if (rep.err == ENOTSUP)
            *err = mj_error_new(MJ_ERR_PERMISSION_DENIED, ENOTSUP,
                                "allow_write = false cannot be enforced: this sandbox runs without Landlock");
        else if (rep.err == EINVAL && sb->rootless)
            *err = mj_error_new(MJ_ERR_PERMISSION_DENIED, EINVAL,
                                "user: a rootless sandbox maps only uid %u:%u", (unsigned)sb->uid, (unsigned)sb->gid);
        else
            *err = mj_error_new(MJ_ERR_COMMAND_EXECUTION_FAILED, rep.err, "exec: %s", strerror(rep.err));
        goto out;
    }
    *chan = mj_steal_fd(&sp[0]);
    if (workdir_out)
        *workdir_out = mj_xstrdup(workdir);
    ret = 0;
out:
    mj_close_fd(&sp[0]);
    mj_close_fd(&sp[1]);
    mj_buf_free(&b);
    return ret;
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
    mj_error_t *local_err = NULL;
    mj_error_t **err = errp ? errp : &local_err;
    int p_in[2] = {-1, -1}, p_out[2] = {-1, -1}, p_err[2] = {-1, -1};
    int chan = -1, ret = -1;
    cleanup_free char *workdir = NULL;
    mj_pump_t pump;
    mj_pump_init(&pump);
    if (pipe2(p_in, O_CLOEXEC) < 0 || pipe2(p_out, O_CLOEXEC) < 0 || pipe2(p_err, O_CLOEXEC) < 0) {
        *err = mj_error_new(MJ_ERR_COMMAND_EXECUTION_FAILED, errno, "pipe: %s", strerror(errno));
        goto out;
    }
    int io[3] = {p_in[0], p_out[1], p_err[1]};
    int pty_master = -1, pty_slave = -1;
    struct termios saved_tio;
    bool raw = false;
    if (cmd->tty) {
        if (mj_pty_open(&pty_master, &pty_slave, err) < 0)
            goto out;
        io[0] = io[1] = io[2] = pty_slave;
    }
    double t0 = mj_now_monotonic();
    /* OOM and pids hits are counted by the kernel: compare the counters around the command, but
     * only where a memory or pids limit can produce them (file reads cost on every exec). */
    mj_cgroup_stats_t before;
    bool have_before = mj_sandbox_cgroup(sb) &&
                       (mj_cgroup_dir(sb->cg, "memory") || mj_cgroup_dir(sb->cg, "pids")) &&
                       mj_cgroup_stats(sb->cg, &before) == 0;
    if (start_exec(sb, cmd, false, io, &chan, &workdir, err) < 0)
        goto out;
    mj_close_fd(&p_in[0]);
    mj_close_fd(&p_out[1]);
    mj_close_fd(&p_err[1]);
    if (pty_master >= 0) {
        /* Everything goes through the terminal: its output reads as stdout, input is typed in. */
        mj_close_fd(&pty_slave);
        pump.out_r = pty_master;
        pump.stdin_w = fcntl(pty_master, F_DUPFD_CLOEXEC, 3);
        pty_master = -1;
        raw = mj_tty_raw(cmd->stdin_fd, &saved_tio);
        mj_pty_copy_winsize(cmd->stdin_fd, pump.out_r);
    } else {
        pump.out_r = mj_steal_fd(&p_out[0]);
        pump.err_r = mj_steal_fd(&p_err[0]);
        pump.stdin_w = mj_steal_fd(&p_in[1]);
    }
    pump.status_fd = chan; /* closed by mj_pump_close */
    pump.stop_on_exit = true;
    pump.limit = cmd->output_limit;
    pump.tee_out = cmd->tee_out;
    pump.tee_err = cmd->tee_err;
    pump.forward_signals = cmd->forward_signals;
    pump.deadline = cmd->timeout > 0 ? t0 + cmd->timeout : 0;
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
    if (cmd->has_stdin) {
        pump.stdin_data = cmd->stdin_data.data ? cmd->stdin_data.data : "";
        pump.stdin_len = cmd->stdin_data.len;
    } else {
        pump.relay_r = cmd->stdin_fd;
    }
    int pr = mj_pump_run(&pump, err);
    if (raw)
        mj_tty_restore(cmd->stdin_fd, &saved_tio);
    if (pr < 0)
        goto out;
    if (pump.status_fd < 0 && !pump.got_exited && !pump.got_exec_failed) {
        /* The channel closed without an answer: the shim or the supervisor died. */
        (void)mj_sandbox_status(sb);
        if (sb->status == MJ_STATUS_FAILED || !pump.timed_out) {
            *err = sb->status == MJ_STATUS_FAILED ? gone_error(sb)
                                                   : mj_error_new(MJ_ERR_COMMAND_EXECUTION_FAILED, EPIPE,
                                                                  "the command's supervisor process died");
            goto out;
        }
    }
    mj_result_t *res = NULL;
    if (mj_pump_result(&pump, cmd->argv.v[0], workdir, t0, &res, err) < 0)
        goto out;
    if (sb->cg && have_before) {
        mj_cgroup_stats_t after;
        if (mj_cgroup_stats(sb->cg, &after) == 0)
            mj_result_apply_cgroup(res, &before, &after);
    }
    *out = res;
    ret = 0;
out:
    mj_pump_close(&pump);
    mj_close_fd(&pty_master);
    mj_close_fd(&pty_slave);
    for (int i = 0; i < 2; i++) {
        mj_close_fd(&p_in[i]);
        mj_close_fd(&p_out[i]);
        mj_close_fd(&p_err[i]);
    }
    mj_error_free(local_err);
    return ret;
}

/* Reads the channel until STARTED or EXEC_FAILED. */
static int wait_started(mj_process_t *p, mj_error_t **err)
{
    for (;;) {
        mj_msg_t m;
        ssize_t n;
        do
            n = recv(p->chan, &m, sizeof(m), 0);
        while (n < 0 && errno == EINTR);
        if (n != (ssize_t)sizeof(m)) {
            *err = mj_error_new(MJ_ERR_COMMAND_EXECUTION_FAILED, EPIPE, "the command's supervisor process died");
            return -1;
        }
        if (m.type == MJ_MSG_EXEC_FAILED) {
            *err = mj_exec_error(p->argv0, p->workdir, &m);
            return -1;
        }
        if (m.type == MJ_MSG_STARTED) {
            p->pid = m.a;
            p->pump.started = m;
            p->pump.got_started = true;
            return 0;
        }
    }
}

int mj_sandbox_spawn(mj_sandbox_t *sb, const mj_command_t *cmd, mj_process_t **out, mj_error_t **errp)
{
    mj_error_t *local_err = NULL;
    mj_error_t **err = errp ? errp : &local_err;
    int p_in[2] = {-1, -1}, p_out[2] = {-1, -1}, p_err[2] = {-1, -1};
    mj_process_t *p = mj_xcalloc(1, sizeof(*p));
    p->sb = sb;
    p->chan = p->stdin_w = p->stdout_r = p->stderr_r = -1;
    mj_pump_init(&p->pump);
    int ret = -1;
    if (pipe2(p_in, O_CLOEXEC) < 0 || pipe2(p_out, O_CLOEXEC) < 0 || pipe2(p_err, O_CLOEXEC) < 0) {
        *err = mj_error_new(MJ_ERR_COMMAND_EXECUTION_FAILED, errno, "pipe: %s", strerror(errno));
        goto out;
    }
    int io[3] = {p_in[0], p_out[1], p_err[1]};
    p->t_released = mj_now_monotonic();
    p->argv0 = mj_xstrdup(cmd->argv.n ? cmd->argv.v[0] : "");
    if (start_exec(sb, cmd, false, io, &p->chan, &p->workdir, err) < 0)
        goto out;
    mj_close_fd(&p_in[0]);
    mj_close_fd(&p_out[1]);
    mj_close_fd(&p_err[1]);
    p->stdin_w = mj_steal_fd(&p_in[1]);
    p->stdout_r = mj_steal_fd(&p_out[0]);
    p->stderr_r = mj_steal_fd(&p_err[0]);
    mj_set_nonblock(p->stdout_r);
    mj_set_nonblock(p->stderr_r);
    if (wait_started(p, err) < 0)
        goto out;
    *out = p;
    p = NULL;
    ret = 0;
out:
    for (int i = 0; i < 2; i++) {
        mj_close_fd(&p_in[i]);
        mj_close_fd(&p_out[i]);
        mj_close_fd(&p_err[i]);
    }
    if (p)
        mj_process_free(p);
    mj_error_free(local_err);
    return ret;
}

int mj_sandbox_spawn_detached(mj_sandbox_t *sb, const mj_command_t *cmd, pid_t *pid, mj_error_t **errp)
{
    mj_error_t *local_err = NULL;
    mj_error_t **err = errp ? errp : &local_err;
    int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
    mj_process_t p = {.chan = -1};
    mj_pump_init(&p.pump);
    int ret = -1;
    if (devnull < 0) {
        *err = mj_error_new(MJ_ERR_COMMAND_EXECUTION_FAILED, errno, "/dev/null: %s", strerror(errno));
        goto out;
    }
    int io[3] = {devnull, devnull, devnull};
    p.argv0 = mj_xstrdup(cmd->argv.n ? cmd->argv.v[0] : "");
    if (start_exec(sb, cmd, true, io, &p.chan, &p.workdir, err) < 0 || wait_started(&p, err) < 0)
        goto out;
    if (pid)
        *pid = p.pid;
    ret = 0;
out:
    mj_close_fd(&devnull);
    mj_close_fd(&p.chan);
    free(p.argv0);
    free(p.workdir);
    mj_error_free(local_err);
    return ret;
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

static int process_collect(mj_process_t *p, int timeout_ms, mj_result_t **out, mj_error_t **err)
{
    if (p->done) {
        *err = mj_error_new(MJ_ERR_INVALID_STATE, ESRCH, "the process was already waited for");
        return -1;
    }
    struct pollfd pfd = {.fd = p->chan, .events = POLLIN};
    double deadline = timeout_ms < 0 ? 0 : mj_now_monotonic() + timeout_ms / 1000.0;
    for (;;) {
        int left = -1;
        if (timeout_ms >= 0) {
            double l = deadline - mj_now_monotonic();
            left = l > 0 ? (int)(l * 1000) + 1 : 0;
        }
        int r = poll(&pfd, 1, left);
        if (r < 0 && errno == EINTR)
            continue;
        if (r == 0)
            return 0;
        mj_msg_t m;
        ssize_t n = recv(p->chan, &m, sizeof(m), MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            continue;
        if (n != (ssize_t)sizeof(m)) {
            p->done = true;
            *err = mj_error_new(MJ_ERR_COMMAND_EXECUTION_FAILED, EPIPE, "the command's supervisor process died");
            return -1;
        }
        if (m.type != MJ_MSG_EXITED)
            continue;
        p->pump.exited = m;
        p->pump.got_exited = true;
        p->done = true;
        mj_result_t *res = NULL;
        if (mj_pump_result(&p->pump, p->argv0, p->workdir, p->t_released, &res, err) < 0)
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

/* client.c — the host end of the wire to a persistent sandbox's supervisor: requests and replies
 * on the control connection (with a deadline), the errors for a supervisor that is gone or
 * refuses, the handle's lazily looked-up cgroups and its root fd.  Every reply is checked like
 * any other untrusted input: wrong size, magic or type means the supervisor is gone to us.
 * Also fetches the commands' Landlock ruleset, with which fileops.c confines itself.
 * Owns: sb->ctl, sb->root_fd, sb->cg lookup.  Never: life cycle (sandbox.c), commands
 * (process.c), or reading files inside (fileops.c). */
#define _GNU_SOURCE
#include "cgroup.h"
#include "client.h"
#include "error.h"
#include "proc.h"
#include "proto.h"
#include "util.h"
#include "wire.h"

#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>

const char *mj_client_name(const mj_sandbox_t *sb)
{
    return sb->name ? sb->name : sb->id;
}

/* TIMEOUT for a supervisor that did not answer within seconds: the connection is dropped (a late
 * reply would answer the next request), and the handle is unresponsive from then on. */
static mj_error_t *unresponsive_error(mj_sandbox_t *sb, double seconds)
{
    mj_close_fd(&sb->ctl);
    sb->unresponsive = true;
    return mj_error_new(MJ_ERR_TIMEOUT, ETIMEDOUT, "sandbox %s is not responding: its supervisor did not answer within %g s",
                        mj_client_name(sb), seconds);
}

mj_error_t *mj_client_gone_error(mj_sandbox_t *sb)
{
    /* Gone because someone destroyed it (its name went with it), or because it died. */
    struct stat st;
    sb->status = sb->dir && stat(sb->dir, &st) < 0 && errno == ENOENT ? MJ_STATUS_DESTROYED : MJ_STATUS_FAILED;
    if (sb->status == MJ_STATUS_DESTROYED)
        return mj_error_new(MJ_ERR_INVALID_STATE, EPIPE, "sandbox %s was destroyed", mj_client_name(sb));
    return mj_error_new(MJ_ERR_INVALID_STATE, EPIPE, "sandbox %s has failed: its supervisor is gone",
                        mj_client_name(sb));
}

mj_error_t *mj_client_state_error(mj_sandbox_t *sb, int e, const char *what)
{
    const char *why = e == ESHUTDOWN ? "is stopped"
                      : e == EBUSY   ? "is paused"
                      : e == EALREADY ? (sb->status == MJ_STATUS_PAUSED ? "is already paused" : "is not paused")
                                      : strerror(e);
    return mj_error_new(MJ_ERR_INVALID_STATE, e, "cannot %s: sandbox %s %s", what, mj_client_name(sb), why);
}

int mj_client_check_usable(mj_sandbox_t *sb, const char *what, mj_error_t **err)
{
    if (sb->unresponsive) {
        *err = mj_error_new(MJ_ERR_TIMEOUT, ETIMEDOUT, "cannot %s: sandbox %s is not responding", what,
                            mj_client_name(sb));
        return -1;
    }
    if (sb->status == MJ_STATUS_DESTROYED || sb->status == MJ_STATUS_FAILED || sb->ctl < 0) {
        const char *why = sb->status == MJ_STATUS_DESTROYED ? "was destroyed" : "has failed";
        *err = mj_error_new(MJ_ERR_INVALID_STATE, 0, "cannot %s: sandbox %s %s", what, mj_client_name(sb), why);
        return -1;
    }
    if (strcmp(what, "resume") != 0 && strcmp(what, "pause") != 0 && mj_client_frozen(sb)) {
        sb->status = MJ_STATUS_PAUSED;
        *err = mj_client_state_error(sb, EBUSY, what);
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------ requests and replies */

int mj_client_send(mj_sandbox_t *sb, uint32_t type, int32_t arg, const void *payload, size_t len, const int *fds,
                   int nfds, mj_error_t **err)
{
    if (sb->ctl < 0) {
        *err = sb->unresponsive ? mj_error_new(MJ_ERR_TIMEOUT, ETIMEDOUT, "sandbox %s is not responding",
                                               mj_client_name(sb))
                                : mj_client_gone_error(sb);
        return -1;
    }
    mj_req_t req = {.magic = MJ_PROTO_MAGIC, .type = type, .len = (uint32_t)len, .arg = arg};
    struct iovec iov[2] = {{.iov_base = &req, .iov_len = sizeof(req)}, {.iov_base = (void *)payload, .iov_len = len}};
    if (mj_wire_send(sb->ctl, iov, len ? 2 : 1, fds, nfds, MSG_NOSIGNAL) >= 0)
        return 0;
    if (errno == EMSGSIZE) {
        *err = mj_error_new(MJ_ERR_INVALID_CONFIG, E2BIG, "request too large (arguments and environment over %u KiB)",
                            MJ_PROTO_MAX / 1024);
        return -1;
    }
    mj_close_fd(&sb->ctl);
    *err = mj_client_gone_error(sb);
    return -1;
}

int mj_client_recv(mj_sandbox_t *sb, int timeout_ms, void *buf, size_t size, int *fd, ssize_t *n)
{
    struct pollfd pfd = {.fd = sb->ctl, .events = POLLIN};
    int r;
    do
        r = poll(&pfd, 1, timeout_ms);
    while (r < 0 && errno == EINTR);
    if (fd)
        *fd = -1;
    *n = -1;
    if (r <= 0)
        return r;
    int nfds = 0;
    do
        *n = mj_wire_recv(sb->ctl, buf, size, 0, fd, fd ? 1 : 0, &nfds, NULL);
    while (*n < 0 && errno == EINTR);
    return r;
}

int mj_client_request(mj_sandbox_t *sb, uint32_t type, int32_t arg, const void *payload, size_t len, const int *fds,
                      int nfds, double timeout, mj_rep_t *rep, mj_error_t **err)
{
    if (mj_client_send(sb, type, arg, payload, len, fds, nfds, err) < 0)
        return -1;
    ssize_t n;
    if (mj_client_recv(sb, timeout > 0 ? (int)(timeout * 1000) : -1, rep, sizeof(*rep), NULL, &n) == 0) {
        *err = unresponsive_error(sb, timeout);
        return -1;
    }
    if (!mj_wire_reply_ok(rep, n)) {
        mj_close_fd(&sb->ctl);
        *err = mj_client_gone_error(sb);
        return -1;
    }
    return 0;
}

mj_status_t mj_client_status(mj_sandbox_t *sb)
{
    if (sb->status == MJ_STATUS_DESTROYED || sb->status == MJ_STATUS_FAILED || sb->unresponsive)
        return sb->status;
    if (mj_client_frozen(sb))
        return sb->status = MJ_STATUS_PAUSED;
    mj_rep_t rep;
    mj_error_t *e = NULL;
    if (mj_client_request(sb, MJ_REQ_STATUS, 0, NULL, 0, NULL, 0, MJ_CLIENT_QUICK, &rep, &e) < 0) {
        mj_error_free(e);
        return sb->status; /* the gone error set FAILED when the supervisor is gone */
    }
    if (rep.type == MJ_REP_OK) {
        sb->expired = (rep.value & MJ_SUP_EXPIRED) != 0;
        if (rep.value & (MJ_SUP_SHUTTING_DOWN | MJ_SUP_STOPPING))
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

/* ------------------------------------------------------------------ cgroups, root */

mj_cgroup_t *mj_client_cgroup(mj_sandbox_t *sb)
{
    if (!sb->cg_looked) {
        sb->cg_looked = true;
        if (mj_cgroup_open(NULL, sb->id, &sb->cg) < 0)
            sb->cg = NULL;
    }
    return sb->cg;
}

bool mj_client_frozen(mj_sandbox_t *sb)
{
    mj_cgroup_t *cg = mj_client_cgroup(sb);
    return cg && mj_cgroup_can_freeze(cg) && mj_cgroup_frozen(cg) == 1;
}

/* Sends a request (type, arg) whose reply may carry one fd: 0 with the fd (-1 when none came) and
 * the reply's value, or -1 with *err ("sandbox NAME: cannot <what>" when the supervisor refuses). */
static int request_fd(mj_sandbox_t *sb, uint32_t type, int64_t arg, const char *what, int *out, int32_t *value,
                      mj_error_t **err)
{
    *out = -1;
    if (mj_client_send(sb, type, arg, NULL, 0, NULL, 0, err) < 0)
        return -1;
    mj_rep_t rep;
    ssize_t n;
    cleanup_close int fd = -1;
    int r = mj_client_recv(sb, (int)(MJ_CLIENT_QUICK * 1000), &rep, sizeof(rep), &fd, &n);
    if (n == (ssize_t)sizeof(rep) && rep.magic == MJ_PROTO_MAGIC && rep.type == MJ_REP_OK) {
        *out = mj_steal_fd(&fd);
        *value = rep.value;
        return 0;
    }
    if (r == 0) {
        *err = unresponsive_error(sb, MJ_CLIENT_QUICK);
    } else if (n <= 0) {
        mj_close_fd(&sb->ctl);
        *err = mj_client_gone_error(sb);
    } else {
        *err = mj_error_new(MJ_ERR_INVALID_STATE, rep.type == MJ_REP_ERR ? rep.err : EPROTO, "sandbox %s: cannot %s",
                            mj_client_name(sb), what);
    }
    return -1;
}

/* Asks the supervisor for an O_PATH fd of its "/" (arg 0) or of its container layer (arg 1). */
static int request_dir(mj_sandbox_t *sb, int which, mj_error_t **err)
{
    const char *what = which ? "reach its layer" : "reach its root";
    int fd;
    int32_t value;
    if (request_fd(sb, MJ_REQ_ROOT_FD, which, what, &fd, &value, err) < 0)
        return -1;
    if (fd < 0) {
        *err = mj_error_new(MJ_ERR_INVALID_STATE, EPROTO, "sandbox %s: cannot %s", mj_client_name(sb), what);
        return -1;
    }
    return fd;
}

static int request_root(mj_sandbox_t *sb, mj_error_t **err)
{
    return request_dir(sb, 0, err);
}

int mj_client_layer_fd(mj_sandbox_t *sb, mj_error_t **err)
{
    if (mj_client_check_usable(sb, "read the layer of", err) < 0)
        return -1;
    cleanup_close int fd = request_dir(sb, 1, err);
    struct stat st;
    if (fd >= 0 && (fstat(fd, &st) < 0 || !S_ISDIR(st.st_mode))) {
        *err = mj_error_new(MJ_ERR_INVALID_STATE, ENOTDIR, "sandbox %s: its supervisor sent no layer directory",
                            mj_client_name(sb));
        return -1;
    }
    return mj_steal_fd(&fd);
}

/* Frozen with the supervisor (a group without the sup/work split): it cannot answer.  Host root
 * reaches its root through procfs; a rootless caller cannot (its mm belongs to the initial user
 * namespace). */
static int frozen_root(mj_sandbox_t *sb, mj_error_t **err)
{
    if (geteuid() != 0) {
        *err = mj_error_new(MJ_ERR_INVALID_STATE, EBUSY,
                            "sandbox %s is paused: resume it to reach its files from this process", mj_client_name(sb));
        return -1;
    }
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/root", (int)sb->pid);
    cleanup_close int fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || (sb->starttime && mj_proc_starttime(sb->pid) != sb->starttime)) {
        *err = mj_error_new(MJ_ERR_INVALID_STATE, ESRCH, "sandbox %s: cannot reach its root", mj_client_name(sb));
        return -1;
    }
    return mj_steal_fd(&fd);
}

int mj_client_root_fd(mj_sandbox_t *sb, mj_error_t **err)
{
    if (sb->root_fd >= 0)
        return sb->root_fd;
    if (sb->status == MJ_STATUS_DESTROYED || sb->status == MJ_STATUS_FAILED || sb->ctl < 0) {
        *err = mj_error_new(MJ_ERR_INVALID_STATE, ESRCH, "sandbox %s %s: its files are gone", mj_client_name(sb),
                            sb->status == MJ_STATUS_DESTROYED ? "was destroyed" : "has failed");
        return -1;
    }
    mj_cgroup_t *cg = mj_client_cgroup(sb);
    bool frozen_with_us = cg && mj_cgroup_freezes_supervisor(cg) && mj_cgroup_frozen(cg) == 1;
    cleanup_close int fd = frozen_with_us ? frozen_root(sb, err) : request_root(sb, err);
    if (fd < 0)
        return -1;
    /* A directory, and not one of ours: a sane root for RESOLVE_IN_ROOT. */
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISDIR(st.st_mode)) {
        *err = mj_error_new(MJ_ERR_INVALID_STATE, ENOTDIR, "sandbox %s: its supervisor sent no root directory",
                            mj_client_name(sb));
        return -1;
    }
    sb->root_fd = mj_steal_fd(&fd);
    return sb->root_fd;
}

int mj_client_ruleset(mj_sandbox_t *sb, int *ruleset, mj_error_t **err)
{
    *ruleset = -1;
    mj_cgroup_t *cg = mj_client_cgroup(sb);
    if (cg && mj_cgroup_freezes_supervisor(cg) && mj_cgroup_frozen(cg) == 1) {
        *err = mj_error_new(MJ_ERR_INVALID_STATE, EBUSY,
                            "sandbox %s is paused together with its supervisor, which cannot hand out its Landlock "
                            "rules: resume it to reach its files",
                            mj_client_name(sb));
        return -1;
    }
    cleanup_close int fd = -1;
    int32_t value = 0;
    if (request_fd(sb, MJ_REQ_RULESET, 0, "get its Landlock rules", &fd, &value, err) < 0)
        return -1;
    if ((value != 0) != (fd >= 0)) {
        *err = mj_error_new(MJ_ERR_INVALID_STATE, EPROTO, "sandbox %s: its supervisor sent no Landlock rules",
                            mj_client_name(sb));
        return -1;
    }
    *ruleset = mj_steal_fd(&fd);
    return 0;
}

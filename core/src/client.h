/* client.h — the host end of the wire to a persistent sandbox's supervisor (client.c). */
#ifndef MJ_CLIENT_H
#define MJ_CLIENT_H

#include <moonjail/moonjail.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "cgroup.h"
#include "handle.h"
#include "proto.h"

/* Seconds a supervisor has to answer a request it serves at once (status, root fd, denials,
 * detach, shutdown): it never waits on the workload, so only a stuck or overloaded host is
 * slower.  A request that times out drops the connection: the handle is unresponsive. */
#define MJ_CLIENT_QUICK 5.0

/* The handle's name in messages: its name, or its id when anonymous. */
const char *mj_client_name(const mj_sandbox_t *sb);

/* INVALID_STATE "was destroyed" or "has failed: its supervisor is gone" (EPIPE), setting
 * sb->status to match: the supervisor went away. */
mj_error_t *mj_client_gone_error(mj_sandbox_t *sb);
/* INVALID_STATE "cannot <what>: sandbox <name> is stopped / is paused / …" for the supervisor's
 * refusal e (ESHUTDOWN, EBUSY, EALREADY, or any errno). */
mj_error_t *mj_client_state_error(mj_sandbox_t *sb, int e, const char *what);
/* Refuses (INVALID_STATE) to <what> a destroyed or failed sandbox, or a frozen one (but for
 * "pause" and "resume": a frozen supervisor cannot answer); TIMEOUT for an unresponsive one. */
int mj_client_check_usable(mj_sandbox_t *sb, const char *what, mj_error_t **err);

/* Sends one request (payload len bytes, nfds fds); a sandbox whose supervisor is gone fails with
 * the gone error, a request over MJ_PROTO_MAX with INVALID_CONFIG. */
int mj_client_send(mj_sandbox_t *sb, uint32_t type, int32_t arg, const void *payload, size_t len, const int *fds,
                   int nfds, mj_error_t **err);
/* Waits up to timeout_ms (-1: no limit) for the supervisor's next packet on the control
 * connection and receives it into buf, with at most one fd into *fd (-1 when none came; fd NULL
 * refuses them).  0 when nothing came in time; otherwise 1 (or -1 when poll failed) with recv's
 * result in *n: bytes, 0 at EOF, -1 with errno. */
int mj_client_recv(mj_sandbox_t *sb, int timeout_ms, void *buf, size_t size, int *fd, ssize_t *n);
/* Sends a request and waits up to timeout seconds (≤ 0: no limit) for its reply: TIMEOUT (the
 * connection dropped, the handle unresponsive) when none came, the gone error (and the connection
 * closed) when the supervisor is gone or the reply is malformed.  rep->type says whether the
 * supervisor refused (MJ_REP_ERR, rep->err). */
int mj_client_request(mj_sandbox_t *sb, uint32_t type, int32_t arg, const void *payload, size_t len, const int *fds,
                      int nfds, double timeout, mj_rep_t *rep, mj_error_t **err);
/* Asks the supervisor for its state and sets sb->status (a frozen cgroup reads as paused); a
 * supervisor that is gone leaves it FAILED or DESTROYED. */
mj_status_t mj_client_status(mj_sandbox_t *sb);

/* The sandbox's cgroups (looked up once by id for a handle from mj_sandbox_open), or NULL. */
mj_cgroup_t *mj_client_cgroup(mj_sandbox_t *sb);
/* Frozen by the cgroup freezer: the supervisor cannot answer, so nothing may ask it anything. */
bool mj_client_frozen(mj_sandbox_t *sb);
/* An O_PATH fd of the sandbox's "/" (owned by the handle, cached), from its supervisor or — host
 * root only, while the supervisor is frozen with its commands — through /proc/<pid>/root, checked
 * to belong to the live supervisor. */
int mj_client_root_fd(mj_sandbox_t *sb, mj_error_t **err);
/* An O_PATH fd of the sandbox's container layer (layer.c), new for the caller: INVALID_STATE with
 * errno ENOENT when the sandbox has none (a read-only rootfs root). */
int mj_client_layer_fd(mj_sandbox_t *sb, mj_error_t **err);
/* The Landlock ruleset the sandbox's commands run under (a new fd the caller closes), from its
 * supervisor; -1 when the sandbox has none.  INVALID_STATE while the supervisor is frozen. */
int mj_client_ruleset(mj_sandbox_t *sb, int *ruleset, mj_error_t **err);

#endif

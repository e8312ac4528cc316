/* state.h — named sandboxes on the host (state.c): the owner-only state directory, one directory
 * per sandbox with its lock, socket and small files, and a handle's save and load. */
#ifndef MJ_STATE_H
#define MJ_STATE_H

#include <moonjail/moonjail.h>
#include <stdbool.h>
#include <stddef.h>

#include "handle.h"

/* The state directory: $MOONJAIL_STATE_DIR, /run/moonjail as root, else $XDG_RUNTIME_DIR/moonjail
 * (or a fallback); not created here. */
const char *mj_state_dir(void);
/* 1-64 characters of [A-Za-z0-9_.-] starting with a letter or digit. */
bool mj_name_valid(const char *name);
/* <state dir>/sandboxes (created owner-only when create), or NULL with the error. */
char *mj_state_sandboxes_dir(bool create, mj_error_t **err);
/* Writes dir/name atomically (temporary file, fsync, rename). */
int mj_state_write_file(const char *dir, const char *name, const void *data, size_t len, mj_error_t **err);
/* Reads a small state file (≤ 1 MiB, NUL-terminated); NULL with errno when missing. */
char *mj_state_read_file(const char *dir, const char *name, size_t *len);
/* 1 when the supervisor holding <dir>/lock is alive, 0 when gone, -1 when there is no lock. */
int mj_state_alive(const char *dir);
/* Removes a sandbox's state directory and everything in it. */
int mj_state_remove(const char *dir);
/* Where a named sandbox's directory is while it is made (<sandboxes>/.new-<id>) and while it is
 * removed (.rm-<id>): invisible to list and open, so a crash leaves nothing that looks like a
 * sandbox, only what mj_sandbox_prune removes. */
#define MJ_STATE_NEW ".new-"
#define MJ_STATE_REMOVING ".rm-"
/* Creates <sandboxes>/.new-<id> (0700) for a new sandbox named name, refusing (INVALID_STATE,
 * EEXIST) a name a live sandbox holds; its path, or NULL with the error.  mj_state_publish gives
 * it the name once the sandbox is up. */
char *mj_state_create(const char *name, const char *id, mj_error_t **err);
/* Renames dir to <sandboxes>/<name> unless that exists (EEXIST: a live one, or a dead one the
 * caller removes before trying again); the new path, or NULL with errno. */
char *mj_state_publish(const char *dir, const char *name);
/* Renames a named sandbox's dir to <sandboxes>/.rm-<id> (the first step of its removal); the new
 * path, or NULL with errno. */
char *mj_state_unpublish(const char *dir, const char *id);
/* The sandbox id being created here: a lock on <claims dir>/<id>, held from before its cgroups
 * exist until its first process is in them (mj_cgroup_prune leaves such an empty group alone).
 * The fd, or -1 when the directory cannot be written (best effort). */
int mj_state_claim_id(const char *id);
void mj_state_release_id(const char *id, int fd);
/* <the default state dir>/creating, not moved by MOONJAIL_STATE_DIR: cgroups are shared by every
 * state directory of a user, so their claims are too. */
char *mj_state_claims_dir(void);
/* Whether a creation holds id's claim; a claim left by a dead creator is removed (false). */
bool mj_state_id_claimed(const char *id);
/* Takes <dir>/lock (a new sandbox's supervisor holds it for life: its liveness) and binds the
 * listening socket <dir>/sock (the supervisor listens).  Both fds out, O_CLOEXEC. */
int mj_state_claim(const char *dir, int *lock_fd, int *listen_fd, mj_error_t **err);
struct sockaddr_un;
/* The address of <dir>/sock (through /proc/self/fd/<dirfd> when the path is too long); -1 with
 * ENAMETOOLONG when dirfd < 0 and it is. */
int mj_state_sock_address(const char *dir, int dirfd, struct sockaddr_un *sa);
/* A named sandbox's handle in its state directory (nothing for an anonymous one): "state" (ids,
 * times, limits, tmpfs mounts), and its defaults "env" and "workdir"; load reads them all (and
 * "meta") back, SANDBOX_NOT_FOUND without a "state". */
int mj_state_save(const mj_sandbox_t *sb, mj_error_t **err);
int mj_state_save_defaults(const mj_sandbox_t *sb, mj_error_t **err);
int mj_state_load(mj_sandbox_t *sb, mj_error_t **err);

#endif

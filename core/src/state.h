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
/* Creates <sandboxes>/<name> (0700) for a new sandbox, taking over the name of a dead one (failed,
 * or its delayed shutdown over); its path, or NULL with the error. */
char *mj_state_create(const char *name, mj_error_t **err);
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

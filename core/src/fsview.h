/* fsview.h — one host operation's view of a sandbox's files, as its commands see them
 * (fsview.c); fileops.c and fscopy.c stand on it. */
#ifndef MJ_FSVIEW_H
#define MJ_FSVIEW_H

#include <limits.h>
#include <moonjail/moonjail.h>
#include <sys/types.h>

#include "confine.h"

typedef struct {
    mj_sandbox_t *sb;
    int root;               /* the sandbox's "/" (borrowed from the handle) */
    mj_confined_t *worker;  /* the handle's: acts as the sandbox's user, under its commands' Landlock rules */
} mj_fsview_t;

/* Checks path (absolute, shorter than PATH_MAX), then opens the view: the sandbox's root and
 * the handle's worker (started on the first view, with the commands' Landlock ruleset and the
 * user's ids).  -1 with *err. */
int mj_fsview_open(mj_fsview_t *v, mj_sandbox_t *sb, const char *path, mj_error_t **err);
/* Runs fn(arg) as the sandbox's user: fn's result, with errno as fn left it.  Whatever resolves
 * a path or creates, opens or changes a file inside runs so; reading and writing the fds it
 * opened may happen on any thread. */
int mj_fsview_run(mj_fsview_t *v, int (*fn)(void *arg), void *arg);
/* Stops the handle's worker (sandbox.c, when it frees the handle). */
void mj_fsview_release(mj_sandbox_t *sb);

/* openat2 from root with RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS (leading slashes dropped; "/"
 * is root itself), O_CLOEXEC added.  -1 with errno. */
int mj_fsview_resolve(int root, const char *path, int flags, mode_t mode);
/* Resolves path's parent (an O_PATH directory fd) and copies its last component into name
 * ("", ".", ".." and the root are EINVAL).  -1 with errno. */
int mj_fsview_open_parent(int root, const char *path, char name[NAME_MAX + 1]);
/* Creates the directories missing above path (not path itself), as `mkdir -p` of its dirname:
 * each new one 0755 whatever the umask, owned by whoever runs it — call it inside a job
 * (mj_fsview_run), so they belong to the sandbox's user.  Every prefix is resolved inside root;
 * an existing component that is not a directory fails with ENOTDIR.  -1 with errno. */
int mj_fsview_make_parents(int root, const char *path);
/* "<op> <path>: …" as PERMISSION_DENIED (EACCES, EPERM) or FILE_OPERATION_FAILED; ELOOP reads
 * "is a symbolic link (not followed)", ENXIO "is not a regular file". */
mj_error_t *mj_fsview_error(int e, const char *op, const char *path);

#endif

/* tree.h — host file trees: the never-follow primitives the tree facilities stand on (fetch.c,
 * unpack.c, overlay.c, git.c, digest.c), the walk and the removal.  Owned by tree.c.
 * Nothing here follows a symlink inside a tree it walks or removes: every step below the path
 * given is an *at() call on a directory fd with O_NOFOLLOW, and the last component of a path
 * given is never followed. */
#ifndef MJ_TREE_H
#define MJ_TREE_H

#include <moonjail/moonjail.h>
#include <sys/stat.h>

#include "util.h"

/* How deep the walk, the removal and the overlay diff go before they give up (ELOOP). */
#define MJ_TREE_MAX_DEPTH 256

/* Hands e to the caller through err (or frees it when err is NULL); returns -1. */
static inline int mj_fail(mj_error_t **err, mj_error_t *e)
{
    if (err)
        *err = e;
    else
        mj_error_free(e);
    return -1;
}

/* "<op> <path>: <strerror(e)>", errno e kept; ELOOP reads "is a symbolic link (not followed)".
 * PERMISSION_DENIED for EACCES and EPERM, else FILE_OPERATION_FAILED. */
mj_error_t *mj_file_error(int e, const char *op, const char *path);

/* A copy of path without trailing slashes ("dir/" would follow a symlink named dir). */
char *mj_tree_strip_slashes(const char *path);
/* "rel/name", or "name" when rel is "". */
char *mj_tree_join(const char *rel, const char *name);
/* Opens a directory that the caller names on the host: intermediate components are the caller's
 * business, the last one is never followed.  -1 with errno. */
int mj_tree_open_dir(const char *path);
/* Opens the subdirectory name of dfd, checked to be the one fstatat saw as st (ESTALE when it
 * was replaced meanwhile; st NULL: no check).  -1 with errno. */
int mj_tree_open_subdir(int dfd, const char *name, const struct stat *st);
/* The entries of directory fd dfd (not consumed) into out, sorted, without "." and "..".
 * -1 with errno (out emptied). */
int mj_tree_list(int dfd, mj_strv_t *out);
/* The target of symlink name in dfd, malloc'ed; NULL with errno. */
char *mj_tree_readlink_at(int dfd, const char *name);

#define cleanup_strv __attribute__((cleanup(mj_strv_free)))

typedef struct {
    const char *path;        /* relative to the root, no leading "/"; the root itself is not reported */
    mode_t mode;             /* type and permission bits, as st_mode */
    uint64_t size;
    dev_t dev;
    ino_t ino;
    nlink_t nlink;
    uid_t uid;
    gid_t gid;
    double mtime;            /* epoch seconds */
    const char *link_target; /* symlinks only, else NULL */
} mj_tree_entry_t;

/* Returns 0 to go on, 1 not to descend into this directory, -1 to stop.  e and its strings are
 * borrowed for the call. */
typedef int (*mj_tree_walk_fn)(const mj_tree_entry_t *e, void *ud);

/* Calls fn for everything under root, a directory (not a symlink to one): names sorted in each
 * directory, parents before children, symlinks reported and never followed, at most 256 levels.
 * When fn returns -1 the walk returns -1 with the error fn stored in *err (it may reach err
 * through ud; *err must be NULL on entry), else an INVALID_STATE "walk stopped". */
int mj_tree_walk(const char *root, mj_tree_walk_fn fn, void *ud, mj_error_t **err);

/* rm -rf path that never follows a symlink (a symlink is removed itself) and never crosses into
 * another mount (another device or a mount root below path, or path itself a mount point, is an
 * error and nothing there is touched).  Directories a sandbox left without u+rwx are made so
 * first.  A path that does not exist is success. */
int mj_tree_remove(const char *path, mj_error_t **err);

/* Best effort: removes what is inside the open directory dfd (not dirfd itself) the way
 * mj_tree_remove would, for undoing a half-written output directory; shown names it. */
void mj_tree_clear_at(int dfd, const char *shown);

#endif

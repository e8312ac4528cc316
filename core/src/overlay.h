/* overlay.h — what an overlayfs upper directory changes in its lower (overlay.c): the diff, and
 * its export as a tar or a directory with OCI whiteouts.  Never follows a symlink in either tree. */
#ifndef MJ_OVERLAY_H
#define MJ_OVERLAY_H

#include <moonjail/moonjail.h>

typedef enum { MJ_DIFF_ADDED = 1, MJ_DIFF_MODIFIED, MJ_DIFF_DELETED } mj_diff_kind_t;

/* path is relative to the mount ("dir/file"); mode the st_mode of the upper entry (ADDED,
 * MODIFIED) or of the lower one that was deleted.  Non-zero stops the diff (as mj_tree_walk). */
typedef int (*mj_diff_fn)(const char *path, mj_diff_kind_t kind, mode_t mode, void *ud);

/* What an overlayfs upper directory changes in its lower, in walk order (sorted, parents first).
 * Whiteouts (a 0:0 character device, or an empty file with the xattr user.overlay.whiteout or
 * trusted.overlay.whiteout) are DELETED; in an opaque directory (overlay.opaque = "y") each lower
 * entry the upper does not have is DELETED (the topmost only).  An upper entry the lower lacks is
 * ADDED (a directory, then its contents); one it has is MODIFIED only when the type, permission
 * bits, symlink target or file bytes differ (copied up but unchanged is not reported).
 * Directories in both are walked, and reported MODIFIED only for changed permission bits. */
int mj_overlay_diff(const char *upper, const char *lower, mj_diff_fn fn, void *ud, mj_error_t **err);
/* The same against n lowers, topmost first, as overlayfs merges them (at most 64): an entry is the
 * topmost lower's that has it; a whiteout or a non-directory hides it in the lowers below, and an
 * opaque directory what is under it. */
int mj_overlay_diff_lowers(const char *upper, const char *const *lowers, size_t n, mj_diff_fn fn, void *ud,
                           mj_error_t **err);

/* Writes that diff out.  dest ending in ".tar", ".tar.gz" or ".tgz": a new tar (pax, gzip for the
 * last two) of the added and modified files, directories and symlinks (owner 0:0, permission
 * bits, mtimes) with an OCI whiteout "dir/.wh.name" for each deletion.  Otherwise dest is a
 * directory that must not exist or be empty, filled the same way (empty ".wh.name" files for
 * deletions).  Fifos, sockets and devices in upper are left out.  Nothing is left behind on
 * failure. */
int mj_overlay_export(const char *upper, const char *lower, const char *dest, mj_error_t **err);

#endif

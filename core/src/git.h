/* git.h — a tree from a git ref (git.c), through the git command line. */
#ifndef MJ_GIT_H
#define MJ_GIT_H

#include <moonjail/moonjail.h>

/* `git archive --format=tar <ref>` of repo, taken from a bare mirror (`clone --mirror --shared`,
 * so none of repo's own config and filters apply) and unpacked into dest_dir (as
 * mj_unpack_archive with default limits).  A ref that is empty, starts with '-', holds whitespace
 * or control characters or is 256 bytes or longer is INVALID_CONFIG; no git in PATH is
 * UNSUPPORTED; git failing is INVALID_CONFIG "repository R: ref 'X': <git's first stderr line>". */
int mj_git_archive(const char *repo, const char *ref, const char *dest_dir, mj_error_t **err);

/* The tree of branch (or tag, or commit) of the remote git repository at url (git://, http://,
 * https://), unpacked into dest_dir.  The repository is kept as a bare mirror in cache_dir (one
 * per URL, fetched again on each use, under a lock) and the tree taken with `git archive` from
 * it.  Nothing the remote supplies runs: a bare mirror checks nothing out (no hooks, no filters),
 * git runs without the system's and the user's config (HOME and GIT_CONFIG_GLOBAL unset, no
 * credential helpers, no prompts), only those three protocols (no ext::, file::, ssh), with
 * core.hooksPath and core.fsmonitor off and objects fsck'ed on the way in.  Errors as
 * mj_git_archive's; a bad URL is INVALID_CONFIG. */
int mj_git_clone_archive(const char *url, const char *branch, const char *cache_dir, const char *dest_dir,
                         mj_error_t **err);

#endif

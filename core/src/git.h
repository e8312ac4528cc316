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

#endif

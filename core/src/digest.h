/* digest.h — SHA-256 of host files with libcrypto, loaded on first use (digest.c). */
#ifndef MJ_DIGEST_H
#define MJ_DIGEST_H

#include <moonjail/moonjail.h>

/* The SHA-256 of a regular file (not followed if a symlink) as 64 lowercase hex digits. */
int mj_file_sha256(const char *path, char hex[65], mj_error_t **err);

#endif

/* digest.c — the SHA-256 of a host file, with libcrypto loaded on first use.
 *
 * Owns: mj_file_sha256.
 * Must never: follow a symlink at the path it is given.
 */
#define _GNU_SOURCE
#include "digest.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>

#include "lazylib.h"
#include "tree.h"
#include "util.h"

static void free_md_ctx(EVP_MD_CTX **ctx)
{
    if (*ctx)
        MJ_LAZY(MJ_LIB_CRYPTO, EVP_MD_CTX_free)(*ctx);
}

int mj_file_sha256(const char *path, char hex[65], mj_error_t **err)
{
    if (mj_lib_open(MJ_LIB_CRYPTO, err) < 0)
        return -1;
    cleanup_close int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return mj_fail(err, mj_file_error(errno, "sha256", path));
    __attribute__((cleanup(free_md_ctx))) EVP_MD_CTX *ctx = MJ_LAZY(MJ_LIB_CRYPTO, EVP_MD_CTX_new)();
    if (!ctx || MJ_LAZY(MJ_LIB_CRYPTO, EVP_DigestInit_ex)(ctx, MJ_LAZY(MJ_LIB_CRYPTO, EVP_sha256)(), NULL) != 1)
        return mj_fail(err, mj_error_new(MJ_ERR_FILE_OPERATION_FAILED, 0, "sha256 %s: libcrypto failed", path));
    unsigned char buf[65536];
    for (;;) {
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return mj_fail(err, mj_file_error(errno, "sha256: reading", path));
        if (n == 0)
            break;
        MJ_LAZY(MJ_LIB_CRYPTO, EVP_DigestUpdate)(ctx, buf, (size_t)n);
    }
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    MJ_LAZY(MJ_LIB_CRYPTO, EVP_DigestFinal_ex)(ctx, md, &len);
    for (unsigned i = 0; i < len && i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    hex[64] = '\0';
    return 0;
}

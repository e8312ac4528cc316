/* hash.c — content digests of OCI blobs: sha256 and sha512 through libcrypto (lazylib.h: loaded
 * on the first hash, so a sandbox that never touches an image never loads it).
 *
 * Owns: the digest grammar we accept (mj_digest_parse) and the streaming hash (mj_hash_*).
 * Must never: accept a digest loosely (upper case, short, trailing bytes) — a digest names a file
 * in the store, so what passes here is also a safe file name.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "error.h"
#include "image/hash.h"
#include "lazylib.h"
#include "util.h"

struct mj_hash {
    mj_hash_algo_t algo;
    EVP_MD_CTX *ctx;
};

static const struct {
    const char *name;
    size_t hex_len;
} algos[] = {
    [MJ_HASH_SHA256] = {"sha256", 64},
    [MJ_HASH_SHA512] = {"sha512", 128},
};

static int fail(mj_error_t **err, mj_error_t *e)
{
    if (err)
        *err = e;
    else
        mj_error_free(e);
    return -1;
}

int mj_digest_parse(const char *digest, mj_hash_algo_t *algo, const char **hex, mj_error_t **err)
{
    if (!digest)
        return fail(err, mj_error_new(MJ_ERR_IMAGE, EINVAL, "missing digest"));
    for (size_t a = 0; a < MJ_ARRAY_LEN(algos); a++) {
        size_t n = strlen(algos[a].name);
        if (strncmp(digest, algos[a].name, n) != 0 || digest[n] != ':')
            continue;
        const char *h = digest + n + 1;
        size_t len = strspn(h, "0123456789abcdef");
        if (len != algos[a].hex_len || h[len] != '\0')
            return fail(err, mj_error_new(MJ_ERR_IMAGE, EINVAL, "malformed %s digest '%.80s'", algos[a].name, digest));
        if (algo)
            *algo = (mj_hash_algo_t)a;
        if (hex)
            *hex = h;
        return 0;
    }
    return fail(err, mj_error_new(MJ_ERR_IMAGE, EINVAL, "unsupported digest '%.80s' (sha256 and sha512 are)", digest));
}

bool mj_digest_valid(const char *digest)
{
    return mj_digest_parse(digest, NULL, NULL, NULL) == 0;
}

static const EVP_MD *md_of(mj_hash_algo_t algo)
{
    return algo == MJ_HASH_SHA512 ? MJ_LAZY(MJ_LIB_CRYPTO, EVP_sha512)() : MJ_LAZY(MJ_LIB_CRYPTO, EVP_sha256)();
}

int mj_hash_new(mj_hash_algo_t algo, mj_hash_t **out, mj_error_t **err)
{
    if (mj_lib_open(MJ_LIB_CRYPTO, err) < 0)
        return -1;
    EVP_MD_CTX *ctx = MJ_LAZY(MJ_LIB_CRYPTO, EVP_MD_CTX_new)();
    if (!ctx || MJ_LAZY(MJ_LIB_CRYPTO, EVP_DigestInit_ex)(ctx, md_of(algo), NULL) != 1) {
        MJ_LAZY(MJ_LIB_CRYPTO, EVP_MD_CTX_free)(ctx);
        return fail(err, mj_error_new(MJ_ERR_IMAGE, 0, "libcrypto could not start a %s hash", algos[algo].name));
    }
    mj_hash_t *h = mj_xcalloc(1, sizeof(*h));
    h->algo = algo;
    h->ctx = ctx;
    *out = h;
    return 0;
}

void mj_hash_update(mj_hash_t *h, const void *data, size_t len)
{
    if (len)
        MJ_LAZY(MJ_LIB_CRYPTO, EVP_DigestUpdate)(h->ctx, data, len);
}

void mj_hash_reset(mj_hash_t *h)
{
    MJ_LAZY(MJ_LIB_CRYPTO, EVP_DigestInit_ex)(h->ctx, md_of(h->algo), NULL);
}

void mj_hash_final(mj_hash_t *h, char out[MJ_DIGEST_MAX])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    MJ_LAZY(MJ_LIB_CRYPTO, EVP_DigestFinal_ex)(h->ctx, md, &len);
    int pos = snprintf(out, MJ_DIGEST_MAX, "%s:", algos[h->algo].name);
    for (unsigned i = 0; i < len && pos + 2 < MJ_DIGEST_MAX; i++)
        pos += snprintf(out + pos, MJ_DIGEST_MAX - (size_t)pos, "%02x", md[i]);
    mj_hash_reset(h);
}

void mj_hash_free(mj_hash_t *h)
{
    if (!h)
        return;
    MJ_LAZY(MJ_LIB_CRYPTO, EVP_MD_CTX_free)(h->ctx);
    free(h);
}

int mj_hash_bytes(mj_hash_algo_t algo, const void *data, size_t len, char out[MJ_DIGEST_MAX], mj_error_t **err)
{
    mj_hash_t *h;
    if (mj_hash_new(algo, &h, err) < 0)
        return -1;
    mj_hash_update(h, data, len);
    mj_hash_final(h, out);
    mj_hash_free(h);
    return 0;
}

int mj_hash_fd(mj_hash_t *h, int fd, uint64_t len, uint64_t *n, const char *what, mj_error_t **err)
{
    char buf[65536];
    uint64_t done = 0;
    while (done < len) {
        size_t want = len - done < sizeof(buf) ? (size_t)(len - done) : sizeof(buf);
        ssize_t r = read(fd, buf, want);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return fail(err, mj_error_sys(MJ_ERR_FILE_OPERATION_FAILED, errno, "hashing %s", what));
        if (r == 0)
            break;
        mj_hash_update(h, buf, (size_t)r);
        done += (uint64_t)r;
    }
    if (n)
        *n = done;
    return 0;
}

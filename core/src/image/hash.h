/* hash.h — content digests of OCI blobs ("sha256:<hex>", "sha512:<hex>"): strict parsing and
 * streaming hashes with libcrypto, loaded on first use (hash.c). */
#ifndef MJ_IMAGE_HASH_H
#define MJ_IMAGE_HASH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <moonjail/moonjail.h>

typedef enum { MJ_HASH_SHA256, MJ_HASH_SHA512 } mj_hash_algo_t;

/* "sha512:" + 128 hex digits + NUL: room for any digest this file makes or accepts. */
#define MJ_DIGEST_MAX 136

/* Parses a digest the OCI way we accept it: a known algorithm, ':', exactly its number of
 * lowercase hex digits, nothing else.  *hex points into digest.  0, or -1 with an IMAGE error. */
int mj_digest_parse(const char *digest, mj_hash_algo_t *algo, const char **hex, mj_error_t **err);
bool mj_digest_valid(const char *digest);

typedef struct mj_hash mj_hash_t;

/* A running hash; -1 with UNSUPPORTED when libcrypto is missing.  Free with mj_hash_free. */
int mj_hash_new(mj_hash_algo_t algo, mj_hash_t **out, mj_error_t **err);
void mj_hash_update(mj_hash_t *h, const void *data, size_t len);
/* Starts over (same algorithm), as after a 200 answering a range request. */
void mj_hash_reset(mj_hash_t *h);
/* Writes "algo:hex" of everything hashed so far; the hash is reset afterwards. */
void mj_hash_final(mj_hash_t *h, char out[MJ_DIGEST_MAX]);
void mj_hash_free(mj_hash_t *h);

/* The digest of a buffer. */
int mj_hash_bytes(mj_hash_algo_t algo, const void *data, size_t len, char out[MJ_DIGEST_MAX], mj_error_t **err);
/* Feeds h the next len bytes of fd (from its current offset, len = UINT64_MAX: to EOF); the
 * count read goes to *n.  -1 with FILE_OPERATION_FAILED (what names the file in the message). */
int mj_hash_fd(mj_hash_t *h, int fd, uint64_t len, uint64_t *n, const char *what, mj_error_t **err);

#endif

/* store.h — the content-addressed image store (store.c): blobs by digest, the ingest area where
 * downloads grow (resumable), atomic commits, and the store-wide lock a collection takes.
 *
 * Layout under the root (/var/lib/moonjail for root, $XDG_DATA_HOME/moonjail rootless; the
 * caller decides):
 *   blobs/sha256/<hex>, blobs/sha512/<hex>   committed blobs, read-only, content = digest
 *   ingest/<algo>-<hex>.partial               a download in progress or interrupted
 *   locks/<algo>-<hex>.lock                   flock per digest: one writer per blob
 *   images/<id>.record                        image records (records.h)
 *   leases/<id>.lease                         images pinned by running sandboxes (lease.h)
 *   layers/<algo>-<hex>[.rootless]/root       a layer unpacked (layerstore.h), by diff-id:
 *                                             owners kept (root) or all the caller's (rootless)
 *   layers/.unpack-<id>/                      an unpack in progress, renamed when complete
 *   gc.lock                                   shared by every open handle, exclusive for a GC
 */
#ifndef MJ_IMAGE_STORE_H
#define MJ_IMAGE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <moonjail/moonjail.h>

#include "image/hash.h"
#include "util.h"

typedef struct mj_store mj_store_t;

/* Opens the store at root (an absolute path), creating what is missing (root 0711, the rest
 * 0700).  The handle holds a shared lock on gc.lock until mj_store_close, so a collection never
 * runs while a pull is between downloading a blob and recording its image: keep handles short.
 * -1 with FILE_OPERATION_FAILED / PERMISSION_DENIED. */
int mj_store_open(const char *root, mj_store_t **out, mj_error_t **err);
void mj_store_close(mj_store_t *s);
const char *mj_store_root(const mj_store_t *s);

/* The path a blob has (or would have) in the store; NULL with an IMAGE error for a bad digest. */
char *mj_store_blob_path(const mj_store_t *s, const char *digest, mj_error_t **err);
/* 1 when the blob is in the store (its size in *size, may be NULL), 0 when not, -1 on error. */
int mj_store_has_blob(mj_store_t *s, const char *digest, uint64_t *size, mj_error_t **err);
/* Reads a small blob (manifest, config) into out, at most max bytes, and checks its digest
 * (IMAGE when the store's copy is damaged or larger than max). */
int mj_store_read_blob(mj_store_t *s, const char *digest, size_t max, mj_buf_t *out, mj_error_t **err);
/* Stores bytes as the blob digest after checking that they hash to it (IMAGE otherwise). */
int mj_store_put_blob(mj_store_t *s, const char *digest, const void *data, size_t len, mj_error_t **err);

/* Stores size bytes read from fd (from offset 0) as the blob digest, hashed while they are
 * copied: IMAGE when the file is not size bytes or does not hash to digest (nothing is kept). */
int mj_store_put_file(mj_store_t *s, const char *digest, int fd, uint64_t size, mj_error_t **err);

/* A blob being written: holds the digest's lock and names its partial file. */
typedef struct mj_ingest mj_ingest_t;

enum { MJ_INGEST_READY = 0, MJ_INGEST_PRESENT = 1, MJ_INGEST_BUSY = 2 };
/* MJ_INGEST_READY with *out: the lock is ours, the partial file (maybe holding the start of an
 * earlier attempt) is mj_ingest_path(*out).  MJ_INGEST_PRESENT: the blob is committed already
 * (*out NULL).  MJ_INGEST_BUSY (only without wait): another process holds the lock.  With wait,
 * waits for the other holder, then looks again.  -1 on error. */
int mj_store_ingest_begin(mj_store_t *s, const char *digest, bool wait, mj_ingest_t **out, mj_error_t **err);
const char *mj_ingest_path(const mj_ingest_t *ing);
const char *mj_ingest_digest(const mj_ingest_t *ing);
/* Commits the partial file as the blob: its size must be size, and its digest the ingest's —
 * verified_digest is the digest the caller computed over exactly the bytes it wrote (as
 * mj_http_perform does), or NULL to hash the file here.  Then fsync, rename into blobs/, fsync
 * of the directory.  On a mismatch the partial file is removed (IMAGE).  Always frees ing. */
int mj_ingest_commit(mj_ingest_t *ing, uint64_t size, const char *verified_digest, mj_error_t **err);
/* Gives the lock up; the partial file stays for a later resume unless discard. */
void mj_ingest_release(mj_ingest_t *ing, bool discard);

/* How a layer was unpacked: with the image's owners (root), or every file the caller's. */
typedef enum { MJ_LAYER_OWNERS = 0, MJ_LAYER_ROOTLESS = 1 } mj_layer_flavour_t;
#define MJ_LAYER_ROOTLESS_SUFFIX ".rootless"
#define MJ_LAYER_NAME_MAX (MJ_DIGEST_MAX + 16)
/* The directory name under layers/ of diff_id's layer in a flavour; -1 with IMAGE for a bad digest. */
int mj_store_layer_name(const char *diff_id, mj_layer_flavour_t flavour, char out[MJ_LAYER_NAME_MAX], mj_error_t **err);
/* 1 when diff_id is unpacked in flavour (-1: in either), 0 when not, -1 on error. */
int mj_store_has_layer(mj_store_t *s, const char *diff_id, int flavour, mj_error_t **err);
/* The lock of one diff-id's unpack (locks/layer-<algo>-<hex>.lock): 1 taken (*fd), 0 busy
 * (without wait), -1 on error.  mj_store_unlock_layer removes the file and closes fd. */
int mj_store_lock_layer(mj_store_t *s, const char *diff_id, bool wait, int *fd, mj_error_t **err);
void mj_store_unlock_layer(mj_store_t *s, const char *diff_id, int fd);

/* For records.c, lease.c, gc.c and layerstore.c. */
int mj_store_dirfd(const mj_store_t *s, const char *which); /* "images", "leases", "ingest", "locks", "layers" */
int mj_store_blobs_dirfd(const mj_store_t *s, mj_hash_algo_t algo);
/* Turns the handle's shared gc.lock into an exclusive one (without wait: TEMPORARY_FAILURE,
 * retryable, when another handle is open), and back. */
int mj_store_lock_exclusive(mj_store_t *s, bool wait, mj_error_t **err);
void mj_store_lock_shared(mj_store_t *s);
/* Takes the lock file of a digest ("sha256:…") for a collection: 1 taken (fd in *fd), 0 busy. */
int mj_store_try_digest_lock(mj_store_t *s, const char *digest, int *fd, mj_error_t **err);
/* Writes data to dirfd/name atomically: a temporary file, fsync, rename, fsync of dirfd. */
int mj_store_write_atomic(int dirfd, const char *name, const void *data, size_t len, mj_error_t **err);

#endif

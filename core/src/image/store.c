/* store.c — the content-addressed image store: its layout, blobs by digest, the ingest area and
 * the locks that make two processes pulling one image safe (store.h has the layout).
 *
 * Owns: creating the layout, naming blobs, reading small blobs back verified, the per-digest
 * lock and the commit of a partial file (size and digest checked, fsync, rename, fsync), and the
 * store-wide gc.lock.
 * Must never: let a file whose content does not hash to its name into blobs/; follow a symlink
 * below the root (every step is an *at() call with O_NOFOLLOW on a directory fd it opened
 * itself); decide what an image is (records.c, Lua) or delete a blob (gc.c does, under the
 * exclusive lock).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "image/store.h"
#include "util.h"

struct mj_store {
    char *root;
    int root_fd;
    int blobs_fd[2];
    int ingest_fd, locks_fd, images_fd, leases_fd, layers_fd;
    int gc_fd;
};

struct mj_ingest {
    mj_store_t *store;
    char digest[MJ_DIGEST_MAX];
    mj_hash_algo_t algo;
    const char *hex;  /* into digest */
    char name[MJ_DIGEST_MAX + 16];
    char *path;
    int lock_fd;
};

static int fail(mj_error_t **err, mj_error_t *e)
{
    if (err)
        *err = e;
    else
        mj_error_free(e);
    return -1;
}

/* "image store: <op> <what>: <strerror>", PERMISSION_DENIED for EACCES/EPERM. */
static mj_error_t *file_error(int errnum, const char *op, const char *what)
{
    mj_error_code_t code = errnum == EACCES || errnum == EPERM ? MJ_ERR_PERMISSION_DENIED : MJ_ERR_FILE_OPERATION_FAILED;
    return mj_error_sys(code, errnum, "image store: %s %s", op, what);
}

static void close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

/* mkdir -p of an absolute path: parents 0700 (the XDG data directory's mode), the last mode. */
static int make_path(const char *path, mode_t mode, mj_error_t **err)
{
    cleanup_free char *p = mj_xstrdup(path);
    for (char *slash = strchr(p + 1, '/'); slash; slash = strchr(slash + 1, '/')) {
        *slash = '\0';
        if (mkdir(p, 0700) < 0 && errno != EEXIST)
            return fail(err, file_error(errno, "creating", p));
        *slash = '/';
    }
    if (mkdir(p, mode) < 0 && errno != EEXIST)
        return fail(err, file_error(errno, "creating", p));
    return 0;
}

static int open_subdir(int parent, const char *name, const char *root, mj_error_t **err)
{
    if (mkdirat(parent, name, 0700) < 0 && errno != EEXIST) {
        cleanup_free char *shown = mj_xasprintf("%s/%s", root, name);
        return fail(err, file_error(errno, "creating", shown));
    }
    int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        cleanup_free char *shown = mj_xasprintf("%s/%s", root, name);
        return fail(err, file_error(errno, "opening", shown));
    }
    return fd;
}

static int flock_retry(int fd, int op)
{
    int r;
    while ((r = flock(fd, op)) < 0 && errno == EINTR)
        ;
    return r;
}

int mj_store_open(const char *root, mj_store_t **out, mj_error_t **err)
{
    if (!root || root[0] != '/' || strlen(root) > PATH_MAX / 2)
        return fail(err, mj_error_new(MJ_ERR_INVALID_CONFIG, EINVAL, "image store: the root must be an absolute path"));
    if (make_path(root, 0711, err) < 0)
        return -1;
    mj_store_t *s = mj_xcalloc(1, sizeof(*s));
    s->root = mj_xstrdup(root);
    s->blobs_fd[0] = s->blobs_fd[1] = s->ingest_fd = s->locks_fd = s->images_fd = s->leases_fd = s->layers_fd =
        s->gc_fd = -1;
    s->root_fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (s->root_fd < 0) {
        mj_store_close(s);
        return fail(err, file_error(errno, "opening", root));
    }
    cleanup_close int blobs = open_subdir(s->root_fd, "blobs", root, err);
    if (blobs < 0 || (s->blobs_fd[MJ_HASH_SHA256] = open_subdir(blobs, "sha256", root, err)) < 0 ||
        (s->blobs_fd[MJ_HASH_SHA512] = open_subdir(blobs, "sha512", root, err)) < 0 ||
        (s->ingest_fd = open_subdir(s->root_fd, "ingest", root, err)) < 0 ||
        (s->locks_fd = open_subdir(s->root_fd, "locks", root, err)) < 0 ||
        (s->images_fd = open_subdir(s->root_fd, "images", root, err)) < 0 ||
        (s->leases_fd = open_subdir(s->root_fd, "leases", root, err)) < 0 ||
        (s->layers_fd = open_subdir(s->root_fd, "layers", root, err)) < 0) {
        mj_store_close(s);
        return -1;
    }
    s->gc_fd = openat(s->root_fd, "gc.lock", O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (s->gc_fd < 0 || flock_retry(s->gc_fd, LOCK_SH) < 0) {
        int e = errno;
        mj_store_close(s);
        return fail(err, file_error(e, "locking gc.lock in", root));
    }
    *out = s;
    return 0;
}

void mj_store_close(mj_store_t *s)
{
    if (!s)
        return;
    close_fd(&s->gc_fd);
    close_fd(&s->layers_fd);
    close_fd(&s->leases_fd);
    close_fd(&s->images_fd);
    close_fd(&s->locks_fd);
    close_fd(&s->ingest_fd);
    close_fd(&s->blobs_fd[0]);
    close_fd(&s->blobs_fd[1]);
    close_fd(&s->root_fd);
    free(s->root);
    free(s);
}

const char *mj_store_root(const mj_store_t *s)
{
    return s->root;
}

int mj_store_dirfd(const mj_store_t *s, const char *which)
{
    if (strcmp(which, "images") == 0)
        return s->images_fd;
    if (strcmp(which, "leases") == 0)
        return s->leases_fd;
    if (strcmp(which, "ingest") == 0)
        return s->ingest_fd;
    if (strcmp(which, "locks") == 0)
        return s->locks_fd;
    if (strcmp(which, "layers") == 0)
        return s->layers_fd;
    return -1;
}

int mj_store_blobs_dirfd(const mj_store_t *s, mj_hash_algo_t algo)
{
    return s->blobs_fd[algo == MJ_HASH_SHA512];
}

int mj_store_lock_exclusive(mj_store_t *s, bool wait, mj_error_t **err)
{
    if (flock_retry(s->gc_fd, LOCK_EX | (wait ? 0 : LOCK_NB)) == 0)
        return 0;
    if (errno == EWOULDBLOCK) {
        flock_retry(s->gc_fd, LOCK_SH);
        mj_error_t *e = mj_error_new(MJ_ERR_TEMPORARY_FAILURE, EBUSY, "image store %s is in use by another moonjail "
                                     "(a pull, or another collection): try again", s->root);
        mj_error_set_retryable(e, true);
        return fail(err, e);
    }
    return fail(err, file_error(errno, "locking gc.lock in", s->root));
}

void mj_store_lock_shared(mj_store_t *s)
{
    flock_retry(s->gc_fd, LOCK_SH);
}

int mj_store_write_atomic(int dirfd, const char *name, const void *data, size_t len, mj_error_t **err)
{
    char id[33];
    mj_random_id(id);
    cleanup_free char *tmp = mj_xasprintf(".%s.%s.tmp", name, id);
    cleanup_close int fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return fail(err, file_error(errno, "creating", name));
    if (mj_write_all(fd, data, len) < 0 || fsync(fd) < 0) {
        int e = errno;
        unlinkat(dirfd, tmp, 0);
        return fail(err, file_error(e, "writing", name));
    }
    if (renameat(dirfd, tmp, dirfd, name) < 0) {
        int e = errno;
        unlinkat(dirfd, tmp, 0);
        return fail(err, file_error(e, "renaming into", name));
    }
    fsync(dirfd);
    return 0;
}

/* ------------------------------------------------------------------ blobs */

char *mj_store_blob_path(const mj_store_t *s, const char *digest, mj_error_t **err)
{
    mj_hash_algo_t algo;
    const char *hex;
    if (mj_digest_parse(digest, &algo, &hex, err) < 0)
        return NULL;
    return mj_xasprintf("%s/blobs/%s/%s", s->root, algo == MJ_HASH_SHA512 ? "sha512" : "sha256", hex);
}

int mj_store_has_blob(mj_store_t *s, const char *digest, uint64_t *size, mj_error_t **err)
{
    mj_hash_algo_t algo;
    const char *hex;
    if (mj_digest_parse(digest, &algo, &hex, err) < 0)
        return -1;
    struct stat st;
    if (fstatat(mj_store_blobs_dirfd(s, algo), hex, &st, AT_SYMLINK_NOFOLLOW) < 0) {
        if (errno == ENOENT)
            return 0;
        return fail(err, file_error(errno, "looking up blob", digest));
    }
    if (!S_ISREG(st.st_mode))
        return fail(err, mj_error_new(MJ_ERR_IMAGE, EINVAL, "image store: blob %s is not a regular file", digest));
    if (size)
        *size = (uint64_t)st.st_size;
    return 1;
}

int mj_store_read_blob(mj_store_t *s, const char *digest, size_t max, mj_buf_t *out, mj_error_t **err)
{
    mj_hash_algo_t algo;
    const char *hex;
    if (mj_digest_parse(digest, &algo, &hex, err) < 0)
        return -1;
    int dirfd = mj_store_blobs_dirfd(s, algo);
    cleanup_close int fd = openat(dirfd, hex, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT)
        return fail(err, mj_error_new(MJ_ERR_IMAGE, ENOENT, "blob %s is not in the image store", digest));
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0)
        return fail(err, file_error(errno, "reading blob", digest));
    if (!S_ISREG(st.st_mode))
        return fail(err, mj_error_new(MJ_ERR_IMAGE, EINVAL, "image store: blob %s is not a regular file", digest));
    if ((uint64_t)st.st_size > max)
        return fail(err, mj_error_new(MJ_ERR_IMAGE, EFBIG, "blob %s: %lld bytes, more than the %zu allowed here", digest,
                                      (long long)st.st_size, max));
    mj_buf_t buf = {0};
    mj_buf_append(&buf, "", 0);
    char chunk[65536];
    for (;;) {
        ssize_t r = read(fd, chunk, sizeof(chunk));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int e = errno;
            mj_buf_free(&buf);
            return fail(err, file_error(e, "reading blob", digest));
        }
        if (r == 0)
            break;
        if ((size_t)r > max - buf.len) {
            mj_buf_free(&buf);
            return fail(err, mj_error_new(MJ_ERR_IMAGE, EFBIG, "blob %s grew while being read", digest));
        }
        mj_buf_append(&buf, chunk, (size_t)r);
    }
    char got[MJ_DIGEST_MAX];
    if (mj_hash_bytes(algo, buf.data, buf.len, got, err) < 0) {
        mj_buf_free(&buf);
        return -1;
    }
    if (strcmp(got, digest) != 0) {
        mj_buf_free(&buf);
        unlinkat(dirfd, hex, 0); /* damaged: the next pull fetches it again */
        return fail(err, mj_error_new(MJ_ERR_IMAGE, 0, "image store: blob %s is damaged (its content hashes to %s); "
                                      "removed, pull the image again", digest, got));
    }
    mj_buf_free(out);
    *out = buf;
    return 0;
}

int mj_store_put_blob(mj_store_t *s, const char *digest, const void *data, size_t len, mj_error_t **err)
{
    mj_hash_algo_t algo;
    if (mj_digest_parse(digest, &algo, NULL, err) < 0)
        return -1;
    char got[MJ_DIGEST_MAX];
    if (mj_hash_bytes(algo, data, len, got, err) < 0)
        return -1;
    if (strcmp(got, digest) != 0)
        return fail(err, mj_error_new(MJ_ERR_IMAGE, 0, "content does not match its digest: descriptor %s, content %s",
                                      digest, got));
    mj_ingest_t *ing;
    int r = mj_store_ingest_begin(s, digest, true, &ing, err);
    if (r != MJ_INGEST_READY)
        return r < 0 ? -1 : 0;
    cleanup_close int fd = openat(s->ingest_fd, ing->name, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0 || mj_write_all(fd, data, len) < 0) {
        mj_error_t *e = file_error(errno, "writing", ing->path);
        mj_ingest_release(ing, true);
        return fail(err, e);
    }
    return mj_ingest_commit(ing, len, got, err);
}

int mj_store_put_file(mj_store_t *s, const char *digest, int fd, uint64_t size, mj_error_t **err)
{
    mj_hash_algo_t algo;
    if (mj_digest_parse(digest, &algo, NULL, err) < 0)
        return -1;
    mj_ingest_t *ing;
    int r = mj_store_ingest_begin(s, digest, true, &ing, err);
    if (r != MJ_INGEST_READY)
        return r < 0 ? -1 : 0;
    cleanup_close int out = openat(s->ingest_fd, ing->name, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
    mj_hash_t *h = NULL;
    mj_error_t *e = NULL;
    if (out < 0)
        e = file_error(errno, "writing", ing->path);
    else
        mj_hash_new(algo, &h, &e);
    cleanup_free char *buf = mj_xmalloc(1 << 20);
    uint64_t copied = 0;
    while (!e) {
        ssize_t n = pread(fd, buf, 1 << 20, (off_t)copied);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            e = file_error(errno, "reading the file of", digest);
            break;
        }
        if (n == 0)
            break;
        if ((uint64_t)n > size + 1 - copied) /* one byte past size says it is larger */
            n = (ssize_t)(size + 1 - copied);
        mj_hash_update(h, buf, (size_t)n);
        if (mj_write_all(out, buf, (size_t)n) < 0)
            e = file_error(errno, "writing", ing->path);
        copied += (uint64_t)n;
        if (copied > size)
            break;
    }
    char got[MJ_DIGEST_MAX] = "";
    if (h && !e)
        mj_hash_final(h, got);
    mj_hash_free(h);
    if (e) {
        mj_ingest_release(ing, true);
        return fail(err, e);
    }
    return mj_ingest_commit(ing, size, got, err); /* checks the size, then the digest */
}

/* ------------------------------------------------------------------ locks and ingest */

static void lock_name(char *out, size_t size, const char *digest)
{
    snprintf(out, size, "%.*s-%s.lock", (int)strcspn(digest, ":"), digest, strchr(digest, ':') + 1);
}

/* Unlocks a lock taken by lock_named, removing its file first: waiters notice that the file
 * they locked has lost its name and take the new one (lock_named). */
static void unlock_named(mj_store_t *s, const char *name, int fd)
{
    unlinkat(s->locks_fd, name, 0);
    close(fd);
}

static void unlock_digest(mj_store_t *s, const char *digest, int fd)
{
    char name[MJ_DIGEST_MAX + 16];
    lock_name(name, sizeof(name), digest);
    unlock_named(s, name, fd);
}

/* 1 with *out_fd when the lock file locks/name is ours, 0 when busy (without wait); what names
 * it in messages. */
static int lock_named(mj_store_t *s, const char *name, const char *what, bool wait, int *out_fd, mj_error_t **err)
{
    for (;;) {
        cleanup_close int fd = openat(s->locks_fd, name, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0)
            return fail(err, file_error(errno, "lock of", what));
        if (flock_retry(fd, LOCK_EX | (wait ? 0 : LOCK_NB)) < 0) {
            if (errno == EWOULDBLOCK)
                return 0;
            return fail(err, file_error(errno, "lock of", what));
        }
        /* a collection may have removed the file between our open and flock: lock the one
         * that has the name now */
        struct stat held, named;
        if (fstat(fd, &held) == 0 && fstatat(s->locks_fd, name, &named, AT_SYMLINK_NOFOLLOW) == 0 &&
            held.st_dev == named.st_dev && held.st_ino == named.st_ino) {
            *out_fd = mj_steal_fd(&fd);
            return 1;
        }
    }
}

static int lock_digest(mj_store_t *s, const char *digest, bool wait, int *out_fd, mj_error_t **err)
{
    char name[MJ_DIGEST_MAX + 16];
    lock_name(name, sizeof(name), digest);
    return lock_named(s, name, digest, wait, out_fd, err);
}

int mj_store_try_digest_lock(mj_store_t *s, const char *digest, int *fd, mj_error_t **err)
{
    if (mj_digest_parse(digest, NULL, NULL, err) < 0)
        return -1;
    return lock_digest(s, digest, false, fd, err);
}

/* ------------------------------------------------------------------ unpacked layers */

int mj_store_layer_name(const char *diff_id, mj_layer_flavour_t flavour, char out[MJ_LAYER_NAME_MAX], mj_error_t **err)
{
    mj_hash_algo_t algo;
    const char *hex;
    if (mj_digest_parse(diff_id, &algo, &hex, err) < 0)
        return -1;
    snprintf(out, MJ_LAYER_NAME_MAX, "%s-%s%s", algo == MJ_HASH_SHA512 ? "sha512" : "sha256", hex,
             flavour == MJ_LAYER_ROOTLESS ? MJ_LAYER_ROOTLESS_SUFFIX : "");
    return 0;
}

int mj_store_has_layer(mj_store_t *s, const char *diff_id, int flavour, mj_error_t **err)
{
    for (int f = MJ_LAYER_OWNERS; f <= MJ_LAYER_ROOTLESS; f++) {
        if (flavour >= 0 && f != flavour)
            continue;
        char name[MJ_LAYER_NAME_MAX];
        if (mj_store_layer_name(diff_id, (mj_layer_flavour_t)f, name, err) < 0)
            return -1;
        struct stat st;
        if (fstatat(s->layers_fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
            if (S_ISDIR(st.st_mode))
                return 1;
        } else if (errno != ENOENT) {
            return fail(err, file_error(errno, "looking up layer", diff_id));
        }
    }
    return 0;
}

/* "layer-<algo>-<hex>.lock": one lock per diff-id, whatever the flavour. */
static int layer_lock_name(const char *diff_id, char out[MJ_LAYER_NAME_MAX + 16], mj_error_t **err)
{
    char name[MJ_LAYER_NAME_MAX];
    if (mj_store_layer_name(diff_id, MJ_LAYER_OWNERS, name, err) < 0)
        return -1;
    snprintf(out, MJ_LAYER_NAME_MAX + 16, "layer-%s.lock", name);
    return 0;
}

int mj_store_lock_layer(mj_store_t *s, const char *diff_id, bool wait, int *fd, mj_error_t **err)
{
    char name[MJ_LAYER_NAME_MAX + 16];
    if (layer_lock_name(diff_id, name, err) < 0)
        return -1;
    return lock_named(s, name, diff_id, wait, fd, err);
}

void mj_store_unlock_layer(mj_store_t *s, const char *diff_id, int fd)
{
    char name[MJ_LAYER_NAME_MAX + 16];
    if (layer_lock_name(diff_id, name, NULL) < 0) {
        close(fd);
        return;
    }
    unlock_named(s, name, fd);
}

int mj_store_ingest_begin(mj_store_t *s, const char *digest, bool wait, mj_ingest_t **out, mj_error_t **err)
{
    *out = NULL;
    int have = mj_store_has_blob(s, digest, NULL, err);
    if (have != 0)
        return have < 0 ? -1 : MJ_INGEST_PRESENT;
    int lock_fd = -1;
    int got = lock_digest(s, digest, wait, &lock_fd, err);
    if (got <= 0)
        return got < 0 ? -1 : MJ_INGEST_BUSY;
    /* the holder we waited for may have committed it */
    have = mj_store_has_blob(s, digest, NULL, err);
    if (have != 0) {
        unlock_digest(s, digest, lock_fd);
        return have < 0 ? -1 : MJ_INGEST_PRESENT;
    }
    mj_ingest_t *ing = mj_xcalloc(1, sizeof(*ing));
    ing->store = s;
    snprintf(ing->digest, sizeof(ing->digest), "%s", digest);
    mj_digest_parse(ing->digest, &ing->algo, &ing->hex, NULL);
    snprintf(ing->name, sizeof(ing->name), "%.*s-%s.partial", (int)(ing->hex - 1 - ing->digest), ing->digest, ing->hex);
    ing->path = mj_xasprintf("%s/ingest/%s", s->root, ing->name);
    ing->lock_fd = lock_fd;
    *out = ing;
    return MJ_INGEST_READY;
}

const char *mj_ingest_path(const mj_ingest_t *ing)
{
    return ing->path;
}

const char *mj_ingest_digest(const mj_ingest_t *ing)
{
    return ing->digest;
}

void mj_ingest_release(mj_ingest_t *ing, bool discard)
{
    if (!ing)
        return;
    if (discard)
        unlinkat(ing->store->ingest_fd, ing->name, 0);
    if (ing->lock_fd >= 0)
        unlock_digest(ing->store, ing->digest, ing->lock_fd);
    free(ing->path);
    free(ing);
}

int mj_ingest_commit(mj_ingest_t *ing, uint64_t size, const char *verified_digest, mj_error_t **err)
{
    mj_store_t *s = ing->store;
    cleanup_close int fd = openat(s->ingest_fd, ing->name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) {
        mj_error_t *e = file_error(errno, "committing", ing->path);
        mj_ingest_release(ing, false);
        return fail(err, e);
    }
    mj_error_t *e = NULL;
    char got[MJ_DIGEST_MAX] = "";
    if (!S_ISREG(st.st_mode)) {
        e = mj_error_new(MJ_ERR_IMAGE, EINVAL, "image store: %s is not a regular file", ing->path);
    } else if ((uint64_t)st.st_size != size) {
        e = mj_error_new(MJ_ERR_IMAGE, 0, "blob %s: %lld bytes where its descriptor says %llu", ing->digest,
                         (long long)st.st_size, (unsigned long long)size);
    } else if (verified_digest) {
        snprintf(got, sizeof(got), "%s", verified_digest);
    } else {
        mj_hash_t *h = NULL;
        uint64_t n = 0;
        if (mj_hash_new(ing->algo, &h, &e) == 0 && mj_hash_fd(h, fd, UINT64_MAX, &n, ing->path, &e) == 0)
            mj_hash_final(h, got);
        mj_hash_free(h);
    }
    if (!e && strcmp(got, ing->digest) != 0)
        e = mj_error_new(MJ_ERR_IMAGE, 0, "blob content does not match its digest: descriptor %s, content %s", ing->digest,
                         got);
    if (e) {
        mj_ingest_release(ing, mj_error_code(e) == MJ_ERR_IMAGE);
        return fail(err, e);
    }
    if (fchmod(fd, 0444) < 0 || fsync(fd) < 0 ||
        renameat(s->ingest_fd, ing->name, mj_store_blobs_dirfd(s, ing->algo), ing->hex) < 0) {
        e = file_error(errno, "committing", ing->path);
        mj_ingest_release(ing, false);
        return fail(err, e);
    }
    fsync(mj_store_blobs_dirfd(s, ing->algo));
    mj_ingest_release(ing, false);
    return 0;
}

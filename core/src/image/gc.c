/* gc.c — mark and sweep over the image store: what image records and live leases list stays,
 * everything else in blobs/ and layers/ goes, with the leftovers of crashed pulls and unpacks.
 *
 * Owns: the only deletion of committed blobs and unpacked layers, and reference counts.
 * Must never: run without the store's exclusive lock (no pull can be between committing a blob
 * and recording its image); remove anything when a record or a live lease cannot be read (the
 * marks would be incomplete); follow symlinks in the store (every step is an *at() call).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "image/gc.h"
#include "image/lease.h"
#include "image/records.h"
#include "tree.h"
#include "util.h"

static int fail(mj_error_t **err, mj_error_t *e)
{
    if (err)
        *err = e;
    else
        mj_error_free(e);
    return -1;
}

static int str_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int mark_record(const mj_image_record_t *rec, void *ud)
{
    mj_strv_t *marks = ud;
    mj_strv_push(marks, rec->digest);
    if (rec->index)
        mj_strv_push(marks, rec->index);
    for (size_t i = 0; i < rec->blobs.n; i++)
        mj_strv_push(marks, rec->blobs.v[i]);
    for (size_t i = 0; i < rec->layers.n; i++) /* "layer <diff-id>": a layer is no blob of that digest */
        mj_strv_push_owned(marks, mj_xasprintf("layer %s", rec->layers.v[i]));
    return 0;
}

/* Every digest that records and live leases name, sorted. */
static int collect_marks(mj_store_t *s, mj_strv_t *marks, uint64_t *dead_leases, mj_error_t **err)
{
    mj_image_record_t *recs = NULL;
    size_t n = 0, damaged = 0;
    if (mj_store_image_list(s, &recs, &n, &damaged, err) < 0)
        return -1;
    for (size_t i = 0; i < n; i++)
        mark_record(&recs[i], marks);
    mj_image_records_free(recs, n);
    if (damaged)
        return fail(err, mj_error_new(MJ_ERR_IMAGE, EINVAL, "image store: %zu damaged image record(s) in %s/images: "
                                      "nothing removed (move them away, then collect again)", damaged, mj_store_root(s)));
    size_t dead = 0;
    if (mj_store_each_lease(s, mark_record, marks, &dead, err) < 0)
        return -1;
    if (dead_leases)
        *dead_leases = dead;
    if (marks->n)
        qsort(marks->v, marks->n, sizeof(char *), str_cmp);
    return 0;
}

static bool marked(const mj_strv_t *marks, const char *digest)
{
    return marks->n && bsearch(&digest, marks->v, marks->n, sizeof(char *), str_cmp) != NULL;
}

/* Calls fn(dirfd, name, ud) for each entry of dirfd but . and ..; -1 with *err on a listing
 * failure. */
static int each_entry(int dirfd, const char *what, void (*fn)(int, const char *, void *), void *ud, mj_error_t **err)
{
    int fd = dup(dirfd);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (!d) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        return fail(err, mj_error_sys(MJ_ERR_FILE_OPERATION_FAILED, e, "image store: listing %s", what));
    }
    rewinddir(d);
    struct dirent *de;
    while ((de = readdir(d)))
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
            fn(dirfd, de->d_name, ud);
    closedir(d);
    return 0;
}

typedef struct {
    const mj_strv_t *marks;
    const char *algo;
    size_t hex_len;
    mj_store_gc_stats_t *stats;
    double now, max_age;
    mj_store_t *store;
} sweep_t;

static void sweep_blob(int dirfd, const char *name, void *ud)
{
    sweep_t *w = ud;
    if (strlen(name) != w->hex_len || strspn(name, "0123456789abcdef") != w->hex_len)
        return; /* not ours */
    char digest[MJ_DIGEST_MAX];
    snprintf(digest, sizeof(digest), "%s:%s", w->algo, name);
    if (marked(w->marks, digest)) {
        w->stats->kept++;
        return;
    }
    struct stat st;
    if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
        return;
    if (unlinkat(dirfd, name, 0) == 0) {
        w->stats->blobs_removed++;
        w->stats->bytes_removed += (uint64_t)st.st_size;
    }
}

static bool has_suffix(const char *name, const char *suffix)
{
    size_t n = strlen(name), k = strlen(suffix);
    return n > k && strcmp(name + n - k, suffix) == 0;
}

static void sweep_partial(int dirfd, const char *name, void *ud)
{
    sweep_t *w = ud;
    struct stat st;
    if (!has_suffix(name, ".partial") || fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return;
    double mtime = (double)st.st_mtim.tv_sec + (double)st.st_mtim.tv_nsec / 1e9;
    if (w->max_age > 0 && w->now - mtime < w->max_age)
        return;
    if (unlinkat(dirfd, name, 0) == 0)
        w->stats->partials_removed++;
}

/* Temporary files of writes that crashed: nobody writes while the exclusive lock is ours. */
static void sweep_tmp(int dirfd, const char *name, void *ud)
{
    (void)ud;
    if (name[0] == '.' && has_suffix(name, ".tmp"))
        unlinkat(dirfd, name, 0);
}

/* layers/<algo>-<hex>[.rootless]: kept while its diff-id is marked; layers/.unpack-*: an unpack
 * that crashed (none runs while the exclusive lock is ours). */
static void sweep_layer(int dirfd, const char *name, void *ud)
{
    sweep_t *w = ud;
    cleanup_free char *path = mj_xasprintf("%s/layers/%s", mj_store_root(w->store), name);
    if (strncmp(name, ".unpack-", 8) == 0) {
        if (mj_tree_remove(path, NULL) == 0)
            w->stats->unpacks_removed++;
        return;
    }
    char digest[MJ_DIGEST_MAX];
    size_t len = strcspn(name, ".");
    if (len >= sizeof(digest) || (name[len] && strcmp(name + len, MJ_LAYER_ROOTLESS_SUFFIX) != 0))
        return; /* not ours */
    memcpy(digest, name, len);
    digest[len] = '\0';
    char *dash = strchr(digest, '-');
    if (!dash)
        return;
    *dash = ':';
    struct stat st;
    if (!mj_digest_valid(digest) || fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode))
        return;
    char mark[MJ_DIGEST_MAX + 8];
    snprintf(mark, sizeof(mark), "layer %s", digest);
    if (marked(w->marks, mark)) {
        w->stats->layers_kept++;
        return;
    }
    if (mj_tree_remove(path, NULL) == 0)
        w->stats->layers_removed++;
}

static void sweep_lock(int dirfd, const char *name, void *ud)
{
    sweep_t *w = ud;
    if (!has_suffix(name, ".lock"))
        return;
    if (strncmp(name, "layer-", 6) == 0) {
        /* "layer-<algo>-<hex>.lock" → "<algo>:<hex>" */
        char diff_id[MJ_DIGEST_MAX];
        size_t n = strlen(name) - 6 - 5;
        if (n >= sizeof(diff_id))
            return;
        memcpy(diff_id, name + 6, n);
        diff_id[n] = '\0';
        char *dash = strchr(diff_id, '-');
        if (!dash)
            return;
        *dash = ':';
        int fd = -1;
        if (mj_store_lock_layer(w->store, diff_id, false, &fd, NULL) == 1)
            mj_store_unlock_layer(w->store, diff_id, fd); /* which removes the file */
        return;
    }
    /* "<algo>-<hex>.lock" → "<algo>:<hex>": a lock nobody holds may go */
    char digest[MJ_DIGEST_MAX];
    size_t len = strlen(name) - 5;
    if (len >= sizeof(digest))
        return;
    memcpy(digest, name, len);
    digest[len] = '\0';
    char *dash = strchr(digest, '-');
    if (!dash)
        return;
    *dash = ':';
    int fd = -1;
    if (mj_store_try_digest_lock(w->store, digest, &fd, NULL) == 1) {
        unlinkat(dirfd, name, 0);
        close(fd);
    }
}

int mj_store_gc(mj_store_t *s, bool wait, double partial_max_age, mj_store_gc_stats_t *stats, mj_error_t **err)
{
    mj_store_gc_stats_t local = {0};
    if (!stats)
        stats = &local;
    memset(stats, 0, sizeof(*stats));
    if (mj_store_lock_exclusive(s, wait, err) < 0)
        return -1;
    mj_strv_t marks = {0};
    int rc = collect_marks(s, &marks, &stats->leases_removed, err);
    if (rc == 0) {
        sweep_t w = {.marks = &marks, .stats = stats, .now = mj_now_realtime(), .max_age = partial_max_age, .store = s};
        w.algo = "sha256";
        w.hex_len = 64;
        rc = each_entry(mj_store_blobs_dirfd(s, MJ_HASH_SHA256), "blobs/sha256", sweep_blob, &w, err);
        w.algo = "sha512";
        w.hex_len = 128;
        if (rc == 0)
            rc = each_entry(mj_store_blobs_dirfd(s, MJ_HASH_SHA512), "blobs/sha512", sweep_blob, &w, err);
        if (rc == 0)
            rc = each_entry(mj_store_dirfd(s, "ingest"), "ingest", sweep_partial, &w, err);
        if (rc == 0)
            rc = each_entry(mj_store_dirfd(s, "images"), "images", sweep_tmp, &w, err);
        if (rc == 0)
            rc = each_entry(mj_store_dirfd(s, "leases"), "leases", sweep_tmp, &w, err);
        if (rc == 0)
            rc = each_entry(mj_store_dirfd(s, "layers"), "layers", sweep_layer, &w, err);
        if (rc == 0)
            rc = each_entry(mj_store_dirfd(s, "locks"), "locks", sweep_lock, &w, err);
    }
    mj_strv_free(&marks);
    mj_store_lock_shared(s);
    return rc;
}

typedef struct {
    const char *digest;
    int count;
} refs_t;

static int count_refs(const mj_image_record_t *rec, void *ud)
{
    refs_t *r = ud;
    bool listed = strcmp(rec->digest, r->digest) == 0 || (rec->index && strcmp(rec->index, r->digest) == 0);
    for (size_t i = 0; !listed && i < rec->blobs.n; i++)
        listed = strcmp(rec->blobs.v[i], r->digest) == 0;
    for (size_t i = 0; !listed && i < rec->layers.n; i++)
        listed = strcmp(rec->layers.v[i], r->digest) == 0;
    r->count += listed;
    return 0;
}

int mj_store_blob_refs(mj_store_t *s, const char *digest, mj_error_t **err)
{
    if (mj_digest_parse(digest, NULL, NULL, err) < 0)
        return -1;
    refs_t r = {.digest = digest};
    mj_image_record_t *recs = NULL;
    size_t n = 0;
    if (mj_store_image_list(s, &recs, &n, NULL, err) < 0)
        return -1;
    for (size_t i = 0; i < n; i++)
        count_refs(&recs[i], &r);
    mj_image_records_free(recs, n);
    if (mj_store_each_lease(s, count_refs, &r, NULL, err) < 0)
        return -1;
    return r.count;
}

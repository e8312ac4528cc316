/* layer.c — one OCI image layer unpacked into a directory that overlayfs takes as a lower layer:
 * libarchive decompresses the blob (gzip, zstd or none, as its media type says) into a stream
 * that is hashed (the diff-id) while a second libarchive reader parses it as a tar, and every
 * entry is written here with *at() calls below directories this file opened itself.
 *
 * Owns: mj_layer_unpack — entry checks (names cleaned by unpack.c's mj_unpack_entry_path),
 * OCI whiteouts and opaque directories turned into overlayfs's own form, owners, modes, times,
 * the extended attributes it allows, hard links inside the layer, and the budgets.
 * Must never: write outside the directory it was given or through a symbolic link (every
 * directory on the way is opened O_NOFOLLOW | O_DIRECTORY from the layer's root, files are
 * created O_EXCL | O_NOFOLLOW, metadata goes through the opened fd); restore trusted.* or
 * overlay xattrs (a layer must not steer overlayfs: redirects, metacopy); create a device
 * unless asked; read an mtree or run a decompression program; change the working directory.
 * It knows nothing of the store (layerstore.c decides where) or of Lua.
 */
#define _GNU_SOURCE
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "error.h"
#include "image/layer.h"
#include "lazylib.h"
#include "tree.h"
#include "unpack.h"
#include "util.h"

#define AR(fn) MJ_LAZY(MJ_LIB_ARCHIVE, fn)

#define DEFAULT_MAX_BYTES (UINT64_C(16) << 30)
#define DEFAULT_MAX_ENTRIES UINT64_C(1000000)
#define DEFAULT_MAX_DEPTH 128
#define DEFAULT_MAX_RATIO 100
#define RATIO_FREE_BYTES (UINT64_C(64) << 20)
#define READ_BLOCK 131072

#define WHITEOUT_PREFIX ".wh."
#define OPAQUE_NAME ".wh..wh..opq"
#define AUFS_PREFIX ".wh..wh."

/* ------------------------------------------------------------------ the stream */

/* The decompressed blob, handed to the tar reader block by block, hashed and counted. */
typedef struct {
    struct archive *raw;
    mj_hash_t *hash;
    uint64_t bytes;
    uint64_t limit;
    uint64_t max_bytes;
    const char *what;
    bool eof;
    mj_error_t *error; /* why the stream stopped (the tar reader only sees "read error") */
} stream_t;

static la_ssize_t stream_read(struct archive *tar, void *ud, const void **buf)
{
    stream_t *s = ud;
    if (s->eof || s->error)
        return s->error ? -1 : 0;
    const void *block;
    size_t len;
    la_int64_t off;
    int r = AR(archive_read_data_block)(s->raw, &block, &len, &off);
    if (r == ARCHIVE_EOF) {
        s->eof = true;
        return 0;
    }
    if (r < ARCHIVE_WARN) {
        s->error = mj_error_new(MJ_ERR_IMAGE, AR(archive_errno)(s->raw), "layer %s: cannot decompress: %s", s->what,
                                mj_archive_why(s->raw));
        AR(archive_set_error)(tar, EIO, "decompression failed");
        return -1;
    }
    if (len > s->limit - s->bytes) {
        if (s->limit == s->max_bytes)
            s->error = mj_error_new(MJ_ERR_RESOURCE_LIMIT_EXCEEDED, EFBIG,
                                    "layer %s: its tar is larger than %" PRIu64 " bytes (max_bytes)", s->what, s->limit);
        else
            s->error = mj_error_new(MJ_ERR_RESOURCE_LIMIT_EXCEEDED, EFBIG,
                                    "layer %s: its tar is larger than %" PRIu64 " bytes, too many times its compressed size "
                                    "(max_ratio): a decompression bomb?", s->what, s->limit);
        AR(archive_set_error)(tar, EFBIG, "budget");
        return -1;
    }
    s->bytes += len;
    mj_hash_update(s->hash, block, len);
    *buf = block;
    return (la_ssize_t)len;
}

/* Reads (and hashes) whatever follows the tar's end: the diff-id covers the whole stream. */
static int stream_drain(stream_t *s, struct archive *tar)
{
    const void *buf;
    while (stream_read(tar, s, &buf) > 0)
        ;
    return s->error ? -1 : 0;
}

static void free_reader(struct archive **a)
{
    if (*a)
        AR(archive_read_free)(*a);
}
#define cleanup_reader __attribute__((cleanup(free_reader)))

/* ------------------------------------------------------------------ directories to finish */

/* A directory's mode and times are set when everything in it is written (its mtime changes with
 * every child; a 0555 directory could not take them): the last word for each path wins. */
typedef struct {
    char *rel;
    unsigned depth;
    mode_t mode;
    struct timespec times[2];
} dirfix_t;

typedef struct {
    dirfix_t *v;
    size_t n, cap;
    size_t *slots; /* open addressing over v: index + 1, 0 empty */
    size_t nslots;
} dirfixes_t;

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

static void dirfix_rehash(dirfixes_t *d)
{
    free(d->slots);
    d->nslots = d->nslots ? d->nslots * 2 : 64;
    d->slots = mj_xcalloc(d->nslots, sizeof(*d->slots));
    for (size_t i = 0; i < d->n; i++) {
        size_t j = hash_str(d->v[i].rel) & (d->nslots - 1);
        while (d->slots[j])
            j = (j + 1) & (d->nslots - 1);
        d->slots[j] = i + 1;
    }
}

static void dirfix_set(dirfixes_t *d, const char *rel, mode_t mode, const struct timespec times[2])
{
    if ((d->n + 1) * 2 > d->nslots)
        dirfix_rehash(d);
    size_t j = hash_str(rel) & (d->nslots - 1);
    while (d->slots[j]) {
        dirfix_t *f = &d->v[d->slots[j] - 1];
        if (strcmp(f->rel, rel) == 0) {
            f->mode = mode;
            f->times[0] = times[0];
            f->times[1] = times[1];
            return;
        }
        j = (j + 1) & (d->nslots - 1);
    }
    if (d->n == d->cap) {
        d->cap = d->cap ? d->cap * 2 : 64;
        d->v = mj_xrealloc(d->v, d->cap * sizeof(*d->v));
    }
    unsigned depth = 1;
    for (const char *p = rel; *p; p++)
        depth += *p == '/';
    d->v[d->n] = (dirfix_t){.rel = mj_xstrdup(rel), .depth = depth, .mode = mode, .times = {times[0], times[1]}};
    d->slots[j] = ++d->n;
}

static void dirfixes_free(dirfixes_t *d)
{
    for (size_t i = 0; i < d->n; i++)
        free(d->v[i].rel);
    free(d->v);
    free(d->slots);
    memset(d, 0, sizeof(*d));
}

static int deeper_first(const void *a, const void *b)
{
    const dirfix_t *x = a, *y = b;
    return x->depth < y->depth ? 1 : x->depth > y->depth ? -1 : 0;
}

/* ------------------------------------------------------------------ the unpacker */

typedef struct {
    const mj_layer_opts_t *o;
    const char *what;
    int root_fd;
    char *cached_rel; /* the directory the last entry was in, kept open */
    int cached_fd;
    dirfixes_t fixes;
    uint64_t declared;
    mj_layer_stats_t *st;
    const stream_t *stream;
    bool ended; /* the stream ended right after the last file's data (no padding, no end blocks) */
} unpack_t;

static mj_error_t *entry_error(unpack_t *u, const char *shown, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static mj_error_t *entry_error(unpack_t *u, const char *shown, int errnum, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cleanup_free char *detail = mj_xvasprintf(fmt, ap);
    va_end(ap);
    return mj_error_new(MJ_ERR_IMAGE, errnum, "layer %s: entry '%.300s': %s", u->what, shown, detail);
}

/* A system call on the layer's own tree failed: FILE_OPERATION_FAILED (ENOSPC, EIO, …) with
 * errno, or PERMISSION_DENIED. */
static mj_error_t *entry_sys_error(unpack_t *u, const char *shown, int errnum, const char *op)
{
    mj_error_code_t code = errnum == EACCES || errnum == EPERM ? MJ_ERR_PERMISSION_DENIED : MJ_ERR_FILE_OPERATION_FAILED;
    return mj_error_sys(code, errnum, "layer %s: entry '%.300s': %s", u->what, shown, op);
}

static void drop_cache(unpack_t *u)
{
    free(u->cached_rel);
    u->cached_rel = NULL;
    if (u->cached_fd >= 0)
        close(u->cached_fd);
    u->cached_fd = -1;
}

static bool is_whiteout(const struct stat *st)
{
    return S_ISCHR(st->st_mode) && st->st_rdev == makedev(0, 0);
}

/* Marks directory name of dfd opaque, as both kinds of overlay mount read it. */
static int mark_opaque(unpack_t *u, int dfd, const char *name, const char *shown, mj_error_t **err)
{
    cleanup_close int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 || fsetxattr(fd, "user.overlay.opaque", "y", 1, 0) < 0)
        return mj_fail(err, entry_sys_error(u, shown, errno, "marking the directory opaque (user.overlay.opaque)"));
    if (u->o->trusted_xattrs && fsetxattr(fd, "trusted.overlay.opaque", "y", 1, 0) < 0)
        return mj_fail(err, entry_sys_error(u, shown, errno, "marking the directory opaque (trusted.overlay.opaque)"));
    u->st->opaques++;
    return 0;
}

/* The directory rel (relative to the root, "" for the root) opened O_PATH, every component
 * O_NOFOLLOW.  With create, missing components are made (0755) and a whiteout on the way is
 * replaced by an opaque directory (the layer adds below what it hides).  With cache the fd is
 * the cache's (borrowed), else the caller's.  -1 with *err. */
static int open_dir(unpack_t *u, const char *rel, bool create, bool cache, const char *shown, mj_error_t **err)
{
    if (!*rel)
        return cache ? u->root_fd : openat(u->root_fd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (cache && u->cached_rel && strcmp(u->cached_rel, rel) == 0)
        return u->cached_fd;
    cleanup_free char *copy = mj_xstrdup(rel);
    cleanup_close int cur = -1;
    char *save = NULL;
    for (char *comp = strtok_r(copy, "/", &save); comp; comp = strtok_r(NULL, "/", &save)) {
        int base = cur >= 0 ? cur : u->root_fd;
        int fd = openat(base, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0 && create && (errno == ENOENT || errno == ENOTDIR || errno == ELOOP)) {
            struct stat st;
            bool exists = fstatat(base, comp, &st, AT_SYMLINK_NOFOLLOW) == 0;
            if (exists && S_ISLNK(st.st_mode))
                return mj_fail(err, entry_error(u, shown, ELOOP, "a parent directory is a symbolic link (not followed)"));
            if (exists && !is_whiteout(&st))
                return mj_fail(err, entry_error(u, shown, ENOTDIR, "a parent is not a directory"));
            if (exists && unlinkat(base, comp, 0) < 0)
                return mj_fail(err, entry_sys_error(u, shown, errno, "replacing a whiteout"));
            if (mkdirat(base, comp, 0755) < 0)
                return mj_fail(err, entry_sys_error(u, shown, errno, "creating a parent directory"));
            if (exists && mark_opaque(u, base, comp, shown, err) < 0)
                return -1;
            fd = openat(base, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        }
        if (fd < 0) {
            if (errno == ENOTDIR || errno == ELOOP)
                return mj_fail(err, entry_error(u, shown, errno, "a parent is a symbolic link or not a directory"));
            if (errno == ENOENT)
                return mj_fail(err, entry_error(u, shown, ENOENT, "a parent directory does not exist in the layer"));
            return mj_fail(err, entry_sys_error(u, shown, errno, "opening a parent directory"));
        }
        if (cur >= 0)
            close(cur);
        cur = fd;
    }
    if (!cache)
        return mj_steal_fd(&cur);
    drop_cache(u);
    u->cached_rel = mj_xstrdup(rel);
    u->cached_fd = mj_steal_fd(&cur);
    return u->cached_fd;
}

/* Removes name from dfd so that an entry can take its place (a directory with what is in it). */
static int remove_existing(unpack_t *u, int dfd, const char *name, const struct stat *st, const char *shown,
                           mj_error_t **err)
{
    if (S_ISDIR(st->st_mode)) {
        drop_cache(u); /* it may be the cached directory or below it */
        cleanup_close int fd = mj_tree_open_subdir(dfd, name, st);
        if (fd < 0)
            return mj_fail(err, entry_sys_error(u, shown, errno, "replacing a directory"));
        mj_tree_clear_at(fd, shown);
        if (unlinkat(dfd, name, AT_REMOVEDIR) < 0)
            return mj_fail(err, entry_sys_error(u, shown, errno, "replacing a directory"));
        return 0;
    }
    if (unlinkat(dfd, name, 0) < 0)
        return mj_fail(err, entry_sys_error(u, shown, errno, "replacing a file"));
    return 0;
}

static void entry_times(struct archive_entry *e, struct timespec t[2])
{
    t[1].tv_sec = AR(archive_entry_mtime)(e);
    t[1].tv_nsec = AR(archive_entry_mtime_nsec)(e);
    if (AR(archive_entry_atime_is_set)(e)) {
        t[0].tv_sec = AR(archive_entry_atime)(e);
        t[0].tv_nsec = AR(archive_entry_atime_nsec)(e);
    } else {
        t[0] = t[1];
    }
    for (int i = 0; i < 2; i++)
        if (t[i].tv_nsec < 0 || t[i].tv_nsec > 999999999)
            t[i].tv_nsec = 0;
}

static mode_t entry_mode(unpack_t *u, struct archive_entry *e)
{
    mode_t perm = AR(archive_entry_perm)(e) & 07777;
    return u->o->keep_owners ? perm : (perm & ~(mode_t)(S_ISUID | S_ISGID));
}

static bool xattr_allowed(unpack_t *u, const char *name)
{
    if (strncmp(name, "user.", 5) == 0)
        return strncmp(name, "user.overlay.", 13) != 0;
    return u->o->keep_owners && strcmp(name, "security.capability") == 0;
}

/* The entry's extended attributes that are allowed, on fd; the others are counted. */
static void apply_xattrs(unpack_t *u, struct archive_entry *e, int fd)
{
    if (AR(archive_entry_xattr_reset)(e) <= 0)
        return;
    const char *name;
    const void *value;
    size_t size;
    while (AR(archive_entry_xattr_next)(e, &name, &value, &size) == ARCHIVE_OK)
        if (!name || !xattr_allowed(u, name) || fsetxattr(fd, name, value, size, 0) < 0)
            u->st->xattrs_skipped++;
}

/* Owner (keep_owners) of name in dfd, never following it. */
static int apply_owner_at(unpack_t *u, struct archive_entry *e, int dfd, const char *name, const char *shown,
                          mj_error_t **err)
{
    if (!u->o->keep_owners)
        return 0;
    if (fchownat(dfd, name, (uid_t)AR(archive_entry_uid)(e), (gid_t)AR(archive_entry_gid)(e), AT_SYMLINK_NOFOLLOW) < 0)
        return mj_fail(err, entry_sys_error(u, shown, errno, "setting its owner"));
    return 0;
}

/* Blocks of zeros are not written: the file gets a hole there (ftruncate sets its size), so a
 * layer of zeros (a decompression bomb, or a sparse file) costs no disk. */
static bool all_zero(const char *buf, size_t len)
{
    return len > 0 && buf[0] == 0 && memcmp(buf, buf + 1, len - 1) == 0;
}

static int pwrite_all(int fd, const char *buf, size_t len, off_t off)
{
    while (len > 0) {
        ssize_t w = pwrite(fd, buf, len, off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        buf += w;
        len -= (size_t)w;
        off += w;
    }
    return 0;
}

static int write_file(unpack_t *u, struct archive *tar, struct archive_entry *e, int dfd, const char *name,
                      const char *shown, mj_error_t **err)
{
    int64_t size = AR(archive_entry_size_is_set)(e) ? AR(archive_entry_size)(e) : 0;
    if (size < 0)
        return mj_fail(err, entry_error(u, shown, EINVAL, "a negative size"));
    if ((uint64_t)size > u->o->max_bytes - u->declared)
        return mj_fail(err, mj_error_new(MJ_ERR_RESOURCE_LIMIT_EXCEEDED, EFBIG,
                                         "layer %s: entry '%.300s': its files declare more than %" PRIu64 " bytes (max_bytes)",
                                         u->what, shown, u->o->max_bytes));
    u->declared += (uint64_t)size;
    cleanup_close int fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return mj_fail(err, entry_sys_error(u, shown, errno, "creating the file"));
    const void *buf;
    size_t len;
    la_int64_t off;
    int r;
    uint64_t written = 0;
    while ((r = AR(archive_read_data_block)(tar, &buf, &len, &off)) == ARCHIVE_OK || r == ARCHIVE_WARN) {
        if (off < 0 || (uint64_t)off > (uint64_t)size || len > (uint64_t)size - (uint64_t)off)
            return mj_fail(err, entry_error(u, shown, EINVAL, "data beyond the size it declares"));
        if (len && !all_zero(buf, len) && pwrite_all(fd, buf, len, (off_t)off) < 0)
            return mj_fail(err, entry_sys_error(u, shown, errno, "writing the file"));
        written += len;
    }
    /* all of its data came, then the stream ended where its padding should be: the end of the
     * layer, as Go's archive/tar (umoci, skopeo) reads it */
    if (r < ARCHIVE_WARN && u->stream->eof && !u->stream->error && written == (uint64_t)size &&
        !AR(archive_entry_sparse_count)(e))
        u->ended = true;
    else if (r != ARCHIVE_EOF)
        return -1; /* the caller reports the reader's error */
    struct stat st;
    if (fstat(fd, &st) < 0 || (st.st_size < size && ftruncate(fd, size) < 0)) /* a hole at its end */
        return mj_fail(err, entry_sys_error(u, shown, errno, "writing the file"));
    if (u->o->keep_owners && fchown(fd, (uid_t)AR(archive_entry_uid)(e), (gid_t)AR(archive_entry_gid)(e)) < 0)
        return mj_fail(err, entry_sys_error(u, shown, errno, "setting its owner"));
    if (fchmod(fd, entry_mode(u, e)) < 0)
        return mj_fail(err, entry_sys_error(u, shown, errno, "setting its mode"));
    apply_xattrs(u, e, fd);
    struct timespec t[2];
    entry_times(e, t);
    if (futimens(fd, t) < 0)
        return mj_fail(err, entry_sys_error(u, shown, errno, "setting its times"));
    u->st->files++;
    return 0;
}

static int make_dir(unpack_t *u, struct archive_entry *e, int dfd, const char *name, const char *rel, bool exists,
                    bool was_whiteout, const char *shown, mj_error_t **err)
{
    if (!exists && mkdirat(dfd, name, 0700) < 0)
        return mj_fail(err, entry_sys_error(u, shown, errno, "creating the directory"));
    if (was_whiteout && mark_opaque(u, dfd, name, shown, err) < 0)
        return -1;
    if (apply_owner_at(u, e, dfd, name, shown, err) < 0)
        return -1;
    if (AR(archive_entry_xattr_count)(e) > 0) {
        cleanup_close int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
            return mj_fail(err, entry_sys_error(u, shown, errno, "opening the directory"));
        apply_xattrs(u, e, fd);
    }
    struct timespec t[2];
    entry_times(e, t);
    dirfix_set(&u->fixes, rel, entry_mode(u, e), t);
    u->st->dirs++;
    return 0;
}

/* Times (and the owner) of a symlink, fifo or device just made, never following it. */
static int finish_special(unpack_t *u, struct archive_entry *e, int dfd, const char *name, const char *shown,
                          mj_error_t **err)
{
    if (apply_owner_at(u, e, dfd, name, shown, err) < 0)
        return -1;
    struct timespec t[2];
    entry_times(e, t);
    if (utimensat(dfd, name, t, AT_SYMLINK_NOFOLLOW) < 0)
        return mj_fail(err, entry_sys_error(u, shown, errno, "setting its times"));
    return 0;
}

static int make_hardlink(unpack_t *u, struct archive_entry *e, int dfd, const char *name, const char *shown,
                         mj_error_t **err)
{
    const char *raw = AR(archive_entry_hardlink)(e);
    const char *why = NULL;
    cleanup_free char *target = NULL;
    if (mj_unpack_entry_path(raw, 0, &target, &why) < 0 || !target)
        return mj_fail(err, entry_error(u, shown, EINVAL, "hard link target '%.300s' %s", raw,
                                        why ? why : "is the layer's root"));
    char *slash = strrchr(target, '/');
    const char *tname = slash ? slash + 1 : target;
    if (slash)
        *slash = '\0';
    mj_error_t *why_not = NULL;
    cleanup_close int tdir = open_dir(u, slash ? target : "", false, false, shown, &why_not);
    if (tdir < 0) {
        if (mj_error_errno(why_not) != ENOENT)
            return mj_fail(err, why_not);
        mj_error_free(why_not);
        return mj_fail(err, entry_error(u, shown, ENOENT, "hard link target '%.300s' is not in the layer", raw));
    }
    struct stat st;
    if (fstatat(tdir, tname, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return mj_fail(err, entry_error(u, shown, errno, "hard link target '%.300s' is not in the layer", raw));
    if (S_ISDIR(st.st_mode) || is_whiteout(&st))
        return mj_fail(err, entry_error(u, shown, EPERM, "hard link target '%.300s' is a %s", raw,
                                        S_ISDIR(st.st_mode) ? "directory" : "whiteout"));
    if (linkat(tdir, tname, dfd, name, 0) < 0)
        return mj_fail(err, entry_sys_error(u, shown, errno, "making the hard link"));
    u->st->hardlinks++;
    return 0;
}

/* ".wh.NAME" in directory dfd (entry rel's parent), or the opaque marker. */
static int whiteout(unpack_t *u, int dfd, const char *base, const char *shown, mj_error_t **err)
{
    if (strcmp(base, OPAQUE_NAME) == 0) {
        cleanup_close int self = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (self < 0)
            return mj_fail(err, entry_sys_error(u, shown, errno, "opening its directory"));
        return mark_opaque(u, self, ".", shown, err);
    }
    if (strncmp(base, AUFS_PREFIX, strlen(AUFS_PREFIX)) == 0)
        return 0; /* aufs's own bookkeeping (.wh..wh.plnk, .wh..wh.aufs): nothing to hide */
    const char *name = base + strlen(WHITEOUT_PREFIX);
    if (!*name || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        return mj_fail(err, entry_error(u, shown, EINVAL, "a whiteout of '%s'", name));
    struct stat st;
    if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
        /* the layer itself adds name: it stays, and hides what is below it */
        if (S_ISDIR(st.st_mode))
            return mark_opaque(u, dfd, name, shown, err);
        return 0;
    }
    if (errno != ENOENT)
        return mj_fail(err, entry_sys_error(u, shown, errno, "looking up what it hides"));
    if (mknodat(dfd, name, S_IFCHR | 0, makedev(0, 0)) < 0)
        return mj_fail(err, mj_error_sys(errno == EPERM ? MJ_ERR_UNSUPPORTED : MJ_ERR_FILE_OPERATION_FAILED, errno,
                                         "layer %s: entry '%.300s': making the whiteout (a character device 0/0, "
                                         "which Linux 5.8 and later let anyone make)", u->what, shown));
    u->st->whiteouts++;
    return 0;
}

static int unpack_entry(unpack_t *u, struct archive *tar, struct archive_entry *e, mj_error_t **err)
{
    const char *raw = AR(archive_entry_pathname)(e);
    cleanup_free char *shown = mj_xstrdup(raw ? raw : "(unnamed)");
    cleanup_free char *rel = NULL;
    const char *why = NULL;
    /* "/" is how umoci names the root; any other absolute name is refused */
    bool root_only = raw && raw[0] == '/' && strspn(raw, "/.") == strlen(raw) && !strstr(raw, "..");
    if (!root_only && mj_unpack_entry_path(raw, 0, &rel, &why) < 0)
        return mj_fail(err, entry_error(u, shown, EINVAL, "%s", why));
    mode_t type = AR(archive_entry_filetype)(e);
    const char *hardlink = AR(archive_entry_hardlink)(e);
    if (!rel) { /* the layer's root: it is the directory given */
        if (type != AE_IFDIR || hardlink)
            return mj_fail(err, entry_error(u, shown, EINVAL, "the layer's root can only be a directory, not a %s",
                                            hardlink ? "hard link" : mj_unpack_type_word(type)));
        return 0;
    }
    unsigned depth = 1;
    for (const char *p = rel; *p; p++)
        depth += *p == '/';
    if (depth > u->o->max_depth)
        return mj_fail(err, entry_error(u, shown, ELOOP, "deeper than %u directories (max_depth)", u->o->max_depth));

    char *slash = strrchr(rel, '/');
    const char *base = slash ? slash + 1 : rel;
    cleanup_free char *parent = slash ? mj_xasprintf("%.*s", (int)(slash - rel), rel) : mj_xstrdup("");
    int dfd = open_dir(u, parent, true, true, shown, err);
    if (dfd < 0)
        return -1;
    if (strncmp(base, WHITEOUT_PREFIX, strlen(WHITEOUT_PREFIX)) == 0)
        return whiteout(u, dfd, base, shown, err);

    struct stat st;
    bool exists = fstatat(dfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0;
    if (!exists && errno != ENOENT)
        return mj_fail(err, entry_sys_error(u, shown, errno, "looking it up"));
    bool was_whiteout = exists && is_whiteout(&st);
    bool keep_dir = exists && S_ISDIR(st.st_mode) && type == AE_IFDIR && !hardlink;
    if (exists && !keep_dir) {
        if (remove_existing(u, dfd, base, &st, shown, err) < 0)
            return -1;
        dfd = open_dir(u, parent, true, true, shown, err); /* the cache may have been dropped */
        if (dfd < 0)
            return -1;
    }
    if (hardlink)
        return make_hardlink(u, e, dfd, base, shown, err);
    switch (type) {
    case AE_IFREG:
        return write_file(u, tar, e, dfd, base, shown, err);
    case AE_IFDIR:
        return make_dir(u, e, dfd, base, rel, keep_dir, was_whiteout, shown, err);
    case AE_IFLNK: {
        const char *target = AR(archive_entry_symlink)(e);
        if (!target || !*target || strlen(target) >= PATH_MAX)
            return mj_fail(err, entry_error(u, shown, EINVAL, "a symbolic link without a usable target"));
        if (symlinkat(target, dfd, base) < 0)
            return mj_fail(err, entry_sys_error(u, shown, errno, "making the symbolic link"));
        u->st->symlinks++;
        return finish_special(u, e, dfd, base, shown, err);
    }
    case AE_IFIFO:
        if (mkfifoat(dfd, base, 0600) < 0 || fchmodat(dfd, base, entry_mode(u, e), 0) < 0)
            return mj_fail(err, entry_sys_error(u, shown, errno, "making the fifo"));
        return finish_special(u, e, dfd, base, shown, err);
    case AE_IFCHR:
    case AE_IFBLK: {
        dev_t rdev = makedev(AR(archive_entry_rdevmajor)(e), AR(archive_entry_rdevminor)(e));
        if (type == AE_IFCHR && rdev == makedev(0, 0))
            return mj_fail(err, entry_error(u, shown, EINVAL, "a character device 0/0 (overlayfs would read it as a whiteout)"));
        if (!u->o->allow_devices || !u->o->keep_owners) {
            u->st->devices_skipped++;
            return 0;
        }
        if (mknodat(dfd, base, type | entry_mode(u, e), rdev) < 0)
            return mj_fail(err, entry_sys_error(u, shown, errno, "making the device"));
        return finish_special(u, e, dfd, base, shown, err);
    }
    default:
        u->st->devices_skipped++; /* sockets: nothing to restore */
        return 0;
    }
}

/* Modes and times of the directories, deepest first (a parent's mode may forbid entering it). */
static int finish_dirs(unpack_t *u, mj_error_t **err)
{
    drop_cache(u);
    if (u->fixes.n > 1)
        qsort(u->fixes.v, u->fixes.n, sizeof(*u->fixes.v), deeper_first);
    for (size_t i = 0; i < u->fixes.n; i++) {
        dirfix_t *f = &u->fixes.v[i];
        char *slash = strrchr(f->rel, '/');
        cleanup_free char *parent = slash ? mj_xasprintf("%.*s", (int)(slash - f->rel), f->rel) : mj_xstrdup("");
        mj_error_t *e = NULL;
        cleanup_close int dfd = open_dir(u, parent, false, false, f->rel, &e);
        if (dfd < 0) { /* replaced by a later entry */
            mj_error_free(e);
            continue;
        }
        cleanup_close int fd = openat(dfd, slash ? slash + 1 : f->rel, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0 && (errno == ENOENT || errno == ENOTDIR || errno == ELOOP))
            continue;
        if (fd < 0 || fchmod(fd, f->mode) < 0 || futimens(fd, f->times) < 0)
            return mj_fail(err, entry_sys_error(u, f->rel, errno, "setting the directory's mode and times"));
    }
    return 0;
}

/* The tar reader's failure, or the stream's when it is the cause. */
static mj_error_t *reader_error(unpack_t *u, stream_t *s, struct archive *tar, const char *after)
{
    if (s->error)
        return steal_pointer(&s->error);
    return mj_error_new(MJ_ERR_IMAGE, AR(archive_errno)(tar), "layer %s: not a valid tar%s%s: %s", u->what,
                        after ? " at entry " : "", after ? after : "", mj_archive_why(tar));
}

static int setup_reader(struct archive *raw, struct archive *tar, mj_layer_compression_t comp)
{
    if (comp == MJ_LAYER_GZIP)
        AR(archive_read_support_filter_gzip)(raw);
    else if (comp == MJ_LAYER_ZSTD && AR(archive_read_support_filter_zstd)(raw) != ARCHIVE_OK)
        return -1; /* only in-process: never an external zstd program */
    AR(archive_read_support_format_raw)(raw);
    AR(archive_read_support_format_tar)(tar);
    return 0;
}

int mj_layer_unpack(int blob_fd, mj_layer_compression_t comp, int dest_fd, const char *what, const char *expect_diff_id,
                    const mj_layer_opts_t *opts, mj_layer_stats_t *stats, mj_error_t **err)
{
    if (mj_lib_open(MJ_LIB_ARCHIVE, err) < 0)
        return -1;
    mj_layer_opts_t o = opts ? *opts : (mj_layer_opts_t){0};
    o.max_bytes = o.max_bytes ? o.max_bytes : DEFAULT_MAX_BYTES;
    o.max_entries = o.max_entries ? o.max_entries : DEFAULT_MAX_ENTRIES;
    o.max_depth = o.max_depth ? o.max_depth : DEFAULT_MAX_DEPTH;
    o.max_ratio = o.max_ratio ? o.max_ratio : DEFAULT_MAX_RATIO;
    mj_layer_stats_t local;
    mj_layer_stats_t *st = stats ? stats : &local;
    memset(st, 0, sizeof(*st));

    mj_hash_algo_t algo = MJ_HASH_SHA256;
    if (expect_diff_id && mj_digest_parse(expect_diff_id, &algo, NULL, err) < 0)
        return -1;
    struct stat bst;
    if (fstat(blob_fd, &bst) < 0 || !S_ISREG(bst.st_mode))
        return mj_fail(err, mj_error_sys(MJ_ERR_FILE_OPERATION_FAILED, errno ? errno : EINVAL, "layer %s: its blob", what));
    st->compressed = (uint64_t)bst.st_size;

    stream_t s = {.what = what, .max_bytes = o.max_bytes};
    /* the decompression-bomb bound: ratio × compressed, never below the free allowance */
    uint64_t by_ratio = o.max_ratio == UINT32_MAX || st->compressed > UINT64_MAX / o.max_ratio
                            ? UINT64_MAX
                            : st->compressed * o.max_ratio;
    if (by_ratio < RATIO_FREE_BYTES)
        by_ratio = RATIO_FREE_BYTES;
    s.limit = by_ratio < o.max_bytes ? by_ratio : o.max_bytes;
    if (mj_hash_new(algo, &s.hash, err) < 0)
        return -1;
    cleanup_reader struct archive *raw = AR(archive_read_new)();
    cleanup_reader struct archive *tar = AR(archive_read_new)();
    s.raw = raw;
    unpack_t u = {.o = &o, .what = what, .root_fd = dest_fd, .cached_fd = -1, .st = st, .stream = &s};
    int rc = -1;
    if (!raw || !tar) {
        mj_fail(err, mj_error_new(MJ_ERR_FILE_OPERATION_FAILED, ENOMEM, "layer %s: out of memory", what));
    } else if (setup_reader(raw, tar, comp) < 0) {
        mj_fail(err, mj_error_new(MJ_ERR_UNSUPPORTED, ENOSYS, "layer %s: this libarchive cannot decompress zstd in-process",
                                  what));
    } else if (AR(archive_read_open_fd)(raw, blob_fd, READ_BLOCK) != ARCHIVE_OK) {
        mj_fail(err, mj_error_new(MJ_ERR_IMAGE, AR(archive_errno)(raw), "layer %s: cannot decompress: %s", what,
                                  mj_archive_why(raw)));
    } else {
        struct archive_entry *data;
        if (AR(archive_read_next_header)(raw, &data) < ARCHIVE_WARN) {
            mj_fail(err, mj_error_new(MJ_ERR_IMAGE, AR(archive_errno)(raw), "layer %s: cannot decompress: %s", what,
                                      mj_archive_why(raw)));
        } else if (AR(archive_read_open)(tar, &s, NULL, stream_read, NULL) != ARCHIVE_OK) {
            mj_fail(err, reader_error(&u, &s, tar, NULL));
        } else {
            rc = 0;
            for (;;) {
                struct archive_entry *e;
                int r = AR(archive_read_next_header)(tar, &e);
                /* The stream ended where the next header or the last entry's padding should be:
                 * the end, as Go's archive/tar (umoci, skopeo) reads it.  Every entry before was
                 * whole, and the diff-id still covers exactly these bytes. */
                if (r == ARCHIVE_EOF || (r < ARCHIVE_WARN && s.eof && !s.error))
                    break;
                if (r < ARCHIVE_WARN) {
                    rc = mj_fail(err, reader_error(&u, &s, tar, NULL));
                    break;
                }
                if (++st->entries > o.max_entries) {
                    rc = mj_fail(err, mj_error_new(MJ_ERR_RESOURCE_LIMIT_EXCEEDED, EFBIG,
                                                   "layer %s: more than %" PRIu64 " entries (max_entries)", what, o.max_entries));
                    break;
                }
                mj_error_t *e2 = NULL;
                if (unpack_entry(&u, tar, e, &e2) < 0) {
                    const char *p = AR(archive_entry_pathname)(e);
                    rc = mj_fail(err, e2 ? e2 : reader_error(&u, &s, tar, p ? p : "?"));
                    break;
                }
                if (u.ended)
                    break;
            }
            if (rc == 0 && stream_drain(&s, tar) < 0)
                rc = mj_fail(err, steal_pointer(&s.error));
            if (rc == 0)
                rc = finish_dirs(&u, err);
        }
    }
    st->uncompressed = s.bytes;
    if (rc == 0) {
        mj_hash_final(s.hash, st->diff_id);
        if (expect_diff_id && strcmp(st->diff_id, expect_diff_id) != 0)
            rc = mj_fail(err, mj_error_new(MJ_ERR_IMAGE, 0, "layer %s: its content does not match its diff_id: the image "
                                           "config says %s, the layer is %s", what, expect_diff_id, st->diff_id));
    }
    mj_error_free(s.error);
    mj_hash_free(s.hash);
    drop_cache(&u);
    dirfixes_free(&u.fixes);
    return rc;
}

/* overlay.c — the changes an overlayfs upper directory makes to its lower: the diff (whiteouts,
 * opaque directories, metacopy, copied up but unchanged), and its export as a tar (pax, optionally
 * gzip'ed) or a directory, with OCI whiteouts for deletions.
 *
 * Owns: mj_overlay_diff and mj_overlay_export.
 * Must never: follow a symlink in the upper, the lower or the destination (every step is an *at()
 * call on a directory fd with O_NOFOLLOW), write outside the destination it was given, or leave a
 * half-written export behind.  It knows nothing of sandboxes, mounts or Lua.
 */
#define _GNU_SOURCE
#include "overlay.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

#include "lazylib.h"
#include "tree.h"
#include "unpack.h"
#include "util.h"

#define COPY_CHUNK 65536

/* ------------------------------------------------------------------ small helpers */

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n > m && strcmp(s + n - m, suffix) == 0;
}

/* Reads an extended attribute of name in dirfd_ without following it, trying the user.
 * namespace (overlay mounted with userxattr) and then trusted.  -1 when neither is there. */
static ssize_t overlay_xattr(int dirfd_, const char *name, const char *key, char *buf, size_t len)
{
    char path[64 + NAME_MAX];
    if (snprintf(path, sizeof(path), "/proc/self/fd/%d/%s", dirfd_, name) >= (int)sizeof(path)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    static const char *const spaces[] = {"user.overlay.", "trusted.overlay."};
    for (size_t i = 0; i < MJ_ARRAY_LEN(spaces); i++) {
        char full[64];
        snprintf(full, sizeof(full), "%s%s", spaces[i], key);
        ssize_t n = lgetxattr(path, full, buf, len);
        if (n >= 0)
            return n;
    }
    return -1;
}

/* Copies exactly size bytes from in to out; -1 with errno (EIO when in ends early). */
static int copy_fd(int in, int out, uint64_t size)
{
    char buf[COPY_CHUNK];
    while (size > 0) {
        size_t want = size < sizeof(buf) ? (size_t)size : sizeof(buf);
        ssize_t n = mj_read_all(in, buf, want);
        if (n < 0)
            return -1;
        if ((size_t)n != want) {
            errno = EIO; /* shrank while being read */
            return -1;
        }
        if (mj_write_all(out, buf, want) < 0)
            return -1;
        size -= want;
    }
    return 0;
}

/* ------------------------------------------------------------------ overlay diff */

typedef struct {
    const char *path;      /* relative to the upper / lower root */
    const char *name;      /* last component */
    int dirfd;             /* upper directory holding name (ADDED, MODIFIED), lower one (DELETED) */
    mj_diff_kind_t kind;
    const struct stat *st; /* of that entry */
} diff_item_t;

typedef int (*diff_item_fn)(const diff_item_t *it, void *ud, mj_error_t **err);

typedef struct {
    const char *upper;
    const char *lower;
    diff_item_fn fn;
    void *ud;
    mj_error_t **err;
} diff_ctx_t;

static int diff_error(diff_ctx_t *c, int e, const char *op, const char *root, const char *rel)
{
    cleanup_free char *shown = rel[0] ? mj_xasprintf("%s/%s", root, rel) : mj_xstrdup(root);
    cleanup_free char *what = mj_xasprintf("overlay diff: %s", op);
    return mj_fail(c->err, mj_file_error(e, what, shown));
}

static int emit(diff_ctx_t *c, mj_diff_kind_t kind, int dirfd_, const char *name, const char *path,
                const struct stat *st)
{
    diff_item_t it = {.path = path, .name = name, .dirfd = dirfd_, .kind = kind, .st = st};
    return c->fn(&it, c->ud, c->err);
}

/* A whiteout: a 0:0 character device, or an empty file marked overlay.whiteout (kernels that
 * cannot make the device, e.g. in a user namespace without it, write those). */
static bool is_whiteout(int dirfd_, const char *name, const struct stat *st)
{
    if (S_ISCHR(st->st_mode) && st->st_rdev == makedev(0, 0))
        return true;
    if (S_ISREG(st->st_mode) && st->st_size == 0)
        return overlay_xattr(dirfd_, name, "whiteout", NULL, 0) >= 0;
    return false;
}

static bool is_opaque(int dirfd_, const char *name)
{
    char v[4];
    ssize_t n = overlay_xattr(dirfd_, name, "opaque", v, sizeof(v));
    return n == 1 && v[0] == 'y'; /* "x" only says the directory holds xattr whiteouts */
}

/* 1 when the two regular files hold the same bytes, 0 when not, -1 with errno. */
static int same_content(int up, int lo, const char *name)
{
    cleanup_close int a = openat(up, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    cleanup_close int b = a < 0 ? -1 : openat(lo, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    struct stat sa, sb;
    if (a < 0 || b < 0 || fstat(a, &sa) < 0 || fstat(b, &sb) < 0)
        return -1;
    if (!S_ISREG(sa.st_mode) || !S_ISREG(sb.st_mode))
        return 0;
    cleanup_free char *ba = mj_xmalloc(COPY_CHUNK);
    cleanup_free char *bb = mj_xmalloc(COPY_CHUNK);
    for (;;) {
        ssize_t na = mj_read_all(a, ba, COPY_CHUNK);
        ssize_t nb = mj_read_all(b, bb, COPY_CHUNK);
        if (na < 0 || nb < 0)
            return -1;
        if (na != nb || memcmp(ba, bb, (size_t)na) != 0)
            return 0;
        if (na == 0)
            return 1;
    }
}

/* The lowers of one directory level, topmost first: the merged view overlayfs shows below the
 * upper.  An entry is the topmost lower's that has it; a whiteout there hides it from the lowers
 * below, and so does a lower that has something else than a directory by that name, or an opaque
 * directory (for what is under it). */
#define MJ_DIFF_MAX_LOWERS 64
typedef struct {
    int fd[MJ_DIFF_MAX_LOWERS];
    size_t n;
} lowers_t;

static void close_lowers(lowers_t *lo)
{
    for (size_t k = 0; k < lo->n; k++)
        close(lo->fd[k]);
    lo->n = 0;
}
#define cleanup_lowers __attribute__((cleanup(close_lowers)))

/* 1 and *st, *which (the lower's index) when the merged lowers have name; 0 when not; -1 errno. */
static int lower_lookup(const lowers_t *lo, const char *name, struct stat *st, size_t *which)
{
    for (size_t k = 0; k < lo->n; k++) {
        if (fstatat(lo->fd[k], name, st, AT_SYMLINK_NOFOLLOW) == 0) {
            if (is_whiteout(lo->fd[k], name, st))
                return 0;
            *which = k;
            return 1;
        }
        if (errno != ENOENT)
            return -1;
    }
    return 0;
}

/* The lowers of directory name, found in lower `from` (a directory there): it and the same
 * directory of the lowers below, down to the first that hides them. */
static int lower_subdirs(const lowers_t *lo, size_t from, const char *name, lowers_t *out)
{
    out->n = 0;
    for (size_t k = from; k < lo->n; k++) {
        struct stat st;
        if (fstatat(lo->fd[k], name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
            if (errno == ENOENT)
                continue;
            return -1;
        }
        if (!S_ISDIR(st.st_mode))
            break; /* a whiteout or a file: nothing below shows */
        int fd = openat(lo->fd[k], name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
            return -1;
        out->fd[out->n++] = fd;
        if (is_opaque(lo->fd[k], name))
            break;
    }
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every name the merged lowers show (sorted, unique). */
static int lower_names(const lowers_t *lo, mj_strv_t *out)
{
    cleanup_strv mj_strv_t all = {0};
    for (size_t k = 0; k < lo->n; k++) {
        cleanup_strv mj_strv_t one = {0};
        if (mj_tree_list(lo->fd[k], &one) < 0)
            return -1;
        for (size_t i = 0; i < one.n; i++)
            mj_strv_push(&all, one.v[i]);
    }
    if (all.n > 1)
        qsort(all.v, all.n, sizeof(*all.v), cmp_str);
    for (size_t i = 0; i < all.n; i++) {
        struct stat st;
        size_t which;
        if (i > 0 && strcmp(all.v[i], all.v[i - 1]) == 0)
            continue;
        int r = lower_lookup(lo, all.v[i], &st, &which);
        if (r < 0)
            return -1;
        if (r == 1)
            mj_strv_push(out, all.v[i]);
    }
    return 0;
}

static int diff_dir(diff_ctx_t *c, int up, const lowers_t *lo, bool opaque, const char *rel, int depth);

/* Walks the upper directory name (stat ust) against the lowers' directory name, found in lower
 * `from` (lo NULL: none). */
static int diff_descend(diff_ctx_t *c, int up, const char *name, const struct stat *ust, const lowers_t *lo,
                        size_t from, bool opaque, const char *path, int depth)
{
    cleanup_close int usub = mj_tree_open_subdir(up, name, ust);
    if (usub < 0)
        return diff_error(c, errno, "open", c->upper, path);
    cleanup_lowers lowers_t lsub = {.n = 0};
    if (lo && lower_subdirs(lo, from, name, &lsub) < 0)
        return diff_error(c, errno, "open", c->lower, path);
    return diff_dir(c, usub, &lsub, opaque, path, depth + 1);
}

static int diff_upper(diff_ctx_t *c, int up, const lowers_t *lo, bool opaque, const char *name, const char *rel,
                      int depth)
{
    cleanup_free char *path = mj_tree_join(rel, name);
    struct stat ust, lst;
    if (fstatat(up, name, &ust, AT_SYMLINK_NOFOLLOW) < 0)
        return errno == ENOENT ? 0 : diff_error(c, errno, "stat", c->upper, path);
    size_t which = 0;
    int found = lower_lookup(lo, name, &lst, &which);
    if (found < 0)
        return diff_error(c, errno, "stat", c->lower, path);
    bool have_lo = found == 1;
    int lfd = have_lo ? lo->fd[which] : -1;
    if (is_whiteout(up, name, &ust))
        return have_lo ? emit(c, MJ_DIFF_DELETED, lfd, name, path, &lst) : 0;
    bool udir = S_ISDIR(ust.st_mode);
    if (!have_lo || (ust.st_mode & S_IFMT) != (lst.st_mode & S_IFMT)) {
        if (emit(c, have_lo ? MJ_DIFF_MODIFIED : MJ_DIFF_ADDED, up, name, path, &ust) < 0)
            return -1;
        return udir ? diff_descend(c, up, name, &ust, NULL, 0, false, path, depth) : 0;
    }
    bool perms = (ust.st_mode & 07777) != (lst.st_mode & 07777);
    if (udir) {
        /* Copied up to hold a change below: reported only when its own permissions changed.
         * Below an opaque directory nothing of the lower shows, at any depth. */
        if (perms && emit(c, MJ_DIFF_MODIFIED, up, name, path, &ust) < 0)
            return -1;
        return diff_descend(c, up, name, &ust, lo, which, opaque || is_opaque(up, name), path, depth);
    }
    bool differs = perms;
    if (!differs && S_ISLNK(ust.st_mode)) {
        cleanup_free char *ut = mj_tree_readlink_at(up, name);
        if (!ut)
            return diff_error(c, errno, "readlink", c->upper, path);
        cleanup_free char *lt = mj_tree_readlink_at(lfd, name);
        if (!lt)
            return diff_error(c, errno, "readlink", c->lower, path);
        differs = strcmp(ut, lt) != 0;
    } else if (!differs && S_ISREG(ust.st_mode)) {
        differs = ust.st_size != lst.st_size;
        /* metacopy: only the metadata was copied up, the data is still the lower's */
        if (!differs && overlay_xattr(up, name, "metacopy", NULL, 0) < 0) {
            int same = same_content(up, lfd, name);
            if (same < 0)
                return diff_error(c, errno, "read", c->upper, path);
            differs = !same;
        }
    } else if (!differs) {
        differs = ust.st_rdev != lst.st_rdev;
    }
    return differs ? emit(c, MJ_DIFF_MODIFIED, up, name, path, &ust) : 0;
}

static int diff_dir(diff_ctx_t *c, int up, const lowers_t *lo, bool opaque, const char *rel, int depth)
{
    if (depth > MJ_TREE_MAX_DEPTH)
        return mj_fail(c->err, mj_error_new(MJ_ERR_FILE_OPERATION_FAILED, ELOOP, "overlay diff %s: deeper than %d levels at '%s'",
                                            c->upper, MJ_TREE_MAX_DEPTH, rel));
    cleanup_strv mj_strv_t un = {0};
    cleanup_strv mj_strv_t ln = {0};
    if (mj_tree_list(up, &un) < 0)
        return diff_error(c, errno, "list", c->upper, rel);
    if (opaque && lower_names(lo, &ln) < 0)
        return diff_error(c, errno, "list", c->lower, rel);
    /* One sorted sequence of both: upper entries, and the lower entries an opaque directory hides. */
    size_t i = 0, j = 0;
    while (i < un.n || j < ln.n) {
        int cmp = i == un.n ? 1 : j == ln.n ? -1 : strcmp(un.v[i], ln.v[j]);
        if (cmp > 0) {
            struct stat lst;
            size_t which;
            const char *name = ln.v[j++];
            cleanup_free char *path = mj_tree_join(rel, name);
            int found = lower_lookup(lo, name, &lst, &which);
            if (found < 0)
                return diff_error(c, errno, "stat", c->lower, path);
            if (found == 1 && emit(c, MJ_DIFF_DELETED, lo->fd[which], name, path, &lst) < 0)
                return -1;
            continue;
        }
        if (cmp == 0)
            j++;
        if (diff_upper(c, up, lo, opaque, un.v[i++], rel, depth) < 0)
            return -1;
    }
    return 0;
}

static int diff_run_lowers(const char *upper, const char *const *lowers, size_t n, diff_item_fn fn, void *ud,
                           mj_error_t **err)
{
    if (!upper || !*upper || n == 0 || !lowers[0] || !*lowers[0])
        return mj_fail(err, mj_error_new(MJ_ERR_INVALID_CONFIG, EINVAL, "overlay diff: upper and lower directories are required"));
    if (n > MJ_DIFF_MAX_LOWERS)
        return mj_fail(err, mj_error_new(MJ_ERR_INVALID_CONFIG, E2BIG, "overlay diff: more than %d lower directories",
                                         MJ_DIFF_MAX_LOWERS));
    cleanup_close int up = mj_tree_open_dir(upper);
    if (up < 0)
        return mj_fail(err, mj_file_error(errno, "overlay diff: upper", upper));
    cleanup_lowers lowers_t lo = {.n = 0};
    for (size_t k = 0; k < n; k++) {
        int fd = mj_tree_open_dir(lowers[k]);
        if (fd < 0)
            return mj_fail(err, mj_file_error(errno, "overlay diff: lower", lowers[k]));
        lo.fd[lo.n++] = fd;
    }
    diff_ctx_t c = {.upper = upper, .lower = lowers[0], .fn = fn, .ud = ud, .err = err};
    return diff_dir(&c, up, &lo, is_opaque(up, "."), "", 1);
}

static int diff_run(const char *upper, const char *lower, diff_item_fn fn, void *ud, mj_error_t **err)
{
    return diff_run_lowers(upper, &lower, 1, fn, ud, err);
}

typedef struct {
    mj_diff_fn fn;
    void *ud;
} public_diff_t;

static int public_diff_item(const diff_item_t *it, void *ud, mj_error_t **err)
{
    public_diff_t *p = ud;
    if (p->fn(it->path, it->kind, it->st->st_mode, p->ud) == 0)
        return 0;
    if (err && *err)
        return -1; /* the callback said why */
    return mj_fail(err, mj_error_new(MJ_ERR_INVALID_STATE, ECANCELED, "overlay diff stopped at '%s'", it->path));
}

int mj_overlay_diff(const char *upper, const char *lower, mj_diff_fn fn, void *ud, mj_error_t **err)
{
    return mj_overlay_diff_lowers(upper, &lower, 1, fn, ud, err);
}

int mj_overlay_diff_lowers(const char *upper, const char *const *lowers, size_t n, mj_diff_fn fn, void *ud,
                           mj_error_t **err)
{
    if (!fn)
        return mj_fail(err, mj_error_new(MJ_ERR_INVALID_CONFIG, EINVAL, "overlay diff: a callback is required"));
    public_diff_t p = {.fn = fn, .ud = ud};
    return diff_run_lowers(upper, lowers, n, public_diff_item, &p, err);
}

/* ------------------------------------------------------------------ overlay export */

typedef struct {
    char *path;
    mode_t mode;
    struct timespec mtime;
} export_dir_t;

typedef struct {
    const char *upper;
    const char *dest;
    struct archive *tar;  /* tar export */
    int dest_fd;          /* directory export */
    export_dir_t *dirs;   /* directory export: modes and times applied at the end */
    size_t n_dirs;
} export_ctx_t;

/* The whiteout name of a deleted path: "dir/.wh.name". */
static char *whiteout_path(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return mj_xasprintf(".wh.%s", path);
    return mj_xasprintf("%.*s/.wh.%s", (int)(slash - path), path, slash + 1);
}

static int export_tar_item(export_ctx_t *x, const diff_item_t *it, mj_error_t **err)
{
    const struct stat *st = it->st;
    cleanup_free char *wh = NULL;
    cleanup_free char *target = NULL;
    cleanup_close int src = -1;
    struct archive_entry *ent = MJ_LAZY(MJ_LIB_ARCHIVE, archive_entry_new)();
    if (!ent)
        return mj_fail(err, mj_error_new(MJ_ERR_FILE_OPERATION_FAILED, ENOMEM, "export %s: out of memory", x->dest));
    uint64_t size = 0;
    if (it->kind == MJ_DIFF_DELETED) {
        wh = whiteout_path(it->path);
        MJ_LAZY(MJ_LIB_ARCHIVE, archive_entry_set_pathname)(ent, wh);
        MJ_LAZY(MJ_LIB_ARCHIVE, archive_entry_set_filetype)(ent, AE_IFREG);
        MJ_LAZY(MJ_LIB_ARCHIVE, archive_entry_set_perm)(ent, 0644);
        MJ_LAZY(MJ_LIB_ARCHIVE, archive_entry_set_size)(ent, 0);
    } else {
        MJ_LAZY(MJ_LIB_ARCHIVE, archive_entry_set_pathname)(ent, it->path);
        MJ_LAZY(MJ_LIB_ARCHIVE, archive_entry_set_perm)(ent, st->st_mode & 0777);
        MJ_LAZY(MJ_LIB_ARCHIVE, archive_entry_set_mtime)(ent, st->st_mtim.tv_sec, st->st_mtim.tv_nsec);
        if (S_ISDIR(st->st_mode)) {
            MJ_LAZY(MJ_LIB_ARCHIVE, archive_entry_set_filetype)(ent, AE_IFDIR);
        } else if (S_ISLNK(st->st_mode)) {
            if (!(target = mj_tree_readlink_at(it->dirfd, it->name))) {
                MJ_LAZY(MJ_LIB_ARCHIVE, archive_entry_free)(ent);
                return mj_fail(err, mj_file_error(errno, "export: readlink", it->path));
            }
            MJ_LAZY(MJ_LIB_ARCHIVE, archive_entry_set_filetype)(ent, AE_IFLNK);
            MJ_LAZY(MJ_LIB_ARCHIVE, archive_entry_set_symlink)(ent, target);
        } else if (S_ISREG(st->st_mode)) {
            struct stat now;
            src = openat(it->dirfd, it->name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
            if (src < 0 || fstat(src, &now) < 0 || !S_ISREG(now.st_mode)) {
                int e = src < 0 ? errno : EINVAL;
                MJ_LAZY(MJ_LIB_ARCHIVE, archive_entry_free)(ent);
                return mj_fail(err, mj_file_error(e, "export: read", it->path));
            }
            size = (uint64_t)now.st_size;
            MJ_LAZY(MJ_LIB_ARCHIVE, archive_entry_set_filetype)(ent, AE_IFREG);
            MJ_LAZY(MJ_LIB_ARCHIVE, archive_entry_set_size)(ent, (la_int64_t)size);
        } else {
            MJ_LAZY(MJ_LIB_ARCHIVE, archive_entry_free)(ent);
            return 0; /* fifos, sockets, devices: not part of an export */
        }
    }
    MJ_LAZY(MJ_LIB_ARCHIVE, archive_entry_set_uid)(ent, 0);
    MJ_LAZY(MJ_LIB_ARCHIVE, archive_entry_set_gid)(ent, 0);
    int r = MJ_LAZY(MJ_LIB_ARCHIVE, archive_write_header)(x->tar, ent);
    MJ_LAZY(MJ_LIB_ARCHIVE, archive_entry_free)(ent);
    if (r < ARCHIVE_WARN)
        return mj_fail(err, mj_error_new(MJ_ERR_FILE_OPERATION_FAILED, MJ_LAZY(MJ_LIB_ARCHIVE, archive_errno)(x->tar), "export %s: '%s': %s", x->dest,
                                         it->path, mj_archive_why(x->tar)));
    char buf[COPY_CHUNK];
    while (size > 0) {
        size_t want = size < sizeof(buf) ? (size_t)size : sizeof(buf);
        ssize_t n = mj_read_all(src, buf, want);
        if (n < 0 || (size_t)n != want)
            return mj_fail(err, mj_file_error(n < 0 ? errno : EIO, "export: read", it->path));
        if (MJ_LAZY(MJ_LIB_ARCHIVE, archive_write_data)(x->tar, buf, want) != (la_ssize_t)want)
            return mj_fail(err, mj_error_new(MJ_ERR_FILE_OPERATION_FAILED, MJ_LAZY(MJ_LIB_ARCHIVE, archive_errno)(x->tar), "export %s: '%s': %s",
                                             x->dest, it->path, mj_archive_why(x->tar)));
        size -= want;
    }
    return 0;
}

/* Opens the directory that will hold rel's last component inside dest, creating missing
 * directories (0755) on the way, never through a symlink.  *name points into rel. */
static int dest_parent(int dest, const char *rel, const char **name)
{
    const char *slash = strrchr(rel, '/');
    *name = slash ? slash + 1 : rel;
    int cur = openat(dest, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (cur < 0 || !slash)
        return cur;
    cleanup_free char *dirs = mj_xasprintf("%.*s", (int)(slash - rel), rel);
    char *save = NULL;
    for (char *comp = strtok_r(dirs, "/", &save); comp; comp = strtok_r(NULL, "/", &save)) {
        if (mkdirat(cur, comp, 0755) < 0 && errno != EEXIST) {
            int e = errno;
            close(cur);
            errno = e;
            return -1;
        }
        int next = openat(cur, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        int e = errno;
        close(cur);
        if (next < 0) {
            errno = e;
            return -1;
        }
        cur = next;
    }
    return cur;
}

static int export_dir_item(export_ctx_t *x, const diff_item_t *it, mj_error_t **err)
{
    const struct stat *st = it->st;
    cleanup_free char *rel = it->kind == MJ_DIFF_DELETED ? whiteout_path(it->path) : mj_xstrdup(it->path);
    cleanup_free char *shown = mj_xasprintf("%s/%s", x->dest, rel);
    const char *name;
    cleanup_close int parent = dest_parent(x->dest_fd, rel, &name);
    if (parent < 0)
        return mj_fail(err, mj_file_error(errno, "export: create", shown));
    if (it->kind == MJ_DIFF_DELETED) {
        cleanup_close int fd = openat(parent, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
        return fd < 0 ? mj_fail(err, mj_file_error(errno, "export: create", shown)) : 0;
    }
    struct timespec times[2] = {{.tv_nsec = UTIME_OMIT}, st->st_mtim};
    if (S_ISDIR(st->st_mode)) {
        /* 0700 while its contents are written; its own mode and time come last. */
        if (mkdirat(parent, name, 0700) < 0 && errno != EEXIST)
            return mj_fail(err, mj_file_error(errno, "export: mkdir", shown));
        x->dirs = mj_xrealloc(x->dirs, (x->n_dirs + 1) * sizeof(*x->dirs));
        x->dirs[x->n_dirs++] = (export_dir_t){.path = mj_xstrdup(rel), .mode = st->st_mode & 0777, .mtime = st->st_mtim};
        return 0;
    }
    if (S_ISLNK(st->st_mode)) {
        cleanup_free char *target = mj_tree_readlink_at(it->dirfd, it->name);
        if (!target)
            return mj_fail(err, mj_file_error(errno, "export: readlink", it->path));
        if (symlinkat(target, parent, name) < 0)
            return mj_fail(err, mj_file_error(errno, "export: symlink", shown));
        utimensat(parent, name, times, AT_SYMLINK_NOFOLLOW);
        return 0;
    }
    if (!S_ISREG(st->st_mode))
        return 0; /* fifos, sockets, devices: not part of an export */
    cleanup_close int src = openat(it->dirfd, it->name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    struct stat now;
    if (src < 0 || fstat(src, &now) < 0 || !S_ISREG(now.st_mode))
        return mj_fail(err, mj_file_error(src < 0 ? errno : EINVAL, "export: read", it->path));
    cleanup_close int out = openat(parent, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (out < 0)
        return mj_fail(err, mj_file_error(errno, "export: create", shown));
    if (copy_fd(src, out, (uint64_t)now.st_size) < 0)
        return mj_fail(err, mj_file_error(errno, "export: copy", shown));
    if (fchmod(out, now.st_mode & 0777) < 0 || futimens(out, times) < 0)
        return mj_fail(err, mj_file_error(errno, "export: chmod", shown));
    return 0;
}

static int export_item(const diff_item_t *it, void *ud, mj_error_t **err)
{
    export_ctx_t *x = ud;
    return x->tar ? export_tar_item(x, it, err) : export_dir_item(x, it, err);
}

/* Directory modes and times, children before parents (the reverse of the walk's order). */
static int export_finish_dirs(export_ctx_t *x, mj_error_t **err)
{
    for (size_t k = x->n_dirs; k-- > 0;) {
        export_dir_t *d = &x->dirs[k];
        const char *name;
        cleanup_close int parent = dest_parent(x->dest_fd, d->path, &name);
        cleanup_close int fd = parent < 0 ? -1 : openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        struct timespec times[2] = {{.tv_nsec = UTIME_OMIT}, d->mtime};
        if (fd < 0 || fchmod(fd, d->mode) < 0 || futimens(fd, times) < 0) {
            cleanup_free char *shown = mj_xasprintf("%s/%s", x->dest, d->path);
            return mj_fail(err, mj_file_error(errno, "export: chmod", shown));
        }
    }
    return 0;
}

static void export_ctx_free(export_ctx_t *x)
{
    for (size_t k = 0; k < x->n_dirs; k++)
        free(x->dirs[k].path);
    free(x->dirs);
}

static int export_tar(const char *upper, const char *lower, const char *dest, bool gzip, mj_error_t **err)
{
    cleanup_close int fd = open(dest, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0)
        return mj_fail(err, mj_file_error(errno, "export: create", dest));
    cleanup_archive_write struct archive *a = MJ_LAZY(MJ_LIB_ARCHIVE, archive_write_new)();
    int r = -1;
    if (!a || MJ_LAZY(MJ_LIB_ARCHIVE, archive_write_set_format_pax_restricted)(a) != ARCHIVE_OK ||
        (gzip && MJ_LAZY(MJ_LIB_ARCHIVE, archive_write_add_filter_gzip)(a) != ARCHIVE_OK) || MJ_LAZY(MJ_LIB_ARCHIVE, archive_write_open_fd)(a, fd) != ARCHIVE_OK) {
        mj_fail(err, mj_error_new(MJ_ERR_FILE_OPERATION_FAILED, a ? MJ_LAZY(MJ_LIB_ARCHIVE, archive_errno)(a) : ENOMEM, "export %s: %s", dest,
                                  a ? mj_archive_why(a) : "out of memory"));
    } else {
        export_ctx_t x = {.upper = upper, .dest = dest, .tar = a, .dest_fd = -1};
        r = diff_run(upper, lower, export_item, &x, err);
        if (r == 0 && MJ_LAZY(MJ_LIB_ARCHIVE, archive_write_close)(a) != ARCHIVE_OK)
            r = mj_fail(err, mj_error_new(MJ_ERR_FILE_OPERATION_FAILED, MJ_LAZY(MJ_LIB_ARCHIVE, archive_errno)(a), "export %s: %s", dest,
                                          mj_archive_why(a)));
    }
    mj_archive_write_freep(&a);
    a = NULL;
    if (close(mj_steal_fd(&fd)) < 0 && r == 0)
        r = mj_fail(err, mj_file_error(errno, "export: write", dest));
    if (r < 0)
        unlink(dest);
    return r;
}

static int export_dir(const char *upper, const char *lower, const char *dest, mj_error_t **err)
{
    bool created = mkdir(dest, 0755) == 0;
    if (!created && errno != EEXIST)
        return mj_fail(err, mj_file_error(errno, "export: mkdir", dest));
    cleanup_close int dfd = mj_tree_open_dir(dest);
    if (dfd < 0)
        return mj_fail(err, mj_file_error(errno, "export: open", dest));
    if (!created) {
        cleanup_strv mj_strv_t names = {0};
        if (mj_tree_list(dfd, &names) < 0)
            return mj_fail(err, mj_file_error(errno, "export: list", dest));
        if (names.n > 0)
            return mj_fail(err, mj_error_new(MJ_ERR_INVALID_CONFIG, EEXIST, "export %s: the directory exists and is not empty",
                                             dest));
    }
    export_ctx_t x = {.upper = upper, .dest = dest, .dest_fd = dfd};
    int r = diff_run(upper, lower, export_item, &x, err);
    if (r == 0)
        r = export_finish_dirs(&x, err);
    export_ctx_free(&x);
    if (r < 0) {
        /* Leave nothing half-written: what we made goes (the empty directory given stays). */
        mj_tree_clear_at(dfd, dest);
        if (created)
            rmdir(dest);
    }
    return r;
}

int mj_overlay_export(const char *upper, const char *lower, const char *dest, mj_error_t **err)
{
    if (mj_lib_open(MJ_LIB_ARCHIVE, err) < 0) /* tar exports write with it */
        return -1;
    if (!dest || !*dest)
        return mj_fail(err, mj_error_new(MJ_ERR_INVALID_CONFIG, EINVAL, "export: a destination path is required"));
    bool gz = ends_with(dest, ".tar.gz") || ends_with(dest, ".tgz");
    if (gz || ends_with(dest, ".tar"))
        return export_tar(upper, lower, dest, gz, err);
    cleanup_free char *d = mj_tree_strip_slashes(dest);
    return export_dir(upper, lower, d, err);
}

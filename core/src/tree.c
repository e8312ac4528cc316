/* tree.c — host file trees: the never-follow primitives the other tree facilities stand on
 * (opening, listing and reading links below a directory fd, and the file errors they report),
 * the walk of a tree and its removal.
 *
 * Owns: mj_file_error, mj_tree_open_dir, mj_tree_open_subdir, mj_tree_list, mj_tree_readlink_at,
 * mj_tree_walk, mj_tree_remove and mj_tree_clear_at.
 * Must never: follow a symlink inside a tree it walks or removes (every step below the given path
 * is an *at() call on a directory fd with O_NOFOLLOW), cross into another mount while removing,
 * or change the process's working directory.  It knows nothing of sandboxes, archives or Lua.
 */
#define _GNU_SOURCE
#include "tree.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "error.h"

/* ------------------------------------------------------------------ primitives */

mj_error_t *mj_file_error(int e, const char *op, const char *path)
{
    mj_error_code_t code = e == EACCES || e == EPERM ? MJ_ERR_PERMISSION_DENIED : MJ_ERR_FILE_OPERATION_FAILED;
    if (e == ELOOP)
        return mj_error_new(code, e, "%s %s: is a symbolic link (not followed)", op, path);
    return mj_error_sys(code, e, "%s %s", op, path);
}

char *mj_tree_strip_slashes(const char *path)
{
    char *p = mj_xstrdup(path);
    size_t n = strlen(p);
    while (n > 1 && p[n - 1] == '/')
        p[--n] = '\0';
    return p;
}

char *mj_tree_join(const char *rel, const char *name)
{
    return rel[0] ? mj_xasprintf("%s/%s", rel, name) : mj_xstrdup(name);
}

int mj_tree_open_dir(const char *path)
{
    cleanup_free char *p = mj_tree_strip_slashes(path);
    return open(p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

int mj_tree_open_subdir(int dirfd_, const char *name, const struct stat *st)
{
    int fd = openat(dirfd_, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return -1;
    struct stat now;
    if (st && (fstat(fd, &now) < 0 || now.st_dev != st->st_dev || now.st_ino != st->st_ino)) {
        close(fd);
        errno = ESTALE; /* replaced between fstatat and openat */
        return -1;
    }
    return fd;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int push_name(int dfd, const char *name, unsigned char type, void *ctx)
{
    (void)dfd;
    (void)type;
    mj_strv_push(ctx, name);
    return 0;
}

int mj_tree_list(int dirfd_, mj_strv_t *out)
{
    cleanup_close int fd = openat(dirfd_, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    if (mj_dir_each(fd, push_name, out) < 0) {
        int e = errno;
        mj_strv_free(out);
        errno = e;
        return -1;
    }
    if (out->n > 1)
        qsort(out->v, out->n, sizeof(*out->v), cmp_names);
    return 0;
}

char *mj_tree_readlink_at(int dirfd_, const char *name)
{
    for (size_t cap = 256; cap <= 2 * PATH_MAX; cap *= 2) {
        char *buf = mj_xmalloc(cap);
        ssize_t n = readlinkat(dirfd_, name, buf, cap);
        if (n < 0) {
            int e = errno;
            free(buf);
            errno = e;
            return NULL;
        }
        if ((size_t)n < cap) {
            buf[n] = '\0';
            return buf;
        }
        free(buf);
    }
    errno = ENAMETOOLONG;
    return NULL;
}

/* ------------------------------------------------------------------ walk */

typedef struct {
    const char *root;
    mj_tree_walk_fn fn;
    void *ud;
    mj_error_t **err;
} walk_ctx_t;

static int walk_dir(walk_ctx_t *c, int dfd, const char *rel, int depth)
{
    if (depth > MJ_TREE_MAX_DEPTH)
        return mj_fail(c->err, mj_error_new(MJ_ERR_FILE_OPERATION_FAILED, ELOOP, "walk %s: deeper than %d levels at '%s'",
                                            c->root, MJ_TREE_MAX_DEPTH, rel));
    cleanup_strv mj_strv_t names = {0};
    if (mj_tree_list(dfd, &names) < 0) {
        cleanup_free char *shown = mj_xasprintf("%s/%s", c->root, rel);
        return mj_fail(c->err, mj_file_error(errno, "walk: list", shown));
    }
    for (size_t i = 0; i < names.n; i++) {
        const char *name = names.v[i];
        cleanup_free char *path = mj_tree_join(rel, name);
        struct stat st;
        if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
            if (errno == ENOENT)
                continue; /* gone meanwhile */
            cleanup_free char *shown = mj_xasprintf("%s/%s", c->root, path);
            return mj_fail(c->err, mj_file_error(errno, "walk: stat", shown));
        }
        cleanup_free char *target = NULL;
        if (S_ISLNK(st.st_mode) && !(target = mj_tree_readlink_at(dfd, name))) {
            cleanup_free char *shown = mj_xasprintf("%s/%s", c->root, path);
            return mj_fail(c->err, mj_file_error(errno, "walk: readlink", shown));
        }
        mj_tree_entry_t e = {
            .path = path,
            .mode = st.st_mode,
            .size = (uint64_t)st.st_size,
            .dev = st.st_dev,
            .ino = st.st_ino,
            .nlink = st.st_nlink,
            .uid = st.st_uid,
            .gid = st.st_gid,
            .mtime = (double)st.st_mtim.tv_sec + (double)st.st_mtim.tv_nsec / 1e9,
            .link_target = target,
        };
        int r = c->fn(&e, c->ud);
        if (r < 0) {
            if (c->err && *c->err)
                return -1; /* the callback said why */
            return mj_fail(c->err, mj_error_new(MJ_ERR_INVALID_STATE, ECANCELED, "walk %s: walk stopped at '%s'", c->root, path));
        }
        if (r == 1 || !S_ISDIR(st.st_mode))
            continue;
        cleanup_close int sub = mj_tree_open_subdir(dfd, name, &st);
        if (sub < 0) {
            cleanup_free char *shown = mj_xasprintf("%s/%s", c->root, path);
            return mj_fail(c->err, mj_file_error(errno, "walk: open", shown));
        }
        if (walk_dir(c, sub, path, depth + 1) < 0)
            return -1;
    }
    return 0;
}

int mj_tree_walk(const char *root, mj_tree_walk_fn fn, void *ud, mj_error_t **err)
{
    if (!root || !*root || !fn)
        return mj_fail(err, mj_error_new(MJ_ERR_INVALID_CONFIG, EINVAL, "walk: a root directory and a callback are required"));
    cleanup_close int fd = mj_tree_open_dir(root);
    if (fd < 0) {
        if (errno == ENOTDIR || errno == ELOOP)
            return mj_fail(err, mj_error_new(MJ_ERR_INVALID_CONFIG, ENOTDIR,
                                             "walk %s: not a directory (symbolic links are not followed)", root));
        return mj_fail(err, mj_file_error(errno, "walk", root));
    }
    walk_ctx_t c = {.root = root, .fn = fn, .ud = ud, .err = err};
    return walk_dir(&c, fd, "", 1);
}

/* ------------------------------------------------------------------ remove */

typedef struct {
    const char *top;
    dev_t dev;
    mj_error_t **err;
} rm_ctx_t;

/* Whether fd is the root of a mount (a bind mount of the same file system keeps st_dev). */
static bool is_mount_root(int fd)
{
    struct statx stx;
    if (statx(fd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &stx) < 0)
        return false;
    return (stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) && (stx.stx_attributes & STATX_ATTR_MOUNT_ROOT);
}

static int rm_error(rm_ctx_t *c, int e, const char *op, const char *rel)
{
    cleanup_free char *shown = rel[0] ? mj_xasprintf("%s/%s", c->top, rel) : mj_xstrdup(c->top);
    return mj_fail(c->err, mj_file_error(e, op, shown));
}

static int rm_entry(rm_ctx_t *c, int parent, const char *name, const char *rel, int depth);

/* Deletes what is inside directory name of parent (which rel names for messages). */
static int rm_dir_contents(rm_ctx_t *c, int parent, const char *name, const char *rel, int depth)
{
    if (depth > MJ_TREE_MAX_DEPTH)
        return mj_fail(c->err, mj_error_new(MJ_ERR_FILE_OPERATION_FAILED, ELOOP, "remove %s: deeper than %d levels at '%s'",
                                            c->top, MJ_TREE_MAX_DEPTH, rel));
    cleanup_close int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 && errno == EACCES) {
        /* A sandbox may have left it 0000 or 0500: make it u+rwx through an O_PATH fd, which
         * never resolves a symlink (O_NOFOLLOW | O_DIRECTORY). */
        cleanup_close int p = openat(parent, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        struct stat pst;
        if (p >= 0 && fstat(p, &pst) == 0 && pst.st_dev == c->dev && !is_mount_root(p)) {
            char proc[64];
            snprintf(proc, sizeof(proc), "/proc/self/fd/%d", p);
            if (chmod(proc, (pst.st_mode & 07777) | S_IRWXU) == 0)
                fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            else
                errno = EACCES;
        } else {
            errno = EACCES;
        }
    }
    if (fd < 0)
        return rm_error(c, errno, "remove: open", rel);
    struct stat st;
    if (fstat(fd, &st) < 0)
        return rm_error(c, errno, "remove: stat", rel);
    if (st.st_dev != c->dev || is_mount_root(fd))
        return mj_fail(c->err, mj_error_new(MJ_ERR_FILE_OPERATION_FAILED, EXDEV,
                                            "remove %s: '%s' is another mount; not crossing into it", c->top, rel));
    if ((st.st_mode & S_IRWXU) != S_IRWXU && fchmod(fd, (st.st_mode & 07777) | S_IRWXU) < 0 && errno != EPERM)
        return rm_error(c, errno, "remove: chmod", rel);
    cleanup_strv mj_strv_t names = {0};
    if (mj_tree_list(fd, &names) < 0)
        return rm_error(c, errno, "remove: list", rel);
    for (size_t i = 0; i < names.n; i++) {
        cleanup_free char *sub = mj_tree_join(rel, names.v[i]);
        if (rm_entry(c, fd, names.v[i], sub, depth + 1) < 0)
            return -1;
    }
    return 0;
}

static int rm_entry(rm_ctx_t *c, int parent, const char *name, const char *rel, int depth)
{
    struct stat st;
    if (fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return errno == ENOENT ? 0 : rm_error(c, errno, "remove: stat", rel);
    if (!S_ISDIR(st.st_mode)) {
        if (unlinkat(parent, name, 0) < 0 && errno != ENOENT)
            return rm_error(c, errno, "remove", rel);
        return 0;
    }
    if (st.st_dev != c->dev)
        return mj_fail(c->err, mj_error_new(MJ_ERR_FILE_OPERATION_FAILED, EXDEV,
                                            "remove %s: '%s' is another mount; not crossing into it", c->top, rel));
    if (rm_dir_contents(c, parent, name, rel, depth) < 0)
        return -1;
    if (unlinkat(parent, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
        return rm_error(c, errno, "remove", rel);
    return 0;
}

int mj_tree_remove(const char *path, mj_error_t **err)
{
    if (!path || !*path)
        return mj_fail(err, mj_error_new(MJ_ERR_INVALID_CONFIG, EINVAL, "remove: a path is required"));
    cleanup_free char *p = mj_tree_strip_slashes(path);
    char *slash = strrchr(p, '/');
    const char *name = slash ? slash + 1 : p;
    if (!*name || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        return mj_fail(err, mj_error_new(MJ_ERR_INVALID_CONFIG, EINVAL, "remove %s: refusing to remove this path", path));
    const char *parent_path = ".";
    if (slash == p)
        parent_path = "/";
    else if (slash) {
        *slash = '\0';
        parent_path = p;
    }
    cleanup_close int parent = open(parent_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (parent < 0)
        return errno == ENOENT ? 0 : mj_fail(err, mj_file_error(errno, "remove", path));
    struct stat st;
    if (fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return errno == ENOENT ? 0 : mj_fail(err, mj_file_error(errno, "remove", path));
    if (S_ISDIR(st.st_mode)) {
        cleanup_close int top = openat(parent, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (top >= 0 && is_mount_root(top))
            return mj_fail(err, mj_error_new(MJ_ERR_FILE_OPERATION_FAILED, EBUSY,
                                             "remove %s: is a mount point; not removing it", path));
    }
    rm_ctx_t c = {.top = path, .dev = st.st_dev, .err = err};
    return rm_entry(&c, parent, name, "", 1);
}

void mj_tree_clear_at(int dfd, const char *shown)
{
    struct stat st;
    if (fstat(dfd, &st) < 0)
        return;
    rm_ctx_t c = {.top = shown, .dev = st.st_dev, .err = NULL};
    cleanup_strv mj_strv_t names = {0};
    if (mj_tree_list(dfd, &names) == 0)
        for (size_t i = 0; i < names.n; i++)
            rm_entry(&c, dfd, names.v[i], names.v[i], 2);
}

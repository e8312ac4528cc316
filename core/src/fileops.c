/* fileops.c — file operations on a sandbox's tree, done from the host.
 *
 * Every path is resolved inside the sandbox's root with openat2(RESOLVE_IN_ROOT |
 * RESOLVE_NO_MAGICLINKS) from the sandbox's root fd (mj_client_root_fd: from its supervisor), so
 * "..", absolute symlinks and symlinks to "/etc/shadow" planted by the sandbox all stay inside
 * it.  Final components are opened O_NOFOLLOW; data is read or written only through fds checked
 * to be regular files and opened O_NONBLOCK (a planted FIFO cannot hang the host).  Trees are
 * walked with *at() calls on directory fds, never by re-resolving path strings.  Files created
 * for the sandbox belong to its user (the mapped host ids).  Never: talks to the supervisor
 * itself (client.c does). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <signal.h>
#include <stdio.h>
#include <sys/fsuid.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>

#include "client.h"
#include "error.h"
#include "handle.h"
#include "util.h"

#define MJ_READ_DEFAULT_MAX ((size_t)1 << 30)

static int resolve(int root, const char *path, int flags, mode_t mode)
{
    struct open_how how = {
        .flags = (uint64_t)(flags | O_CLOEXEC),
        .mode = (flags & O_CREAT) ? mode : 0,
        .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
    };
    while (*path == '/')
        path++;
    if (!*path)
        path = ".";
    int fd;
    do
        fd = (int)syscall(SYS_openat2, root, path, &how, sizeof(how));
    while (fd < 0 && errno == EAGAIN);
    return fd;
}

static mj_error_t *file_error(int e, const char *op, const char *path)
{
    mj_error_code_t code = e == EACCES || e == EPERM ? MJ_ERR_PERMISSION_DENIED : MJ_ERR_FILE_OPERATION_FAILED;
    if (e == ELOOP)
        return mj_error_new(code, e, "%s %s: is a symbolic link (not followed)", op, path);
    if (e == ENXIO)
        return mj_error_new(code, e, "%s %s: is not a regular file", op, path);
    return mj_error_sys(code, e, "%s %s", op, path);
}

static int check_path(const char *path, mj_error_t **err)
{
    if (!path || path[0] != '/' || strlen(path) >= PATH_MAX) {
        *err = mj_error_new(MJ_ERR_INVALID_CONFIG, EINVAL, "path: expected an absolute path inside the sandbox, got '%s'",
                            path ? path : "(null)");
        return -1;
    }
    return 0;
}

/* The sandbox's root fd for an operation on path (checked to be absolute and of sane length). */
static int root_for(mj_sandbox_t *sb, const char *path, mj_error_t **err)
{
    if (check_path(path, err) < 0)
        return -1;
    return mj_client_root_fd(sb, err);
}

/* Splits path into its parent (resolved, O_PATH dir fd) and last component. */
static int open_parent(int root, const char *path, char name[NAME_MAX + 1])
{
    char buf[PATH_MAX];
    snprintf(buf, sizeof(buf), "%s", path);
    size_t n = strlen(buf);
    while (n > 1 && buf[n - 1] == '/')
        buf[--n] = '\0';
    char *slash = strrchr(buf, '/');
    const char *last = slash ? slash + 1 : buf;
    if (!*last || strcmp(last, ".") == 0 || strcmp(last, "..") == 0 || strlen(last) > NAME_MAX) {
        errno = EINVAL;
        return -1;
    }
    memcpy(name, last, strlen(last) + 1); /* length checked above */
    if (slash)
        *slash = '\0';
    return resolve(root, slash && slash != buf ? buf : "/", O_PATH | O_DIRECTORY, 0);
}

/* Files a sandbox owns live on file systems owned by its user namespace, where host root cannot
 * even create an inode (EOVERFLOW).  Creating and changing things inside is done with this
 * thread's fs ids set to the sandbox user's host ids: the kernel then checks permissions as that
 * user and new files belong to it.  Per-thread (setfsuid), restored right after. */
typedef struct {
    bool switched;
    int uid, gid;
} fs_ids_t;

static fs_ids_t as_sandbox_user(const mj_sandbox_t *sb)
{
    fs_ids_t saved = {0};
    if (sb->rootless)
        return saved; /* the caller's own ids are the ones mapped */
    saved.switched = true;
    saved.gid = setfsgid((gid_t)(sb->id_base + sb->gid));
    saved.uid = setfsuid((uid_t)(sb->id_base + sb->uid));
    return saved;
}

static void restore_ids(fs_ids_t *saved)
{
    if (!saved->switched)
        return;
    int e = errno;
    setfsuid((uid_t)saved->uid);
    setfsgid((gid_t)saved->gid);
    errno = e;
}

/* ------------------------------------------------------------------ missing parents */

/* Creates the directories missing above path (not path itself), as `mkdir -p` of its dirname:
 * each new one 0755 whatever the umask, owned by whoever this thread's fs ids say (callers switch
 * to the sandbox user first).  Every prefix is resolved inside the root; an existing component
 * that is not a directory fails with ENOTDIR. */
static int make_parents(int root, const char *path)
{
    char buf[PATH_MAX];
    snprintf(buf, sizeof(buf), "%s", path);
    size_t n = strlen(buf);
    while (n > 1 && buf[n - 1] == '/')
        buf[--n] = '\0';
    char *last = strrchr(buf, '/');
    if (!last || last == buf)
        return 0; /* the parent is the root */
    *last = '\0';
    for (char *p = buf + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char saved = *p;
        *p = '\0';
        cleanup_close int fd = resolve(root, buf, O_PATH | O_DIRECTORY, 0);
        if (fd < 0 && errno == ENOENT) {
            char name[NAME_MAX + 1];
            cleanup_close int dir = open_parent(root, buf, name);
            if (dir < 0)
                return -1;
            cleanup_close int rdir = openat(dir, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            if (rdir < 0 || (mkdirat(rdir, name, 0755) < 0 && errno != EEXIST))
                return -1;
            fd = openat(rdir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (fd < 0 || fchmod(fd, 0755) < 0)
                return -1;
        } else if (fd < 0) {
            return -1;
        }
        *p = saved;
        if (!saved)
            return 0;
    }
}

/* make_parents as the sandbox's user. */
static int make_parents_as_user(mj_sandbox_t *sb, int root, const char *path)
{
    fs_ids_t saved = as_sandbox_user(sb);
    int r = make_parents(root, path);
    restore_ids(&saved);
    return r;
}

static int sandbox_write_file_as_user(mj_sandbox_t *sb, const char *path, const void *data, size_t len, unsigned mode,
                          mj_error_t **err)
{
    int root = root_for(sb, path, err);
    if (root < 0)
        return -1;
    char name[NAME_MAX + 1];
    if (make_parents(root, path) < 0) {
        *err = file_error(errno, "write", path);
        return -1;
    }
    cleanup_close int dir = open_parent(root, path, name);
    if (dir < 0) {
        *err = file_error(errno, "write", path);
        return -1;
    }
    cleanup_close int fd = openat(dir, name, O_WRONLY | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, mode & 07777);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        *err = file_error(fd < 0 ? errno : ENXIO, "write", path);
        return -1;
    }
    if (ftruncate(fd, 0) < 0 || (len && mj_write_all(fd, data, len) < 0)) {
        *err = file_error(errno, "write", path);
        return -1;
    }
    if (fchmod(fd, mode & 07777) < 0) {
        *err = file_error(errno, "chmod", path);
        return -1;
    }
    return 0;
}

static int read_fd_all(int fd, size_t max, char **data, size_t *len)
{
    struct stat st;
    if (fstat(fd, &st) < 0)
        return -1;
    if (!S_ISREG(st.st_mode)) {
        errno = ENXIO;
        return -1;
    }
    if ((uint64_t)st.st_size > max) {
        errno = EFBIG;
        return -1;
    }
    mj_buf_t b = {0};
    mj_buf_append(&b, "", 0);
    char chunk[65536];
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            mj_buf_free(&b);
            return -1;
        }
        if (n == 0)
            break;
        if (b.len + (size_t)n > max) {
            mj_buf_free(&b);
            errno = EFBIG;
            return -1;
        }
        mj_buf_append(&b, chunk, (size_t)n);
    }
    *data = b.data;
    *len = b.len;
    return 0;
}

int mj_sandbox_read_file(mj_sandbox_t *sb, const char *path, size_t max, char **data, size_t *len, mj_error_t **err)
{
    int root = root_for(sb, path, err);
    if (root < 0)
        return -1;
    cleanup_close int fd = resolve(root, path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK, 0);
    if (fd < 0 || read_fd_all(fd, max ? max : MJ_READ_DEFAULT_MAX, data, len) < 0) {
        *err = file_error(errno, "read", path);
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------ listing */

/* Names from the sandbox's own /etc/passwd or /etc/group. */
static void lookup_name(int root, const char *file, unsigned id, char *out, size_t outlen)
{
    snprintf(out, outlen, "%u", id);
    int fd = resolve(root, file, O_RDONLY | O_NOFOLLOW | O_NONBLOCK, 0);
    if (fd < 0)
        return;
    char *data = NULL;
    size_t len = 0;
    int r = read_fd_all(fd, 1 << 20, &data, &len);
    close(fd);
    if (r < 0)
        return;
    for (char *save = NULL, *ln = strtok_r(data, "\n", &save); ln; ln = strtok_r(NULL, "\n", &save)) {
        char *f1 = strchr(ln, ':');
        char *f2 = f1 ? strchr(f1 + 1, ':') : NULL;
        if (!f2)
            continue;
        char *end;
        unsigned long v = strtoul(f2 + 1, &end, 10);
        if (end != f2 + 1 && *end == ':' && v == id) {
            *f1 = '\0';
            snprintf(out, outlen, "%s", ln);
            break;
        }
    }
    free(data);
}

static unsigned inside_id(const mj_sandbox_t *sb, unsigned host_id, bool is_uid)
{
    if (sb->rootless) {
        unsigned mine = is_uid ? sb->host_uid : sb->host_gid;
        return host_id == mine ? (is_uid ? sb->uid : sb->gid) : 65534;
    }
    if (host_id >= sb->id_base && host_id < sb->id_base + 65536)
        return host_id - (unsigned)sb->id_base;
    return 65534;
}

static void perm_string(mode_t m, char out[11])
{
    out[0] = S_ISDIR(m) ? 'd' : S_ISLNK(m) ? 'l' : S_ISCHR(m) ? 'c' : S_ISBLK(m) ? 'b' : S_ISFIFO(m) ? 'p' : S_ISSOCK(m) ? 's' : '-';
    const char *rwx = "rwxrwxrwx";
    for (int i = 0; i < 9; i++)
        out[1 + i] = (m & (1u << (8 - i))) ? rwx[i] : '-';
    if (m & S_ISUID)
        out[3] = (m & S_IXUSR) ? 's' : 'S';
    if (m & S_ISGID)
        out[6] = (m & S_IXGRP) ? 's' : 'S';
    if (m & S_ISVTX)
        out[9] = (m & S_IXOTH) ? 't' : 'T';
    out[10] = '\0';
}

static void fill_info(mj_sandbox_t *sb, int root, const char *dirpath, const char *name, const struct stat *st,
                      mj_file_info_t *fi)
{
    memset(fi, 0, sizeof(*fi));
    fi->name = mj_xstrdup(name);
    if (strcmp(dirpath, "/") == 0)
        fi->path = mj_xasprintf("/%s", name);
    else
        fi->path = mj_xasprintf("%s/%s", dirpath, name);
    fi->size = (uint64_t)st->st_size;
    fi->mode = st->st_mode;
    fi->mod_time = (double)st->st_mtim.tv_sec + (double)st->st_mtim.tv_nsec / 1e9;
    fi->is_dir = S_ISDIR(st->st_mode);
    fi->is_link = S_ISLNK(st->st_mode);
    char owner[64], group[64], perms[11];
    lookup_name(root, "/etc/passwd", inside_id(sb, st->st_uid, true), owner, sizeof(owner));
    lookup_name(root, "/etc/group", inside_id(sb, st->st_gid, false), group, sizeof(group));
    perm_string(st->st_mode, perms);
    fi->owner = mj_xstrdup(owner);
    fi->group = mj_xstrdup(group);
    fi->permissions = mj_xstrdup(perms);
}

void mj_file_info_clear(mj_file_info_t *fi)
{
    if (!fi)
        return;
    free(fi->name);
    free(fi->path);
    free(fi->owner);
    free(fi->group);
    free(fi->permissions);
    memset(fi, 0, sizeof(*fi));
}

void mj_file_infos_free(mj_file_info_t *v, size_t n)
{
    if (!v)
        return;
    for (size_t i = 0; i < n; i++)
        mj_file_info_clear(&v[i]);
    free(v);
}

static int cmp_info(const void *a, const void *b)
{
    return strcmp(((const mj_file_info_t *)a)->name, ((const mj_file_info_t *)b)->name);
}

/* Normalises a path for display: collapses slashes, drops a trailing one. */
static void clean_display(const char *path, char out[PATH_MAX])
{
    size_t o = 0;
    for (const char *p = path; *p && o < PATH_MAX - 1; p++) {
        if (*p == '/' && o > 0 && out[o - 1] == '/')
            continue;
        out[o++] = *p;
    }
    while (o > 1 && out[o - 1] == '/')
        o--;
    out[o] = '\0';
}

int mj_sandbox_stat(mj_sandbox_t *sb, const char *path, mj_file_info_t *out, mj_error_t **err)
{
    int root = root_for(sb, path, err);
    if (root < 0)
        return -1;
    cleanup_close int fd = resolve(root, path, O_PATH | O_NOFOLLOW, 0);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) {
        *err = file_error(errno, "stat", path);
        return -1;
    }
    char disp[PATH_MAX];
    clean_display(path, disp);
    const char *slash = strrchr(disp, '/');
    const char *name = slash && slash[1] ? slash + 1 : "/";
    fill_info(sb, root, "/", name, &st, out);
    free(out->path);
    out->path = mj_xstrdup(disp);
    return 0;
}

typedef struct {
    mj_sandbox_t *sb;
    int root;
    char disp[PATH_MAX];
    mj_file_info_t *v;
    size_t n, cap;
} listing_t;

static int list_entry(int dfd, const char *name, unsigned char type, void *ctx)
{
    (void)type;
    listing_t *l = ctx;
    struct stat st;
    if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return 0;
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 32;
        l->v = mj_xrealloc(l->v, l->cap * sizeof(*l->v));
    }
    fill_info(l->sb, l->root, l->disp, name, &st, &l->v[l->n++]);
    return 0;
}

int mj_sandbox_list_files(mj_sandbox_t *sb, const char *path, mj_file_info_t **out, size_t *count, mj_error_t **err)
{
    *out = NULL;
    *count = 0;
    int root = root_for(sb, path, err);
    if (root < 0)
        return -1;
    cleanup_close int fd = resolve(root, path, O_RDONLY | O_DIRECTORY, 0);
    if (fd < 0) {
        if (errno == ENOTDIR) {
            mj_file_info_t *one = mj_xcalloc(1, sizeof(*one));
            if (mj_sandbox_stat(sb, path, one, err) < 0) {
                free(one);
                return -1;
            }
            *out = one;
            *count = 1;
            return 0;
        }
        *err = file_error(errno, "list", path);
        return -1;
    }
    listing_t l = {.sb = sb, .root = root};
    clean_display(path, l.disp);
    (void)mj_dir_each(fd, list_entry, &l); /* an entry that cannot be read is left out */
    qsort(l.v, l.n, sizeof(*l.v), cmp_info);
    *out = l.v ? l.v : mj_xcalloc(1, sizeof(*l.v));
    *count = l.n;
    return 0;
}

/* ------------------------------------------------------------------ mkdir, remove */

static int sandbox_mkdir_as_user(mj_sandbox_t *sb, const char *path, unsigned mode, mj_error_t **err)
{
    int root = root_for(sb, path, err);
    if (root < 0)
        return -1;
    char name[NAME_MAX + 1];
    cleanup_close int dir = open_parent(root, path, name);
    if (dir < 0 || (mkdirat(dir, name, mode & 07777) < 0 && errno != EEXIST)) {
        *err = file_error(errno, "mkdir", path);
        return -1;
    }
    cleanup_close int fd = openat(dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        *err = file_error(errno, "mkdir", path);
        return -1;
    }
    return 0;
}

static int remove_at(int dirfd_, const char *name, bool recursive, int depth);

typedef struct {
    int depth;
    int failed;
} removal_t;

static int remove_entry(int dfd, const char *name, unsigned char type, void *ctx)
{
    (void)type;
    removal_t *r = ctx;
    if (remove_at(dfd, name, true, r->depth) < 0)
        r->failed = -1; /* go on: remove what can be removed */
    return 0;
}

static int remove_at(int dirfd_, const char *name, bool recursive, int depth)
{
    if (unlinkat(dirfd_, name, 0) == 0)
        return 0;
    if (errno != EISDIR && errno != EPERM)
        return -1;
    if (!recursive)
        return unlinkat(dirfd_, name, AT_REMOVEDIR);
    if (depth > 256) {
        errno = ELOOP;
        return -1;
    }
    cleanup_close int fd = openat(dirfd_, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return -1;
    removal_t r = {.depth = depth + 1};
    (void)mj_dir_each(fd, remove_entry, &r);
    return r.failed < 0 ? -1 : unlinkat(dirfd_, name, AT_REMOVEDIR);
}

static int sandbox_remove_as_user(mj_sandbox_t *sb, const char *path, bool recursive, mj_error_t **err)
{
    int root = root_for(sb, path, err);
    if (root < 0)
        return -1;
    char name[NAME_MAX + 1];
    cleanup_close int dir = open_parent(root, path, name);
    if (dir < 0) {
        *err = file_error(errno, "remove", path);
        return -1;
    }
    /* unlinkat needs a real directory fd */
    cleanup_close int rdir = openat(dir, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (rdir < 0 || remove_at(rdir, name, recursive, 0) < 0) {
        *err = file_error(errno, "remove", path);
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------ copy in / out */

static int copy_data(int in, int out)
{
    char buf[65536];
    for (;;) {
        ssize_t n = read(in, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (n == 0)
            return 0;
        if (mj_write_all(out, buf, (size_t)n) < 0)
            return -1;
    }
}

/* One copy between the host and a sandbox: the same walk both ways, with what differs explicit. */
typedef struct {
    mj_sandbox_t *sb; /* into the sandbox: created as its user, its files checked; NULL: out to the host */
    mode_t mode_mask; /* 07777 into the sandbox; 0777 out of it: never carry setuid/setgid bits out */
} copy_t;

typedef struct {
    const copy_t *c;
    int dst_dir, depth;
} copy_level_t;

static int copy_at(const copy_t *c, int src_dir, const char *name, int dst_dir, const char *dname, int depth);

static int copy_entry(int dfd, const char *name, unsigned char type, void *ctx)
{
    (void)type;
    const copy_level_t *l = ctx;
    return copy_at(l->c, dfd, name, l->dst_dir, name, l->depth);
}

static fs_ids_t as_owner(const copy_t *c)
{
    fs_ids_t none = {0};
    return c->sb ? as_sandbox_user(c->sb) : none;
}

/* (src_dir, name) -> (dst_dir, dname); symlinks copied as links, never followed.  The side the
 * sandbox owns (the destination going in, the source coming out) is opened O_NONBLOCK and checked
 * to be a regular file, so a FIFO planted there cannot hang the host. */
static int copy_at(const copy_t *c, int src_dir, const char *name, int dst_dir, const char *dname, int depth)
{
    bool into = c->sb != NULL;
    if (depth > 256) {
        errno = ELOOP;
        return -1;
    }
    struct stat st;
    if (fstatat(src_dir, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return -1;
    if (S_ISLNK(st.st_mode)) {
        char target[PATH_MAX];
        ssize_t n = readlinkat(src_dir, name, target, sizeof(target) - 1);
        if (n < 0)
            return -1;
        target[n] = '\0';
        fs_ids_t ids = as_owner(c);
        unlinkat(dst_dir, dname, 0);
        int r = symlinkat(target, dst_dir, dname);
        restore_ids(&ids);
        return r;
    }
    if (S_ISDIR(st.st_mode)) {
        fs_ids_t ids = as_owner(c);
        int made = mkdirat(dst_dir, dname, 0700);
        cleanup_close int d_out = made == 0 || errno == EEXIST
                                      ? openat(dst_dir, dname, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                                      : -1;
        restore_ids(&ids);
        if (d_out < 0)
            return -1;
        cleanup_close int d_in = openat(src_dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (d_in < 0)
            return -1;
        copy_level_t level = {.c = c, .dst_dir = d_out, .depth = depth + 1};
        if (mj_dir_each(d_in, copy_entry, &level) < 0)
            return -1;
        ids = as_owner(c);
        int r = fchmod(d_out, st.st_mode & c->mode_mask);
        restore_ids(&ids);
        return r;
    }
    if (!S_ISREG(st.st_mode))
        return 0; /* devices, fifos, sockets are not copied */
    cleanup_close int in = openat(src_dir, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (in < 0)
        return -1;
    struct stat fst;
    if (!into && fstat(in, &fst) < 0)
        return -1;
    if (!into && !S_ISREG(fst.st_mode)) {
        errno = ENXIO;
        return -1;
    }
    fs_ids_t ids = as_owner(c);
    int oflags = O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC | (into ? O_NONBLOCK : O_TRUNC);
    cleanup_close int out = openat(dst_dir, dname, oflags, 0600);
    restore_ids(&ids);
    if (out < 0)
        return -1;
    if (into && fstat(out, &fst) < 0)
        return -1;
    if (into && !S_ISREG(fst.st_mode)) {
        errno = ENXIO;
        return -1;
    }
    if ((into && ftruncate(out, 0) < 0) || copy_data(in, out) < 0)
        return -1;
    ids = as_owner(c);
    int r = fchmod(out, st.st_mode & c->mode_mask);
    restore_ids(&ids);
    return r;
}

static const char *base_name(const char *path, char buf[PATH_MAX])
{
    snprintf(buf, PATH_MAX, "%s", path);
    size_t n = strlen(buf);
    while (n > 1 && buf[n - 1] == '/')
        buf[--n] = '\0';
    const char *s = strrchr(buf, '/');
    return s ? s + 1 : buf;
}

/* The host directory that holds path (its dirname: "/" or "." where it has none). */
static void host_parent(const char *path, char out[PATH_MAX])
{
    snprintf(out, PATH_MAX, "%s", path);
    char *slash = strrchr(out, '/');
    if (slash == out)
        out[1] = '\0';
    else if (slash)
        *slash = '\0';
    else
        snprintf(out, PATH_MAX, ".");
}

int mj_sandbox_copy_in(mj_sandbox_t *sb, const char *host_src, const char *dest, mj_error_t **err)
{
    int root = root_for(sb, dest, err);
    if (root < 0)
        return -1;
    char bbuf[PATH_MAX], hostdir[PATH_MAX];
    const char *bname = base_name(host_src ? host_src : "", bbuf);
    host_parent(host_src ? host_src : "", hostdir);
    cleanup_close int src_dir = open(hostdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    struct stat hst;
    if (!host_src || src_dir < 0 || fstatat(src_dir, bname, &hst, AT_SYMLINK_NOFOLLOW) < 0) {
        *err = mj_error_sys(MJ_ERR_FILE_OPERATION_FAILED, errno, "copy: host source '%s'", host_src ? host_src : "");
        return -1;
    }
    /* dest an existing directory: copy into it under the source's name (cp / docker cp rules). */
    cleanup_close int dest_dir = resolve(root, dest, O_PATH | O_DIRECTORY, 0);
    int parent = -1;
    char name[NAME_MAX + 1];
    const char *dname;
    if (dest_dir >= 0) {
        parent = dest_dir;
        dname = bname;
    } else {
        if (make_parents_as_user(sb, root, dest) < 0) {
            *err = file_error(errno, "copy to", dest);
            return -1;
        }
        parent = open_parent(root, dest, name);
        if (parent < 0) {
            *err = file_error(errno, "copy to", dest);
            return -1;
        }
        dname = name;
    }
    cleanup_close int rparent = openat(parent, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (parent != dest_dir)
        close(parent);
    copy_t in = {.sb = sb, .mode_mask = 07777};
    if (rparent < 0 || copy_at(&in, src_dir, bname, rparent, dname, 0) < 0) {
        *err = file_error(errno, "copy to", dest);
        return -1;
    }
    return 0;
}

int mj_sandbox_copy_out(mj_sandbox_t *sb, const char *src, const char *host_dest, mj_error_t **err)
{
    int root = root_for(sb, src, err);
    if (root < 0)
        return -1;
    char name[NAME_MAX + 1];
    bool src_is_root = strspn(src, "/") == strlen(src);
    cleanup_close int sparent = src_is_root ? -1 : open_parent(root, src, name);
    cleanup_close int rsparent = sparent >= 0 ? openat(sparent, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
    if (rsparent < 0) {
        *err = src_is_root ? mj_error_new(MJ_ERR_INVALID_CONFIG, EINVAL, "copy: cannot copy the whole root out")
                           : file_error(errno, "copy from", src);
        return -1;
    }
    struct stat sst;
    if (fstatat(rsparent, name, &sst, AT_SYMLINK_NOFOLLOW) < 0) {
        *err = file_error(errno, "copy from", src);
        return -1;
    }
    /* host_dest an existing directory: copy into it under the source's name. */
    char hb[PATH_MAX], hostdir[PATH_MAX];
    struct stat hst;
    const char *dname;
    if (host_dest && stat(host_dest, &hst) == 0 && S_ISDIR(hst.st_mode)) {
        snprintf(hostdir, sizeof(hostdir), "%s", host_dest);
        dname = name;
    } else {
        dname = base_name(host_dest ? host_dest : "", hb);
        host_parent(host_dest ? host_dest : "", hostdir);
    }
    cleanup_close int ddir = open(hostdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (!host_dest || ddir < 0) {
        *err = mj_error_sys(MJ_ERR_FILE_OPERATION_FAILED, errno, "copy: host destination '%s'",
                            host_dest ? host_dest : "");
        return -1;
    }
    copy_t out = {.sb = NULL, .mode_mask = 0777};
    if (copy_at(&out, rsparent, name, ddir, dname, 0) < 0) {
        *err = file_error(errno, "copy from", src);
        return -1;
    }
    return 0;
}

int mj_sandbox_write_file(mj_sandbox_t *sb, const char *path, const void *data, size_t len, unsigned mode,
                          mj_error_t **err)
{
    if (mj_client_root_fd(sb, err) < 0)
        return -1;
    fs_ids_t saved = as_sandbox_user(sb);
    int r = sandbox_write_file_as_user(sb, path, data, len, mode, err);
    restore_ids(&saved);
    return r;
}

int mj_sandbox_mkdir(mj_sandbox_t *sb, const char *path, unsigned mode, mj_error_t **err)
{
    if (mj_client_root_fd(sb, err) < 0)
        return -1;
    fs_ids_t saved = as_sandbox_user(sb);
    int r = sandbox_mkdir_as_user(sb, path, mode, err);
    restore_ids(&saved);
    return r;
}

int mj_sandbox_remove(mj_sandbox_t *sb, const char *path, bool recursive, mj_error_t **err)
{
    if (mj_client_root_fd(sb, err) < 0)
        return -1;
    fs_ids_t saved = as_sandbox_user(sb);
    int r = sandbox_remove_as_user(sb, path, recursive, err);
    restore_ids(&saved);
    return r;
}

/* fileops.c — reading, writing, listing and removing a sandbox's files from the host.
 *
 * Each operation runs on a view of the sandbox (fsview.c): its paths resolved inside its root,
 * every step done as its user — the ids, groups, capabilities and Landlock rules its commands
 * have — so the host sees and changes exactly what a command could.  Final components are opened
 * O_NOFOLLOW; data is read or written only through fds checked to be regular files and opened
 * O_NONBLOCK (a planted FIFO cannot hang the host).  Trees are walked with *at() calls on
 * directory fds, never by re-resolving path strings.  Files created for the sandbox belong to its
 * user.  Never: talks to the supervisor itself (client.c does), or acts in a sandbox with the
 * caller's own rights; copies are fscopy.c's. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <sys/stat.h>

#include "error.h"
#include "fsview.h"
#include "handle.h"
#include "util.h"

#define MJ_READ_DEFAULT_MAX ((size_t)1 << 30)

/* One operation on one path, run as the sandbox's user: the specific jobs below start with it. */
typedef struct {
    mj_sandbox_t *sb;
    const char *path;
    int root;       /* the sandbox's "/", set by run_job */
    const char *op; /* the step that failed, for the error ("write", "chmod") */
    char name[NAME_MAX + 1]; /* the last component, once parent_of resolved its directory */
} job_t;

/* On the worker: an O_PATH fd of the directory that holds j->path, its last component in j->name. */
static int parent_of(job_t *j)
{
    return mj_fsview_open_parent(j->root, j->path, j->name);
}

/* Runs fn(j) on a view of j->sb opened for j->path; "<op> <path>: …" when fn fails. */
static int run_job(job_t *j, int (*fn)(void *job), mj_error_t **err)
{
    mj_fsview_t v;
    if (mj_fsview_open(&v, j->sb, j->path, err) < 0)
        return -1;
    j->root = v.root;
    if (mj_fsview_run(&v, fn, j) < 0) {
        *err = mj_fsview_error(errno, j->op, j->path);
        return -1;
    }
    return 0;
}

/* A change inside: write_file's data and mode, mkdir's mode, remove's recursion. */
typedef struct {
    job_t h;
    const void *data;
    size_t len;
    unsigned mode;
    bool recursive;
} change_job_t;

static int write_job(void *arg)
{
    change_job_t *j = arg;
    if (mj_fsview_make_parents(j->h.root, j->h.path) < 0) /* missing parents, as E2B and Daytona do */
        return -1;
    cleanup_close int dir = parent_of(&j->h);
    if (dir < 0)
        return -1;
    cleanup_close int fd =
        openat(dir, j->h.name, O_WRONLY | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, j->mode & 07777);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0)
        return -1;
    if (!S_ISREG(st.st_mode)) {
        errno = ENXIO;
        return -1;
    }
    if (ftruncate(fd, 0) < 0 || (j->len && mj_write_all(fd, j->data, j->len) < 0))
        return -1;
    j->h.op = "chmod";
    return fchmod(fd, j->mode & 07777);
}

int mj_sandbox_write_file(mj_sandbox_t *sb, const char *path, const void *data, size_t len, unsigned mode,
                          mj_error_t **err)
{
    change_job_t j = {.h = {.sb = sb, .path = path, .op = "write"}, .data = data, .len = len, .mode = mode};
    return run_job(&j.h, write_job, err);
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

typedef struct {
    job_t h;
    size_t max;
    char *data;
    size_t len;
} read_job_t;

static int read_job(void *arg)
{
    read_job_t *j = arg;
    cleanup_close int fd = mj_fsview_resolve(j->h.root, j->h.path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK, 0);
    return fd < 0 ? -1 : read_fd_all(fd, j->max, &j->data, &j->len);
}

int mj_sandbox_read_file(mj_sandbox_t *sb, const char *path, size_t max, char **data, size_t *len, mj_error_t **err)
{
    read_job_t j = {.h = {.sb = sb, .path = path, .op = "read"}, .max = max ? max : MJ_READ_DEFAULT_MAX};
    if (run_job(&j.h, read_job, err) < 0)
        return -1;
    *data = j.data;
    *len = j.len;
    return 0;
}

/* ------------------------------------------------------------------ listing */

/* Names from the sandbox's own /etc/passwd or /etc/group. */
static void lookup_name(int root, const char *file, unsigned id, char *out, size_t outlen)
{
    snprintf(out, outlen, "%u", id);
    int fd = mj_fsview_resolve(root, file, O_RDONLY | O_NOFOLLOW | O_NONBLOCK, 0);
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

typedef struct {
    job_t h;
    mj_file_info_t *v;
    size_t n, cap;
    char disp[PATH_MAX];
} listing_t;

/* The one entry of the listing: h->path itself. */
static int stat_job(void *arg)
{
    listing_t *l = arg;
    cleanup_close int fd = mj_fsview_resolve(l->h.root, l->h.path, O_PATH | O_NOFOLLOW, 0);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0)
        return -1;
    clean_display(l->h.path, l->disp);
    const char *slash = strrchr(l->disp, '/');
    const char *name = slash && slash[1] ? slash + 1 : "/";
    l->v = mj_xcalloc(1, sizeof(*l->v));
    l->n = 1;
    fill_info(l->h.sb, l->h.root, "/", name, &st, l->v);
    free(l->v->path);
    l->v->path = mj_xstrdup(l->disp);
    return 0;
}

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
    fill_info(l->h.sb, l->h.root, l->disp, name, &st, &l->v[l->n++]);
    return 0;
}

static int list_job(void *arg)
{
    listing_t *l = arg;
    cleanup_close int fd = mj_fsview_resolve(l->h.root, l->h.path, O_RDONLY | O_DIRECTORY, 0);
    if (fd < 0 && errno == ENOTDIR) {
        l->h.op = "stat";
        return stat_job(l);
    }
    if (fd < 0)
        return -1;
    clean_display(l->h.path, l->disp);
    (void)mj_dir_each(fd, list_entry, l); /* an entry that cannot be read is left out */
    if (l->n > 1)
        qsort(l->v, l->n, sizeof(*l->v), cmp_info);
    if (!l->v)
        l->v = mj_xcalloc(1, sizeof(*l->v));
    return 0;
}

int mj_sandbox_stat(mj_sandbox_t *sb, const char *path, mj_file_info_t *out, mj_error_t **err)
{
    listing_t l = {.h = {.sb = sb, .path = path, .op = "stat"}};
    if (run_job(&l.h, stat_job, err) < 0)
        return -1;
    *out = l.v[0];
    free(l.v);
    return 0;
}

int mj_sandbox_list_files(mj_sandbox_t *sb, const char *path, mj_file_info_t **out, size_t *count, mj_error_t **err)
{
    *out = NULL;
    *count = 0;
    listing_t l = {.h = {.sb = sb, .path = path, .op = "list"}};
    if (run_job(&l.h, list_job, err) < 0) {
        mj_file_infos_free(l.v, l.n);
        return -1;
    }
    *out = l.v;
    *count = l.n;
    return 0;
}

/* ------------------------------------------------------------------ mkdir, remove */

static int mkdir_job(void *arg)
{
    change_job_t *j = arg;
    cleanup_close int dir = parent_of(&j->h);
    if (dir < 0 || (mkdirat(dir, j->h.name, j->mode & 07777) < 0 && errno != EEXIST))
        return -1;
    cleanup_close int fd = openat(dir, j->h.name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    return fd < 0 ? -1 : 0;
}

int mj_sandbox_mkdir(mj_sandbox_t *sb, const char *path, unsigned mode, mj_error_t **err)
{
    change_job_t j = {.h = {.sb = sb, .path = path, .op = "mkdir"}, .mode = mode};
    return run_job(&j.h, mkdir_job, err);
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

static int remove_job(void *arg)
{
    change_job_t *j = arg;
    cleanup_close int dir = parent_of(&j->h);
    if (dir < 0)
        return -1;
    /* unlinkat needs a real directory fd */
    cleanup_close int rdir = openat(dir, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    return rdir < 0 ? -1 : remove_at(rdir, j->h.name, j->recursive, 0);
}

int mj_sandbox_remove(mj_sandbox_t *sb, const char *path, bool recursive, mj_error_t **err)
{
    change_job_t j = {.h = {.sb = sb, .path = path, .op = "remove"}, .recursive = recursive};
    return run_job(&j.h, remove_job, err);
}

/* fscopy.c — copies between the host and a sandbox, both ways: regular files (holes stay holes),
 * symlinks (as links, never followed) and directory trees.
 *
 * One walk serves both directions; what differs is which side is the sandbox's.  Every step on
 * the sandbox's side — stat, open, readlink, create, chmod — runs as the sandbox's user on the
 * operation's view (fsview.c), the host's side with the caller's own rights, and the data moves
 * between the two fds on this thread.  Both sides' files are opened O_NONBLOCK and checked to be
 * regular files, so a FIFO planted on either cannot hang the host.  A copy out of a sandbox is
 * bounded — a budget of data bytes and entries (what costs the sandbox nothing, a sparse file or
 * a million empty ones, must not cost the host without bound) and MJ_TREE_MAX_DEPTH levels —
 * and what a failed copy out created on the host is removed again.  Errors name the side and
 * the entry that failed.
 * Never: follows a symlink of either tree, resolves a sandbox path outside its root, or carries
 * setuid/setgid bits out of a sandbox. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <sys/stat.h>

#include "error.h"
#include "fsview.h"
#include "tree.h"
#include "util.h"

/* ------------------------------------------------------------------ one side's system calls */

typedef enum { CALL_STAT, CALL_OPEN, CALL_READLINK, CALL_MKDIR, CALL_SYMLINK, CALL_UNLINK, CALL_CHMOD } call_op_t;

/* One system call on one side of a copy. */
typedef struct {
    call_op_t op;
    int dir;            /* the directory fd (CALL_CHMOD: the file's own fd) */
    const char *name;
    int flags;          /* CALL_OPEN, CALL_UNLINK */
    mode_t mode;        /* CALL_OPEN, CALL_MKDIR, CALL_CHMOD */
    struct stat *st;    /* CALL_STAT */
    char *buf;          /* CALL_READLINK: PATH_MAX bytes */
    const char *target; /* CALL_SYMLINK */
} call_t;

static int do_call(void *arg)
{
    const call_t *c = arg;
    switch (c->op) {
    case CALL_STAT:
        return fstatat(c->dir, c->name, c->st, AT_SYMLINK_NOFOLLOW);
    case CALL_OPEN:
        return openat(c->dir, c->name, c->flags | O_CLOEXEC, c->mode);
    case CALL_READLINK: {
        ssize_t n = readlinkat(c->dir, c->name, c->buf, PATH_MAX - 1);
        if (n >= 0)
            c->buf[n] = '\0';
        return n < 0 ? -1 : 0;
    }
    case CALL_MKDIR:
        return mkdirat(c->dir, c->name, c->mode);
    case CALL_SYMLINK:
        return symlinkat(c->target, c->dir, c->name);
    case CALL_UNLINK:
        return unlinkat(c->dir, c->name, c->flags);
    case CALL_CHMOD:
        return fchmod(c->dir, c->mode);
    }
    errno = EINVAL;
    return -1;
}

/* A side of a copy: the sandbox's (its view: as its user) or the host's (view NULL: as the caller). */
typedef struct {
    mj_fsview_t *view;
} side_t;

static int on(const side_t *s, call_t c)
{
    return s->view ? mj_fsview_run(s->view, do_call, &c) : do_call(&c);
}

static int open_on(const side_t *s, int dir, const char *name, int flags, mode_t mode)
{
    return on(s, (call_t){.op = CALL_OPEN, .dir = dir, .name = name, .flags = flags, .mode = mode});
}

/* ------------------------------------------------------------------ the walk */

typedef struct {
    side_t src, dst;
    mode_t mode_mask;         /* 07777 into the sandbox; 0777 out of it: never carry setuid/setgid bits out */
    bool out;                 /* out of the sandbox: within the budget, and undone when it fails */
    mj_copy_budget_t *budget; /* a copy out's, else NULL */
    mj_copy_budget_t given;   /* the budget as it was given, for messages */
    uint64_t created;         /* entries created on the destination and still there */
    char rel[PATH_MAX];       /* the entry the walk is at, below the top one ("" at the top) */
    /* the first failure */
    bool failed, at_dst;
    int err;
    const char *why;          /* instead of strerror: what was wrong (a limit, a file type) */
    char where[PATH_MAX];     /* its rel */
    char buf[65536];
} copy_t;

/* Records the first failure (errno, on which side, where) and returns -1. */
static int fail(copy_t *c, bool at_dst, const char *why)
{
    if (!c->failed) {
        c->failed = true;
        c->at_dst = at_dst;
        c->err = errno;
        c->why = why;
        snprintf(c->where, sizeof(c->where), "%s", c->rel);
    }
    return -1;
}

/* Takes n from *left (a copy out's budget); a failure naming what when there is not enough. */
static int take(copy_t *c, uint64_t *left, uint64_t n, const char *what)
{
    if (!c->budget)
        return 0;
    if (*left < n) {
        errno = EDQUOT;
        return fail(c, false, what); /* named by the source entry that would go over it */
    }
    *left -= n;
    return 0;
}

/* Takes one entry from the budget, counting it as created. */
static int take_entry(copy_t *c)
{
    if (take(c, c->budget ? &c->budget->entries : NULL, 1, "entries") < 0)
        return -1;
    c->created++;
    return 0;
}

static int pwrite_all(int fd, const char *buf, size_t len, off_t at)
{
    while (len) {
        ssize_t n = pwrite(fd, buf, len, at);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        buf += n;
        len -= (size_t)n;
        at += n;
    }
    return 0;
}

/* Copies [from, to) of in to the same offsets of out (to < 0: up to EOF), within the budget;
 * the end reached, or -1. */
static off_t copy_range(copy_t *c, int in, int out, off_t from, off_t to)
{
    off_t at = from;
    while (to < 0 || at < to) {
        size_t want = sizeof(c->buf);
        if (to >= 0 && (off_t)want > to - at)
            want = (size_t)(to - at);
        ssize_t n = pread(in, c->buf, want, at);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return fail(c, false, NULL);
        if (n == 0)
            break; /* it shrank meanwhile */
        if (take(c, c->budget ? &c->budget->bytes : NULL, (uint64_t)n, "bytes") < 0)
            return -1;
        if (pwrite_all(out, c->buf, (size_t)n, at) < 0)
            return fail(c, true, NULL);
        at += n;
    }
    return at;
}

/* Copies in's data to out (empty): only the data regions of the size in had when it was opened
 * (SEEK_DATA / SEEK_HOLE), holes left as holes.  A file that says it is empty (procfs, sysfs) is
 * read to its end. */
static int copy_data(copy_t *c, int in, int out, off_t size)
{
    if (size == 0)
        return copy_range(c, in, out, 0, -1) < 0 ? -1 : 0;
    off_t off = 0;
    while (off < size) {
        off_t data = lseek(in, off, SEEK_DATA);
        if (data < 0 && errno == ENXIO)
            break; /* a hole up to the end */
        if (data < 0)
            return fail(c, false, NULL);
        if (data >= size)
            break;
        off_t hole = lseek(in, data, SEEK_HOLE);
        if (hole < 0)
            return fail(c, false, NULL);
        off_t end = copy_range(c, in, out, data, hole < size ? hole : size);
        if (end < 0)
            return -1;
        if (end < (hole < size ? hole : size))
            size = end; /* it shrank meanwhile */
        off = end;
    }
    return ftruncate(out, size) < 0 ? fail(c, true, NULL) : 0;
}

static int copy_at(copy_t *c, int src_dir, const char *name, int dst_dir, const char *dname, int depth);

typedef struct {
    copy_t *c;
    int dst_dir, depth;
} copy_level_t;

static int copy_entry(int dfd, const char *name, unsigned char type, void *ctx)
{
    (void)type;
    const copy_level_t *l = ctx;
    copy_t *c = l->c;
    size_t n = strlen(c->rel);
    if (n + 1 + strlen(name) >= sizeof(c->rel)) {
        errno = ENAMETOOLONG;
        return fail(c, false, NULL);
    }
    snprintf(c->rel + n, sizeof(c->rel) - n, "%s%s", n ? "/" : "", name);
    int r = copy_at(c, dfd, name, l->dst_dir, name, l->depth);
    c->rel[n] = '\0';
    return r;
}

static int copy_link(copy_t *c, int src_dir, const char *name, int dst_dir, const char *dname)
{
    char target[PATH_MAX];
    if (on(&c->src, (call_t){.op = CALL_READLINK, .dir = src_dir, .name = name, .buf = target}) < 0)
        return fail(c, false, NULL);
    if (take_entry(c) < 0)
        return -1;
    (void)on(&c->dst, (call_t){.op = CALL_UNLINK, .dir = dst_dir, .name = dname});
    if (on(&c->dst, (call_t){.op = CALL_SYMLINK, .dir = dst_dir, .name = dname, .target = target}) < 0)
        return fail(c, true, NULL);
    return 0;
}

/* A copy out that failed inside a directory it made removes it again with what it holds. */
static int undo_dir(copy_t *c, bool made, int dst_dir, const char *dname, int d_out, uint64_t created_before)
{
    if (!c->out || !made)
        return -1;
    int e = errno;
    mj_tree_clear_at(d_out, dname);
    if (on(&c->dst, (call_t){.op = CALL_UNLINK, .dir = dst_dir, .name = dname, .flags = AT_REMOVEDIR}) == 0)
        c->created = created_before;
    errno = e;
    return -1;
}

static int copy_dir(copy_t *c, const struct stat *st, int src_dir, const char *name, int dst_dir, const char *dname,
                    int depth)
{
    uint64_t created_before = c->created;
    if (take_entry(c) < 0)
        return -1;
    bool made = on(&c->dst, (call_t){.op = CALL_MKDIR, .dir = dst_dir, .name = dname, .mode = 0700}) == 0;
    if (!made)
        c->created--;
    if (!made && errno != EEXIST)
        return fail(c, true, NULL);
    cleanup_close int d_out = open_on(&c->dst, dst_dir, dname, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0);
    if (d_out < 0)
        return fail(c, true, NULL);
    cleanup_close int d_in = open_on(&c->src, src_dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0);
    if (d_in < 0) {
        fail(c, false, NULL);
        return undo_dir(c, made, dst_dir, dname, d_out, created_before);
    }
    copy_level_t level = {.c = c, .dst_dir = d_out, .depth = depth + 1};
    if (mj_dir_each(d_in, copy_entry, &level) != 0) {
        fail(c, false, NULL); /* the source could not be read, unless an entry failed first */
        return undo_dir(c, made, dst_dir, dname, d_out, created_before);
    }
    if (on(&c->dst, (call_t){.op = CALL_CHMOD, .dir = d_out, .mode = st->st_mode & c->mode_mask}) < 0) {
        fail(c, true, NULL);
        return undo_dir(c, made, dst_dir, dname, d_out, created_before);
    }
    return 0;
}

static int copy_file(copy_t *c, int src_dir, const char *name, int dst_dir, const char *dname)
{
    cleanup_close int in = open_on(&c->src, src_dir, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK, 0);
    struct stat ist, ost;
    if (in < 0 || fstat(in, &ist) < 0)
        return fail(c, false, NULL);
    if (!S_ISREG(ist.st_mode)) {
        errno = ENXIO;
        return fail(c, false, NULL);
    }
    if (take_entry(c) < 0)
        return -1;
    cleanup_close int out = open_on(&c->dst, dst_dir, dname, O_WRONLY | O_CREAT | O_NOFOLLOW | O_NONBLOCK, 0600);
    int bad = out < 0 || fstat(out, &ost) < 0 ? errno : !S_ISREG(ost.st_mode) ? ENXIO : 0;
    if (bad) {
        c->created--;
        errno = bad;
        return fail(c, true, NULL);
    }
    int r = ftruncate(out, 0) < 0 ? fail(c, true, NULL) : copy_data(c, in, out, ist.st_size);
    if (r == 0 && on(&c->dst, (call_t){.op = CALL_CHMOD, .dir = out, .mode = ist.st_mode & c->mode_mask}) < 0)
        r = fail(c, true, NULL);
    if (r == 0)
        return 0;
    /* a copy out leaves no half-written file behind */
    if (c->out && on(&c->dst, (call_t){.op = CALL_UNLINK, .dir = dst_dir, .name = dname}) == 0)
        c->created--;
    return -1;
}

/* (src_dir, name) -> (dst_dir, dname). */
static int copy_at(copy_t *c, int src_dir, const char *name, int dst_dir, const char *dname, int depth)
{
    if (depth > MJ_TREE_MAX_DEPTH) {
        errno = EDQUOT;
        return fail(c, false, "depth");
    }
    struct stat st;
    if (on(&c->src, (call_t){.op = CALL_STAT, .dir = src_dir, .name = name, .st = &st}) < 0)
        return fail(c, false, NULL);
    if (S_ISLNK(st.st_mode))
        return copy_link(c, src_dir, name, dst_dir, dname);
    if (S_ISDIR(st.st_mode))
        return copy_dir(c, &st, src_dir, name, dst_dir, dname, depth);
    if (S_ISREG(st.st_mode))
        return copy_file(c, src_dir, name, dst_dir, dname);
    if (depth > 0)
        return 0; /* devices, FIFOs and sockets inside a tree are not copied */
    errno = ENXIO;
    return fail(c, false, S_ISFIFO(st.st_mode)  ? "is a FIFO"
                          : S_ISSOCK(st.st_mode) ? "is a socket"
                                                 : "is a device");
}

/* ------------------------------------------------------------------ errors */

static void size_text(uint64_t n, char out[32])
{
    static const char *const units[] = {"bytes", "KiB", "MiB", "GiB", "TiB"};
    size_t u = 0;
    while (u + 1 < MJ_ARRAY_LEN(units) && n >= 1024 && n % 1024 == 0) {
        n /= 1024;
        u++;
    }
    snprintf(out, 32, "%" PRIu64 " %s", n, units[u]);
}

/* The error of a failed copy: the side and entry that failed ("<src_op> <src_top>/<where>" or
 * "<dst_op> <dst_top>/<where>"), or the limit gone over and what the copy left. */
static mj_error_t *copy_error(const copy_t *c, const char *src_op, const char *src_top, const char *dst_op,
                              const char *dst_top)
{
    char at[PATH_MAX + 8];
    const char *top = c->at_dst ? dst_top : src_top;
    snprintf(at, sizeof(at), "%s%s%s", top, c->where[0] ? "/" : "", c->where);
    if (!c->why)
        return mj_fsview_error(c->err, c->at_dst ? dst_op : src_op, at);
    if (c->err != EDQUOT) /* a file that is not copied */
        return mj_error_new(MJ_ERR_FILE_OPERATION_FAILED, c->err,
                            "%s %s: %s (only regular files, directories and symbolic links are copied)", src_op, at,
                            c->why);
    char limit[96], left[PATH_MAX + 64];
    if (strcmp(c->why, "bytes") == 0) {
        char size[32];
        size_text(c->given.bytes, size);
        snprintf(limit, sizeof(limit), "its budget of %s of file data", size);
    } else if (strcmp(c->why, "entries") == 0) {
        snprintf(limit, sizeof(limit), "its budget of %" PRIu64 " files, directories and links", c->given.entries);
    } else {
        snprintf(limit, sizeof(limit), "the limit of %d directory levels", MJ_TREE_MAX_DEPTH);
    }
    if (c->created)
        snprintf(left, sizeof(left), "%" PRIu64 " entries copied before stay in %s", c->created, dst_top);
    else
        snprintf(left, sizeof(left), "nothing of it was left behind");
    return mj_error_new(MJ_ERR_RESOURCE_LIMIT_EXCEEDED, EDQUOT, "%s %s: goes over %s at %s; %s", src_op, src_top, limit,
                        at, left);
}

/* ------------------------------------------------------------------ the sandbox's end */

/* Where a copy starts or lands inside: path itself when into is set and it is a directory, else
 * its parent and last component; always as an O_RDONLY directory fd. */
typedef struct {
    int root;
    const char *path;
    bool into;
    bool parents;   /* create path's missing parent directories first (copy_in) */
    int dir;        /* out */
    bool is_dir;    /* out: dir is path itself */
    char name[NAME_MAX + 1];
} place_t;

static int place_job(void *arg)
{
    place_t *p = arg;
    cleanup_close int at = p->into ? mj_fsview_resolve(p->root, p->path, O_PATH | O_DIRECTORY, 0) : -1;
    p->is_dir = at >= 0;
    if (at < 0 && p->parents && mj_fsview_make_parents(p->root, p->path) < 0)
        return -1;
    if (at < 0 && (at = mj_fsview_open_parent(p->root, p->path, p->name)) < 0)
        return -1;
    /* the *at() calls of the walk need a real directory fd */
    p->dir = openat(at, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    return p->dir < 0 ? -1 : 0;
}

/* ------------------------------------------------------------------ the host's end */

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

/* "dir/name" for messages ("/name" under "/"). */
static void join_display(const char *dir, const char *name, char out[PATH_MAX + NAME_MAX + 2])
{
    snprintf(out, PATH_MAX + NAME_MAX + 2, "%s%s%s", strcmp(dir, "/") == 0 ? "" : dir, "/", name);
}

/* ------------------------------------------------------------------ in and out */

int mj_sandbox_copy_in(mj_sandbox_t *sb, const char *host_src, const char *dest, mj_error_t **err)
{
    mj_fsview_t v;
    if (mj_fsview_open(&v, sb, dest, err) < 0)
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
    place_t at = {.root = v.root, .path = dest, .into = true, .parents = true, .dir = -1};
    if (mj_fsview_run(&v, place_job, &at) < 0) {
        *err = mj_fsview_error(errno, "copy to", dest);
        return -1;
    }
    cleanup_close int dst_dir = at.dir;
    cleanup_free copy_t *c = mj_xcalloc(1, sizeof(*c));
    c->dst.view = &v;
    c->mode_mask = 07777;
    const char *dname = at.is_dir ? bname : at.name;
    if (copy_at(c, src_dir, bname, dst_dir, dname, 0) < 0) {
        char dst_top[PATH_MAX + NAME_MAX + 2];
        if (at.is_dir)
            join_display(dest, dname, dst_top);
        else
            snprintf(dst_top, sizeof(dst_top), "%s", dest);
        *err = copy_error(c, "copy from host source", host_src, "copy to", dst_top);
        return -1;
    }
    return 0;
}

int mj_sandbox_copy_out_budget(mj_sandbox_t *sb, const char *src, const char *host_dest, mj_copy_budget_t *budget,
                               mj_error_t **err)
{
    mj_copy_budget_t fallback = {.bytes = MJ_COPY_OUT_BYTES, .entries = MJ_COPY_OUT_ENTRIES};
    if (!budget)
        budget = &fallback;
    mj_fsview_t v;
    if (mj_fsview_open(&v, sb, src, err) < 0)
        return -1;
    if (strspn(src, "/") == strlen(src)) {
        *err = mj_error_new(MJ_ERR_INVALID_CONFIG, EINVAL, "copy: cannot copy the whole root out");
        return -1;
    }
    place_t from = {.root = v.root, .path = src, .dir = -1};
    if (mj_fsview_run(&v, place_job, &from) < 0) {
        *err = mj_fsview_error(errno, "copy from", src);
        return -1;
    }
    cleanup_close int src_dir = from.dir;
    /* host_dest an existing directory: copy into it under the source's name. */
    char hb[PATH_MAX], hostdir[PATH_MAX];
    struct stat hst;
    const char *dname;
    if (host_dest && stat(host_dest, &hst) == 0 && S_ISDIR(hst.st_mode)) {
        snprintf(hostdir, sizeof(hostdir), "%s", host_dest);
        dname = from.name;
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
    cleanup_free copy_t *c = mj_xcalloc(1, sizeof(*c));
    c->src.view = &v;
    c->mode_mask = 0777;
    c->out = true;
    c->budget = budget;
    c->given = *budget;
    if (copy_at(c, src_dir, from.name, ddir, dname, 0) < 0) {
        char dst_top[PATH_MAX + NAME_MAX + 2];
        join_display(hostdir, dname, dst_top);
        *err = copy_error(c, "copy from", src, "copy to", dst_top);
        return -1;
    }
    return 0;
}

int mj_sandbox_copy_out(mj_sandbox_t *sb, const char *src, const char *host_dest, mj_error_t **err)
{
    return mj_sandbox_copy_out_budget(sb, src, host_dest, NULL, err);
}

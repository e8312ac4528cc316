/* fsview.c — one host operation's view of a sandbox's files, exactly as a command of the
 * sandbox sees them.
 *
 * Paths are resolved inside the sandbox's root with openat2(RESOLVE_IN_ROOT |
 * RESOLVE_NO_MAGICLINKS) from its root fd (from its supervisor), so "..", absolute symlinks and
 * symlinks to "/etc/shadow" planted by the sandbox all stay inside it.  And every step that
 * resolves a path, opens, creates or changes a file there runs on a worker thread (confine.c)
 * that has the sandbox user's ids, none of the caller's groups or capabilities, and the Landlock
 * ruleset its commands run under, which the supervisor hands over: the host's root reads
 * nothing through a sandbox's mounts that the sandbox's user could not.  The handle keeps its
 * worker (sb->fs_worker) from its first file operation until it is freed.
 * Never: talks to the supervisor itself (client.c does), or reads and writes data; the only
 * thing it creates is the missing parents of a path (mj_fsview_make_parents, run in a job). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "client.h"
#include "error.h"
#include "fsview.h"
#include "handle.h"
#include "tree.h"
#include "util.h"

int mj_fsview_resolve(int root, const char *path, int flags, mode_t mode)
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

int mj_fsview_open_parent(int root, const char *path, char name[NAME_MAX + 1])
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
    return mj_fsview_resolve(root, slash && slash != buf ? buf : "/", O_PATH | O_DIRECTORY, 0);
}

int mj_fsview_make_parents(int root, const char *path)
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
        cleanup_close int fd = mj_fsview_resolve(root, buf, O_PATH | O_DIRECTORY, 0);
        if (fd < 0 && errno == ENOENT) {
            char name[NAME_MAX + 1];
            cleanup_close int dir = mj_fsview_open_parent(root, buf, name);
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

mj_error_t *mj_fsview_error(int e, const char *op, const char *path)
{
    if (e == ENXIO)
        return mj_error_new(MJ_ERR_FILE_OPERATION_FAILED, e, "%s %s: is not a regular file", op, path);
    return mj_file_error(e, op, path);
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

/* The handle's worker, started on first use: the user and the rules are the sandbox's for good,
 * so one worker serves every operation of the handle. */
static mj_confined_t *worker_of(mj_sandbox_t *sb, mj_error_t **err)
{
    if (sb->fs_worker)
        return sb->fs_worker;
    cleanup_close int ruleset = -1;
    if (mj_client_ruleset(sb, &ruleset, err) < 0)
        return NULL;
    /* Root-started: the user's host ids (the mapped range).  Rootless: the caller's own ids are the
     * ones mapped, and its groups stay with its commands too (setgroups is denied there). */
    mj_confine_creds_t creds = {
        .switch_ids = !sb->rootless,
        .uid = (uid_t)(sb->id_base + sb->uid),
        .gid = (gid_t)(sb->id_base + sb->gid),
        .ruleset = ruleset,
    };
    if (mj_confine_start(&creds, &sb->fs_worker) < 0) {
        *err = mj_error_sys(MJ_ERR_PERMISSION_DENIED, errno, "sandbox %s: cannot act as its user (%u:%u) on the host",
                            mj_client_name(sb), (unsigned)sb->uid, (unsigned)sb->gid);
        return NULL;
    }
    return sb->fs_worker;
}

int mj_fsview_open(mj_fsview_t *v, mj_sandbox_t *sb, const char *path, mj_error_t **err)
{
    *v = (mj_fsview_t){.sb = sb, .root = -1};
    if (check_path(path, err) < 0 || (v->root = mj_client_root_fd(sb, err)) < 0)
        return -1;
    v->worker = worker_of(sb, err);
    return v->worker ? 0 : -1;
}

int mj_fsview_run(mj_fsview_t *v, int (*fn)(void *arg), void *arg)
{
    return mj_confine_run(v->worker, fn, arg);
}

void mj_fsview_release(mj_sandbox_t *sb)
{
    mj_confine_stop(sb->fs_worker);
    sb->fs_worker = NULL;
}

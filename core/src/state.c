/* state.c — named sandboxes on the host: the state directory (owner-only), one directory per
 * sandbox with its socket, lock, and small files (state, env, workdir, meta), written atomically.
 * Liveness is the lock: the supervisor holds a flock on <dir>/lock for its whole life, so a lock
 * we can take means the supervisor is gone — no pid reuse guesswork. */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h> /* DT_DIR */
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "error.h"
#include "handle.h"
#include "state.h"
#include "util.h"

const char *mj_state_dir(void)
{
    static char dir[PATH_MAX];
    if (dir[0])
        return dir;
    const char *env = getenv("MOONJAIL_STATE_DIR");
    if (env && env[0] == '/')
        snprintf(dir, sizeof(dir), "%s", env);
    else if (geteuid() == 0)
        snprintf(dir, sizeof(dir), "/run/moonjail");
    else if ((env = getenv("XDG_RUNTIME_DIR")) && env[0] == '/')
        snprintf(dir, sizeof(dir), "%s/moonjail", env);
    else
        snprintf(dir, sizeof(dir), "/tmp/moonjail-%u", (unsigned)geteuid());
    return dir;
}

bool mj_name_valid(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n > 64 || !isalnum((unsigned char)name[0]))
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        if (!isalnum(c) && c != '_' && c != '.' && c != '-')
            return false;
    }
    return true;
}

/* mkdir -m 0700 that insists on an owner-only directory we own, never a symlink. */
static int ensure_private_dir(const char *path, mj_error_t **err)
{
    if (mkdir(path, 0700) < 0 && errno != EEXIST) {
        *err = mj_error_sys(MJ_ERR_PERMISSION_DENIED, errno, "cannot create state directory %s", path);
        return -1;
    }
    struct stat st;
    if (lstat(path, &st) < 0 || !S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 077)) {
        *err = mj_error_new(MJ_ERR_PERMISSION_DENIED, EPERM,
                            "state directory %s must be a directory owned by uid %u with mode 0700", path,
                            (unsigned)geteuid());
        return -1;
    }
    return 0;
}

char *mj_state_sandboxes_dir(bool create, mj_error_t **err)
{
    const char *base = mj_state_dir();
    if (create) {
        /* Parents of a custom state dir may need creating (e.g. $XDG_RUNTIME_DIR/moonjail). */
        if (ensure_private_dir(base, err) < 0)
            return NULL;
    }
    char *dir = mj_xasprintf("%s/sandboxes", base);
    if (create && ensure_private_dir(dir, err) < 0) {
        free(dir);
        return NULL;
    }
    return dir;
}

int mj_state_write_file(const char *dir, const char *name, const void *data, size_t len, mj_error_t **err)
{
    cleanup_free char *tmp = mj_xasprintf("%s/.%s.tmp", dir, name);
    cleanup_free char *path = mj_xasprintf("%s/%s", dir, name);
    cleanup_close int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0 || mj_write_all(fd, data, len) < 0 || fsync(fd) < 0) {
        int e = errno;
        mj_close_fd(&fd);
        unlink(tmp);
        *err = mj_error_sys(MJ_ERR_FILE_OPERATION_FAILED, e, "writing %s", path);
        return -1;
    }
    mj_close_fd(&fd);
    if (rename(tmp, path) < 0) {
        int e = errno;
        unlink(tmp);
        *err = mj_error_sys(MJ_ERR_FILE_OPERATION_FAILED, e, "writing %s", path);
        return -1;
    }
    return 0;
}

/* Reads a small state file (≤ 1 MiB); NULL with errno when missing. */
char *mj_state_read_file(const char *dir, const char *name, size_t *len)
{
    cleanup_free char *path = mj_xasprintf("%s/%s", dir, name);
    cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0)
        return NULL;
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > (1 << 20)) {
        errno = EINVAL;
        return NULL;
    }
    cleanup_free char *buf = mj_xmalloc((size_t)st.st_size + 1);
    ssize_t n = mj_read_all(fd, buf, (size_t)st.st_size);
    if (n < 0)
        return NULL;
    buf[n] = '\0';
    if (len)
        *len = (size_t)n;
    return steal_pointer(&buf);
}

/* 1 when the supervisor holding <dir>/lock is alive, 0 when gone, -1 when there is no lock. */
int mj_state_alive(const char *dir)
{
    cleanup_free char *path = mj_xasprintf("%s/lock", dir);
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return -1;
    int r = flock(fd, LOCK_EX | LOCK_NB);
    close(fd);
    if (r == 0)
        return 0;
    return errno == EWOULDBLOCK ? 1 : -1;
}

char *mj_state_create(const char *name, const char *id, mj_error_t **err)
{
    cleanup_free char *base = mj_state_sandboxes_dir(true, err);
    if (!base)
        return NULL;
    cleanup_free char *named = mj_xasprintf("%s/%s", base, name);
    if (mj_state_alive(named) == 1) {
        *err = mj_error_new(MJ_ERR_INVALID_STATE, EEXIST, "a sandbox named '%s' already exists", name);
        return NULL;
    }
    cleanup_free char *dir = mj_xasprintf("%s/" MJ_STATE_NEW "%s", base, id);
    if (mkdir(dir, 0700) == 0)
        return steal_pointer(&dir);
    *err = mj_error_sys(MJ_ERR_FILE_OPERATION_FAILED, errno, "creating %s", dir);
    return NULL;
}

/* <sandboxes>/<leaf>, beside dir. */
static char *sibling(const char *dir, const char *leaf)
{
    const char *slash = strrchr(dir, '/');
    size_t n = slash ? (size_t)(slash - dir) : 0;
    return mj_xasprintf("%.*s/%s", (int)n, dir, leaf);
}

char *mj_state_publish(const char *dir, const char *name)
{
    cleanup_free char *named = sibling(dir, name);
    if (renameat2(AT_FDCWD, dir, AT_FDCWD, named, RENAME_NOREPLACE) < 0)
        return NULL;
    return steal_pointer(&named);
}

char *mj_state_unpublish(const char *dir, const char *id)
{
    cleanup_free char *leaf = mj_xasprintf(MJ_STATE_REMOVING "%s", id);
    cleanup_free char *moved = sibling(dir, leaf);
    if (renameat2(AT_FDCWD, dir, AT_FDCWD, moved, RENAME_NOREPLACE) < 0)
        return NULL;
    return steal_pointer(&moved);
}

/* ------------------------------------------------------------------ ids being created */

/* Where claims live: the default state directory, whatever MOONJAIL_STATE_DIR says — cgroups are
 * shared by every state directory of a user, so their claims must be too. */
static const char *claims_base(void)
{
    static char dir[PATH_MAX];
    if (dir[0])
        return dir;
    const char *env;
    if (geteuid() == 0)
        snprintf(dir, sizeof(dir), "/run/moonjail");
    else if ((env = getenv("XDG_RUNTIME_DIR")) && env[0] == '/')
        snprintf(dir, sizeof(dir), "%s/moonjail", env);
    else
        snprintf(dir, sizeof(dir), "/tmp/moonjail-%u", (unsigned)geteuid());
    return dir;
}

char *mj_state_claims_dir(void)
{
    return mj_xasprintf("%s/creating", claims_base());
}

/* <claims>/<id>, its directory made (owner-only) when make_dir. */
static char *claim_path(const char *id, bool make_dir)
{
    const char *base = claims_base();
    cleanup_free char *dir = mj_state_claims_dir();
    if (make_dir) {
        mj_error_t *ignored = NULL;
        if (ensure_private_dir(base, &ignored) < 0 || ensure_private_dir(dir, &ignored) < 0) {
            mj_error_free(ignored);
            return NULL;
        }
    }
    return mj_xasprintf("%s/%s", dir, id);
}

int mj_state_claim_id(const char *id)
{
    cleanup_free char *path = claim_path(id, true);
    if (!path)
        return -1;
    int fd = open(path, O_RDONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

void mj_state_release_id(const char *id, int fd)
{
    if (fd < 0)
        return;
    cleanup_free char *path = claim_path(id, false);
    unlink(path); /* before the unlock: a pruner that finds no file finds the group in use */
    close(fd);
}

bool mj_state_id_claimed(const char *id)
{
    cleanup_free char *path = claim_path(id, false);
    cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return false;
    if (flock(fd, LOCK_EX | LOCK_NB) < 0)
        return errno == EWOULDBLOCK;
    unlink(path); /* its creator is gone */
    return false;
}

int mj_state_sock_address(const char *dir, int dirfd, struct sockaddr_un *sa)
{
    memset(sa, 0, sizeof(*sa));
    sa->sun_family = AF_UNIX;
    int n = snprintf(sa->sun_path, sizeof(sa->sun_path), "%s/sock", dir);
    if (n < 0 || (size_t)n >= sizeof(sa->sun_path)) {
        if (dirfd < 0) {
            errno = ENAMETOOLONG;
            return -1;
        }
        snprintf(sa->sun_path, sizeof(sa->sun_path), "/proc/self/fd/%d/sock", dirfd);
    }
    return 0;
}

int mj_state_claim(const char *dir, int *lock_fd, int *listen_fd, mj_error_t **err)
{
    cleanup_close int dir_fd = open(dir, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    cleanup_free char *lock = mj_xasprintf("%s/lock", dir);
    cleanup_close int lfd = open(lock, O_RDONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (lfd < 0 || flock(lfd, LOCK_EX | LOCK_NB) < 0) {
        *err = mj_error_sys(MJ_ERR_FILE_OPERATION_FAILED, errno, "locking %s", lock);
        return -1;
    }
    struct sockaddr_un sa;
    cleanup_close int sock = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (sock < 0 || mj_state_sock_address(dir, dir_fd, &sa) < 0 || bind(sock, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        *err = mj_error_sys(MJ_ERR_SANDBOX_INIT_FAILED, errno, "socket in %s", dir);
        return -1;
    }
    *lock_fd = mj_steal_fd(&lfd);
    *listen_fd = mj_steal_fd(&sock);
    return 0;
}

static int remove_tree_at(int dfd, const char *name);

static int remove_entry(int dfd, const char *name, unsigned char type, void *ctx)
{
    (void)ctx;
    if (type == DT_DIR)
        remove_tree_at(dfd, name);
    else
        unlinkat(dfd, name, 0);
    return 0;
}

static int remove_tree_at(int dfd, const char *name)
{
    cleanup_close int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return unlinkat(dfd, name, 0);
    (void)mj_dir_each(fd, remove_entry, NULL);
    return unlinkat(dfd, name, AT_REMOVEDIR);
}

int mj_state_remove(const char *dir)
{
    return remove_tree_at(AT_FDCWD, dir);
}

static int list_entry(int dfd, const char *name, unsigned char type, void *ctx)
{
    (void)dfd;
    (void)type;
    if (name[0] != '.' && mj_name_valid(name))
        mj_strv_push(ctx, name);
    return 0;
}

/* ------------------------------------------------------------------ a named sandbox's handle */

int mj_state_save(const mj_sandbox_t *sb, mj_error_t **err)
{
    if (!sb->dir)
        return 0;
    mj_buf_t b = {0};
    char *line = mj_xasprintf("id %s\npid %d\nstarttime %llu\ncreated %.6f\nstarted %.6f\nhostname %s\nuid %u\n"
                              "gid %u\nbase %lu\nrootless %d\nhost_uid %u\nhost_gid %u\ncleanup_delay %.3f\nnetns %d\n"
                              "cpu_time_limit %.3f\nmemory_limit %llu\n",
                              sb->id, (int)sb->pid, sb->starttime, sb->created_at, sb->started_at, sb->hostname,
                              (unsigned)sb->uid, (unsigned)sb->gid, sb->id_base, sb->rootless ? 1 : 0,
                              (unsigned)sb->host_uid, (unsigned)sb->host_gid, sb->cleanup_delay, sb->own_netns ? 1 : 0,
                              sb->cpu_time_limit, (unsigned long long)sb->memory_limit);
    mj_buf_append(&b, line, strlen(line));
    free(line);
    line = mj_xasprintf("net_mode %d\n", (int)sb->net_mode);
    mj_buf_append(&b, line, strlen(line));
    free(line);
    if (sb->net.pid > 0 && sb->net.dir) { /* its network helper: rm/prune end it after a crash */
        line = mj_xasprintf("net_pid %d\nnet_start %llu\nnet_dir %s\nnet_engine %s\nnet_ip %s\n", (int)sb->net.pid,
                            sb->net.starttime, sb->net.dir, sb->net.engine ? sb->net.engine : "-",
                            sb->net.ip ? sb->net.ip : "-");
        mj_buf_append(&b, line, strlen(line));
        free(line);
    }
    for (size_t i = 0; i < sb->tmpfs.n; i++) {
        line = mj_xasprintf("tmpfs %s\n", sb->tmpfs.v[i]);
        mj_buf_append(&b, line, strlen(line));
        free(line);
    }
    int r = mj_state_write_file(sb->dir, "state", b.data, b.len, err);
    mj_buf_free(&b);
    return r;
}

int mj_state_save_defaults(const mj_sandbox_t *sb, mj_error_t **err)
{
    if (!sb->dir)
        return 0;
    mj_buf_t b = {0};
    for (size_t i = 0; i < sb->env.n; i++)
        mj_buf_append(&b, sb->env.v[i], strlen(sb->env.v[i]) + 1);
    int r = mj_state_write_file(sb->dir, "env", b.data ? b.data : "", b.len, err);
    mj_buf_free(&b);
    if (r == 0)
        r = mj_state_write_file(sb->dir, "workdir", sb->workdir, strlen(sb->workdir), err);
    return r;
}

int mj_state_load(mj_sandbox_t *sb, mj_error_t **err)
{
    size_t len;
    cleanup_free char *text = mj_state_read_file(sb->dir, "state", &len);
    if (!text) {
        *err = mj_error_new(MJ_ERR_SANDBOX_NOT_FOUND, ENOENT, "%s", sb->name);
        return -1;
    }
    for (char *save = NULL, *ln = strtok_r(text, "\n", &save); ln; ln = strtok_r(NULL, "\n", &save)) {
        char *sp = strchr(ln, ' ');
        if (!sp)
            continue;
        *sp++ = '\0';
        if (strcmp(ln, "id") == 0)
            snprintf(sb->id, sizeof(sb->id), "%s", sp);
        else if (strcmp(ln, "pid") == 0)
            sb->pid = (pid_t)atoi(sp);
        else if (strcmp(ln, "starttime") == 0)
            sb->starttime = strtoull(sp, NULL, 10);
        else if (strcmp(ln, "created") == 0)
            sb->created_at = strtod(sp, NULL);
        else if (strcmp(ln, "started") == 0)
            sb->started_at = strtod(sp, NULL);
        else if (strcmp(ln, "hostname") == 0)
            snprintf(sb->hostname, sizeof(sb->hostname), "%s", sp);
        else if (strcmp(ln, "uid") == 0)
            sb->uid = (uid_t)strtoul(sp, NULL, 10);
        else if (strcmp(ln, "gid") == 0)
            sb->gid = (gid_t)strtoul(sp, NULL, 10);
        else if (strcmp(ln, "base") == 0)
            sb->id_base = strtoul(sp, NULL, 10);
        else if (strcmp(ln, "rootless") == 0)
            sb->rootless = atoi(sp) != 0;
        else if (strcmp(ln, "host_uid") == 0)
            sb->host_uid = (uid_t)strtoul(sp, NULL, 10);
        else if (strcmp(ln, "host_gid") == 0)
            sb->host_gid = (gid_t)strtoul(sp, NULL, 10);
        else if (strcmp(ln, "cleanup_delay") == 0)
            sb->cleanup_delay = strtod(sp, NULL);
        else if (strcmp(ln, "cpu_time_limit") == 0)
            sb->cpu_time_limit = strtod(sp, NULL);
        else if (strcmp(ln, "memory_limit") == 0)
            sb->memory_limit = strtoull(sp, NULL, 10);
        else if (strcmp(ln, "netns") == 0)
            sb->own_netns = atoi(sp) != 0;
        else if (strcmp(ln, "net_mode") == 0)
            sb->net_mode = (mj_network_mode_t)atoi(sp);
        else if (strcmp(ln, "net_pid") == 0)
            sb->net.pid = (pid_t)atoi(sp);
        else if (strcmp(ln, "net_start") == 0)
            sb->net.starttime = strtoull(sp, NULL, 10);
        else if (strcmp(ln, "net_dir") == 0 && sp[0] == '/' && !sb->net.dir)
            sb->net.dir = mj_xstrdup(sp);
        else if (strcmp(ln, "net_engine") == 0 && strcmp(sp, "-") != 0 && !sb->net.engine)
            sb->net.engine = mj_xstrdup(sp);
        else if (strcmp(ln, "net_ip") == 0 && strcmp(sp, "-") != 0 && !sb->net.ip)
            sb->net.ip = mj_xstrdup(sp);
        else if (strcmp(ln, "tmpfs") == 0)
            mj_strv_push(&sb->tmpfs, sp);
    }
    size_t elen = 0;
    cleanup_free char *env = mj_state_read_file(sb->dir, "env", &elen);
    for (size_t off = 0; env && off < elen;) {
        size_t l = strlen(env + off);
        if (l && strchr(env + off, '='))
            mj_strv_push(&sb->env, env + off);
        off += l + 1;
    }
    char *wd = mj_state_read_file(sb->dir, "workdir", NULL);
    sb->workdir = wd && mj_path_is_clean_absolute(wd) ? wd : (free(wd), mj_xstrdup("/"));
    sb->meta = mj_state_read_file(sb->dir, "meta", NULL);
    return 0;
}

/* ------------------------------------------------------------------ listing */

int mj_sandbox_list(char ***names, size_t *count, mj_error_t **err)
{
    *names = NULL;
    *count = 0;
    mj_error_t *ignored = NULL;
    cleanup_free char *dir = mj_state_sandboxes_dir(false, &ignored);
    mj_error_free(ignored);
    cleanup_close int fd = dir ? open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
    if (fd < 0) {
        if (errno == ENOENT)
            return 0;
        if (err)
            *err = mj_error_sys(MJ_ERR_FILE_OPERATION_FAILED, errno, "listing %s", dir ? dir : "?");
        return -1;
    }
    mj_strv_t v = {0};
    (void)mj_dir_each(fd, list_entry, &v);
    /* sort for stable output */
    for (size_t i = 1; i < v.n; i++)
        for (size_t j = i; j > 0 && strcmp(v.v[j - 1], v.v[j]) > 0; j--) {
            char *t = v.v[j];
            v.v[j] = v.v[j - 1];
            v.v[j - 1] = t;
        }
    *names = v.v;
    *count = v.n;
    if (!v.v) {
        *names = mj_xcalloc(1, sizeof(char *));
    }
    return 0;
}

void mj_strings_free(char **v, size_t n)
{
    if (!v)
        return;
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

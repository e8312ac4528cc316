/* lease.c — leases: an image pinned by a running sandbox (lease.h has the model).
 *
 * Owns: the files leases/<id>.lease — creating one (locked before its name appears, so nobody ever sees an
 * unlocked live lease), telling live from dead ones by their lock, and removing dead ones.
 * Must never: remove a lease someone still holds, or block on a lock (every probe is LOCK_NB).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/file.h>
#include <unistd.h>

#include "error.h"
#include "image/lease.h"
#include "util.h"

struct mj_lease {
    int dir_fd; /* the store's leases/ directory, a dup of its own: a lease may outlive its store handle */
    char id[33];
    char name[48];
    int fd;
};

static int fail(mj_error_t **err, mj_error_t *e)
{
    if (err)
        *err = e;
    else
        mj_error_free(e);
    return -1;
}

int mj_store_lease(mj_store_t *s, const mj_image_record_t *rec, const char *holder, mj_lease_t **out,
                   mj_error_t **err)
{
    for (size_t i = 0; i < rec->blobs.n; i++) {
        int have = mj_store_has_blob(s, rec->blobs.v[i], NULL, err);
        if (have < 0)
            return -1;
        if (!have)
            return fail(err, mj_error_new(MJ_ERR_IMAGE, ENOENT, "image %s: blob %s is not in the store (pull it again)",
                                          rec->name ? rec->name : "?", rec->blobs.v[i]));
    }
    for (size_t i = 0; i < rec->layers.n; i++) {
        int have = mj_store_has_layer(s, rec->layers.v[i], -1, err);
        if (have < 0)
            return -1;
        if (!have)
            return fail(err, mj_error_new(MJ_ERR_IMAGE, ENOENT, "image %s: layer %s is not unpacked in the store",
                                          rec->name ? rec->name : "?", rec->layers.v[i]));
    }
    mj_image_record_t copy = *rec;
    copy.holder = (char *)holder;
    mj_buf_t text = {0};
    if (mj_record_format(&copy, MJ_LEASE_MAGIC, &text, err) < 0) {
        mj_buf_free(&text);
        return -1;
    }
    int dirfd = mj_store_dirfd(s, "leases");
    mj_lease_t *l = mj_xcalloc(1, sizeof(*l));
    l->dir_fd = fcntl(dirfd, F_DUPFD_CLOEXEC, 3);
    mj_random_id(l->id);
    snprintf(l->name, sizeof(l->name), "%s.lease", l->id);
    cleanup_free char *tmp = mj_xasprintf(".%s.tmp", l->id);
    l->fd = l->dir_fd < 0 ? -1 : openat(dirfd, tmp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    mj_error_t *e = NULL;
    if (l->fd < 0 || flock(l->fd, LOCK_SH) < 0 || mj_write_all(l->fd, text.data, text.len) < 0 || fsync(l->fd) < 0 ||
        renameat(dirfd, tmp, dirfd, l->name) < 0)
        e = mj_error_sys(MJ_ERR_FILE_OPERATION_FAILED, errno, "image store: creating lease %s", l->name);
    mj_buf_free(&text);
    if (e) {
        unlinkat(dirfd, tmp, 0);
        if (l->fd >= 0)
            close(l->fd);
        if (l->dir_fd >= 0)
            close(l->dir_fd);
        free(l);
        return fail(err, e);
    }
    fsync(dirfd);
    *out = l;
    return 0;
}

const char *mj_lease_id(const mj_lease_t *l)
{
    return l->id;
}

int mj_lease_fd(const mj_lease_t *l)
{
    return l->fd;
}

void mj_lease_release(mj_lease_t *l)
{
    if (!l)
        return;
    unlinkat(l->dir_fd, l->name, 0);
    close(l->fd);
    close(l->dir_fd);
    free(l);
}

void mj_lease_detach(mj_lease_t *l)
{
    if (!l)
        return;
    close(l->fd);
    close(l->dir_fd);
    free(l);
}

/* 1 when someone holds a lock on dirfd/name, 0 when not (then the caller may remove it while
 * *probe_fd keeps it locked), -1 when it is gone. */
static int lease_alive(int dirfd, const char *name, int *probe_fd)
{
    int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return -1;
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        close(fd);
        return 1;
    }
    *probe_fd = fd;
    return 0;
}

int mj_store_each_lease(mj_store_t *s, int (*fn)(const mj_image_record_t *rec, void *ud), void *ud, size_t *dead,
                        mj_error_t **err)
{
    int dfd = dup(mj_store_dirfd(s, "leases"));
    DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
    if (!d) {
        int e = errno;
        if (dfd >= 0)
            close(dfd);
        return fail(err, mj_error_sys(MJ_ERR_FILE_OPERATION_FAILED, e, "image store: listing leases"));
    }
    rewinddir(d);
    int rc = 0;
    struct dirent *de;
    while (rc == 0 && (de = readdir(d))) {
        size_t len = strlen(de->d_name);
        if (de->d_name[0] == '.' || len < 7 || strcmp(de->d_name + len - 6, ".lease") != 0)
            continue;
        int probe = -1;
        int alive = lease_alive(dirfd(d), de->d_name, &probe);
        if (alive == 0) {
            unlinkat(dirfd(d), de->d_name, 0);
            close(probe);
            if (dead)
                (*dead)++;
            continue;
        }
        if (alive < 0)
            continue;
        mj_image_record_t rec = {0};
        mj_error_t *e = NULL;
        if (mj_record_read_at(dirfd(d), de->d_name, MJ_LEASE_MAGIC, &rec, &e) < 0) {
            /* a live lease we cannot read: keeping everything is the only safe answer */
            mj_error_wrap(&e, "image store: live lease %s", de->d_name);
            closedir(d);
            return fail(err, e);
        }
        rc = fn(&rec, ud);
        mj_image_record_clear(&rec);
    }
    closedir(d);
    return rc;
}

typedef struct {
    const char *digest;
    int count;
} in_use_t;

static int count_lease(const mj_image_record_t *rec, void *ud)
{
    in_use_t *u = ud;
    if (strcmp(rec->digest, u->digest) == 0)
        u->count++;
    return 0;
}

int mj_store_image_in_use(mj_store_t *s, const char *digest, mj_error_t **err)
{
    if (!mj_digest_valid(digest))
        return fail(err, mj_error_new(MJ_ERR_IMAGE, EINVAL, "malformed digest '%.80s'", digest ? digest : ""));
    in_use_t u = {.digest = digest};
    if (mj_store_each_lease(s, count_lease, &u, NULL, err) < 0)
        return -1;
    return u.count;
}

/* layerstore.c — layers unpacked into the image store, once per diff-id and flavour
 * (layerstore.h has the model).
 *
 * Owns: layers/<name>/ and its staging directories .unpack-<id>: the per-layer lock, the unpack
 * into a private staging directory, its info file, the flush (syncfs) and the rename that makes
 * it visible; the threads that unpack several layers at once.
 * Must never: show a layer under its name before it is complete and verified against its diff-id;
 * unpack a blob that is not in blobs/ (its digest was checked when it was committed); remove a
 * layer that has a name (gc.c does, under the store's exclusive lock).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "image/layerstore.h"
#include "tree.h"
#include "util.h"

#define DEFAULT_PARALLEL 2
#define MAX_PARALLEL 16

static mj_layer_flavour_t flavour_of(const mj_layer_opts_t *o)
{
    return o->keep_owners ? MJ_LAYER_OWNERS : MJ_LAYER_ROOTLESS;
}

int mj_store_layer_path(mj_store_t *s, const char *diff_id, mj_layer_flavour_t flavour, char **path, mj_error_t **err)
{
    *path = NULL;
    int have = mj_store_has_layer(s, diff_id, (int)flavour, err);
    if (have <= 0)
        return have;
    char name[MJ_LAYER_NAME_MAX];
    mj_store_layer_name(diff_id, flavour, name, NULL);
    *path = mj_xasprintf("%s/layers/%s/root", mj_store_root(s), name);
    return 1;
}

static mj_error_t *layer_file_error(int e, const char *op, const char *what)
{
    mj_error_code_t code = e == EACCES || e == EPERM ? MJ_ERR_PERMISSION_DENIED : MJ_ERR_FILE_OPERATION_FAILED;
    return mj_error_sys(code, e, "image store: layer %s: %s", what, op);
}

/* "diff_id blob flavour entries bytes" for whoever looks into the store. */
static int write_info(int dirfd, const mj_layer_job_t *job, mj_layer_flavour_t flavour, mj_error_t **err)
{
    cleanup_free char *text = mj_xasprintf("moonjail-layer 1\ndiff_id %s\nblob %s\nflavour %s\nentries %" PRIu64
                                           "\nbytes %" PRIu64 "\nunpacked %.3f\n",
                                           job->diff_id, job->blob, flavour == MJ_LAYER_OWNERS ? "owners" : "rootless",
                                           job->stats.entries, job->stats.uncompressed, mj_now_realtime());
    return mj_store_write_atomic(dirfd, "info", text, strlen(text), err);
}

/* A new layers/.unpack-<id>: its name in *name (".unpack-" + 32 hex + NUL). */
static int make_staging(mj_store_t *s, char name[48], const char *what, mj_error_t **err)
{
    char id[33];
    mj_random_id(id);
    snprintf(name, 48, ".unpack-%s", id);
    if (mkdirat(mj_store_dirfd(s, "layers"), name, 0700) < 0)
        return mj_fail(err, layer_file_error(errno, "creating its staging directory", what));
    return 0;
}

int mj_store_stage_dir(mj_store_t *s, char **path, mj_error_t **err)
{
    char name[48];
    if (make_staging(s, name, "(staging)", err) < 0)
        return -1;
    *path = mj_xasprintf("%s/layers/%s", mj_store_root(s), name);
    return 0;
}

int mj_store_unstage_dir(mj_store_t *s, const char *path, mj_error_t **err)
{
    cleanup_free char *prefix = mj_xasprintf("%s/layers/.unpack-", mj_store_root(s));
    size_t n = strlen(prefix);
    if (strncmp(path, prefix, n) != 0 || strlen(path + n) != 32 || strspn(path + n, "0123456789abcdef") != 32)
        return mj_fail(err, mj_error_new(MJ_ERR_INVALID_CONFIG, EINVAL, "image store: %s is not a staging directory", path));
    return mj_tree_remove(path, err);
}

/* Unpacks into layers/.unpack-<id> and renames it to the layer's name.  Under the layer's lock. */
static int unpack_staged(mj_store_t *s, mj_layer_job_t *job, const mj_layer_opts_t *opts, const char *name,
                         const char *what, mj_error_t **err)
{
    int layers = mj_store_dirfd(s, "layers");
    mj_hash_algo_t algo;
    const char *hex;
    if (mj_digest_parse(job->blob, &algo, &hex, err) < 0)
        return -1;
    cleanup_close int blob = openat(mj_store_blobs_dirfd(s, algo), hex, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (blob < 0)
        return mj_fail(err, errno == ENOENT ? mj_error_new(MJ_ERR_IMAGE, ENOENT, "layer %s: blob %s is not in the image store "
                                                           "(pull the image again)", what, job->blob)
                                            : layer_file_error(errno, "opening its blob", what));
    char staged[48];
    if (make_staging(s, staged, what, err) < 0)
        return -1;
    cleanup_free char *staged_path = mj_xasprintf("%s/layers/%s", mj_store_root(s), staged);
    cleanup_close int dir = openat(layers, staged, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    cleanup_close int root = -1;
    mj_error_t *e = NULL;
    if (dir < 0 || mkdirat(dir, "root", 0755) < 0 ||
        (root = openat(dir, "root", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0 || fchmod(root, 0755) < 0)
        e = layer_file_error(errno, "creating its staging directory", what);
    if (!e && mj_layer_unpack(blob, job->compression, root, what, job->diff_id, opts, &job->stats, &e) == 0 &&
        write_info(dir, job, flavour_of(opts), &e) == 0) {
        /* what is under its name is on disk: a crash never leaves a committed, damaged layer */
        if (syncfs(dir) < 0 || renameat(layers, staged, layers, name) < 0)
            e = layer_file_error(errno, "committing it", what);
    }
    if (e) {
        mj_tree_remove(staged_path, NULL); /* what is left of it goes now, or with the next prune */
        return mj_fail(err, e);
    }
    fsync(layers);
    return 0;
}

static int unpack_one(mj_store_t *s, mj_layer_job_t *job, const mj_layer_opts_t *opts, mj_error_t **err)
{
    mj_layer_flavour_t flavour = flavour_of(opts);
    char name[MJ_LAYER_NAME_MAX];
    if (mj_store_layer_name(job->diff_id, flavour, name, err) < 0 || mj_digest_parse(job->blob, NULL, NULL, err) < 0)
        return -1;
    char what[24];
    snprintf(what, sizeof(what), "%.19s", job->diff_id);
    int have = mj_store_has_layer(s, job->diff_id, (int)flavour, err);
    if (have < 0)
        return -1;
    if (!have) {
        int lock = -1;
        if (mj_store_lock_layer(s, job->diff_id, true, &lock, err) < 0)
            return -1;
        have = mj_store_has_layer(s, job->diff_id, (int)flavour, err); /* the holder we waited for may have done it */
        int rc = have < 0 ? -1 : have ? 0 : unpack_staged(s, job, opts, name, what, err);
        mj_store_unlock_layer(s, job->diff_id, lock);
        if (rc < 0)
            return -1;
    }
    job->present = have == 1;
    job->path = mj_xasprintf("%s/layers/%s/root", mj_store_root(s), name);
    return 0;
}

void mj_layer_job_clear(mj_layer_job_t *job)
{
    free(job->path);
    job->path = NULL;
    mj_error_free(job->error);
    job->error = NULL;
    job->present = false;
    memset(&job->stats, 0, sizeof(job->stats));
}

/* ------------------------------------------------------------------ several at once */

typedef struct {
    mj_store_t *store;
    mj_layer_job_t *jobs;
    size_t n;
    const mj_layer_opts_t *opts;
    pthread_mutex_t lock;
    pthread_cond_t changed;
    size_t next;       /* the next job to start */
    size_t *finished;  /* indexes of ended jobs, in the order they ended */
    size_t n_finished;
    bool cancelled;
} pool_t;

static void *worker(void *arg)
{
    pool_t *p = arg;
    for (;;) {
        pthread_mutex_lock(&p->lock);
        if (p->cancelled || p->next >= p->n) {
            pthread_mutex_unlock(&p->lock);
            return NULL;
        }
        size_t i = p->next++;
        pthread_mutex_unlock(&p->lock);
        mj_layer_job_t *job = &p->jobs[i];
        unpack_one(p->store, job, p->opts, &job->error);
        pthread_mutex_lock(&p->lock);
        p->finished[p->n_finished++] = i;
        pthread_cond_signal(&p->changed);
        pthread_mutex_unlock(&p->lock);
    }
}

int mj_store_unpack_layers(mj_store_t *s, mj_layer_job_t *jobs, size_t n, const mj_layer_opts_t *opts, unsigned parallel,
                           mj_layer_progress_fn progress, void *ud, mj_error_t **err)
{
    mj_layer_opts_t o = opts ? *opts : (mj_layer_opts_t){0};
    for (size_t i = 0; i < n; i++) {
        mj_layer_job_clear(&jobs[i]);
        if (!jobs[i].blob || !jobs[i].diff_id)
            return mj_fail(err, mj_error_new(MJ_ERR_INVALID_CONFIG, EINVAL, "unpack: layer %zu needs a blob and a diff_id", i + 1));
    }
    if (n == 0)
        return 0;
    parallel = parallel ? parallel : DEFAULT_PARALLEL;
    if (parallel > MAX_PARALLEL)
        parallel = MAX_PARALLEL;
    if (parallel > n)
        parallel = (unsigned)n;
    pool_t p = {.store = s, .jobs = jobs, .n = n, .opts = &o};
    p.finished = mj_xcalloc(n, sizeof(*p.finished));
    pthread_mutex_init(&p.lock, NULL);
    pthread_cond_init(&p.changed, NULL);
    pthread_t threads[MAX_PARALLEL];
    unsigned started = 0;
    for (; started < parallel; started++) {
        int rc = pthread_create(&threads[started], NULL, worker, &p);
        if (rc != 0) {
            if (started == 0) {
                pthread_cond_destroy(&p.changed);
                pthread_mutex_destroy(&p.lock);
                free(p.finished);
                return mj_fail(err, mj_error_sys(MJ_ERR_FILE_OPERATION_FAILED, rc, "unpack: cannot start a thread"));
            }
            break;
        }
    }
    /* progress on this thread, as jobs end */
    size_t reported = 0;
    pthread_mutex_lock(&p.lock);
    for (;;) {
        while (reported < p.n_finished) {
            size_t i = p.finished[reported++];
            if (progress && !p.cancelled) {
                pthread_mutex_unlock(&p.lock);
                int stop = progress(ud, i, &jobs[i]);
                pthread_mutex_lock(&p.lock);
                if (stop)
                    p.cancelled = true;
            }
        }
        /* done when every job that started has been reported and no more will start */
        if (reported == p.next && (p.next == p.n || p.cancelled))
            break;
        pthread_cond_wait(&p.changed, &p.lock);
    }
    pthread_mutex_unlock(&p.lock);
    for (unsigned t = 0; t < started; t++)
        pthread_join(threads[t], NULL);
    int failed = 0;
    for (size_t i = 0; i < n; i++) {
        if (!jobs[i].error && !jobs[i].path)
            jobs[i].error = mj_error_new(MJ_ERR_TEMPORARY_FAILURE, ECANCELED, "unpack of layer %.19s cancelled", jobs[i].diff_id);
        failed += jobs[i].error != NULL;
    }
    pthread_cond_destroy(&p.changed);
    pthread_mutex_destroy(&p.lock);
    free(p.finished);
    return failed;
}

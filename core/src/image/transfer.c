/* transfer.c — blobs from a registry into the store: for each digest, its lock in the store,
 * the download into its partial file (registry.c: resumed, hashed, verified) and the commit.
 *
 * Owns: the order of that dance for many blobs — locks taken without waiting first, so blobs
 * nobody else is fetching download in parallel, then the busy ones waited for one at a time in
 * digest order (never holding one lock while waiting for another: no deadlock between two
 * pulls), and the commit of exactly the digest the download computed.
 * Must never: commit a blob the download did not verify, hold a digest lock after returning, or
 * fetch a blob that is already in the store.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>

#include "error.h"
#include "image/transfer.h"
#include "util.h"

typedef struct {
    mj_http_progress_fn progress;
    void *ud;
    const size_t *job_of; /* request index → job index */
} progress_map_t;

static int map_progress(void *ud, size_t index, uint64_t done, uint64_t total)
{
    progress_map_t *m = ud;
    return m->progress ? m->progress(m->ud, m->job_of[index], done, total) : 0;
}

void mj_blob_fetch_clear(mj_blob_fetch_t *job)
{
    mj_http_request_reset(&job->req);
    mj_error_free(job->error);
    job->error = NULL;
    job->present = false;
}

static int str_cmp_digest(const void *a, const void *b, void *jobs_v)
{
    const mj_blob_fetch_t *jobs = jobs_v;
    return strcmp(jobs[*(const size_t *)a].digest, jobs[*(const size_t *)b].digest);
}

/* Downloads the jobs listed in idx (each holding its ingest) and commits or releases them. */
static int download(mj_http_client_t *c, mj_blob_fetch_t *jobs, const size_t *idx, mj_ingest_t **ings, size_t k,
                    mj_http_progress_fn progress, void *ud, mj_error_t **err)
{
    if (k == 0)
        return 0;
    mj_http_request_t *reqs = mj_xcalloc(k, sizeof(*reqs));
    for (size_t i = 0; i < k; i++) {
        mj_blob_fetch_t *j = &jobs[idx[i]];
        reqs[i] = (mj_http_request_t){.url = j->url, .headers = j->headers, .path = mj_ingest_path(ings[i]),
                                      .digest = j->digest, .size = j->size, .insecure = j->insecure};
    }
    progress_map_t map = {.progress = progress, .ud = ud, .job_of = idx};
    int r = mj_http_perform(c, reqs, k, map_progress, &map, err);
    for (size_t i = 0; i < k; i++) {
        mj_blob_fetch_t *j = &jobs[idx[i]];
        if (r < 0) {
            mj_ingest_release(ings[i], false);
        } else if (reqs[i].error) {
            j->error = steal_pointer(&reqs[i].error);
            mj_ingest_release(ings[i], false); /* registry.c removed it if it was wrong */
        } else {
            /* verified while streaming: its digest is the one the bytes hashed to */
            mj_ingest_commit(ings[i], j->size, j->digest, &j->error);
        }
        ings[i] = NULL;
        reqs[i].path = reqs[i].url = reqs[i].digest = NULL;
        reqs[i].headers = NULL;
        j->req = reqs[i]; /* status, headers and counts, for the caller */
    }
    free(reqs);
    return r < 0 ? -1 : 0;
}

int mj_image_fetch_blobs(mj_store_t *s, mj_http_client_t *c, mj_blob_fetch_t *jobs, size_t n,
                         mj_http_progress_fn progress, void *ud, mj_error_t **err)
{
    for (size_t i = 0; i < n; i++) {
        mj_blob_fetch_clear(&jobs[i]);
        if (mj_digest_parse(jobs[i].digest, NULL, NULL, err) < 0)
            return -1;
        for (size_t k = 0; k < i; k++)
            if (strcmp(jobs[k].digest, jobs[i].digest) == 0) {
                if (err)
                    *err = mj_error_new(MJ_ERR_INVALID_CONFIG, EINVAL, "blob %s listed twice", jobs[i].digest);
                return -1;
            }
    }
    cleanup_free size_t *idx = mj_xcalloc(n ? n : 1, sizeof(size_t));
    cleanup_free size_t *busy = mj_xcalloc(n ? n : 1, sizeof(size_t));
    cleanup_free mj_ingest_t **ings = mj_xcalloc(n ? n : 1, sizeof(mj_ingest_t *));
    size_t k = 0, nbusy = 0;

    /* 1: what nobody else is fetching, in parallel */
    for (size_t i = 0; i < n; i++) {
        mj_ingest_t *ing = NULL;
        int r = mj_store_ingest_begin(s, jobs[i].digest, false, &ing, &jobs[i].error);
        if (r == MJ_INGEST_PRESENT) {
            jobs[i].present = true;
        } else if (r == MJ_INGEST_BUSY) {
            busy[nbusy++] = i;
        } else if (r == MJ_INGEST_READY) {
            idx[k] = i;
            ings[k++] = ing;
        }
    }
    if (download(c, jobs, idx, ings, k, progress, ud, err) < 0)
        return -1;

    /* 2: what another process was fetching: wait for it, one lock at a time, in digest order */
    qsort_r(busy, nbusy, sizeof(size_t), str_cmp_digest, jobs);
    for (size_t b = 0; b < nbusy; b++) {
        size_t i = busy[b];
        mj_ingest_t *ing = NULL;
        int r = mj_store_ingest_begin(s, jobs[i].digest, true, &ing, &jobs[i].error);
        if (r == MJ_INGEST_PRESENT) {
            jobs[i].present = true;
            if (progress && progress(ud, i, jobs[i].size, jobs[i].size) != 0) {
                for (size_t rest = b + 1; rest < nbusy; rest++)
                    jobs[busy[rest]].error = mj_error_new(MJ_ERR_TEMPORARY_FAILURE, ECANCELED, "blob %s: cancelled",
                                                          jobs[busy[rest]].digest);
                break;
            }
        } else if (r == MJ_INGEST_READY) {
            /* the other process failed: ours to fetch, alone (we hold no other lock) */
            size_t one[1] = {i};
            mj_ingest_t *ones[1] = {ing};
            if (download(c, jobs, one, ones, 1, progress, ud, err) < 0)
                return -1;
        }
    }
    int failed = 0;
    for (size_t i = 0; i < n; i++)
        failed += jobs[i].error != NULL;
    return failed;
}

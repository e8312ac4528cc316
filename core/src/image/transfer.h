/* transfer.h — blobs from a registry into the store (transfer.c): the per-digest lock, the
 * resumable, verified download and the commit, for several blobs at once. */
#ifndef MJ_IMAGE_TRANSFER_H
#define MJ_IMAGE_TRANSFER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <moonjail/moonjail.h>

#include "image/registry.h"
#include "image/store.h"

typedef struct {
    /* in (borrowed) */
    const char *url;             /* the blob's URL on the registry */
    const char *const *headers;  /* Authorization, …; NULL-terminated or NULL */
    const char *digest;
    uint64_t size;
    bool insecure;               /* see mj_http_request_t */
    /* out */
    bool present;                /* it was in the store already (or another process put it there) */
    mj_http_request_t req;       /* the download, when there was one: status, headers, bytes */
    mj_error_t *error;           /* owned; NULL on success */
} mj_blob_fetch_t;

/* Makes every blob of jobs present in the store: blobs already there are skipped; blobs another
 * process is downloading are waited for (after ours are done) and then skipped, or downloaded
 * if that process failed; the rest are downloaded (resuming earlier partial files), verified
 * while they stream and committed.  progress gets the index into jobs.  A digest listed twice
 * is INVALID_CONFIG (the caller deduplicates).  Returns how many jobs failed (each with its
 * error), or -1 with *err when nothing could start.  Free the results with
 * mj_blob_fetch_clear. */
int mj_image_fetch_blobs(mj_store_t *s, mj_http_client_t *c, mj_blob_fetch_t *jobs, size_t n,
                         mj_http_progress_fn progress, void *ud, mj_error_t **err);
void mj_blob_fetch_clear(mj_blob_fetch_t *job);

#endif

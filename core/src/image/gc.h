/* gc.h — the image store's mark-and-sweep collection and reference counts (gc.c). */
#ifndef MJ_IMAGE_GC_H
#define MJ_IMAGE_GC_H

#include <stdbool.h>
#include <stdint.h>

#include <moonjail/moonjail.h>

#include "image/store.h"

typedef struct {
    uint64_t blobs_removed;
    uint64_t bytes_removed;
    uint64_t partials_removed;  /* ingest files older than the age given */
    uint64_t leases_removed;    /* leases whose holders are gone */
    uint64_t kept;              /* blobs still referenced */
    uint64_t layers_removed;    /* unpacked layers no record or live lease lists */
    uint64_t layers_kept;
    uint64_t unpacks_removed;   /* staging directories of unpacks that crashed */
} mj_store_gc_stats_t;

/* Removes every blob and unpacked layer that no image record and no live lease lists, dead
 * leases, the staging directories of crashed unpacks, stale temporary files, unused lock files,
 * and partial downloads older than partial_max_age seconds (0: all of them; they only serve to
 * resume an interrupted pull).  Takes the store's exclusive
 * lock (without wait: TEMPORARY_FAILURE while another handle is open).  A record or live lease
 * that cannot be read stops the collection (IMAGE) before anything is removed. */
int mj_store_gc(mj_store_t *s, bool wait, double partial_max_age, mj_store_gc_stats_t *stats, mj_error_t **err);

/* How many image records and live leases list the blob or unpacked layer (a diff-id): its
 * reference count. */
int mj_store_blob_refs(mj_store_t *s, const char *digest, mj_error_t **err);

#endif

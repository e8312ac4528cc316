/* layerstore.h — image layers unpacked into the store (layerstore.c): each diff-id once per
 * flavour (owners kept as root, or the caller's rootless), under layers/<algo>-<hex>[.rootless]/
 * root, shared read-only by every sandbox of every image that lists it.  A layer appears under
 * its name only complete (unpacked beside it, then renamed); two processes unpacking one layer
 * take its lock and the second finds it done.  Records list their layers (records.h), leases
 * pin them, the collection removes the others (gc.h). */
#ifndef MJ_IMAGE_LAYERSTORE_H
#define MJ_IMAGE_LAYERSTORE_H

#include <stdbool.h>
#include <stddef.h>

#include <moonjail/moonjail.h>

#include "image/layer.h"
#include "image/store.h"

typedef struct {
    /* in (borrowed) */
    const char *blob;                   /* the layer blob's digest: in the store, verified */
    const char *diff_id;                /* what the image config says its tar hashes to */
    mj_layer_compression_t compression; /* from its media type */
    /* out */
    char *path;                         /* <root>/layers/<name>/root, the overlay lower directory */
    bool present;                       /* it was unpacked already (by an earlier pull, or another
                                         * process meanwhile) */
    mj_layer_stats_t stats;             /* of this unpack (zero when present) */
    mj_error_t *error;                  /* owned; NULL on success */
} mj_layer_job_t;

/* Called on the calling thread as each job ends (index into jobs); non-zero cancels the jobs not
 * started yet (TEMPORARY_FAILURE, ECANCELED). */
typedef int (*mj_layer_progress_fn)(void *ud, size_t index, const mj_layer_job_t *job);

/* Makes every job's layer present in the store in the flavour opts->keep_owners says, up to
 * parallel (0: 2) unpacks at once on threads of their own.  A failed unpack leaves nothing
 * under the layer's name (its partial tree is removed).  Returns how many jobs failed (each
 * with its error), or -1 with *err when nothing could start.  Free with mj_layer_job_clear. */
int mj_store_unpack_layers(mj_store_t *s, mj_layer_job_t *jobs, size_t n, const mj_layer_opts_t *opts, unsigned parallel,
                           mj_layer_progress_fn progress, void *ud, mj_error_t **err);
void mj_layer_job_clear(mj_layer_job_t *job);

/* 1 with *path (malloc'ed: the layer's root directory) when diff_id is unpacked in flavour, 0
 * when not, -1 on error. */
int mj_store_layer_path(mj_store_t *s, const char *diff_id, mj_layer_flavour_t flavour, char **path, mj_error_t **err);

/* A new private directory layers/.unpack-<id> (*path, malloc'ed) for a caller's staging: a load
 * extracts an archive there.  mj_store_unstage_dir removes one (refusing any other path); the
 * collection removes what a crash leaves. */
int mj_store_stage_dir(mj_store_t *s, char **path, mj_error_t **err);
int mj_store_unstage_dir(mj_store_t *s, const char *path, mj_error_t **err);

#endif

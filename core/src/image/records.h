/* records.h — image records in the store (records.c): which image a name stands for on one
 * platform, and every blob it needs, so that `images`, `rmi` and the collection (gc.h) read them
 * without parsing JSON.  A record is a small line-oriented text file:
 *
 *   moonjail-image 1
 *   name 127.0.0.1:5000/busybox:latest
 *   platform linux/arm/v7
 *   digest sha256:…          (the image manifest)
 *   index sha256:…           (the index it was chosen from; optional)
 *   pulled 1765000000.5
 *   blob sha256:…            (one line per blob: manifest, config, layers, index)
 *   layer sha256:…           (one line per layer unpacked for it, by diff-id, lowest first)
 *
 * Leases (lease.h) use the same format under the magic "moonjail-lease 1" with a `holder` line.
 */
#ifndef MJ_IMAGE_RECORDS_H
#define MJ_IMAGE_RECORDS_H

#include <stddef.h>

#include <moonjail/moonjail.h>

#include "image/store.h"
#include "util.h"

typedef struct {
    char *name;         /* the reference as pulled, canonical: registry/repository[:tag][@digest] */
    char *platform;     /* os/architecture[/variant] */
    char *digest;       /* the image manifest's digest */
    char *index;        /* the index (manifest list) it was selected from, or NULL */
    double pulled;      /* epoch seconds */
    mj_strv_t blobs;    /* every blob the image needs */
    mj_strv_t layers;   /* the diff-ids of its unpacked layers (layerstore.h), lowest first; may be
                         * empty (a record of a pull that did not unpack) */
    char *holder;       /* leases only: who holds it (free text, one line) */
} mj_image_record_t;

#define MJ_RECORD_MAGIC "moonjail-image 1"
#define MJ_LEASE_MAGIC "moonjail-lease 1"

/* Stores rec under (name, platform), replacing an older record atomically.  Every blob it
 * lists must be in the store and every layer unpacked (IMAGE otherwise), and its digest among
 * the blobs. */
int mj_store_image_put(mj_store_t *s, const mj_image_record_t *rec, mj_error_t **err);
/* 1 with *out filled (clear it with mj_image_record_clear), 0 when there is no such record. */
int mj_store_image_get(mj_store_t *s, const char *name, const char *platform, mj_image_record_t *out, mj_error_t **err);
/* Every record (sorted by name, then platform); free with mj_image_records_free.  Damaged
 * record files are skipped and counted in *damaged (may be NULL). */
int mj_store_image_list(mj_store_t *s, mj_image_record_t **out, size_t *n, size_t *damaged, mj_error_t **err);
/* 1 removed, 0 no such record.  Blobs stay until a collection (gc.h); running sandboxes hold
 * leases, so removing a record never breaks them. */
int mj_store_image_remove(mj_store_t *s, const char *name, const char *platform, mj_error_t **err);

void mj_image_record_clear(mj_image_record_t *r);
void mj_image_records_free(mj_image_record_t *v, size_t n);

/* For lease.c and gc.c: the text of a record under magic (fields validated), and back. */
int mj_record_format(const mj_image_record_t *r, const char *magic, mj_buf_t *out, mj_error_t **err);
int mj_record_parse(const char *text, size_t len, const char *magic, mj_image_record_t *out, mj_error_t **err);
/* Reads dirfd/name (a regular file, at most 1 MiB, not followed if a symlink) and parses it. */
int mj_record_read_at(int dirfd, const char *name, const char *magic, mj_image_record_t *out, mj_error_t **err);

#endif

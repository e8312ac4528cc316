/* lease.h — images pinned by running sandboxes (lease.c).  A lease is the file
 * leases/<id>.lease (a copy of the image record plus who holds it) with a shared flock on it:
 * the lease lives as long as any process holds an fd of it (a supervisor may inherit it), and
 * ends by itself when they all exit, crash included.  A collection keeps every blob a live lease
 * lists and removes the files of dead ones; `rmi` asks mj_store_image_in_use. */
#ifndef MJ_IMAGE_LEASE_H
#define MJ_IMAGE_LEASE_H

#include <stddef.h>

#include <moonjail/moonjail.h>

#include "image/records.h"
#include "image/store.h"

typedef struct mj_lease mj_lease_t;

/* Pins rec's blobs (all must be in the store: IMAGE otherwise); holder is one line of free text
 * ("sandbox NAME pid N"), may be NULL. */
int mj_store_lease(mj_store_t *s, const mj_image_record_t *rec, const char *holder, mj_lease_t **out,
                   mj_error_t **err);
const char *mj_lease_id(const mj_lease_t *l);
/* The locked fd (O_CLOEXEC): clear that flag in a child that should keep the lease alive. */
int mj_lease_fd(const mj_lease_t *l);
/* Ends the lease: removes its file and unlocks.  A lease keeps its own fds (the lock and the
 * leases directory): it may outlive the store handle it came from. */
void mj_lease_release(mj_lease_t *l);
/* Forgets the lease here (closes this process's fd) while another process keeps a copy. */
void mj_lease_detach(mj_lease_t *l);

/* Live leases of the image whose manifest is digest: how many (0: not in use), or -1. */
int mj_store_image_in_use(mj_store_t *s, const char *digest, mj_error_t **err);

/* For gc.c: calls fn for every live lease's record; removes the files of dead ones (counted in
 * *dead).  Returns fn's first non-zero value, 0, or -1 with *err. */
int mj_store_each_lease(mj_store_t *s, int (*fn)(const mj_image_record_t *rec, void *ud), void *ud, size_t *dead,
                        mj_error_t **err);

#endif

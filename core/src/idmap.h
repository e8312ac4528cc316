/* idmap.h — idmapped mounts for read-write binds when moonjail runs as root (idmap.c). */
#ifndef MJ_IDMAP_H
#define MJ_IDMAP_H

#include <moonjail/moonjail.h>

typedef struct mj_plan mj_plan_t;

/* Root only: builds the container layer over idmapped lowers (layer.c), turns read-write binds of
 * non-root-owned sources into idmapped trees (op->src_fd) whose owner appears as the sandbox user,
 * and opens every other bind source; warns about what it cannot map. */
int mj_idmap_rw_binds(mj_plan_t *plan, mj_error_t **err);

#endif

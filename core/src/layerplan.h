/* layerplan.h — the plan of the container layer (layerplan.c), before clone. */
#ifndef MJ_LAYERPLAN_H
#define MJ_LAYERPLAN_H

#include <moonjail/moonjail.h>
#include <stdbool.h>
#include <stdint.h>

#include "plan.h"

typedef struct mj_config mj_config_t;

#define MJ_LAYER_DEFAULT_SIZE ((uint64_t)1 << 30) /* a writable root without limits.disk */
#define MJ_TMPFS_DEFAULT_SIZE ((uint64_t)64 << 20)

/* nr_inodes of a tmpfs of size bytes: one per 4 KiB, at least 1024 (a tmpfs without them lets
 * empty files grow the host's slab unbounded). */
uint64_t mj_tmpfs_inodes(uint64_t size);
/* Adds an entry to the layer's base (path without or with a leading '/'; data copied, len bytes). */
mj_base_entry_t *mj_base_push(mj_plan_t *plan, mj_base_kind_t kind, const char *path, const char *data, size_t len,
                              unsigned mode);
bool mj_base_has(const mj_plan_t *plan, const char *path);
/* UNSUPPORTED when a disk limit that was asked for exceeds the memory limit (it would end in an
 * OOM kill, not ENOSPC). */
int mj_disk_check(const mj_config_t *cfg, mj_error_t **err);
/* size, or half the memory limit when that is smaller and the disk limit was not asked for
 * (warned once in the plan). */
uint64_t mj_disk_lowered(const mj_config_t *cfg, mj_plan_t *plan, uint64_t size);
/* The rest of the layer's plan, once the ops are in: the generated /etc of a "host" root, the
 * base's mount points and symlinks, the size and inodes, the index. */
void mj_layer_plan(const mj_config_t *cfg, mj_plan_t *plan);

#endif

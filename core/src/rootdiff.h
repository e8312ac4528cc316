/* rootdiff.h — what a sandbox changed in its root (rootdiff.c). */
#ifndef MJ_ROOTDIFF_H
#define MJ_ROOTDIFF_H

#include <moonjail/moonjail.h>

#include "overlay.h"

/* The changes a persistent sandbox made to its root, in each copy-on-write layer of its container
 * layer (the root, and each host directory made a layer), as mj_overlay_diff reports them, with
 * paths absolute inside the sandbox ("/test.txt", "/usr/local/bin/x").  Layers in index order,
 * each walked in its own order.  INVALID_STATE (errno ENOENT) for a sandbox without a layer (a
 * read-only rootfs root); an empty diff for a read-only host root. */
int mj_sandbox_root_diff(mj_sandbox_t *sb, mj_diff_fn fn, void *ud, mj_error_t **err);

#endif

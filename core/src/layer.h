/* layer.h — the container layer (layer.c): a sandbox's own tmpfs holding the base of its root and
 * the upper of every copy-on-write layer, and the overlays built from them. */
#ifndef MJ_LAYER_H
#define MJ_LAYER_H

#include "plan.h"

/* Builds the container layer in the cloned child's own mount namespace: opens the lowers
 * (plan->root_lowers and every MJ_OPF_LAYER op's src) while the host tree is in view — unless
 * the host opened them idmapped already (plan->layer_idmapped: they are then attached inside the
 * layer, as overlayfs clones a lower only from the mounter's own namespace) — makes the layer's
 * tmpfs (plan->layer_size, plan->layer_inodes) and attaches it on plan->staging, fills its base
 * (plan->base), writes plan->layer_index, then makes the root (an overlay of base and the root
 * lowers with its upper in the layer, or base itself when the root is read-only) and one overlay
 * per MJ_OPF_LAYER op.  On success plan->root_mnt_fd, plan->layer_fd and each layer op's src_fd
 * (the finished overlay, now MJ_OPF_PREPARED) are set.  System calls only, no allocation.  -1
 * with errno and *op_index (the op whose layer failed, or -1). */
int mj_layer_build(mj_plan_t *plan, int *op_index);

#endif

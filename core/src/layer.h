/* layer.h — the container layer (layer.c): a sandbox's own tmpfs holding the base of its root and
 * the upper of every copy-on-write layer, and the overlays built from them. */
#ifndef MJ_LAYER_H
#define MJ_LAYER_H

#include <sys/types.h>

#include "plan.h"

/* Builds the container layer in the calling mount namespace: opens the lowers (plan->root_lowers
 * and every MJ_OPF_LAYER op's src) while the host tree is in view, makes the layer's tmpfs
 * (plan->layer_size, plan->layer_inodes) and attaches it on plan->staging, fills its base
 * (plan->base), writes plan->layer_index, then makes the root (an overlay of base and the root
 * lowers with its upper in the layer, or base itself when the root is read-only) and one overlay
 * per MJ_OPF_LAYER op.  On success plan->root_mnt_fd, plan->layer_fd and each layer op's src_fd
 * (the finished overlay, now MJ_OPF_PREPARED) are set.
 * idmap_ns >= 0 (moonjail started as root, building on the host side): every lower is idmapped
 * through that user namespace and attached inside the layer (overlayfs clones a lower only from
 * the mounter's own namespace), the overlays keep their xattrs in trusted.*, and what is created
 * in the layer is owned by owner_uid:owner_gid (host ids).  idmap_ns < 0 (in the sandbox's own
 * user namespace): lowers as they are, user.* xattrs, owners as created.
 * System calls only, no allocation: usable after clone.  -1 with errno and *op_index (the op
 * whose layer failed, or -1). */
int mj_layer_build(mj_plan_t *plan, int idmap_ns, uid_t owner_uid, gid_t owner_gid, int *op_index);

#endif

/* prune.h — what crashes leave of sandboxes on the host, removed (prune.c); mj_sandbox_prune is
 * in moonjail.h. */
#ifndef MJ_PRUNE_H
#define MJ_PRUNE_H

#include <moonjail/moonjail.h>
#include <stdbool.h>

/* Removes one named sandbox's state directory and its cgroups, when its supervisor is gone (its
 * lock is free); with finish_removal (a half-removed sandbox's .rm-<id>) a live supervisor is
 * killed first (*killed says so), checked by its start time.  0, or -1 with EBUSY when the
 * supervisor lives on. */
int mj_prune_state_dir(const char *dir, bool finish_removal, bool *killed);

#endif

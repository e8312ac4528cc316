/* ltree.h — host file trees from Lua, for repository mounts (not installed, not public). */
#ifndef MOONJAIL_LTREE_H
#define MOONJAIL_LTREE_H

#include <lua.h>

#include "moonjail/moonjail.h"
#include "overlay.h"

/* With the core table on top of the stack: adds fetch, unpack, walk, remove_tree, mkdtemp,
 * overlay_diff, overlay_export, git_archive and sha256_file to it. */
void mjl_tree_register(lua_State *L);
/* Runs a diff (run(ctx, fn, ud, err), which reports each change to fn) and pushes its result:
 * an array of { path, kind = "added" | "modified" | "deleted", type }, or nil, err. */
int mjl_push_diff(lua_State *L, int (*run)(void *ctx, mj_diff_fn fn, void *ud, mj_error_t **err), void *ctx);

/* Adds unpack_archive (= core.unpack), walk, sha256_file and remove_tree to the table on top
 * of the stack: what `moonjail.image`'s load of archives stands on (limagestore.c adds them to
 * core.image). */
void mjl_tree_add_to_images(lua_State *L);

#endif

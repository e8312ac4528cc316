/* lmoonjail.h — what the files of the Lua binding share (not installed, not public).
 *
 * lmoonjail.c owns errors, results and the spec → mj_config_t / mj_command_t conversion;
 * lsandbox.c owns the Sandbox and Process userdata and uses the rest through this header.
 */
#ifndef MOONJAIL_LMOONJAIL_H
#define MOONJAIL_LMOONJAIL_H

#include <stdbool.h>
#include <stdint.h>

#include <lua.h>

#include "moonjail/moonjail.h"

#include "lbox.h"
#include "lerror.h"
#include "lopts.h"
#include "lresult.h"
#include "lutil.h"

/* With the core table on top of the stack: registers the Sandbox and Process metatables and adds
 * sandbox, open, list, signal_number… to it (lsandbox.c). */
void mjl_sandbox_register(lua_State *L);
/* Adds fetch, unpack, walk, remove_tree, mkdtemp, overlay_diff, overlay_export, git_archive (ltree.c). */
void mjl_tree_register(lua_State *L);

#endif

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
#include "lutil.h"

/* Fills cfg from the resolved spec table at index spec (docs/lua-api.md, "The core.run
 * contract").  0, or -1 with *err set; raises on a field of the wrong type. */
int mjl_spec_config(lua_State *L, int spec, mj_config_t *cfg, mj_error_t **err);
/* Fills cmd from the spec: argv, stdin, stdin_fd, timeout, output_limit, tee, forward_signals,
 * and with own_context also env, workdir and uid/gid (the command's own, for a persistent
 * sandbox; a one-shot run puts them in its config).  0, or -1 with *err set; raises on misuse. */
int mjl_spec_command(lua_State *L, int spec, mj_command_t *cmd, bool own_context, mj_error_t **err);
/* Pushes a result table (exit_code, success, signal, stdout, …, resource_usage, warnings). */
void mjl_push_result(lua_State *L, const mj_result_t *r);

/* With the core table on top of the stack: registers the Sandbox and Process metatables and adds
 * sandbox, open, list, signal_number… to it (lsandbox.c). */
void mjl_sandbox_register(lua_State *L);
/* Adds fetch, unpack, walk, remove_tree, mkdtemp, overlay_diff, overlay_export, git_archive (ltree.c). */
void mjl_tree_register(lua_State *L);

#endif

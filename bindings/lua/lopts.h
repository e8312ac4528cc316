/* lopts.h — a resolved spec table → libmoonjail config and command (not installed, not public).
 *
 * The spec is the plain table of docs/lua-api.md ("The core.run contract"), resolved by api.lua.
 * A field of the wrong type or out of range raises naming it; a setter's failure returns -1 with
 * *err set.  The caller owns cfg, cmd and *err (in its box).
 */
#ifndef MOONJAIL_LOPTS_H
#define MOONJAIL_LOPTS_H

#include <stdbool.h>

#include <lua.h>

#include "moonjail/moonjail.h"

/* Fills cfg from the spec table at index spec.  0, or -1 with *err set; raises on misuse. */
int mjl_spec_config(lua_State *L, int spec, mj_config_t *cfg, mj_error_t **err);
/* Fills cmd from the spec: argv, stdin, stdin_fd, tty, timeout, output_limit, tee,
 * forward_signals, and with own_context also env, workdir, uid/gid, read_only and no_network (the
 * command's own, for a persistent sandbox; a one-shot run puts them in its config).  0, or -1
 * with *err set; raises on misuse. */
int mjl_spec_command(lua_State *L, int spec, mj_command_t *cmd, bool own_context, mj_error_t **err);

#endif

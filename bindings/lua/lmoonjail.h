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

/* t[field] = value for the table on top of the stack. */
static inline void mjl_set_num(lua_State *L, const char *field, double v)
{
    lua_pushnumber(L, v);
    lua_setfield(L, -2, field);
}
static inline void mjl_set_int(lua_State *L, const char *field, lua_Integer v)
{
    lua_pushinteger(L, v);
    lua_setfield(L, -2, field);
}
static inline void mjl_set_bool(lua_State *L, const char *field, bool v)
{
    lua_pushboolean(L, v);
    lua_setfield(L, -2, field);
}
/* A count for Lua: values above LUA_MAXINTEGER read as LUA_MAXINTEGER. */
static inline lua_Integer mjl_clamp_u64(uint64_t v)
{
    return v > (uint64_t)LUA_MAXINTEGER ? LUA_MAXINTEGER : (lua_Integer)v;
}

#define MJL_ERROR_MT "moonjail.error"
#define MJL_BOX_MT "moonjail.box"

/* A to-be-closed userdata that owns the libmoonjail handles of one call: whatever it holds is
 * freed when the C function returns or raises. */
typedef struct {
    mj_config_t *cfg;
    mj_command_t *cmd;
    mj_result_t *res;
    mj_error_t *err;
} mjl_box_t;

/* Pushes a new empty box and marks its stack slot to-be-closed. */
mjl_box_t *mjl_new_box(lua_State *L);

/* Pushes a fresh error table {code, message, retryable, errno} with the error metatable. */
void mjl_push_error_fields(lua_State *L, const char *code, const char *message, bool retryable,
                           int errnum);
/* Pushes a libmoonjail error (borrowed) as a Lua error table, causes included. */
void mjl_push_error(lua_State *L, const mj_error_t *e);
/* Pushes nil and the error (or a SANDBOX_INIT_FAILED error with text fallback when e is NULL);
 * returns 2, for `return mjl_fail(L, err, "…")`.  Does not free e. */
int mjl_fail(lua_State *L, const mj_error_t *e, const char *fallback);

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

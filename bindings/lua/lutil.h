/* lutil.h — the few inline helpers every file of the Lua binding uses (not installed, not public).
 *
 * Owns: setting one field of the table on top of the stack, clamping a count for Lua, and the
 * to-be-closed holder userdata a C function keeps its memory in while it pushes results.
 * Must never: declare anything a .c file of the binding defines (each has its own header), or grow
 * into a catch-all: a helper that only one facility needs lives in that facility's file.
 */
#ifndef MOONJAIL_LUTIL_H
#define MOONJAIL_LUTIL_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

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
/* A NULL string is set as "". */
static inline void mjl_set_str(lua_State *L, const char *field, const char *s)
{
    lua_pushstring(L, s ? s : "");
    lua_setfield(L, -2, field);
}
/* A count for Lua: values above LUA_MAXINTEGER read as LUA_MAXINTEGER. */
static inline lua_Integer mjl_clamp_u64(uint64_t v)
{
    return v > (uint64_t)LUA_MAXINTEGER ? LUA_MAXINTEGER : (lua_Integer)v;
}

/* Pushes a new zeroed userdata of size bytes with the metatable mt (whose __close frees what the
 * caller puts in it) and marks its stack slot to-be-closed. */
static inline void *mjl_new_tbc(lua_State *L, size_t size, const char *mt)
{
    void *u = lua_newuserdatauv(L, size, 0);
    memset(u, 0, size);
    luaL_setmetatable(L, mt);
    lua_toclose(L, -1);
    return u;
}

#endif

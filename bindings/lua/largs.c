/* largs.c — strings crossing from Lua to C (see largs.h).
 *
 * Owns: the one NUL check of the binding.
 * Must never: convert, copy or truncate: a string is taken whole or refused.
 */
#include "largs.h"

#include <string.h>

#include <lauxlib.h>

const char *mjl_checkcstring(lua_State *L, int arg)
{
    size_t len;
    const char *s = luaL_checklstring(L, arg, &len);
    if (strlen(s) != len)
        luaL_argerror(L, arg, "string contains a NUL byte");
    return s;
}

const char *mjl_optcstring(lua_State *L, int arg, const char *def)
{
    return lua_isnoneornil(L, arg) ? def : mjl_checkcstring(L, arg);
}

const char *mjl_tocstring(lua_State *L, int idx, const char *what)
{
    size_t len;
    if (lua_type(L, idx) != LUA_TSTRING)
        luaL_error(L, "%s: string expected, got %s", what, luaL_typename(L, idx));
    const char *s = lua_tolstring(L, idx, &len);
    if (strlen(s) != len)
        luaL_error(L, "%s: embedded NUL in string", what);
    return s;
}

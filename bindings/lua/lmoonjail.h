/* lmoonjail.h — the entry point of the `moonjail` Lua module (not installed, not public).
 *
 * Stock lua5.4 finds it in moonjail.so by name; the moonjail executable (main.c) preloads it.
 */
#ifndef MOONJAIL_LMOONJAIL_H
#define MOONJAIL_LMOONJAIL_H

#include <lua.h>

/* Returns the module table (scripts/moonjail/api.lua over the C primitives); sets no globals. */
int luaopen_moonjail(lua_State *L);

#endif

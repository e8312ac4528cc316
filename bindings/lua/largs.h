/* largs.h — strings crossing from Lua to C (not installed, not public).
 *
 * A Lua string may hold NUL bytes; a C string ends at the first.  Every string the binding hands
 * to C as a NUL-terminated string (names, paths, argv, env, hostnames, mount specs, policy names,
 * image references…) goes through one of these, which raise on an embedded NUL instead of letting
 * C see a shorter string: `mj.open("box\0../../x")` must never open "box".  Strings handed over
 * with their length (file contents, stdin) need no check.
 */
#ifndef MOONJAIL_LARGS_H
#define MOONJAIL_LARGS_H

#include <lua.h>

/* luaL_checkstring that raises "bad argument #arg to 'f' (string contains a NUL byte)". */
const char *mjl_checkcstring(lua_State *L, int arg);
/* luaL_optstring, with the same check. */
const char *mjl_optcstring(lua_State *L, int arg, const char *def);
/* The value at idx, which must be a string (not a number) without a NUL: raises "WHAT: string
 * expected, got T" or "WHAT: embedded NUL in string".  what names the field in the message. */
const char *mjl_tocstring(lua_State *L, int idx, const char *what);

#endif

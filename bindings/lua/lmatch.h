/* lmatch.h — Lua's pattern matching under a budget (not installed, not public).
 *
 * string.find, string.match, string.gmatch and string.gsub with the semantics of Lua 5.4's
 * (docs: the reference manual, §6.4.1), written anew so that a backtracking pattern polls the
 * budget of the running code (lbudget.h) while it works: `("x"):rep(4096):find(".-.-.-.-b")`
 * ends at the deadline instead of running for hours.  A plain find is linear (memmem).
 * Without an active budget they behave as the stock functions.
 */
#ifndef MOONJAIL_LMATCH_H
#define MOONJAIL_LMATCH_H

#include <lua.h>

/* Pushes a new table: the string library of L (the string metatable's __index) with find,
 * match, gmatch and gsub replaced by the bounded ones, without the names in omit
 * (NULL-terminated, or NULL). */
void mjl_match_push_lib(lua_State *L, const char *const *omit);

#endif

/* lisolate.h — running Lua code moonjail does not trust (not installed, not public).
 *
 * Two shapes: a policy file runs in a Lua state of its own (core.eval_data), whose allocator
 * caps all it holds, and only plain data comes back; a recipe file and its hooks, which must
 * share this state with the sandboxes they drive, run in a coroutine of it under a budget
 * (core.limited).  Both bound memory, time and instructions (lbudget.h) and give the code the
 * bounded pattern functions (lmatch.h).
 */
#ifndef MOONJAIL_LISOLATE_H
#define MOONJAIL_LISOLATE_H

#include <lua.h>

/* With the core table on top of the stack: adds core.eval_data, core.limited, core.plain and
 * core.string_lib (docs/lua-api.md). */
void mjl_isolate_register(lua_State *L);

#endif

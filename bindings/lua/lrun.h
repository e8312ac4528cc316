/* lrun.h — one-shot runs from Lua (not installed, not public). */
#ifndef MOONJAIL_LRUN_H
#define MOONJAIL_LRUN_H

#include <lua.h>

/* With the core table on top of the stack: adds run to it. */
void mjl_run_register(lua_State *L);

#endif

/* lprocess.h — the Process userdata of the Lua binding (not installed, not public). */
#ifndef MOONJAIL_LPROCESS_H
#define MOONJAIL_LPROCESS_H

#include <lua.h>

#include "lhandle.h"

/* Pushes a new, still closed Process that keeps the Sandbox userdata at index sandbox alive;
 * the caller puts the mj_process_t * in the returned handle the moment it has it. */
mjl_handle_t *mjl_process_new(lua_State *L, int sandbox);
/* Frees the Process at idx (killing its command if it still runs); idempotent.  The stack is left
 * as it is. */
void mjl_process_release(lua_State *L, int idx);
/* The signal number at argument idx (0 to 64); raises otherwise. */
int mjl_check_signal(lua_State *L, int idx);

/* With the core table on top of the stack: creates the Process metatable and adds process_ops and
 * process_methods to it. */
void mjl_process_register(lua_State *L);

#endif

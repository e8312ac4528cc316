/* lsandbox.h — the Sandbox userdata (persistent sandboxes) of the Lua binding (not installed,
 * not public). */
#ifndef MOONJAIL_LSANDBOX_H
#define MOONJAIL_LSANDBOX_H

#include <lua.h>

/* With the core table on top of the stack: registers the Sandbox and Process metatables and adds
 * sandbox, open, list, sandbox_ops, sandbox_methods, process_ops and process_methods to it. */
void mjl_sandbox_register(lua_State *L);

#endif

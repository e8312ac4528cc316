/* lposix.h — the small POSIX library of the Lua binding (not installed, not public). */
#ifndef MOONJAIL_LPOSIX_H
#define MOONJAIL_LPOSIX_H

#include <lua.h>

/* With the core table on top of the stack: adds path_kind, lstat_type, realpath, list_dir,
 * mkdir_private, chmod, process_start, euid, sleep, now and platform to it. */
void mjl_posix_register(lua_State *L);

#endif

/* linfo.h — what moonjail says about itself and the host (not installed, not public). */
#ifndef MOONJAIL_LINFO_H
#define MOONJAIL_LINFO_H

#include <lua.h>

/* With the core table on top of the stack: adds version, doctor, syscall_known, policy_source and
 * policy_names to it. */
void mjl_info_register(lua_State *L);

#endif

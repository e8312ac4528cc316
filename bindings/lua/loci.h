/* loci.h — the OCI runtime's primitives of the Lua binding (not installed, not public). */
#ifndef MOONJAIL_LOCI_H
#define MOONJAIL_LOCI_H

#include <lua.h>

/* With the core table on top of the stack: adds core.oci, also package.loaded["moonjail.ocicore"] (state_dir, main_create, main_start,
 * main_signal, main_state, wait, and lposix.c's process_start, realpath, list_dir, mkdir_private,
 * now and path_kind, which must be registered first). */
void mjl_oci_register(lua_State *L);

#endif

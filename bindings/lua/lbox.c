/* lbox.c — the handle box (see lbox.h).
 *
 * Owns: the "moonjail.box" metatable and the freeing of what a box holds.
 * Must never: push anything but the box, or raise in __close (it runs while an error unwinds).
 */
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "lbox.h"

/* __gc and __close of the box: idempotent. */
static int box_release(lua_State *L)
{
    mjl_box_t *box = luaL_checkudata(L, 1, MJL_BOX_MT);
    mj_result_free(box->res);
    mj_error_free(box->err);
    mj_command_free(box->cmd);
    mj_config_free(box->cfg);
    free(box->mem);
    mj_strings_free(box->names, box->n_names);
    mj_file_infos_free(box->files, box->n_files);
    mj_file_info_clear(&box->file);
    mj_proc_entries_free(box->procs, box->n_procs);
    mj_checks_free(box->checks, box->n_checks);
    memset(box, 0, sizeof *box);
    return 0;
}

mjl_box_t *mjl_new_box(lua_State *L)
{
    mjl_box_t *box = lua_newuserdatauv(L, sizeof *box, 0);
    memset(box, 0, sizeof *box);
    luaL_setmetatable(L, MJL_BOX_MT);
    lua_toclose(L, -1);
    return box;
}

void mjl_box_register(lua_State *L)
{
    if (luaL_newmetatable(L, MJL_BOX_MT)) {
        lua_pushcfunction(L, box_release);
        lua_setfield(L, -2, "__gc");
        lua_pushcfunction(L, box_release);
        lua_setfield(L, -2, "__close");
    }
    lua_pop(L, 1);
}

/* lrun.c — one-shot runs from Lua: core.run.
 *
 * Owns: core.run(spec) -> result | nil, err, over mj_run (docs/lua-api.md, "The core.run
 * contract").
 * Must never: hold a libmoonjail handle outside its box, or raise for a runtime failure (those
 * return nil, err; only misuse in the spec raises).
 */
#include <lauxlib.h>
#include <lua.h>

#include "lbox.h"
#include "lerror.h"
#include "lopts.h"
#include "lresult.h"
#include "lrun.h"
#include "plan.h"
#include "plandump.h"

/* core.run(spec) -> result | nil, err */
static int core_run(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);

    /* The box exists before any handle does, and is closed on return or on any error. */
    mjl_box_t *box = mjl_new_box(L);

    box->cfg = mj_config_new();
    box->cmd = mj_command_new();
    if (box->cfg == NULL || box->cmd == NULL)
        return luaL_error(L, "moonjail core.run: out of memory");

    if (mjl_spec_config(L, 1, box->cfg, &box->err) == 0 &&
        mjl_spec_command(L, 1, box->cmd, false, &box->err) == 0)
        mj_run(box->cfg, box->cmd, &box->res, &box->err);

    if (box->res != NULL) {
        mjl_push_result(L, box->res);
        return 1;
    }
    return mjl_fail(L, box->err, "Sandbox initialization failed: no result");
}

/* core.dump_plan(spec) -> text | nil, err: the plan core.run would build (internal: moonjail run
 * --dump-plan and the specs that compare it with mj_config_new_default). */
static int core_dump_plan(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    mjl_box_t *box = mjl_new_box(L);
    box->cfg = mj_config_new();
    box->cmd = mj_command_new();
    if (mjl_spec_config(L, 1, box->cfg, &box->err) == 0 && mjl_spec_command(L, 1, box->cmd, false, &box->err) == 0) {
        mj_plan_t plan;
        if (mj_plan_build(box->cfg, box->cmd, &plan, &box->err) == 0) {
            box->mem = mj_plan_dump(&plan);
            mj_plan_free(&plan);
            lua_pushstring(L, box->mem);
            return 1;
        }
    }
    return mjl_fail(L, box->err, "the plan could not be built");
}

void mjl_run_register(lua_State *L)
{
    lua_pushcfunction(L, core_run);
    lua_setfield(L, -2, "run");
    lua_pushcfunction(L, core_dump_plan);
    lua_setfield(L, -2, "dump_plan");
}

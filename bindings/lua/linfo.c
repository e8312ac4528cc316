/* linfo.c — what moonjail says about itself and the host, and the policies it carries.
 *
 * Owns: core.version, core.doctor (the host checks), core.syscall_known and the embedded policy
 * texts: core.policy_source, core.policy_names; core.trace, the Lua side's marks in the phase trace.
 * Must never: change anything on the host, or load or run a policy (the Lua side does that).
 */
#include <stdlib.h>

#include <lauxlib.h>
#include <lua.h>

#include "embedded.h"
#include "largs.h"
#include "lbox.h"
#include "linfo.h"
#include "moonjail/moonjail.h"
#include "trace.h"

/* core.policy_source(name) -> text | nil */
static int core_policy_source(lua_State *L)
{
    size_t len = 0;
    const char *src = mjl_policy_source(mjl_checkcstring(L, 1), &len);
    if (src == NULL)
        lua_pushnil(L);
    else
        lua_pushlstring(L, src, len);
    return 1;
}

/* core.policy_names() -> array of embedded policy names */
static int core_policy_names(lua_State *L)
{
    const char *const *names = mjl_policy_names();
    lua_newtable(L);
    for (lua_Integer i = 0; names != NULL && names[i] != NULL; i++) {
        lua_pushstring(L, names[i]);
        lua_rawseti(L, -2, i + 1);
    }
    return 1;
}

static int core_version(lua_State *L)
{
    lua_pushstring(L, mj_version());
    return 1;
}

/* core.doctor() -> array of { name, status = "ok"|"missing"|"info", detail, fix } */
static int core_doctor(lua_State *L)
{
    mjl_box_t *box = mjl_new_box(L);
    mj_check_t *checks = NULL;
    size_t n = 0;
    mj_doctor(&checks, &n);
    box->checks = checks;
    box->n_checks = n;
    lua_createtable(L, (int)n, 0);
    for (size_t i = 0; i < n; i++) {
        lua_createtable(L, 0, 4);
        lua_pushstring(L, checks[i].name);
        lua_setfield(L, -2, "name");
        lua_pushstring(L, checks[i].status == 1 ? "ok" : checks[i].status == 0 ? "missing" : "info");
        lua_setfield(L, -2, "status");
        lua_pushstring(L, checks[i].detail);
        lua_setfield(L, -2, "detail");
        if (checks[i].fix && checks[i].fix[0]) {
            lua_pushstring(L, checks[i].fix);
            lua_setfield(L, -2, "fix");
        }
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    return 1;
}

/* core.syscall_known(name) -> boolean */
static int core_syscall_known(lua_State *L)
{
    lua_pushboolean(L, mj_seccomp_syscall_known(mjl_checkcstring(L, 1)));
    return 1;
}

/* core.trace(phase): ends a phase of the trace (MOONJAIL_TRACE=timing); nothing when it is off. */
static int core_trace(lua_State *L)
{
    if (mj_trace_on)
        mj_trace_mark_slow(luaL_checkstring(L, 1));
    return 0;
}

static const luaL_Reg info_funcs[] = {
    {"trace", core_trace},
    {"version", core_version},
    {"doctor", core_doctor},
    {"syscall_known", core_syscall_known},
    {"policy_source", core_policy_source},
    {"policy_names", core_policy_names},
    {NULL, NULL},
};

void mjl_info_register(lua_State *L)
{
    luaL_setfuncs(L, info_funcs, 0);
}

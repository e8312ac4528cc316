/* fuzz/lua_target.c — a libFuzzer target over a Lua driver (fuzz/lua/NAME.lua).
 *
 * Owns: one Lua state for the whole run with the moonjail module (its embedded Lua modules and
 * C primitives) loaded as the executable loads it; the driver's function called with each input;
 * and Lua line coverage (edges between consecutive lines, hashed) handed to libFuzzer through
 * its extra counters, since liblua itself is not instrumented.
 * A driver reports a finding by raising: the harness prints the error with a traceback and
 * aborts, and libFuzzer keeps the input.  Built once per driver with MJ_FUZZ_TARGET and
 * MJ_FUZZ_DRIVER defined (fuzz/CMakeLists.txt).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "embedded.h"
#include "lmoonjail.h"

#define EDGES (1u << 16)

__attribute__((section("__libfuzzer_extra_counters"))) static uint8_t lua_edges[EDGES];

static lua_State *L;
static int driver = LUA_NOREF;
static uintptr_t prev_line;

static void line_hook(lua_State *S, lua_Debug *ar)
{
    if (!lua_getinfo(S, "S", ar))
        return;
    uintptr_t here = (uintptr_t)ar->source * 31u ^ (uintptr_t)ar->currentline * 2654435761u;
    lua_edges[(here ^ prev_line) % EDGES]++;
    prev_line = here >> 1;
}

static int traceback(lua_State *S)
{
    const char *msg = lua_tostring(S, 1);
    luaL_traceback(S, S, msg ? msg : "(error object is not a string)", 1);
    return 1;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    L = luaL_newstate();
    luaL_openlibs(L);
    mjl_install_searcher(L);
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
    lua_pushcfunction(L, luaopen_moonjail);
    lua_setfield(L, -2, "moonjail");
    lua_pop(L, 1);
    lua_pushcfunction(L, traceback);
    if (luaL_loadfile(L, MJ_FUZZ_DRIVER) != LUA_OK || lua_pcall(L, 0, 1, 1) != LUA_OK || !lua_isfunction(L, -1)) {
        fprintf(stderr, "fuzz_%s: the driver %s: %s\n", MJ_FUZZ_TARGET, MJ_FUZZ_DRIVER,
                lua_isstring(L, -1) ? lua_tostring(L, -1) : "did not return a function");
        exit(2);
    }
    driver = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_settop(L, 0);
    lua_sethook(L, line_hook, LUA_MASKLINE, 0);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    lua_settop(L, 0);
    lua_pushcfunction(L, traceback);
    lua_rawgeti(L, LUA_REGISTRYINDEX, driver);
    lua_pushlstring(L, (const char *)data, size);
    if (lua_pcall(L, 1, 0, 1) != LUA_OK) {
        fprintf(stderr, "fuzz_%s: finding: %s\n", MJ_FUZZ_TARGET, lua_tostring(L, -1));
        abort();
    }
    lua_settop(L, 0);
    return 0;
}

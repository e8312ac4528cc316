/* main.c — the moonjail executable: a thin host that embeds Lua 5.4 and runs the CLI in Lua.
 *
 * Owns: the process's Lua state, the global `arg`, and the mapping of a Lua failure to exit
 * status 125.  Everything the CLI does lives in scripts/moonjail/cli.lua (embedded in the binary);
 * keep start-up here to the bare minimum, it is part of every command's latency.
 *
 *   moonjail [--lua-dir DIR] ARGS...
 *
 * --lua-dir DIR (only as the first argument) is the same as MOONJAIL_LUA_DIR=DIR: the Lua modules
 * and policies are read from the source tree DIR first (see embedded.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "embedded.h"
#include "lmoonjail.h"
#include "trace.h"

#define EXIT_INTERNAL 125 /* moonjail's own failure, as docker's */

/* Message handler: the error text (or its __tostring) with a traceback. */
static int traceback(lua_State *L)
{
    const char *msg = lua_tostring(L, 1);
    if (msg == NULL) {
        if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING)
            return 1; /* an error object that prints itself says enough */
        msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
    }
    luaL_traceback(L, L, msg, 1);
    return 1;
}

/* Runs in protected mode: argv (as a light userdata) and argc on the stack; returns the status. */
static int pmain(lua_State *L)
{
    int argc = (int)lua_tointeger(L, 2);
    char **argv = lua_touserdata(L, 1);

    luaL_checkversion(L);
    luaL_openlibs(L);
    mjl_install_searcher(L);
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
    lua_pushcfunction(L, luaopen_moonjail);
    lua_setfield(L, -2, "moonjail");
    lua_pop(L, 1);
    mj_trace_mark("lua vm, libs");

    /* arg, as the lua interpreter sets it: arg[0] the program, arg[1..] its arguments */
    lua_createtable(L, argc > 0 ? argc - 1 : 0, 1);
    for (int i = 0; i < argc; i++) {
        lua_pushstring(L, argv[i]);
        lua_rawseti(L, -2, i);
    }
    lua_pushvalue(L, -1);
    lua_setglobal(L, "arg");

    lua_getglobal(L, "require");
    lua_pushliteral(L, "moonjail.cli");
    lua_call(L, 1, 1); /* main = require "moonjail.cli" */
    mj_trace_mark("require moonjail.cli");
    lua_insert(L, -2); /* main, arg */
    lua_call(L, 1, 1);
    mj_trace_mark("cli: report");

    int status;
    if (lua_isnoneornil(L, -1))
        status = EXIT_SUCCESS;
    else if (lua_isboolean(L, -1))
        status = lua_toboolean(L, -1) ? EXIT_SUCCESS : EXIT_FAILURE;
    else if (lua_isinteger(L, -1))
        status = (int)(lua_tointeger(L, -1) & 0xff);
    else
        return luaL_error(L, "moonjail.cli's main returned a %s, not an exit status",
                          luaL_typename(L, -1));
    lua_pushinteger(L, status);
    return 1;
}

int main(int argc, char **argv)
{
    if (argc >= 3 && strcmp(argv[1], "--lua-dir") == 0) {
        if (setenv("MOONJAIL_LUA_DIR", argv[2], 1) != 0) {
            perror("moonjail: --lua-dir");
            return EXIT_INTERNAL;
        }
        argv[2] = argv[0];
        argv += 2;
        argc -= 2;
    }

    /* One trace of the whole command, printed at the end; a script's API calls print one each. */
    if (argc < 2 || strcmp(argv[1], "script") != 0)
        mj_trace_hold();
    mj_trace_mark("main");
    lua_State *L = luaL_newstate();
    if (L == NULL) {
        fputs("moonjail: internal error: cannot create the Lua state (out of memory)\n", stderr);
        return EXIT_INTERNAL;
    }
    lua_pushcfunction(L, traceback);
    lua_pushcfunction(L, pmain);
    lua_pushlightuserdata(L, argv);
    lua_pushinteger(L, argc);
    int status;
    if (lua_pcall(L, 2, 1, 1) == LUA_OK) {
        status = (int)lua_tointeger(L, -1);
    } else {
        const char *msg = lua_tostring(L, -1);
        fprintf(stderr, "moonjail: internal error: %s\n", msg ? msg : "(no message)");
        status = EXIT_INTERNAL;
    }
    fflush(stdout);
    lua_close(L); /* runs __gc/__close: sandboxes still open are torn down */
    mj_trace_mark("lua_close");
    mj_trace_print(argc > 1 ? argv[1] : "moonjail");
    return status;
}

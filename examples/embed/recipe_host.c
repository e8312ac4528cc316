/* recipe_host.c — a C program that embeds Lua 5.4 and runs a moonjail recipe.
 *
 *     recipe_host RECIPE.lua
 *
 * Loads the installed moonjail Lua module with a plain `require "moonjail"` (found on
 * package.cpath, so LUA_CPATH works as for the lua5.4 interpreter) and calls
 * `mj.recipe(path, { quiet = false })`.  Prints the report's status; exit status 0 when the
 * recipe passed, 1 when it failed, could not run or raised, 2 on a usage error.
 * Links liblua5.4 only: the module carries the engine inside it.
 */
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <stdio.h>
#include <string.h>

/* lua_pcall's message handler: the error message plus a traceback (as lua.c does). */
static int traceback(lua_State *L)
{
    const char *msg = lua_tostring(L, 1);
    if (msg == NULL) { /* an error object: use its __tostring when it has one */
        if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING)
            msg = lua_tostring(L, -1);
        else
            msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
    }
    luaL_traceback(L, L, msg, 1);
    return 1;
}

/* Runs under lua_pcall with the recipe path as argument 1; returns true when it passed. */
static int run_recipe(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);

    /* local mj = require "moonjail" */
    lua_getglobal(L, "require");
    lua_pushliteral(L, "moonjail");
    lua_call(L, 1, 1);

    /* local report, err = mj.recipe(path, { quiet = false }) */
    lua_getfield(L, -1, "recipe");
    if (!lua_isfunction(L, -1)) {
        lua_getfield(L, -2, "version");
        return luaL_error(L, "the moonjail module found (version %s) has no recipe()",
                          lua_isstring(L, -1) ? lua_tostring(L, -1) : "unknown");
    }
    lua_pushstring(L, path);
    lua_createtable(L, 0, 1);
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "quiet");
    lua_call(L, 2, 2);

    if (lua_isnil(L, -2)) { /* nil, err: the recipe could not run (a runtime failure, not a bug) */
        fprintf(stderr, "recipe_host: %s\n", luaL_tolstring(L, -1, NULL));
        lua_pushboolean(L, 0);
        return 1;
    }
    lua_getfield(L, -2, "status"); /* "passed" or "failed" */
    const char *status = lua_tostring(L, -1);
    printf("status: %s\n", status ? status : "(none)");
    lua_pushboolean(L, status != NULL && strcmp(status, "passed") == 0);
    return 1;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s RECIPE.lua\n", argv[0]);
        return 2;
    }
    lua_State *L = luaL_newstate();
    if (L == NULL) {
        fputs("recipe_host: cannot create a Lua state\n", stderr);
        return 1;
    }
    luaL_openlibs(L); /* the standard libraries, including package (require) */

    int passed = 0;
    lua_pushcfunction(L, traceback);
    lua_pushcfunction(L, run_recipe);
    lua_pushstring(L, argv[1]);
    if (lua_pcall(L, 1, 1, 1) != LUA_OK)
        fprintf(stderr, "recipe_host: %s\n", lua_tostring(L, -1));
    else
        passed = lua_toboolean(L, -1);
    lua_close(L); /* also closes every sandbox the recipe left open */
    return passed ? 0 : 1;
}

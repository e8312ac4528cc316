/* lerror.c — the Lua shape of moonjail errors (see lerror.h).
 *
 * Owns: the metatable "moonjail.error" (its __tostring), turning an mj_error_t and its causes into
 * error tables, the nil, err convention, and core.error / core.codes, with which the Lua side
 * makes errors of the same shape.
 * Must never: free an error it is given (the caller's box owns it), or decide which failures
 * raise: a caller raises on misuse and returns nil, err through here on runtime failures.
 */
#include <errno.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "lerror.h"

void mjl_push_error_fields(lua_State *L, const char *code, const char *message, bool retryable,
                           int errnum)
{
    lua_createtable(L, 0, 5);
    lua_pushstring(L, code);
    lua_setfield(L, -2, "code");
    lua_pushstring(L, message);
    lua_setfield(L, -2, "message");
    lua_pushboolean(L, retryable);
    lua_setfield(L, -2, "retryable");
    if (errnum != 0) {
        lua_pushinteger(L, errnum);
        lua_setfield(L, -2, "errno");
    }
    luaL_setmetatable(L, MJL_ERROR_MT);
}

void mjl_push_error(lua_State *L, const mj_error_t *e)
{
    const char *code = mj_error_code_name(mj_error_code(e));
    const char *message = mj_error_message(e);
    mjl_push_error_fields(L, code ? code : "SANDBOX_INIT_FAILED", message ? message : "unknown error",
                          mj_error_retryable(e), mj_error_errno(e));
    const mj_error_t *cause = mj_error_cause(e);
    if (cause != NULL) {
        luaL_checkstack(L, 4, "error cause chain too deep");
        mjl_push_error(L, cause);
        lua_setfield(L, -2, "cause");
    }
}

int mjl_fail(lua_State *L, const mj_error_t *e, const char *fallback)
{
    lua_pushnil(L);
    if (e != NULL)
        mjl_push_error(L, e);
    else
        mjl_push_error_fields(L, "SANDBOX_INIT_FAILED", fallback ? fallback : "unknown error", false, 0);
    return 2;
}

int mjl_fail_errno(lua_State *L, const char *code, int errnum, const char *what)
{
    mj_error_code_t c = mj_error_code_from_name(code);
    lua_pushnil(L);
    lua_pushfstring(L, "%s: %s: %s", mj_error_code_text(c), what, strerror(errnum));
    mjl_push_error_fields(L, code, lua_tostring(L, -1), errnum == EAGAIN || errnum == EINTR, errnum);
    lua_remove(L, -2);
    return 2;
}

int mjl_push_status(lua_State *L, int rc, const mjl_box_t *box)
{
    if (rc == 0) {
        lua_pushboolean(L, 1);
        return 1;
    }
    return mjl_fail(L, box->err, "operation failed");
}

static int error_tostring(lua_State *L)
{
    lua_getfield(L, 1, "message");
    if (!lua_isstring(L, -1)) {
        lua_pop(L, 1);
        lua_pushliteral(L, "moonjail error");
    }
    return 1;
}

/* Errno values that make an error worth retrying (as mj_error_new decides it). */
static bool errno_is_retryable(int errnum)
{
    return errnum == EAGAIN || errnum == EBUSY || errnum == EINTR || errnum == ETIMEDOUT;
}

/* core.error(code, detail|nil, opts|nil) -> error table.
 * message = "<base text>: <detail>" (or the base text alone), or exactly opts.literal.
 * opts: literal (string), retryable (bool), errno (integer), cause (error). */
static int core_error(lua_State *L)
{
    const char *name = luaL_checkstring(L, 1);
    const char *detail = luaL_optstring(L, 2, NULL);
    mj_error_code_t code = mj_error_code_from_name(name);
    if (code == MJ_OK)
        return luaL_argerror(L, 1, lua_pushfstring(L, "unknown error code '%s'", name));
    if (!lua_isnoneornil(L, 3))
        luaL_checktype(L, 3, LUA_TTABLE);

    int errnum = 0;
    const char *literal = NULL;
    if (lua_istable(L, 3)) {
        lua_getfield(L, 3, "errno");
        if (!lua_isnil(L, -1)) {
            if (!lua_isinteger(L, -1))
                return luaL_argerror(L, 3, "'errno' must be an integer");
            errnum = (int)lua_tointeger(L, -1);
        }
        lua_pop(L, 1);
        lua_getfield(L, 3, "literal");
        if (!lua_isnil(L, -1)) {
            if (lua_type(L, -1) != LUA_TSTRING)
                return luaL_argerror(L, 3, "'literal' must be a string");
            literal = lua_tostring(L, -1); /* stays on the stack, so stays alive */
        }
    }

    bool retryable = errno_is_retryable(errnum);
    if (lua_istable(L, 3)) {
        lua_getfield(L, 3, "retryable");
        if (!lua_isnil(L, -1)) {
            if (!lua_isboolean(L, -1))
                return luaL_argerror(L, 3, "'retryable' must be a boolean");
            retryable = lua_toboolean(L, -1);
        }
        lua_pop(L, 1);
    }

    if (literal != NULL) {
        lua_pushstring(L, literal);
    } else {
        const char *base = mj_error_code_text(code);
        if (detail != NULL && *detail != '\0')
            lua_pushfstring(L, "%s: %s", base, detail);
        else
            lua_pushstring(L, base);
    }
    mjl_push_error_fields(L, name, lua_tostring(L, -1), retryable, errnum);

    if (lua_istable(L, 3)) {
        lua_getfield(L, 3, "cause");
        if (!lua_isnil(L, -1)) {
            if (!lua_istable(L, -1) && !lua_isuserdata(L, -1))
                return luaL_argerror(L, 3, "'cause' must be an error");
            lua_setfield(L, -2, "cause");
        } else {
            lua_pop(L, 1);
        }
    }
    return 1;
}

/* core.codes() -> array of the code names, in mj_error_code_t order. */
static int core_codes(lua_State *L)
{
    lua_createtable(L, MJ_ERR__COUNT - 1, 0);
    for (int c = MJ_OK + 1; c < MJ_ERR__COUNT; c++) {
        lua_pushstring(L, mj_error_code_name((mj_error_code_t)c));
        lua_rawseti(L, -2, c);
    }
    return 1;
}

static const luaL_Reg error_funcs[] = {
    {"error", core_error},
    {"codes", core_codes},
    {NULL, NULL},
};

void mjl_error_register(lua_State *L)
{
    if (luaL_newmetatable(L, MJL_ERROR_MT)) {
        lua_pushcfunction(L, error_tostring);
        lua_setfield(L, -2, "__tostring");
    }
    lua_setfield(L, -2, "error_mt");
    luaL_setfuncs(L, error_funcs, 0);
}

/* lhandle.c — the life cycle of handle userdata (see lhandle.h).
 *
 * Owns: __gc/__close, __tostring, close and is_closed of every handle type, and checking that a
 * handle is open.  The type travels as the C closures' upvalue.
 * Must never: know a handle type (Sandbox, Process) by name, or raise from __gc/__close.
 */
#include <string.h>

#include "lhandle.h"

static const mjl_handle_type_t *type_of(lua_State *L)
{
    return lua_touserdata(L, lua_upvalueindex(1));
}

void *mjl_handle_new(lua_State *L, const mjl_handle_type_t *t, size_t size, int nuvalue)
{
    void *u = lua_newuserdatauv(L, size, nuvalue);
    memset(u, 0, size);
    luaL_setmetatable(L, t->mt);
    return u;
}

void *mjl_handle_to(lua_State *L, int idx, const mjl_handle_type_t *t)
{
    return luaL_checkudata(L, idx, t->mt);
}

void *mjl_handle_check(lua_State *L, int idx, const mjl_handle_type_t *t)
{
    mjl_handle_t *h = mjl_handle_to(L, idx, t);
    if (h->handle == NULL)
        luaL_error(L, "attempt to use a closed %s", t->what);
    return h;
}

void mjl_handle_release(lua_State *L, int idx, const mjl_handle_type_t *t)
{
    mjl_handle_t *h = mjl_handle_to(L, idx, t);
    if (h->handle == NULL)
        return;
    if (t->before_free != NULL)
        t->before_free(L, idx);
    void *handle = h->handle;
    h->handle = NULL;
    t->free(handle);
}

/* __gc and __close: idempotent. */
static int handle_release(lua_State *L)
{
    mjl_handle_release(L, 1, type_of(L));
    return 0;
}

/* ops.close(u): raises on a closed handle (as file:close does), else releases; true. */
static int handle_close(lua_State *L)
{
    const mjl_handle_type_t *t = type_of(L);
    mjl_handle_check(L, 1, t);
    lua_settop(L, 1);
    mjl_handle_release(L, 1, t);
    lua_pushboolean(L, 1);
    return 1;
}

static int handle_is_closed(lua_State *L)
{
    const mjl_handle_t *h = mjl_handle_to(L, 1, type_of(L));
    lua_pushboolean(L, h->handle == NULL);
    return 1;
}

static int handle_tostring(lua_State *L)
{
    const mjl_handle_type_t *t = type_of(L);
    const mjl_handle_t *h = mjl_handle_to(L, 1, t);
    if (h->handle == NULL)
        lua_pushfstring(L, "%s (closed)", t->mt);
    else
        t->describe(L, h->handle);
    return 1;
}

/* Pushes f as a closure over the type t. */
static void push_typed(lua_State *L, const mjl_handle_type_t *t, lua_CFunction f)
{
    lua_pushlightuserdata(L, (void *)t);
    lua_pushcclosure(L, f, 1);
}

void mjl_handle_register(lua_State *L, const mjl_handle_type_t *t, const luaL_Reg *ops)
{
    luaL_newmetatable(L, t->mt);
    push_typed(L, t, handle_release);
    lua_pushvalue(L, -1);
    lua_setfield(L, -3, "__gc");
    lua_setfield(L, -2, "__close");
    push_typed(L, t, handle_tostring);
    lua_setfield(L, -2, "__tostring");
    lua_getfield(L, -1, "__index");
    if (!lua_istable(L, -1)) {
        lua_pop(L, 1);
        lua_newtable(L);
        lua_pushvalue(L, -1);
        lua_setfield(L, -3, "__index");
    }
    lua_setfield(L, -3, t->methods_field);
    lua_pop(L, 1);

    lua_newtable(L);
    luaL_setfuncs(L, ops, 0);
    push_typed(L, t, handle_close);
    lua_setfield(L, -2, "close");
    push_typed(L, t, handle_is_closed);
    lua_setfield(L, -2, "is_closed");
    lua_setfield(L, -2, t->ops_field);
}

/* lisolate.c — running Lua code moonjail does not trust (see lisolate.h).
 *
 * Owns: core.eval_data (a chunk in a state of its own, with nothing but the bounded string
 * methods, its result copied back as plain data), core.limited (a function in a coroutine of
 * this state under a budget, with the bounded string methods in the string metatable while it
 * runs), core.plain (a raw copy of data untrusted code made: no metatable, so no metamethod of
 * it ever runs outside its budget) and core.string_lib.
 * Must never: give the code anything but what the caller passes, call a metamethod of its
 * values, or let an error escape without the budget's settings restored.
 */
#include "lisolate.h"

#include <math.h>
#include <string.h>

#include <lauxlib.h>
#include <lualib.h>

#include "lbudget.h"
#include "lmatch.h"

#define ISOLATE_MT "moonjail.isolated_state"
#define BOUNDED_KEY "moonjail.bounded_strings"
#define MAX_NESTING 100 /* tables in tables, when data is copied */

/* ---------------------------------------------------------------- limits */

static double limit_field(lua_State *L, int t, const char *field)
{
    lua_getfield(L, t, field);
    double v = lua_isnil(L, -1) ? 0 : luaL_checknumber(L, -1);
    lua_pop(L, 1);
    if (!(v >= 0) || isinf(v))
        luaL_error(L, "moonjail core: limit '%s' must be a finite number >= 0", field);
    return v;
}

/* { memory = bytes, seconds = s, instructions = n } at index t */
static mjl_limits_t read_limits(lua_State *L, int t)
{
    luaL_checktype(L, t, LUA_TTABLE);
    mjl_limits_t lim = {
        .memory = (size_t)limit_field(L, t, "memory"),
        .seconds = limit_field(L, t, "seconds"),
        .instructions = (uint64_t)limit_field(L, t, "instructions"),
    };
    return lim;
}

/* ---------------------------------------------------------------- copying data */

typedef struct {
    lua_State *from, *to;
    int seen;     /* index in `to` of { [table of from] = its copy } */
    bool same;    /* one state: functions and other references are kept as they are */
    const char *what; /* names the data in errors */
} copier_t;

/* Pushes onto c->to a copy of the value at idx of c->from: tables copied raw (no metamethod
 * runs, no metatable comes along), shared and cyclic tables kept so. */
static void copy_value(copier_t *c, int idx, int depth)
{
    lua_State *from = c->from, *to = c->to;
    idx = lua_absindex(from, idx);
    if (!lua_checkstack(from, 3))
        luaL_error(to, "%s (nested too deeply)", c->what);
    luaL_checkstack(to, 4, "copying data");
    switch (lua_type(from, idx)) {
    case LUA_TNIL:
        lua_pushnil(to);
        return;
    case LUA_TBOOLEAN:
        lua_pushboolean(to, lua_toboolean(from, idx));
        return;
    case LUA_TNUMBER:
        if (lua_isinteger(from, idx))
            lua_pushinteger(to, lua_tointeger(from, idx));
        else
            lua_pushnumber(to, lua_tonumber(from, idx));
        return;
    case LUA_TSTRING:
        if (c->same) {
            lua_pushvalue(to, idx);
        } else {
            size_t n;
            const char *s = lua_tolstring(from, idx, &n);
            lua_pushlstring(to, s, n);
        }
        return;
    case LUA_TTABLE:
        break;
    default:
        if (!c->same)
            luaL_error(to, "%s (it returned a %s)", c->what, lua_typename(from, lua_type(from, idx)));
        lua_pushvalue(to, idx);
        return;
    }
    const void *key = lua_topointer(from, idx);
    if (lua_rawgetp(to, c->seen, key) == LUA_TTABLE)
        return;
    lua_pop(to, 1);
    if (depth >= MAX_NESTING)
        luaL_error(to, "%s (tables nested more than %d deep)", c->what, MAX_NESTING);
    lua_newtable(to);
    int copy = lua_gettop(to);
    lua_pushvalue(to, copy);
    lua_rawsetp(to, c->seen, key);
    lua_pushnil(from);
    while (lua_next(from, idx)) {
        int v = lua_gettop(from); /* (absolute: from may be to, whose top grows below) */
        copy_value(c, v - 1, depth + 1);
        copy_value(c, v, depth + 1);
        lua_rawset(to, copy);
        lua_pop(from, 1);
    }
}

/* Pushes onto to a copy of the value at idx of from (see copy_value). */
static void copy_data(lua_State *from, int idx, lua_State *to, bool same, const char *what)
{
    idx = lua_absindex(from, idx);
    lua_newtable(to);
    copier_t c = {.from = from, .to = to, .seen = lua_gettop(to), .same = same, .what = what};
    copy_value(&c, idx, 0);
    lua_remove(to, c.seen);
}

/* core.plain(value) -> a copy of value whose tables have no metatables (functions kept). */
static int core_plain(lua_State *L)
{
    luaL_checkany(L, 1);
    lua_settop(L, 1);
    copy_data(L, 1, L, true, "value");
    return 1;
}

/* copy_data from an isolated state, in protected mode (a value that is not data raises) */
typedef struct {
    lua_State *from;
    int idx;
    const char *what;
} data_copy_t;

static int protected_copy(lua_State *L)
{
    data_copy_t *d = lua_touserdata(L, 1);
    copy_data(d->from, d->idx, L, false, d->what);
    return 1;
}

/* ---------------------------------------------------------------- a state of its own */

typedef struct {
    lua_State *S;
    mjl_budget_t *b;
} isolated_t;

static int isolated_close(lua_State *L)
{
    isolated_t *iso = luaL_checkudata(L, 1, ISOLATE_MT);
    if (iso->S != NULL || iso->b != NULL)
        mjl_budget_close(iso->S, iso->b);
    iso->S = NULL;
    iso->b = NULL;
    return 0;
}

typedef struct {
    const char *source, *name;
    size_t len;
    bool syntax; /* the error is the chunk's syntax */
} chunk_t;

static const char *const hidden_in_data[] = {"rep", "dump", NULL};

/* In the new state (protected): the string library with the bounded methods in the string
 * metatable (no rep, no dump), then the chunk, its _ENV an empty table. */
static int prepare_state(lua_State *S)
{
    chunk_t *ch = lua_touserdata(S, 1);
    luaL_requiref(S, LUA_STRLIBNAME, luaopen_string, 0);
    mjl_match_push_lib(S, hidden_in_data);
    lua_pushliteral(S, "");
    lua_getmetatable(S, -1);
    lua_pushvalue(S, -3);
    lua_setfield(S, -2, "__index");
    lua_settop(S, 1);
    if (luaL_loadbufferx(S, ch->source, ch->len, ch->name, "t") != LUA_OK) {
        ch->syntax = true;
        return lua_error(S);
    }
    lua_newtable(S);
    lua_setupvalue(S, -2, 1); /* a main chunk's first upvalue is _ENV */
    return 1;
}

/* core.eval_data(source, chunkname, limits) -> true, value | false, message, kind
 * The chunk (text only) runs in a new state under limits (memory caps the whole state); its
 * first result comes back copied, and must be data (nil, booleans, numbers, strings, tables).
 * kind: "syntax", "memory", "time", "instructions", "error" (its own), "data" (not data). */
static int core_eval_data(lua_State *L)
{
    chunk_t ch = {0};
    ch.source = luaL_checklstring(L, 1, &ch.len);
    ch.name = luaL_checkstring(L, 2);
    mjl_limits_t lim = read_limits(L, 3);
    lua_settop(L, 3);

    isolated_t *iso = lua_newuserdatauv(L, sizeof *iso, 0); /* 4: closes the state, whatever happens */
    memset(iso, 0, sizeof *iso);
    luaL_setmetatable(L, ISOLATE_MT);
    lua_toclose(L, 4);
    iso->S = mjl_budget_newstate(&iso->b);
    if (iso->S == NULL)
        return luaL_error(L, "moonjail core.eval_data: out of memory");
    lua_State *S = iso->S;

    lua_pushcfunction(S, prepare_state);
    lua_pushlightuserdata(S, &ch);
    if (lua_pcall(S, 1, 1, 0) != LUA_OK) {
        lua_pushboolean(L, 0);
        mjl_budget_scope_t none = {0};
        mjl_budget_push_failure(L, S, &none);
        lua_pushstring(L, ch.syntax ? "syntax" : "error");
        return 3;
    }
    lua_State *co = lua_newthread(S);
    lua_rotate(S, -2, 1); /* thread, chunk */
    lua_xmove(S, co, 1);

    mjl_budget_scope_t scope;
    mjl_budget_begin(iso->b, &lim, &scope);
    mjl_budget_watch(co);
    int nres = 0;
    int status = lua_resume(co, S, 0, &nres);
    mjl_over_t over = mjl_budget_end(iso->b, &scope);
    if (status == LUA_OK && nres == 0) {
        lua_pushboolean(L, 1);
        lua_pushnil(L);
        return 2;
    }
    if (status == LUA_OK) {
        const char *file = ch.name[0] == '@' || ch.name[0] == '=' ? ch.name + 1 : ch.name;
        data_copy_t d = {.from = co, .idx = lua_absindex(co, -nres),
                         .what = lua_pushfstring(L, "%s: a policy returns data only", file)};
        lua_pushcfunction(L, protected_copy);
        lua_pushlightuserdata(L, &d);
        if (lua_pcall(L, 1, 1, 0) == LUA_OK) {
            lua_pushboolean(L, 1);
            lua_insert(L, -2);
            return 2;
        }
        lua_pushboolean(L, 0);
        lua_insert(L, -2);
        lua_pushliteral(L, "data");
        return 3;
    }
    lua_pushboolean(L, 0);
    if (status == LUA_YIELD)
        lua_pushliteral(L, "attempt to yield from outside a coroutine");
    else
        mjl_budget_push_failure(L, co, &scope);
    lua_pushstring(L, mjl_budget_kind(over));
    return 3;
}

/* ---------------------------------------------------------------- a coroutine of this state */

/* Pushes the bounded string library of L (made once per state, kept in the registry). */
static void push_bounded(lua_State *L)
{
    if (lua_getfield(L, LUA_REGISTRYINDEX, BOUNDED_KEY) == LUA_TTABLE)
        return;
    lua_pop(L, 1);
    mjl_match_push_lib(L, NULL);
    lua_pushvalue(L, -1);
    lua_setfield(L, LUA_REGISTRYINDEX, BOUNDED_KEY);
}

/* core.string_lib() -> the string library with the bounded find, match, gmatch and gsub */
static int core_string_lib(lua_State *L)
{
    push_bounded(L);
    return 1;
}

/* core.limited(fn, limits, ...) -> true, fn's results | false, message, kind, where
 * Runs fn(...) in a new coroutine under limits ({ memory = bytes the state may grow by,
 * seconds =, instructions = }), coroutines it makes included, with the bounded string methods in
 * the string metatable.  kind: "memory", "time", "instructions", "error" or "yield"; where is
 * "file:line: " of the code that ran out of a limit (or ""). */
static int core_limited(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TFUNCTION);
    mjl_limits_t lim = read_limits(L, 2);
    mjl_budget_t *b = mjl_budget_of(L);
    if (b == NULL)
        return luaL_error(L, "moonjail core.limited: this Lua state has no counting allocator");
    int nargs = lua_gettop(L) - 2;
    luaL_checkstack(L, 8, "core.limited");
    lua_State *co = lua_newthread(L);
    int co_idx = lua_gettop(L);
    if (!lua_checkstack(co, nargs + 1))
        return luaL_error(L, "moonjail core.limited: too many arguments");
    for (int i = 1; i <= nargs + 2; i++)
        if (i != 2)
            lua_pushvalue(L, i);
    lua_xmove(L, co, nargs + 1);

    lua_pushliteral(L, "");
    if (!lua_getmetatable(L, -1))
        return luaL_error(L, "moonjail core.limited: strings have no metatable (open the string library)");
    int mt = lua_gettop(L);
    lua_getfield(L, mt, "__index"); /* saved */
    int saved = lua_gettop(L);
    push_bounded(L);
    lua_setfield(L, mt, "__index");

    mjl_budget_scope_t scope;
    mjl_budget_begin(b, &lim, &scope);
    mjl_budget_watch(co);
    int nres = 0;
    int status = lua_resume(co, L, nargs, &nres);
    mjl_over_t over = mjl_budget_end(b, &scope);
    lua_sethook(co, NULL, 0, 0);
    lua_pushvalue(L, saved);
    lua_setfield(L, mt, "__index");
    lua_settop(L, co_idx);

    if (status == LUA_OK) {
        luaL_checkstack(L, nres + 1, "core.limited: too many results");
        lua_pushboolean(L, 1);
        lua_xmove(co, L, nres);
        return nres + 1;
    }
    lua_pushboolean(L, 0);
    if (status == LUA_YIELD) {
        lua_pushliteral(L, "must not yield");
        lua_pushliteral(L, "yield");
        lua_pushliteral(L, "");
        return 4;
    }
    mjl_budget_push_failure(L, co, &scope);
    lua_pushstring(L, mjl_budget_kind(over));
    lua_pushstring(L, over != MJL_OVER_NONE ? scope.where : "");
    return 4;
}

static const luaL_Reg isolate_funcs[] = {
    {"eval_data", core_eval_data},
    {"limited", core_limited},
    {"plain", core_plain},
    {"string_lib", core_string_lib},
    {NULL, NULL},
};

void mjl_isolate_register(lua_State *L)
{
    if (luaL_newmetatable(L, ISOLATE_MT)) {
        lua_pushcfunction(L, isolated_close);
        lua_setfield(L, -2, "__gc");
        lua_pushcfunction(L, isolated_close);
        lua_setfield(L, -2, "__close");
    }
    lua_pop(L, 1);
    luaL_setfuncs(L, isolate_funcs, 0);
}

/* lbudget.c — budgets for Lua code moonjail does not trust (see lbudget.h).
 *
 * Owns: the counting allocator (installed over a state's own, or a fresh state's from the start),
 * the count hook that checks the instruction count and the deadline, the trip that makes every
 * later instruction raise, and the messages that name the limit.
 * Must never: run Lua code of its own, call a metamethod, or decide the limits (the callers in
 * lisolate.c and the Lua side do).
 */
#include "lbudget.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <lauxlib.h>

#define BUDGET_KEY "moonjail.budget"

struct mjl_budget {
    lua_Alloc f; /* the allocator underneath */
    void *ud;
    size_t used;             /* bytes the state holds (as far as this allocator has seen) */
    bool owned;              /* made by mjl_budget_newstate: memory limits cap the whole state */
    mjl_budget_scope_t run;  /* the run active now, if run.active */
};

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---------------------------------------------------------------- the allocator */

static void *budget_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    mjl_budget_t *b = ud;
    size_t old = ptr ? osize : 0; /* without a block, osize is a type tag */
    if (nsize > old && b->run.active && (b->used > b->run.cap || nsize - old > b->run.cap - b->used)) {
        b->run.refused = true;
        return NULL; /* Lua collects garbage and tries once more before it raises */
    }
    void *p = b->f(b->ud, ptr, osize, nsize);
    if (p != NULL || nsize == 0)
        b->used = (b->used > old ? b->used - old : 0) + nsize;
    return p;
}

static void *plain_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    (void)ud;
    (void)osize;
    if (nsize == 0) {
        free(ptr);
        return NULL;
    }
    return realloc(ptr, nsize);
}

mjl_budget_t *mjl_budget_of(lua_State *L)
{
    void *ud = NULL;
    return lua_getallocf(L, &ud) == budget_alloc ? ud : NULL;
}

/* __gc of the budget userdata: the state closes, the original allocator frees what is left. */
static int restore_alloc(lua_State *L)
{
    mjl_budget_t *b = lua_touserdata(L, 1);
    if (b != NULL && mjl_budget_of(L) == b)
        lua_setallocf(L, b->f, b->ud);
    return 0;
}

void mjl_budget_install(lua_State *L)
{
    if (mjl_budget_of(L) != NULL)
        return;
    mjl_budget_t *b = lua_newuserdatauv(L, sizeof *b, 0);
    memset(b, 0, sizeof *b);
    b->run.cap = SIZE_MAX;
    lua_createtable(L, 0, 1);
    lua_pushcfunction(L, restore_alloc);
    lua_setfield(L, -2, "__gc");
    lua_setmetatable(L, -2);
    lua_setfield(L, LUA_REGISTRYINDEX, BUDGET_KEY);
    b->f = lua_getallocf(L, &b->ud);
    b->used = (size_t)lua_gc(L, LUA_GCCOUNT, 0) * 1024 + (size_t)lua_gc(L, LUA_GCCOUNTB, 0);
    lua_setallocf(L, budget_alloc, b);
}

lua_State *mjl_budget_newstate(mjl_budget_t **out)
{
    mjl_budget_t *b = calloc(1, sizeof *b);
    if (b == NULL)
        return NULL;
    b->f = plain_alloc;
    b->owned = true;
    b->run.cap = SIZE_MAX;
    lua_State *S = lua_newstate(budget_alloc, b);
    if (S == NULL) {
        free(b);
        return NULL;
    }
    *out = b;
    return S;
}

void mjl_budget_close(lua_State *S, mjl_budget_t *b)
{
    if (S != NULL)
        lua_close(S);
    free(b);
}

/* ---------------------------------------------------------------- runs */

void mjl_budget_begin(mjl_budget_t *b, const mjl_limits_t *lim, mjl_budget_scope_t *scope)
{
    *scope = b->run;
    mjl_budget_scope_t *r = &b->run;
    bool nested = scope->active;
    r->active = true;
    r->over = MJL_OVER_NONE;
    r->refused = false;
    r->where[0] = '\0';
    r->limits = *lim;
    r->count = 0;
    r->max_count = lim->instructions;
    if (!nested) {
        r->cap = SIZE_MAX;
        r->deadline = 0;
    }
    if (lim->memory > 0) {
        size_t base = b->owned ? 0 : b->used;
        size_t cap = lim->memory > SIZE_MAX - base ? SIZE_MAX : base + lim->memory;
        if (cap < r->cap)
            r->cap = cap;
    }
    if (lim->seconds > 0) {
        double deadline = now() + lim->seconds;
        if (r->deadline == 0 || deadline < r->deadline)
            r->deadline = deadline;
    }
}

mjl_over_t mjl_budget_end(mjl_budget_t *b, mjl_budget_scope_t *scope)
{
    mjl_budget_scope_t ran = b->run;
    b->run = *scope;
    if (ran.over == MJL_OVER_NONE && ran.refused)
        ran.over = MJL_OVER_MEMORY;
    *scope = ran;
    return ran.over;
}

static void set_where(mjl_budget_scope_t *r, lua_State *L, lua_Debug *ar)
{
    if (lua_getinfo(L, "Sl", ar) && ar->currentline > 0)
        snprintf(r->where, sizeof r->where, "%s:%d: ", ar->short_src, ar->currentline);
}

/* The innermost Lua function with a line on co's stack (a C function such as gsub has none). */
static void where_on_stack(mjl_budget_scope_t *r, lua_State *co)
{
    lua_Debug ar;
    for (int level = 0; r->where[0] == '\0' && lua_getstack(co, level, &ar); level++)
        set_where(r, co, &ar);
}

static void limit_text(const mjl_budget_scope_t *r, char *buf, size_t size)
{
    switch (r->over) {
    case MJL_OVER_MEMORY: {
        size_t m = r->limits.memory;
        if (m >= (1u << 20) && m % (1u << 20) == 0)
            snprintf(buf, size, "memory limit exceeded (%zu MiB)", m >> 20);
        else
            snprintf(buf, size, "memory limit exceeded (%zu bytes)", m);
        break;
    }
    case MJL_OVER_TIME:
        snprintf(buf, size, "time limit exceeded (%gs)", r->limits.seconds);
        break;
    case MJL_OVER_INSTRUCTIONS:
        snprintf(buf, size, "instruction limit exceeded (%llu)", (unsigned long long)r->limits.instructions);
        break;
    default:
        snprintf(buf, size, "error");
    }
}

/* Raises the tripped run's error on L, and makes every later instruction of L raise it again. */
static int raise_over(lua_State *L, mjl_budget_scope_t *r);

static void hook(lua_State *L, lua_Debug *ar)
{
    mjl_budget_t *b = mjl_budget_of(L);
    if (b == NULL || !b->run.active)
        return;
    mjl_budget_scope_t *r = &b->run;
    if (r->over == MJL_OVER_NONE) {
        r->count += MJL_BUDGET_STEP;
        if (r->max_count > 0 && r->count > r->max_count)
            r->over = MJL_OVER_INSTRUCTIONS;
        else if (r->refused)
            r->over = MJL_OVER_MEMORY;
        else if (r->deadline > 0 && now() > r->deadline)
            r->over = MJL_OVER_TIME;
        if (r->over == MJL_OVER_NONE)
            return;
        set_where(r, L, ar);
    }
    raise_over(L, r);
}

static int raise_over(lua_State *L, mjl_budget_scope_t *r)
{
    lua_sethook(L, hook, LUA_MASKCOUNT, 1);
    char text[96];
    limit_text(r, text, sizeof text);
    lua_pushfstring(L, "%s%s", r->where, text);
    return lua_error(L);
}

void mjl_budget_watch(lua_State *co)
{
    lua_sethook(co, hook, LUA_MASKCOUNT, MJL_BUDGET_STEP);
}

void mjl_budget_poll(lua_State *L)
{
    mjl_budget_t *b = mjl_budget_of(L);
    if (b == NULL || !b->run.active)
        return;
    mjl_budget_scope_t *r = &b->run;
    if (r->over == MJL_OVER_NONE) {
        if (r->refused)
            r->over = MJL_OVER_MEMORY;
        else if (r->deadline > 0 && now() > r->deadline)
            r->over = MJL_OVER_TIME;
        else
            return;
        lua_Debug ar;
        if (lua_getstack(L, 1, &ar)) /* 0 is the C function polling */
            set_where(r, L, &ar);
    }
    raise_over(L, r);
}

const char *mjl_budget_kind(mjl_over_t over)
{
    switch (over) {
    case MJL_OVER_MEMORY:
        return "memory";
    case MJL_OVER_TIME:
        return "time";
    case MJL_OVER_INSTRUCTIONS:
        return "instructions";
    default:
        return "error";
    }
}

void mjl_budget_locate(mjl_budget_scope_t *ended, lua_State *co)
{
    if (ended->where[0] == '\0' && co != NULL)
        where_on_stack(ended, co);
}

void mjl_budget_push_failure(lua_State *L, lua_State *co, mjl_budget_scope_t *ended)
{
    mjl_budget_locate(ended, co);
    if (ended->over != MJL_OVER_NONE) {
        char text[96];
        limit_text(ended, text, sizeof text);
        lua_pushfstring(L, "%s%s", ended->where, text);
        return;
    }
    int t = co != NULL ? lua_type(co, -1) : LUA_TNONE;
    if (t == LUA_TSTRING || t == LUA_TNUMBER) {
        size_t n;
        const char *s = lua_tolstring(co, -1, &n);
        lua_pushlstring(L, s, n);
    } else {
        lua_pushfstring(L, "(error object is a %s value)", co != NULL ? luaL_typename(co, -1) : "no");
    }
}

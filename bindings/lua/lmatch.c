/* lmatch.c — Lua's pattern matching under a budget (see lmatch.h).
 *
 * Owns: the backtracking matcher (single-character classes, sets, the quantifiers * + - ?,
 * captures and position captures, back references, %b and %f, the anchors ^ and $) and the four
 * library functions on it, each charging its work to a counter that polls the budget.
 * Must never: keep a pointer into a Lua string past the call that holds the string (gmatch keeps
 * both strings as upvalues of its iterator), or hold C memory across a call that may raise.
 */
#define _GNU_SOURCE /* memmem */
#include "lmatch.h"

#include <ctype.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include <lauxlib.h>

#include "lbudget.h"

#define MAX_CAPTURES 32      /* as Lua's LUA_MAXCAPTURES */
#define MAX_DEPTH 200       /* nested matches before "pattern too complex" */
#define POLL_EVERY 4096     /* units of work between two looks at the budget */
#define CAP_OPEN (-1)       /* a capture still open */
#define CAP_POSITION (-2)   /* a position capture: () */
#define SPECIALS "^$*+?.([%-"

typedef struct {
    const char *src, *src_end; /* the subject */
    const char *pat_end;
    lua_State *L;
    int depth;                 /* nested matches left */
    int ncap;
    struct {
        const char *start;
        ptrdiff_t len; /* bytes, or CAP_OPEN / CAP_POSITION */
    } cap[MAX_CAPTURES];
    size_t work; /* since the last poll */
} matcher_t;

static const char *do_match(matcher_t *m, const char *s, const char *p);

/* Counts n units of work, and looks at the budget every POLL_EVERY of them. */
static void charge(matcher_t *m, size_t n)
{
    m->work += n;
    if (m->work >= POLL_EVERY) {
        m->work = 0;
        mjl_budget_poll(m->L);
    }
}

/* ---------------------------------------------------------------- single characters */

/* Does c belong to the class letter cl (%a, %D…)?  Other letters stand for themselves. */
static bool in_class(int c, int cl)
{
    bool r;
    switch (tolower(cl)) {
    case 'a': r = isalpha(c); break;
    case 'c': r = iscntrl(c); break;
    case 'd': r = isdigit(c); break;
    case 'g': r = isgraph(c); break;
    case 'l': r = islower(c); break;
    case 'p': r = ispunct(c); break;
    case 's': r = isspace(c); break;
    case 'u': r = isupper(c); break;
    case 'w': r = isalnum(c); break;
    case 'x': r = isxdigit(c); break;
    case 'z': r = c == 0; break; /* still in Lua 5.4, though deprecated since 5.2 */
    default: return cl == c;
    }
    return isupper(cl) ? !r : r;
}

/* Does c belong to the set [ … ] from open (its '[') to close (its ']')? */
static bool in_set(int c, const char *open, const char *close)
{
    const char *p = open + 1;
    bool want = true;
    if (*p == '^') {
        want = false;
        p++;
    }
    for (; p < close; p++) {
        if (*p == '%') {
            p++;
            if (in_class(c, (unsigned char)*p))
                return want;
        } else if (p + 2 < close && p[1] == '-') {
            if ((unsigned char)p[0] <= c && c <= (unsigned char)p[2])
                return want;
            p += 2;
        } else if ((unsigned char)*p == c) {
            return want;
        }
    }
    return !want;
}

/* The end of the single-character class that starts at p. */
static const char *class_end(matcher_t *m, const char *p)
{
    char c = *p++;
    if (c == '%') {
        if (p >= m->pat_end)
            luaL_error(m->L, "malformed pattern (ends with '%%')");
        return p + 1;
    }
    if (c == '[') {
        if (p < m->pat_end && *p == '^')
            p++;
        do { /* the first character, even a ']', is a member */
            if (p >= m->pat_end)
                luaL_error(m->L, "malformed pattern (missing ']')");
            c = *p++;
            if (c == '%' && p < m->pat_end)
                p++;
        } while (p >= m->pat_end || *p != ']');
        return p + 1;
    }
    return p;
}

/* Does the subject character at s match the class p..ep? */
static bool single(matcher_t *m, const char *s, const char *p, const char *ep)
{
    if (s >= m->src_end)
        return false;
    int c = (unsigned char)*s;
    switch (*p) {
    case '.':
        return true;
    case '%':
        return in_class(c, (unsigned char)p[1]);
    case '[':
        return in_set(c, p, ep - 1);
    default:
        return (unsigned char)*p == c;
    }
}

/* ---------------------------------------------------------------- the matcher */

static const char *greedy(matcher_t *m, const char *s, const char *p, const char *ep)
{
    ptrdiff_t n = 0;
    while (single(m, s + n, p, ep))
        n++;
    charge(m, (size_t)n);
    for (; n >= 0; n--) { /* give back one character at a time */
        const char *r = do_match(m, s + n, ep + 1);
        if (r)
            return r;
    }
    return NULL;
}

static const char *lazy(matcher_t *m, const char *s, const char *p, const char *ep)
{
    for (;;) {
        const char *r = do_match(m, s, ep + 1);
        if (r)
            return r;
        if (!single(m, s, p, ep))
            return NULL;
        s++;
    }
}

static const char *open_capture(matcher_t *m, const char *s, const char *p, ptrdiff_t what)
{
    if (m->ncap >= MAX_CAPTURES)
        luaL_error(m->L, "too many captures");
    m->cap[m->ncap].start = s;
    m->cap[m->ncap].len = what;
    m->ncap++;
    const char *r = do_match(m, s, p);
    if (!r)
        m->ncap--;
    return r;
}

static const char *close_capture(matcher_t *m, const char *s, const char *p)
{
    int i = m->ncap - 1;
    while (i >= 0 && m->cap[i].len != CAP_OPEN)
        i--;
    if (i < 0)
        luaL_error(m->L, "invalid pattern capture");
    m->cap[i].len = s - m->cap[i].start;
    const char *r = do_match(m, s, p);
    if (!r)
        m->cap[i].len = CAP_OPEN;
    return r;
}

/* %bxy at p (pointing at x): a balanced run from x to its y. */
static const char *balanced(matcher_t *m, const char *s, const char *p)
{
    if (p + 1 >= m->pat_end)
        luaL_error(m->L, "malformed pattern (missing arguments to '%%b')");
    if (s >= m->src_end || *s != p[0])
        return NULL;
    int depth = 1;
    for (const char *q = s + 1; q < m->src_end; q++) {
        if (*q == p[1]) {
            if (--depth == 0) {
                charge(m, (size_t)(q - s));
                return q + 1;
            }
        } else if (*q == p[0]) {
            depth++;
        }
    }
    charge(m, (size_t)(m->src_end - s));
    return NULL;
}

/* %1 … %9: the text of a closed capture again. */
static const char *back_reference(matcher_t *m, const char *s, int digit)
{
    int i = digit - '1';
    if (i < 0 || i >= m->ncap || m->cap[i].len == CAP_OPEN)
        luaL_error(m->L, "invalid capture index %%%d", i + 1);
    ptrdiff_t len = m->cap[i].len;
    if (len < 0 || m->src_end - s < len) /* a position capture never matches */
        return NULL;
    charge(m, (size_t)len);
    return memcmp(m->cap[i].start, s, (size_t)len) == 0 ? s + len : NULL;
}

static const char *do_match(matcher_t *m, const char *s, const char *p)
{
    if (m->depth-- == 0)
        luaL_error(m->L, "pattern too complex");
    charge(m, 1);
    const char *end = m->pat_end;
    while (s != NULL && p < end) {
        char next = p + 1 < end ? p[1] : '\0';
        if (*p == '(') {
            s = next == ')' ? open_capture(m, s, p + 2, CAP_POSITION) : open_capture(m, s, p + 1, CAP_OPEN);
            break;
        }
        if (*p == ')') {
            s = close_capture(m, s, p + 1);
            break;
        }
        if (*p == '$' && p + 1 == end) {
            s = s == m->src_end ? s : NULL;
            break;
        }
        if (*p == '%' && next == 'b') {
            s = balanced(m, s, p + 2);
            p += 4;
            continue;
        }
        if (*p == '%' && next == 'f') {
            p += 2;
            if (p >= end || *p != '[')
                luaL_error(m->L, "missing '[' after '%%f' in pattern");
            const char *ep = class_end(m, p);
            int before = s == m->src ? 0 : (unsigned char)s[-1];
            int here = s < m->src_end ? (unsigned char)*s : 0;
            if (in_set(before, p, ep - 1) || !in_set(here, p, ep - 1))
                s = NULL;
            p = ep;
            continue;
        }
        if (*p == '%' && next >= '0' && next <= '9') {
            s = back_reference(m, s, next);
            p += 2;
            continue;
        }
        /* a single-character class, maybe with a quantifier */
        const char *ep = class_end(m, p);
        char q = ep < end ? *ep : '\0';
        if (!single(m, s, p, ep)) {
            if (q == '*' || q == '?' || q == '-') { /* zero repetitions will do */
                p = ep + 1;
                continue;
            }
            s = NULL;
            break;
        }
        if (q == '?') {
            const char *r = do_match(m, s + 1, ep + 1);
            if (r) {
                s = r;
                break;
            }
            p = ep + 1;
            continue;
        }
        if (q == '+') {
            s = greedy(m, s + 1, p, ep);
            break;
        }
        if (q == '*') {
            s = greedy(m, s, p, ep);
            break;
        }
        if (q == '-') {
            s = lazy(m, s, p, ep);
            break;
        }
        s++;
        p = ep;
    }
    m->depth++;
    return s;
}

/* ---------------------------------------------------------------- captures out */

static void init_matcher(matcher_t *m, lua_State *L, const char *s, size_t ls, const char *p, size_t lp)
{
    m->L = L;
    m->src = s;
    m->src_end = s + ls;
    m->pat_end = p + lp;
    m->work = 0;
}

static void reset_matcher(matcher_t *m)
{
    m->ncap = 0;
    m->depth = MAX_DEPTH;
}

/* Pushes capture i (s..e is the whole match, for i = 0 when there are no captures). */
static void push_capture(matcher_t *m, int i, const char *s, const char *e)
{
    if (i >= m->ncap) {
        if (i != 0)
            luaL_error(m->L, "invalid capture index %%%d", i + 1);
        lua_pushlstring(m->L, s, (size_t)(e - s));
        return;
    }
    ptrdiff_t len = m->cap[i].len;
    if (len == CAP_OPEN)
        luaL_error(m->L, "unfinished capture");
    if (len == CAP_POSITION)
        lua_pushinteger(m->L, (m->cap[i].start - m->src) + 1);
    else
        lua_pushlstring(m->L, m->cap[i].start, (size_t)len);
}

/* Pushes every capture, or the whole match when there are none (s NULL: then nothing). */
static int push_captures(matcher_t *m, const char *s, const char *e)
{
    int n = (m->ncap == 0 && s) ? 1 : m->ncap;
    luaL_checkstack(m->L, n, "too many captures");
    for (int i = 0; i < n; i++)
        push_capture(m, i, s, e);
    return n;
}

/* ---------------------------------------------------------------- the library functions */

/* A 1-based, possibly negative position in a string of len bytes, clipped to 1.. */
static size_t start_position(lua_Integer pos, size_t len)
{
    if (pos > 0)
        return (size_t)pos;
    if (pos == 0 || pos < -(lua_Integer)len)
        return 1;
    return len + (size_t)pos + 1;
}

static bool has_specials(const char *p, size_t lp)
{
    for (size_t i = 0; i < lp; i++)
        if (p[i] != '\0' && strchr(SPECIALS, p[i]))
            return true;
    return false;
}

static int find_or_match(lua_State *L, bool find)
{
    size_t ls, lp;
    const char *s = luaL_checklstring(L, 1, &ls);
    const char *p = luaL_checklstring(L, 2, &lp);
    size_t init = start_position(luaL_optinteger(L, 3, 1), ls) - 1;
    if (init > ls) {
        lua_pushnil(L);
        return 1;
    }
    if (find && (lua_toboolean(L, 4) || !has_specials(p, lp))) {
        const char *hit = memmem(s + init, ls - init, p, lp);
        if (hit == NULL) {
            lua_pushnil(L);
            return 1;
        }
        lua_pushinteger(L, (hit - s) + 1);
        lua_pushinteger(L, (lua_Integer)((size_t)(hit - s) + lp));
        return 2;
    }
    matcher_t m;
    bool anchored = lp > 0 && *p == '^';
    if (anchored) {
        p++;
        lp--;
    }
    init_matcher(&m, L, s, ls, p, lp);
    const char *at = s + init;
    do {
        reset_matcher(&m);
        const char *e = do_match(&m, at, p);
        if (e != NULL) {
            if (!find)
                return push_captures(&m, at, e);
            lua_pushinteger(L, (at - s) + 1);
            lua_pushinteger(L, e - s);
            return push_captures(&m, NULL, NULL) + 2;
        }
    } while (at++ < m.src_end && !anchored);
    lua_pushnil(L);
    return 1;
}

static int str_find(lua_State *L)
{
    return find_or_match(L, true);
}

static int str_match(lua_State *L)
{
    return find_or_match(L, false);
}

/* The state of one gmatch iteration (upvalue 3; the subject and pattern are upvalues 1 and 2). */
typedef struct {
    matcher_t m;
    const char *at;
    const char *pat;
    const char *last; /* end of the previous match: an empty match there does not count */
} gmatch_t;

static int gmatch_next(lua_State *L)
{
    gmatch_t *g = lua_touserdata(L, lua_upvalueindex(3));
    g->m.L = L;
    for (const char *at = g->at; at <= g->m.src_end; at++) {
        reset_matcher(&g->m);
        const char *e = do_match(&g->m, at, g->pat);
        if (e != NULL && e != g->last) {
            g->at = g->last = e;
            return push_captures(&g->m, at, e);
        }
    }
    return 0;
}

static int str_gmatch(lua_State *L)
{
    size_t ls, lp;
    const char *s = luaL_checklstring(L, 1, &ls);
    const char *p = luaL_checklstring(L, 2, &lp);
    size_t init = start_position(luaL_optinteger(L, 3, 1), ls) - 1;
    lua_settop(L, 2); /* the strings stay alive as upvalues */
    gmatch_t *g = lua_newuserdatauv(L, sizeof *g, 0);
    if (init > ls)
        init = ls + 1;
    init_matcher(&g->m, L, s, ls, p, lp);
    g->at = s + init;
    g->pat = p;
    g->last = NULL;
    lua_pushcclosure(L, gmatch_next, 3);
    return 1;
}

/* The replacement string (at index 3) with %0-%9 and %% expanded, into b. */
static void add_expanded(matcher_t *m, luaL_Buffer *b, const char *s, const char *e)
{
    lua_State *L = m->L;
    size_t len;
    const char *r = lua_tolstring(L, 3, &len);
    const char *stop = r + len;
    const char *pct;
    while ((pct = memchr(r, '%', (size_t)(stop - r))) != NULL) {
        luaL_addlstring(b, r, (size_t)(pct - r));
        pct++;
        char c = pct < stop ? *pct : '\0';
        if (c == '%') {
            luaL_addchar(b, '%');
        } else if (c == '0') {
            luaL_addlstring(b, s, (size_t)(e - s));
        } else if (isdigit((unsigned char)c)) {
            push_capture(m, c - '1', s, e);
            luaL_tolstring(L, -1, NULL);
            lua_remove(L, -2);
            luaL_addvalue(b);
        } else {
            luaL_error(L, "invalid use of '%%' in replacement string");
        }
        r = pct + 1;
    }
    luaL_addlstring(b, r, (size_t)(stop - r));
}

/* Adds the replacement of the match s..e to b; false when the original text was kept. */
static bool add_replacement(matcher_t *m, luaL_Buffer *b, const char *s, const char *e, int how)
{
    lua_State *L = m->L;
    if (how == LUA_TFUNCTION) {
        lua_pushvalue(L, 3);
        int n = push_captures(m, s, e);
        lua_call(L, n, 1);
    } else if (how == LUA_TTABLE) {
        push_capture(m, 0, s, e);
        lua_gettable(L, 3);
    } else {
        add_expanded(m, b, s, e);
        return true;
    }
    if (!lua_toboolean(L, -1)) { /* nil or false: keep the original */
        lua_pop(L, 1);
        luaL_addlstring(b, s, (size_t)(e - s));
        return false;
    }
    if (!lua_isstring(L, -1))
        luaL_error(L, "invalid replacement value (a %s)", luaL_typename(L, -1));
    luaL_addvalue(b);
    return true;
}

static int str_gsub(lua_State *L)
{
    size_t ls, lp;
    const char *src = luaL_checklstring(L, 1, &ls);
    const char *p = luaL_checklstring(L, 2, &lp);
    int how = lua_type(L, 3);
    lua_Integer max = luaL_optinteger(L, 4, (lua_Integer)ls + 1);
    luaL_argexpected(L, how == LUA_TNUMBER || how == LUA_TSTRING || how == LUA_TFUNCTION || how == LUA_TTABLE, 3,
                     "string/function/table");
    bool anchored = lp > 0 && *p == '^';
    if (anchored) {
        p++;
        lp--;
    }
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    matcher_t m;
    init_matcher(&m, L, src, ls, p, lp);
    const char *last = NULL;
    lua_Integer n = 0;
    bool changed = false;
    while (n < max) {
        reset_matcher(&m);
        const char *e = do_match(&m, src, p);
        if (e != NULL && e != last) {
            n++;
            changed = add_replacement(&m, &b, src, e, how) || changed;
            src = last = e;
        } else if (src < m.src_end) {
            luaL_addchar(&b, *src++);
        } else {
            break;
        }
        if (anchored)
            break;
    }
    if (!changed) {
        lua_pushvalue(L, 1);
    } else {
        luaL_addlstring(&b, src, (size_t)(m.src_end - src));
        luaL_pushresult(&b);
    }
    lua_pushinteger(L, n);
    return 2;
}

void mjl_match_push_lib(lua_State *L, const char *const *omit)
{
    static const luaL_Reg bounded[] = {
        {"find", str_find}, {"match", str_match}, {"gmatch", str_gmatch}, {"gsub", str_gsub}, {NULL, NULL},
    };
    lua_newtable(L);
    int lib = lua_gettop(L);
    lua_pushliteral(L, "");
    if (luaL_getmetafield(L, -1, "__index") == LUA_TTABLE) {
        int from = lua_gettop(L);
        for (lua_pushnil(L); lua_next(L, from);) { /* key, value */
            lua_pushvalue(L, -2);
            lua_insert(L, -2);
            lua_rawset(L, lib); /* the key stays for lua_next */
        }
        lua_pop(L, 1);
    }
    lua_pop(L, 1); /* "" */
    luaL_setfuncs(L, bounded, 0);
    for (const char *const *o = omit; o && *o; o++) {
        lua_pushnil(L);
        lua_setfield(L, lib, *o);
    }
}

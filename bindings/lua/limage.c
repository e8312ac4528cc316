/* limage.c — the image primitives of the Lua binding: registration, the registry Client
 * userdata, and small helpers.  scripts/moonjail/image.lua is the control plane over them.
 *
 * Owns: the table package.loaded["moonjail.imagecore"] (= core.image): client(opts) →
 * Client{request, close}, digest(algo, data), digest_valid(s), base64_decode(s),
 * base64_encode(s), machine(), euid(), status_error(status, retry_after, what), and store(root) from
 * limagestore.c; the arena every call keeps its C memory in.
 * Must never: decide anything (which URL, which auth, which platform: Lua does), cut a string at
 * an embedded NUL (raises instead), or raise while C memory is not owned by a to-be-closed
 * arena.  Runtime failures return nil, err; misuse raises.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lua.h>

#include "image/base64.h"
#include "image/hash.h"
#include "largs.h"
#include "image/lease.h"
#include "image/store.h"
#include "limage.h"
#include "lerror.h"
#include "lutil.h"

#define CLIENT_MT "moonjail.image_client"
#define STORE_MT "moonjail.image_store"
#define LEASE_MT "moonjail.image_lease"
#define ARENA_MT "moonjail.image_arena"
#define REQUEST_MT "moonjail.image_request"

/* ---------------------------------------------------------------- handle types */

static void free_client(void *h)
{
    mj_http_client_free(h);
}
static void free_store(void *h)
{
    mj_store_close(h);
}
static void free_lease(void *h)
{
    mj_lease_release(h);
}

const mjl_handle_type_t mjl_image_client_type = {.mt = CLIENT_MT, .what = "image client", .free = free_client};
const mjl_handle_type_t mjl_image_store_type = {.mt = STORE_MT, .what = "image store", .free = free_store};
const mjl_handle_type_t mjl_image_lease_type = {.mt = LEASE_MT, .what = "image lease", .free = free_lease};

void mjl_image_type(lua_State *L, const char *mt, const luaL_Reg *methods, lua_CFunction release)
{
    if (luaL_newmetatable(L, mt)) {
        if (methods) {
            lua_newtable(L);
            luaL_setfuncs(L, methods, 0);
            lua_setfield(L, -2, "__index");
        }
        lua_pushcfunction(L, release);
        lua_setfield(L, -2, "__gc");
        lua_pushcfunction(L, release);
        lua_setfield(L, -2, "__close");
    }
    lua_pop(L, 1);
}

/* ---------------------------------------------------------------- arena */

struct mjl_arena {
    void **ptrs;
    size_t n, cap;
};

static int arena_release(lua_State *L)
{
    mjl_arena_t *a = luaL_checkudata(L, 1, ARENA_MT);
    for (size_t i = 0; i < a->n; i++)
        free(a->ptrs[i]);
    free(a->ptrs);
    memset(a, 0, sizeof(*a));
    return 0;
}

mjl_arena_t *mjl_arena_new(lua_State *L)
{
    return mjl_new_tbc(L, sizeof(mjl_arena_t), ARENA_MT);
}

void mjl_arena_reserve(lua_State *L, mjl_arena_t *a)
{
    if (a->n < a->cap)
        return;
    size_t cap = a->cap ? a->cap * 2 : 8;
    void **v = realloc(a->ptrs, cap * sizeof(*v));
    if (!v)
        luaL_error(L, "not enough memory");
    a->ptrs = v;
    a->cap = cap;
}

void mjl_arena_keep(mjl_arena_t *a, void *p)
{
    if (p)
        a->ptrs[a->n++] = p;
}

void *mjl_arena_alloc(lua_State *L, mjl_arena_t *a, size_t n)
{
    mjl_arena_reserve(L, a);
    void *p = calloc(1, n ? n : 1);
    if (!p)
        luaL_error(L, "not enough memory");
    mjl_arena_keep(a, p);
    return p;
}

/* ---------------------------------------------------------------- argument helpers */

/* Leaves t[field] on the stack (so a string stays alive) and returns it, or NULL for nil. */
const char *mjl_image_opt_field(lua_State *L, int t, const char *field)
{
    lua_getfield(L, t, field);
    if (lua_isnil(L, -1))
        return NULL;
    return mjl_tocstring(L, -1, field);
}

void mjl_image_check_keys(lua_State *L, int t, const char *what, const char *const *allowed)
{
    lua_pushnil(L);
    while (lua_next(L, t)) {
        lua_pop(L, 1);
        bool ok = false;
        if (lua_type(L, -1) == LUA_TSTRING)
            for (const char *const *k = allowed; *k && !ok; k++)
                ok = strcmp(lua_tostring(L, -1), *k) == 0;
        if (!ok) {
            lua_pushvalue(L, -1);
            luaL_error(L, "%s: unknown option '%s'", what, luaL_tolstring(L, -1, NULL));
        }
    }
}

lua_Integer mjl_image_job_args(lua_State *L, int list, int fn, lua_Integer max, const char *what)
{
    luaL_checktype(L, list, LUA_TTABLE);
    if (!lua_isnoneornil(L, fn))
        luaL_checktype(L, fn, LUA_TFUNCTION);
    lua_settop(L, fn);
    lua_pushnil(L); /* fn + 1: the progress function's error, if it raises */
    lua_Integer n = luaL_len(L, list);
    if (n < 0 || n > max)
        luaL_error(L, "%s: at most %d at once", what, (int)max);
    return n;
}

void *mjl_image_jobs_new(lua_State *L, mjl_arena_t *a, const char *mt, lua_Integer n, size_t size)
{
    mjl_jobs_t *holder = mjl_new_tbc(L, sizeof(mjl_jobs_t), mt);
    void *v = mjl_arena_alloc(L, a, ((size_t)n + 1) * size);
    holder->v = v;
    holder->n = (size_t)n;
    return v;
}

mjl_progress_t mjl_progress_at(lua_State *L, int fn)
{
    return (mjl_progress_t){.L = L, .fn = lua_isnil(L, fn) ? 0 : fn, .err_slot = fn + 1};
}

bool mjl_progress_push(mjl_progress_t *x, int nargs)
{
    if (!x->fn || x->raised || !lua_checkstack(x->L, nargs + 2))
        return false;
    lua_pushvalue(x->L, x->fn);
    return true;
}

int mjl_progress_call(mjl_progress_t *x, int nargs)
{
    lua_State *L = x->L;
    if (lua_pcall(L, nargs, 1, 0) != LUA_OK) {
        lua_replace(L, x->err_slot);
        x->raised = true;
        return 1;
    }
    int cancel = lua_isboolean(L, -1) && !lua_toboolean(L, -1);
    lua_pop(L, 1);
    return cancel;
}

int mjl_progress_rethrow(mjl_progress_t *x)
{
    lua_pushvalue(x->L, x->err_slot);
    return lua_error(x->L);
}

static lua_Integer opt_int_field(lua_State *L, int t, const char *field, lua_Integer dflt, lua_Integer lo,
                                 lua_Integer hi)
{
    lua_getfield(L, t, field);
    lua_Integer v = dflt;
    if (!lua_isnil(L, -1)) {
        int isnum = 0;
        lua_Number n = lua_tonumberx(L, -1, &isnum);
        if (!isnum || n != n || n < (lua_Number)lo || n > (lua_Number)hi)
            luaL_error(L, "'%s' must be a number from %d to %d", field, (int)lo, (int)hi);
        v = (lua_Integer)n;
    }
    lua_pop(L, 1);
    return v;
}

const char **mjl_image_headers(lua_State *L, mjl_arena_t *a, int idx, const char *what)
{
    idx = lua_absindex(L, idx);
    if (lua_isnil(L, idx))
        return NULL;
    luaL_checktype(L, idx, LUA_TTABLE);
    lua_Integer n = luaL_len(L, idx);
    if (n < 0 || n > 64)
        luaL_error(L, "%s: at most 64 headers", what);
    const char **v = mjl_arena_alloc(L, a, ((size_t)n + 1) * sizeof(char *));
    for (lua_Integer i = 1; i <= n; i++) {
        lua_rawgeti(L, idx, i);
        const char *h = mjl_tocstring(L, -1, what);
        if (strpbrk(h, "\r\n") || !strchr(h, ':'))
            luaL_error(L, "%s: '%s' is not one \"Name: value\" line", what, h);
        v[i - 1] = h; /* alive: the table holds it */
        lua_pop(L, 1);
    }
    return v;
}

/* ---------------------------------------------------------------- the Client */

mj_http_client_t *mjl_check_client(lua_State *L, int idx)
{
    return ((mjl_handle_t *)mjl_handle_check(L, idx, &mjl_image_client_type))->handle;
}

static int client_release(lua_State *L)
{
    mjl_handle_release(L, 1, &mjl_image_client_type);
    return 0;
}

static int client_close(lua_State *L)
{
    mjl_check_client(L, 1);
    client_release(L);
    lua_pushboolean(L, 1);
    return 1;
}

/* image.client(opts) -> Client | nil, err.  opts: ca_file, connect_timeout,
 * stall_timeout, stall_speed, request_timeout (seconds), parallel. */
static int image_client(lua_State *L)
{
    static const char *const keys[] = {"ca_file", "connect_timeout", "stall_timeout", "stall_speed",
                                       "request_timeout", "parallel", NULL};
    mj_http_opts_t o = {0};
    if (!lua_isnoneornil(L, 1)) {
        luaL_checktype(L, 1, LUA_TTABLE);
        mjl_image_check_keys(L, 1, "image client", keys);
        o.ca_file = mjl_image_opt_field(L, 1, "ca_file"); /* stays on the stack */
        o.connect_timeout = (long)opt_int_field(L, 1, "connect_timeout", 0, 0, 3600);
        o.stall_timeout = (long)opt_int_field(L, 1, "stall_timeout", 0, 0, 3600);
        o.stall_speed = (long)opt_int_field(L, 1, "stall_speed", 0, 0, 1 << 30);
        o.request_timeout = (long)opt_int_field(L, 1, "request_timeout", 0, 0, 3600);
        o.parallel = (unsigned)opt_int_field(L, 1, "parallel", 0, 0, 16);
    }
    mjl_handle_t *u = mjl_handle_new(L, &mjl_image_client_type, sizeof(*u), 0);
    mj_http_client_t *c = NULL;
    mj_error_t *e = NULL;
    int rc = mj_http_client_new(&o, &c, &e);
    u->handle = c;
    if (rc < 0) {
        int r = mjl_fail(L, e, "image client");
        mj_error_free(e);
        return r;
    }
    return 1;
}

static void push_opt_string(lua_State *L, const char *field, const char *v)
{
    if (!v)
        return;
    lua_pushstring(L, v);
    lua_setfield(L, -2, field);
}

static void push_response(lua_State *L, const mj_http_response_t *r)
{
    lua_createtable(L, 0, 4);
    mjl_set_int(L, "status", r->status);
    push_opt_string(L, "url", r->url);
    lua_pushlstring(L, r->body.data ? r->body.data : "", r->body.len);
    lua_setfield(L, -2, "body");
    lua_createtable(L, 0, 8);
    push_opt_string(L, "www-authenticate", r->www_authenticate);
    push_opt_string(L, "content-type", r->content_type);
    push_opt_string(L, "docker-content-digest", r->docker_content_digest);
    push_opt_string(L, "retry-after", r->retry_after);
    push_opt_string(L, "content-range", r->content_range);
    push_opt_string(L, "location", r->location);
    if (r->content_length >= 0)
        mjl_set_int(L, "content-length", r->content_length);
    lua_setfield(L, -2, "headers");
}

/* A request whose results a to-be-closed userdata frees, whatever happens. */
typedef struct {
    mj_http_request_t req;
} request_ud_t;

static int request_release(lua_State *L)
{
    request_ud_t *u = luaL_checkudata(L, 1, REQUEST_MT);
    mj_http_request_reset(&u->req);
    return 0;
}

/* client:request{method, url, headers, max_body, insecure} -> {status, url, headers, body} | nil, err.
 * Any HTTP status is an answer; nil, err only when none came (NETWORK, retryable or not) or the
 * body was larger than max_body (IMAGE). */
static int client_request(lua_State *L)
{
    static const char *const keys[] = {"method", "url", "headers", "max_body", "insecure", NULL};
    mj_http_client_t *c = mjl_check_client(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    mjl_image_check_keys(L, 2, "request", keys);
    mjl_arena_t *a = mjl_arena_new(L);
    request_ud_t *u = mjl_new_tbc(L, sizeof(request_ud_t), REQUEST_MT);
    u->req.method = mjl_image_opt_field(L, 2, "method");
    u->req.url = mjl_image_opt_field(L, 2, "url");
    if (!u->req.url)
        return luaL_error(L, "request: 'url' is required");
    lua_getfield(L, 2, "headers");
    u->req.headers = mjl_image_headers(L, a, -1, "request headers");
    u->req.max_body = (size_t)opt_int_field(L, 2, "max_body", 0, 0, INT32_MAX);
    lua_getfield(L, 2, "insecure");
    u->req.insecure = lua_toboolean(L, -1);
    mj_error_t *e = NULL;
    int failed = mj_http_perform(c, &u->req, 1, NULL, NULL, &e);
    if (failed < 0 || u->req.error) {
        int r = mjl_fail(L, e ? e : u->req.error, "request failed");
        mj_error_free(e);
        return r;
    }
    push_response(L, &u->req.resp);
    return 1;
}

/* ---------------------------------------------------------------- helpers */

static mj_hash_algo_t check_algo(lua_State *L, int idx)
{
    const char *algo = mjl_checkcstring(L, idx);
    if (strcmp(algo, "sha256") == 0)
        return MJ_HASH_SHA256;
    if (strcmp(algo, "sha512") == 0)
        return MJ_HASH_SHA512;
    luaL_argerror(L, idx, "'sha256' or 'sha512' expected");
    return MJ_HASH_SHA256;
}

/* image.digest(algo, data) -> "algo:hex" | nil, err */
static int image_digest(lua_State *L)
{
    mj_hash_algo_t algo = check_algo(L, 1);
    size_t len;
    const char *data = luaL_checklstring(L, 2, &len);
    char out[MJ_DIGEST_MAX];
    mj_error_t *e = NULL;
    if (mj_hash_bytes(algo, data, len, out, &e) < 0) {
        int r = mjl_fail(L, e, "digest");
        mj_error_free(e);
        return r;
    }
    lua_pushstring(L, out);
    return 1;
}

/* image.digest_valid(s) -> boolean: a digest we accept (sha256/sha512, lowercase hex). */
static int image_digest_valid(lua_State *L)
{
    size_t len;
    const char *s = lua_tolstring(L, 1, &len);
    lua_pushboolean(L, lua_type(L, 1) == LUA_TSTRING && strlen(s) == len && mj_digest_valid(s)); /* never raises */
    return 1;
}

/* image.base64_decode(s) -> bytes | nil, err (IMAGE: not canonical base64) */
static int image_base64_decode(lua_State *L)
{
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    mjl_arena_t *a = mjl_arena_new(L);
    mjl_arena_reserve(L, a);
    mj_buf_t out = {0};
    mj_error_t *e = NULL;
    int rc = mj_base64_decode(s, len, &out, &e);
    mjl_arena_keep(a, out.data); /* cannot raise: room reserved */
    if (rc < 0) {
        int r = mjl_fail(L, e, "base64");
        mj_error_free(e);
        return r;
    }
    lua_pushlstring(L, out.data ? out.data : "", out.len);
    return 1;
}

/* image.base64_encode(s) -> text */
static int image_base64_encode(lua_State *L)
{
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    if (len > ((size_t)1 << 30))
        return luaL_argerror(L, 1, "too long");
    mjl_arena_t *a = mjl_arena_new(L);
    mjl_arena_reserve(L, a);
    mj_buf_t out = {0};
    mj_base64_encode(s, len, &out);
    mjl_arena_keep(a, out.data);
    lua_pushlstring(L, out.data ? out.data : "", out.len);
    return 1;
}

/* image.machine() -> uname's machine ("x86_64", "aarch64", "armv7l", …) */
static int image_machine(lua_State *L)
{
    struct utsname u;
    if (uname(&u) < 0)
        return mjl_fail(L, NULL, "uname failed");
    lua_pushstring(L, u.machine);
    return 1;
}

/* image.euid() -> the effective uid (where the store lives by default is Lua's decision). */
static int image_euid(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)geteuid());
    return 1;
}

/* image.status_error(status, retry_after|nil, what) -> err: what an HTTP status means. */
static int image_status_error(lua_State *L)
{
    lua_Integer status = luaL_checkinteger(L, 1);
    const char *retry_after = mjl_optcstring(L, 2, NULL);
    const char *what = mjl_checkcstring(L, 3);
    mj_error_t *e = mj_http_status_error((long)status, retry_after, what);
    mjl_push_error(L, e);
    mj_error_free(e);
    return 1;
}

static const luaL_Reg image_funcs[] = {
    {"client", image_client},
    {"digest", image_digest},
    {"digest_valid", image_digest_valid},
    {"base64_decode", image_base64_decode},
    {"base64_encode", image_base64_encode},
    {"machine", image_machine},
    {"euid", image_euid},
    {"status_error", image_status_error},
    {NULL, NULL},
};

static const luaL_Reg client_methods[] = {
    {"request", client_request},
    {"close", client_close},
    {NULL, NULL},
};

void mjl_image_register(lua_State *L)
{
    int core = lua_gettop(L);
    mjl_image_type(L, ARENA_MT, NULL, arena_release);
    mjl_image_type(L, REQUEST_MT, NULL, request_release);
    mjl_image_type(L, CLIENT_MT, client_methods, client_release);

    luaL_newlib(L, image_funcs);
    lua_pushvalue(L, -1);
    lua_setfield(L, core, "image");
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
    lua_pushvalue(L, -2);
    lua_setfield(L, -2, "moonjail.imagecore");
    lua_pop(L, 2);
}

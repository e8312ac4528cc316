/* limagestore.c — the Store and Lease userdata of the Lua binding, over core/src/image.
 *
 * Owns: image.store(root) → Store{root, blob_path, has, read, put, put_file, fetch, set_image,
 * image, images, remove_image, lease, in_use, gc, refs, close} (unpack_layers and layer_path are
 * limagelayer.c's), Lease{id, fd, release, detach}, and the Lua shape of image records and fetch
 * results.
 * Must never: decide which blobs an image needs or where the store is (image.lua does), raise
 * while C memory is not owned by a to-be-closed userdata, or let a Lua error escape through
 * libcurl (the progress function runs under lua_pcall; its error is raised after cleanup).
 * __gc and __close of Store and Lease are one idempotent function; methods of a closed handle
 * raise "attempt to use a closed image store" (or "… lease").
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lua.h>

#include "error.h"
#include "image/gc.h"
#include "image/layerstore.h"
#include "image/lease.h"
#include "image/records.h"
#include "image/store.h"
#include "image/transfer.h"
#include "largs.h"
#include "limage.h"
#include "lerror.h"
#include "ltree.h"
#include "lutil.h"

#define JOBS_MT "moonjail.image_jobs"
#define RECORDS_MT "moonjail.image_records"
#define MAX_JOBS 4096
#define MAX_SAFE_INTEGER 9007199254740992.0 /* 2^53: JSON numbers above lose precision */

static int fail_free(lua_State *L, mj_error_t *e, const char *fallback)
{
    int r = mjl_fail(L, e, fallback);
    mj_error_free(e);
    return r;
}

static mj_store_t *check_store(lua_State *L)
{
    return ((mjl_handle_t *)mjl_handle_check(L, 1, &mjl_image_store_type))->handle;
}

static int store_release(lua_State *L)
{
    mjl_handle_release(L, 1, &mjl_image_store_type);
    return 0;
}

static int store_close(lua_State *L)
{
    check_store(L);
    return store_release(L);
}

/* image.store(root) -> Store | nil, err */
static int image_store(lua_State *L)
{
    const char *root = mjl_tocstring(L, 1, "store root");
    mjl_handle_t *u = mjl_handle_new(L, &mjl_image_store_type, sizeof(*u), 0);
    mj_store_t *s = NULL;
    mj_error_t *e = NULL;
    int rc = mj_store_open(root, &s, &e);
    u->handle = s;
    if (rc < 0)
        return fail_free(L, e, "image store");
    return 1;
}

static int store_root(lua_State *L)
{
    lua_pushstring(L, mj_store_root(check_store(L)));
    return 1;
}

/* store:blob_path(digest) -> path | nil, err */
static int store_blob_path(lua_State *L)
{
    mj_store_t *s = check_store(L);
    mj_error_t *e = NULL;
    char *path = mj_store_blob_path(s, mjl_tocstring(L, 2, "digest"), &e);
    if (!path)
        return fail_free(L, e, "blob path");
    lua_pushstring(L, path); /* may raise: free first is not possible, so copy through the stack */
    free(path);
    return 1;
}

/* store:has(digest) -> true, size | false | nil, err */
static int store_has(lua_State *L)
{
    mj_store_t *s = check_store(L);
    uint64_t size = 0;
    mj_error_t *e = NULL;
    int r = mj_store_has_blob(s, mjl_tocstring(L, 2, "digest"), &size, &e);
    if (r < 0)
        return fail_free(L, e, "blob lookup");
    lua_pushboolean(L, r);
    if (!r)
        return 1;
    lua_pushinteger(L, mjl_clamp_u64(size));
    return 2;
}

/* store:read(digest, max) -> bytes | nil, err (IMAGE when missing, damaged or over max) */
static int store_read(lua_State *L)
{
    mj_store_t *s = check_store(L);
    const char *digest = mjl_tocstring(L, 2, "digest");
    lua_Integer max = luaL_checkinteger(L, 3);
    luaL_argcheck(L, max > 0 && max <= (1 << 30), 3, "from 1 to 2^30 bytes");
    mjl_arena_t *a = mjl_arena_new(L);
    mjl_arena_reserve(L, a);
    mj_buf_t buf = {0};
    mj_error_t *e = NULL;
    int r = mj_store_read_blob(s, digest, (size_t)max, &buf, &e);
    mjl_arena_keep(a, buf.data);
    if (r < 0)
        return fail_free(L, e, "blob read");
    lua_pushlstring(L, buf.data ? buf.data : "", buf.len);
    return 1;
}

/* store:put(digest, data) -> true | nil, err (IMAGE when data does not hash to digest) */
static int store_put(lua_State *L)
{
    mj_store_t *s = check_store(L);
    const char *digest = mjl_tocstring(L, 2, "digest");
    size_t len;
    const char *data = luaL_checklstring(L, 3, &len);
    mj_error_t *e = NULL;
    if (mj_store_put_blob(s, digest, data, len, &e) < 0)
        return fail_free(L, e, "blob put");
    lua_pushboolean(L, 1);
    return 1;
}

/* store:put_file(digest, path, size) -> true | nil, err (IMAGE when the file does not hold
 * size bytes that hash to digest) */
static int store_put_file(lua_State *L)
{
    mj_store_t *s = check_store(L);
    const char *digest = mjl_tocstring(L, 2, "digest");
    const char *path = mjl_tocstring(L, 3, "path");
    lua_Integer size = luaL_checkinteger(L, 4);
    luaL_argcheck(L, size >= 0, 4, "a size in bytes");
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    struct stat st;
    mj_error_t *e = NULL;
    if (fd < 0 || fstat(fd, &st) < 0)
        e = mj_error_sys(MJ_ERR_FILE_OPERATION_FAILED, errno, "blob %s: cannot read %s", digest, path);
    else if (!S_ISREG(st.st_mode))
        e = mj_error_new(MJ_ERR_IMAGE, EINVAL, "blob %s: %s is not a regular file", digest, path);
    else
        mj_store_put_file(s, digest, fd, (uint64_t)size, &e);
    if (fd >= 0)
        close(fd);
    if (e)
        return fail_free(L, e, "blob put");
    lua_pushboolean(L, 1);
    return 1;
}

/* store:stage() -> path | nil, err: a new private directory layers/.unpack-<id> for staging (an
 * archive extracted by a load); store:unstage(path) removes one (only such a directory). */
static int store_stage(lua_State *L)
{
    mj_store_t *s = check_store(L);
    mjl_arena_t *a = mjl_arena_new(L);
    mjl_arena_reserve(L, a);
    char *path = NULL;
    mj_error_t *e = NULL;
    int rc = mj_store_stage_dir(s, &path, &e);
    mjl_arena_keep(a, path);
    if (rc < 0)
        return fail_free(L, e, "staging directory");
    lua_pushstring(L, path);
    return 1;
}

static int store_unstage(lua_State *L)
{
    mj_store_t *s = check_store(L);
    const char *path = mjl_tocstring(L, 2, "path");
    mj_error_t *e = NULL;
    if (mj_store_unstage_dir(s, path, &e) < 0)
        return fail_free(L, e, "staging directory");
    lua_pushboolean(L, 1);
    return 1;
}

/* ---------------------------------------------------------------- records */

/* t[field], an array of min to 10000 strings, borrowed into *v (nil: none when min is 0); the
 * table stays on the stack, so the strings stay alive. */
static void check_digests(lua_State *L, int t, const char *field, lua_Integer min, mjl_arena_t *a, mj_strv_t *v)
{
    lua_getfield(L, t, field);
    if (lua_isnil(L, -1) && min == 0)
        return;
    luaL_checktype(L, -1, LUA_TTABLE);
    int list = lua_gettop(L);
    lua_Integer n = luaL_len(L, list);
    if (n < min || n > 10000)
        luaL_error(L, "image record: %d to 10000 %s", (int)min, field);
    v->v = mjl_arena_alloc(L, a, ((size_t)n + 1) * sizeof(char *));
    v->n = v->cap = (size_t)n;
    for (lua_Integer i = 1; i <= n; i++) {
        lua_rawgeti(L, list, i);
        v->v[i - 1] = (char *)mjl_tocstring(L, -1, field);
        lua_pop(L, 1); /* alive: the table holds it */
    }
}

/* The record table at idx, borrowed into *r (strings stay Lua's; arrays in the arena). */
static void check_record(lua_State *L, int idx, mjl_arena_t *a, mj_image_record_t *r)
{
    idx = lua_absindex(L, idx);
    luaL_checktype(L, idx, LUA_TTABLE);
    memset(r, 0, sizeof(*r));
    r->name = (char *)mjl_image_opt_field(L, idx, "name");
    r->platform = (char *)mjl_image_opt_field(L, idx, "platform");
    r->digest = (char *)mjl_image_opt_field(L, idx, "digest");
    r->index = (char *)mjl_image_opt_field(L, idx, "index");
    if (!r->name || !r->platform || !r->digest)
        luaL_error(L, "image record: name, platform and digest are required");
    lua_getfield(L, idx, "pulled");
    r->pulled = lua_isnil(L, -1) ? 0 : luaL_checknumber(L, -1);
    check_digests(L, idx, "blobs", 1, a, &r->blobs);
    check_digests(L, idx, "layers", 0, a, &r->layers);
}

static void push_strings(lua_State *L, const mj_strv_t *v)
{
    lua_createtable(L, (int)v->n, 0);
    for (size_t i = 0; i < v->n; i++) {
        lua_pushstring(L, v->v[i]);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
}

static void push_record(lua_State *L, const mj_image_record_t *r)
{
    lua_createtable(L, 0, 7);
    lua_pushstring(L, r->name);
    lua_setfield(L, -2, "name");
    lua_pushstring(L, r->platform);
    lua_setfield(L, -2, "platform");
    lua_pushstring(L, r->digest);
    lua_setfield(L, -2, "digest");
    if (r->index) {
        lua_pushstring(L, r->index);
        lua_setfield(L, -2, "index");
    }
    if (r->holder) {
        lua_pushstring(L, r->holder);
        lua_setfield(L, -2, "holder");
    }
    mjl_set_num(L, "pulled", r->pulled);
    push_strings(L, &r->blobs);
    lua_setfield(L, -2, "blobs");
    push_strings(L, &r->layers);
    lua_setfield(L, -2, "layers");
}

/* store:set_image(record) -> true | nil, err */
static int store_set_image(lua_State *L)
{
    mj_store_t *s = check_store(L);
    mjl_arena_t *a = mjl_arena_new(L);
    mj_image_record_t r;
    check_record(L, 2, a, &r);
    mj_error_t *e = NULL;
    if (mj_store_image_put(s, &r, &e) < 0)
        return fail_free(L, e, "image record");
    lua_pushboolean(L, 1);
    return 1;
}

/* Records the store returns live in a to-be-closed holder while they are pushed. */
typedef struct {
    mj_image_record_t *v;
    size_t n;
    mj_image_record_t one;
} records_ud_t;

static int records_release(lua_State *L)
{
    records_ud_t *u = luaL_checkudata(L, 1, RECORDS_MT);
    mj_image_records_free(u->v, u->n);
    mj_image_record_clear(&u->one);
    u->v = NULL;
    u->n = 0;
    return 0;
}

static records_ud_t *new_records(lua_State *L)
{
    return mjl_new_tbc(L, sizeof(records_ud_t), RECORDS_MT);
}

/* store:image(name, platform) -> record | false | nil, err */
static int store_image(lua_State *L)
{
    mj_store_t *s = check_store(L);
    const char *name = mjl_tocstring(L, 2, "name");
    const char *platform = mjl_tocstring(L, 3, "platform");
    records_ud_t *u = new_records(L);
    mj_error_t *e = NULL;
    int r = mj_store_image_get(s, name, platform, &u->one, &e);
    if (r < 0)
        return fail_free(L, e, "image record");
    if (r == 0) {
        lua_pushboolean(L, 0);
        return 1;
    }
    push_record(L, &u->one);
    return 1;
}

/* store:images() -> {record…}, damaged | nil, err */
static int store_images(lua_State *L)
{
    mj_store_t *s = check_store(L);
    records_ud_t *u = new_records(L);
    size_t damaged = 0;
    mj_error_t *e = NULL;
    if (mj_store_image_list(s, &u->v, &u->n, &damaged, &e) < 0)
        return fail_free(L, e, "image records");
    lua_createtable(L, (int)u->n, 0);
    for (size_t i = 0; i < u->n; i++) {
        push_record(L, &u->v[i]);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    lua_pushinteger(L, (lua_Integer)damaged);
    return 2;
}

/* store:remove_image(name, platform) -> true (removed) | false (none) | nil, err */
static int store_remove_image(lua_State *L)
{
    mj_store_t *s = check_store(L);
    mj_error_t *e = NULL;
    int r = mj_store_image_remove(s, mjl_tocstring(L, 2, "name"), mjl_tocstring(L, 3, "platform"), &e);
    if (r < 0)
        return fail_free(L, e, "image record");
    lua_pushboolean(L, r);
    return 1;
}

/* ---------------------------------------------------------------- leases */

static mj_lease_t *check_lease(lua_State *L)
{
    return ((mjl_handle_t *)mjl_handle_check(L, 1, &mjl_image_lease_type))->handle;
}

static int lease_release(lua_State *L)
{
    mjl_handle_release(L, 1, &mjl_image_lease_type);
    return 0;
}

static int lease_release_method(lua_State *L)
{
    check_lease(L);
    return lease_release(L);
}

static int lease_detach(lua_State *L)
{
    mjl_handle_t *u = mjl_handle_check(L, 1, &mjl_image_lease_type);
    mj_lease_detach(u->handle);
    u->handle = NULL;
    return 0;
}

static int lease_id(lua_State *L)
{
    lua_pushstring(L, mj_lease_id(check_lease(L)));
    return 1;
}

static int lease_fd(lua_State *L)
{
    lua_pushinteger(L, mj_lease_fd(check_lease(L)));
    return 1;
}

/* store:lease(record, holder|nil) -> Lease | nil, err */
static int store_lease(lua_State *L)
{
    mj_store_t *s = check_store(L);
    const char *holder = lua_isnoneornil(L, 3) ? NULL : mjl_tocstring(L, 3, "holder");
    mjl_handle_t *u = mjl_handle_new(L, &mjl_image_lease_type, sizeof(*u), 0);
    int ud = lua_gettop(L);
    mjl_arena_t *a = mjl_arena_new(L);
    mj_image_record_t r;
    check_record(L, 2, a, &r);
    mj_lease_t *lease = NULL;
    mj_error_t *e = NULL;
    int rc = mj_store_lease(s, &r, holder, &lease, &e);
    u->handle = lease;
    if (rc < 0)
        return fail_free(L, e, "image lease");
    lua_pushvalue(L, ud);
    return 1;
}

/* A count the store keeps of the digest at 2: count | nil, err. */
static int digest_count(lua_State *L, int (*count)(mj_store_t *, const char *, mj_error_t **), const char *what)
{
    mj_store_t *s = check_store(L);
    mj_error_t *e = NULL;
    int n = count(s, mjl_tocstring(L, 2, "digest"), &e);
    if (n < 0)
        return fail_free(L, e, what);
    lua_pushinteger(L, n);
    return 1;
}

/* store:in_use(digest) -> count of live leases | nil, err */
static int store_in_use(lua_State *L)
{
    return digest_count(L, mj_store_image_in_use, "image leases");
}

/* store:refs(digest) -> reference count (records and live leases listing the blob or layer) | nil, err */
static int store_refs(lua_State *L)
{
    return digest_count(L, mj_store_blob_refs, "blob references");
}

/* store:gc{wait = false, partial_max_age = seconds (0: all)} -> stats | nil, err */
static int store_gc(lua_State *L)
{
    mj_store_t *s = check_store(L);
    bool wait = false;
    double age = 0;
    if (!lua_isnoneornil(L, 2)) {
        luaL_checktype(L, 2, LUA_TTABLE);
        lua_getfield(L, 2, "wait");
        wait = lua_toboolean(L, -1);
        lua_getfield(L, 2, "partial_max_age");
        age = lua_isnil(L, -1) ? 0 : luaL_checknumber(L, -1);
        lua_pop(L, 2);
    }
    mj_store_gc_stats_t st;
    mj_error_t *e = NULL;
    if (mj_store_gc(s, wait, age, &st, &e) < 0)
        return fail_free(L, e, "image store collection");
    lua_createtable(L, 0, 8);
    mjl_set_int(L, "blobs_removed", mjl_clamp_u64(st.blobs_removed));
    mjl_set_int(L, "bytes_removed", mjl_clamp_u64(st.bytes_removed));
    mjl_set_int(L, "partials_removed", mjl_clamp_u64(st.partials_removed));
    mjl_set_int(L, "leases_removed", mjl_clamp_u64(st.leases_removed));
    mjl_set_int(L, "kept", mjl_clamp_u64(st.kept));
    mjl_set_int(L, "layers_removed", mjl_clamp_u64(st.layers_removed));
    mjl_set_int(L, "layers_kept", mjl_clamp_u64(st.layers_kept));
    mjl_set_int(L, "unpacks_removed", mjl_clamp_u64(st.unpacks_removed));
    return 1;
}

/* ---------------------------------------------------------------- fetch */

static int jobs_release(lua_State *L)
{
    mjl_jobs_t *u = luaL_checkudata(L, 1, JOBS_MT);
    mj_blob_fetch_t *jobs = u->v;
    for (size_t i = 0; i < u->n; i++)
        mj_blob_fetch_clear(&jobs[i]);
    u->n = 0;
    return 0;
}

static int fetch_progress(void *ud, size_t index, uint64_t done, uint64_t total)
{
    mjl_progress_t *x = ud;
    if (!mjl_progress_push(x, 3))
        return x->raised;
    lua_pushinteger(x->L, (lua_Integer)index + 1);
    lua_pushinteger(x->L, mjl_clamp_u64(done));
    lua_pushinteger(x->L, mjl_clamp_u64(total));
    return mjl_progress_call(x, 3);
}

static lua_Integer check_size_field(lua_State *L, int t)
{
    lua_getfield(L, t, "size");
    int isnum = 0;
    lua_Number v = lua_tonumberx(L, -1, &isnum);
    if (!isnum || v != v || v < 0 || v > MAX_SAFE_INTEGER || (lua_Number)(lua_Integer)v != v)
        luaL_error(L, "fetch: 'size' must be a whole number of bytes from 0 to 2^53");
    lua_pop(L, 1);
    return (lua_Integer)v;
}

static void push_fetch_result(lua_State *L, const mj_blob_fetch_t *j)
{
    lua_createtable(L, 0, 8);
    mjl_set_bool(L, "ok", j->error == NULL);
    mjl_set_bool(L, "present", j->present);
    if (j->error) {
        mjl_push_error(L, j->error);
        lua_setfield(L, -2, "error");
    }
    if (j->req.resp.status)
        mjl_set_int(L, "status", j->req.resp.status);
    if (j->req.resp.retry_after) {
        lua_pushstring(L, j->req.resp.retry_after);
        lua_setfield(L, -2, "retry_after");
    }
    if (j->req.resp.www_authenticate) {
        lua_pushstring(L, j->req.resp.www_authenticate);
        lua_setfield(L, -2, "www_authenticate");
    }
    mjl_set_int(L, "received", mjl_clamp_u64(j->req.received));
    mjl_set_int(L, "resumed_from", mjl_clamp_u64(j->req.resumed_from));
}

/* store:fetch(client, {{url, headers, digest, size, insecure}, …}, progress|nil) -> {result…} | nil, err.
 * Every blob ends in the store or with its own error: result = {ok, present, error, status,
 * retry_after, www_authenticate, received, resumed_from}.  progress(i, done, total) is called as
 * bytes arrive (false cancels); an error it raises is raised here once everything is cleaned. */
static int store_fetch(lua_State *L)
{
    static const char *const keys[] = {"url", "headers", "digest", "size", "insecure", NULL};
    mj_store_t *s = check_store(L);
    mj_http_client_t *c = mjl_check_client(L, 2);
    lua_Integer n = mjl_image_job_args(L, 3, 4, MAX_JOBS, "fetch: blobs");
    mjl_arena_t *a = mjl_arena_new(L);
    mj_blob_fetch_t *jobs = mjl_image_jobs_new(L, a, JOBS_MT, n, sizeof(*jobs));
    for (lua_Integer i = 1; i <= n; i++) {
        lua_rawgeti(L, 3, i);
        int t = lua_gettop(L);
        luaL_checktype(L, t, LUA_TTABLE);
        mjl_image_check_keys(L, t, "fetch: blob", keys);
        mj_blob_fetch_t *j = &jobs[i - 1];
        j->url = mjl_image_opt_field(L, t, "url");
        j->digest = mjl_image_opt_field(L, t, "digest");
        if (!j->url || !j->digest)
            return luaL_error(L, "fetch: blob %d needs 'url' and 'digest'", (int)i);
        lua_getfield(L, t, "headers");
        j->headers = mjl_image_headers(L, a, -1, "fetch headers");
        j->size = (uint64_t)check_size_field(L, t);
        lua_getfield(L, t, "insecure");
        j->insecure = lua_toboolean(L, -1);
        lua_settop(L, t - 1); /* the strings stay alive in the job tables */
    }
    mjl_progress_t x = mjl_progress_at(L, 4);
    mj_error_t *e = NULL;
    int failed = mj_image_fetch_blobs(s, c, jobs, (size_t)n, fetch_progress, &x, &e);
    if (x.raised) {
        mj_error_free(e);
        return mjl_progress_rethrow(&x); /* the jobs and the arena are closed on the way out */
    }
    if (failed < 0)
        return fail_free(L, e, "blob fetch");
    lua_createtable(L, (int)n, 0);
    for (lua_Integer i = 1; i <= n; i++) {
        push_fetch_result(L, &jobs[i - 1]);
        lua_rawseti(L, -2, i);
    }
    return 1;
}

/* ---------------------------------------------------------------- registration */

static const luaL_Reg store_methods[] = {
    {"root", store_root},
    {"blob_path", store_blob_path},
    {"has", store_has},
    {"read", store_read},
    {"put", store_put},
    {"put_file", store_put_file},
    {"stage", store_stage},
    {"unstage", store_unstage},
    {"fetch", store_fetch},
    {"set_image", store_set_image},
    {"image", store_image},
    {"images", store_images},
    {"remove_image", store_remove_image},
    {"lease", store_lease},
    {"in_use", store_in_use},
    {"refs", store_refs},
    {"gc", store_gc},
    {"close", store_close},
    {NULL, NULL},
};

static const luaL_Reg lease_methods[] = {
    {"id", lease_id},
    {"fd", lease_fd},
    {"release", lease_release_method},
    {"detach", lease_detach},
    {NULL, NULL},
};

void mjl_image_store_register(lua_State *L)
{
    mjl_image_type(L, mjl_image_store_type.mt, store_methods, store_release);
    mjl_image_type(L, mjl_image_lease_type.mt, lease_methods, lease_release);
    mjl_image_type(L, JOBS_MT, NULL, jobs_release);
    mjl_image_type(L, RECORDS_MT, NULL, records_release);
    lua_getfield(L, -1, "image"); /* core.image, made by mjl_image_register below us */
    lua_pushcfunction(L, image_store);
    lua_setfield(L, -2, "store");
    mjl_tree_add_to_images(L); /* unpack_archive, walk, sha256_file, remove_tree (ltree.c) */
    lua_pop(L, 1);
}

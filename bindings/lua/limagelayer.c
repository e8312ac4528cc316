/* limagelayer.c — the unpacked layers of the image store in the Lua binding: the Store methods
 * unpack_layers and layer_path, over core/src/image/layerstore.c.
 *
 * Owns: their argument checks, the Lua shape of unpack results and statistics, and adding the two
 * methods to the Store type limagestore.c registers (lmoonjail.c calls both, in that order).
 * Must never: decide which layers an image needs, in which flavour or under which budgets
 * (image.lua does); call Lua from an unpack thread (the progress function runs on the calling
 * thread, under lua_pcall, and its error is raised after cleanup); raise while C memory is not
 * owned by a to-be-closed userdata.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "image/layerstore.h"
#include "largs.h"
#include "limage.h"
#include "lerror.h"
#include "lutil.h"

#define LAYER_JOBS_MT "moonjail.image_layer_jobs"
#define MAX_LAYER_JOBS 1024

static int layer_jobs_release(lua_State *L)
{
    mjl_jobs_t *u = luaL_checkudata(L, 1, LAYER_JOBS_MT);
    mj_layer_job_t *jobs = u->v;
    for (size_t i = 0; i < u->n; i++)
        mj_layer_job_clear(&jobs[i]);
    u->n = 0;
    return 0;
}

static mj_store_t *check_store(lua_State *L)
{
    return ((mjl_handle_t *)mjl_handle_check(L, 1, &mjl_image_store_type))->handle;
}

static mj_layer_compression_t check_compression(lua_State *L, int t)
{
    lua_getfield(L, t, "compression");
    const char *c = lua_isnil(L, -1) ? "gzip" : luaL_checkstring(L, -1);
    lua_pop(L, 1);
    if (strcmp(c, "gzip") == 0)
        return MJ_LAYER_GZIP;
    if (strcmp(c, "zstd") == 0)
        return MJ_LAYER_ZSTD;
    if (strcmp(c, "tar") == 0)
        return MJ_LAYER_PLAIN;
    luaL_error(L, "unpack_layers: compression must be \"gzip\", \"zstd\" or \"tar\", not '%s'", c);
    return MJ_LAYER_GZIP;
}

static uint64_t opt_count(lua_State *L, int t, const char *field, uint64_t max)
{
    lua_getfield(L, t, field);
    uint64_t v = 0;
    if (!lua_isnil(L, -1)) {
        int isnum = 0;
        lua_Integer n = lua_tointegerx(L, -1, &isnum);
        if (!isnum || n < 0 || (uint64_t)n > max)
            luaL_error(L, "unpack_layers: '%s' must be a whole number from 0 to %llu", field, (unsigned long long)max);
        v = (uint64_t)n;
    }
    lua_pop(L, 1);
    return v;
}

static bool opt_flag(lua_State *L, int t, const char *field)
{
    lua_getfield(L, t, field);
    bool v = lua_toboolean(L, -1);
    lua_pop(L, 1);
    return v;
}

static void check_opts(lua_State *L, int t, mj_layer_opts_t *o, unsigned *parallel)
{
    static const char *const keys[] = {"keep_owners", "trusted_xattrs", "allow_devices", "max_bytes", "max_entries",
                                       "max_depth", "max_ratio", "parallel", NULL};
    memset(o, 0, sizeof(*o));
    *parallel = 0;
    if (lua_isnoneornil(L, t))
        return;
    luaL_checktype(L, t, LUA_TTABLE);
    mjl_image_check_keys(L, t, "unpack_layers", keys);
    o->keep_owners = opt_flag(L, t, "keep_owners");
    o->trusted_xattrs = opt_flag(L, t, "trusted_xattrs");
    o->allow_devices = opt_flag(L, t, "allow_devices");
    o->max_bytes = opt_count(L, t, "max_bytes", UINT64_C(1) << 53);
    o->max_entries = opt_count(L, t, "max_entries", UINT64_C(1) << 53);
    o->max_depth = (unsigned)opt_count(L, t, "max_depth", 4096);
    o->max_ratio = (unsigned)opt_count(L, t, "max_ratio", UINT32_MAX);
    *parallel = (unsigned)opt_count(L, t, "parallel", 16);
}

static void push_stats(lua_State *L, const mj_layer_stats_t *st)
{
    lua_createtable(L, 0, 13);
    if (st->diff_id[0])
        mjl_set_str(L, "diff_id", st->diff_id);
    mjl_set_int(L, "compressed", mjl_clamp_u64(st->compressed));
    mjl_set_int(L, "uncompressed", mjl_clamp_u64(st->uncompressed));
    mjl_set_int(L, "entries", mjl_clamp_u64(st->entries));
    mjl_set_int(L, "files", mjl_clamp_u64(st->files));
    mjl_set_int(L, "dirs", mjl_clamp_u64(st->dirs));
    mjl_set_int(L, "symlinks", mjl_clamp_u64(st->symlinks));
    mjl_set_int(L, "hardlinks", mjl_clamp_u64(st->hardlinks));
    mjl_set_int(L, "whiteouts", mjl_clamp_u64(st->whiteouts));
    mjl_set_int(L, "opaques", mjl_clamp_u64(st->opaques));
    mjl_set_int(L, "devices_skipped", mjl_clamp_u64(st->devices_skipped));
    mjl_set_int(L, "xattrs_skipped", mjl_clamp_u64(st->xattrs_skipped));
}

/* {ok, path, present, error, stats} of one job. */
static void push_result(lua_State *L, const mj_layer_job_t *j)
{
    lua_createtable(L, 0, 5);
    mjl_set_bool(L, "ok", j->error == NULL);
    mjl_set_bool(L, "present", j->present);
    if (j->path)
        mjl_set_str(L, "path", j->path);
    if (j->error) {
        mjl_push_error(L, j->error);
        lua_setfield(L, -2, "error");
    }
    push_stats(L, &j->stats);
    lua_setfield(L, -2, "stats");
}

static int unpack_progress(void *ud, size_t index, const mj_layer_job_t *job)
{
    mjl_progress_t *x = ud;
    if (!mjl_progress_push(x, 2))
        return x->raised;
    lua_pushinteger(x->L, (lua_Integer)index + 1);
    push_result(x->L, job);
    return mjl_progress_call(x, 2);
}

/* store:unpack_layers({{blob, diff_id, compression = "gzip" | "zstd" | "tar"}, …}, opts, progress)
 *   -> {{ok, path, present, error, stats}, …} | nil, err.
 * opts: keep_owners, trusted_xattrs, allow_devices, max_bytes, max_entries, max_depth, max_ratio,
 * parallel (see mj_layer_opts_t).  progress(i, result) runs as each layer ends; false cancels
 * the layers not started yet. */
static int store_unpack_layers(lua_State *L)
{
    mj_store_t *s = check_store(L);
    mj_layer_opts_t o;
    unsigned parallel;
    check_opts(L, 3, &o, &parallel);
    lua_Integer n = mjl_image_job_args(L, 2, 4, MAX_LAYER_JOBS, "unpack_layers: layers");
    mjl_arena_t *a = mjl_arena_new(L);
    mj_layer_job_t *jobs = mjl_image_jobs_new(L, a, LAYER_JOBS_MT, n, sizeof(*jobs));
    for (lua_Integer i = 1; i <= n; i++) {
        lua_rawgeti(L, 2, i);
        int t = lua_gettop(L);
        luaL_checktype(L, t, LUA_TTABLE);
        mj_layer_job_t *j = &jobs[i - 1];
        j->blob = mjl_image_opt_field(L, t, "blob");
        j->diff_id = mjl_image_opt_field(L, t, "diff_id");
        if (!j->blob || !j->diff_id)
            return luaL_error(L, "unpack_layers: layer %d needs 'blob' and 'diff_id'", (int)i);
        j->compression = check_compression(L, t);
        lua_settop(L, t - 1); /* the strings stay alive in the job tables */
    }
    mjl_progress_t x = mjl_progress_at(L, 4);
    mj_error_t *e = NULL;
    int failed = mj_store_unpack_layers(s, jobs, (size_t)n, &o, parallel, unpack_progress, &x, &e);
    if (x.raised) {
        mj_error_free(e);
        return mjl_progress_rethrow(&x); /* the jobs and the arena are closed on the way out */
    }
    if (failed < 0) {
        int r = mjl_fail(L, e, "layer unpack");
        mj_error_free(e);
        return r;
    }
    lua_createtable(L, (int)n, 0);
    for (lua_Integer i = 1; i <= n; i++) {
        push_result(L, &jobs[i - 1]);
        lua_rawseti(L, -2, i);
    }
    return 1;
}

/* store:layer_path(diff_id, "owners" | "rootless") -> path | false | nil, err */
static int store_layer_path(lua_State *L)
{
    mj_store_t *s = check_store(L);
    const char *diff_id = mjl_tocstring(L, 2, "diff_id");
    static const char *const flavours[] = {"owners", "rootless", NULL};
    int flavour = luaL_checkoption(L, 3, NULL, flavours);
    mjl_arena_t *a = mjl_arena_new(L);
    mjl_arena_reserve(L, a);
    char *path = NULL;
    mj_error_t *e = NULL;
    int r = mj_store_layer_path(s, diff_id, (mj_layer_flavour_t)flavour, &path, &e);
    mjl_arena_keep(a, path);
    if (r < 0) {
        int rr = mjl_fail(L, e, "layer path");
        mj_error_free(e);
        return rr;
    }
    if (r == 0)
        lua_pushboolean(L, 0);
    else
        lua_pushstring(L, path);
    return 1;
}

static const luaL_Reg layer_methods[] = {
    {"unpack_layers", store_unpack_layers},
    {"layer_path", store_layer_path},
    {NULL, NULL},
};

void mjl_image_layer_register(lua_State *L)
{
    mjl_image_type(L, LAYER_JOBS_MT, NULL, layer_jobs_release);
    luaL_getmetatable(L, mjl_image_store_type.mt);
    lua_getfield(L, -1, "__index");
    luaL_setfuncs(L, layer_methods, 0);
    lua_pop(L, 2);
}

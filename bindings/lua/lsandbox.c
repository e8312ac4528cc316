/* lsandbox.c — the Sandbox userdata of the Lua binding: a persistent sandbox (mj_sandbox_t).
 *
 * Owns: the metatable "moonjail.Sandbox", its primitives core.sandbox_ops (exec, spawn, signal,
 * stop, destroy, env, info, usage, the file operations, …) and core.sandbox / core.open /
 * core.list / core.prune_sandboxes.  scripts/moonjail/sandbox.lua writes the methods users call over these primitives
 * into core.sandbox_methods, the metatable's __index table.  The life cycle is lhandle.c's (as
 * liolib's files); a sandbox keeps a weak set of the processes spawned from it (user value 1)
 * and frees them before itself.
 * Must never: raise while holding a handle that no userdata owns, or block forever without the
 * caller having asked to.
 */
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "largs.h"
#include "lbox.h"
#include "lerror.h"
#include "lhandle.h"
#include "lopts.h"
#include "lprocess.h"
#include "lresult.h"
#include "lsandbox.h"
#include "ltree.h"
#include "rootdiff.h"

static void free_sandbox(void *sb)
{
    mj_sandbox_free(sb); /* an anonymous sandbox is destroyed with it, a named one stays */
}

/* Frees the processes of the sandbox at idx first: a process must not outlive the handle it
 * streams from. */
static void release_processes(lua_State *L, int idx)
{
    if (lua_getiuservalue(L, idx, 1) == LUA_TTABLE) {
        lua_pushnil(L);
        while (lua_next(L, -2) != 0) {
            lua_pop(L, 1);
            mjl_process_release(L, lua_gettop(L));
        }
    }
    lua_pop(L, 1);
}

static void describe_sandbox(lua_State *L, void *sb)
{
    mj_sandbox_info_t info;
    memset(&info, 0, sizeof info);
    if (mj_sandbox_info(sb, &info, NULL) == 0)
        lua_pushfstring(L, "moonjail.Sandbox (%s)", info.name[0] ? info.name : info.id);
    else
        lua_pushfstring(L, "moonjail.Sandbox (%p)", sb);
}

static const mjl_handle_type_t sandbox_type = {
    .mt = "moonjail.Sandbox",
    .what = "sandbox",
    .free = free_sandbox,
    .before_free = release_processes,
    .describe = describe_sandbox,
    .ops_field = "sandbox_ops",
    .methods_field = "sandbox_methods",
};

static mj_sandbox_t *check_sandbox(lua_State *L, int idx)
{
    return ((mjl_handle_t *)mjl_handle_check(L, idx, &sandbox_type))->handle;
}

/* Pushes a new, still closed Sandbox with its (weak-keyed) process set. */
static mjl_handle_t *new_sandbox(lua_State *L)
{
    mjl_handle_t *h = mjl_handle_new(L, &sandbox_type, sizeof *h, 1);
    lua_createtable(L, 0, 0);
    lua_createtable(L, 0, 1);
    lua_pushliteral(L, "k");
    lua_setfield(L, -2, "__mode");
    lua_setmetatable(L, -2);
    lua_setiuservalue(L, -2, 1);
    return h;
}

/* core.sandbox(spec, name|nil) -> Sandbox | nil, err */
static int core_sandbox(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    const char *name = mjl_optcstring(L, 2, NULL);
    lua_settop(L, 2);
    mjl_handle_t *h = new_sandbox(L); /* 3: before the handle exists */
    mjl_box_t *box = mjl_new_box(L);  /* 4 */
    box->cfg = mj_config_new();
    if (box->cfg == NULL)
        return luaL_error(L, "moonjail core.sandbox: out of memory");
    if (mjl_spec_config(L, 1, box->cfg, &box->err) < 0)
        return mjl_fail(L, box->err, "Sandbox initialization failed");
    mj_sandbox_t *sb = NULL;
    int rc = mj_sandbox_create(box->cfg, name, &sb, &box->err);
    h->handle = sb; /* owned by the userdata from here, whatever rc says */
    if (rc < 0)
        return mjl_fail(L, box->err, "Sandbox initialization failed");
    lua_pushvalue(L, 3);
    return 1;
}

/* core.open(name) -> Sandbox | nil, err */
static int core_open(lua_State *L)
{
    const char *name = mjl_checkcstring(L, 1);
    lua_settop(L, 1);
    mjl_handle_t *h = new_sandbox(L);
    mjl_box_t *box = mjl_new_box(L);
    mj_sandbox_t *sb = NULL;
    int rc = mj_sandbox_open(name, &sb, &box->err);
    h->handle = sb;
    if (rc < 0)
        return mjl_fail(L, box->err, "Sandbox not found");
    lua_pushvalue(L, 2);
    return 1;
}

/* core.list() -> array of names | nil, err */
static int core_list(lua_State *L)
{
    mjl_box_t *box = mjl_new_box(L);
    if (mj_sandbox_list(&box->names, &box->n_names, &box->err) < 0)
        return mjl_push_status(L, -1, box);
    mjl_push_strings(L, box->names, box->n_names);
    return 1;
}

/* core.prune_sandboxes() -> { sandboxes, leftovers, supervisors, cgroups } (counts of what went) |
 * nil, err: what dead sandboxes and crashes left (mj_sandbox_prune) */
static int core_prune_sandboxes(lua_State *L)
{
    mjl_box_t *box = mjl_new_box(L);
    mj_prune_report_t rep;
    if (mj_sandbox_prune(&rep, &box->err) < 0)
        return mjl_push_status(L, -1, box);
    lua_createtable(L, 0, 4);
    lua_pushinteger(L, rep.sandboxes);
    lua_setfield(L, -2, "sandboxes");
    lua_pushinteger(L, rep.leftovers);
    lua_setfield(L, -2, "leftovers");
    lua_pushinteger(L, rep.supervisors);
    lua_setfield(L, -2, "supervisors");
    lua_pushinteger(L, rep.cgroups);
    lua_setfield(L, -2, "cgroups");
    return 1;
}

/* ops.exec(sb, spec) -> result | nil, err */
static int sb_exec(lua_State *L)
{
    mj_sandbox_t *sb = check_sandbox(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    lua_settop(L, 2);
    mjl_box_t *box = mjl_new_box(L);
    box->cmd = mj_command_new();
    if (box->cmd == NULL)
        return luaL_error(L, "moonjail exec: out of memory");
    if (mjl_spec_command(L, 2, box->cmd, true, &box->err) < 0 ||
        mj_sandbox_exec(sb, box->cmd, &box->res, &box->err) < 0)
        return mjl_fail(L, box->err, "Command execution failed");
    mjl_push_result(L, box->res);
    return 1;
}

/* ops.spawn(sb, spec) -> Process | nil, err */
static int sb_spawn(lua_State *L)
{
    mj_sandbox_t *sb = check_sandbox(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    lua_settop(L, 2);
    mjl_handle_t *h = mjl_process_new(L, 1); /* 3: before the handle exists */
    mjl_box_t *box = mjl_new_box(L);         /* 4 */
    box->cmd = mj_command_new();
    if (box->cmd == NULL)
        return luaL_error(L, "moonjail spawn: out of memory");
    if (mjl_spec_command(L, 2, box->cmd, true, &box->err) < 0)
        return mjl_fail(L, box->err, "Command execution failed");
    mj_process_t *p = NULL;
    int rc = mj_sandbox_spawn(sb, box->cmd, &p, &box->err);
    h->handle = p; /* owned by the userdata from here, whatever rc says */
    if (rc < 0)
        return mjl_fail(L, box->err, "Command execution failed");
    /* register in the sandbox's weak set, so closing the sandbox frees it first */
    lua_getiuservalue(L, 1, 1);
    lua_pushvalue(L, 3);
    lua_pushboolean(L, 1);
    lua_rawset(L, -3);
    lua_pop(L, 1);
    lua_pushvalue(L, 3);
    return 1;
}

/* ops.spawn_detached(sb, spec) -> pid | nil, err */
static int sb_spawn_detached(lua_State *L)
{
    mj_sandbox_t *sb = check_sandbox(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    lua_settop(L, 2);
    mjl_box_t *box = mjl_new_box(L);
    box->cmd = mj_command_new();
    if (box->cmd == NULL)
        return luaL_error(L, "moonjail spawn: out of memory");
    pid_t pid = 0;
    if (mjl_spec_command(L, 2, box->cmd, true, &box->err) < 0 ||
        mj_sandbox_spawn_detached(sb, box->cmd, &pid, &box->err) < 0)
        return mjl_fail(L, box->err, "Command execution failed");
    lua_pushinteger(L, pid);
    return 1;
}

/* ops.log_dir(sb) -> the directory of its kept output | nil (anonymous) */
static int sb_log_dir(lua_State *L)
{
    mj_sandbox_t *sb = check_sandbox(L, 1);
    char *dir = mj_sandbox_log_dir(sb);
    if (!dir)
        return 0;
    lua_pushstring(L, dir);
    free(dir);
    return 1;
}

static int sb_signal(lua_State *L)
{
    mj_sandbox_t *sb = check_sandbox(L, 1);
    int sig = mjl_check_signal(L, 2);
    mjl_box_t *box = mjl_new_box(L);
    int rc = mj_sandbox_signal(sb, sig, &box->err);
    return mjl_push_status(L, rc, box);
}

static int sb_stop(lua_State *L)
{
    mj_sandbox_t *sb = check_sandbox(L, 1);
    double grace = luaL_optnumber(L, 2, 10.0);
    if (!(grace >= 0) || isinf(grace))
        return luaL_argerror(L, 2, "grace must be a finite number of seconds >= 0");
    mjl_box_t *box = mjl_new_box(L);
    int rc = mj_sandbox_stop(sb, grace, &box->err);
    return mjl_push_status(L, rc, box);
}

/* ops.destroy(sb): destroys (named ones too), then releases the handle; true | nil, err (the
 * handle stays open on failure, so the caller may retry). */
static int sb_destroy(lua_State *L)
{
    mj_sandbox_t *sb = check_sandbox(L, 1);
    lua_settop(L, 1);
    mjl_box_t *box = mjl_new_box(L);
    if (mj_sandbox_destroy(sb, &box->err) < 0)
        return mjl_push_status(L, -1, box);
    mjl_handle_release(L, 1, &sandbox_type);
    lua_pushboolean(L, 1);
    return 1;
}

static int sb_workdir(lua_State *L)
{
    lua_pushstring(L, mj_sandbox_workdir(check_sandbox(L, 1)));
    return 1;
}

/* ops.env(sb) -> { KEY = VALUE } */
static int sb_env(lua_State *L)
{
    const char *const *env = mj_sandbox_env(check_sandbox(L, 1));
    lua_newtable(L);
    for (size_t i = 0; env != NULL && env[i] != NULL; i++) {
        const char *eq = strchr(env[i], '=');
        if (eq == NULL)
            continue;
        lua_pushlstring(L, env[i], (size_t)(eq - env[i]));
        lua_pushstring(L, eq + 1);
        lua_rawset(L, -3);
    }
    return 1;
}

/* ops.set_env(sb, key, value|nil): sets one variable, or unsets it when value is nil. */
static int sb_set_env(lua_State *L)
{
    mj_sandbox_t *sb = check_sandbox(L, 1);
    const char *key = mjl_checkcstring(L, 2);
    const char *value = mjl_optcstring(L, 3, NULL);
    mjl_box_t *box = mjl_new_box(L);
    int rc = value ? mj_sandbox_set_env(sb, key, value, &box->err) : mj_sandbox_unset_env(sb, key, &box->err);
    return mjl_push_status(L, rc, box);
}

static int sb_clear_env(lua_State *L)
{
    mj_sandbox_clear_env(check_sandbox(L, 1));
    return 0;
}

static int sb_meta(lua_State *L)
{
    const char *meta = mj_sandbox_meta(check_sandbox(L, 1));
    if (meta == NULL)
        lua_pushnil(L);
    else
        lua_pushstring(L, meta);
    return 1;
}

static int sb_status(lua_State *L)
{
    const char *name = mj_status_name(mj_sandbox_status(check_sandbox(L, 1)));
    lua_pushstring(L, name ? name : "failed");
    return 1;
}

/* ops.info(sb) -> { id, name, status, created_at, started_at, hostname, supervisor_pid, uid,
 * gid, rootless, network, ip_address (where known), warnings } | nil, err  (api.lua adds the rest of SandboxInfo) */
static int sb_info(lua_State *L)
{
    mj_sandbox_t *sb = check_sandbox(L, 1);
    mj_sandbox_info_t info;
    memset(&info, 0, sizeof info);
    mjl_box_t *box = mjl_new_box(L);
    if (mj_sandbox_info(sb, &info, &box->err) < 0)
        return mjl_push_status(L, -1, box);
    mjl_push_info(L, sb, &info);
    return 1;
}

/* ops.usage(sb) -> ResourceUsage | nil, err */
static int sb_usage(lua_State *L)
{
    mj_sandbox_t *sb = check_sandbox(L, 1);
    mj_usage_t u;
    memset(&u, 0, sizeof u);
    mjl_box_t *box = mjl_new_box(L);
    if (mj_sandbox_usage(sb, &u, &box->err) < 0)
        return mjl_push_status(L, -1, box);
    mjl_push_usage(L, &u);
    return 1;
}

/* ops.processes(sb) -> array of { pid, ppid, uid, state, cpu_time, rss, command } | nil, err */
static int sb_processes(lua_State *L)
{
    mj_sandbox_t *sb = check_sandbox(L, 1);
    mjl_box_t *box = mjl_new_box(L);
    mj_proc_entry_t *v = NULL;
    size_t n = 0;
    int rc = mj_sandbox_processes(sb, &v, &n, &box->err);
    box->procs = v;
    box->n_procs = n;
    if (rc < 0)
        return mjl_push_status(L, rc, box);
    mjl_push_processes(L, v, n);
    return 1;
}

/* ops.denials(sb) -> array of { syscall, nr, pid } refused since the previous call */
static int sb_denials(lua_State *L)
{
    mj_sandbox_t *sb = check_sandbox(L, 1);
    mjl_box_t *box = mjl_new_box(L);
    mj_denial_t *v = NULL;
    size_t n = 0;
    int rc = mj_sandbox_denials(sb, &v, &n, NULL, &box->err);
    box->mem = v;
    if (rc < 0)
        return mjl_push_status(L, rc, box);
    mjl_push_denials(L, v, n);
    return 1;
}

static int run_root_diff(void *ctx, mj_diff_fn fn, void *ud, mj_error_t **err)
{
    return mj_sandbox_root_diff(ctx, fn, ud, err);
}

/* ops.root_diff(sb) -> array of { path, kind, type } | nil, err: the changes of its root */
static int sb_root_diff(lua_State *L)
{
    return mjl_push_diff(L, run_root_diff, check_sandbox(L, 1));
}

/* ---------------------------------------------------------------- files */

/* ops.write_file(sb, path, data, mode) -> true | nil, err */
static int sb_write_file(lua_State *L)
{
    mj_sandbox_t *sb = check_sandbox(L, 1);
    const char *path = mjl_checkcstring(L, 2);
    size_t len;
    const char *data = luaL_checklstring(L, 3, &len);
    lua_Integer mode = luaL_optinteger(L, 4, 0644);
    if (mode < 0 || mode > 07777)
        return luaL_argerror(L, 4, "file mode out of range");
    mjl_box_t *box = mjl_new_box(L);
    int rc = mj_sandbox_write_file(sb, path, data, len, (unsigned)mode, &box->err);
    return mjl_push_status(L, rc, box);
}

/* ops.read_file(sb, path, max|nil) -> string | nil, err */
static int sb_read_file(lua_State *L)
{
    mj_sandbox_t *sb = check_sandbox(L, 1);
    const char *path = mjl_checkcstring(L, 2);
    lua_Integer max = luaL_optinteger(L, 3, 0);
    if (max < 0)
        return luaL_argerror(L, 3, "must be >= 0");
    mjl_box_t *box = mjl_new_box(L);
    char *data = NULL;
    size_t len = 0;
    int rc = mj_sandbox_read_file(sb, path, (size_t)max, &data, &len, &box->err);
    box->mem = data;
    if (rc < 0)
        return mjl_push_status(L, rc, box);
    lua_pushlstring(L, data, len);
    return 1;
}

/* ops.list_files(sb, path) -> array of FileInfo | nil, err */
static int sb_list_files(lua_State *L)
{
    mj_sandbox_t *sb = check_sandbox(L, 1);
    const char *path = mjl_checkcstring(L, 2);
    mjl_box_t *box = mjl_new_box(L);
    if (mj_sandbox_list_files(sb, path, &box->files, &box->n_files, &box->err) < 0)
        return mjl_push_status(L, -1, box);
    mjl_push_file_infos(L, box->files, box->n_files);
    return 1;
}

/* ops.stat(sb, path) -> FileInfo | nil, err */
static int sb_stat(lua_State *L)
{
    mj_sandbox_t *sb = check_sandbox(L, 1);
    const char *path = mjl_checkcstring(L, 2);
    mjl_box_t *box = mjl_new_box(L);
    if (mj_sandbox_stat(sb, path, &box->file, &box->err) < 0)
        return mjl_push_status(L, -1, box);
    mjl_push_file_info(L, &box->file);
    return 1;
}

static int sb_mkdir(lua_State *L)
{
    mj_sandbox_t *sb = check_sandbox(L, 1);
    const char *path = mjl_checkcstring(L, 2);
    lua_Integer mode = luaL_optinteger(L, 3, 0755);
    if (mode < 0 || mode > 07777)
        return luaL_argerror(L, 3, "file mode out of range");
    mjl_box_t *box = mjl_new_box(L);
    int rc = mj_sandbox_mkdir(sb, path, (unsigned)mode, &box->err);
    return mjl_push_status(L, rc, box);
}

static int sb_remove(lua_State *L)
{
    mj_sandbox_t *sb = check_sandbox(L, 1);
    const char *path = mjl_checkcstring(L, 2);
    bool recursive = lua_toboolean(L, 3);
    mjl_box_t *box = mjl_new_box(L);
    int rc = mj_sandbox_remove(sb, path, recursive, &box->err);
    return mjl_push_status(L, rc, box);
}

/* ops.copy_out(sb, src, host_dst, max_bytes|nil, max_entries|nil) -> true, {bytes, entries} | nil, err:
 * the budget (libmoonjail's default for what is nil) and what the copy wrote of it. */
static int sb_copy_out(lua_State *L)
{
    mj_sandbox_t *sb = check_sandbox(L, 1);
    const char *src = luaL_checkstring(L, 2);
    const char *dst = luaL_checkstring(L, 3);
    lua_Integer max_bytes = luaL_optinteger(L, 4, (lua_Integer)MJ_COPY_OUT_BYTES);
    lua_Integer max_entries = luaL_optinteger(L, 5, (lua_Integer)MJ_COPY_OUT_ENTRIES);
    luaL_argcheck(L, max_bytes >= 0, 4, "must be >= 0");
    luaL_argcheck(L, max_entries >= 0, 5, "must be >= 0");
    mj_copy_budget_t budget = {.bytes = (uint64_t)max_bytes, .entries = (uint64_t)max_entries};
    mjl_box_t *box = mjl_new_box(L);
    if (mj_sandbox_copy_out_budget(sb, src, dst, &budget, &box->err) < 0)
        return mjl_push_status(L, -1, box);
    lua_pushboolean(L, 1);
    lua_createtable(L, 0, 2);
    lua_pushinteger(L, max_bytes - (lua_Integer)budget.bytes);
    lua_setfield(L, -2, "bytes");
    lua_pushinteger(L, max_entries - (lua_Integer)budget.entries);
    lua_setfield(L, -2, "entries");
    return 2;
}

/* ---------------------------------------------------------------- the plain status calls */

/* The primitives that pass the sandbox and nargs strings to one libmoonjail call and answer
 * true | nil, err: one C function (status_call) serves them all, its entry as upvalue. */
static const struct status_call {
    const char *name;
    int nargs;
    union {
        int (*call0)(mj_sandbox_t *sb, mj_error_t **err);
        int (*call1)(mj_sandbox_t *sb, const char *a, mj_error_t **err);
        int (*call2)(mj_sandbox_t *sb, const char *a, const char *b, mj_error_t **err);
    };
} status_calls[] = {
    {"pause", 0, .call0 = mj_sandbox_pause},
    {"start", 0, .call0 = mj_sandbox_start},
    {"resume", 0, .call0 = mj_sandbox_resume},
    {"set_workdir", 1, .call1 = mj_sandbox_set_workdir}, /* (sb, dir) */
    {"set_meta", 1, .call1 = mj_sandbox_set_meta},       /* (sb, text) */
    {"copy_in", 2, .call2 = mj_sandbox_copy_in},         /* (sb, host_src, dst) */
};

static int status_call(lua_State *L)
{
    const struct status_call *c = lua_touserdata(L, lua_upvalueindex(1));
    mj_sandbox_t *sb = check_sandbox(L, 1);
    const char *a = c->nargs > 0 ? mjl_checkcstring(L, 2) : NULL;
    const char *b = c->nargs > 1 ? mjl_checkcstring(L, 3) : NULL;
    mjl_box_t *box = mjl_new_box(L);
    int rc = c->nargs == 0   ? c->call0(sb, &box->err)
             : c->nargs == 1 ? c->call1(sb, a, &box->err)
                             : c->call2(sb, a, b, &box->err);
    return mjl_push_status(L, rc, box);
}

/* ---------------------------------------------------------------- registration */

static const luaL_Reg sandbox_ops[] = {
    {"exec", sb_exec},
    {"spawn", sb_spawn},
    {"spawn_detached", sb_spawn_detached},
    {"log_dir", sb_log_dir},
    {"signal", sb_signal},
    {"stop", sb_stop},
    {"destroy", sb_destroy},
    {"workdir", sb_workdir},
    {"env", sb_env},
    {"set_env", sb_set_env},
    {"clear_env", sb_clear_env},
    {"meta", sb_meta},
    {"status", sb_status},
    {"info", sb_info},
    {"usage", sb_usage},
    {"processes", sb_processes},
    {"denials", sb_denials},
    {"root_diff", sb_root_diff},
    {"write_file", sb_write_file},
    {"read_file", sb_read_file},
    {"list_files", sb_list_files},
    {"stat", sb_stat},
    {"mkdir", sb_mkdir},
    {"remove", sb_remove},
    {"copy_out", sb_copy_out},
    {NULL, NULL},
};

static const luaL_Reg sandbox_funcs[] = {
    {"sandbox", core_sandbox},
    {"open", core_open},
    {"list", core_list},
    {"prune_sandboxes", core_prune_sandboxes},
    {NULL, NULL},
};

void mjl_sandbox_register(lua_State *L)
{
    mjl_handle_register(L, &sandbox_type, sandbox_ops);
    lua_getfield(L, -1, sandbox_type.ops_field);
    for (size_t i = 0; i < sizeof status_calls / sizeof status_calls[0]; i++) {
        lua_pushlightuserdata(L, (void *)&status_calls[i]);
        lua_pushcclosure(L, status_call, 1);
        lua_setfield(L, -2, status_calls[i].name);
    }
    lua_pop(L, 1);
    luaL_setfuncs(L, sandbox_funcs, 0);
}

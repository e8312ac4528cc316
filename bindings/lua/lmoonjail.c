/* lmoonjail.c — the `moonjail` Lua 5.4 module: luaopen_moonjail and the C primitives under it.
 *
 * Owns: the table `core` of C functions (run, error, policy_source, policy_names, version, codes,
 * path_kind, sleep, mkdir_private, chmod, euid) that scripts/moonjail/api.lua turns into the public module, the conversion of
 * a resolved spec into mj_config_t / mj_command_t (shared with lsandbox.c), and the Lua shape of
 * errors (tables with the metatable "moonjail.error").
 * Must never: set globals, decide policy (Lua does that), or raise while it holds C memory that
 * only Lua's garbage collector would free — every libmoonjail handle lives in a to-be-closed
 * userdata box, so an error anywhere releases it at once.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lua.h>

#include "embedded.h"
#include "limage.h"
#include "lmoonjail.h"
#include "moonjail/moonjail.h"


/* ---------------------------------------------------------------- errors */

/* Pushes a fresh error table {code, message, retryable, errno, cause} with the error metatable. */
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

/* Converts a libmoonjail error (borrowed) into a Lua error table, causes included. */
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
static void push_codes(lua_State *L)
{
    lua_createtable(L, MJ_ERR__COUNT - 1, 0);
    for (int c = MJ_OK + 1; c < MJ_ERR__COUNT; c++) {
        lua_pushstring(L, mj_error_code_name((mj_error_code_t)c));
        lua_rawseti(L, -2, c);
    }
}

/* ---------------------------------------------------------------- the handle box; specs */

/* __gc and __close of the box: idempotent. */
static int box_release(lua_State *L)
{
    mjl_box_t *box = luaL_checkudata(L, 1, MJL_BOX_MT);
    mj_result_free(box->res);
    mj_error_free(box->err);
    mj_command_free(box->cmd);
    mj_config_free(box->cfg);
    memset(box, 0, sizeof *box);
    return 0;
}

mjl_box_t *mjl_new_box(lua_State *L)
{
    mjl_box_t *box = lua_newuserdatauv(L, sizeof *box, 0);
    memset(box, 0, sizeof *box);
    luaL_setmetatable(L, MJL_BOX_MT);
    lua_toclose(L, -1);
    return box;
}

/* Raises a type error naming the spec field. */
static int spec_type_error(lua_State *L, const char *field, const char *expected)
{
    return luaL_error(L, "moonjail core: spec field '%s' must be %s (got %s)", field, expected,
                      luaL_typename(L, -1));
}

/* Pushes spec[field]; raises unless it has one of the types in mask (nil allowed when optional). */
static int spec_field(lua_State *L, int spec, const char *field, int type, bool optional)
{
    int t = lua_getfield(L, spec, field);
    if (t == LUA_TNIL && optional)
        return t;
    if (t != type)
        spec_type_error(L, field, lua_typename(L, type));
    return t;
}

static const char *spec_string(lua_State *L, int spec, const char *field, bool optional)
{
    if (spec_field(L, spec, field, LUA_TSTRING, optional) == LUA_TNIL) {
        lua_pop(L, 1);
        return NULL;
    }
    const char *s = lua_tostring(L, -1);
    lua_pop(L, 1); /* the spec table keeps the string alive */
    return s;
}

static bool spec_bool(lua_State *L, int spec, const char *field, bool dflt)
{
    bool v = dflt;
    if (spec_field(L, spec, field, LUA_TBOOLEAN, true) != LUA_TNIL)
        v = lua_toboolean(L, -1);
    lua_pop(L, 1);
    return v;
}

static lua_Integer spec_integer(lua_State *L, int spec, const char *field, lua_Integer dflt)
{
    lua_Integer v = dflt;
    int t = lua_getfield(L, spec, field);
    if (t != LUA_TNIL) {
        if (!lua_isinteger(L, -1))
            spec_type_error(L, field, "an integer");
        v = lua_tointeger(L, -1);
    }
    lua_pop(L, 1);
    return v;
}

/* The element i of the array at the top must be a string; returns it (borrowed from the array). */
static const char *array_string(lua_State *L, const char *field, lua_Integer i)
{
    if (lua_geti(L, -1, i) != LUA_TSTRING)
        luaL_error(L, "moonjail core: spec field '%s[%d]' must be a string (got %s)", field,
                   (int)i, luaL_typename(L, -1));
    const char *s = lua_tostring(L, -1);
    lua_pop(L, 1);
    return s;
}

/* Adds every string of spec[field] with add(cfg, s, err).  Returns 0 or -1 (*err set). */
static int spec_paths(lua_State *L, int spec, const char *field, mj_config_t *cfg,
                      mj_error_t **err, int (*add)(mj_config_t *, const char *, mj_error_t **))
{
    if (spec_field(L, spec, field, LUA_TTABLE, true) == LUA_TNIL) {
        lua_pop(L, 1);
        return 0;
    }
    lua_Integer n = luaL_len(L, -1);
    for (lua_Integer i = 1; i <= n; i++) {
        if (add(cfg, array_string(L, field, i), err) < 0) {
            lua_pop(L, 1);
            return -1;
        }
    }
    lua_pop(L, 1);
    return 0;
}

static int spec_host_paths(lua_State *L, int spec, mj_config_t *cfg, mj_error_t **err)
{
    if (spec_field(L, spec, "host_paths", LUA_TTABLE, true) == LUA_TNIL) {
        lua_pop(L, 1);
        return 0;
    }
    int arr = lua_gettop(L);
    lua_Integer n = luaL_len(L, arr);
    for (lua_Integer i = 1; i <= n; i++) {
        lua_geti(L, arr, i);
        if (!lua_istable(L, -1))
            luaL_error(L, "moonjail core: spec field 'host_paths[%d]' must be a table", (int)i);
        int entry = lua_gettop(L);
        const char *path = spec_string(L, entry, "path", false);
        bool required = spec_bool(L, entry, "required", false);
        int rc = mj_config_add_host_path(cfg, path, required, err);
        lua_pop(L, 1);
        if (rc < 0) {
            lua_pop(L, 1);
            return -1;
        }
    }
    lua_pop(L, 1);
    return 0;
}

static int spec_mounts(lua_State *L, int spec, mj_config_t *cfg, mj_error_t **err)
{
    if (spec_field(L, spec, "mounts", LUA_TTABLE, true) == LUA_TNIL) {
        lua_pop(L, 1);
        return 0;
    }
    int arr = lua_gettop(L);
    lua_Integer n = luaL_len(L, arr);
    for (lua_Integer i = 1; i <= n; i++) {
        lua_geti(L, arr, i);
        if (!lua_istable(L, -1))
            luaL_error(L, "moonjail core: spec field 'mounts[%d]' must be a table", (int)i);
        int m = lua_gettop(L);
        const char *kind_name = spec_string(L, m, "kind", false);
        mj_mount_kind_t kind;
        if (strcmp(kind_name, "ro") == 0)
            kind = MJ_MOUNT_RO;
        else if (strcmp(kind_name, "rw") == 0)
            kind = MJ_MOUNT_RW;
        else if (strcmp(kind_name, "tmpfs") == 0)
            kind = MJ_MOUNT_TMPFS;
        else if (strcmp(kind_name, "cow") == 0)
            kind = MJ_MOUNT_COW;
        else
            return luaL_error(L, "moonjail core: spec field 'mounts[%d].kind' must be "
                                 "\"ro\", \"rw\", \"cow\" or \"tmpfs\"", (int)i);
        const char *src = spec_string(L, m, "src", kind == MJ_MOUNT_TMPFS);
        const char *dst = spec_string(L, m, "dst", false);
        lua_Integer size = spec_integer(L, m, "size", 0);
        lua_Integer mode = spec_integer(L, m, "mode", 0);
        if (size < 0 || mode < 0 || mode > 07777)
            return luaL_error(L, "moonjail core: spec field 'mounts[%d]' has a negative size "
                                 "or a bad mode", (int)i);
        lua_Integer owner_uid = spec_integer(L, m, "owner_uid", -1);
        lua_Integer owner_gid = spec_integer(L, m, "owner_gid", owner_uid);
        if (owner_uid < -1 || owner_uid > UINT32_MAX - 2 || owner_gid < -1 || owner_gid > UINT32_MAX - 2)
            return luaL_error(L, "moonjail core: spec field 'mounts[%d].owner_uid' out of range", (int)i);
        int rc;
        if (kind == MJ_MOUNT_COW)
            rc = mj_config_add_overlay(cfg, src, spec_string(L, m, "upper", false), spec_string(L, m, "work", false),
                                       dst, err);
        else
            rc = mj_config_add_mount(cfg, kind, src, dst, (uint64_t)size, (unsigned)mode, err);
        if (rc == 0 && owner_uid >= 0)
            rc = mj_config_set_mount_owner(cfg, dst, (uid_t)owner_uid, (gid_t)(owner_gid < 0 ? owner_uid : owner_gid),
                                           err);
        lua_pop(L, 1);
        if (rc < 0) {
            lua_pop(L, 1);
            return -1;
        }
    }
    lua_pop(L, 1);
    return 0;
}

static const struct {
    const char *name;
    mj_rlimit_t which;
} rlimit_names[] = {
    {"nofile", MJ_RLIMIT_NOFILE}, {"nproc", MJ_RLIMIT_NPROC}, {"fsize", MJ_RLIMIT_FSIZE},
    {"core", MJ_RLIMIT_CORE},     {"cpu", MJ_RLIMIT_CPU},     {"as", MJ_RLIMIT_AS},
    {"stack", MJ_RLIMIT_STACK},
};

static int spec_rlimits(lua_State *L, int spec, mj_config_t *cfg, mj_error_t **err)
{
    if (spec_field(L, spec, "rlimits", LUA_TTABLE, true) == LUA_TNIL) {
        lua_pop(L, 1);
        return 0;
    }
    int tbl = lua_gettop(L);
    lua_pushnil(L);
    while (lua_next(L, tbl) != 0) {
        const char *key = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
        size_t k = 0, nk = sizeof rlimit_names / sizeof rlimit_names[0];
        while (key != NULL && k < nk && strcmp(rlimit_names[k].name, key) != 0)
            k++;
        if (key == NULL || k == nk)
            return luaL_error(L, "moonjail core: unknown rlimit '%s' in spec field 'rlimits'",
                              key ? key : "?");
        uint64_t value;
        if (lua_isinteger(L, -1)) {
            lua_Integer v = lua_tointeger(L, -1);
            value = v < 0 ? UINT64_MAX : (uint64_t)v;
        } else if (lua_type(L, -1) == LUA_TNUMBER && isinf(lua_tonumber(L, -1)) &&
                   lua_tonumber(L, -1) > 0) {
            value = UINT64_MAX;
        } else {
            return luaL_error(L, "moonjail core: spec field 'rlimits.%s' must be an integer "
                                 "(or math.huge / -1 for unlimited)", key);
        }
        if (mj_config_set_rlimit(cfg, rlimit_names[k].which, value, err) < 0) {
            lua_pop(L, 3);
            return -1;
        }
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    return 0;
}

static int spec_env(lua_State *L, int spec, mj_config_t *cfg, mj_error_t **err)
{
    if (spec_field(L, spec, "env", LUA_TTABLE, true) == LUA_TNIL) {
        lua_pop(L, 1);
        return 0;
    }
    int tbl = lua_gettop(L);
    mj_config_clear_env(cfg);
    lua_pushnil(L);
    while (lua_next(L, tbl) != 0) {
        if (lua_type(L, -2) != LUA_TSTRING || lua_type(L, -1) != LUA_TSTRING)
            return luaL_error(L, "moonjail core: spec field 'env' must map strings to strings");
        if (mj_config_set_env(cfg, lua_tostring(L, -2), lua_tostring(L, -1), err) < 0) {
            lua_pop(L, 3);
            return -1;
        }
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    return 0;
}

/* spec.seccomp = { profile = "default" | "unconfined", allow = {names}, deny = {names} } */
static int spec_seccomp(lua_State *L, int spec, mj_config_t *cfg, mj_error_t **err)
{
    if (spec_field(L, spec, "seccomp", LUA_TTABLE, true) == LUA_TNIL) {
        lua_pop(L, 1);
        return 0;
    }
    int sc = lua_gettop(L);
    const char *profile = spec_string(L, sc, "profile", true);
    int r = 0;
    if (spec_field(L, sc, "base", LUA_TTABLE, true) != LUA_TNIL) {
        int bt = lua_gettop(L);
        size_t n = (size_t)luaL_len(L, bt);
        const char **names = lua_newuserdatauv(L, (n ? n : 1) * sizeof(char *), 0); /* freed by the GC */
        for (size_t i = 0; i < n; i++) {
            lua_rawgeti(L, bt, (lua_Integer)i + 1);
            if (lua_type(L, -1) != LUA_TSTRING)
                return luaL_error(L, "moonjail core: spec field 'seccomp.base' must hold strings");
            names[i] = lua_tostring(L, -1);
            lua_pop(L, 1); /* the string stays alive in the table */
        }
        r = mj_config_seccomp_base(cfg, names, n, err);
        lua_pop(L, 1); /* userdata */
    } else {
        r = mj_config_set_seccomp(cfg, profile ? profile : "default", err);
    }
    lua_pop(L, 1); /* base or nil */
    if (r == 0)
        r = spec_paths(L, sc, "allow", cfg, err, mj_config_seccomp_allow);
    if (r == 0)
        r = spec_paths(L, sc, "deny", cfg, err, mj_config_seccomp_deny);
    lua_getfield(L, sc, "log");
    mj_config_set_seccomp_log(cfg, lua_toboolean(L, -1));
    lua_pop(L, 1);
    lua_pop(L, 1);
    return r;
}

static double limit_number(lua_State *L, int tbl, const char *key)
{
    lua_getfield(L, tbl, key);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        return 0;
    }
    if (!lua_isnumber(L, -1))
        luaL_error(L, "moonjail core: spec field 'limits.%s' must be a number", key);
    double v = lua_tonumber(L, -1);
    lua_pop(L, 1);
    if (!(v >= 0) || isinf(v))
        luaL_error(L, "moonjail core: spec field 'limits.%s' must be a finite number >= 0", key);
    return v;
}

static bool limit_flag(lua_State *L, int tbl, const char *key)
{
    lua_getfield(L, tbl, key);
    bool v = lua_toboolean(L, -1);
    lua_pop(L, 1);
    return v;
}

/* spec.limits = { memory, memory_request, cpus, cpu_request, pids, *_required } (cgroups) */
static int spec_limits(lua_State *L, int spec, mj_config_t *cfg, mj_error_t **err)
{
    if (spec_field(L, spec, "limits", LUA_TTABLE, true) == LUA_TNIL) {
        lua_pop(L, 1);
        return 0;
    }
    int t = lua_gettop(L);
    double memory = limit_number(L, t, "memory"), request = limit_number(L, t, "memory_request");
    double cpus = limit_number(L, t, "cpus"), cpu_request = limit_number(L, t, "cpu_request");
    double pids = limit_number(L, t, "pids");
    bool mreq = limit_flag(L, t, "memory_required"), creq = limit_flag(L, t, "cpus_required");
    bool preq = limit_flag(L, t, "pids_required");
    /* io = { { device = "/dev/vda", read_bps =, write_bps =, read_iops =, write_iops = }, … } */
    lua_getfield(L, t, "io");
    if (lua_istable(L, -1)) {
        int io = lua_gettop(L);
        bool ioreq = limit_flag(L, t, "io_required");
        for (lua_Integer i = 1; lua_rawgeti(L, io, i) == LUA_TTABLE; i++) {
            int e = lua_gettop(L);
            lua_getfield(L, e, "device");
            const char *dev = lua_tostring(L, -1);
            double v[4] = {limit_number(L, e, "read_bps"), limit_number(L, e, "write_bps"),
                           limit_number(L, e, "read_iops"), limit_number(L, e, "write_iops")};
            int r = mj_config_add_io_limit(cfg, dev, (uint64_t)v[0], (uint64_t)v[1], (uint64_t)v[2], (uint64_t)v[3],
                                           ioreq, err);
            lua_pop(L, 2);
            if (r < 0) {
                lua_pop(L, 2);
                return -1;
            }
        }
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    lua_pop(L, 1); /* the limits table */
    if (mj_config_set_memory_limit(cfg, (uint64_t)memory, mreq, err) < 0 ||
        mj_config_set_memory_request(cfg, (uint64_t)request, err) < 0 ||
        mj_config_set_cpu_limit(cfg, cpus, creq, err) < 0 || mj_config_set_cpu_request(cfg, cpu_request, err) < 0 ||
        mj_config_set_pids_limit(cfg, (uint64_t)pids, preq, err) < 0)
        return -1;
    return 0;
}

/* spec.landlock.tcp_bind / tcp_connect = {ports}: the direction is restricted to those ports
 * (an empty array restricts it to none). */
static int spec_tcp_ports(lua_State *L, int t, const char *field, const char *direction, mj_config_t *cfg,
                          mj_error_t **err)
{
    if (spec_field(L, t, field, LUA_TTABLE, true) == LUA_TNIL) {
        lua_pop(L, 1);
        return 0;
    }
    int arr = lua_gettop(L);
    int r = mj_config_landlock_allow_tcp(cfg, direction, -1, err);
    lua_Integer n = luaL_len(L, arr);
    for (lua_Integer i = 1; r == 0 && i <= n; i++) {
        lua_geti(L, arr, i);
        lua_Integer port = lua_isinteger(L, -1) ? lua_tointeger(L, -1) : -2;
        lua_pop(L, 1);
        if (port < 0 || port > 65535) {
            lua_pop(L, 1);
            return luaL_error(L, "moonjail core: spec field 'landlock.%s[%d]' must be a port (0-65535)", field, (int)i);
        }
        r = mj_config_landlock_allow_tcp(cfg, direction, (int)port, err);
    }
    lua_pop(L, 1);
    return r;
}

/* spec.landlock = { mode = "off" | "required" | "best_effort", write = {paths}, tcp_bind = {ports},
 * tcp_connect = {ports} } */
static int spec_landlock(lua_State *L, int spec, mj_config_t *cfg, mj_error_t **err)
{
    if (spec_field(L, spec, "landlock", LUA_TTABLE, true) == LUA_TNIL) {
        lua_pop(L, 1);
        return 0;
    }
    int t = lua_gettop(L);
    const char *mode = spec_string(L, t, "mode", true);
    mj_landlock_mode_t m = MJ_LANDLOCK_OFF;
    if (mode && strcmp(mode, "required") == 0)
        m = MJ_LANDLOCK_REQUIRED;
    else if (mode && strcmp(mode, "best_effort") == 0)
        m = MJ_LANDLOCK_BEST_EFFORT;
    else if (mode && strcmp(mode, "off") != 0)
        return luaL_error(L, "moonjail core: spec field 'landlock.mode' must be off, required or best_effort");
    int r = mj_config_set_landlock(cfg, m, err);
    if (r == 0)
        r = spec_paths(L, t, "write", cfg, err, mj_config_landlock_allow_write);
    if (r == 0)
        r = spec_tcp_ports(L, t, "tcp_bind", "bind", cfg, err);
    if (r == 0)
        r = spec_tcp_ports(L, t, "tcp_connect", "connect", cfg, err);
    lua_pop(L, 1);
    return r;
}

/* Fills cfg from the spec.  0, or -1 with *err set; raises on type errors. */
int mjl_spec_config(lua_State *L, int spec, mj_config_t *cfg, mj_error_t **err)
{
    const char *root = spec_string(L, spec, "root", true);
    if (root != NULL && mj_config_set_root(cfg, root, err) < 0)
        return -1;
    if (spec_host_paths(L, spec, cfg, err) < 0)
        return -1;
    mj_config_set_readonly_root(cfg, spec_bool(L, spec, "readonly_root", true));
    if (spec_mounts(L, spec, cfg, err) < 0)
        return -1;
    if (spec_paths(L, spec, "masked", cfg, err, mj_config_add_masked) < 0)
        return -1;
    if (spec_paths(L, spec, "readonly", cfg, err, mj_config_add_readonly) < 0)
        return -1;
    const char *hostname = spec_string(L, spec, "hostname", true);
    if (hostname != NULL && mj_config_set_hostname(cfg, hostname, err) < 0)
        return -1;

    lua_Integer uid = spec_integer(L, spec, "uid", -1), gid = spec_integer(L, spec, "gid", -1);
    if ((uid < 0) != (gid < 0) || uid > UINT32_MAX - 1 || gid > UINT32_MAX - 1)
        return luaL_error(L, "moonjail core: spec fields 'uid' and 'gid' go together and must "
                             "be valid ids");
    if (uid >= 0 && mj_config_set_user(cfg, (uid_t)uid, (gid_t)gid, err) < 0)
        return -1;

    const char *network = spec_string(L, spec, "network", true);
    if (network != NULL) {
        mj_network_mode_t mode;
        if (strcmp(network, "none") == 0)
            mode = MJ_NET_NONE;
        else if (strcmp(network, "host") == 0)
            mode = MJ_NET_HOST;
        else
            return luaL_error(L, "moonjail core: spec field 'network' must be \"none\" or "
                                 "\"host\"");
        if (mj_config_set_network(cfg, mode, err) < 0)
            return -1;
    }
    if (spec_rlimits(L, spec, cfg, err) < 0)
        return -1;
    if (spec_paths(L, spec, "capabilities", cfg, err, mj_config_add_capability) < 0)
        return -1;
    if (spec_seccomp(L, spec, cfg, err) < 0)
        return -1;
    if (spec_limits(L, spec, cfg, err) < 0)
        return -1;
    if (spec_landlock(L, spec, cfg, err) < 0)
        return -1;
    const char *apparmor = spec_string(L, spec, "apparmor", true);
    if (apparmor != NULL && mj_config_set_apparmor(cfg, apparmor, err) < 0)
        return -1;
    const char *selinux = spec_string(L, spec, "selinux", true);
    if (selinux != NULL && mj_config_set_selinux(cfg, selinux, err) < 0)
        return -1;
    if (spec_env(L, spec, cfg, err) < 0)
        return -1;
    const char *workdir = spec_string(L, spec, "workdir", true);
    if (workdir != NULL && mj_config_set_workdir(cfg, workdir, err) < 0)
        return -1;
    if (spec_field(L, spec, "cleanup_delay", LUA_TNUMBER, true) != LUA_TNIL) {
        double d = lua_tonumber(L, -1);
        if (!(d >= 0) || isinf(d))
            return luaL_error(L, "moonjail core: spec field 'cleanup_delay' must be a finite number >= 0");
        mj_config_set_cleanup_delay(cfg, d);
    }
    lua_pop(L, 1);
    return 0;
}

/* The per-command env, workdir and ids of a command in a persistent sandbox (a one-shot run
 * puts them in its config instead).  0, or -1 with *err set; raises on type errors. */
static int spec_command_context(lua_State *L, int spec, mj_command_t *cmd, mj_error_t **err)
{
    if (spec_field(L, spec, "env", LUA_TTABLE, true) != LUA_TNIL) {
        int tbl = lua_gettop(L);
        lua_pushnil(L);
        while (lua_next(L, tbl) != 0) {
            if (lua_type(L, -2) != LUA_TSTRING || lua_type(L, -1) != LUA_TSTRING)
                return luaL_error(L, "moonjail core: spec field 'env' must map strings to strings");
            if (mj_command_set_env(cmd, lua_tostring(L, -2), lua_tostring(L, -1), err) < 0) {
                lua_pop(L, 3);
                return -1;
            }
            lua_pop(L, 1);
        }
    }
    lua_pop(L, 1);
    const char *workdir = spec_string(L, spec, "workdir", true);
    if (workdir != NULL && mj_command_set_workdir(cmd, workdir, err) < 0)
        return -1;
    lua_Integer uid = spec_integer(L, spec, "uid", -1), gid = spec_integer(L, spec, "gid", -1);
    if ((uid < 0) != (gid < 0) || uid > UINT32_MAX - 1 || gid > UINT32_MAX - 1)
        return luaL_error(L, "moonjail core: spec fields 'uid' and 'gid' go together and must "
                             "be valid ids");
    if (spec_field(L, spec, "read_only", LUA_TBOOLEAN, true) != LUA_TNIL)
        mj_command_set_read_only(cmd, lua_toboolean(L, -1));
    lua_pop(L, 1);
    if (spec_field(L, spec, "no_network", LUA_TBOOLEAN, true) != LUA_TNIL)
        mj_command_set_no_network(cmd, lua_toboolean(L, -1));
    lua_pop(L, 1);
    if (spec_field(L, spec, "tty", LUA_TBOOLEAN, true) != LUA_TNIL)
        mj_command_set_tty(cmd, lua_toboolean(L, -1));
    lua_pop(L, 1);
    if (uid >= 0 && mj_command_set_user(cmd, (uid_t)uid, (gid_t)gid, err) < 0)
        return -1;
    return 0;
}

/* Fills cmd from the spec.  0, or -1 with *err set; raises on type errors. */
int mjl_spec_command(lua_State *L, int spec, mj_command_t *cmd, bool own_context, mj_error_t **err)
{
    spec_field(L, spec, "argv", LUA_TTABLE, false);
    lua_Integer argc = luaL_len(L, -1);
    if (argc < 1)
        return luaL_error(L, "moonjail core: spec field 'argv' must not be empty");
    /* The pointer array is a userdata, so an error below frees it with everything else. */
    const char **argv = lua_newuserdatauv(L, (size_t)argc * sizeof *argv, 0);
    lua_insert(L, -2);
    for (lua_Integer i = 1; i <= argc; i++)
        argv[i - 1] = array_string(L, "argv", i);
    int rc = mj_command_set_argv(cmd, (size_t)argc, argv, err);
    lua_pop(L, 2);
    if (rc < 0)
        return -1;

    if (spec_field(L, spec, "stdin", LUA_TSTRING, true) != LUA_TNIL) {
        size_t len;
        const char *data = lua_tolstring(L, -1, &len);
        if (mj_command_set_stdin(cmd, data, len, err) < 0) {
            lua_pop(L, 1);
            return -1;
        }
    }
    lua_pop(L, 1);

    lua_Integer fd = spec_integer(L, spec, "stdin_fd", -1);
    if (fd >= 0) {
        if (fd > INT32_MAX)
            return luaL_error(L, "moonjail core: spec field 'stdin_fd' is not a valid fd");
        mj_command_set_stdin_fd(cmd, (int)fd);
    }
    if (spec_field(L, spec, "tty", LUA_TBOOLEAN, true) != LUA_TNIL)
        mj_command_set_tty(cmd, lua_toboolean(L, -1));
    lua_pop(L, 1);

    if (spec_field(L, spec, "timeout", LUA_TNUMBER, true) != LUA_TNIL) {
        double t = lua_tonumber(L, -1);
        if (!(t >= 0) || isinf(t))
            return luaL_error(L, "moonjail core: spec field 'timeout' must be a finite number "
                                 ">= 0");
        mj_command_set_timeout(cmd, t);
    }
    lua_pop(L, 1);

    lua_Integer limit = spec_integer(L, spec, "output_limit", 0);
    if (limit < 0)
        return luaL_error(L, "moonjail core: spec field 'output_limit' must be >= 0");
    if (limit > 0)
        mj_command_set_output_limit(cmd, (uint64_t)limit);

    if (spec_bool(L, spec, "tee", false))
        mj_command_set_tee(cmd, 1, 2);
    mj_command_set_forward_signals(cmd, spec_bool(L, spec, "forward_signals", false));
    return own_context ? spec_command_context(L, spec, cmd, err) : 0;
}

static void set_lstring(lua_State *L, const char *field, const char *s, size_t len)
{
    lua_pushlstring(L, s ? s : "", s ? len : 0);
    lua_setfield(L, -2, field);
}

void mjl_push_result(lua_State *L, const mj_result_t *r)
{
    size_t len;
    const char *s;
    lua_createtable(L, 0, 16);
    mjl_set_int(L, "exit_code", mj_result_exit_code(r));
    mjl_set_bool(L, "success", mj_result_success(r));
    mjl_set_int(L, "signal", mj_result_signal(r));
    s = mj_result_stdout(r, &len);
    set_lstring(L, "stdout", s, len);
    s = mj_result_stderr(r, &len);
    set_lstring(L, "stderr", s, len);
    s = mj_result_combined(r, &len);
    set_lstring(L, "combined", s, len);
    mjl_set_num(L, "start_time", mj_result_start_time(r));
    mjl_set_num(L, "end_time", mj_result_end_time(r));
    mjl_set_num(L, "duration", mj_result_duration(r));
    const char *ended_by = mj_end_reason_name(mj_result_ended_by(r));
    lua_pushstring(L, ended_by ? ended_by : "exit");
    lua_setfield(L, -2, "ended_by");
    mjl_set_int(L, "process_id", (lua_Integer)mj_result_pid(r));
    mjl_set_bool(L, "output_truncated", mj_result_output_truncated(r));

    size_t nwarn = mj_result_warning_count(r);
    lua_createtable(L, (int)nwarn, 0);
    for (size_t i = 0; i < nwarn; i++) {
        const char *w = mj_result_warning(r, i);
        lua_pushstring(L, w ? w : "");
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    lua_setfield(L, -2, "warnings");

    if (mj_result_denials_total(r) > 0) { /* one-shot runs with seccomp logging */
        size_t nd = mj_result_denial_count(r);
        lua_createtable(L, (int)nd, 0);
        for (size_t i = 0; i < nd; i++) {
            const mj_denial_t *d = mj_result_denial(r, i);
            lua_createtable(L, 0, 2);
            lua_pushstring(L, d->syscall);
            lua_setfield(L, -2, "syscall");
            mjl_set_int(L, "pid", d->pid);
            lua_rawseti(L, -2, (lua_Integer)i + 1);
        }
        lua_setfield(L, -2, "denials");
        mjl_set_int(L, "denials_total", mjl_clamp_u64(mj_result_denials_total(r)));
    }

    lua_createtable(L, 0, 2);
    mjl_set_num(L, "cpu_time", mj_result_cpu_time(r));
    mjl_set_int(L, "memory_peak", mjl_clamp_u64(mj_result_memory_peak(r)));
    if (mj_result_cpu_periods(r) > 0) { /* under a CPU limit: the kernel's CFS quota accounting */
        mjl_set_int(L, "cpu_periods", mjl_clamp_u64(mj_result_cpu_periods(r)));
        mjl_set_int(L, "cpu_throttled_periods", mjl_clamp_u64(mj_result_cpu_throttled(r)));
    }
    lua_setfield(L, -2, "resource_usage");
}

/* core.run(spec) -> result | nil, err.  See docs/lua-api.md for the spec contract. */
static int core_run(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);

    /* The box exists before any handle does, and is closed on return or on any error. */
    mjl_box_t *box = mjl_new_box(L);

    box->cfg = mj_config_new();
    box->cmd = mj_command_new();
    if (box->cfg == NULL || box->cmd == NULL)
        return luaL_error(L, "moonjail core.run: out of memory");

    if (mjl_spec_config(L, 1, box->cfg, &box->err) == 0 &&
        mjl_spec_command(L, 1, box->cmd, false, &box->err) == 0)
        mj_run(box->cfg, box->cmd, &box->res, &box->err);

    if (box->res != NULL) {
        mjl_push_result(L, box->res);
        return 1;
    }
    return mjl_fail(L, box->err, "Sandbox initialization failed: no result");
}

/* ---------------------------------------------------------------- small helpers */

/* core.policy_source(name) -> text | nil */
static int core_policy_source(lua_State *L)
{
    size_t len = 0;
    const char *src = mjl_policy_source(luaL_checkstring(L, 1), &len);
    if (src == NULL)
        lua_pushnil(L);
    else
        lua_pushlstring(L, src, len);
    return 1;
}

/* core.policy_names() -> array of embedded policy names */
static int core_policy_names(lua_State *L)
{
    const char *const *names = mjl_policy_names();
    lua_newtable(L);
    for (lua_Integer i = 0; names != NULL && names[i] != NULL; i++) {
        lua_pushstring(L, names[i]);
        lua_rawseti(L, -2, i + 1);
    }
    return 1;
}

static int core_version(lua_State *L)
{
    lua_pushstring(L, mj_version());
    return 1;
}

/* core.codes() -> array of error code names */
static int core_codes(lua_State *L)
{
    push_codes(L);
    return 1;
}

/* core.path_kind(path) -> "file" | "directory" | "other" | nil, strerror  (follows symlinks) */
static int core_path_kind(lua_State *L)
{
    struct stat st;
    if (stat(luaL_checkstring(L, 1), &st) < 0) {
        int saved = errno;
        lua_pushnil(L);
        lua_pushstring(L, strerror(saved));
        lua_pushinteger(L, saved);
        return 3;
    }
    lua_pushstring(L, S_ISREG(st.st_mode) ? "file" : S_ISDIR(st.st_mode) ? "directory" : "other");
    return 1;
}

static int push_errno(lua_State *L, const char *what, const char *path)
{
    int saved = errno;
    lua_pushnil(L);
    lua_pushfstring(L, "%s %s: %s", what, path, strerror(saved));
    lua_pushinteger(L, saved);
    return 3;
}

/* core.mkdir_private(path [, mode=0700]) -> true | nil, msg: a directory only we own and can
 * write.  An existing one must be a real directory (not a symlink) owned by the caller and not
 * writable by group or others, so nobody else can plant files in our working trees. */
static int core_mkdir_private(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    lua_Integer mode = luaL_optinteger(L, 2, 0700);
    if (mode < 0 || mode > 0777)
        return luaL_argerror(L, 2, "a mode between 0 and 0777 expected");
    if (mkdir(path, (mode_t)mode) < 0 && errno != EEXIST)
        return push_errno(L, "creating", path);
    struct stat st;
    if (lstat(path, &st) < 0)
        return push_errno(L, "checking", path);
    if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 022)) {
        lua_pushnil(L);
        lua_pushfstring(L, "%s is not a private directory of uid %d (a directory owned by it, not writable by "
                           "others); remove it or point MOONJAIL_WORK_DIR elsewhere", path, (int)geteuid());
        return 2;
    }
    lua_pushboolean(L, 1);
    return 1;
}

/* core.chmod(path, mode) -> true | nil, msg  (never follows a symlink) */
static int core_chmod(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    lua_Integer mode = luaL_checkinteger(L, 2);
    if (mode < 0 || mode > 07777)
        return luaL_argerror(L, 2, "a mode between 0 and 07777 expected");
    int fd = open(path, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    char proc[64];
    snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
    int rc = fd < 0 ? -1 : chmod(proc, (mode_t)mode);
    int saved = errno;
    if (fd >= 0)
        close(fd);
    errno = saved;
    if (rc < 0)
        return push_errno(L, "chmod", path);
    lua_pushboolean(L, 1);
    return 1;
}

/* core.realpath(path) -> the canonical absolute path (symlinks resolved) | nil, msg */
static int core_realpath(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    char *r = realpath(path, NULL);
    if (!r)
        return push_errno(L, "resolving", path);
    lua_pushstring(L, r);
    free(r);
    return 1;
}

/* core.lstat_type(path) -> "file" | "directory" | "symlink" | "other" | nil (missing), msg */
static int core_lstat_type(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    struct stat st;
    if (lstat(path, &st) < 0)
        return push_errno(L, "checking", path);
    lua_pushstring(L, S_ISREG(st.st_mode)   ? "file"
                      : S_ISDIR(st.st_mode) ? "directory"
                      : S_ISLNK(st.st_mode) ? "symlink"
                                            : "other");
    return 1;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* core.list_dir(path) -> sorted array of names (no "." or "..") | nil, msg  (one level) */
static int core_list_dir(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    DIR *d = fd < 0 ? NULL : fdopendir(fd);
    if (!d) {
        int saved = errno;
        if (fd >= 0)
            close(fd);
        errno = saved;
        return push_errno(L, "listing", path);
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL && n < 100000) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 32;
            char **grown = realloc(names, cap * sizeof(*names));
            if (!grown)
                break;
            names = grown;
        }
        names[n] = strdup(e->d_name);
        if (names[n])
            n++;
    }
    closedir(d);
    qsort(names, n, sizeof(*names), cmp_str);
    lua_createtable(L, (int)n, 0); /* (out of memory here leaks the names; Lua is done for then) */
    for (size_t i = 0; i < n; i++) {
        lua_pushstring(L, names[i]);
        free(names[i]);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    free(names);
    return 1;
}

/* core.process_start([pid]) -> pid, start time (clock ticks since boot, a string) | nil (no such
 * process, or a zombie): who a pid is, so a recycled pid is not taken for the process that wrote
 * it down. */
static int core_process_start(lua_State *L)
{
    lua_Integer pid = luaL_optinteger(L, 1, (lua_Integer)getpid());
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%lld/stat", (long long)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t r = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);
    if (fd >= 0)
        close(fd);
    if (r <= 0) {
        lua_pushnil(L);
        return 1;
    }
    buf[r] = '\0';
    const char *p = strrchr(buf, ')'); /* comm may hold spaces and parentheses */
    if (p && (p[2] == 'Z' || p[2] == 'X')) { /* a zombie has finished */
        lua_pushnil(L);
        return 1;
    }
    for (int field = 2; p && field < 22; field++)
        p = strchr(p + 1, ' ');
    if (!p) {
        lua_pushnil(L);
        return 1;
    }
    lua_pushinteger(L, pid);
    lua_pushlstring(L, p + 1, strcspn(p + 1, " "));
    return 2;
}

/* core.euid() -> the effective uid (decides where working trees go, root or rootless) */
static int core_euid(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)geteuid());
    return 1;
}

/* core.sleep(seconds): for the CLI's refresh loops (stats); Lua has no sleep of its own. */
static int core_sleep(lua_State *L)
{
    double s = luaL_checknumber(L, 1);
    if (!(s >= 0) || isinf(s))
        return luaL_argerror(L, 1, "a finite number >= 0 expected");
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
    return 0;
}

/* core.now() -> epoch seconds (float) */
static int core_now(lua_State *L)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    lua_pushnumber(L, (double)ts.tv_sec + (double)ts.tv_nsec / 1e9);
    return 1;
}

/* core.doctor() -> array of { name, status = "ok"|"missing"|"info", detail, fix } */
static int core_doctor(lua_State *L)
{
    mj_check_t *checks = NULL;
    size_t n = 0;
    mj_doctor(&checks, &n);
    lua_createtable(L, (int)n, 0);
    for (size_t i = 0; i < n; i++) {
        lua_createtable(L, 0, 4);
        lua_pushstring(L, checks[i].name);
        lua_setfield(L, -2, "name");
        lua_pushstring(L, checks[i].status == 1 ? "ok" : checks[i].status == 0 ? "missing" : "info");
        lua_setfield(L, -2, "status");
        lua_pushstring(L, checks[i].detail);
        lua_setfield(L, -2, "detail");
        if (checks[i].fix[0]) {
            lua_pushstring(L, checks[i].fix);
            lua_setfield(L, -2, "fix");
        }
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    free(checks);
    return 1;
}

/* core.syscall_known(name) -> boolean */
static int core_syscall_known(lua_State *L)
{
    lua_pushboolean(L, mj_seccomp_syscall_known(luaL_checkstring(L, 1)));
    return 1;
}

static const luaL_Reg core_funcs[] = {
    {"syscall_known", core_syscall_known},
    {"doctor", core_doctor},
    {"sleep", core_sleep},
    {"now", core_now},
    {"run", core_run},
    {"error", core_error},
    {"codes", core_codes},
    {"policy_source", core_policy_source},
    {"policy_names", core_policy_names},
    {"version", core_version},
    {"path_kind", core_path_kind},
    {"mkdir_private", core_mkdir_private},
    {"chmod", core_chmod},
    {"euid", core_euid},
    {"realpath", core_realpath},
    {"list_dir", core_list_dir},
    {"process_start", core_process_start},
    {"lstat_type", core_lstat_type},
    {NULL, NULL},
};

int luaopen_moonjail(lua_State *L)
{
    mjl_install_searcher(L); /* idempotent */

    if (luaL_newmetatable(L, MJL_ERROR_MT)) {
        lua_pushcfunction(L, error_tostring);
        lua_setfield(L, -2, "__tostring");
    }
    lua_pop(L, 1);
    if (luaL_newmetatable(L, MJL_BOX_MT)) {
        lua_pushcfunction(L, box_release);
        lua_setfield(L, -2, "__gc");
        lua_pushcfunction(L, box_release);
        lua_setfield(L, -2, "__close");
    }
    lua_pop(L, 1);

    lua_getglobal(L, "require");
    lua_pushliteral(L, "moonjail.api");
    lua_call(L, 1, 1);
    if (!lua_isfunction(L, -1))
        return luaL_error(L, "moonjail: module 'moonjail.api' must return a function");

    luaL_newlib(L, core_funcs);
    luaL_getmetatable(L, MJL_ERROR_MT);
    lua_setfield(L, -2, "error_mt");
    mjl_sandbox_register(L); /* core.sandbox, core.open, core.list, the Sandbox and Process types */
    mjl_tree_register(L);    /* core.fetch, core.unpack, core.walk, … (repositories) */
    mjl_image_register(L);   /* core.image = package.loaded["moonjail.imagecore"] (limage.c) */
    lua_call(L, 1, 1);
    return 1;
}

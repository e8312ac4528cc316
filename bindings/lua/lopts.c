/* lopts.c — a resolved spec table → mj_config_t / mj_command_t (see lopts.h).
 *
 * Owns: reading and type-checking the spec fields of docs/lua-api.md ("The core.run contract"),
 * in the order the table config_rules gives, and their mapping onto the mj_config_* and
 * mj_command_* setters.
 * Must never: own a handle (the caller's box does), keep a pointer into a Lua string past the
 * setter that copies it, or take a default or decide policy: api.lua has resolved the spec.
 * Misuse (a field of the wrong type or out of range) raises naming the field; a setter's failure
 * returns -1 with *err set.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "largs.h"
#include "lopts.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* ---------------------------------------------------------------- reading fields */

/* Raises a type error naming the spec field (the value is on top of the stack). */
static int spec_type_error(lua_State *L, const char *field, const char *expected)
{
    return luaL_error(L, "moonjail core: spec field '%s' must be %s (got %s)", field, expected,
                      luaL_typename(L, -1));
}

/* Pushes spec[field]; raises unless it has the given type (nil allowed when optional). */
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
    const char *s = mjl_tocstring(L, -1, field);
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

/* Seconds in spec[field] (a finite number >= 0): true and *out, or false when absent. */
static bool spec_seconds(lua_State *L, int spec, const char *field, double *out)
{
    bool present = spec_field(L, spec, field, LUA_TNUMBER, true) != LUA_TNIL;
    if (present) {
        *out = lua_tonumber(L, -1);
        if (!(*out >= 0) || isinf(*out))
            luaL_error(L, "moonjail core: spec field '%s' must be a finite number >= 0", field);
    }
    lua_pop(L, 1);
    return present;
}

/* spec.uid and spec.gid, which go together: *uid is -1 when both are absent. */
static void spec_ids(lua_State *L, int spec, lua_Integer *uid, lua_Integer *gid)
{
    *uid = spec_integer(L, spec, "uid", -1);
    *gid = spec_integer(L, spec, "gid", -1);
    if ((*uid < 0) != (*gid < 0) || *uid > UINT32_MAX - 1 || *gid > UINT32_MAX - 1)
        luaL_error(L, "moonjail core: spec fields 'uid' and 'gid' go together and must "
                      "be valid ids");
}

/* The element i of the array at index arr must be a string; returns it (borrowed from the array). */
static const char *array_string(lua_State *L, int arr, const char *field, lua_Integer i)
{
    if (lua_geti(L, arr, i) != LUA_TSTRING)
        luaL_error(L, "moonjail core: spec field '%s[%d]' must be a string (got %s)", field,
                   (int)i, luaL_typename(L, -1));
    const char *s = mjl_tocstring(L, -1, field);
    lua_pop(L, 1);
    return s;
}

/* lua_next over the env table at tbl, raising unless the pair is string → string. */
static int env_next(lua_State *L, int tbl)
{
    if (lua_next(L, tbl) == 0)
        return 0;
    if (lua_type(L, -2) != LUA_TSTRING || lua_type(L, -1) != LUA_TSTRING)
        luaL_error(L, "moonjail core: spec field 'env' must map strings to strings");
    mjl_tocstring(L, -2, "env");
    mjl_tocstring(L, -1, "env");
    return 1;
}

/* ---------------------------------------------------------------- the config's rules */

struct spec_rule;
typedef int (*set_string_fn)(mj_config_t *cfg, const char *s, mj_error_t **err);
/* Applies the rule to the table at index t: its own table (RULE_TABLE), or the table that holds
 * the field (RULE_CUSTOM). */
typedef int (*apply_fn)(lua_State *L, int t, const struct spec_rule *r, mj_config_t *cfg, mj_error_t **err);
/* One element (a table, at index entry) of an array field: the i-th. */
typedef int (*entry_fn)(lua_State *L, int entry, lua_Integer i, mj_config_t *cfg, mj_error_t **err);

enum rule_kind {
    RULE_STRING,  /* optional string: set(cfg, s) */
    RULE_STRINGS, /* optional array of strings: set(cfg, s) for each */
    RULE_ENTRIES, /* optional array of tables: entry(…) for each */
    RULE_TABLE,   /* optional table: apply(the table) */
    RULE_NESTED,  /* optional table: the rules sub, applied to it */
    RULE_CUSTOM,  /* apply(the enclosing table), which reads the field itself */
};

/* A list of rules ends with one whose field is NULL. */
struct spec_rule {
    const char *field;
    enum rule_kind kind;
    union {
        set_string_fn set;
        entry_fn entry;
        apply_fn apply;
        const struct spec_rule *sub;
    };
    const char *arg; /* what apply needs besides the field (landlock.tcp_*: the direction) */
};

static int apply_rules(lua_State *L, int t, const struct spec_rule *rules, mj_config_t *cfg, mj_error_t **err);

/* The one loop over array fields: each element of the array at arr, by the rule's kind. */
static int each_element(lua_State *L, int arr, const struct spec_rule *r, mj_config_t *cfg, mj_error_t **err)
{
    lua_Integer n = luaL_len(L, arr);
    for (lua_Integer i = 1; i <= n; i++) {
        int rc;
        if (r->kind == RULE_STRINGS) {
            rc = r->set(cfg, array_string(L, arr, r->field, i), err);
        } else {
            lua_geti(L, arr, i);
            if (!lua_istable(L, -1))
                luaL_error(L, "moonjail core: spec field '%s[%d]' must be a table", r->field, (int)i);
            rc = r->entry(L, lua_gettop(L), i, cfg, err);
            lua_settop(L, arr);
        }
        if (rc < 0)
            return -1;
    }
    return 0;
}

static int apply_rule(lua_State *L, int t, const struct spec_rule *r, mj_config_t *cfg, mj_error_t **err)
{
    if (r->kind == RULE_CUSTOM)
        return r->apply(L, t, r, cfg, err);
    if (r->kind == RULE_STRING) {
        const char *s = spec_string(L, t, r->field, true);
        return s != NULL ? r->set(cfg, s, err) : 0;
    }
    if (spec_field(L, t, r->field, LUA_TTABLE, true) == LUA_TNIL) {
        lua_pop(L, 1);
        return 0;
    }
    int sub = lua_gettop(L);
    int rc = r->kind == RULE_TABLE    ? r->apply(L, sub, r, cfg, err)
             : r->kind == RULE_NESTED ? apply_rules(L, sub, r->sub, cfg, err)
                                      : each_element(L, sub, r, cfg, err);
    lua_settop(L, sub - 1);
    return rc;
}

/* Applies the rules in order to the table at t; stops at the first failure. */
static int apply_rules(lua_State *L, int t, const struct spec_rule *rules, mj_config_t *cfg, mj_error_t **err)
{
    for (const struct spec_rule *r = rules; r->field != NULL; r++)
        if (apply_rule(L, t, r, cfg, err) < 0)
            return -1;
    return 0;
}

/* spec.host_paths[i] = { path =, required = bool } */
static int host_path_entry(lua_State *L, int e, lua_Integer i, mj_config_t *cfg, mj_error_t **err)
{
    (void)i;
    const char *path = spec_string(L, e, "path", false);
    bool required = spec_bool(L, e, "required", false);
    return mj_config_add_host_path(cfg, path, required, err);
}

/* spec.mounts[i] = { kind =, src =, dst =, size =, mode =, owner_uid =, owner_gid =, upper =, work = } */
static int mount_entry(lua_State *L, int m, lua_Integer i, mj_config_t *cfg, mj_error_t **err)
{
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
    return rc;
}

static int readonly_root(lua_State *L, int spec, const struct spec_rule *r, mj_config_t *cfg, mj_error_t **err)
{
    (void)err;
    mj_config_set_readonly_root(cfg, spec_bool(L, spec, r->field, true));
    return 0;
}

static int user(lua_State *L, int spec, const struct spec_rule *r, mj_config_t *cfg, mj_error_t **err)
{
    (void)r;
    lua_Integer uid, gid;
    spec_ids(L, spec, &uid, &gid);
    return uid >= 0 ? mj_config_set_user(cfg, (uid_t)uid, (gid_t)gid, err) : 0;
}

static int network(lua_State *L, int spec, const struct spec_rule *r, mj_config_t *cfg, mj_error_t **err)
{
    const char *name = spec_string(L, spec, r->field, true);
    if (name == NULL)
        return 0;
    mj_network_mode_t mode;
    if (strcmp(name, "none") == 0)
        mode = MJ_NET_NONE;
    else if (strcmp(name, "host") == 0)
        mode = MJ_NET_HOST;
    else if (strcmp(name, "outbound") == 0)
        mode = MJ_NET_OUTBOUND;
    else if (strcmp(name, "filtered") == 0)
        mode = MJ_NET_FILTERED;
    else
        return luaL_error(L, "moonjail core: spec field 'network' must be \"none\", \"host\", \"outbound\" "
                             "or \"filtered\"");
    return mj_config_set_network(cfg, mode, err);
}

static const struct {
    const char *name;
    mj_rlimit_t which;
} rlimit_names[] = {
    {"nofile", MJ_RLIMIT_NOFILE}, {"nproc", MJ_RLIMIT_NPROC}, {"fsize", MJ_RLIMIT_FSIZE},
    {"core", MJ_RLIMIT_CORE},     {"cpu", MJ_RLIMIT_CPU},     {"as", MJ_RLIMIT_AS},
    {"stack", MJ_RLIMIT_STACK},
};

/* spec.rlimits = { nofile = n, … }: an integer, or -1 / math.huge for unlimited */
static int rlimits(lua_State *L, int tbl, const struct spec_rule *r, mj_config_t *cfg, mj_error_t **err)
{
    (void)r;
    lua_pushnil(L);
    while (lua_next(L, tbl) != 0) {
        const char *key = lua_type(L, -2) == LUA_TSTRING ? mjl_tocstring(L, -2, "rlimits") : NULL;
        size_t k = 0, nk = ARRAY_LEN(rlimit_names);
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
        if (mj_config_set_rlimit(cfg, rlimit_names[k].which, value, err) < 0)
            return -1;
        lua_pop(L, 1);
    }
    return 0;
}

/* spec.seccomp.profile / .base: an imported profile's names replace the default allow-list. */
static int seccomp_base(lua_State *L, int sc, const struct spec_rule *r, mj_config_t *cfg, mj_error_t **err)
{
    (void)r;
    const char *profile = spec_string(L, sc, "profile", true);
    if (spec_field(L, sc, "base", LUA_TTABLE, true) == LUA_TNIL) {
        lua_pop(L, 1);
        return mj_config_set_seccomp(cfg, profile ? profile : "default", err);
    }
    int bt = lua_gettop(L);
    size_t n = (size_t)luaL_len(L, bt);
    const char **names = lua_newuserdatauv(L, (n ? n : 1) * sizeof(char *), 0); /* freed by the GC */
    for (size_t i = 0; i < n; i++) {
        lua_rawgeti(L, bt, (lua_Integer)i + 1);
        if (lua_type(L, -1) != LUA_TSTRING)
            return luaL_error(L, "moonjail core: spec field 'seccomp.base' must hold strings");
        names[i] = mjl_tocstring(L, -1, "seccomp.base");
        lua_pop(L, 1); /* the string stays alive in the table */
    }
    int rc = mj_config_seccomp_base(cfg, names, n, err);
    lua_settop(L, bt - 1);
    return rc;
}

static int seccomp_log(lua_State *L, int sc, const struct spec_rule *r, mj_config_t *cfg, mj_error_t **err)
{
    (void)err;
    lua_getfield(L, sc, r->field);
    mj_config_set_seccomp_log(cfg, lua_toboolean(L, -1));
    lua_pop(L, 1);
    return 0;
}

/* spec.seccomp = { profile = "default" | "unconfined", base = {names}, allow = {names},
 * deny = {names}, log = bool } */
static const struct spec_rule seccomp_rules[] = {
    {"profile", RULE_CUSTOM, .apply = seccomp_base},
    {"allow", RULE_STRINGS, .set = mj_config_seccomp_allow},
    {"deny", RULE_STRINGS, .set = mj_config_seccomp_deny},
    {"log", RULE_CUSTOM, .apply = seccomp_log},
    {.field = NULL},
};

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

/* spec.limits = { memory, memory_request, cpus, cpu_request, pids, io, *_required } (cgroups) */
static int limits(lua_State *L, int t, const struct spec_rule *r, mj_config_t *cfg, mj_error_t **err)
{
    (void)r;
    double memory = limit_number(L, t, "memory"), request = limit_number(L, t, "memory_request");
    double cpus = limit_number(L, t, "cpus"), cpu_request = limit_number(L, t, "cpu_request");
    double pids = limit_number(L, t, "pids");
    bool mreq = limit_flag(L, t, "memory_required"), creq = limit_flag(L, t, "cpus_required");
    bool preq = limit_flag(L, t, "pids_required");
    /* io = { { device = "/dev/vda", read_bps =, write_bps =, read_iops =, write_iops = }, … },
     * up to the first element that is not a table */
    lua_getfield(L, t, "io");
    if (lua_istable(L, -1)) {
        int io = lua_gettop(L);
        bool ioreq = limit_flag(L, t, "io_required");
        for (lua_Integer i = 1; lua_rawgeti(L, io, i) == LUA_TTABLE; i++) {
            int e = lua_gettop(L);
            const char *dev = lua_getfield(L, e, "device") == LUA_TNIL ? NULL : mjl_tocstring(L, -1, "limits.io.device");
            double v[4] = {limit_number(L, e, "read_bps"), limit_number(L, e, "write_bps"),
                           limit_number(L, e, "read_iops"), limit_number(L, e, "write_iops")};
            int rc = mj_config_add_io_limit(cfg, dev, (uint64_t)v[0], (uint64_t)v[1], (uint64_t)v[2], (uint64_t)v[3],
                                            ioreq, err);
            if (rc < 0)
                return -1;
            lua_settop(L, io);
        }
    }
    lua_settop(L, t);
    if (mj_config_set_memory_limit(cfg, (uint64_t)memory, mreq, err) < 0 ||
        mj_config_set_memory_request(cfg, (uint64_t)request, err) < 0 ||
        mj_config_set_cpu_limit(cfg, cpus, creq, err) < 0 || mj_config_set_cpu_request(cfg, cpu_request, err) < 0 ||
        mj_config_set_pids_limit(cfg, (uint64_t)pids, preq, err) < 0)
        return -1;
    return 0;
}

static int landlock_mode(lua_State *L, int t, const struct spec_rule *r, mj_config_t *cfg, mj_error_t **err)
{
    const char *mode = spec_string(L, t, r->field, true);
    mj_landlock_mode_t m = MJ_LANDLOCK_OFF;
    if (mode && strcmp(mode, "required") == 0)
        m = MJ_LANDLOCK_REQUIRED;
    else if (mode && strcmp(mode, "best_effort") == 0)
        m = MJ_LANDLOCK_BEST_EFFORT;
    else if (mode && strcmp(mode, "off") != 0)
        return luaL_error(L, "moonjail core: spec field 'landlock.mode' must be off, required or best_effort");
    return mj_config_set_landlock(cfg, m, err);
}

/* spec.landlock.tcp_bind / tcp_connect = {ports}: the direction (r->arg) is restricted to those
 * ports (an empty array restricts it to none). */
static int tcp_ports(lua_State *L, int arr, const struct spec_rule *r, mj_config_t *cfg, mj_error_t **err)
{
    int rc = mj_config_landlock_allow_tcp(cfg, r->arg, -1, err);
    lua_Integer n = luaL_len(L, arr);
    for (lua_Integer i = 1; rc == 0 && i <= n; i++) {
        lua_geti(L, arr, i);
        lua_Integer port = lua_isinteger(L, -1) ? lua_tointeger(L, -1) : -2;
        lua_pop(L, 1);
        if (port < 0 || port > 65535)
            return luaL_error(L, "moonjail core: spec field 'landlock.%s[%d]' must be a port (0-65535)", r->field,
                              (int)i);
        rc = mj_config_landlock_allow_tcp(cfg, r->arg, (int)port, err);
    }
    return rc;
}

/* spec.landlock = { mode = "off" | "required" | "best_effort", write = {paths}, tcp_bind = {ports},
 * tcp_connect = {ports} } */
static const struct spec_rule landlock_rules[] = {
    {"mode", RULE_CUSTOM, .apply = landlock_mode},
    {"write", RULE_STRINGS, .set = mj_config_landlock_allow_write},
    {"tcp_bind", RULE_TABLE, .apply = tcp_ports, .arg = "bind"},
    {"tcp_connect", RULE_TABLE, .apply = tcp_ports, .arg = "connect"},
    {.field = NULL},
};

/* spec.env = { KEY = VALUE }: the whole environment. */
static int config_env(lua_State *L, int tbl, const struct spec_rule *r, mj_config_t *cfg, mj_error_t **err)
{
    (void)r;
    mj_config_clear_env(cfg);
    for (lua_pushnil(L); env_next(L, tbl); lua_pop(L, 1))
        if (mj_config_set_env(cfg, lua_tostring(L, -2), lua_tostring(L, -1), err) < 0)
            return -1;
    return 0;
}

/* spec.disk (bytes) and spec.disk_required */
static int disk(lua_State *L, int spec, const struct spec_rule *r, mj_config_t *cfg, mj_error_t **err)
{
    lua_Integer bytes = spec_integer(L, spec, r->field, 0);
    if (bytes < 0)
        return luaL_error(L, "moonjail core: spec field 'disk' must be >= 0");
    return bytes ? mj_config_set_disk_limit(cfg, (uint64_t)bytes, spec_bool(L, spec, "disk_required", false), err) : 0;
}

static int resolv_conf(lua_State *L, int spec, const struct spec_rule *r, mj_config_t *cfg, mj_error_t **err)
{
    const char *text = spec_string(L, spec, r->field, true);
    return text ? mj_config_set_resolv_conf(cfg, text, err) : 0;
}

/* spec.image_lease: an fd (a Lease's) the supervisor keeps for the sandbox's life */
static int image_lease(lua_State *L, int spec, const struct spec_rule *r, mj_config_t *cfg, mj_error_t **err)
{
    lua_Integer fd = spec_integer(L, spec, r->field, -1);
    return fd >= 0 ? mj_config_set_image_lease(cfg, (int)fd, err) : 0;
}

static int lifetime(lua_State *L, int spec, const struct spec_rule *r, mj_config_t *cfg, mj_error_t **err)
{
    (void)err;
    double d;
    if (spec_seconds(L, spec, r->field, &d))
        mj_config_set_lifetime(cfg, d);
    return 0;
}

static int cleanup_delay(lua_State *L, int spec, const struct spec_rule *r, mj_config_t *cfg, mj_error_t **err)
{
    (void)err;
    double d;
    if (spec_seconds(L, spec, r->field, &d))
        mj_config_set_cleanup_delay(cfg, d);
    return 0;
}

/* The spec's config fields, in the order they are applied. */
static const struct spec_rule config_rules[] = {
    {"root", RULE_STRING, .set = mj_config_set_root},
    {"root_layers", RULE_STRINGS, .set = mj_config_add_root_layer},
    {"image_lease", RULE_CUSTOM, .apply = image_lease},
    {"host_paths", RULE_ENTRIES, .entry = host_path_entry},
    {"readonly_root", RULE_CUSTOM, .apply = readonly_root},
    {"mounts", RULE_ENTRIES, .entry = mount_entry},
    {"masked", RULE_STRINGS, .set = mj_config_add_masked},
    {"readonly", RULE_STRINGS, .set = mj_config_add_readonly},
    {"hostname", RULE_STRING, .set = mj_config_set_hostname},
    {"uid", RULE_CUSTOM, .apply = user},
    {"network", RULE_CUSTOM, .apply = network},
    {"network_config", RULE_STRING, .set = mj_config_set_network_config},
    {"network_audit_log", RULE_STRING, .set = mj_config_set_network_audit_log},
    {"rlimits", RULE_TABLE, .apply = rlimits},
    {"capabilities", RULE_STRINGS, .set = mj_config_add_capability},
    {"seccomp", RULE_NESTED, .sub = seccomp_rules},
    {"limits", RULE_TABLE, .apply = limits},
    {"landlock", RULE_NESTED, .sub = landlock_rules},
    {"apparmor", RULE_STRING, .set = mj_config_set_apparmor},
    {"selinux", RULE_STRING, .set = mj_config_set_selinux},
    {"env", RULE_TABLE, .apply = config_env},
    {"workdir", RULE_STRING, .set = mj_config_set_workdir},
    {"cleanup_delay", RULE_CUSTOM, .apply = cleanup_delay},
    {"lifetime", RULE_CUSTOM, .apply = lifetime},
    {"disk", RULE_CUSTOM, .apply = disk},
    {"etc_hosts", RULE_STRINGS, .set = mj_config_add_hosts_entry},
    {"resolv_conf", RULE_CUSTOM, .apply = resolv_conf},
    {.field = NULL},
};

int mjl_spec_config(lua_State *L, int spec, mj_config_t *cfg, mj_error_t **err)
{
    return apply_rules(L, spec, config_rules, cfg, err);
}

/* ---------------------------------------------------------------- the command */

/* cmd's flag from spec[field], when the spec has it. */
static void spec_flag(lua_State *L, int spec, const char *field, mj_command_t *cmd,
                      void (*set)(mj_command_t *, bool))
{
    if (spec_field(L, spec, field, LUA_TBOOLEAN, true) != LUA_TNIL)
        set(cmd, lua_toboolean(L, -1));
    lua_pop(L, 1);
}

/* spec.argv: a non-empty array of strings. */
static int command_argv(lua_State *L, int spec, mj_command_t *cmd, mj_error_t **err)
{
    spec_field(L, spec, "argv", LUA_TTABLE, false);
    int arr = lua_gettop(L);
    lua_Integer argc = luaL_len(L, arr);
    if (argc < 1)
        return luaL_error(L, "moonjail core: spec field 'argv' must not be empty");
    /* The pointer array is a userdata, so an error below frees it with everything else. */
    const char **argv = lua_newuserdatauv(L, (size_t)argc * sizeof *argv, 0);
    for (lua_Integer i = 1; i <= argc; i++)
        argv[i - 1] = array_string(L, arr, "argv", i);
    int rc = mj_command_set_argv(cmd, (size_t)argc, argv, err);
    lua_settop(L, arr - 1);
    return rc;
}

/* The per-command env, workdir and ids of a command in a persistent sandbox (a one-shot run
 * puts them in its config instead). */
static int command_context(lua_State *L, int spec, mj_command_t *cmd, mj_error_t **err)
{
    if (spec_field(L, spec, "env", LUA_TTABLE, true) != LUA_TNIL) {
        int tbl = lua_gettop(L);
        for (lua_pushnil(L); env_next(L, tbl); lua_pop(L, 1))
            if (mj_command_set_env(cmd, lua_tostring(L, -2), lua_tostring(L, -1), err) < 0)
                return -1;
    }
    lua_pop(L, 1);
    const char *workdir = spec_string(L, spec, "workdir", true);
    if (workdir != NULL && mj_command_set_workdir(cmd, workdir, err) < 0)
        return -1;
    lua_Integer uid, gid;
    spec_ids(L, spec, &uid, &gid);
    spec_flag(L, spec, "read_only", cmd, mj_command_set_read_only);
    spec_flag(L, spec, "no_network", cmd, mj_command_set_no_network);
    if (spec_field(L, spec, "restrict_paths", LUA_TTABLE, true) != LUA_TNIL) {
        int arr = lua_gettop(L);
        lua_Integer n = luaL_len(L, arr);
        for (lua_Integer i = 1; i <= n; i++)
            if (mj_command_add_restrict_path(cmd, array_string(L, arr, "restrict_paths", i), err) < 0)
                return -1;
    }
    lua_pop(L, 1);
    if (uid >= 0 && mj_command_set_user(cmd, (uid_t)uid, (gid_t)gid, err) < 0)
        return -1;
    return 0;
}

int mjl_spec_command(lua_State *L, int spec, mj_command_t *cmd, bool own_context, mj_error_t **err)
{
    if (command_argv(L, spec, cmd, err) < 0)
        return -1;

    if (spec_field(L, spec, "stdin", LUA_TSTRING, true) != LUA_TNIL) {
        size_t len;
        const char *data = lua_tolstring(L, -1, &len);
        if (mj_command_set_stdin(cmd, data, len, err) < 0)
            return -1;
    }
    lua_pop(L, 1);

    lua_Integer fd = spec_integer(L, spec, "stdin_fd", -1);
    if (fd >= 0) {
        if (fd > INT32_MAX)
            return luaL_error(L, "moonjail core: spec field 'stdin_fd' is not a valid fd");
        mj_command_set_stdin_fd(cmd, (int)fd);
    }
    spec_flag(L, spec, "tty", cmd, mj_command_set_tty);

    double timeout;
    if (spec_seconds(L, spec, "timeout", &timeout))
        mj_command_set_timeout(cmd, timeout);

    lua_Integer limit = spec_integer(L, spec, "output_limit", 0);
    if (limit < 0)
        return luaL_error(L, "moonjail core: spec field 'output_limit' must be >= 0");
    if (limit > 0)
        mj_command_set_output_limit(cmd, (uint64_t)limit);

    if (spec_bool(L, spec, "tee", false))
        mj_command_set_tee(cmd, 1, 2);
    if (!spec_bool(L, spec, "capture", true))
        mj_command_set_capture(cmd, false);
    lua_Integer log_max = spec_integer(L, spec, "log", -1); /* bytes per file, 0 = the default; absent: none */
    if (log_max >= 0)
        mj_command_set_log(cmd, true, (uint64_t)log_max);
    const char *on_exit = spec_string(L, spec, "on_exit", true);
    if (on_exit) {
        if (strcmp(on_exit, "stop") != 0 && strcmp(on_exit, "destroy") != 0)
            return luaL_error(L, "moonjail core: spec field 'on_exit' must be \"stop\" or \"destroy\"");
        mj_command_set_on_exit(cmd, on_exit[0] == 's' ? MJ_ON_EXIT_STOP : MJ_ON_EXIT_DESTROY);
    }
    mj_command_set_forward_signals(cmd, spec_bool(L, spec, "forward_signals", false));
    return own_context ? command_context(L, spec, cmd, err) : 0;
}

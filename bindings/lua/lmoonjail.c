/* lmoonjail.c — the `moonjail` Lua 5.4 module: luaopen_moonjail and the C primitives under it.
 *
 * Owns: the table `core` of C functions (run, policy_source, policy_names, version, path_kind,
 * sleep, mkdir_private, chmod, euid, …) that scripts/moonjail/api.lua turns into the public
 * module, and the conversion of a resolved spec into mj_config_t / mj_command_t (shared with
 * lsandbox.c).  Errors are lerror.c's, the handle box lbox.c's.
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
#include "lmoonjail.h"
#include "moonjail/moonjail.h"


/* ---------------------------------------------------------------- core.run */

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

    /* The table core of C primitives, with every metatable, exists before any Lua runs. */
    luaL_newlib(L, core_funcs);
    mjl_box_register(L);
    mjl_error_register(L);   /* core.error, core.codes, core.error_mt */
    mjl_sandbox_register(L); /* core.sandbox, core.open, core.list, the Sandbox and Process types */
    mjl_tree_register(L);    /* core.fetch, core.unpack, core.walk, … (repositories) */

    lua_getglobal(L, "require");
    lua_pushliteral(L, "moonjail.api");
    lua_call(L, 1, 1);
    if (!lua_isfunction(L, -1))
        return luaL_error(L, "moonjail: module 'moonjail.api' must return a function");
    lua_insert(L, -2);
    lua_call(L, 1, 1); /* api(core) -> the module */
    return 1;
}

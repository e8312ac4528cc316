/* loci.c — the C primitives under scripts/moonjail/oci/ (the runtime-spec command set): an OCI
 * container's main process on a named sandbox (core/src/oci/main.c, with its console socket)
 * and the bundle's mounts (core/src/oci/bundle.c).
 *
 * Owns: core.oci.state_dir, main_create, exec_detached, main_start, main_signal, main_state (each takes the
 * container's sandbox name and opens it for the one call) and wait.
 * Must never: decide anything of the runtime-spec (the Lua side maps config.json), or keep a
 * sandbox handle between calls.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lua.h>

#include "largs.h"
#include "lerror.h"
#include "loci.h"
#include "lutil.h"
#include "oci/bundle.h"
#include "oci/exec.h"
#include "oci/main.h"
#include "error.h"
#include "util.h"

static void free_sandbox(mj_sandbox_t **sb)
{
    mj_sandbox_free(*sb);
}
#define cleanup_sandbox __attribute__((cleanup(free_sandbox)))

static void free_command(mj_command_t **cmd)
{
    mj_command_free(*cmd);
}

/* core.oci.state_dir(path): where this process keeps named sandboxes (MOONJAIL_STATE_DIR); only
 * before the first sandbox is touched.  true, or nil, message. */
static int oci_state_dir(lua_State *L)
{
    const char *path = mjl_checkcstring(L, 1);
    if (path[0] != '/' || setenv("MOONJAIL_STATE_DIR", path, 1) != 0) {
        lua_pushnil(L);
        lua_pushstring(L, "the state directory must be an absolute path");
        return 2;
    }
    lua_pushboolean(L, 1);
    return 1;
}

/* t[field] as a string (nil: NULL); raises on another type. */
static const char *field_string(lua_State *L, int t, const char *field)
{
    lua_getfield(L, t, field);
    const char *s = lua_isnil(L, -1) ? NULL : mjl_tocstring(L, -1, field);
    lua_pop(L, 1); /* the string stays alive in the table */
    return s;
}

/* t[field], an array of strings, as a NULL-terminated C array in a userdata left on the stack;
 * raises on a bad entry. */
static const char **field_strings(lua_State *L, int t, const char *field, size_t *n)
{
    lua_getfield(L, t, field);
    size_t len = lua_istable(L, -1) ? (size_t)lua_rawlen(L, -1) : 0;
    const char **v = lua_newuserdatauv(L, (len + 1) * sizeof(char *), 1);
    lua_insert(L, -2);
    for (size_t i = 0; i < len; i++) {
        lua_rawgeti(L, -1, (lua_Integer)i + 1);
        v[i] = mjl_tocstring(L, -1, field);
        lua_pop(L, 1);
    }
    v[len] = NULL;
    lua_setiuservalue(L, -2, 1); /* the table keeps the strings alive as long as the array */
    *n = len;
    return v;
}

/* The command described by the table at index t ({argv = {...}, env = {"K=V", ...}, cwd = "/",
 * uid = 0, gid = 0, console_socket = PATH | nil}) into *cmd (a tty with a console socket);
 * *console is that socket's path.  nil, err pushed (returns -1) on a bad field. */
static int table_command(lua_State *L, int t, mj_command_t *cmd, const char **console, int *nret)
{
    size_t argc, envc;
    const char **argv = field_strings(L, t, "argv", &argc);
    const char **env = field_strings(L, t, "env", &envc);
    const char *cwd = field_string(L, t, "cwd");
    *console = field_string(L, t, "console_socket");
    lua_getfield(L, t, "uid");
    lua_getfield(L, t, "gid");
    bool has_user = !lua_isnil(L, -2);
    uid_t uid = (uid_t)luaL_optinteger(L, -2, 0);
    gid_t gid = (gid_t)luaL_optinteger(L, -1, 0);
    lua_pop(L, 2);
    cleanup_error mj_error_t *err = NULL;
    if (mj_command_set_argv(cmd, argc, argv, &err) < 0)
        return *nret = mjl_fail(L, err, "argv"), -1;
    for (size_t i = 0; i < envc; i++) {
        const char *eq = strchr(env[i], '=');
        if (!eq || eq == env[i])
            continue;
        cleanup_free char *key = strndup(env[i], (size_t)(eq - env[i]));
        if (!key)
            return *nret = mjl_fail_errno(L, "COMMAND_EXECUTION_FAILED", ENOMEM, "env"), -1;
        if (mj_command_set_env(cmd, key, eq + 1, &err) < 0)
            return *nret = mjl_fail(L, err, "env"), -1;
    }
    if (cwd && mj_command_set_workdir(cmd, cwd, &err) < 0)
        return *nret = mjl_fail(L, err, "cwd"), -1;
    if (has_user && mj_command_set_user(cmd, uid, gid, &err) < 0)
        return *nret = mjl_fail(L, err, "user"), -1;
    if (*console)
        mj_command_set_tty(cmd, true);
    return 0;
}

/* core.oci.main_create(name, command table) -> true | nil, err.  The main process's stdio is
 * this process's 0, 1, 2 (what the engine gave `create`), or a terminal of the sandbox's own
 * whose master goes to the console socket. */
static int oci_main_create(lua_State *L)
{
    const char *name = mjl_checkcstring(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    /* Nothing below raises: the handles are freed on every way out. */
    __attribute__((cleanup(free_command))) mj_command_t *cmd = mj_command_new();
    const char *console;
    int nret;
    if (table_command(L, 2, cmd, &console, &nret) < 0)
        return nret;
    cleanup_error mj_error_t *err = NULL;
    int io[3] = {0, 1, 2}; /* with a terminal, the sandbox's own pty stands in for them */
    cleanup_sandbox mj_sandbox_t *sb = NULL;
    if (mj_sandbox_open(name, &sb, &err) < 0 || mj_oci_main_create(sb, cmd, io, console, &err) < 0)
        return mjl_fail(L, err, "create");
    lua_pushboolean(L, 1);
    return 1;
}

/* core.oci.exec_detached(name, command table) -> pid | nil, err: the command started in the
 * container with this process's 0, 1, 2 (or a terminal, as main_create), and the pid of the host
 * process that stands for it (oci/exec.c), for the engine to wait for. */
static int oci_exec_detached(lua_State *L)
{
    const char *name = mjl_checkcstring(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    __attribute__((cleanup(free_command))) mj_command_t *cmd = mj_command_new();
    const char *console;
    int nret;
    if (table_command(L, 2, cmd, &console, &nret) < 0)
        return nret;
    lua_getfield(L, 2, "argv");
    lua_rawgeti(L, -1, 1);
    const char *argv0 = lua_isstring(L, -1) ? lua_tostring(L, -1) : "";
    lua_pop(L, 2); /* the string stays alive in the table */
    cleanup_error mj_error_t *err = NULL;
    int io[3] = {0, 1, 2};
    pid_t pid;
    cleanup_sandbox mj_sandbox_t *sb = NULL;
    if (mj_sandbox_open(name, &sb, &err) < 0 || mj_oci_exec_detached(sb, cmd, argv0, io, console, &pid, &err) < 0)
        return mjl_fail(L, err, "exec");
    lua_pushinteger(L, pid);
    return 1;
}

/* core.oci.main_start(name) -> true | nil, err */
static int oci_main_start(lua_State *L)
{
    cleanup_error mj_error_t *err = NULL;
    cleanup_sandbox mj_sandbox_t *sb = NULL;
    if (mj_sandbox_open(mjl_checkcstring(L, 1), &sb, &err) < 0 || mj_oci_main_start(sb, &err) < 0)
        return mjl_fail(L, err, "start");
    lua_pushboolean(L, 1);
    return 1;
}

/* core.oci.main_signal(name, sig) -> true | nil, err */
static int oci_main_signal(lua_State *L)
{
    int sig = (int)luaL_checkinteger(L, 2);
    cleanup_error mj_error_t *err = NULL;
    cleanup_sandbox mj_sandbox_t *sb = NULL;
    if (mj_sandbox_open(mjl_checkcstring(L, 1), &sb, &err) < 0 || mj_oci_main_signal(sb, sig, &err) < 0)
        return mjl_fail(L, err, "kill");
    lua_pushboolean(L, 1);
    return 1;
}

/* core.oci.main_state(name) -> {created, started, paused} | nil, err */
static int oci_main_state(lua_State *L)
{
    cleanup_error mj_error_t *err = NULL;
    bool created, started, paused;
    cleanup_sandbox mj_sandbox_t *sb = NULL;
    if (mj_sandbox_open(mjl_checkcstring(L, 1), &sb, &err) < 0 ||
        mj_oci_main_state(sb, &created, &started, &paused, &err) < 0)
        return mjl_fail(L, err, "state");
    lua_createtable(L, 0, 3);
    mjl_set_bool(L, "created", created);
    mjl_set_bool(L, "started", started);
    mjl_set_bool(L, "paused", paused);
    return 1;
}

/* core.oci.wait(pid) -> the exit status of this process's child pid (128+N when signal N
 * killed it), or nil, message when it is not our child.  `run` waits so for the container's
 * supervisor, which exits with the main process's status. */
static int oci_wait(lua_State *L)
{
    pid_t pid = (pid_t)luaL_checkinteger(L, 1);
    int st;
    pid_t r;
    while ((r = waitpid(pid, &st, 0)) < 0 && errno == EINTR)
        ;
    if (r != pid) {
        lua_pushnil(L);
        lua_pushstring(L, strerror(errno));
        return 2;
    }
    lua_pushinteger(L, WIFEXITED(st) ? WEXITSTATUS(st) : WIFSIGNALED(st) ? 128 + WTERMSIG(st) : 255);
    return 1;
}

/* core.oci.private_mounts() -> true | nil, err: this process's own mount namespace (oci/bundle.c) */
static int oci_private_mounts(lua_State *L)
{
    cleanup_error mj_error_t *err = NULL;
    if (mj_oci_private_mounts(&err) < 0)
        return mjl_fail(L, err, "mount namespace");
    lua_pushboolean(L, 1);
    return 1;
}

/* core.oci.bind(src, dst) -> true | nil, err: a recursive bind in that namespace */
static int oci_bind(lua_State *L)
{
    const char *src = mjl_checkcstring(L, 1);
    const char *dst = mjl_checkcstring(L, 2);
    cleanup_error mj_error_t *err = NULL;
    if (mj_oci_bind(src, dst, &err) < 0)
        return mjl_fail(L, err, "bind");
    lua_pushboolean(L, 1);
    return 1;
}

/* core.oci.unbind(path): detaches this process's bind at path, if any */
static int oci_unbind(lua_State *L)
{
    mj_oci_unbind(mjl_checkcstring(L, 1));
    return 0;
}

/* core.oci.mountpoint(root, rel, is_dir) -> true | nil, err (oci/bundle.c) */
static int oci_mountpoint(lua_State *L)
{
    const char *root = mjl_checkcstring(L, 1);
    const char *rel = mjl_checkcstring(L, 2);
    bool dir = lua_toboolean(L, 3);
    cleanup_error mj_error_t *err = NULL;
    if (mj_oci_mountpoint(root, rel, dir, &err) < 0)
        return mjl_fail(L, err, "mount point");
    lua_pushboolean(L, 1);
    return 1;
}

static const luaL_Reg oci_funcs[] = {
    {"state_dir", oci_state_dir},   {"main_create", oci_main_create}, {"exec_detached", oci_exec_detached}, {"main_start", oci_main_start},
    {"main_signal", oci_main_signal}, {"main_state", oci_main_state},  {"wait", oci_wait},
    {"private_mounts", oci_private_mounts}, {"bind", oci_bind}, {"mountpoint", oci_mountpoint},
    {"unbind", oci_unbind},
    {NULL, NULL},
};

void mjl_oci_register(lua_State *L)
{
    luaL_newlib(L, oci_funcs);
    /* the POSIX helpers the runtime's Lua needs, registered before us (lposix.c) */
    static const char *const borrowed[] = {"process_start", "realpath", "list_dir", "mkdir_private", "now", "path_kind", "chmod", "euid"};
    for (size_t i = 0; i < sizeof(borrowed) / sizeof(borrowed[0]); i++) {
        lua_getfield(L, -2, borrowed[i]);
        lua_setfield(L, -2, borrowed[i]);
    }
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
    lua_pushvalue(L, -2);
    lua_setfield(L, -2, "moonjail.ocicore");
    lua_pop(L, 1);
    lua_setfield(L, -2, "oci");
}

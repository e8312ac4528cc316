/* lsandbox.c — the Sandbox and Process userdata of the Lua binding (persistent sandboxes).
 *
 * Owns: the metatables "moonjail.Sandbox" (over mj_sandbox_t *) and "moonjail.Process" (over
 * mj_process_t *), their primitive operations, and core.sandbox / core.open / core.list /
 * core.platform.  The methods users call are written in scripts/moonjail/api.lua over these
 * primitives (core.sandbox_ops, core.process_ops) and installed in core.sandbox_methods and
 * core.process_methods, the __index tables of the two metatables.
 * Life cycle as liolib's files: the userdata exists before the handle it wraps, so __gc always
 * frees; __gc and __close are one idempotent function; any operation on a closed handle raises
 * "attempt to use a closed sandbox" (or "… process").  A sandbox keeps a weak set of its
 * processes and frees them before itself; a process keeps its sandbox alive.
 * Must never: raise while holding a handle that no userdata owns, or block forever without the
 * caller having asked to (read/wait without a timeout do).
 */
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lua.h>

#include "lbox.h"
#include "lerror.h"
#include "lopts.h"
#include "lresult.h"
#include "lsandbox.h"
#include "lutil.h"


#define SANDBOX_MT "moonjail.Sandbox"
#define PROCESS_MT "moonjail.Process"

/* Sandbox user values: 1 = weak-keyed set of its Process userdata. */
typedef struct {
    mj_sandbox_t *sb;
} sandbox_ud;

/* Process user values: 1 = its Sandbox userdata (kept alive), 2 = the result once waited. */
typedef struct {
    mj_process_t *p;
    bool out_eof, err_eof;
    bool prefer_err; /* alternates which stream read() serves first when both have data */
} process_ud;

/* Pushes true (return 1) on rc 0, else nil, err (return 2); frees err.  Call it with rc held in
 * a variable: in push_status(L, f(&err), err) C may read err before f sets it. */
static int push_status(lua_State *L, int rc, mj_error_t *err)
{
    if (rc == 0) {
        mj_error_free(err);
        lua_pushboolean(L, 1);
        return 1;
    }
    /* The box owns err while it is copied into Lua, and frees it when this C function returns
     * (or raises: a memory error while pushing). */
    mjl_box_t *box = mjl_new_box(L);
    box->err = err;
    return mjl_fail(L, err, "operation failed");
}

/* ---------------------------------------------------------------- Sandbox */

static sandbox_ud *to_sandbox(lua_State *L, int idx)
{
    return luaL_checkudata(L, idx, SANDBOX_MT);
}

static mj_sandbox_t *check_sandbox(lua_State *L, int idx)
{
    sandbox_ud *u = to_sandbox(L, idx);
    if (u->sb == NULL)
        luaL_error(L, "attempt to use a closed sandbox");
    return u->sb;
}

static int process_release(lua_State *L);

/* __gc, __close: frees the sandbox's processes, then the handle (an anonymous sandbox is
 * destroyed with it, a named one stays).  Idempotent. */
static int sandbox_release(lua_State *L)
{
    sandbox_ud *u = to_sandbox(L, 1);
    if (u->sb == NULL)
        return 0;
    if (lua_getiuservalue(L, 1, 1) == LUA_TTABLE) {
        lua_pushnil(L);
        while (lua_next(L, -2) != 0) {
            lua_pop(L, 1);
            lua_pushcfunction(L, process_release);
            lua_pushvalue(L, -2);
            lua_call(L, 1, 0);
        }
    }
    lua_pop(L, 1);
    mj_sandbox_t *sb = u->sb;
    u->sb = NULL;
    mj_sandbox_free(sb);
    return 0;
}

/* ops.close(sb): raises on a closed sandbox (as file:close does), else releases; true. */
static int sandbox_close(lua_State *L)
{
    check_sandbox(L, 1);
    lua_settop(L, 1);
    sandbox_release(L);
    lua_pushboolean(L, 1);
    return 1;
}

static int sandbox_is_closed(lua_State *L)
{
    lua_pushboolean(L, to_sandbox(L, 1)->sb == NULL);
    return 1;
}

static int sandbox_tostring(lua_State *L)
{
    sandbox_ud *u = to_sandbox(L, 1);
    if (u->sb == NULL) {
        lua_pushliteral(L, "moonjail.Sandbox (closed)");
    } else {
        mj_sandbox_info_t info;
        memset(&info, 0, sizeof info);
        if (mj_sandbox_info(u->sb, &info, NULL) == 0)
            lua_pushfstring(L, "moonjail.Sandbox (%s)", info.name[0] ? info.name : info.id);
        else
            lua_pushfstring(L, "moonjail.Sandbox (%p)", (void *)u->sb);
    }
    return 1;
}

/* Pushes a new open-able Sandbox userdata (handle NULL) with its process set. */
static sandbox_ud *new_sandbox(lua_State *L)
{
    sandbox_ud *u = lua_newuserdatauv(L, sizeof *u, 1);
    u->sb = NULL;
    luaL_setmetatable(L, SANDBOX_MT);
    lua_createtable(L, 0, 0);
    lua_createtable(L, 0, 1);
    lua_pushliteral(L, "k");
    lua_setfield(L, -2, "__mode");
    lua_setmetatable(L, -2);
    lua_setiuservalue(L, -2, 1);
    return u;
}

/* core.sandbox(spec, name|nil) -> Sandbox | nil, err */
static int core_sandbox(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    const char *name = luaL_optstring(L, 2, NULL);
    lua_settop(L, 2);
    sandbox_ud *u = new_sandbox(L); /* 3: before the handle exists */
    mjl_box_t *box = mjl_new_box(L); /* 4 */
    box->cfg = mj_config_new();
    if (box->cfg == NULL)
        return luaL_error(L, "moonjail core.sandbox: out of memory");
    if (mjl_spec_config(L, 1, box->cfg, &box->err) < 0 ||
        mj_sandbox_create(box->cfg, name, &u->sb, &box->err) < 0)
        return mjl_fail(L, box->err, "Sandbox initialization failed");
    lua_pushvalue(L, 3);
    return 1;
}

/* core.open(name) -> Sandbox | nil, err */
static int core_open(lua_State *L)
{
    const char *name = luaL_checkstring(L, 1);
    lua_settop(L, 1);
    sandbox_ud *u = new_sandbox(L);
    mjl_box_t *box = mjl_new_box(L);
    if (mj_sandbox_open(name, &u->sb, &box->err) < 0)
        return mjl_fail(L, box->err, "Sandbox not found");
    lua_pushvalue(L, 2);
    return 1;
}

/* core.list() -> array of names | nil, err */
static int core_list(lua_State *L)
{
    char **names = NULL;
    size_t n = 0;
    mj_error_t *err = NULL;
    if (mj_sandbox_list(&names, &n, &err) < 0)
        return push_status(L, -1, err);
    /* Copy before anything can raise; a memory error here would leak the list, which is the
     * one case liolib accepts too. */
    lua_createtable(L, (int)n, 0);
    for (size_t i = 0; i < n; i++) {
        lua_pushstring(L, names[i]);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    mj_strings_free(names, n);
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
    process_ud *pu = lua_newuserdatauv(L, sizeof *pu, 2); /* 3 */
    memset(pu, 0, sizeof *pu);
    luaL_setmetatable(L, PROCESS_MT);
    lua_pushvalue(L, 1);
    lua_setiuservalue(L, 3, 1);
    mjl_box_t *box = mjl_new_box(L); /* 4 */
    box->cmd = mj_command_new();
    if (box->cmd == NULL)
        return luaL_error(L, "moonjail spawn: out of memory");
    if (mjl_spec_command(L, 2, box->cmd, true, &box->err) < 0 ||
        mj_sandbox_spawn(sb, box->cmd, &pu->p, &box->err) < 0)
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

static int check_signal(lua_State *L, int idx)
{
    lua_Integer sig = luaL_checkinteger(L, idx);
    if (sig < 0 || sig > 64)
        luaL_argerror(L, idx, "not a signal number");
    return (int)sig;
}

static int sb_signal(lua_State *L)
{
    mj_sandbox_t *sb = check_sandbox(L, 1);
    int sig = check_signal(L, 2);
    mj_error_t *err = NULL;
    int rc = mj_sandbox_signal(sb, sig, &err);
    return push_status(L, rc, err);
}

static int sb_pause(lua_State *L)
{
    mj_sandbox_t *sb = check_sandbox(L, 1);
    mj_error_t *err = NULL;
    int rc = mj_sandbox_pause(sb, &err);
    return push_status(L, rc, err);
}

static int sb_resume(lua_State *L)
{
    mj_sandbox_t *sb = check_sandbox(L, 1);
    mj_error_t *err = NULL;
    int rc = mj_sandbox_resume(sb, &err);
    return push_status(L, rc, err);
}

static int sb_stop(lua_State *L)
{
    mj_sandbox_t *sb = check_sandbox(L, 1);
    double grace = luaL_optnumber(L, 2, 10.0);
    if (!(grace >= 0) || isinf(grace))
        return luaL_argerror(L, 2, "grace must be a finite number of seconds >= 0");
    mj_error_t *err = NULL;
    int rc = mj_sandbox_stop(sb, grace, &err);
    return push_status(L, rc, err);
}

/* ops.destroy(sb): destroys (named ones too), then releases the handle; true | nil, err (the
 * handle stays open on failure, so the caller may retry). */
static int sb_destroy(lua_State *L)
{
    mj_sandbox_t *sb = check_sandbox(L, 1);
    lua_settop(L, 1);
    mj_error_t *err = NULL;
    if (mj_sandbox_destroy(sb, &err) < 0)
        return push_status(L, -1, err);
    sandbox_release(L);
    lua_pushboolean(L, 1);
    return 1;
}

static int sb_workdir(lua_State *L)
{
    lua_pushstring(L, mj_sandbox_workdir(check_sandbox(L, 1)));
    return 1;
}

static int sb_set_workdir(lua_State *L)
{
    mj_sandbox_t *sb = check_sandbox(L, 1);
    const char *dir = luaL_checkstring(L, 2);
    mj_error_t *err = NULL;
    int rc = mj_sandbox_set_workdir(sb, dir, &err);
    return push_status(L, rc, err);
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
    const char *key = luaL_checkstring(L, 2);
    const char *value = luaL_optstring(L, 3, NULL);
    mj_error_t *err = NULL;
    int rc = value ? mj_sandbox_set_env(sb, key, value, &err) : mj_sandbox_unset_env(sb, key, &err);
    return push_status(L, rc, err);
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

static int sb_set_meta(lua_State *L)
{
    mj_sandbox_t *sb = check_sandbox(L, 1);
    const char *text = luaL_checkstring(L, 2);
    mj_error_t *err = NULL;
    int rc = mj_sandbox_set_meta(sb, text, &err);
    return push_status(L, rc, err);
}

static int sb_status(lua_State *L)
{
    const char *name = mj_status_name(mj_sandbox_status(check_sandbox(L, 1)));
    lua_pushstring(L, name ? name : "failed");
    return 1;
}

/* ops.info(sb) -> { id, name, status, created_at, started_at, hostname, supervisor_pid, uid,
 * gid, rootless, warnings } | nil, err  (api.lua adds the rest of SandboxInfo) */
static int sb_info(lua_State *L)
{
    mj_sandbox_t *sb = check_sandbox(L, 1);
    mj_sandbox_info_t info;
    memset(&info, 0, sizeof info);
    mj_error_t *err = NULL;
    if (mj_sandbox_info(sb, &info, &err) < 0)
        return push_status(L, -1, err);
    mjl_push_info(L, sb, &info);
    return 1;
}

/* ops.usage(sb) -> ResourceUsage | nil, err */
static int sb_usage(lua_State *L)
{
    mj_sandbox_t *sb = check_sandbox(L, 1);
    mj_usage_t u;
    memset(&u, 0, sizeof u);
    mj_error_t *err = NULL;
    if (mj_sandbox_usage(sb, &u, &err) < 0)
        return push_status(L, -1, err);
    mjl_push_usage(L, &u);
    return 1;
}

/* ops.processes(sb) -> array of { pid, ppid, uid, state, cpu_time, rss, command } | nil, err */
static int sb_processes(lua_State *L)
{
    mj_sandbox_t *sb = check_sandbox(L, 1);
    mj_proc_entry_t *v = NULL;
    size_t n = 0;
    mj_error_t *err = NULL;
    if (mj_sandbox_processes(sb, &v, &n, &err) < 0)
        return push_status(L, -1, err);
    mjl_push_processes(L, v, n);
    free(v);
    return 1;
}

/* ops.denials(sb) -> array of { syscall, pid } refused since the previous call */
static int sb_denials(lua_State *L)
{
    mj_sandbox_t *sb = check_sandbox(L, 1);
    mj_denial_t *v = NULL;
    size_t n = 0;
    mj_error_t *err = NULL;
    if (mj_sandbox_denials(sb, &v, &n, NULL, &err) < 0)
        return push_status(L, -1, err);
    mjl_push_denials(L, v, n);
    free(v);
    return 1;
}

/* ---------------------------------------------------------------- files */

/* ops.write_file(sb, path, data, mode) -> true | nil, err */
static int sb_write_file(lua_State *L)
{
    mj_sandbox_t *sb = check_sandbox(L, 1);
    const char *path = luaL_checkstring(L, 2);
    size_t len;
    const char *data = luaL_checklstring(L, 3, &len);
    lua_Integer mode = luaL_optinteger(L, 4, 0644);
    if (mode < 0 || mode > 07777)
        return luaL_argerror(L, 4, "file mode out of range");
    mj_error_t *err = NULL;
    int rc = mj_sandbox_write_file(sb, path, data, len, (unsigned)mode, &err);
    return push_status(L, rc, err);
}

/* ops.read_file(sb, path, max|nil) -> string | nil, err */
static int sb_read_file(lua_State *L)
{
    mj_sandbox_t *sb = check_sandbox(L, 1);
    const char *path = luaL_checkstring(L, 2);
    lua_Integer max = luaL_optinteger(L, 3, 0);
    if (max < 0)
        return luaL_argerror(L, 3, "must be >= 0");
    char *data = NULL;
    size_t len = 0;
    mj_error_t *err = NULL;
    if (mj_sandbox_read_file(sb, path, (size_t)max, &data, &len, &err) < 0)
        return push_status(L, -1, err);
    lua_pushlstring(L, data, len); /* (only a memory error here could leak data) */
    free(data);
    return 1;
}

/* ops.list_files(sb, path) -> array of FileInfo | nil, err */
static int sb_list_files(lua_State *L)
{
    mj_sandbox_t *sb = check_sandbox(L, 1);
    const char *path = luaL_checkstring(L, 2);
    mj_file_info_t *v = NULL;
    size_t n = 0;
    mj_error_t *err = NULL;
    if (mj_sandbox_list_files(sb, path, &v, &n, &err) < 0)
        return push_status(L, -1, err);
    mjl_push_file_infos(L, v, n);
    mj_file_infos_free(v, n);
    return 1;
}

/* ops.stat(sb, path) -> FileInfo | nil, err */
static int sb_stat(lua_State *L)
{
    mj_sandbox_t *sb = check_sandbox(L, 1);
    const char *path = luaL_checkstring(L, 2);
    mj_file_info_t f;
    memset(&f, 0, sizeof f);
    mj_error_t *err = NULL;
    if (mj_sandbox_stat(sb, path, &f, &err) < 0)
        return push_status(L, -1, err);
    mjl_push_file_info(L, &f);
    free(f.name);
    free(f.path);
    return 1;
}

static int sb_copy_in(lua_State *L)
{
    mj_sandbox_t *sb = check_sandbox(L, 1);
    const char *src = luaL_checkstring(L, 2), *dst = luaL_checkstring(L, 3);
    mj_error_t *err = NULL;
    int rc = mj_sandbox_copy_in(sb, src, dst, &err);
    return push_status(L, rc, err);
}

static int sb_copy_out(lua_State *L)
{
    mj_sandbox_t *sb = check_sandbox(L, 1);
    const char *src = luaL_checkstring(L, 2), *dst = luaL_checkstring(L, 3);
    mj_error_t *err = NULL;
    int rc = mj_sandbox_copy_out(sb, src, dst, &err);
    return push_status(L, rc, err);
}

static int sb_mkdir(lua_State *L)
{
    mj_sandbox_t *sb = check_sandbox(L, 1);
    const char *path = luaL_checkstring(L, 2);
    lua_Integer mode = luaL_optinteger(L, 3, 0755);
    if (mode < 0 || mode > 07777)
        return luaL_argerror(L, 3, "file mode out of range");
    mj_error_t *err = NULL;
    int rc = mj_sandbox_mkdir(sb, path, (unsigned)mode, &err);
    return push_status(L, rc, err);
}

static int sb_remove(lua_State *L)
{
    mj_sandbox_t *sb = check_sandbox(L, 1);
    const char *path = luaL_checkstring(L, 2);
    bool recursive = lua_toboolean(L, 3);
    mj_error_t *err = NULL;
    int rc = mj_sandbox_remove(sb, path, recursive, &err);
    return push_status(L, rc, err);
}

/* ---------------------------------------------------------------- Process */

static process_ud *to_process(lua_State *L, int idx)
{
    return luaL_checkudata(L, idx, PROCESS_MT);
}

static process_ud *check_process(lua_State *L, int idx)
{
    process_ud *pu = to_process(L, idx);
    if (pu->p == NULL)
        luaL_error(L, "attempt to use a closed process");
    return pu;
}

/* __gc, __close: kills the command if it still runs, frees the handle.  Idempotent. */
static int process_release(lua_State *L)
{
    process_ud *pu = to_process(L, 1);
    mj_process_t *p = pu->p;
    pu->p = NULL;
    mj_process_free(p);
    return 0;
}

static int process_close(lua_State *L)
{
    check_process(L, 1);
    lua_settop(L, 1);
    process_release(L);
    lua_pushboolean(L, 1);
    return 1;
}

static int process_tostring(lua_State *L)
{
    process_ud *pu = to_process(L, 1);
    if (pu->p == NULL)
        lua_pushliteral(L, "moonjail.Process (closed)");
    else
        lua_pushfstring(L, "moonjail.Process (pid %d)", (int)mj_process_pid(pu->p));
    return 1;
}

static double monotonic_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int push_errno_error(lua_State *L, const char *code, int errnum, const char *what)
{
    mj_error_code_t c = mj_error_code_from_name(code);
    lua_pushnil(L);
    lua_pushfstring(L, "%s: %s: %s", mj_error_code_text(c), what, strerror(errnum));
    mjl_push_error_fields(L, code, lua_tostring(L, -1), errnum == EAGAIN || errnum == EINTR, errnum);
    lua_remove(L, -2);
    return 2;
}

/* ops.read(p, which|nil, timeout|nil) -> chunk, stream | nil (end of the stream(s)) |
 * nil, err (TIMEOUT when timeout seconds pass without data).  which: "stdout", "stderr" or nil
 * for whichever has data first.  Blocks (timeout nil or < 0) until data, EOF or the timeout. */
static int process_read(lua_State *L)
{
    process_ud *pu = check_process(L, 1);
    static const char *const which_names[] = {"any", "stdout", "stderr", NULL};
    int which = luaL_checkoption(L, 2, "any", which_names);
    double timeout = luaL_optnumber(L, 3, -1.0);
    double deadline = timeout >= 0 ? monotonic_now() + timeout : 0;
    char buf[65536];

    for (;;) {
        int fds[2] = {mj_process_stdout_fd(pu->p), mj_process_stderr_fd(pu->p)};
        bool want[2] = {which != 2 && fds[0] >= 0 && !pu->out_eof,
                        which != 1 && fds[1] >= 0 && !pu->err_eof};
        struct pollfd pfd[2];
        int map[2], n = 0;
        for (int k = 0; k < 2; k++) {
            int s = pu->prefer_err ? 1 - k : k;
            if (want[s]) {
                pfd[n].fd = fds[s];
                pfd[n].events = POLLIN;
                pfd[n].revents = 0;
                map[n++] = s;
            }
        }
        if (n == 0) {
            lua_pushnil(L); /* end of output */
            return 1;
        }
        int ms = -1;
        if (timeout >= 0) {
            double left = deadline - monotonic_now();
            ms = left <= 0 ? 0 : (int)ceil(left * 1000.0);
        }
        int rc = poll(pfd, (nfds_t)n, ms);
        if (rc < 0) {
            if (errno == EINTR)
                continue;
            return push_errno_error(L, "COMMAND_EXECUTION_FAILED", errno, "poll");
        }
        if (rc == 0) {
            lua_pushnil(L);
            mjl_push_error_fields(L, "TIMEOUT", "Operation timed out: no output within the timeout",
                                  true, ETIMEDOUT);
            return 2;
        }
        for (int k = 0; k < n; k++) {
            if (pfd[k].revents == 0)
                continue;
            int s = map[k];
            ssize_t got = read(pfd[k].fd, buf, sizeof buf);
            if (got > 0) {
                pu->prefer_err = s == 0; /* the other stream goes first next time */
                lua_pushlstring(L, buf, (size_t)got);
                lua_pushstring(L, s == 0 ? "stdout" : "stderr");
                return 2;
            }
            if (got == 0 || (errno != EAGAIN && errno != EINTR && errno != EWOULDBLOCK)) {
                if (s == 0)
                    pu->out_eof = true;
                else
                    pu->err_eof = true;
            }
        }
    }
}

/* Writes all of data to fd without letting SIGPIPE kill the host: MSG_NOSIGNAL on sockets,
 * SIGPIPE blocked (and a pending one consumed) on pipes.  Waits for POLLOUT on EAGAIN. */
static ssize_t write_nosigpipe(int fd, const char *data, size_t len)
{
    ssize_t n = send(fd, data, len, MSG_NOSIGNAL);
    if (n >= 0 || errno != ENOTSOCK)
        return n;
    sigset_t pipe_set, old, pending;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    sigpending(&pending);
    bool was_pending = sigismember(&pending, SIGPIPE);
    sigprocmask(SIG_BLOCK, &pipe_set, &old);
    n = write(fd, data, len);
    int saved = errno;
    if (n < 0 && saved == EPIPE && !was_pending) {
        struct timespec zero = {0, 0};
        while (sigtimedwait(&pipe_set, NULL, &zero) < 0 && errno == EINTR)
            ;
    }
    sigprocmask(SIG_SETMASK, &old, NULL);
    errno = saved;
    return n;
}

/* ops.write(p, data) -> true | nil, err (FILE_OPERATION_FAILED with errno EPIPE when the
 * command closed its stdin).  Blocks until everything is written. */
static int process_write(lua_State *L)
{
    process_ud *pu = check_process(L, 1);
    size_t len;
    const char *data = luaL_checklstring(L, 2, &len);
    int fd = mj_process_stdin_fd(pu->p);
    if (fd < 0) {
        lua_pushnil(L);
        mjl_push_error_fields(L, "INVALID_STATE", "Invalid sandbox state: the process's stdin is closed",
                              false, EPIPE);
        return 2;
    }
    while (len > 0) {
        ssize_t n = write_nosigpipe(fd, data, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                struct pollfd pfd = {.fd = fd, .events = POLLOUT};
                poll(&pfd, 1, -1);
                continue;
            }
            return push_errno_error(L, "FILE_OPERATION_FAILED", errno, "writing to the process's stdin");
        }
        data += n;
        len -= (size_t)n;
    }
    lua_pushboolean(L, 1);
    return 1;
}

static int process_close_stdin(lua_State *L)
{
    mj_process_close_stdin(check_process(L, 1)->p);
    return 0;
}

static int process_pid(lua_State *L)
{
    lua_pushinteger(L, mj_process_pid(check_process(L, 1)->p));
    return 1;
}

/* ops.kill(p, sig|nil): sig to the command, or (nil) SIGKILL to it and everything it started. */
static int process_kill(lua_State *L)
{
    process_ud *pu = check_process(L, 1);
    mj_error_t *err = NULL;
    int rc;
    if (lua_isnoneornil(L, 2))
        rc = mj_process_kill_tree(pu->p, &err);
    else
        rc = mj_process_signal(pu->p, check_signal(L, 2), &err);
    return push_status(L, rc, err);
}

/* ops.wait(p, timeout|nil) -> result | nil, err.  The result is kept: waiting again returns it. */
static int process_wait(lua_State *L)
{
    process_ud *pu = check_process(L, 1);
    double timeout = luaL_optnumber(L, 2, -1.0);
    lua_settop(L, 2);
    if (lua_getiuservalue(L, 1, 2) == LUA_TTABLE)
        return 1;
    lua_pop(L, 1);
    mjl_box_t *box = mjl_new_box(L);
    if (mj_process_wait(pu->p, timeout, &box->res, &box->err) < 0)
        return mjl_fail(L, box->err, "Command execution failed");
    mjl_push_result(L, box->res);
    lua_pushvalue(L, -1);
    lua_setiuservalue(L, 1, 2);
    return 1;
}

/* ops.poll(p) -> result (done) | false (still running) | nil, err */
static int process_poll(lua_State *L)
{
    process_ud *pu = check_process(L, 1);
    lua_settop(L, 1);
    if (lua_getiuservalue(L, 1, 2) == LUA_TTABLE)
        return 1;
    lua_pop(L, 1);
    mjl_box_t *box = mjl_new_box(L);
    int rc = mj_process_poll(pu->p, &box->res, &box->err);
    if (rc < 0)
        return mjl_fail(L, box->err, "Command execution failed");
    if (rc == 0) {
        lua_pushboolean(L, 0);
        return 1;
    }
    mjl_push_result(L, box->res);
    lua_pushvalue(L, -1);
    lua_setiuservalue(L, 1, 2);
    return 1;
}

static int process_is_closed(lua_State *L)
{
    lua_pushboolean(L, to_process(L, 1)->p == NULL);
    return 1;
}

/* ---------------------------------------------------------------- registration */

static const luaL_Reg sandbox_ops[] = {
    {"exec", sb_exec},
    {"spawn", sb_spawn},
    {"spawn_detached", sb_spawn_detached},
    {"signal", sb_signal},
    {"pause", sb_pause},
    {"resume", sb_resume},
    {"stop", sb_stop},
    {"destroy", sb_destroy},
    {"close", sandbox_close},
    {"is_closed", sandbox_is_closed},
    {"workdir", sb_workdir},
    {"set_workdir", sb_set_workdir},
    {"env", sb_env},
    {"set_env", sb_set_env},
    {"clear_env", sb_clear_env},
    {"meta", sb_meta},
    {"set_meta", sb_set_meta},
    {"status", sb_status},
    {"info", sb_info},
    {"usage", sb_usage},
    {"processes", sb_processes},
    {"denials", sb_denials},
    {"write_file", sb_write_file},
    {"read_file", sb_read_file},
    {"list_files", sb_list_files},
    {"stat", sb_stat},
    {"copy_in", sb_copy_in},
    {"copy_out", sb_copy_out},
    {"mkdir", sb_mkdir},
    {"remove", sb_remove},
    {NULL, NULL},
};

static const luaL_Reg process_ops[] = {
    {"read", process_read},
    {"write", process_write},
    {"close_stdin", process_close_stdin},
    {"pid", process_pid},
    {"kill", process_kill},
    {"wait", process_wait},
    {"poll", process_poll},
    {"close", process_close},
    {"is_closed", process_is_closed},
    {NULL, NULL},
};

/* Creates metatable mt with __gc/__close = release, __tostring, and an empty __index table that
 * is also stored in the core table (at -2 after the metatable is popped) as methods_field. */
static void new_type(lua_State *L, const char *mt, lua_CFunction release, lua_CFunction tostring,
                     const char *methods_field)
{
    luaL_newmetatable(L, mt);
    lua_pushcfunction(L, release);
    lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, release);
    lua_setfield(L, -2, "__close");
    lua_pushcfunction(L, tostring);
    lua_setfield(L, -2, "__tostring");
    lua_getfield(L, -1, "__index");
    if (!lua_istable(L, -1)) {
        lua_pop(L, 1);
        lua_newtable(L);
        lua_pushvalue(L, -1);
        lua_setfield(L, -3, "__index");
    }
    lua_setfield(L, -3, methods_field);
    lua_pop(L, 1);
}

void mjl_sandbox_register(lua_State *L)
{
    new_type(L, SANDBOX_MT, sandbox_release, sandbox_tostring, "sandbox_methods");
    new_type(L, PROCESS_MT, process_release, process_tostring, "process_methods");
    luaL_newlib(L, sandbox_ops);
    lua_setfield(L, -2, "sandbox_ops");
    luaL_newlib(L, process_ops);
    lua_setfield(L, -2, "process_ops");
    lua_pushcfunction(L, core_sandbox);
    lua_setfield(L, -2, "sandbox");
    lua_pushcfunction(L, core_open);
    lua_setfield(L, -2, "open");
    lua_pushcfunction(L, core_list);
    lua_setfield(L, -2, "list");
}

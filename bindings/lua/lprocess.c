/* lprocess.c — the Process userdata of the Lua binding: a command streaming in a persistent
 * sandbox (mj_process_t).
 *
 * Owns: the metatable "moonjail.Process" and its primitives core.process_ops (read, write,
 * close_stdin, pid, kill, wait, poll, close, is_closed); scripts/moonjail/sandbox.lua writes the
 * methods users call over them into core.process_methods, its __index table.  A Process keeps
 * the Sandbox it came from alive (user value 1) and its result once waited (user value 2); the
 * Sandbox keeps a weak set of its processes and frees them before itself (lsandbox.c).
 * Must never: call up into the Sandbox (lsandbox.c stands above it), raise while holding a
 * handle no userdata owns, let a closed stdin kill the host with SIGPIPE, or block forever
 * without the caller having asked to (read/wait without a timeout do).
 */
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lua.h>

#include "lbox.h"
#include "lerror.h"
#include "lhandle.h"
#include "lprocess.h"
#include "lresult.h"

/* User values: 1 = its Sandbox userdata (kept alive), 2 = the result once waited. */
typedef struct {
    mjl_handle_t h; /* mj_process_t * */
    bool out_eof, err_eof;
    bool prefer_err; /* alternates which stream read() serves first when both have data */
} process_ud;

static void free_process(void *p)
{
    mj_process_free(p); /* kills the command if it still runs */
}

static void describe_process(lua_State *L, void *p)
{
    lua_pushfstring(L, "moonjail.Process (pid %d)", (int)mj_process_pid(p));
}

static const mjl_handle_type_t process_type = {
    .mt = "moonjail.Process",
    .what = "process",
    .free = free_process,
    .describe = describe_process,
    .ops_field = "process_ops",
    .methods_field = "process_methods",
};

static process_ud *check_process(lua_State *L, int idx)
{
    return mjl_handle_check(L, idx, &process_type);
}

mjl_handle_t *mjl_process_new(lua_State *L, int sandbox)
{
    sandbox = lua_absindex(L, sandbox);
    process_ud *pu = mjl_handle_new(L, &process_type, sizeof *pu, 2);
    lua_pushvalue(L, sandbox);
    lua_setiuservalue(L, -2, 1);
    return &pu->h;
}

void mjl_process_release(lua_State *L, int idx)
{
    mjl_handle_release(L, idx, &process_type);
}

int mjl_check_signal(lua_State *L, int idx)
{
    lua_Integer sig = luaL_checkinteger(L, idx);
    if (sig < 0 || sig > 64)
        luaL_argerror(L, idx, "not a signal number");
    return (int)sig;
}

static double monotonic_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ops.read(p, which|nil, timeout|nil) -> chunk, stream | nil (end of the stream(s)) |
 * nil, err (TIMEOUT when timeout seconds pass without data).  which: "stdout", "stderr" or nil
 * for whichever has data first.  Blocks (timeout nil or < 0) until data, EOF or the timeout. */
static int process_read(lua_State *L)
{
    process_ud *pu = check_process(L, 1);
    mj_process_t *p = pu->h.handle;
    static const char *const which_names[] = {"any", "stdout", "stderr", NULL};
    int which = luaL_checkoption(L, 2, "any", which_names);
    double timeout = luaL_optnumber(L, 3, -1.0);
    double deadline = timeout >= 0 ? monotonic_now() + timeout : 0;
    char buf[65536];

    for (;;) {
        int fds[2] = {mj_process_stdout_fd(p), mj_process_stderr_fd(p)};
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
            return mjl_fail_errno(L, "COMMAND_EXECUTION_FAILED", errno, "poll");
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
    mj_process_t *p = check_process(L, 1)->h.handle;
    size_t len;
    const char *data = luaL_checklstring(L, 2, &len);
    int fd = mj_process_stdin_fd(p);
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
            return mjl_fail_errno(L, "FILE_OPERATION_FAILED", errno, "writing to the process's stdin");
        }
        data += n;
        len -= (size_t)n;
    }
    lua_pushboolean(L, 1);
    return 1;
}

static int process_close_stdin(lua_State *L)
{
    mj_process_close_stdin(check_process(L, 1)->h.handle);
    return 0;
}

static int process_pid(lua_State *L)
{
    lua_pushinteger(L, mj_process_pid(check_process(L, 1)->h.handle));
    return 1;
}

/* ops.kill(p, sig|nil): sig to the command, or (nil) SIGKILL to it and everything it started. */
static int process_kill(lua_State *L)
{
    mj_process_t *p = check_process(L, 1)->h.handle;
    bool tree = lua_isnoneornil(L, 2);
    int sig = tree ? 0 : mjl_check_signal(L, 2);
    mjl_box_t *box = mjl_new_box(L);
    int rc = tree ? mj_process_kill_tree(p, &box->err) : mj_process_signal(p, sig, &box->err);
    return mjl_push_status(L, rc, box);
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
    if (mj_process_wait(pu->h.handle, timeout, &box->res, &box->err) < 0)
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
    int rc = mj_process_poll(pu->h.handle, &box->res, &box->err);
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

static const luaL_Reg process_ops[] = {
    {"read", process_read},
    {"write", process_write},
    {"close_stdin", process_close_stdin},
    {"pid", process_pid},
    {"kill", process_kill},
    {"wait", process_wait},
    {"poll", process_poll},
    {NULL, NULL},
};

void mjl_process_register(lua_State *L)
{
    mjl_handle_register(L, &process_type, process_ops);
}

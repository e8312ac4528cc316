/* lposix.c — the small POSIX library of the Lua binding: what the Lua side needs of the host
 * that Lua 5.4 itself lacks.
 *
 * Owns: core.path_kind, core.lstat_type, core.realpath, core.readable, core.list_dir,
 * core.mkdir_private, core.chmod, core.process_start, core.euid, core.sleep, core.now, core.isatty
 * and core.platform.
 * Must never: follow a symlink where the function says it does not (lstat_type, chmod, list_dir),
 * touch anything of a sandbox, or return moonjail error objects: these answer nil, message (and
 * errno where documented), as Lua's io library does.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lua.h>

#include "largs.h"
#include "lbox.h"
#include "lposix.h"
#include "lresult.h"

/* core.path_kind(path) -> "file" | "directory" | "other" | nil, strerror  (follows symlinks) */
static int core_path_kind(lua_State *L)
{
    struct stat st;
    if (stat(mjl_checkcstring(L, 1), &st) < 0) {
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
    const char *path = mjl_checkcstring(L, 1);
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
    const char *path = mjl_checkcstring(L, 1);
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
    const char *path = mjl_checkcstring(L, 1);
    char *r = realpath(path, NULL);
    if (!r)
        return push_errno(L, "resolving", path);
    lua_pushstring(L, r);
    free(r);
    return 1;
}

/* core.readable(path) -> boolean: may the caller's real ids read path (access(2), R_OK)? */
static int core_readable(lua_State *L)
{
    lua_pushboolean(L, access(mjl_checkcstring(L, 1), R_OK) == 0);
    return 1;
}

/* core.lstat_type(path) -> "file" | "directory" | "symlink" | "other" | nil (missing), msg */
static int core_lstat_type(lua_State *L)
{
    const char *path = mjl_checkcstring(L, 1);
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
    const char *path = mjl_checkcstring(L, 1);
    mjl_box_t *box = mjl_new_box(L); /* owns the names until the function returns */
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    DIR *d = fd < 0 ? NULL : fdopendir(fd);
    if (!d) {
        int saved = errno;
        if (fd >= 0)
            close(fd);
        errno = saved;
        return push_errno(L, "listing", path);
    }
    size_t cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL && box->n_names < 100000) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (box->n_names == cap) {
            cap = cap ? cap * 2 : 32;
            char **grown = realloc(box->names, cap * sizeof(*box->names));
            if (!grown)
                break;
            box->names = grown;
        }
        box->names[box->n_names] = strdup(e->d_name);
        if (box->names[box->n_names])
            box->n_names++;
    }
    closedir(d);
    if (box->n_names > 1) /* (qsort takes no NULL array) */
        qsort(box->names, box->n_names, sizeof(*box->names), cmp_str);
    mjl_push_strings(L, box->names, box->n_names);
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
/* core.isatty(fd) -> boolean */
static int core_isatty(lua_State *L)
{
    lua_Integer fd = luaL_checkinteger(L, 1);
    lua_pushboolean(L, fd >= 0 && fd <= INT_MAX && isatty((int)fd) == 1);
    return 1;
}

static int core_now(lua_State *L)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    lua_pushnumber(L, (double)ts.tv_sec + (double)ts.tv_nsec / 1e9);
    return 1;
}

/* core.platform() -> "linux/amd64", from uname(2), in OCI's architecture names. */
static int core_platform(lua_State *L)
{
    struct utsname u;
    const char *arch = "unknown";
    if (uname(&u) == 0) {
        arch = u.machine;
        if (strcmp(arch, "x86_64") == 0)
            arch = "amd64";
        else if (strcmp(arch, "aarch64") == 0)
            arch = "arm64";
        else if (strcmp(arch, "i386") == 0 || strcmp(arch, "i686") == 0)
            arch = "386";
        else if (strncmp(arch, "armv7", 5) == 0 || strncmp(arch, "armv6", 5) == 0)
            arch = "arm";
    }
    lua_pushfstring(L, "linux/%s", arch);
    return 1;
}

static const luaL_Reg posix_funcs[] = {
    {"path_kind", core_path_kind},
    {"lstat_type", core_lstat_type},
    {"realpath", core_realpath},
    {"readable", core_readable},
    {"list_dir", core_list_dir},
    {"mkdir_private", core_mkdir_private},
    {"chmod", core_chmod},
    {"process_start", core_process_start},
    {"euid", core_euid},
    {"sleep", core_sleep},
    {"now", core_now},
    {"isatty", core_isatty},
    {"platform", core_platform},
    {NULL, NULL},
};

void mjl_posix_register(lua_State *L)
{
    luaL_setfuncs(L, posix_funcs, 0);
}

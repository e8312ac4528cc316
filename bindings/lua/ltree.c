/* ltree.c — the host file-tree primitives of the Lua binding, for repository mounts.
 *
 * Owns: core.fetch, core.unpack, core.walk, core.remove_tree, core.mkdtemp, core.overlay_diff,
 * core.overlay_export, core.git_archive and core.git_clone (scripts/moonjail/repo.lua builds on
 * them; the image load uses unpack, walk, sha256_file and remove_tree through core.image), their
 * argument checks, and the Lua shape of walk and diff results.
 * Must never: raise while it holds C memory.  Walk and diff results are gathered into a
 * to-be-closed "moonjail.tree_list" userdata before any Lua table is built, and errors sit in a
 * box, so a memory error while pushing frees everything.  Runtime failures return nil, err;
 * wrong argument types and unknown option names raise.
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <lauxlib.h>
#include <lua.h>

#include "largs.h"
#include "lbox.h"
#include "lerror.h"
#include "ltree.h"
#include "lutil.h"
#include "moonjail/moonjail.h"

#include "digest.h"
#include "fetch.h"
#include "git.h"
#include "overlay.h"
#include "tree.h"
#include "unpack.h"

#define TREE_LIST_MT "moonjail.tree_list"

typedef struct {
    char *path;
    char *target;  /* walk: symlinks only */
    mode_t mode;
    uint64_t size, dev, ino, nlink;
    uint64_t uid, gid;
    double mtime;
    mj_diff_kind_t kind; /* diff */
} tree_item_t;

typedef struct {
    tree_item_t *v;
    size_t n, cap;
    bool oom;
} tree_list_t;

/* __gc and __close of the list: idempotent. */
static int list_release(lua_State *L)
{
    tree_list_t *l = luaL_checkudata(L, 1, TREE_LIST_MT);
    for (size_t i = 0; i < l->n; i++) {
        free(l->v[i].path);
        free(l->v[i].target);
    }
    free(l->v);
    memset(l, 0, sizeof(*l));
    return 0;
}

/* Pushes a new empty list and marks its stack slot to-be-closed. */
static tree_list_t *new_list(lua_State *L)
{
    return mjl_new_tbc(L, sizeof(tree_list_t), TREE_LIST_MT);
}

/* A new zeroed item with a copy of path, or NULL (oom set) when memory ran out. */
static tree_item_t *list_push(tree_list_t *l, const char *path)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        tree_item_t *v = realloc(l->v, cap * sizeof(*v));
        if (!v) {
            l->oom = true;
            return NULL;
        }
        l->v = v;
        l->cap = cap;
    }
    char *copy = strdup(path);
    if (!copy) {
        l->oom = true;
        return NULL;
    }
    tree_item_t *it = &l->v[l->n++];
    memset(it, 0, sizeof(*it));
    it->path = copy;
    return it;
}

static const char *type_name(mode_t m)
{
    return S_ISREG(m) ? "file" : S_ISDIR(m) ? "dir" : S_ISLNK(m) ? "symlink" : "other";
}

/* An optional byte count or limit at arg: absent/nil = 0 (the default). */
static uint64_t opt_count(lua_State *L, int arg)
{
    if (lua_isnoneornil(L, arg))
        return 0;
    lua_Integer v = luaL_checkinteger(L, arg);
    if (v < 0)
        luaL_argerror(L, arg, "must be an integer >= 0");
    return (uint64_t)v;
}

/* The Lua function at stack index `fn` told how a download goes: it must not raise through
 * libcurl, so it runs protected; an error or a false return stops the transfer. */
typedef struct {
    lua_State *L;
    int fn;
} fetch_progress_t;

static int call_progress(uint64_t done, uint64_t total, void *ud)
{
    fetch_progress_t *p = ud;
    lua_pushvalue(p->L, p->fn);
    lua_pushinteger(p->L, (lua_Integer)done);
    if (total)
        lua_pushinteger(p->L, (lua_Integer)total);
    else
        lua_pushnil(p->L);
    if (lua_pcall(p->L, 2, 1, 0) != LUA_OK) {
        lua_pop(p->L, 1);
        return -1;
    }
    int stop = lua_isboolean(p->L, -1) && !lua_toboolean(p->L, -1);
    lua_pop(p->L, 1);
    return stop ? -1 : 0;
}

/* core.fetch(url, dest [, max_bytes [, progress(done, total|nil) -> false to stop]]) -> true | nil, err */
static int tree_fetch(lua_State *L)
{
    const char *url = mjl_checkcstring(L, 1);
    const char *dest = mjl_checkcstring(L, 2);
    uint64_t max = opt_count(L, 3);
    if (!lua_isnoneornil(L, 4))
        luaL_checktype(L, 4, LUA_TFUNCTION);
    fetch_progress_t progress = {.L = L, .fn = 4};
    mjl_box_t *box = mjl_new_box(L);
    int rc = mj_fetch_url_progress(url, dest, max, lua_isfunction(L, 4) ? call_progress : NULL, &progress, &box->err);
    return mjl_push_status(L, rc, box);
}

/* core.unpack(archive, dest [, {max_bytes=, max_entries=, strip_components=}]) -> true | nil, err */
static int tree_unpack(lua_State *L)
{
    const char *archive = mjl_checkcstring(L, 1);
    const char *dest = mjl_checkcstring(L, 2);
    mj_unpack_limits_t lim = {0};
    if (!lua_isnoneornil(L, 3)) {
        luaL_checktype(L, 3, LUA_TTABLE);
        lua_pushnil(L);
        while (lua_next(L, 3) != 0) {
            if (lua_type(L, -2) != LUA_TSTRING)
                return luaL_argerror(L, 3, "option names must be strings");
            const char *key = lua_tostring(L, -2);
            int isnum = 0;
            lua_Integer v = lua_type(L, -1) == LUA_TNUMBER ? lua_tointegerx(L, -1, &isnum) : 0;
            if (!isnum || v < 0)
                return luaL_error(L, "core.unpack: option '%s' must be an integer >= 0", key);
            if (strcmp(key, "max_bytes") == 0) {
                lim.max_bytes = (uint64_t)v;
            } else if (strcmp(key, "max_entries") == 0) {
                lim.max_entries = (uint64_t)v;
            } else if (strcmp(key, "strip_components") == 0) {
                if (v > 4096)
                    return luaL_error(L, "core.unpack: option 'strip_components' must be at most 4096");
                lim.strip_components = (unsigned)v;
            } else {
                return luaL_error(L, "core.unpack: unknown option '%s'", key);
            }
            lua_pop(L, 1);
        }
    }
    mjl_box_t *box = mjl_new_box(L);
    int rc = mj_unpack_archive(archive, dest, &lim, &box->err);
    return mjl_push_status(L, rc, box);
}

static int walk_collect(const mj_tree_entry_t *e, void *ud)
{
    tree_list_t *l = ud;
    tree_item_t *it = list_push(l, e->path);
    if (!it)
        return -1;
    if (e->link_target && !(it->target = strdup(e->link_target))) {
        l->oom = true;
        return -1;
    }
    it->mode = e->mode;
    it->size = e->size;
    it->dev = (uint64_t)e->dev;
    it->ino = (uint64_t)e->ino;
    it->nlink = (uint64_t)e->nlink;
    it->uid = e->uid;
    it->gid = e->gid;
    it->mtime = e->mtime;
    return 0;
}

/* core.walk(root) -> array of {path, type, mode, size, dev, ino, nlink, uid, gid, mtime, target} */
static int tree_walk(lua_State *L)
{
    const char *root = mjl_checkcstring(L, 1);
    mjl_box_t *box = mjl_new_box(L);
    tree_list_t *l = new_list(L);
    int rc = mj_tree_walk(root, walk_collect, l, &box->err);
    if (l->oom)
        return luaL_error(L, "core.walk: not enough memory");
    if (rc < 0)
        return mjl_fail(L, box->err, "walk failed");
    lua_createtable(L, l->n > INT_MAX ? INT_MAX : (int)l->n, 0);
    for (size_t i = 0; i < l->n; i++) {
        const tree_item_t *it = &l->v[i];
        lua_createtable(L, 0, 11);
        mjl_set_str(L, "path", it->path);
        mjl_set_str(L, "type", type_name(it->mode));
        mjl_set_int(L, "mode", (lua_Integer)(it->mode & 07777));
        mjl_set_int(L, "size", mjl_clamp_u64(it->size));
        mjl_set_int(L, "dev", mjl_clamp_u64(it->dev));
        mjl_set_int(L, "ino", mjl_clamp_u64(it->ino));
        mjl_set_int(L, "nlink", mjl_clamp_u64(it->nlink));
        mjl_set_int(L, "uid", (lua_Integer)it->uid);
        mjl_set_int(L, "gid", (lua_Integer)it->gid);
        mjl_set_num(L, "mtime", it->mtime);
        if (it->target)
            mjl_set_str(L, "target", it->target);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    return 1;
}

/* core.remove_tree(path) -> true | nil, err */
static int tree_remove(lua_State *L)
{
    const char *path = mjl_checkcstring(L, 1);
    mjl_box_t *box = mjl_new_box(L);
    int rc = mj_tree_remove(path, &box->err);
    return mjl_push_status(L, rc, box);
}

/* core.mkdtemp(prefix) -> path | nil, err: a new directory prefix .. "XXXXXX", mode 0700 */
static int tree_mkdtemp(lua_State *L)
{
    size_t len;
    const char *prefix = luaL_checklstring(L, 1, &len);
    char path[PATH_MAX];
    if (len + sizeof("XXXXXX") > sizeof(path) || strlen(prefix) != len)
        return luaL_argerror(L, 1, "prefix too long or holding a NUL byte");
    memcpy(path, prefix, len);
    memcpy(path + len, "XXXXXX", sizeof("XXXXXX"));
    if (!mkdtemp(path)) {
        int e = errno;
        mjl_box_t *box = mjl_new_box(L);
        box->err = mj_error_new(e == EACCES || e == EPERM ? MJ_ERR_PERMISSION_DENIED : MJ_ERR_FILE_OPERATION_FAILED, e,
                                "mkdtemp %sXXXXXX: %s", prefix, strerror(e));
        return mjl_fail(L, box->err, "mkdtemp failed");
    }
    lua_pushstring(L, path);
    return 1;
}

static int diff_collect(const char *path, mj_diff_kind_t kind, mode_t mode, void *ud)
{
    tree_list_t *l = ud;
    tree_item_t *it = list_push(l, path);
    if (!it)
        return -1;
    it->kind = kind;
    it->mode = mode;
    return 0;
}

int mjl_push_diff(lua_State *L, int (*run)(void *ctx, mj_diff_fn fn, void *ud, mj_error_t **err), void *ctx)
{
    mjl_box_t *box = mjl_new_box(L);
    tree_list_t *l = new_list(L);
    int rc = run(ctx, diff_collect, l, &box->err);
    if (l->oom)
        return luaL_error(L, "diff: not enough memory");
    if (rc < 0)
        return mjl_fail(L, box->err, "diff failed");
    lua_createtable(L, l->n > INT_MAX ? INT_MAX : (int)l->n, 0);
    for (size_t i = 0; i < l->n; i++) {
        const tree_item_t *it = &l->v[i];
        lua_createtable(L, 0, 3);
        mjl_set_str(L, "path", it->path);
        mjl_set_str(L, "kind", it->kind == MJ_DIFF_ADDED ? "added" : it->kind == MJ_DIFF_MODIFIED ? "modified" : "deleted");
        mjl_set_str(L, "type", type_name(it->mode));
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    return 1;
}

typedef struct {
    const char *upper, *lower;
} overlay_pair_t;

static int run_overlay_diff(void *ctx, mj_diff_fn fn, void *ud, mj_error_t **err)
{
    overlay_pair_t *p = ctx;
    return mj_overlay_diff(p->upper, p->lower, fn, ud, err);
}

/* core.overlay_diff(upper, lower) -> array of {path, kind = "added"|"modified"|"deleted", type} */
static int tree_overlay_diff(lua_State *L)
{
    overlay_pair_t p = {mjl_checkcstring(L, 1), mjl_checkcstring(L, 2)};
    return mjl_push_diff(L, run_overlay_diff, &p);
}

/* core.overlay_export(upper, lower, dest) -> true | nil, err */
static int tree_overlay_export(lua_State *L)
{
    const char *upper = mjl_checkcstring(L, 1);
    const char *lower = mjl_checkcstring(L, 2);
    const char *dest = mjl_checkcstring(L, 3);
    mjl_box_t *box = mjl_new_box(L);
    int rc = mj_overlay_export(upper, lower, dest, &box->err);
    return mjl_push_status(L, rc, box);
}

/* core.git_archive(repo, ref, dest) -> true | nil, err */
static int tree_git_archive(lua_State *L)
{
    const char *repo = mjl_checkcstring(L, 1);
    const char *ref = mjl_checkcstring(L, 2);
    const char *dest = mjl_checkcstring(L, 3);
    mjl_box_t *box = mjl_new_box(L);
    int rc = mj_git_archive(repo, ref, dest, &box->err);
    return mjl_push_status(L, rc, box);
}

/* core.git_clone(url, branch, cache_dir, dest) -> true | nil, err */
static int tree_git_clone(lua_State *L)
{
    const char *url = mjl_checkcstring(L, 1);
    const char *branch = mjl_optcstring(L, 2, "HEAD");
    const char *cache = mjl_checkcstring(L, 3);
    const char *dest = mjl_checkcstring(L, 4);
    mjl_box_t *box = mjl_new_box(L);
    int rc = mj_git_clone_archive(url, branch, cache, dest, &box->err);
    return mjl_push_status(L, rc, box);
}

/* core.sha256_file(path) -> 64 hex digits | nil, err */
static int tree_sha256_file(lua_State *L)
{
    const char *path = mjl_checkcstring(L, 1);
    mjl_box_t *box = mjl_new_box(L);
    char hex[65];
    int rc = mj_file_sha256(path, hex, &box->err);
    if (rc < 0)
        return mjl_push_status(L, rc, box);
    lua_pushstring(L, hex);
    return 1;
}

static const luaL_Reg tree_funcs[] = {
    {"sha256_file", tree_sha256_file},
    {"fetch", tree_fetch},
    {"unpack", tree_unpack},
    {"walk", tree_walk},
    {"remove_tree", tree_remove},
    {"mkdtemp", tree_mkdtemp},
    {"overlay_diff", tree_overlay_diff},
    {"overlay_export", tree_overlay_export},
    {"git_archive", tree_git_archive},
    {"git_clone", tree_git_clone},
    {NULL, NULL},
};

static const luaL_Reg image_funcs[] = {
    {"unpack_archive", tree_unpack},
    {"walk", tree_walk},
    {"sha256_file", tree_sha256_file},
    {"remove_tree", tree_remove},
    {NULL, NULL},
};

void mjl_tree_add_to_images(lua_State *L)
{
    luaL_setfuncs(L, image_funcs, 0);
}

void mjl_tree_register(lua_State *L)
{
    if (luaL_newmetatable(L, TREE_LIST_MT)) {
        lua_pushcfunction(L, list_release);
        lua_setfield(L, -2, "__gc");
        lua_pushcfunction(L, list_release);
        lua_setfield(L, -2, "__close");
    }
    lua_pop(L, 1);
    luaL_setfuncs(L, tree_funcs, 0);
}

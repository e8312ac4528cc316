/* embedded.c — serves the Lua modules and policies compiled into moonjail (see embedded.h).
 *
 * Owns: the package.searchers entry for "moonjail.*" and the lookup of shipped policy texts, with
 * the MOONJAIL_LUA_DIR development override.  Never runs the code it serves: it only loads it.
 */
#include "embedded.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <lauxlib.h>

#include "largs.h"

#define MODULE_PREFIX "moonjail."
#define MAX_FILE_SIZE (16u << 20) /* a policy or script larger than this is a mistake */

/* The development override, or NULL. */
static const char *lua_dir(void)
{
    const char *dir = getenv("MOONJAIL_LUA_DIR");
    return dir && *dir ? dir : NULL;
}

static const struct mjl_blob *find_blob(const struct mjl_blob *table, const char *name)
{
    for (; table->name; table++)
        if (strcmp(table->name, name) == 0)
            return table;
    return NULL;
}

static int is_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
}

/* A policy name: one or more name characters (no '/', no '.', so never a path). */
static int valid_policy_name(const char *name)
{
    if (!name || !*name)
        return 0;
    for (; *name; name++)
        if (!is_name_char(*name))
            return 0;
    return 1;
}

/* "moonjail.a.b": the prefix, then non-empty components of name characters. */
static int valid_module_name(const char *name)
{
    size_t plen = strlen(MODULE_PREFIX);
    if (strncmp(name, MODULE_PREFIX, plen) != 0)
        return 0;
    const char *p = name + plen;
    if (!*p)
        return 0;
    for (const char *prev = name + plen - 1; *p; prev = p, p++) {
        if (*p == '.' ? *prev == '.' : !is_name_char(*p))
            return 0;
    }
    return p[-1] != '.';
}

/* Reads a whole regular file (NUL-terminated) into malloc'd memory; NULL on any failure.
 * O_NONBLOCK + S_ISREG: a FIFO planted at the path cannot hang us. */
static char *read_regular_file(const char *path, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0)
        return NULL;
    struct stat st;
    char *data = NULL;
    size_t used = 0;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (uintmax_t)st.st_size > MAX_FILE_SIZE)
        goto fail;
    size_t cap = (size_t)st.st_size + 1;
    data = malloc(cap);
    if (!data)
        goto fail;
    for (;;) {
        if (used + 1 == cap) { /* the file grew while we read it */
            if (cap > MAX_FILE_SIZE)
                goto fail;
            char *bigger = realloc(data, cap * 2);
            if (!bigger)
                goto fail;
            data = bigger;
            cap *= 2;
        }
        ssize_t n = read(fd, data + used, cap - 1 - used);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            goto fail;
        if (n == 0)
            break;
        used += (size_t)n;
    }
    close(fd);
    data[used] = '\0';
    *len = used;
    return data;
fail:
    free(data);
    close(fd);
    return NULL;
}

static int searcher(lua_State *L)
{
    const char *name = mjl_checkcstring(L, 1);
    if (!valid_module_name(name)) {
        lua_pushfstring(L, "no embedded module '%s'", name);
        return 1;
    }
    const char *dir = lua_dir();
    if (dir) {
        /* $DIR/scripts/moonjail/a/b.lua for "moonjail.a.b" */
        const char *rel = luaL_gsub(L, name, ".", "/");
        const char *path = lua_pushfstring(L, "%s/scripts/%s.lua", dir, rel);
        if (access(path, F_OK) == 0) {
            if (luaL_loadfilex(L, path, "t") != LUA_OK)
                return luaL_error(L, "error loading module '%s' from file '%s':\n\t%s", name, path,
                                  lua_tostring(L, -1));
            lua_pushstring(L, path);
            return 2;
        }
        lua_pop(L, 2);
    }
    const struct mjl_blob *blob = find_blob(mjl_embedded_modules, name);
    if (!blob) {
        lua_pushfstring(L, "no embedded module '%s'", name);
        return 1;
    }
    if (luaL_loadbufferx(L, (const char *)blob->data, blob->len, blob->path, "b") != LUA_OK)
        return luaL_error(L, "error loading embedded module '%s':\n\t%s", name, lua_tostring(L, -1));
    lua_pushstring(L, blob->path);
    return 2;
}

void mjl_install_searcher(lua_State *L)
{
    lua_getfield(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
    lua_getfield(L, -1, "package");
    if (!lua_istable(L, -1) || lua_getfield(L, -1, "searchers") != LUA_TTABLE)
        luaL_error(L, "moonjail: the package library is not open");
    lua_Integer n = luaL_len(L, -1);
    for (lua_Integer i = 1; i <= n; i++) {
        lua_rawgeti(L, -1, i);
        int ours = lua_tocfunction(L, -1) == searcher;
        lua_pop(L, 1);
        if (ours) {
            lua_pop(L, 3);
            return;
        }
    }
    for (lua_Integer i = n; i >= 2; i--) { /* make room at 2, after package.preload */
        lua_rawgeti(L, -1, i);
        lua_rawseti(L, -2, i + 1);
    }
    lua_pushcfunction(L, searcher);
    lua_rawseti(L, -2, n >= 1 ? 2 : 1);
    lua_pop(L, 3);
}

static char *policy_text; /* the last text read from MOONJAIL_LUA_DIR */

const char *mjl_policy_source(const char *name, size_t *len)
{
    size_t ignored;
    if (!len)
        len = &ignored;
    if (!valid_policy_name(name))
        return NULL;
    const char *dir = lua_dir();
    if (dir) {
        size_t size = strlen(dir) + strlen(name) + sizeof "/policies/.lua";
        char *path = malloc(size);
        if (path) {
            snprintf(path, size, "%s/policies/%s.lua", dir, name);
            char *text = read_regular_file(path, len);
            free(path);
            if (text) {
                free(policy_text);
                policy_text = text;
                return text;
            }
        }
    }
    const struct mjl_blob *blob = find_blob(mjl_embedded_policies, name);
    if (!blob)
        return NULL;
    *len = blob->len;
    return (const char *)blob->data;
}

static char **policy_names; /* the last list built, NULL-terminated, every string owned */

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Appends a copy of name (first len bytes) to *list; returns 0 or -1 when out of memory. */
static int append_name(char ***list, size_t *count, size_t *cap, const char *name, size_t len)
{
    if (*count + 2 > *cap) {
        size_t bigger = *cap ? *cap * 2 : 16;
        char **grown = realloc(*list, bigger * sizeof **list);
        if (!grown)
            return -1;
        *list = grown;
        *cap = bigger;
    }
    char *copy = strndup(name, len);
    if (!copy)
        return -1;
    (*list)[(*count)++] = copy;
    (*list)[*count] = NULL;
    return 0;
}

static void free_names(char **list)
{
    for (char **p = list; p && *p; p++)
        free(*p);
    free(list);
}

const char *const *mjl_policy_names(void)
{
    static const char *const empty[] = {NULL};
    char **list = NULL;
    size_t count = 0, cap = 0;

    for (const struct mjl_blob *b = mjl_embedded_policies; b->name; b++)
        if (append_name(&list, &count, &cap, b->name, strlen(b->name)) != 0)
            goto oom;
    const char *dir = lua_dir();
    if (dir) {
        size_t size = strlen(dir) + sizeof "/policies";
        char *path = malloc(size);
        if (!path)
            goto oom;
        snprintf(path, size, "%s/policies", dir);
        DIR *d = opendir(path);
        free(path);
        for (struct dirent *e; d && (e = readdir(d));) {
            size_t n = strlen(e->d_name);
            if (n <= 4 || strcmp(e->d_name + n - 4, ".lua") != 0)
                continue;
            char stem[256];
            snprintf(stem, sizeof stem, "%.*s", (int)(n - 4), e->d_name);
            if (valid_policy_name(stem) && append_name(&list, &count, &cap, stem, n - 4) != 0) {
                closedir(d);
                goto oom;
            }
        }
        if (d)
            closedir(d);
    }
    if (count > 1) {
        qsort(list, count, sizeof *list, compare_names);
        size_t kept = 1;
        for (size_t i = 1; i < count; i++) {
            if (strcmp(list[i], list[kept - 1]) == 0)
                free(list[i]);
            else
                list[kept++] = list[i];
        }
        count = kept;
        list[count] = NULL;
    }
    free_names(policy_names);
    policy_names = list;
    return list ? (const char *const *)list : empty;
oom:
    free_names(list);
    return empty;
}

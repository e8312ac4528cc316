/* embed.c — build-time tool: turns the Lua files shipped inside moonjail into one C source.
 *
 *   embed OUT.c [--modules FILE...] [--policies FILE...]
 *
 * Run from the source root with paths relative to it.  Each module file scripts/A/B.lua becomes
 * the module "A.B", stored as Lua 5.4 bytecode with debug info (loaded from the file name itself,
 * so its chunkname is "@scripts/A/B.lua" and tracebacks point at the source).  Each policy file
 * policies/NAME.lua becomes the policy "NAME", stored as source text: policies are only ever loaded
 * in text mode.  Both are compiled here, so a syntax error fails the build.
 *
 * The output defines mjl_embedded_modules[] and mjl_embedded_policies[] (see
 * bindings/lua/embedded.h), each sorted by name and ended by an entry whose name is NULL.  It is
 * written to OUT.c.tmp and renamed, so an interrupted build never leaves half a file.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

struct item {
    char *name;
    const char *path;
    unsigned char *data;
    size_t len;
};

struct buffer {
    unsigned char *data;
    size_t len, cap;
};

__attribute__((format(printf, 1, 2), noreturn)) static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "embed: ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

static void *xrealloc(void *p, size_t n)
{
    p = realloc(p, n ? n : 1);
    if (!p)
        die("out of memory");
    return p;
}

static void buffer_add(struct buffer *b, const void *p, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        while (b->len + n + 1 > b->cap)
            b->cap = b->cap ? b->cap * 2 : 4096;
        b->data = xrealloc(b->data, b->cap);
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

static int dump_writer(lua_State *L, const void *p, size_t n, void *ud)
{
    (void)L;
    buffer_add(ud, p, n);
    return 0;
}

/* Length of path without its ".lua" suffix. */
static size_t stem_len(const char *path)
{
    size_t len = strlen(path);
    if (len < 5 || strcmp(path + len - 4, ".lua") != 0)
        die("%s: not a .lua file", path);
    return len - 4;
}

/* scripts/moonjail/x/y.lua → "moonjail.x.y" */
static char *module_name(const char *path)
{
    const char *prefix = "scripts/";
    if (strncmp(path, prefix, strlen(prefix)) != 0)
        die("%s: modules must live under %s", path, prefix);
    size_t n = stem_len(path) - strlen(prefix);
    char *name = xrealloc(NULL, n + 1);
    memcpy(name, path + strlen(prefix), n);
    name[n] = '\0';
    for (char *p = name; *p; p++)
        if (*p == '/')
            *p = '.';
    return name;
}

/* policies/NAME.lua → "NAME" */
static char *policy_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    size_t n = stem_len(base);
    char *name = xrealloc(NULL, n + 1);
    memcpy(name, base, n);
    name[n] = '\0';
    return name;
}

static void load_module(lua_State *L, struct item *it)
{
    struct buffer b = {0};
    if (luaL_loadfilex(L, it->path, "t") != LUA_OK)
        die("%s", lua_tostring(L, -1));
    if (lua_dump(L, dump_writer, &b, 0) != 0)
        die("%s: lua_dump failed", it->path);
    lua_pop(L, 1);
    it->data = b.data;
    it->len = b.len;
}

static void load_policy(lua_State *L, struct item *it)
{
    struct buffer b = {0};
    FILE *f = fopen(it->path, "rb");
    if (!f)
        die("%s: %s", it->path, strerror(errno));
    unsigned char chunk[8192];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        buffer_add(&b, chunk, n);
    if (ferror(f))
        die("%s: %s", it->path, strerror(errno));
    fclose(f);
    /* Checked with the chunkname the file has on disk; the loader picks its own at run time. */
    lua_pushfstring(L, "@%s", it->path);
    if (luaL_loadbufferx(L, b.data ? (const char *)b.data : "", b.len, lua_tostring(L, -1), "t") != LUA_OK)
        die("%s", lua_tostring(L, -1));
    lua_pop(L, 2);
    it->data = b.data;
    it->len = b.len;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(((const struct item *)a)->name, ((const struct item *)b)->name);
}

static void write_table(FILE *out, const char *table, const char *prefix, struct item *items, size_t n)
{
    qsort(items, n, sizeof *items, by_name);
    for (size_t i = 0; i + 1 < n; i++)
        if (strcmp(items[i].name, items[i + 1].name) == 0)
            die("two files define \"%s\" (%s)", items[i].name, items[i + 1].path);
    for (size_t i = 0; i < n; i++) {
        fprintf(out, "static const unsigned char %s_%zu[%zu] = {", prefix, i, items[i].len + 1);
        for (size_t j = 0; j < items[i].len; j++)
            fprintf(out, "%s0x%02x,", j % 16 == 0 ? "\n    " : "", items[i].data[j]);
        fprintf(out, "%s0x00\n};\n\n", items[i].len % 16 == 0 ? "\n    " : "");
    }
    fprintf(out, "const struct mjl_blob %s[] = {\n", table);
    for (size_t i = 0; i < n; i++)
        fprintf(out, "    {\"%s\", \"%s\", %s_%zu, %zu},\n", items[i].name, items[i].path, prefix, i,
                items[i].len);
    fprintf(out, "    {NULL, NULL, NULL, 0},\n};\n\n");
}

static void check_path(const char *path)
{
    for (const char *p = path; *p; p++)
        if (*p == '"' || *p == '\\' || (unsigned char)*p < 0x20)
            die("%s: unsupported character in file name", path);
}

int main(int argc, char **argv)
{
    if (argc < 2)
        die("usage: embed OUT.c [--modules FILE...] [--policies FILE...]");
    const char *out_path = argv[1];
    struct item *modules = xrealloc(NULL, sizeof *modules * (size_t)argc);
    struct item *policies = xrealloc(NULL, sizeof *policies * (size_t)argc);
    size_t nmodules = 0, npolicies = 0;
    int mode = 0; /* 1 modules, 2 policies */

    lua_State *L = luaL_newstate();
    if (!L)
        die("cannot create a Lua state");
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--modules") == 0) {
            mode = 1;
        } else if (strcmp(argv[i], "--policies") == 0) {
            mode = 2;
        } else if (mode == 0) {
            die("%s: expected --modules or --policies first", argv[i]);
        } else {
            check_path(argv[i]);
            struct item it = {.path = argv[i]};
            if (mode == 1) {
                it.name = module_name(it.path);
                load_module(L, &it);
                modules[nmodules++] = it;
            } else {
                it.name = policy_name(it.path);
                load_policy(L, &it);
                policies[npolicies++] = it;
            }
        }
    }
    lua_close(L);

    size_t tmp_len = strlen(out_path) + 5;
    char *tmp_path = xrealloc(NULL, tmp_len);
    snprintf(tmp_path, tmp_len, "%s.tmp", out_path);
    FILE *out = fopen(tmp_path, "w");
    if (!out)
        die("%s: %s", tmp_path, strerror(errno));
    fprintf(out, "/* Generated by tools/embed.c from scripts/ and policies/ — do not edit. */\n");
    fprintf(out, "#include <stddef.h>\n\n#include \"embedded.h\"\n\n");
    write_table(out, "mjl_embedded_modules", "mjl_module", modules, nmodules);
    write_table(out, "mjl_embedded_policies", "mjl_policy", policies, npolicies);
    if (ferror(out) || fclose(out) != 0)
        die("%s: %s", tmp_path, strerror(errno));
    if (rename(tmp_path, out_path) != 0)
        die("%s: %s", out_path, strerror(errno));

    for (size_t i = 0; i < nmodules; i++)
        free(modules[i].name), free(modules[i].data);
    for (size_t i = 0; i < npolicies; i++)
        free(policies[i].name), free(policies[i].data);
    free(modules);
    free(policies);
    free(tmp_path);
    return 0;
}

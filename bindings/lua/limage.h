/* limage.h — the image primitives of the Lua binding (not installed, not public).
 *
 * limage.c owns the registration, the registry Client userdata and small helpers (digest,
 * base64, machine); limagestore.c owns the Store and Lease userdata.  scripts/moonjail/image.lua
 * is the control plane over them.
 */
#ifndef MOONJAIL_LIMAGE_H
#define MOONJAIL_LIMAGE_H

#include <lauxlib.h>
#include <lua.h>

#include "image/registry.h"
#include "lhandle.h"

/* The handle userdata of the image binding (lhandle.h's life cycle): Client (limage.c), Store
 * (limagestore.c, limagelayer.c) and Lease (limagestore.c). */
extern const mjl_handle_type_t mjl_image_client_type;
extern const mjl_handle_type_t mjl_image_store_type;
extern const mjl_handle_type_t mjl_image_lease_type;
/* Creates the metatable mt unless it exists: __index = methods (NULL: none), __gc and __close =
 * release (idempotent), __name = mt. */
void mjl_image_type(lua_State *L, const char *mt, const luaL_Reg *methods, lua_CFunction release);

/* With the core table on top of the stack: builds the table of image primitives, sets it as
 * core.image and as package.loaded["moonjail.imagecore"] (what image.lua requires). */
void mjl_image_register(lua_State *L);

/* limagestore.c: adds store(root) to core.image (core is the table on top of the stack; call it
 * after mjl_image_register) and registers the Store and Lease metatables. */
void mjl_image_store_register(lua_State *L);

/* limagelayer.c: adds unpack_layers and layer_path to the Store type (call it after
 * mjl_image_store_register). */
void mjl_image_layer_register(lua_State *L);

/* limage.c: the client at idx (raises on a wrong or closed one). */
mj_http_client_t *mjl_check_client(lua_State *L, int idx);
/* A string argument or field that must not hold a NUL (raises naming what, never truncates). */
const char *mjl_image_cstring(lua_State *L, int idx, const char *what);
/* t[field] as an optional C string (NULL when nil), raising on another type or a NUL. */
const char *mjl_image_opt_field(lua_State *L, int t, const char *field);
/* A to-be-closed userdata that frees the C memory of one call when it returns or raises. */
typedef struct mjl_arena mjl_arena_t;
/* Pushes a new arena and marks its stack slot to-be-closed. */
mjl_arena_t *mjl_arena_new(lua_State *L);
/* Makes room for one more pointer (may raise); then mjl_arena_keep(a, p) cannot fail, so memory
 * malloc'ed in between is never lost. */
void mjl_arena_reserve(lua_State *L, mjl_arena_t *a);
void mjl_arena_keep(mjl_arena_t *a, void *p);
/* n zeroed bytes owned by the arena (raises on memory exhaustion, leaking nothing). */
void *mjl_arena_alloc(lua_State *L, mjl_arena_t *a, size_t n);
/* The array {"Name: value", …} at idx (nil: none) as a NULL-terminated array in the arena; the
 * strings stay Lua's, alive while the table is. */
const char **mjl_image_headers(lua_State *L, mjl_arena_t *a, int idx, const char *what);

#endif

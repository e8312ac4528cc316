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

/* A to-be-closed userdata that frees the C memory of one call when it returns or raises. */
typedef struct mjl_arena mjl_arena_t;

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
/* Raises "<what>: unknown option 'k'" unless every key of the table at t is in allowed
 * (NULL-terminated). */
void mjl_image_check_keys(lua_State *L, int t, const char *what, const char *const *allowed);

/* For a C function that runs a list of jobs (blobs, layers) with an optional progress function:
 * checks that argument list is a table of at most max entries and argument fn a function or
 * nil (the last argument), leaves the stack at fn with one more slot (fn + 1) for an error the
 * progress function raises, and returns the list's length. */
lua_Integer mjl_image_job_args(lua_State *L, int list, int fn, lua_Integer max, const char *what);
/* The jobs of such a call: n zeroed entries of size bytes in the arena, owned by a to-be-closed
 * holder of metatable mt whose __close clears each (mjl_image_type with a release reading the
 * holder as mjl_jobs_t). */
typedef struct {
    void *v;
    size_t n;
} mjl_jobs_t;
void *mjl_image_jobs_new(lua_State *L, mjl_arena_t *a, const char *mt, lua_Integer n, size_t size);

/* The progress function of such a call, run from C on the calling thread: what it raises is kept
 * in err_slot (and raised by mjl_progress_rethrow once C has cleaned up), never raised through C. */
typedef struct {
    lua_State *L;
    int fn;       /* stack index of the function, 0 for none */
    int err_slot; /* where an error it raises is kept */
    bool raised;
} mjl_progress_t;
/* {L, fn (0 when the argument there is nil), fn + 1}. */
mjl_progress_t mjl_progress_at(lua_State *L, int fn);
/* Pushes the function when there is one to call (room checked for nargs more); false when not. */
bool mjl_progress_push(mjl_progress_t *x, int nargs);
/* Calls it with the nargs values pushed after it: 1 to cancel (it returned false, or raised). */
int mjl_progress_call(mjl_progress_t *x, int nargs);
/* Raises what the progress function raised (call it only when x->raised). */
int mjl_progress_rethrow(mjl_progress_t *x);

/* t[field] as an optional C string (NULL when nil), raising on another type or a NUL. */
const char *mjl_image_opt_field(lua_State *L, int t, const char *field);
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

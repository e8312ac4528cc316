/* lhandle.h — the life cycle that the Sandbox and Process userdata share, as liolib's files
 * (not installed, not public).
 *
 * A handle userdata starts with an mjl_handle_t: the libmoonjail handle, NULL once released.  It
 * is created (closed) before the handle exists, so __gc can always free it; __gc and __close are
 * one idempotent function; close() on a closed one and any method on it raise "attempt to use a
 * closed <what>".
 */
#ifndef MOONJAIL_LHANDLE_H
#define MOONJAIL_LHANDLE_H

#include <stddef.h>

#include <lauxlib.h>
#include <lua.h>

typedef struct {
    void *handle; /* NULL: closed */
} mjl_handle_t;

typedef struct {
    const char *mt;   /* metatable name, and what __tostring starts with: "moonjail.Sandbox" */
    const char *what; /* "sandbox", as in "attempt to use a closed sandbox" */
    void (*free)(void *handle);
    /* Optional: runs before the handle is freed, the userdata at idx (a sandbox frees its
     * processes first).  Must leave the stack as it found it. */
    void (*before_free)(lua_State *L, int idx);
    /* Pushes __tostring of an open handle: "moonjail.Sandbox (name)". */
    void (*describe)(lua_State *L, void *handle);
    const char *ops_field;     /* core[ops_field]: the primitives, with close and is_closed */
    const char *methods_field; /* core[methods_field]: the __index table (filled by Lua) */
} mjl_handle_type_t;

/* Pushes a new closed userdata of type t: size bytes (an mjl_handle_t first, all zero) and
 * nuvalue user values. */
void *mjl_handle_new(lua_State *L, const mjl_handle_type_t *t, size_t size, int nuvalue);
/* The userdata at idx, open or closed; raises unless it is of type t. */
void *mjl_handle_to(lua_State *L, int idx, const mjl_handle_type_t *t);
/* The userdata at idx; raises unless it is of type t and open. */
void *mjl_handle_check(lua_State *L, int idx, const mjl_handle_type_t *t);
/* Frees the handle of the userdata at idx (before_free first) and marks it closed; idempotent. */
void mjl_handle_release(lua_State *L, int idx, const mjl_handle_type_t *t);

/* With the core table on top of the stack: creates t's metatable (__gc, __close, __tostring and
 * an __index table, stored as core[t->methods_field]) and core[t->ops_field] = ops plus close and
 * is_closed.  t must outlive the Lua state (a static). */
void mjl_handle_register(lua_State *L, const mjl_handle_type_t *t, const luaL_Reg *ops);

#endif

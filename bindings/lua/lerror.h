/* lerror.h — the Lua shape of moonjail errors (not installed, not public).
 *
 * An error is a table {code, message, retryable, errno, cause} with the metatable
 * "moonjail.error"; operations that fail for runtime reasons return nil, err.
 */
#ifndef MOONJAIL_LERROR_H
#define MOONJAIL_LERROR_H

#include <stdbool.h>

#include <lua.h>

#include "lbox.h"
#include "moonjail/moonjail.h"

#define MJL_ERROR_MT "moonjail.error"

/* Pushes a fresh error table {code, message, retryable, errno} with the error metatable. */
void mjl_push_error_fields(lua_State *L, const char *code, const char *message, bool retryable,
                           int errnum);
/* Pushes a libmoonjail error (borrowed) as a Lua error table, causes included. */
void mjl_push_error(lua_State *L, const mj_error_t *e);
/* Pushes nil and the error (or a SANDBOX_INIT_FAILED error with text fallback when e is NULL);
 * returns 2, for `return mjl_fail(L, err, "…")`.  Does not free e. */
int mjl_fail(lua_State *L, const mj_error_t *e, const char *fallback);
/* Pushes nil and an error of code (a code name) with the message "<code text>: <what>:
 * strerror(errnum)", retryable for EAGAIN and EINTR; returns 2. */
int mjl_fail_errno(lua_State *L, const char *code, int errnum, const char *what);
/* Pushes true and returns 1 when rc is 0, else returns mjl_fail(L, box->err, "operation failed"). */
int mjl_push_status(lua_State *L, int rc, const mjl_box_t *box);

/* Creates the error metatable (idempotent) and, with the core table on top of the stack, adds
 * core.error, core.codes and core.error_mt to it. */
void mjl_error_register(lua_State *L);

#endif

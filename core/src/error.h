/* error.h — the core's own error helpers, beside the public mj_error_* API of moonjail.h.
 * Owns: rendering errno once.  Never: printing, or formatting strerror() into a message by hand. */
#ifndef MJ_ERROR_H
#define MJ_ERROR_H

#include <moonjail/moonjail.h>

/* A new error "<base text>: <fmt…>: <strerror(errnum)>", errno kept in the error's errno field
 * (crun's crun_make_error).  errnum 0 leaves the strerror part out. */
mj_error_t *mj_error_sys(mj_error_code_t code, int errnum, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static inline void mj_cleanup_errorp(mj_error_t **e)
{
    mj_error_free(*e);
}
/* An error freed when it goes out of scope (a caller's local error, unless stolen). */
#define cleanup_error __attribute__((cleanup(mj_cleanup_errorp)))

#endif

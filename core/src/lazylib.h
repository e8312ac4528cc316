/* lazylib.h — libarchive, libcurl and libcrypto, loaded on first use by lazylib.c.
 * A file that calls one of them includes this and calls through MJ_LAZY, so the object file holds
 * no reference to the library and only the first call pays for loading it. */
#ifndef MJ_LAZYLIB_H
#define MJ_LAZYLIB_H

#include <moonjail/moonjail.h>

/* lazylib.c: libraries loaded on first use. */
typedef enum { MJ_LIB_ARCHIVE, MJ_LIB_CURL, MJ_LIB_CRYPTO, MJ_LIB__COUNT } mj_lib_t;
/* Loads lib unless loaded; 0, or -1 with UNSUPPORTED naming the missing library. */
int mj_lib_open(mj_lib_t lib, mj_error_t **err);
/* A function of lib (loading it if needed); aborts when a loaded library lacks it. */
void *mj_lib_sym(mj_lib_t lib, const char *name);
/* Calls fn of lib through dlsym, typed from its declaration: MJ_LAZY(MJ_LIB_CURL, curl_easy_init)().
 * typeof does not evaluate, so the object file holds no reference to the symbol. */
#define MJ_LAZY(lib, fn) ((__typeof__(&fn))mj_lib_sym(lib, #fn))

#endif

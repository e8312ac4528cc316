/* lazylib.c — libarchive, libcurl and libcrypto, loaded on first use (dlopen) instead of at
 * start-up: together they pull in some forty shared objects (krb5, ldap, gnutls, icu, …), which
 * would cost every sandbox start several milliseconds for what only repository rules need.
 * Owns the handles; never unloads them.  fetch.c, unpack.c, overlay.c and digest.c call through
 * MJ_LAZY (lazylib.h). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "lazylib.h"

static const char *const sonames[MJ_LIB__COUNT][3] = {
    [MJ_LIB_ARCHIVE] = {"libarchive.so.13", "libarchive.so", NULL},
    [MJ_LIB_CURL] = {"libcurl.so.4", "libcurl-gnutls.so.4", "libcurl.so"},
    [MJ_LIB_CRYPTO] = {"libcrypto.so.3", "libcrypto.so", NULL},
};
static const char *const lib_names[MJ_LIB__COUNT] = {
    [MJ_LIB_ARCHIVE] = "libarchive", [MJ_LIB_CURL] = "libcurl", [MJ_LIB_CRYPTO] = "libcrypto (OpenSSL)"};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static void *handles[MJ_LIB__COUNT];

static void *open_locked(mj_lib_t lib)
{
    pthread_mutex_lock(&lock);
    for (int i = 0; !handles[lib] && i < 3 && sonames[lib][i]; i++)
        handles[lib] = dlopen(sonames[lib][i], RTLD_NOW | RTLD_LOCAL);
    void *h = handles[lib];
    pthread_mutex_unlock(&lock);
    return h;
}

int mj_lib_open(mj_lib_t lib, mj_error_t **err)
{
    if (open_locked(lib))
        return 0;
    mj_error_t *e = mj_error_new(MJ_ERR_UNSUPPORTED, ELIBACC, "%s is not installed (%s): repositories from archives, "
                                 "URLs and git refs need it", lib_names[lib], sonames[lib][0]);
    if (err)
        *err = e;
    else
        mj_error_free(e);
    return -1;
}

void *mj_lib_sym(mj_lib_t lib, const char *name)
{
    void *h = open_locked(lib);
    void *sym = h ? dlsym(h, name) : NULL;
    if (!sym) {
        /* a library with the right soname but without the symbol: a broken installation */
        fprintf(stderr, "moonjail: %s: %s not found: %s\n", lib_names[lib], name, h ? dlerror() : "not loaded");
        abort();
    }
    return sym;
}

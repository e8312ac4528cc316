/* error.c — the mj_error_t model: stable codes, the reference's message texts, retryable flag,
 * errno and a chain of causes.  Errors flow out to callers; nothing here prints. */
#define _GNU_SOURCE
#include <moonjail/moonjail.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "util.h"

struct mj_error {
    mj_error_code_t code;
    char *message;
    bool retryable;
    int errnum;
    mj_error_t *cause;
};

static const struct {
    const char *name;
    const char *text;
} codes[MJ_ERR__COUNT] = {
    [MJ_OK] = {"OK", "OK"},
    [MJ_ERR_SANDBOX_NOT_FOUND] = {"SANDBOX_NOT_FOUND", "Sandbox not found"},
    [MJ_ERR_RESOURCE_LIMIT_EXCEEDED] = {"RESOURCE_LIMIT_EXCEEDED", "Resource limit exceeded"},
    [MJ_ERR_COMMAND_EXECUTION_FAILED] = {"COMMAND_EXECUTION_FAILED", "Command execution failed"},
    [MJ_ERR_SANDBOX_INIT_FAILED] = {"SANDBOX_INIT_FAILED", "Sandbox initialization failed"},
    [MJ_ERR_FILE_OPERATION_FAILED] = {"FILE_OPERATION_FAILED", "File operation failed"},
    [MJ_ERR_INVALID_CONFIG] = {"INVALID_CONFIG", "Invalid configuration"},
    [MJ_ERR_INVALID_STATE] = {"INVALID_STATE", "Invalid sandbox state"},
    [MJ_ERR_PERMISSION_DENIED] = {"PERMISSION_DENIED", "Permission denied"},
    [MJ_ERR_UNSUPPORTED] = {"UNSUPPORTED", "Operation not supported"},
    [MJ_ERR_TIMEOUT] = {"TIMEOUT", "Operation timed out"},
    [MJ_ERR_NETWORK] = {"NETWORK", "Network error"},
    [MJ_ERR_IMAGE] = {"IMAGE", "Image error"},
    [MJ_ERR_TEMPORARY_FAILURE] = {"TEMPORARY_FAILURE", "Temporary failure"},
};

const char *mj_version(void)
{
    return MJ_VERSION_STRING;
}

const char *mj_error_code_name(mj_error_code_t code)
{
    if ((unsigned)code >= MJ_ERR__COUNT)
        return NULL;
    return codes[code].name;
}

const char *mj_error_code_text(mj_error_code_t code)
{
    if ((unsigned)code >= MJ_ERR__COUNT)
        return NULL;
    return codes[code].text;
}

mj_error_code_t mj_error_code_from_name(const char *name)
{
    if (!name)
        return MJ_OK;
    for (unsigned i = 1; i < MJ_ERR__COUNT; i++)
        if (strcmp(codes[i].name, name) == 0)
            return (mj_error_code_t)i;
    return MJ_OK;
}

static bool errno_is_retryable(int errnum)
{
    switch (errnum) {
    case EAGAIN:
    case EBUSY:
    case EINTR:
    case ETIMEDOUT:
    case ECONNRESET:
    case ECONNREFUSED:
    case ENOBUFS:
        return true;
    default:
        return false;
    }
}

static mj_error_t *error_alloc(mj_error_code_t code, int errnum, char *message)
{
    mj_error_t *e = mj_xcalloc(1, sizeof(*e));
    e->code = (unsigned)code < MJ_ERR__COUNT ? code : MJ_ERR_INVALID_STATE;
    e->errnum = errnum;
    e->message = message;
    e->retryable = code == MJ_ERR_TEMPORARY_FAILURE || errno_is_retryable(errnum);
    return e;
}

/* The formatted detail of a message, NULL when it cannot be formatted. */
static char *detail_of(const char *fmt, va_list ap)
{
    char *detail = NULL;
    if (vasprintf(&detail, fmt, ap) < 0)
        detail = NULL;
    return detail;
}

static const char *base_text(mj_error_code_t code)
{
    const char *base = mj_error_code_text(code);
    return base ? base : "Unknown error";
}

mj_error_t *mj_error_new(mj_error_code_t code, int errnum, const char *fmt, ...)
{
    if (!fmt)
        return error_alloc(code, errnum, mj_xstrdup(base_text(code)));
    va_list ap;
    va_start(ap, fmt);
    char *detail = detail_of(fmt, ap);
    va_end(ap);
    char *message = mj_xasprintf("%s: %s", base_text(code), detail ? detail : "");
    free(detail);
    return error_alloc(code, errnum, message);
}

mj_error_t *mj_error_sys(mj_error_code_t code, int errnum, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *detail = detail_of(fmt, ap);
    va_end(ap);
    char *message = errnum ? mj_xasprintf("%s: %s: %s", base_text(code), detail ? detail : "", strerror(errnum))
                           : mj_xasprintf("%s: %s", base_text(code), detail ? detail : "");
    free(detail);
    return error_alloc(code, errnum, message);
}

mj_error_t *mj_error_new_literal(mj_error_code_t code, const char *message, bool retryable)
{
    mj_error_t *e = error_alloc(code, 0, mj_xstrdup(message ? message : ""));
    e->retryable = retryable;
    return e;
}

void mj_error_wrap(mj_error_t **err, const char *fmt, ...)
{
    if (!err || !*err)
        return;
    mj_error_t *old = *err;
    va_list ap;
    char *prefix = NULL;
    va_start(ap, fmt);
    int n = vasprintf(&prefix, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    /* Keep the reference's "<Base text>: " prefix at the front: insert the context after it. */
    const char *base = mj_error_code_text(old->code);
    size_t blen = base ? strlen(base) : 0;
    char *message;
    if (base && strncmp(old->message, base, blen) == 0 && old->message[blen] == ':')
        message = mj_xasprintf("%s: %s: %s", base, prefix, old->message + blen + 2);
    else
        message = mj_xasprintf("%s: %s", prefix, old->message);
    free(prefix);
    mj_error_t *e = error_alloc(old->code, old->errnum, message);
    e->retryable = old->retryable;
    e->cause = old;
    *err = e;
}

void mj_error_set_cause(mj_error_t *e, mj_error_t *cause)
{
    if (!e) {
        mj_error_free(cause);
        return;
    }
    mj_error_free(e->cause);
    e->cause = cause;
}

void mj_error_set_retryable(mj_error_t *e, bool retryable)
{
    if (e)
        e->retryable = retryable;
}

mj_error_code_t mj_error_code(const mj_error_t *e)
{
    return e ? e->code : MJ_OK;
}

const char *mj_error_message(const mj_error_t *e)
{
    return e ? e->message : "";
}

bool mj_error_retryable(const mj_error_t *e)
{
    return e && e->retryable;
}

int mj_error_errno(const mj_error_t *e)
{
    return e ? e->errnum : 0;
}

const mj_error_t *mj_error_cause(const mj_error_t *e)
{
    return e ? e->cause : NULL;
}

void mj_error_free(mj_error_t *e)
{
    while (e) {
        mj_error_t *next = e->cause;
        free(e->message);
        free(e);
        e = next;
    }
}

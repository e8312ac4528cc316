/* base64.h — strict standard base64 (RFC 4648 §4, padded), for the `data` field of OCI
 * descriptors and the credentials of registry auth (base64.c). */
#ifndef MJ_IMAGE_BASE64_H
#define MJ_IMAGE_BASE64_H

#include <stddef.h>

#include <moonjail/moonjail.h>

#include "util.h"

/* Appends the decoded bytes to out.  Refuses (IMAGE error, out unchanged) anything but the
 * canonical encoding: whitespace, missing or misplaced padding, non-zero unused bits. */
int mj_base64_decode(const char *text, size_t len, mj_buf_t *out, mj_error_t **err);
/* Appends the padded encoding of data to out. */
void mj_base64_encode(const void *data, size_t len, mj_buf_t *out);

#endif

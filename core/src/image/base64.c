/* base64.c — strict standard base64.  Owns the one encoder and decoder the image code uses
 * (descriptor `data`, registry credentials).  Must never accept a non-canonical encoding: the
 * bytes decoded from a descriptor are checked against its digest, but one text must have one
 * meaning. */
#include <errno.h>
#include <stdint.h>

#include "error.h"
#include "image/base64.h"

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int value_of(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

int mj_base64_decode(const char *text, size_t len, mj_buf_t *out, mj_error_t **err)
{
    if (len % 4 != 0) {
        if (err)
            *err = mj_error_new(MJ_ERR_IMAGE, EINVAL, "base64: length %zu is not a multiple of 4", len);
        return -1;
    }
    mj_buf_t tmp = {0};
    for (size_t i = 0; i < len; i += 4) {
        int v[4];
        int pad = 0;
        for (int k = 0; k < 4; k++) {
            unsigned char c = (unsigned char)text[i + (size_t)k];
            bool last = i + 4 == len;
            if (c == '=' && last && k >= 2 && (k == 3 || text[i + 3] == '=')) {
                v[k] = 0;
                pad++;
                continue;
            }
            v[k] = pad ? -1 : value_of(c);
            if (v[k] < 0) {
                mj_buf_free(&tmp);
                if (err)
                    *err = mj_error_new(MJ_ERR_IMAGE, EINVAL, "base64: bad character at offset %zu", i + (size_t)k);
                return -1;
            }
        }
        uint32_t triple = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 | (uint32_t)v[3];
        if ((pad == 1 && (triple & 0xff)) || (pad == 2 && (triple & 0xffff))) {
            mj_buf_free(&tmp);
            if (err)
                *err = mj_error_new(MJ_ERR_IMAGE, EINVAL, "base64: non-canonical padding");
            return -1;
        }
        unsigned char bytes[3] = {(unsigned char)(triple >> 16), (unsigned char)(triple >> 8), (unsigned char)triple};
        mj_buf_append(&tmp, bytes, (size_t)(3 - pad));
    }
    if (tmp.len)
        mj_buf_append(out, tmp.data, tmp.len);
    mj_buf_free(&tmp);
    return 0;
}

void mj_base64_encode(const void *data, size_t len, mj_buf_t *out)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i += 3) {
        uint32_t triple = (uint32_t)p[i] << 16;
        if (i + 1 < len)
            triple |= (uint32_t)p[i + 1] << 8;
        if (i + 2 < len)
            triple |= p[i + 2];
        char quad[4] = {alphabet[triple >> 18 & 63], alphabet[triple >> 12 & 63],
                        i + 1 < len ? alphabet[triple >> 6 & 63] : '=', i + 2 < len ? alphabet[triple & 63] : '='};
        mj_buf_append(out, quad, 4);
    }
}

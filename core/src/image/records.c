/* records.c — image records: name + platform → manifest digest and the blobs the image needs
 * (records.h has the format).
 *
 * Owns: the record text format (also used by leases), its validation, and the files images/<id>.record.
 * Must never: trust a record file it reads (bounded, every field validated, damaged files
 * skipped or reported — never half-used); write a record that names a blob the store lacks;
 * delete blobs (gc.c decides that).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "image/hash.h"
#include "image/records.h"
#include "util.h"

#define RECORD_MAX_BYTES ((size_t)1 << 20)
#define RECORD_MAX_BLOBS 10000
#define NAME_MAX_LEN 1024
#define PLATFORM_MAX_LEN 128
#define HOLDER_MAX_LEN 256

static int fail(mj_error_t **err, mj_error_t *e)
{
    if (err)
        *err = e;
    else
        mj_error_free(e);
    return -1;
}

/* ------------------------------------------------------------------ fields */

static bool chars_within(const char *s, size_t max, unsigned char lo)
{
    size_t n = 0;
    for (; s[n]; n++)
        if ((unsigned char)s[n] < lo || (unsigned char)s[n] > 0x7e)
            return false;
    return n > 0 && n <= max;
}

static bool name_ok(const char *s)
{
    return s && chars_within(s, NAME_MAX_LEN, 0x21);
}

static bool platform_ok(const char *s)
{
    if (!s || !*s || strlen(s) > PLATFORM_MAX_LEN)
        return false;
    return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._/-") == strlen(s);
}

static bool holder_ok(const char *s)
{
    return chars_within(s, HOLDER_MAX_LEN, 0x20);
}

static int check_record(const mj_image_record_t *r, bool lease, mj_error_t **err)
{
    const char *bad = !name_ok(r->name)                          ? "name"
                      : !platform_ok(r->platform)                ? "platform"
                      : !mj_digest_valid(r->digest)              ? "digest"
                      : r->index && !mj_digest_valid(r->index)   ? "index"
                      : lease && r->holder && !holder_ok(r->holder) ? "holder"
                      : r->blobs.n > RECORD_MAX_BLOBS             ? "blobs"
                      : r->layers.n > RECORD_MAX_BLOBS            ? "layers"
                                                                 : NULL;
    for (size_t i = 0; !bad && i < r->blobs.n; i++)
        if (!mj_digest_valid(r->blobs.v[i]))
            bad = "blob";
    for (size_t i = 0; !bad && i < r->layers.n; i++)
        if (!mj_digest_valid(r->layers.v[i]))
            bad = "layer";
    if (bad)
        return fail(err, mj_error_new(MJ_ERR_IMAGE, EINVAL, "image record: invalid %s", bad));
    return 0;
}

void mj_image_record_clear(mj_image_record_t *r)
{
    free(r->name);
    free(r->platform);
    free(r->digest);
    free(r->index);
    free(r->holder);
    mj_strv_free(&r->blobs);
    mj_strv_free(&r->layers);
    memset(r, 0, sizeof(*r));
}

void mj_image_records_free(mj_image_record_t *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        mj_image_record_clear(&v[i]);
    free(v);
}

/* ------------------------------------------------------------------ text */

static void appendf(mj_buf_t *b, const char *key, const char *value)
{
    mj_buf_append(b, key, strlen(key));
    mj_buf_append(b, " ", 1);
    mj_buf_append(b, value, strlen(value));
    mj_buf_append(b, "\n", 1);
}

int mj_record_format(const mj_image_record_t *r, const char *magic, mj_buf_t *out, mj_error_t **err)
{
    bool lease = strcmp(magic, MJ_LEASE_MAGIC) == 0;
    if (check_record(r, lease, err) < 0)
        return -1;
    mj_buf_append(out, magic, strlen(magic));
    mj_buf_append(out, "\n", 1);
    appendf(out, "name", r->name);
    appendf(out, "platform", r->platform);
    appendf(out, "digest", r->digest);
    if (r->index)
        appendf(out, "index", r->index);
    char pulled[64];
    snprintf(pulled, sizeof(pulled), "%.3f", r->pulled);
    appendf(out, "pulled", pulled);
    if (lease && r->holder)
        appendf(out, "holder", r->holder);
    for (size_t i = 0; i < r->blobs.n; i++)
        appendf(out, "blob", r->blobs.v[i]);
    for (size_t i = 0; i < r->layers.n; i++)
        appendf(out, "layer", r->layers.v[i]);
    return 0;
}

static int set_once(char **slot, const char *value, const char *key, mj_error_t **err)
{
    if (*slot)
        return fail(err, mj_error_new(MJ_ERR_IMAGE, EINVAL, "image record: '%s' twice", key));
    *slot = mj_xstrdup(value);
    return 0;
}

static int parse_line(mj_image_record_t *r, const char *line, mj_error_t **err)
{
    const char *sp = strchr(line, ' ');
    if (!sp)
        return fail(err, mj_error_new(MJ_ERR_IMAGE, EINVAL, "image record: a line without a value"));
    size_t klen = (size_t)(sp - line);
    const char *v = sp + 1;
#define KEY(k) (klen == sizeof(k) - 1 && strncmp(line, k, klen) == 0)
    if (KEY("name"))
        return set_once(&r->name, v, "name", err);
    if (KEY("platform"))
        return set_once(&r->platform, v, "platform", err);
    if (KEY("digest"))
        return set_once(&r->digest, v, "digest", err);
    if (KEY("index"))
        return set_once(&r->index, v, "index", err);
    if (KEY("holder"))
        return set_once(&r->holder, v, "holder", err);
    if (KEY("blob") || KEY("layer")) {
        mj_strv_t *list = KEY("blob") ? &r->blobs : &r->layers;
        if (list->n >= RECORD_MAX_BLOBS)
            return fail(err, mj_error_new(MJ_ERR_IMAGE, E2BIG, "image record: more than %d %ss", RECORD_MAX_BLOBS,
                                          KEY("blob") ? "blob" : "layer"));
        mj_strv_push(list, v);
        return 0;
    }
    if (KEY("pulled")) {
        char *end;
        r->pulled = strtod(v, &end);
        if (end == v || *end)
            return fail(err, mj_error_new(MJ_ERR_IMAGE, EINVAL, "image record: bad 'pulled' time"));
        return 0;
    }
#undef KEY
    return 0; /* a field of a newer moonjail: kept on disk, ignored here */
}

int mj_record_parse(const char *text, size_t len, const char *magic, mj_image_record_t *out, mj_error_t **err)
{
    if (len > RECORD_MAX_BYTES || memchr(text, '\0', len))
        return fail(err, mj_error_new(MJ_ERR_IMAGE, EINVAL, "image record: not a text file of at most 1 MiB"));
    size_t mlen = strlen(magic);
    if (len < mlen + 1 || memcmp(text, magic, mlen) != 0 || text[mlen] != '\n')
        return fail(err, mj_error_new(MJ_ERR_IMAGE, EINVAL, "image record: not a '%s' file", magic));
    mj_image_record_t r = {0};
    const char *p = text + mlen + 1, *end = text + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl) {
            mj_image_record_clear(&r);
            return fail(err, mj_error_new(MJ_ERR_IMAGE, EINVAL, "image record: truncated"));
        }
        cleanup_free char *line = mj_xasprintf("%.*s", (int)(nl - p), p);
        if (parse_line(&r, line, err) < 0) {
            mj_image_record_clear(&r);
            return -1;
        }
        p = nl + 1;
    }
    if (check_record(&r, strcmp(magic, MJ_LEASE_MAGIC) == 0, err) < 0) {
        mj_image_record_clear(&r);
        return -1;
    }
    mj_image_record_clear(out);
    *out = r;
    return 0;
}

int mj_record_read_at(int dirfd, const char *name, const char *magic, mj_image_record_t *out, mj_error_t **err)
{
    cleanup_close int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0)
        return fail(err, mj_error_sys(errno == ENOENT ? MJ_ERR_IMAGE : MJ_ERR_FILE_OPERATION_FAILED, errno,
                                      "image store: reading %s", name));
    if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size > RECORD_MAX_BYTES)
        return fail(err, mj_error_new(MJ_ERR_IMAGE, EINVAL, "image store: %s is not a record file", name));
    cleanup_free char *text = mj_xmalloc((size_t)st.st_size + 1);
    ssize_t n = mj_read_all(fd, text, (size_t)st.st_size);
    if (n < 0)
        return fail(err, mj_error_sys(MJ_ERR_FILE_OPERATION_FAILED, errno, "image store: reading %s", name));
    return mj_record_parse(text, (size_t)n, magic, out, err);
}

/* ------------------------------------------------------------------ the store's records */

/* images/<sha256 of "name\nplatform">.record */
static int record_file(const char *name, const char *platform, char out[96], mj_error_t **err)
{
    if (!name_ok(name) || !platform_ok(platform))
        return fail(err, mj_error_new(MJ_ERR_INVALID_CONFIG, EINVAL, "image record: invalid name or platform"));
    cleanup_free char *key = mj_xasprintf("%s\n%s", name, platform);
    char digest[MJ_DIGEST_MAX];
    if (mj_hash_bytes(MJ_HASH_SHA256, key, strlen(key), digest, err) < 0)
        return -1;
    snprintf(out, 96, "%.64s.record", digest + strlen("sha256:"));
    return 0;
}

int mj_store_image_put(mj_store_t *s, const mj_image_record_t *rec, mj_error_t **err)
{
    char file[96];
    if (check_record(rec, false, err) < 0 || record_file(rec->name, rec->platform, file, err) < 0)
        return -1;
    bool listed = false;
    for (size_t i = 0; i < rec->blobs.n; i++) {
        listed = listed || strcmp(rec->blobs.v[i], rec->digest) == 0;
        int have = mj_store_has_blob(s, rec->blobs.v[i], NULL, err);
        if (have < 0)
            return -1;
        if (!have)
            return fail(err, mj_error_new(MJ_ERR_IMAGE, ENOENT, "image record %s: blob %s is not in the store", rec->name,
                                          rec->blobs.v[i]));
    }
    if (!listed)
        return fail(err, mj_error_new(MJ_ERR_IMAGE, EINVAL, "image record %s: its manifest is not among its blobs",
                                      rec->name));
    for (size_t i = 0; i < rec->layers.n; i++) {
        int have = mj_store_has_layer(s, rec->layers.v[i], -1, err);
        if (have < 0)
            return -1;
        if (!have)
            return fail(err, mj_error_new(MJ_ERR_IMAGE, ENOENT, "image record %s: layer %s is not unpacked in the store",
                                          rec->name, rec->layers.v[i]));
    }
    mj_buf_t text = {0};
    if (mj_record_format(rec, MJ_RECORD_MAGIC, &text, err) < 0) {
        mj_buf_free(&text);
        return -1;
    }
    int r = mj_store_write_atomic(mj_store_dirfd(s, "images"), file, text.data, text.len, err);
    mj_buf_free(&text);
    return r;
}

int mj_store_image_get(mj_store_t *s, const char *name, const char *platform, mj_image_record_t *out, mj_error_t **err)
{
    char file[96];
    if (record_file(name, platform, file, err) < 0)
        return -1;
    mj_image_record_t r = {0};
    mj_error_t *e = NULL;
    if (mj_record_read_at(mj_store_dirfd(s, "images"), file, MJ_RECORD_MAGIC, &r, &e) < 0) {
        if (mj_error_errno(e) == ENOENT) {
            mj_error_free(e);
            return 0;
        }
        return fail(err, e);
    }
    if (strcmp(r.name, name) != 0 || strcmp(r.platform, platform) != 0) {
        mj_image_record_clear(&r);
        return fail(err, mj_error_new(MJ_ERR_IMAGE, EINVAL, "image store: %s holds another image's record", file));
    }
    mj_image_record_clear(out);
    *out = r;
    return 1;
}

static int record_cmp(const void *a, const void *b)
{
    const mj_image_record_t *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : strcmp(x->platform, y->platform);
}

int mj_store_image_list(mj_store_t *s, mj_image_record_t **out, size_t *n, size_t *damaged, mj_error_t **err)
{
    int fd = dup(mj_store_dirfd(s, "images"));
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (!d) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        return fail(err, mj_error_sys(MJ_ERR_FILE_OPERATION_FAILED, e, "image store: listing images"));
    }
    rewinddir(d);
    mj_image_record_t *v = NULL;
    size_t count = 0, cap = 0, bad = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t len = strlen(de->d_name);
        if (de->d_name[0] == '.' || len < 8 || strcmp(de->d_name + len - 7, ".record") != 0)
            continue;
        mj_image_record_t r = {0};
        if (mj_record_read_at(dirfd(d), de->d_name, MJ_RECORD_MAGIC, &r, NULL) < 0) {
            bad++;
            continue;
        }
        if (count == cap) {
            cap = cap ? cap * 2 : 16;
            v = mj_xrealloc(v, cap * sizeof(*v));
        }
        v[count++] = r;
    }
    closedir(d);
    if (count)
        qsort(v, count, sizeof(*v), record_cmp);
    *out = v;
    *n = count;
    if (damaged)
        *damaged = bad;
    return 0;
}

int mj_store_image_remove(mj_store_t *s, const char *name, const char *platform, mj_error_t **err)
{
    char file[96];
    if (record_file(name, platform, file, err) < 0)
        return -1;
    if (unlinkat(mj_store_dirfd(s, "images"), file, 0) < 0) {
        if (errno == ENOENT)
            return 0;
        return fail(err, mj_error_sys(MJ_ERR_FILE_OPERATION_FAILED, errno, "image store: removing the record of %s", name));
    }
    fsync(mj_store_dirfd(s, "images"));
    return 1;
}

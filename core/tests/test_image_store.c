/* test_image_store.c — the image store without a registry (core/src/image: hash, base64, store,
 * records, lease, gc): digests parse strictly; nothing whose content does not match its digest
 * enters blobs/ and nothing half-written stays; two processes ingesting one digest take turns;
 * records, leases and the mark-and-sweep collection keep exactly what is referenced. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <moonjail/moonjail.h>

#include "image/base64.h"
#include "image/gc.h"
#include "image/hash.h"
#include "image/lease.h"
#include "image/records.h"
#include "image/store.h"
#include "mjtest.h"

#define EMPTY_SHA256 "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define ABC_SHA256 "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"

static char *mkroot(void)
{
    char tmpl[] = "/tmp/mjstore-XXXXXX";
    char *d = mkdtemp(tmpl);
    return d ? mj_xasprintf("%s/store", d) : NULL;
}

/* Removes the temp dir holding root (root is "<tmp>/store"). */
static void rm_rf(const char *root)
{
    char *cmd = mj_xasprintf("rm -rf '%.*s'", (int)(strrchr(root, '/') - root), root);
    if (system(cmd) != 0)
        fprintf(stderr, "    (could not remove %s)\n", root);
    free(cmd);
}

static int count_entries(const char *root, const char *sub)
{
    char *cmd = mj_xasprintf("ls -A '%s/%s' | wc -l", root, sub);
    FILE *p = popen(cmd, "r");
    int n = -1;
    if (p && fscanf(p, "%d", &n) != 1)
        n = -1;
    if (p)
        pclose(p);
    free(cmd);
    return n;
}

static void digest_of(const char *text, char out[MJ_DIGEST_MAX])
{
    if (mj_hash_bytes(MJ_HASH_SHA256, text, strlen(text), out, NULL) < 0)
        out[0] = '\0';
}

static int put_text(mj_store_t *s, const char *text, char digest[MJ_DIGEST_MAX])
{
    digest_of(text, digest);
    return mj_store_put_blob(s, digest, text, strlen(text), NULL);
}

/* ------------------------------------------------------------------ digests, base64 */

MJ_TEST(digests_parse_strictly)
{
    mj_hash_algo_t algo;
    const char *hex;
    CHECK_EQ_INT(mj_digest_parse(EMPTY_SHA256, &algo, &hex, NULL), 0);
    CHECK_EQ_INT(algo, MJ_HASH_SHA256);
    CHECK_EQ_INT(strlen(hex), 64);
    char sha512[MJ_DIGEST_MAX];
    CHECK_EQ_INT(mj_hash_bytes(MJ_HASH_SHA512, "abc", 3, sha512, NULL), 0);
    CHECK(strncmp(sha512, "sha512:ddaf35a193617aba", 23) == 0);
    CHECK(mj_digest_valid(sha512));
    CHECK(!mj_digest_valid("sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855"));
    CHECK(!mj_digest_valid("sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85"));
    CHECK(!mj_digest_valid(EMPTY_SHA256 "0"));
    CHECK(!mj_digest_valid(EMPTY_SHA256 "\n"));
    CHECK(!mj_digest_valid("md5:d41d8cd98f00b204e9800998ecf8427e"));
    CHECK(!mj_digest_valid("sha256:../../../../etc/passwd"));
    CHECK(!mj_digest_valid(""));
    mj_error_t *e = NULL;
    CHECK_EQ_INT(mj_digest_parse("sha384:abc", NULL, NULL, &e), -1);
    CHECK_EQ_INT(mj_error_code(e), MJ_ERR_IMAGE);
    mj_error_free(e);
}

MJ_TEST(hashes_stream_and_reset)
{
    mj_hash_t *h = NULL;
    CHECK_EQ_INT(mj_hash_new(MJ_HASH_SHA256, &h, NULL), 0);
    char out[MJ_DIGEST_MAX];
    mj_hash_update(h, "a", 1);
    mj_hash_update(h, "bc", 2);
    mj_hash_final(h, out);
    CHECK_STREQ(out, ABC_SHA256);
    mj_hash_update(h, "junk", 4);
    mj_hash_reset(h);
    mj_hash_final(h, out);
    CHECK_STREQ(out, EMPTY_SHA256);
    mj_hash_free(h);
}

MJ_TEST(base64_is_canonical_only)
{
    mj_buf_t b = {0};
    CHECK_EQ_INT(mj_base64_decode("YWxpY2U6c2VjcmV0", 16, &b, NULL), 0);
    CHECK(b.len == 12 && memcmp(b.data, "alice:secret", 12) == 0);
    mj_buf_free(&b);
    CHECK_EQ_INT(mj_base64_decode("e30=", 4, &b, NULL), 0);
    CHECK(b.len == 2 && memcmp(b.data, "{}", 2) == 0);
    mj_buf_free(&b);
    CHECK_EQ_INT(mj_base64_decode("YQ==", 4, &b, NULL), 0);
    CHECK(b.len == 1 && b.data[0] == 'a');
    mj_buf_free(&b);
    const char *bad[] = {"YQ=", "YR==", "Y===", "YQ==YQ==", "e3 0", "e30\n", "e3=0", "====", "YWJ*"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (mj_base64_decode(bad[i], strlen(bad[i]), &b, NULL) != -1)
            MJT_FAIL("'%s' decoded", bad[i]);
        CHECK_EQ_INT(b.len, 0);
    }
    mj_base64_encode("alice:secret", 12, &b);
    CHECK_STREQ(b.data, "YWxpY2U6c2VjcmV0");
    mj_buf_free(&b);
    mj_base64_encode("ab", 2, &b);
    CHECK_STREQ(b.data, "YWI=");
    mj_buf_free(&b);
}

/* ------------------------------------------------------------------ blobs and ingest */

MJ_TEST(put_blob_checks_the_digest_and_leaves_nothing_when_wrong)
{
    char *root = mkroot();
    mj_store_t *s = NULL;
    CHECK_EQ_INT(mj_store_open(root, &s, NULL), 0);
    mj_error_t *e = NULL;
    CHECK_EQ_INT(mj_store_put_blob(s, EMPTY_SHA256, "abc", 3, &e), -1);
    CHECK_EQ_INT(mj_error_code(e), MJ_ERR_IMAGE);
    mj_error_free(e);
    CHECK_EQ_INT(count_entries(root, "blobs/sha256"), 0);
    CHECK_EQ_INT(count_entries(root, "ingest"), 0);

    CHECK_EQ_INT(mj_store_put_blob(s, ABC_SHA256, "abc", 3, NULL), 0);
    uint64_t size = 0;
    CHECK_EQ_INT(mj_store_has_blob(s, ABC_SHA256, &size, NULL), 1);
    CHECK_EQ_INT(size, 3);
    CHECK_EQ_INT(count_entries(root, "ingest"), 0);
    mj_buf_t b = {0};
    CHECK_EQ_INT(mj_store_read_blob(s, ABC_SHA256, 100, &b, NULL), 0);
    CHECK(b.len == 3 && memcmp(b.data, "abc", 3) == 0);
    mj_buf_free(&b);
    CHECK_EQ_INT(mj_store_read_blob(s, ABC_SHA256, 2, &b, &e), -1); /* over the caller's bound */
    CHECK_EQ_INT(mj_error_code(e), MJ_ERR_IMAGE);
    mj_error_free(e);
    char *path = mj_store_blob_path(s, ABC_SHA256, NULL);
    struct stat st;
    CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0444);

    /* damaged on disk: detected, removed, reported */
    chmod(path, 0644);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    fputs("abd", f);
    fclose(f);
    CHECK_EQ_INT(mj_store_read_blob(s, ABC_SHA256, 100, &b, &e), -1);
    CHECK_EQ_INT(mj_error_code(e), MJ_ERR_IMAGE);
    CHECK(strstr(mj_error_message(e), "damaged") != NULL);
    mj_error_free(e);
    CHECK_EQ_INT(mj_store_has_blob(s, ABC_SHA256, NULL, NULL), 0);
    free(path);
    mj_store_close(s);
    rm_rf(root);
    free(root);
}

static int write_partial(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    ssize_t w = write(fd, text, strlen(text));
    close(fd);
    return w == (ssize_t)strlen(text) ? 0 : -1;
}

MJ_TEST(commit_verifies_size_and_digest_and_removes_a_bad_partial)
{
    char *root = mkroot();
    mj_store_t *s = NULL;
    CHECK_EQ_INT(mj_store_open(root, &s, NULL), 0);
    mj_ingest_t *ing = NULL;
    CHECK_EQ_INT(mj_store_ingest_begin(s, ABC_SHA256, false, &ing, NULL), MJ_INGEST_READY);
    CHECK_EQ_INT(write_partial(mj_ingest_path(ing), "abx"), 0);
    mj_error_t *e = NULL;
    CHECK_EQ_INT(mj_ingest_commit(ing, 3, NULL, &e), -1); /* hashed here: wrong content */
    CHECK_EQ_INT(mj_error_code(e), MJ_ERR_IMAGE);
    mj_error_free(e);
    CHECK_EQ_INT(count_entries(root, "ingest"), 0);
    CHECK_EQ_INT(count_entries(root, "blobs/sha256"), 0);

    CHECK_EQ_INT(mj_store_ingest_begin(s, ABC_SHA256, false, &ing, NULL), MJ_INGEST_READY);
    CHECK_EQ_INT(write_partial(mj_ingest_path(ing), "ab"), 0);
    CHECK_EQ_INT(mj_ingest_commit(ing, 3, ABC_SHA256, &e), -1); /* short */
    CHECK_EQ_INT(mj_error_code(e), MJ_ERR_IMAGE);
    mj_error_free(e);
    CHECK_EQ_INT(count_entries(root, "ingest"), 0);

    /* an interrupted download keeps its partial file for the next attempt */
    CHECK_EQ_INT(mj_store_ingest_begin(s, ABC_SHA256, false, &ing, NULL), MJ_INGEST_READY);
    CHECK_EQ_INT(write_partial(mj_ingest_path(ing), "a"), 0);
    mj_ingest_release(ing, false);
    CHECK_EQ_INT(count_entries(root, "ingest"), 1);
    CHECK_EQ_INT(mj_store_ingest_begin(s, ABC_SHA256, false, &ing, NULL), MJ_INGEST_READY);
    CHECK_EQ_INT(write_partial(mj_ingest_path(ing), "abc"), 0);
    CHECK_EQ_INT(mj_ingest_commit(ing, 3, NULL, NULL), 0);
    CHECK_EQ_INT(count_entries(root, "ingest"), 0);
    CHECK_EQ_INT(mj_store_has_blob(s, ABC_SHA256, NULL, NULL), 1);
    CHECK_EQ_INT(mj_store_ingest_begin(s, ABC_SHA256, false, &ing, NULL), MJ_INGEST_PRESENT);
    CHECK(ing == NULL);
    mj_store_close(s);
    rm_rf(root);
    free(root);
}

MJ_TEST(two_processes_ingesting_one_digest_take_turns)
{
    char *root = mkroot();
    mj_store_t *s = NULL;
    CHECK_EQ_INT(mj_store_open(root, &s, NULL), 0);
    int go[2], held[2];
    CHECK(pipe(go) == 0 && pipe(held) == 0);
    pid_t pid = fork();
    if (pid == 0) {
        mj_store_t *cs = NULL;
        mj_ingest_t *ing = NULL;
        char c;
        if (mj_store_open(root, &cs, NULL) < 0 || mj_store_ingest_begin(cs, ABC_SHA256, false, &ing, NULL) != 0)
            _exit(1);
        if (write(held[1], "h", 1) != 1 || read(go[0], &c, 1) != 1)
            _exit(2);
        usleep(100000); /* the parent is waiting on the lock by now */
        if (write_partial(mj_ingest_path(ing), "abc") < 0 || mj_ingest_commit(ing, 3, NULL, NULL) < 0)
            _exit(3);
        _exit(0);
    }
    char c;
    CHECK(read(held[0], &c, 1) == 1);
    mj_ingest_t *ing = NULL;
    CHECK_EQ_INT(mj_store_ingest_begin(s, ABC_SHA256, false, &ing, NULL), MJ_INGEST_BUSY);
    CHECK(write(go[1], "g", 1) == 1);
    CHECK_EQ_INT(mj_store_ingest_begin(s, ABC_SHA256, true, &ing, NULL), MJ_INGEST_PRESENT);
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CHECK_EQ_INT(count_entries(root, "blobs/sha256"), 1);
    close(go[0]);
    close(go[1]);
    close(held[0]);
    close(held[1]);
    mj_store_close(s);
    rm_rf(root);
    free(root);
}

/* ------------------------------------------------------------------ records, leases, gc */

static void record_of(mj_image_record_t *r, const char *name, const char *manifest, const char *layer)
{
    memset(r, 0, sizeof(*r));
    r->name = mj_xstrdup(name);
    r->platform = mj_xstrdup("linux/amd64");
    r->digest = mj_xstrdup(manifest);
    r->pulled = 1765000000.25;
    mj_strv_push(&r->blobs, manifest);
    mj_strv_push(&r->blobs, layer);
}

MJ_TEST(records_round_trip_and_need_their_blobs)
{
    char *root = mkroot();
    mj_store_t *s = NULL;
    CHECK_EQ_INT(mj_store_open(root, &s, NULL), 0);
    char m[MJ_DIGEST_MAX], l[MJ_DIGEST_MAX];
    CHECK_EQ_INT(put_text(s, "{\"manifest\":1}", m), 0);
    digest_of("layer", l);
    mj_image_record_t r;
    record_of(&r, "127.0.0.1:5000/busybox:latest", m, l);
    mj_error_t *e = NULL;
    CHECK_EQ_INT(mj_store_image_put(s, &r, &e), -1); /* the layer is missing */
    CHECK_EQ_INT(mj_error_code(e), MJ_ERR_IMAGE);
    mj_error_free(e);
    CHECK_EQ_INT(put_text(s, "layer", l), 0);
    CHECK_EQ_INT(mj_store_image_put(s, &r, NULL), 0);

    mj_image_record_t got = {0};
    CHECK_EQ_INT(mj_store_image_get(s, r.name, "linux/amd64", &got, NULL), 1);
    CHECK_STREQ(got.digest, m);
    CHECK_EQ_INT(got.blobs.n, 2);
    CHECK(got.pulled > 1765000000.2 && got.pulled < 1765000000.3);
    mj_image_record_clear(&got);
    CHECK_EQ_INT(mj_store_image_get(s, r.name, "linux/arm64", &got, NULL), 0);

    /* hostile fields never reach the disk */
    free(r.name);
    r.name = mj_xstrdup("evil\nblob sha256:x");
    CHECK_EQ_INT(mj_store_image_put(s, &r, NULL), -1);
    mj_image_record_clear(&r);

    /* a damaged record is skipped by the listing */
    char *bad_record = mj_xasprintf("%s/images/0000.record", root);
    FILE *f = fopen(bad_record, "w");
    free(bad_record);
    CHECK(f != NULL);
    fputs("moonjail-image 1\nname x\nblob nope\n", f);
    fclose(f);
    mj_image_record_t *v = NULL;
    size_t n = 0, damaged = 0;
    CHECK_EQ_INT(mj_store_image_list(s, &v, &n, &damaged, NULL), 0);
    CHECK_EQ_INT(n, 1);
    CHECK_EQ_INT(damaged, 1);
    CHECK_STREQ(v[0].name, "127.0.0.1:5000/busybox:latest");
    mj_image_records_free(v, n);
    /* … and stops a collection before it removes anything */
    CHECK_EQ_INT(mj_store_gc(s, false, 0, NULL, &e), -1);
    CHECK_EQ_INT(mj_error_code(e), MJ_ERR_IMAGE);
    mj_error_free(e);
    CHECK_EQ_INT(count_entries(root, "blobs/sha256"), 2);

    CHECK_EQ_INT(mj_store_image_remove(s, "127.0.0.1:5000/busybox:latest", "linux/amd64", NULL), 1);
    CHECK_EQ_INT(mj_store_image_remove(s, "127.0.0.1:5000/busybox:latest", "linux/amd64", NULL), 0);
    mj_store_close(s);
    rm_rf(root);
    free(root);
}

MJ_TEST(gc_keeps_what_records_and_live_leases_name)
{
    char *root = mkroot();
    mj_store_t *s = NULL;
    CHECK_EQ_INT(mj_store_open(root, &s, NULL), 0);
    char m1[MJ_DIGEST_MAX], l1[MJ_DIGEST_MAX], m2[MJ_DIGEST_MAX], l2[MJ_DIGEST_MAX], junk[MJ_DIGEST_MAX];
    CHECK(put_text(s, "m1", m1) == 0 && put_text(s, "l1", l1) == 0 && put_text(s, "m2", m2) == 0 &&
          put_text(s, "shared-layer", l2) == 0 && put_text(s, "junk", junk) == 0);
    mj_image_record_t a, b;
    record_of(&a, "r/a:1", m1, l1);
    record_of(&b, "r/b:1", m2, l2);
    CHECK(mj_store_image_put(s, &a, NULL) == 0 && mj_store_image_put(s, &b, NULL) == 0);
    CHECK_EQ_INT(mj_store_blob_refs(s, l2, NULL), 1);

    /* a lease on b, then b's record removed (rmi): b's blobs stay while the lease lives */
    mj_lease_t *lease = NULL;
    CHECK_EQ_INT(mj_store_lease(s, &b, "sandbox t pid 1", &lease, NULL), 0);
    CHECK_EQ_INT(mj_store_image_in_use(s, m2, NULL), 1);
    CHECK_EQ_INT(mj_store_image_in_use(s, m1, NULL), 0);
    CHECK_EQ_INT(mj_store_blob_refs(s, l2, NULL), 2);
    CHECK_EQ_INT(mj_store_image_remove(s, "r/b:1", "linux/amd64", NULL), 1);

    /* an old partial download and a fresh one */
    char *old = mj_xasprintf("%s/ingest/sha256-%064d.partial", root, 1);
    char *fresh = mj_xasprintf("%s/ingest/sha256-%064d.partial", root, 2);
    CHECK(write_partial(old, "x") == 0 && write_partial(fresh, "y") == 0);
    struct timespec times[2] = {{.tv_sec = 1000}, {.tv_sec = 1000}};
    CHECK(utimensat(AT_FDCWD, old, times, 0) == 0);

    mj_store_gc_stats_t st;
    CHECK_EQ_INT(mj_store_gc(s, false, 3600, &st, NULL), 0);
    CHECK_EQ_INT(st.blobs_removed, 1); /* junk */
    CHECK_EQ_INT(st.partials_removed, 1);
    CHECK_EQ_INT(mj_store_has_blob(s, junk, NULL, NULL), 0);
    CHECK_EQ_INT(mj_store_has_blob(s, l2, NULL, NULL), 1);
    CHECK(access(fresh, F_OK) == 0 && access(old, F_OK) != 0);

    mj_lease_release(lease);
    CHECK_EQ_INT(mj_store_gc(s, false, 0, &st, NULL), 0);
    CHECK_EQ_INT(st.blobs_removed, 2); /* m2, l2 */
    CHECK_EQ_INT(st.kept, 2);          /* m1, l1 */
    CHECK_EQ_INT(count_entries(root, "ingest"), 0);
    CHECK_EQ_INT(mj_store_has_blob(s, m1, NULL, NULL), 1);
    mj_image_record_clear(&a);
    mj_image_record_clear(&b);
    free(old);
    free(fresh);
    mj_store_close(s);
    rm_rf(root);
    free(root);
}

MJ_TEST(a_lease_dies_with_its_holder)
{
    char *root = mkroot();
    mj_store_t *s = NULL;
    CHECK_EQ_INT(mj_store_open(root, &s, NULL), 0);
    char m[MJ_DIGEST_MAX], l[MJ_DIGEST_MAX];
    CHECK(put_text(s, "m", m) == 0 && put_text(s, "l", l) == 0);
    mj_image_record_t r;
    record_of(&r, "r/x:1", m, l);
    int ready[2], go[2];
    CHECK(pipe(ready) == 0 && pipe(go) == 0);
    pid_t pid = fork();
    if (pid == 0) {
        mj_store_t *cs = NULL;
        mj_lease_t *lease = NULL;
        char c;
        if (mj_store_open(root, &cs, NULL) < 0 || mj_store_lease(cs, &r, NULL, &lease, NULL) < 0)
            _exit(1);
        mj_store_close(cs);
        if (write(ready[1], "r", 1) != 1 || read(go[0], &c, 1) != 1)
            _exit(2);
        _exit(0); /* "crashes": the lease file stays, its lock goes */
    }
    char c;
    CHECK(read(ready[0], &c, 1) == 1);
    CHECK_EQ_INT(mj_store_image_in_use(s, m, NULL), 1);
    mj_store_gc_stats_t st;
    CHECK_EQ_INT(mj_store_gc(s, false, 0, &st, NULL), 0);
    CHECK_EQ_INT(st.blobs_removed, 0);
    CHECK(write(go[1], "g", 1) == 1);
    waitpid(pid, NULL, 0);
    CHECK_EQ_INT(mj_store_image_in_use(s, m, NULL), 0);
    CHECK_EQ_INT(mj_store_gc(s, false, 0, &st, NULL), 0);
    CHECK_EQ_INT(st.blobs_removed, 2);
    CHECK_EQ_INT(count_entries(root, "leases"), 0);
    mj_image_record_clear(&r);
    mj_store_close(s);
    rm_rf(root);
    free(root);
}

MJ_TEST(gc_waits_for_other_handles)
{
    char *root = mkroot();
    mj_store_t *s = NULL, *other = NULL;
    CHECK_EQ_INT(mj_store_open(root, &s, NULL), 0);
    CHECK_EQ_INT(mj_store_open(root, &other, NULL), 0); /* e.g. a pull in progress */
    mj_error_t *e = NULL;
    CHECK_EQ_INT(mj_store_gc(s, false, 0, NULL, &e), -1);
    CHECK_EQ_INT(mj_error_code(e), MJ_ERR_TEMPORARY_FAILURE);
    CHECK(mj_error_retryable(e));
    mj_error_free(e);
    mj_store_close(other);
    CHECK_EQ_INT(mj_store_gc(s, false, 0, NULL, NULL), 0);
    mj_store_close(s);
    rm_rf(root);
    free(root);
}

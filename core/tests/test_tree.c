/* test_tree.c — host file trees (tree.c, unpack.c, overlay.c, git.c, fetch.c, digest.c): archives
 * unpack inside their destination and nowhere else, walks and removals never follow symlinks,
 * overlay diffs and exports report only real changes, git archive and fetch report failures with
 * the right codes. */
#define _GNU_SOURCE
#include <archive.h>
#include <archive_entry.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <grp.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <moonjail/moonjail.h>

#include "digest.h"
#include "fetch.h"
#include "git.h"
#include "mjtest.h"
#include "overlay.h"
#include "tree.h"
#include "unpack.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))
/* A path kept in a local buffer (pathf results are reused after a few calls). */
#define HOLD(var, ...)                                                                             \
    char var[PATH_MAX];                                                                            \
    snprintf(var, sizeof(var), __VA_ARGS__)

/* ------------------------------------------------------------------ helpers */

static char *mkbase(void)
{
    char tmpl[] = "/tmp/mjtree-XXXXXX";
    char *d = mkdtemp(tmpl);
    return d ? strdup(d) : NULL;
}

static char *pathf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *pathf(const char *fmt, ...)
{
    static char bufs[8][PATH_MAX];
    static int next;
    char *b = bufs[next++ % 8];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b, PATH_MAX, fmt, ap);
    va_end(ap);
    return b;
}

static int write_file(const char *path, const char *data, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0)
        return -1;
    size_t len = strlen(data);
    int r = write(fd, data, len) == (ssize_t)len ? 0 : -1;
    close(fd);
    chmod(path, mode);
    return r;
}

static bool file_is(const char *path, const char *want)
{
    char buf[8192];
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return false;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n < 0)
        return false;
    buf[n] = '\0';
    return strcmp(buf, want) == 0;
}

static bool exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

/* Takes &e so the error is read after the call under test ran. */
static int expect_err(int rc, mj_error_t **ep, mj_error_code_t code, const char *needle)
{
    mj_error_t *e = *ep;
    *ep = NULL;
    int ok = rc == -1 && e && mj_error_code(e) == code && (!needle || strstr(mj_error_message(e), needle));
    if (!ok)
        fprintf(stderr, "    got rc=%d code=%s message=%s\n", rc, e ? mj_error_code_name(mj_error_code(e)) : "-",
                e ? mj_error_message(e) : "(none)");
    mj_error_free(e);
    return ok;
}

static int expect_ok(int rc, mj_error_t **ep)
{
    mj_error_t *e = *ep;
    *ep = NULL;
    if (rc != 0 || e)
        fprintf(stderr, "    got rc=%d message=%s\n", rc, e ? mj_error_message(e) : "(none)");
    int ok = rc == 0 && !e;
    mj_error_free(e);
    return ok;
}

/* A test in a fresh scratch directory `base` (under /tmp), removed with mj_tree_remove after the
 * body — which must succeed — also when the body failed or skipped. */
#define TREE_TEST(name)                                                                            \
    static void tree_test_##name(const char *base);                                                \
    MJ_TEST(name)                                                                                  \
    {                                                                                              \
        char *base = mkbase();                                                                     \
        CHECK(base);                                                                               \
        tree_test_##name(base);                                                                    \
        mj_error_t *e = NULL;                                                                      \
        int removed = expect_ok(mj_tree_remove(base, &e), &e);                                     \
        free(base);                                                                                \
        CHECK(removed);                                                                            \
    }                                                                                              \
    static void tree_test_##name(const char *base)

/* An archive entry to write: type 'f' file, 'd' directory, 'l' symlink, 'h' hard link, 'c' char device. */
typedef struct {
    const char *name;
    char type;
    const char *data;  /* file content / link target */
    unsigned mode;     /* 0: 0644 (dirs 0755) */
} tentry_t;

static int make_archive(const char *path, const char *fmt, const tentry_t *ents, size_t n)
{
    struct archive *a = archive_write_new();
    if (strcmp(fmt, "zip") == 0) {
        archive_write_set_format_zip(a);
    } else {
        archive_write_set_format_pax_restricted(a);
        if (strcmp(fmt, "tar.gz") == 0)
            archive_write_add_filter_gzip(a);
    }
    if (archive_write_open_filename(a, path) != ARCHIVE_OK) {
        fprintf(stderr, "    make_archive: %s\n", archive_error_string(a));
        archive_write_free(a);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        struct archive_entry *e = archive_entry_new();
        archive_entry_set_pathname(e, ents[i].name);
        archive_entry_set_mtime(e, 1000000000, 0);
        size_t size = 0;
        switch (ents[i].type) {
        case 'f':
            archive_entry_set_filetype(e, AE_IFREG);
            archive_entry_set_perm(e, ents[i].mode ? ents[i].mode : 0644);
            size = strlen(ents[i].data);
            archive_entry_set_size(e, (la_int64_t)size);
            break;
        case 'd':
            archive_entry_set_filetype(e, AE_IFDIR);
            archive_entry_set_perm(e, ents[i].mode ? ents[i].mode : 0755);
            break;
        case 'l':
            archive_entry_set_filetype(e, AE_IFLNK);
            archive_entry_set_perm(e, 0777);
            archive_entry_set_symlink(e, ents[i].data);
            break;
        case 'h':
            archive_entry_set_filetype(e, AE_IFREG);
            archive_entry_set_perm(e, 0644);
            archive_entry_set_hardlink(e, ents[i].data);
            archive_entry_set_size(e, 0);
            break;
        case 'c':
            archive_entry_set_filetype(e, AE_IFCHR);
            archive_entry_set_perm(e, 0666);
            archive_entry_set_rdev(e, makedev(1, 3));
            break;
        }
        int r = archive_write_header(a, e);
        if (r == ARCHIVE_OK && size)
            r = archive_write_data(a, ents[i].data, size) == (la_ssize_t)size ? ARCHIVE_OK : ARCHIVE_FATAL;
        archive_entry_free(e);
        if (r != ARCHIVE_OK) {
            fprintf(stderr, "    make_archive %s: %s\n", ents[i].name, archive_error_string(a));
            archive_write_free(a);
            return -1;
        }
    }
    archive_write_close(a);
    archive_write_free(a);
    return 0;
}

/* Unpacks a one-case archive into base/dest; returns the rc, error in *e. */
static int unpack_case(const char *base, const tentry_t *ents, size_t n, mj_error_t **e)
{
    HOLD(arch, "%s/case.tar", base);
    unlink(arch);
    mj_tree_remove(pathf("%s/dest", base), NULL);
    mkdir(pathf("%s/dest", base), 0755);
    if (make_archive(arch, "tar", ents, n) < 0)
        return -2;
    return mj_unpack_archive(arch, pathf("%s/dest", base), NULL, e);
}

/* ------------------------------------------------------------------ unpack */

MJ_TEST(entry_paths_are_cleaned_stripped_and_refused)
{
    char *out = NULL;
    const char *why = NULL;
    CHECK_EQ_INT(mj_unpack_entry_path("./a//b/", 0, &out, &why), 0);
    CHECK_STREQ(out, "a/b");
    free(out);
    CHECK_EQ_INT(mj_unpack_entry_path("top/a/./b", 1, &out, &why), 0);
    CHECK_STREQ(out, "a/b");
    free(out);
    CHECK_EQ_INT(mj_unpack_entry_path("a..b/..c", 0, &out, &why), 0);
    CHECK_STREQ(out, "a..b/..c");
    free(out);
    CHECK_EQ_INT(mj_unpack_entry_path("top/", 1, &out, &why), 0); /* nothing left: skipped */
    CHECK(out == NULL);
    CHECK_EQ_INT(mj_unpack_entry_path("./.", 0, &out, &why), 0);
    CHECK(out == NULL);
    CHECK_EQ_INT(mj_unpack_entry_path("/etc/passwd", 0, &out, &why), -1);
    CHECK_STREQ(why, "is an absolute path");
    CHECK_EQ_INT(mj_unpack_entry_path("a/../../b", 1, &out, &why), -1);
    CHECK_STREQ(why, "has a '..' component");
    CHECK_EQ_INT(mj_unpack_entry_path("", 0, &out, &why), -1);
    CHECK_STREQ(why, "has no name");
    CHECK(out == NULL);
}

TREE_TEST(unpack_tar_gz_restores_files_links_modes_and_times)
{
    const tentry_t ents[] = {
        {"top/", 'd', NULL, 0750},
        {"top/a.txt", 'f', "hello", 04755},
        {"top/link", 'l', "a.txt", 0},
        {"top/hard", 'h', "top/a.txt", 0},
        {"top/sub/b", 'f', "bee", 0600},
        {"./top/./c", 'f', "see", 0},
    };
    CHECK_EQ_INT(make_archive(pathf("%s/a.tar.gz", base), "tar.gz", ents, NELEM(ents)), 0);
    CHECK_EQ_INT(mkdir(pathf("%s/dest", base), 0755), 0);
    mj_error_t *e = NULL;
    CHECK(expect_ok(mj_unpack_archive(pathf("%s/a.tar.gz", base), pathf("%s/dest", base), NULL, &e), &e));
    CHECK(file_is(pathf("%s/dest/top/a.txt", base), "hello"));
    CHECK(file_is(pathf("%s/dest/top/sub/b", base), "bee"));
    CHECK(file_is(pathf("%s/dest/top/c", base), "see"));
    struct stat st, st2;
    CHECK_EQ_INT(lstat(pathf("%s/dest/top/a.txt", base), &st), 0);
    CHECK_EQ_INT(st.st_mode & 07777, 0755); /* setuid cleared */
    CHECK_EQ_INT(st.st_mtim.tv_sec, 1000000000);
    CHECK_EQ_INT(lstat(pathf("%s/dest/top/hard", base), &st2), 0);
    CHECK_EQ_INT(st2.st_ino, st.st_ino);
    CHECK_EQ_INT(lstat(pathf("%s/dest/top", base), &st), 0);
    CHECK_EQ_INT(st.st_mode & 07777, 0750);
    char target[64] = "";
    CHECK(readlink(pathf("%s/dest/top/link", base), target, sizeof(target) - 1) == 5);
    CHECK_STREQ(target, "a.txt");
}

TREE_TEST(unpack_zip)
{
    const tentry_t ents[] = {
        {"z/", 'd', NULL, 0},
        {"z/one.txt", 'f', "one", 0},
        {"z/dir/two.txt", 'f', "two", 0640},
    };
    CHECK_EQ_INT(make_archive(pathf("%s/a.zip", base), "zip", ents, NELEM(ents)), 0);
    CHECK_EQ_INT(mkdir(pathf("%s/dest", base), 0755), 0);
    mj_error_t *e = NULL;
    mj_unpack_limits_t lim = {.strip_components = 1};
    CHECK(expect_ok(mj_unpack_archive(pathf("%s/a.zip", base), pathf("%s/dest", base), &lim, &e), &e));
    CHECK(file_is(pathf("%s/dest/one.txt", base), "one"));
    CHECK(file_is(pathf("%s/dest/dir/two.txt", base), "two"));
    CHECK(!exists(pathf("%s/dest/z", base)));
    /* the byte budget counts what is really inflated, named after the entry */
    CHECK(expect_ok(mj_tree_remove(pathf("%s/dest", base), &e), &e));
    CHECK_EQ_INT(mkdir(pathf("%s/dest", base), 0755), 0);
    lim = (mj_unpack_limits_t){.max_bytes = 4};
    CHECK(expect_err(mj_unpack_archive(pathf("%s/a.zip", base), pathf("%s/dest", base), &lim, &e), &e,
                     MJ_ERR_RESOURCE_LIMIT_EXCEEDED, "entry 'z/dir/two.txt': more than 4 bytes in all (max_bytes)"));
}

TREE_TEST(unpack_refuses_escapes_and_special_files)
{
    CHECK_EQ_INT(mkdir(pathf("%s/outside", base), 0755), 0);
    CHECK_EQ_INT(write_file(pathf("%s/x", base), "precious", 0644), 0);
    mj_error_t *e = NULL;

    const tentry_t dotdot[] = {{"../escape", 'f', "pwned", 0}};
    CHECK(expect_err(unpack_case(base, dotdot, 1, &e), &e, MJ_ERR_INVALID_CONFIG, "entry '../escape' has a '..'"));
    CHECK(!exists(pathf("%s/escape", base)));

    const tentry_t inner_dotdot[] = {{"a/../../escape2", 'f', "pwned", 0}};
    CHECK(expect_err(unpack_case(base, inner_dotdot, 1, &e), &e, MJ_ERR_INVALID_CONFIG, "'..'"));
    CHECK(!exists(pathf("%s/escape2", base)));

    HOLD(abspath, "%s/abs", base);
    const tentry_t absolute[] = {{abspath, 'f', "pwned", 0}};
    CHECK(expect_err(unpack_case(base, absolute, 1, &e), &e, MJ_ERR_INVALID_CONFIG, "is an absolute path"));
    CHECK(!exists(abspath));

    HOLD(out, "%s/outside", base);
    const tentry_t through_link[] = {{"l", 'l', out, 0}, {"l/x", 'f', "pwned", 0}};
    CHECK(expect_err(unpack_case(base, through_link, 2, &e), &e, MJ_ERR_INVALID_CONFIG,
                     "entry 'l/x': a parent directory is a symbolic link"));
    CHECK(!exists(pathf("%s/outside/x", base)));

    const tentry_t deep_link[] = {{"d/", 'd', NULL, 0}, {"d/l", 'l', "../..", 0}, {"d/l/x2", 'f', "pwned", 0}};
    CHECK(expect_err(unpack_case(base, deep_link, 3, &e), &e, MJ_ERR_INVALID_CONFIG, "symbolic link"));
    CHECK(!exists(pathf("%s/x2", base)));

    const tentry_t hard_out[] = {{"h", 'h', "../x", 0}};
    CHECK(expect_err(unpack_case(base, hard_out, 1, &e), &e, MJ_ERR_INVALID_CONFIG, "hard link target '../x'"));
    CHECK(!exists(pathf("%s/dest/h", base)));

    HOLD(absx, "%s/x", base);
    const tentry_t hard_abs[] = {{"h", 'h', absx, 0}};
    CHECK(expect_err(unpack_case(base, hard_abs, 1, &e), &e, MJ_ERR_INVALID_CONFIG, "hard link target"));
    CHECK(!exists(pathf("%s/dest/h", base)));

    /* A hard link through an extracted symlink: links to the symlink's target outside would escape. */
    const tentry_t hard_via_link[] = {{"l", 'l', base, 0}, {"h", 'h', "l/x", 0}};
    CHECK(expect_err(unpack_case(base, hard_via_link, 2, &e), &e, MJ_ERR_INVALID_CONFIG, "symbolic link"));
    CHECK(!exists(pathf("%s/dest/h", base)));

    const tentry_t dev[] = {{"ok", 'f', "fine", 0}, {"null", 'c', NULL, 0}};
    CHECK(expect_err(unpack_case(base, dev, 2, &e), &e, MJ_ERR_INVALID_CONFIG,
                     "entry 'null': character device entries are not allowed"));
    CHECK(!exists(pathf("%s/dest/null", base)));

    /* mtree names host files to copy in: not a format we read. */
    HOLD(mtree, "%s/spec.mtree", base);
    char spec[PATH_MAX + 64];
    snprintf(spec, sizeof(spec), "#mtree\n./leak type=file mode=0644 contents=%s/x\n", base);
    CHECK_EQ_INT(write_file(mtree, spec, 0644), 0);
    CHECK(expect_err(mj_unpack_archive(mtree, pathf("%s/dest", base), NULL, &e), &e, MJ_ERR_INVALID_CONFIG, "spec.mtree"));
    CHECK(!exists(pathf("%s/dest/leak", base)));

    CHECK(file_is(pathf("%s/x", base), "precious"));
}

TREE_TEST(unpack_budgets_and_strip_components)
{
    char big[101];
    memset(big, 'b', 100);
    big[100] = '\0';
    const tentry_t ents[] = {
        {"pkg-1.0/", 'd', NULL, 0},
        {"pkg-1.0/a", 'f', big, 0},
        {"pkg-1.0/d/b", 'f', big, 0},
        {"pkg-1.0/c", 'f', big, 0},
        {"toplevel", 'f', "skipped", 0},
    };
    HOLD(arch, "%s/b.tar", base);
    HOLD(dest, "%s/dest", base);
    CHECK_EQ_INT(make_archive(arch, "tar", ents, NELEM(ents)), 0);
    mj_error_t *e = NULL;

    CHECK_EQ_INT(mkdir(dest, 0755), 0);
    mj_unpack_limits_t lim = {.max_bytes = 250};
    CHECK(expect_err(mj_unpack_archive(arch, dest, &lim, &e), &e, MJ_ERR_RESOURCE_LIMIT_EXCEEDED, "max_bytes"));
    lim = (mj_unpack_limits_t){.max_entries = 3};
    CHECK(expect_err(mj_unpack_archive(arch, dest, &lim, &e), &e, MJ_ERR_RESOURCE_LIMIT_EXCEEDED, "(max_entries)"));
    e = NULL;
    CHECK(expect_err(mj_unpack_archive(arch, pathf("%s/nope", base), NULL, &e), &e, MJ_ERR_FILE_OPERATION_FAILED,
                     "destination"));

    CHECK(expect_ok(mj_tree_remove(dest, &e), &e));
    CHECK_EQ_INT(mkdir(dest, 0755), 0);
    lim = (mj_unpack_limits_t){.max_bytes = 300, .max_entries = 5, .strip_components = 1};
    CHECK(expect_ok(mj_unpack_archive(arch, dest, &lim, &e), &e));
    CHECK(file_is(pathf("%s/dest/a", base), big));
    CHECK(file_is(pathf("%s/dest/d/b", base), big));
    CHECK(file_is(pathf("%s/dest/c", base), big));
    CHECK(!exists(pathf("%s/dest/toplevel", base)));
    CHECK(!exists(pathf("%s/dest/pkg-1.0", base)));

    /* Not an archive at all. */
    CHECK_EQ_INT(write_file(pathf("%s/junk.tar", base), "this is not an archive, just some words", 0644), 0);
    CHECK(expect_err(mj_unpack_archive(pathf("%s/junk.tar", base), dest, NULL, &e), &e, MJ_ERR_INVALID_CONFIG,
                     "junk.tar"));
}

/* ------------------------------------------------------------------ walk */

typedef struct {
    char seen[64][64];
    char targets[64][64];
    int n;
    const char *skip;  /* return 1 for this path */
    const char *stop;  /* return -1 for this path */
} walk_log_t;

static int walk_record(const mj_tree_entry_t *e, void *ud)
{
    walk_log_t *w = ud;
    if (w->n < 64) {
        snprintf(w->seen[w->n], sizeof(w->seen[0]), "%s", e->path);
        snprintf(w->targets[w->n], sizeof(w->targets[0]), "%s", e->link_target ? e->link_target : "");
        w->n++;
    }
    if (w->stop && strcmp(e->path, w->stop) == 0)
        return -1;
    return w->skip && strcmp(e->path, w->skip) == 0 ? 1 : 0;
}

TREE_TEST(walk_is_sorted_and_never_follows_symlinks)
{
    HOLD(root, "%s/root", base);
    CHECK_EQ_INT(mkdir(root, 0755), 0);
    CHECK_EQ_INT(mkdir(pathf("%s/outside", base), 0755), 0);
    CHECK_EQ_INT(write_file(pathf("%s/outside/secret", base), "s", 0644), 0);
    CHECK_EQ_INT(mkdir(pathf("%s/b", root), 0755), 0);
    CHECK_EQ_INT(mkdir(pathf("%s/b/inner", root), 0755), 0);
    CHECK_EQ_INT(write_file(pathf("%s/b/inner/f", root), "f", 0644), 0);
    CHECK_EQ_INT(write_file(pathf("%s/a", root), "a", 0644), 0);
    CHECK_EQ_INT(write_file(pathf("%s/c", root), "c", 0644), 0);
    CHECK_EQ_INT(symlink("b", pathf("%s/lb", root)), 0);
    CHECK_EQ_INT(symlink(pathf("%s/outside", base), pathf("%s/out", root)), 0);

    walk_log_t w = {0};
    mj_error_t *e = NULL;
    CHECK(expect_ok(mj_tree_walk(root, walk_record, &w, &e), &e));
    const char *want[] = {"a", "b", "b/inner", "b/inner/f", "c", "lb", "out"};
    CHECK_EQ_INT(w.n, NELEM(want));
    for (int i = 0; i < w.n; i++)
        CHECK_STREQ(w.seen[i], want[i]);
    CHECK_STREQ(w.targets[5], "b");

    memset(&w, 0, sizeof(w));
    w.skip = "b";
    CHECK(expect_ok(mj_tree_walk(root, walk_record, &w, &e), &e));
    CHECK_EQ_INT(w.n, 5); /* a b c lb out */

    memset(&w, 0, sizeof(w));
    w.stop = "b/inner";
    CHECK(expect_err(mj_tree_walk(root, walk_record, &w, &e), &e, MJ_ERR_INVALID_STATE, "walk stopped"));
    CHECK_EQ_INT(w.n, 3);

    /* The root itself must be a real directory. */
    CHECK(expect_err(mj_tree_walk(pathf("%s/lb", root), walk_record, &w, &e), &e, MJ_ERR_INVALID_CONFIG,
                     "not a directory"));
    CHECK(expect_err(mj_tree_walk(pathf("%s/lb/", root), walk_record, &w, &e), &e, MJ_ERR_INVALID_CONFIG,
                     "not a directory"));
}

/* ------------------------------------------------------------------ remove */

TREE_TEST(remove_tree_never_follows_symlinks_and_opens_locked_dirs)
{
    HOLD(t, "%s/tree", base);
    CHECK_EQ_INT(mkdir(pathf("%s/outside", base), 0755), 0);
    CHECK_EQ_INT(write_file(pathf("%s/outside/keep", base), "keep", 0644), 0);
    CHECK_EQ_INT(mkdir(t, 0755), 0);
    CHECK_EQ_INT(mkdir(pathf("%s/tree/ro", base), 0755), 0);
    CHECK_EQ_INT(write_file(pathf("%s/tree/ro/f", base), "f", 0400), 0);
    CHECK_EQ_INT(chmod(pathf("%s/tree/ro", base), 0500), 0);
    CHECK_EQ_INT(mkdir(pathf("%s/tree/none", base), 0755), 0);
    CHECK_EQ_INT(write_file(pathf("%s/tree/none/g", base), "g", 0644), 0);
    CHECK_EQ_INT(chmod(pathf("%s/tree/none", base), 0), 0);
    CHECK_EQ_INT(symlink(pathf("%s/outside", base), pathf("%s/tree/out", base)), 0);
    CHECK_EQ_INT(symlink(pathf("%s/outside", base), pathf("%s/toplink", base)), 0);

    mj_error_t *e = NULL;
    /* A symlink given as the path goes itself, not what it points to. */
    CHECK(expect_ok(mj_tree_remove(pathf("%s/toplink", base), &e), &e));
    CHECK(!exists(pathf("%s/toplink", base)));
    CHECK(file_is(pathf("%s/outside/keep", base), "keep"));

    CHECK(expect_ok(mj_tree_remove(t, &e), &e));
    CHECK(!exists(t));
    CHECK(file_is(pathf("%s/outside/keep", base), "keep"));
    CHECK(expect_ok(mj_tree_remove(t, &e), &e)); /* gone already: fine */
    CHECK(expect_ok(mj_tree_remove(pathf("%s/no/such/dir", base), &e), &e));
    CHECK(expect_err(mj_tree_remove(pathf("%s/..", base), &e), &e, MJ_ERR_INVALID_CONFIG, "refusing"));
    CHECK(expect_err(mj_tree_remove("/", &e), &e, MJ_ERR_INVALID_CONFIG, "refusing"));
}

/* As an unprivileged owner (no CAP_DAC_OVERRIDE to hide the problem): directories a sandbox left
 * 0500 or 0000 are opened up before their contents go. */
TREE_TEST(remove_tree_as_owner_opens_locked_dirs)
{
    if (geteuid() != 0)
        MJ_SKIP("needs root to become another user");
    HOLD(t, "%s/tree", base);
    CHECK_EQ_INT(chmod(base, 0755), 0);
    CHECK_EQ_INT(mkdir(t, 0755), 0);
    CHECK_EQ_INT(mkdir(pathf("%s/tree/ro", base), 0755), 0);
    CHECK_EQ_INT(write_file(pathf("%s/tree/ro/f", base), "f", 0400), 0);
    CHECK_EQ_INT(mkdir(pathf("%s/tree/none", base), 0755), 0);
    CHECK_EQ_INT(mkdir(pathf("%s/tree/none/deeper", base), 0755), 0);
    CHECK_EQ_INT(write_file(pathf("%s/tree/none/deeper/g", base), "g", 0644), 0);
    const char *own[] = {"tree", "tree/ro", "tree/ro/f", "tree/none", "tree/none/deeper", "tree/none/deeper/g"};
    for (size_t i = 0; i < NELEM(own); i++)
        CHECK_EQ_INT(lchown(pathf("%s/%s", base, own[i]), 65534, 65534), 0);
    CHECK_EQ_INT(chmod(pathf("%s/tree/none/deeper", base), 0500), 0);
    CHECK_EQ_INT(chmod(pathf("%s/tree/ro", base), 0500), 0);
    CHECK_EQ_INT(chmod(pathf("%s/tree/none", base), 0), 0);
    CHECK_EQ_INT(chown(base, 65534, 65534), 0);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        if (setgroups(0, NULL) < 0 || setgid(65534) < 0 || setuid(65534) < 0)
            _exit(2);
        mj_error_t *e = NULL;
        int rc = mj_tree_remove(t, &e);
        if (rc < 0)
            fprintf(stderr, "    %s\n", mj_error_message(e));
        mj_error_free(e);
        _exit(rc == 0 && !exists(t) ? 0 : 1);
    }
    int status = 0;
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CHECK(!exists(t));
}

TREE_TEST(remove_tree_does_not_cross_mounts)
{
    CHECK_EQ_INT(mkdir(pathf("%s/tree", base), 0755), 0);
    CHECK_EQ_INT(mkdir(pathf("%s/tree/mnt", base), 0755), 0);
    CHECK_EQ_INT(mkdir(pathf("%s/tree/bind", base), 0755), 0);
    CHECK_EQ_INT(mkdir(pathf("%s/outside", base), 0755), 0);
    CHECK_EQ_INT(write_file(pathf("%s/outside/keep", base), "keep", 0644), 0);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
            _exit(77);
        if (mount("tmpfs", pathf("%s/tree/mnt", base), "tmpfs", 0, "size=1m") < 0 ||
            write_file(pathf("%s/tree/mnt/inside", base), "in", 0644) < 0) {
            perror("    tmpfs");
            _exit(77);
        }
        mj_error_t *e = NULL;
        /* another device */
        int ok = mj_tree_remove(pathf("%s/tree", base), &e) == -1 && e && strstr(mj_error_message(e), "another mount");
        if (!ok)
            fprintf(stderr, "    tmpfs: %s\n", e ? mj_error_message(e) : "removed");
        mj_error_free(e);
        e = NULL;
        ok = ok && file_is(pathf("%s/tree/mnt/inside", base), "in");
        umount(pathf("%s/tree/mnt", base));
        /* the same file system bound elsewhere: same st_dev, still another mount ("bind" sorted
         * before "mnt" and went in the removal above, as rm -rf would have) */
        mkdir(pathf("%s/tree/bind", base), 0755);
        if (mount(pathf("%s/outside", base), pathf("%s/tree/bind", base), NULL, MS_BIND, NULL) < 0) {
            perror("    bind");
            _exit(77);
        }
        int r = mj_tree_remove(pathf("%s/tree", base), &e);
        if (r != -1 || !e || !strstr(mj_error_message(e), "another mount")) {
            fprintf(stderr, "    bind: %s\n", e ? mj_error_message(e) : "removed");
            ok = 0;
        }
        mj_error_free(e);
        e = NULL;
        ok = ok && file_is(pathf("%s/outside/keep", base), "keep");
        if (mj_tree_remove(pathf("%s/tree/bind", base), &e) != -1 || !e || !strstr(mj_error_message(e), "mount point"))
            ok = 0;
        mj_error_free(e);
        umount(pathf("%s/tree/bind", base));
        _exit(ok ? 0 : 1);
    }
    int status = 0;
    CHECK(waitpid(pid, &status, 0) == pid);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 77)
        MJ_SKIP("cannot make a mount namespace here (needs root)");
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CHECK(file_is(pathf("%s/outside/keep", base), "keep"));
}

/* ------------------------------------------------------------------ overlay diff / export */

typedef struct {
    char lines[64][96];
    int n;
} diff_log_t;

static int diff_record(const char *path, mj_diff_kind_t kind, mode_t mode, void *ud)
{
    diff_log_t *d = ud;
    const char *k = kind == MJ_DIFF_ADDED ? "A" : kind == MJ_DIFF_MODIFIED ? "M" : "D";
    const char *t = S_ISDIR(mode) ? "dir" : S_ISLNK(mode) ? "symlink" : S_ISREG(mode) ? "file" : "other";
    if (d->n < 64)
        snprintf(d->lines[d->n++], sizeof(d->lines[0]), "%s %s %s", k, path, t);
    return 0;
}

/* Whether the diff reported exactly want, in order; prints both when not. */
static bool diff_matches(const diff_log_t *d, const char *const *want, size_t n)
{
    bool same = (size_t)d->n == n;
    for (int i = 0; same && i < d->n; i++)
        same = strcmp(d->lines[i], want[i]) == 0;
    if (!same) {
        for (int i = 0; i < d->n; i++)
            fprintf(stderr, "    got:  %s\n", d->lines[i]);
        for (size_t i = 0; i < n; i++)
            fprintf(stderr, "    want: %s\n", want[i]);
    }
    return same;
}

/* lower and upper of a synthetic overlay, as the kernel would leave them after:
 *   a.txt copied up unchanged; b.txt rewritten; c.txt rm'ed (0:0 whiteout); d/new created;
 *   e rm'ed (xattr whiteout); f.txt chmod'ed; fifo created; link retargeted; new/ + new/f made;
 *   op/ rm -rf'ed and recreated (opaque) with old1 identical and fresh/ inside; sub/ dir chmod'ed;
 *   gone-file replaced by a directory. */
static int build_overlay(const char *base)
{
    HOLD(lo, "%s/lower", base);
    HOLD(up, "%s/upper", base);
    if (mkdir(lo, 0755) < 0 || mkdir(up, 0755) < 0)
        return -1;
    int r = 0;
    r |= write_file(pathf("%s/a.txt", lo), "same", 0644);
    r |= write_file(pathf("%s/b.txt", lo), "orig", 0644);
    r |= write_file(pathf("%s/c.txt", lo), "x", 0644);
    r |= mkdir(pathf("%s/d", lo), 0755);
    r |= write_file(pathf("%s/d/keep", lo), "k", 0644);
    r |= write_file(pathf("%s/e", lo), "e", 0644);
    r |= write_file(pathf("%s/f.txt", lo), "f", 0644);
    r |= symlink("a.txt", pathf("%s/link", lo));
    r |= mkdir(pathf("%s/op", lo), 0755);
    r |= write_file(pathf("%s/op/old1", lo), "one", 0644);
    r |= write_file(pathf("%s/op/old2", lo), "two", 0644);
    r |= mkdir(pathf("%s/op/sub", lo), 0755);
    r |= write_file(pathf("%s/op/sub/deep", lo), "deep", 0644);
    r |= mkdir(pathf("%s/op/fresh", lo), 0755);
    r |= write_file(pathf("%s/op/fresh/hidden", lo), "h", 0644);
    r |= mkdir(pathf("%s/perm", lo), 0755);
    r |= write_file(pathf("%s/swap", lo), "file", 0644);
    if (r)
        return -1;

    r |= write_file(pathf("%s/a.txt", up), "same", 0644);
    r |= write_file(pathf("%s/b.txt", up), "changed", 0644);
    if (mknod(pathf("%s/c.txt", up), S_IFCHR | 0000, makedev(0, 0)) < 0) {
        if (errno != EPERM)
            return -1;
        /* No CAP_MKNOD (not root): the xattr form of a whiteout instead, which overlayfs itself
         * writes where it cannot make the device; "e" below covers that form in any case. */
        r |= write_file(pathf("%s/c.txt", up), "", 0644);
        r |= setxattr(pathf("%s/c.txt", up), "user.overlay.whiteout", "", 0, 0);
    }
    r |= mkdir(pathf("%s/d", up), 0755);
    r |= write_file(pathf("%s/d/new", up), "n", 0644);
    r |= write_file(pathf("%s/e", up), "", 0644);
    r |= setxattr(pathf("%s/e", up), "user.overlay.whiteout", "", 0, 0);
    r |= write_file(pathf("%s/f.txt", up), "f", 0600);
    r |= mkfifo(pathf("%s/fifo", up), 0644);
    r |= symlink("b.txt", pathf("%s/link", up));
    r |= mkdir(pathf("%s/new", up), 0755);
    r |= write_file(pathf("%s/new/f", up), "nf", 0640);
    r |= mkdir(pathf("%s/op", up), 0755);
    r |= setxattr(pathf("%s/op", up), "user.overlay.opaque", "y", 1, 0);
    r |= write_file(pathf("%s/op/old1", up), "one", 0644);
    r |= mkdir(pathf("%s/op/fresh", up), 0755); /* not opaque itself: its parent hides the lower */
    r |= write_file(pathf("%s/op/fresh/mine", up), "m", 0644);
    r |= mkdir(pathf("%s/perm", up), 0700);
    r |= chmod(pathf("%s/perm", up), 0700);
    r |= mkdir(pathf("%s/swap", up), 0755);
    r |= write_file(pathf("%s/swap/in", up), "i", 0644);
    return r ? -1 : 0;
}

static const char *const want_diff[] = {
    "M b.txt file",   "D c.txt file",   "A d/new file",        "D e file",           "M f.txt file",
    "A fifo other",   "M link symlink", "A new dir",           "A new/f file",       "D op/fresh/hidden file",
    "A op/fresh/mine file", "D op/old2 file", "D op/sub dir",  "M perm dir",         "M swap dir",
    "A swap/in file",
};

TREE_TEST(overlay_diff_reports_real_changes_in_order)
{
    CHECK_EQ_INT(build_overlay(base), 0);
    diff_log_t d = {0};
    mj_error_t *e = NULL;
    CHECK(expect_ok(mj_overlay_diff(pathf("%s/upper", base), pathf("%s/lower", base), diff_record, &d, &e), &e));
    CHECK(diff_matches(&d, want_diff, NELEM(want_diff)));
    CHECK(expect_err(mj_overlay_diff(pathf("%s/nope", base), pathf("%s/lower", base), diff_record, &d, &e), &e,
                     MJ_ERR_FILE_OPERATION_FAILED, "upper"));
}

TREE_TEST(overlay_export_to_directory)
{
    CHECK_EQ_INT(build_overlay(base), 0);
    HOLD(x, "%s/export", base);
    mj_error_t *e = NULL;
    CHECK(expect_ok(mj_overlay_export(pathf("%s/upper", base), pathf("%s/lower", base), x, &e), &e));
    CHECK(!exists(pathf("%s/export/a.txt", base)));
    CHECK(file_is(pathf("%s/export/b.txt", base), "changed"));
    CHECK(!exists(pathf("%s/export/c.txt", base)));
    CHECK(file_is(pathf("%s/export/.wh.c.txt", base), ""));
    CHECK(file_is(pathf("%s/export/.wh.e", base), ""));
    CHECK(file_is(pathf("%s/export/d/new", base), "n"));
    CHECK(!exists(pathf("%s/export/d/keep", base)));
    CHECK(!exists(pathf("%s/export/fifo", base)));
    CHECK(file_is(pathf("%s/export/new/f", base), "nf"));
    CHECK(file_is(pathf("%s/export/op/.wh.old2", base), ""));
    CHECK(file_is(pathf("%s/export/op/.wh.sub", base), ""));
    CHECK(file_is(pathf("%s/export/op/fresh/.wh.hidden", base), ""));
    CHECK(file_is(pathf("%s/export/swap/in", base), "i"));
    struct stat st;
    CHECK_EQ_INT(lstat(pathf("%s/export/f.txt", base), &st), 0);
    CHECK_EQ_INT(st.st_mode & 07777, 0600);
    CHECK_EQ_INT(lstat(pathf("%s/export/new/f", base), &st), 0);
    CHECK_EQ_INT(st.st_mode & 07777, 0640);
    CHECK_EQ_INT(lstat(pathf("%s/export/perm", base), &st), 0);
    CHECK(S_ISDIR(st.st_mode) && (st.st_mode & 07777) == 0700);
    char target[64] = "";
    CHECK(readlink(pathf("%s/export/link", base), target, sizeof(target) - 1) == 5);
    CHECK_STREQ(target, "b.txt");
    /* a non-empty destination is refused and left alone */
    CHECK(expect_err(mj_overlay_export(pathf("%s/upper", base), pathf("%s/lower", base), x, &e), &e,
                     MJ_ERR_INVALID_CONFIG, "not empty"));
    CHECK(file_is(pathf("%s/export/b.txt", base), "changed"));
    /* an existing empty one is fine */
    CHECK_EQ_INT(mkdir(pathf("%s/empty", base), 0755), 0);
    CHECK(expect_ok(mj_overlay_export(pathf("%s/upper", base), pathf("%s/lower", base), pathf("%s/empty", base), &e), &e));
    CHECK(file_is(pathf("%s/empty/new/f", base), "nf"));
}

static int read_tar_names(const char *path, char names[][96], int max, char *content_b, size_t content_len)
{
    struct archive *a = archive_read_new();
    archive_read_support_filter_all(a);
    archive_read_support_format_all(a);
    if (archive_read_open_filename(a, path, 10240) != ARCHIVE_OK) {
        archive_read_free(a);
        return -1;
    }
    int n = 0;
    struct archive_entry *ent;
    while (archive_read_next_header(a, &ent) == ARCHIVE_OK) {
        const char *name = archive_entry_pathname(ent);
        if (n < max) {
            snprintf(names[n], 96, "%s", name);
            size_t l = strlen(names[n]);
            if (l > 1 && names[n][l - 1] == '/')
                names[n][l - 1] = '\0';
            n++;
        }
        if (strcmp(name, "b.txt") == 0) {
            la_ssize_t got = archive_read_data(a, content_b, content_len - 1);
            content_b[got > 0 ? got : 0] = '\0';
        }
    }
    archive_read_free(a);
    return n;
}

TREE_TEST(overlay_export_to_tar)
{
    CHECK_EQ_INT(build_overlay(base), 0);
    static const char *const want[] = {
        "b.txt", ".wh.c.txt", "d/new", ".wh.e", "f.txt", "link", "new", "new/f", "op/fresh/.wh.hidden",
        "op/fresh/mine", "op/.wh.old2", "op/.wh.sub", "perm", "swap", "swap/in",
    };
    const char *suffixes[] = {"out.tar", "out.tar.gz", "out.tgz"};
    mj_error_t *e = NULL;
    for (size_t s = 0; s < NELEM(suffixes); s++) {
        HOLD(tar, "%s/%s", base, suffixes[s]);
        CHECK(expect_ok(mj_overlay_export(pathf("%s/upper", base), pathf("%s/lower", base), tar, &e), &e));
        char names[64][96];
        char b[64] = "";
        int n = read_tar_names(tar, names, 64, b, sizeof(b));
        for (int i = 0; i < n; i++)
            if (i >= (int)NELEM(want) || strcmp(names[i], want[i]) != 0)
                fprintf(stderr, "    %s: entry %d = %s\n", suffixes[s], i, names[i]);
        CHECK_EQ_INT(n, NELEM(want));
        for (int i = 0; i < n; i++)
            CHECK_STREQ(names[i], want[i]);
        CHECK_STREQ(b, "changed");
        /* O_EXCL: an existing file is never overwritten (nor removed) */
        CHECK(expect_err(mj_overlay_export(pathf("%s/upper", base), pathf("%s/lower", base), tar, &e), &e,
                         MJ_ERR_FILE_OPERATION_FAILED, "exists"));
        CHECK(exists(tar));
    }
}

/* A real overlayfs (userxattr), when this host lets us mount one: the whiteouts and opaque
 * directories the kernel writes are the ones the diff reads. */
TREE_TEST(overlay_diff_of_a_real_overlay_mount)
{
    HOLD(lo, "%s/lower", base);
    HOLD(up, "%s/upper", base);
    HOLD(wk, "%s/work", base);
    HOLD(mnt, "%s/mnt", base);
    CHECK_EQ_INT(mkdir(lo, 0755) | mkdir(up, 0755) | mkdir(wk, 0755) | mkdir(mnt, 0755), 0);
    CHECK_EQ_INT(write_file(pathf("%s/keep", lo), "k", 0644), 0);
    CHECK_EQ_INT(write_file(pathf("%s/edit", lo), "old", 0644), 0);
    CHECK_EQ_INT(write_file(pathf("%s/touch", lo), "t", 0644), 0);
    CHECK_EQ_INT(write_file(pathf("%s/rm", lo), "r", 0644), 0);
    CHECK_EQ_INT(mkdir(pathf("%s/dir", lo), 0755), 0);
    CHECK_EQ_INT(write_file(pathf("%s/dir/x", lo), "x", 0644), 0);
    CHECK_EQ_INT(write_file(pathf("%s/dir/y", lo), "y", 0644), 0);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        char opts[3 * PATH_MAX + 64];
        snprintf(opts, sizeof(opts), "lowerdir=%s,upperdir=%s,workdir=%s,userxattr", lo, up, wk);
        if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
            mount("overlay", mnt, "overlay", 0, opts) < 0)
            _exit(77);
        int r = 0;
        r |= write_file(pathf("%s/edit", mnt), "new", 0644);
        r |= chmod(pathf("%s/touch", mnt), 0644); /* copy-up, nothing changes */
        r |= unlink(pathf("%s/rm", mnt));
        r |= unlink(pathf("%s/dir/x", mnt));
        r |= unlink(pathf("%s/dir/y", mnt));
        r |= rmdir(pathf("%s/dir", mnt));
        r |= mkdir(pathf("%s/dir", mnt), 0755); /* opaque now */
        r |= write_file(pathf("%s/dir/z", mnt), "z", 0644);
        r |= write_file(pathf("%s/added", mnt), "a", 0644);
        umount(mnt);
        _exit(r ? 1 : 0);
    }
    int status = 0;
    CHECK(waitpid(pid, &status, 0) == pid);
    mj_error_t *e = NULL;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 77)
        MJ_SKIP("cannot mount overlayfs here");
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    diff_log_t d = {0};
    CHECK(expect_ok(mj_overlay_diff(up, lo, diff_record, &d, &e), &e));
    static const char *const want[] = {"A added file", "D dir/x file", "D dir/y file", "A dir/z file",
                                       "M edit file", "D rm file"};
    CHECK(diff_matches(&d, want, NELEM(want)));
    CHECK(expect_ok(mj_tree_remove(base, &e), &e)); /* work/work is 0000: opened on the way */
}

/* ------------------------------------------------------------------ git archive */

TREE_TEST(git_archive_of_a_ref)
{
    if (system("git --version >/dev/null 2>&1") != 0)
        MJ_SKIP("git is not installed");
    char cmd[4 * PATH_MAX];
    snprintf(cmd, sizeof(cmd),
             "cd '%s' && mkdir repo && cd repo && git init -q && git config user.email t@example.com && "
             "git config user.name t && printf hi > f.txt && mkdir d && printf x > d/g && ln -s f.txt l && "
             "git add . && git -c commit.gpgsign=false commit -q -m init && git tag v1",
             base);
    CHECK_EQ_INT(system(cmd), 0);
    HOLD(repo, "%s/repo", base);
    HOLD(dest, "%s/dest", base);
    CHECK_EQ_INT(mkdir(dest, 0755), 0);
    mj_error_t *e = NULL;
    CHECK(expect_ok(mj_git_archive(repo, "v1", dest, &e), &e));
    CHECK(file_is(pathf("%s/dest/f.txt", base), "hi"));
    CHECK(file_is(pathf("%s/dest/d/g", base), "x"));
    struct stat st;
    CHECK(lstat(pathf("%s/dest/l", base), &st) == 0 && S_ISLNK(st.st_mode));
    CHECK(!exists(pathf("%s/dest/.git", base)));

    CHECK(expect_err(mj_git_archive(repo, "nope", dest, &e), &e, MJ_ERR_INVALID_CONFIG, "ref 'nope': fatal:"));
    CHECK(expect_err(mj_git_archive(repo, "--output=/tmp/x", dest, &e), &e, MJ_ERR_INVALID_CONFIG, "invalid ref"));
    CHECK(expect_err(mj_git_archive(repo, "a b", dest, &e), &e, MJ_ERR_INVALID_CONFIG, "invalid ref"));
    CHECK(expect_err(mj_git_archive(repo, "a\nb", dest, &e), &e, MJ_ERR_INVALID_CONFIG, "invalid ref"));
    CHECK(expect_err(mj_git_archive(repo, "", dest, &e), &e, MJ_ERR_INVALID_CONFIG, "invalid ref"));
    char long_ref[300];
    memset(long_ref, 'a', sizeof(long_ref) - 1);
    long_ref[sizeof(long_ref) - 1] = '\0';
    CHECK(expect_err(mj_git_archive(repo, long_ref, dest, &e), &e, MJ_ERR_INVALID_CONFIG, "invalid ref"));

    /* no git in PATH */
    char *saved = getenv("PATH") ? strdup(getenv("PATH")) : NULL;
    setenv("PATH", pathf("%s/empty-path", base), 1);
    int rc = mj_git_archive(repo, "v1", dest, &e);
    if (saved)
        setenv("PATH", saved, 1);
    free(saved);
    CHECK(expect_err(rc, &e, MJ_ERR_UNSUPPORTED, "git not found in PATH"));
}

/* ------------------------------------------------------------------ fetch */

static void serve(int s)
{
    static char big[5000];
    memset(big, 'x', sizeof(big));
    for (;;) {
        int c = accept(s, NULL, NULL);
        if (c < 0) {
            if (errno == EINTR)
                continue;
            _exit(1);
        }
        char req[4096];
        size_t len = 0;
        req[0] = '\0';
        while (len < sizeof(req) - 1 && !strstr(req, "\r\n\r\n")) {
            ssize_t n = read(c, req + len, sizeof(req) - 1 - len);
            if (n <= 0)
                break;
            len += (size_t)n;
            req[len] = '\0';
        }
        char path[256] = "";
        sscanf(req, "GET %255s", path);
        char head[512];
        const char *body = "";
        size_t body_len = 0;
        bool with_length = true;
        if (strcmp(path, "/ok") == 0) {
            snprintf(head, sizeof(head), "HTTP/1.1 200 OK\r\n");
            body = "hello world";
            body_len = strlen(body);
        } else if (strcmp(path, "/echo-header") == 0) {
            /* the value of the request's X-Mj-Test header, as the body */
            static char value[128];
            const char *h = strstr(req, "\r\nX-Mj-Test: ");
            snprintf(value, sizeof(value), "%.*s", h ? (int)strcspn(h + 13, "\r\n") : 0, h ? h + 13 : "");
            snprintf(head, sizeof(head), "HTTP/1.1 200 OK\r\n");
            body = value;
            body_len = strlen(value);
        } else if (strcmp(path, "/redirect") == 0) {
            snprintf(head, sizeof(head), "HTTP/1.1 302 Found\r\nLocation: /ok\r\n");
        } else if (strcmp(path, "/to-file") == 0) {
            snprintf(head, sizeof(head), "HTTP/1.1 302 Found\r\nLocation: file:///etc/passwd\r\n");
        } else if (strcmp(path, "/busy") == 0) {
            snprintf(head, sizeof(head), "HTTP/1.1 503 Service Unavailable\r\n");
            body = "busy";
            body_len = 4;
        } else if (strcmp(path, "/big") == 0) {
            snprintf(head, sizeof(head), "HTTP/1.1 200 OK\r\n");
            body = big;
            body_len = sizeof(big);
        } else if (strcmp(path, "/stream") == 0) {
            snprintf(head, sizeof(head), "HTTP/1.1 200 OK\r\n");
            body = big;
            body_len = sizeof(big);
            with_length = false; /* ends when the connection closes: the size is not known up front */
        } else {
            snprintf(head, sizeof(head), "HTTP/1.1 404 Not Found\r\n");
            body = "no";
            body_len = 2;
        }
        char tail[128];
        if (with_length)
            snprintf(tail, sizeof(tail), "Content-Length: %zu\r\nConnection: close\r\n\r\n", body_len);
        else
            snprintf(tail, sizeof(tail), "Connection: close\r\n\r\n");
        if (write(c, head, strlen(head)) < 0 || write(c, tail, strlen(tail)) < 0 ||
            (body_len && write(c, body, body_len) < 0)) {
            /* the client went away (a limit hit): fine */
        }
        close(c);
    }
}

static int buf_sink(const void *data, size_t len, void *ud)
{
    mj_buf_append(ud, data, len);
    return 0;
}

static int full_sink(const void *data, size_t len, void *ud)
{
    (void)data;
    (void)len;
    (void)ud;
    errno = ENOSPC;
    return -1;
}

TREE_TEST(fetch_success_errors_and_limits)
{
    static const char *const proxies[] = {"http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"};
    for (size_t i = 0; i < NELEM(proxies); i++)
        unsetenv(proxies[i]);
    signal(SIGPIPE, SIG_IGN);
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    CHECK(s >= 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof(addr);
    CHECK_EQ_INT(bind(s, (struct sockaddr *)&addr, sizeof(addr)), 0);
    CHECK_EQ_INT(listen(s, 16), 0);
    CHECK_EQ_INT(getsockname(s, (struct sockaddr *)&addr, &alen), 0);
    int port = ntohs(addr.sin_port);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        serve(s);
        _exit(0);
    }
    close(s);

    mj_error_t *e = NULL;
    char url[128];
    HOLD(dest, "%s/dl", base);
    int ok = 1;
#define URL(p) (snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, (p)), url)
#define STEP(cond)                                                                                 \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "    %s:%d: %s failed\n", __FILE__, __LINE__, #cond);                  \
            ok = 0;                                                                                \
        }                                                                                          \
    } while (0)

    STEP(expect_ok(mj_fetch_url(URL("/ok"), dest, 0, &e), &e));
    STEP(file_is(dest, "hello world"));
    struct stat st;
    STEP(lstat(dest, &st) == 0 && (st.st_mode & 07777) == 0600);
    /* dest exists: refused, and the file is left as it was */
    STEP(expect_err(mj_fetch_url(URL("/ok"), dest, 0, &e), &e, MJ_ERR_FILE_OPERATION_FAILED, "exists"));
    STEP(file_is(dest, "hello world"));
    unlink(dest);

    STEP(expect_ok(mj_fetch_url(URL("/redirect"), dest, 0, &e), &e));
    STEP(file_is(dest, "hello world"));
    unlink(dest);

    int rc = mj_fetch_url(URL("/missing"), dest, 0, &e);
    STEP(e && !mj_error_retryable(e));
    STEP(expect_err(rc, &e, MJ_ERR_NETWORK, "HTTP status 404"));
    STEP(!exists(dest));

    rc = mj_fetch_url(URL("/busy"), dest, 0, &e);
    STEP(e && mj_error_retryable(e) && strstr(mj_error_message(e), url));
    STEP(expect_err(rc, &e, MJ_ERR_NETWORK, "HTTP status 503"));
    STEP(!exists(dest));

    STEP(expect_err(mj_fetch_url(URL("/big"), dest, 100, &e), &e, MJ_ERR_RESOURCE_LIMIT_EXCEEDED, "max_bytes"));
    STEP(!exists(dest));
    STEP(expect_err(mj_fetch_url(URL("/stream"), dest, 100, &e), &e, MJ_ERR_RESOURCE_LIMIT_EXCEEDED, url));
    STEP(!exists(dest));
    STEP(expect_ok(mj_fetch_url(URL("/stream"), dest, 5000, &e), &e));
    STEP(lstat(dest, &st) == 0 && st.st_size == 5000);
    unlink(dest);

    rc = mj_fetch_url(URL("/to-file"), dest, 0, &e);
    STEP(e && !mj_error_retryable(e));
    STEP(expect_err(rc, &e, MJ_ERR_NETWORK, NULL));
    STEP(!exists(dest));

    STEP(expect_err(mj_fetch_url("file:///etc/passwd", dest, 0, &e), &e, MJ_ERR_INVALID_CONFIG, "http"));
    STEP(expect_err(mj_fetch_url("ftp://127.0.0.1/x", dest, 0, &e), &e, MJ_ERR_INVALID_CONFIG, "http"));
    STEP(!exists(dest));

    /* the request under the download: extra headers go out, the body goes to the sink */
    static const char *const headers[] = {"X-Mj-Test: moonjail", NULL};
    mj_buf_t got = {0};
    mj_fetch_request_t req = {.url = URL("/echo-header"), .headers = headers, .sink = buf_sink, .sink_ud = &got};
    STEP(expect_ok(mj_fetch(&req, &e), &e));
    STEP(got.data && strcmp(got.data, "moonjail") == 0);
    mj_buf_free(&got);
    req = (mj_fetch_request_t){.url = URL("/ok"), .sink = full_sink, .sink_name = "memory"};
    rc = mj_fetch(&req, &e);
    STEP(e && mj_error_errno(e) == ENOSPC);
    STEP(expect_err(rc, &e, MJ_ERR_FILE_OPERATION_FAILED, "fetch: write memory: No space left on device"));
    req = (mj_fetch_request_t){.url = URL("/big"), .max_bytes = 100, .sink = buf_sink, .sink_ud = &got};
    STEP(expect_err(mj_fetch(&req, &e), &e, MJ_ERR_RESOURCE_LIMIT_EXCEEDED, "max_bytes"));
    mj_buf_free(&got);

    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    /* nobody listens any more: a transport error, worth a retry */
    rc = mj_fetch_url(URL("/ok"), dest, 0, &e);
    STEP(e && mj_error_retryable(e));
    STEP(expect_err(rc, &e, MJ_ERR_NETWORK, "127.0.0.1"));
    STEP(!exists(dest));
#undef STEP
#undef URL
    CHECK(ok);
}

TREE_TEST(sha256_of_a_file_and_refusal_of_a_symlink)
{
    HOLD(file, "%s/abc", base);
    HOLD(link, "%s/link", base);
    CHECK_EQ_INT(write_file(file, "abc", 0644), 0);
    CHECK_EQ_INT(symlink(file, link), 0);
    char hex[65];
    mj_error_t *err = NULL;
    CHECK_EQ_INT(mj_file_sha256(file, hex, &err), 0);
    CHECK_STREQ(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    CHECK_EQ_INT(mj_file_sha256(link, hex, &err), -1);
    CHECK(err != NULL && mj_error_errno(err) == ELOOP);
    mj_error_free(err);
}

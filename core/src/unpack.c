/* unpack.c — archives unpacked into a host directory with libarchive: every entry's path is
 * cleaned and checked before libarchive writes it, under budgets of bytes and entries.
 *
 * Owns: mj_unpack_archive, its entry sanitiser (mj_unpack_entry_path, mj_unpack_check_parents,
 * mj_unpack_type_word) and the libarchive glue the tar export and the layer unpacker share
 * (mj_archive_why, mj_archive_write_freep).
 * Must never: write outside the directory it was given, through a symlink (extracted or found),
 * restore owners, setuid/setgid/sticky bits, devices, fifos or sockets, read an mtree (its entries
 * name host files), run a decompression program, or change the process's working directory (the
 * unpack runs in a thread with a private one).  It knows nothing of sandboxes or Lua.
 */
#define _GNU_SOURCE
#include "unpack.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <sys/stat.h>

#include "error.h"
#include "lazylib.h"
#include "tree.h"
#include "util.h"

#define DEFAULT_MAX_BYTES (UINT64_C(4) << 30)
#define DEFAULT_MAX_ENTRIES UINT64_C(1000000)
#define READ_BLOCK 65536

/* ------------------------------------------------------------------ libarchive glue */

static void free_archive_read(struct archive **a)
{
    if (*a)
        MJ_LAZY(MJ_LIB_ARCHIVE, archive_read_free)(*a);
}

void mj_archive_write_freep(struct archive **a)
{
    if (*a)
        MJ_LAZY(MJ_LIB_ARCHIVE, archive_write_free)(*a);
}

#define cleanup_archive_read __attribute__((cleanup(free_archive_read)))

/* libarchive's errno: a real one for I/O, ARCHIVE_ERRNO_FILE_FORMAT / _MISC for bad content. */
static mj_error_code_t archive_code(struct archive *a)
{
    int e = MJ_LAZY(MJ_LIB_ARCHIVE, archive_errno)(a);
    if (e == ENOSPC || e == EIO || e == EDQUOT || e == EROFS || e == ENOMEM)
        return MJ_ERR_FILE_OPERATION_FAILED;
    if (e == EACCES || e == EPERM)
        return MJ_ERR_PERMISSION_DENIED;
    return MJ_ERR_INVALID_CONFIG;
}

const char *mj_archive_why(struct archive *a)
{
    const char *s = MJ_LAZY(MJ_LIB_ARCHIVE, archive_error_string)(a);
    return s ? s : "unknown libarchive error";
}

/* ------------------------------------------------------------------ entries */

int mj_unpack_entry_path(const char *raw, unsigned strip, char **out, const char **why)
{
    *out = NULL;
    if (!raw || !*raw) {
        *why = "has no name";
        return -1;
    }
    if (raw[0] == '/') {
        *why = "is an absolute path";
        return -1;
    }
    mj_buf_t b = {0};
    unsigned seen = 0;
    for (const char *p = raw; *p;) {
        size_t n = strcspn(p, "/");
        if (n == 2 && p[0] == '.' && p[1] == '.') {
            mj_buf_free(&b);
            *why = "has a '..' component";
            return -1;
        }
        if (n > 0 && !(n == 1 && p[0] == '.')) {
            if (seen++ >= strip) {
                if (b.len)
                    mj_buf_append(&b, "/", 1);
                mj_buf_append(&b, p, n);
            }
        }
        p += n;
        while (*p == '/')
            p++;
    }
    *out = b.len ? b.data : NULL;
    if (!b.len)
        mj_buf_free(&b);
    return 0;
}

int mj_unpack_check_parents(int dest_fd, const char *rel, bool check_last, mode_t *last_mode)
{
    cleanup_free char *copy = mj_xstrdup(rel);
    cleanup_close int cur = openat(dest_fd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (cur < 0)
        return -1;
    char *save = NULL;
    char *comp = strtok_r(copy, "/", &save);
    while (comp) {
        char *next = strtok_r(NULL, "/", &save);
        struct stat st;
        if (fstatat(cur, comp, &st, AT_SYMLINK_NOFOLLOW) < 0) {
            if (errno == ENOENT && !check_last)
                return 0; /* libarchive creates the rest */
            return -1;
        }
        if (!next) {
            if (check_last && S_ISDIR(st.st_mode)) {
                errno = EISDIR;
                return -1;
            }
            if (last_mode)
                *last_mode = st.st_mode;
            return 0;
        }
        if (S_ISLNK(st.st_mode)) {
            errno = ELOOP;
            return -1;
        }
        if (!S_ISDIR(st.st_mode))
            return 0; /* a file in the way: libarchive replaces it with a directory */
        int sub = openat(cur, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (sub < 0)
            return -1;
        close(cur);
        cur = sub;
        comp = next;
    }
    return 0;
}

/* ------------------------------------------------------------------ unpack */

typedef struct {
    const char *archive;  /* for messages */
    const char *dest;
    int archive_fd;
    int dest_fd;
    uint64_t max_bytes;
    uint64_t max_entries;
    unsigned strip;
    mj_error_t *err;      /* out */
} unpack_job_t;

const char *mj_unpack_type_word(mode_t type)
{
    switch (type & AE_IFMT) {
    case AE_IFCHR:
        return "character device";
    case AE_IFBLK:
        return "block device";
    case AE_IFIFO:
        return "fifo";
    case AE_IFSOCK:
        return "socket";
    case AE_IFLNK:
        return "symbolic link";
    case AE_IFREG:
        return "file";
    case AE_IFDIR:
        return "directory";
    default:
        return "special file";
    }
}

/* One entry: checks, renames to its cleaned path, writes it.  1 = skipped, 0 = written, -1 = err. */
static int unpack_entry(unpack_job_t *j, struct archive *in, struct archive *out, struct archive_entry *ent,
                        uint64_t *bytes, mj_error_t **err)
{
    const char *raw = MJ_LAZY(MJ_LIB_ARCHIVE, archive_entry_pathname)(ent);
    cleanup_free char *shown = mj_xstrdup(raw ? raw : "(unnamed)"); /* raw goes with set_pathname */
    const char *why = NULL;
    cleanup_free char *rel = NULL;
    if (mj_unpack_entry_path(raw, j->strip, &rel, &why) < 0)
        return mj_fail(err, mj_error_new(MJ_ERR_INVALID_CONFIG, EINVAL, "archive %s: entry '%s' %s", j->archive, shown, why));
    if (!rel)
        return 1;

    cleanup_free char *link_rel = NULL;
    const char *hardlink = MJ_LAZY(MJ_LIB_ARCHIVE, archive_entry_hardlink)(ent);
    mode_t type = MJ_LAZY(MJ_LIB_ARCHIVE, archive_entry_filetype)(ent);
    if (hardlink) {
        if (mj_unpack_entry_path(hardlink, j->strip, &link_rel, &why) < 0 || !link_rel)
            return mj_fail(err, mj_error_new(MJ_ERR_INVALID_CONFIG, EINVAL, "archive %s: entry '%s': hard link target '%s' %s",
                                             j->archive, shown, hardlink, why ? why : "is outside the tree"));
        mode_t target_mode = 0;
        if (mj_unpack_check_parents(j->dest_fd, link_rel, true, &target_mode) < 0)
            return mj_fail(err, mj_error_new(MJ_ERR_INVALID_CONFIG, errno,
                                             "archive %s: entry '%s': hard link target '%s' %s", j->archive, shown, hardlink,
                                             errno == ELOOP    ? "is reached through a symbolic link"
                                             : errno == EISDIR ? "is a directory"
                                                               : "does not exist in the tree"));
        /* A hard link that carries data (cpio, pax) writes it into the target: never into a symlink. */
        if (S_ISLNK(target_mode) && MJ_LAZY(MJ_LIB_ARCHIVE, archive_entry_size)(ent) > 0)
            return mj_fail(err, mj_error_new(MJ_ERR_INVALID_CONFIG, EINVAL,
                                             "archive %s: entry '%s': hard link with data to the symbolic link '%s'",
                                             j->archive, shown, hardlink));
        MJ_LAZY(MJ_LIB_ARCHIVE, archive_entry_set_hardlink)(ent, link_rel);
    } else if (type != AE_IFREG && type != AE_IFDIR && type != AE_IFLNK) {
        return mj_fail(err, mj_error_new(MJ_ERR_INVALID_CONFIG, EINVAL, "archive %s: entry '%s': %s entries are not allowed",
                                         j->archive, shown, mj_unpack_type_word(type)));
    }
    if (mj_unpack_check_parents(j->dest_fd, rel, false, NULL) < 0) {
        if (errno == ELOOP)
            return mj_fail(err, mj_error_new(MJ_ERR_INVALID_CONFIG, ELOOP,
                                             "archive %s: entry '%s': a parent directory is a symbolic link (not followed)",
                                             j->archive, shown));
        return mj_fail(err, mj_error_sys(MJ_ERR_INVALID_CONFIG, errno, "archive %s: entry '%s'", j->archive, shown));
    }
    if (type == AE_IFREG && !hardlink && MJ_LAZY(MJ_LIB_ARCHIVE, archive_entry_size_is_set)(ent) && MJ_LAZY(MJ_LIB_ARCHIVE, archive_entry_size)(ent) > 0 &&
        (uint64_t)MJ_LAZY(MJ_LIB_ARCHIVE, archive_entry_size)(ent) > j->max_bytes - *bytes)
        return mj_fail(err, mj_error_new(MJ_ERR_RESOURCE_LIMIT_EXCEEDED, EFBIG,
                                         "archive %s: entry '%s': more than %llu bytes in all (max_bytes)", j->archive, shown,
                                         (unsigned long long)j->max_bytes));

    MJ_LAZY(MJ_LIB_ARCHIVE, archive_entry_set_pathname)(ent, rel);
    MJ_LAZY(MJ_LIB_ARCHIVE, archive_entry_set_perm)(ent, MJ_LAZY(MJ_LIB_ARCHIVE, archive_entry_perm)(ent) & 0777); /* no setuid, setgid or sticky */
    if (MJ_LAZY(MJ_LIB_ARCHIVE, archive_write_header)(out, ent) < ARCHIVE_WARN)
        return mj_fail(err, mj_error_new(archive_code(out), MJ_LAZY(MJ_LIB_ARCHIVE, archive_errno)(out), "archive %s: entry '%s': %s", j->archive,
                                         shown, mj_archive_why(out)));
    const void *buf;
    size_t len;
    la_int64_t off;
    int r;
    while ((r = MJ_LAZY(MJ_LIB_ARCHIVE, archive_read_data_block)(in, &buf, &len, &off)) == ARCHIVE_OK) {
        if (len > j->max_bytes - *bytes)
            return mj_fail(err, mj_error_new(MJ_ERR_RESOURCE_LIMIT_EXCEEDED, EFBIG,
                                             "archive %s: entry '%s': more than %llu bytes in all (max_bytes)", j->archive,
                                             shown, (unsigned long long)j->max_bytes));
        *bytes += len;
        if (MJ_LAZY(MJ_LIB_ARCHIVE, archive_write_data_block)(out, buf, len, off) < ARCHIVE_WARN)
            return mj_fail(err, mj_error_new(archive_code(out), MJ_LAZY(MJ_LIB_ARCHIVE, archive_errno)(out), "archive %s: entry '%s': %s", j->archive,
                                             shown, mj_archive_why(out)));
    }
    if (r < ARCHIVE_WARN)
        return mj_fail(err, mj_error_new(archive_code(in), MJ_LAZY(MJ_LIB_ARCHIVE, archive_errno)(in), "archive %s: entry '%s': %s", j->archive, shown,
                                         mj_archive_why(in)));
    if (MJ_LAZY(MJ_LIB_ARCHIVE, archive_write_finish_entry)(out) < ARCHIVE_WARN)
        return mj_fail(err, mj_error_new(archive_code(out), MJ_LAZY(MJ_LIB_ARCHIVE, archive_errno)(out), "archive %s: entry '%s': %s", j->archive,
                                         shown, mj_archive_why(out)));
    return 0;
}

static int unpack_run(unpack_job_t *j, mj_error_t **err)
{
    cleanup_archive_read struct archive *in = MJ_LAZY(MJ_LIB_ARCHIVE, archive_read_new)();
    cleanup_archive_write struct archive *out = MJ_LAZY(MJ_LIB_ARCHIVE, archive_write_disk_new)();
    if (!in || !out)
        return mj_fail(err, mj_error_new(MJ_ERR_FILE_OPERATION_FAILED, ENOMEM, "archive %s: out of memory", j->archive));
    /* Every compression libarchive does in-process (not lrzip, lzop, grzip: those run a program),
     * and every archive format but mtree, a text "archive" whose entries name host files to copy
     * (contents=/etc/shadow would bring the host's file into the tree). */
    MJ_LAZY(MJ_LIB_ARCHIVE, archive_read_support_filter_gzip)(in);
    MJ_LAZY(MJ_LIB_ARCHIVE, archive_read_support_filter_bzip2)(in);
    MJ_LAZY(MJ_LIB_ARCHIVE, archive_read_support_filter_compress)(in);
    MJ_LAZY(MJ_LIB_ARCHIVE, archive_read_support_filter_xz)(in);
    MJ_LAZY(MJ_LIB_ARCHIVE, archive_read_support_filter_lzma)(in);
    MJ_LAZY(MJ_LIB_ARCHIVE, archive_read_support_filter_lzip)(in);
    MJ_LAZY(MJ_LIB_ARCHIVE, archive_read_support_filter_zstd)(in);
    MJ_LAZY(MJ_LIB_ARCHIVE, archive_read_support_filter_lz4)(in);
    MJ_LAZY(MJ_LIB_ARCHIVE, archive_read_support_format_tar)(in);
    MJ_LAZY(MJ_LIB_ARCHIVE, archive_read_support_format_gnutar)(in);
    MJ_LAZY(MJ_LIB_ARCHIVE, archive_read_support_format_zip)(in);
    MJ_LAZY(MJ_LIB_ARCHIVE, archive_read_support_format_7zip)(in);
    MJ_LAZY(MJ_LIB_ARCHIVE, archive_read_support_format_cpio)(in);
    MJ_LAZY(MJ_LIB_ARCHIVE, archive_read_support_format_ar)(in);
    MJ_LAZY(MJ_LIB_ARCHIVE, archive_read_support_format_cab)(in);
    MJ_LAZY(MJ_LIB_ARCHIVE, archive_read_support_format_iso9660)(in);
    MJ_LAZY(MJ_LIB_ARCHIVE, archive_read_support_format_lha)(in);
    MJ_LAZY(MJ_LIB_ARCHIVE, archive_read_support_format_rar)(in);
    MJ_LAZY(MJ_LIB_ARCHIVE, archive_read_support_format_rar5)(in);
    MJ_LAZY(MJ_LIB_ARCHIVE, archive_read_support_format_xar)(in);
    MJ_LAZY(MJ_LIB_ARCHIVE, archive_read_support_format_warc)(in);
    MJ_LAZY(MJ_LIB_ARCHIVE, archive_read_support_format_empty)(in);
    /* No OWNER, ACL, XATTR or FFLAGS: only names, data, permission bits and times come out. */
    MJ_LAZY(MJ_LIB_ARCHIVE, archive_write_disk_set_options)(out, ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_SECURE_SYMLINKS |
                                            ARCHIVE_EXTRACT_SECURE_NODOTDOT |
                                            ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS);
    if (MJ_LAZY(MJ_LIB_ARCHIVE, archive_read_open_fd)(in, j->archive_fd, READ_BLOCK) != ARCHIVE_OK)
        return mj_fail(err, mj_error_new(archive_code(in), MJ_LAZY(MJ_LIB_ARCHIVE, archive_errno)(in), "archive %s: %s", j->archive, mj_archive_why(in)));

    uint64_t entries = 0, bytes = 0;
    for (;;) {
        struct archive_entry *ent;
        int r = MJ_LAZY(MJ_LIB_ARCHIVE, archive_read_next_header)(in, &ent);
        if (r == ARCHIVE_EOF)
            break;
        if (r < ARCHIVE_WARN)
            return mj_fail(err, mj_error_new(archive_code(in), MJ_LAZY(MJ_LIB_ARCHIVE, archive_errno)(in), "archive %s: after %llu entries: %s",
                                             j->archive, (unsigned long long)entries, mj_archive_why(in)));
        if (++entries > j->max_entries)
            return mj_fail(err, mj_error_new(MJ_ERR_RESOURCE_LIMIT_EXCEEDED, EFBIG,
                                             "archive %s: more than %llu entries (max_entries)", j->archive,
                                             (unsigned long long)j->max_entries));
        if (unpack_entry(j, in, out, ent, &bytes, err) < 0)
            return -1;
    }
    /* Directory permissions and times are applied last, by close. */
    if (MJ_LAZY(MJ_LIB_ARCHIVE, archive_write_close)(out) < ARCHIVE_WARN)
        return mj_fail(err, mj_error_new(archive_code(out), MJ_LAZY(MJ_LIB_ARCHIVE, archive_errno)(out), "archive %s: %s", j->archive,
                                         mj_archive_why(out)));
    return 0;
}

/* archive_write_disk works on paths relative to the working directory; this thread gets a
 * private one (unshare CLONE_FS) inside dest, so the process's own never moves. */
static void *unpack_thread(void *arg)
{
    unpack_job_t *j = arg;
    if (unshare(CLONE_FS) < 0 || fchdir(j->dest_fd) < 0) {
        j->err = mj_file_error(errno, "unpack: enter", j->dest);
        return NULL;
    }
    unpack_run(j, &j->err);
    return NULL;
}

int mj_unpack_archive(const char *archive_path, const char *dest_dir, const mj_unpack_limits_t *lim, mj_error_t **err)
{
    if (mj_lib_open(MJ_LIB_ARCHIVE, err) < 0)
        return -1;
    if (!archive_path || !*archive_path || !dest_dir || !*dest_dir)
        return mj_fail(err, mj_error_new(MJ_ERR_INVALID_CONFIG, EINVAL, "unpack: archive and destination paths are required"));
    cleanup_close int afd = open(archive_path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    struct stat st;
    if (afd < 0 || fstat(afd, &st) < 0)
        return mj_fail(err, mj_file_error(errno, "unpack: open", archive_path));
    if (!S_ISREG(st.st_mode))
        return mj_fail(err, mj_error_new(MJ_ERR_INVALID_CONFIG, EINVAL, "unpack %s: not a regular file", archive_path));
    cleanup_close int dfd = mj_tree_open_dir(dest_dir);
    if (dfd < 0)
        return mj_fail(err, mj_file_error(errno == ENOTDIR ? ENOTDIR : errno, "unpack: destination", dest_dir));

    unpack_job_t job = {
        .archive = archive_path,
        .dest = dest_dir,
        .archive_fd = afd,
        .dest_fd = dfd,
        .max_bytes = lim && lim->max_bytes ? lim->max_bytes : DEFAULT_MAX_BYTES,
        .max_entries = lim && lim->max_entries ? lim->max_entries : DEFAULT_MAX_ENTRIES,
        .strip = lim ? lim->strip_components : 0,
    };
    pthread_t t;
    int rc = pthread_create(&t, NULL, unpack_thread, &job);
    if (rc != 0)
        return mj_fail(err, mj_error_sys(MJ_ERR_FILE_OPERATION_FAILED, rc, "unpack %s: cannot start a thread", archive_path));
    pthread_join(t, NULL);
    if (job.err)
        return mj_fail(err, job.err);
    return 0;
}

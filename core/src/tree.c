/* tree.c — host file trees behind repository mounts: fetching a URL into a file, unpacking an
 * archive into a directory, git archive of a ref, walking and removing trees, and the diff and
 * export of an overlayfs upper directory against its lower.
 *
 * Owns: mj_fetch_url, mj_unpack_archive, mj_git_archive, mj_tree_walk, mj_tree_remove,
 * mj_overlay_diff and mj_overlay_export.
 * Must never: follow a symlink inside a tree it walks, unpacks into, removes, diffs or writes
 * (every step below the given path is an *at() call on a directory fd with O_NOFOLLOW), write
 * outside the directory it was given, cross into another mount while removing, change the
 * process's working directory (the unpack runs in a thread with a private one), or run a shell.
 * It knows nothing of sandboxes, mounts or Lua.
 */
#define _GNU_SOURCE
#include <archive.h>
#include <archive_entry.h>
#define CURL_DISABLE_TYPECHECK 1
#include <curl/curl.h>
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <spawn.h>
#include <stdio.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>

#include <openssl/evp.h>

#include "internal.h"

extern char **environ;

#define TREE_MAX_DEPTH 256
#define DEFAULT_MAX_BYTES (UINT64_C(4) << 30)
#define DEFAULT_MAX_ENTRIES UINT64_C(1000000)
#define COPY_CHUNK 65536

/* ------------------------------------------------------------------ small helpers */

static int fail(mj_error_t **err, mj_error_t *e)
{
    if (err)
        *err = e;
    else
        mj_error_free(e);
    return -1;
}

static mj_error_t *file_error(int e, const char *op, const char *path)
{
    const char *why = e == ELOOP ? "is a symbolic link (not followed)" : strerror(e);
    mj_error_code_t code = e == EACCES || e == EPERM ? MJ_ERR_PERMISSION_DENIED : MJ_ERR_FILE_OPERATION_FAILED;
    return mj_error_new(code, e, "%s %s: %s", op, path, why);
}

static void free_archive_read(struct archive **a)
{
    if (*a)
        MJ_LAZY(MJ_LIB_ARCHIVE, archive_read_free)(*a);
}

static void free_archive_write(struct archive **a)
{
    if (*a)
        MJ_LAZY(MJ_LIB_ARCHIVE, archive_write_free)(*a);
}

#define cleanup_archive_read __attribute__((cleanup(free_archive_read)))
#define cleanup_archive_write __attribute__((cleanup(free_archive_write)))

/* A copy of path without trailing slashes ("dir/" would follow a symlink named dir). */
static char *strip_slashes(const char *path)
{
    char *p = mj_xstrdup(path);
    size_t n = strlen(p);
    while (n > 1 && p[n - 1] == '/')
        p[--n] = '\0';
    return p;
}

static char *join_rel(const char *rel, const char *name)
{
    return rel[0] ? mj_xasprintf("%s/%s", rel, name) : mj_xstrdup(name);
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n > m && strcmp(s + n - m, suffix) == 0;
}

/* Opens a directory that the caller names on the host: intermediate components are the caller's
 * business, the last one is never followed. */
static int open_dir_nofollow(const char *path)
{
    cleanup_free char *p = strip_slashes(path);
    return open(p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

/* Opens the subdirectory name of dirfd_, checked to be the one fstatat saw as st. */
static int open_subdir(int dirfd_, const char *name, const struct stat *st)
{
    int fd = openat(dirfd_, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return -1;
    struct stat now;
    if (st && (fstat(fd, &now) < 0 || now.st_dev != st->st_dev || now.st_ino != st->st_ino)) {
        close(fd);
        errno = ESTALE; /* replaced between fstatat and openat */
        return -1;
    }
    return fd;
}

typedef struct {
    char **v;
    size_t n;
} names_t;

static void names_free(names_t *ns)
{
    for (size_t i = 0; i < ns->n; i++)
        free(ns->v[i]);
    free(ns->v);
    ns->v = NULL;
    ns->n = 0;
}

#define cleanup_names __attribute__((cleanup(names_free)))

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The entries of directory fd dirfd_ (not consumed), sorted, without "." and "..".  -1 with errno. */
static int list_dir(int dirfd_, names_t *out)
{
    int fd = openat(dirfd_, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    DIR *d = fdopendir(fd);
    if (!d) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    size_t cap = 0;
    struct dirent *de;
    for (;;) {
        errno = 0;
        de = readdir(d);
        if (!de)
            break;
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if (out->n == cap) {
            cap = cap ? cap * 2 : 16;
            out->v = mj_xrealloc(out->v, cap * sizeof(*out->v));
        }
        out->v[out->n++] = mj_xstrdup(de->d_name);
    }
    int e = errno;
    closedir(d);
    if (e) {
        names_free(out);
        errno = e;
        return -1;
    }
    if (out->n > 1)
        qsort(out->v, out->n, sizeof(*out->v), cmp_names);
    return 0;
}

/* The target of symlink name in dirfd_, malloc'ed; NULL with errno. */
static char *read_link_at(int dirfd_, const char *name)
{
    for (size_t cap = 256; cap <= 2 * PATH_MAX; cap *= 2) {
        char *buf = mj_xmalloc(cap);
        ssize_t n = readlinkat(dirfd_, name, buf, cap);
        if (n < 0) {
            int e = errno;
            free(buf);
            errno = e;
            return NULL;
        }
        if ((size_t)n < cap) {
            buf[n] = '\0';
            return buf;
        }
        free(buf);
    }
    errno = ENAMETOOLONG;
    return NULL;
}

/* Reads an extended attribute of name in dirfd_ without following it, trying the user.
 * namespace (overlay mounted with userxattr) and then trusted.  -1 when neither is there. */
static ssize_t overlay_xattr(int dirfd_, const char *name, const char *key, char *buf, size_t len)
{
    char path[64 + NAME_MAX];
    if (snprintf(path, sizeof(path), "/proc/self/fd/%d/%s", dirfd_, name) >= (int)sizeof(path)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    static const char *const spaces[] = {"user.overlay.", "trusted.overlay."};
    for (size_t i = 0; i < MJ_ARRAY_LEN(spaces); i++) {
        char full[64];
        snprintf(full, sizeof(full), "%s%s", spaces[i], key);
        ssize_t n = lgetxattr(path, full, buf, len);
        if (n >= 0)
            return n;
    }
    return -1;
}

/* Copies exactly size bytes from in to out; -1 with errno (EIO when in ends early). */
static int copy_fd(int in, int out, uint64_t size)
{
    char buf[COPY_CHUNK];
    while (size > 0) {
        size_t want = size < sizeof(buf) ? (size_t)size : sizeof(buf);
        ssize_t n = mj_read_all(in, buf, want);
        if (n < 0)
            return -1;
        if ((size_t)n != want) {
            errno = EIO; /* shrank while being read */
            return -1;
        }
        if (mj_write_all(out, buf, want) < 0)
            return -1;
        size -= want;
    }
    return 0;
}

/* ------------------------------------------------------------------ fetch */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_result = CURLE_FAILED_INIT;

static void curl_init(void)
{
    curl_init_result = MJ_LAZY(MJ_LIB_CURL, curl_global_init)(CURL_GLOBAL_DEFAULT);
}

static void free_curl(CURL **h)
{
    if (*h)
        MJ_LAZY(MJ_LIB_CURL, curl_easy_cleanup)(*h);
}

typedef struct {
    int fd;
    uint64_t written;
    uint64_t max;
    bool over;
    int write_errno;
} fetch_sink_t;

static size_t fetch_write(char *data, size_t size, size_t nmemb, void *ud)
{
    fetch_sink_t *s = ud;
    size_t n = size * nmemb;
    if (n > s->max - s->written) {
        s->over = true;
        return 0; /* a short count makes curl stop with CURLE_WRITE_ERROR */
    }
    if (mj_write_all(s->fd, data, n) < 0) {
        s->write_errno = errno;
        return 0;
    }
    s->written += n;
    return n;
}

/* Transport failures worth another try: the network, not the request, was the problem. */
static bool curl_retryable(CURLcode rc)
{
    switch (rc) {
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
        return true;
    default:
        return false;
    }
}

/* The URL as errors show it: any user:password@ is left out. */
static char *display_url(const char *url)
{
    const char *scheme_end = strstr(url, "://");
    if (!scheme_end)
        return mj_xstrdup(url);
    const char *host = scheme_end + 3;
    size_t auth_len = strcspn(host, "/?#");
    const char *at = memchr(host, '@', auth_len);
    if (!at)
        return mj_xstrdup(url);
    return mj_xasprintf("%.*s%s", (int)(host - url), url, at + 1);
}

int mj_fetch_url(const char *url, const char *dest_path, uint64_t max_bytes, mj_error_t **err)
{
    if (mj_lib_open(MJ_LIB_CURL, err) < 0)
        return -1;
    if (!url || (strncasecmp(url, "http://", 7) != 0 && strncasecmp(url, "https://", 8) != 0))
        return fail(err, mj_error_new(MJ_ERR_INVALID_CONFIG, EINVAL, "fetch %s: only http:// and https:// URLs are allowed",
                                      url ? url : "(null)"));
    cleanup_free char *shown = display_url(url);
    if (!dest_path || !*dest_path)
        return fail(err, mj_error_new(MJ_ERR_INVALID_CONFIG, EINVAL, "fetch %s: no destination path", shown));
    pthread_once(&curl_once, curl_init);
    if (curl_init_result != CURLE_OK)
        return fail(err, mj_error_new(MJ_ERR_NETWORK, 0, "fetch %s: libcurl did not initialise: %s", shown,
                                      MJ_LAZY(MJ_LIB_CURL, curl_easy_strerror)(curl_init_result)));

    /* O_EXCL: the file is ours from here on, so removing it on failure removes nothing else. */
    cleanup_close int fd = open(dest_path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return fail(err, file_error(errno, "fetch: create", dest_path));

    fetch_sink_t sink = {.fd = fd, .max = max_bytes ? max_bytes : DEFAULT_MAX_BYTES};
    char errbuf[CURL_ERROR_SIZE] = "";
    __attribute__((cleanup(free_curl))) CURL *h = MJ_LAZY(MJ_LIB_CURL, curl_easy_init)();
    CURLcode rc = CURLE_FAILED_INIT;
    long status = 0;
    if (h) {
        MJ_LAZY(MJ_LIB_CURL, curl_easy_setopt)(h, CURLOPT_URL, url);
        MJ_LAZY(MJ_LIB_CURL, curl_easy_setopt)(h, CURLOPT_PROTOCOLS_STR, "http,https");
        MJ_LAZY(MJ_LIB_CURL, curl_easy_setopt)(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
        MJ_LAZY(MJ_LIB_CURL, curl_easy_setopt)(h, CURLOPT_FOLLOWLOCATION, 1L);
        MJ_LAZY(MJ_LIB_CURL, curl_easy_setopt)(h, CURLOPT_MAXREDIRS, 5L);
        MJ_LAZY(MJ_LIB_CURL, curl_easy_setopt)(h, CURLOPT_CONNECTTIMEOUT, 30L);
        MJ_LAZY(MJ_LIB_CURL, curl_easy_setopt)(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
        MJ_LAZY(MJ_LIB_CURL, curl_easy_setopt)(h, CURLOPT_LOW_SPEED_TIME, 60L);
        MJ_LAZY(MJ_LIB_CURL, curl_easy_setopt)(h, CURLOPT_NOSIGNAL, 1L);
        MJ_LAZY(MJ_LIB_CURL, curl_easy_setopt)(h, CURLOPT_FAILONERROR, 1L); /* >= 400: no body written, status kept */
        MJ_LAZY(MJ_LIB_CURL, curl_easy_setopt)(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)(sink.max > INT64_MAX ? INT64_MAX : sink.max));
        MJ_LAZY(MJ_LIB_CURL, curl_easy_setopt)(h, CURLOPT_USERAGENT, "moonjail/" MJ_VERSION_STRING);
        MJ_LAZY(MJ_LIB_CURL, curl_easy_setopt)(h, CURLOPT_ERRORBUFFER, errbuf);
        MJ_LAZY(MJ_LIB_CURL, curl_easy_setopt)(h, CURLOPT_WRITEFUNCTION, fetch_write);
        MJ_LAZY(MJ_LIB_CURL, curl_easy_setopt)(h, CURLOPT_WRITEDATA, &sink);
        rc = MJ_LAZY(MJ_LIB_CURL, curl_easy_perform)(h);
        MJ_LAZY(MJ_LIB_CURL, curl_easy_getinfo)(h, CURLINFO_RESPONSE_CODE, &status);
    }

    mj_error_t *e = NULL;
    if (rc == CURLE_HTTP_RETURNED_ERROR) {
        e = mj_error_new(MJ_ERR_NETWORK, 0, "fetch %s: HTTP status %ld", shown, status);
        mj_error_set_retryable(e, status == 408 || status == 429 || status >= 500);
    } else if (sink.over || rc == CURLE_FILESIZE_EXCEEDED) {
        e = mj_error_new(MJ_ERR_RESOURCE_LIMIT_EXCEEDED, EFBIG, "fetch %s: more than %llu bytes (max_bytes)", shown,
                         (unsigned long long)sink.max);
    } else if (sink.write_errno) {
        e = file_error(sink.write_errno, "fetch: write", dest_path);
    } else if (rc != CURLE_OK) {
        e = mj_error_new(MJ_ERR_NETWORK, rc == CURLE_OPERATION_TIMEDOUT ? ETIMEDOUT : 0, "fetch %s: %s", shown,
                         errbuf[0] ? errbuf : MJ_LAZY(MJ_LIB_CURL, curl_easy_strerror)(rc));
        mj_error_set_retryable(e, curl_retryable(rc));
    } else if (close(mj_steal_fd(&fd)) < 0) {
        e = file_error(errno, "fetch: write", dest_path);
    }
    if (e) {
        unlink(dest_path);
        return fail(err, e);
    }
    return 0;
}

/* ------------------------------------------------------------------ unpack */

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

static const char *archive_why(struct archive *a)
{
    const char *s = MJ_LAZY(MJ_LIB_ARCHIVE, archive_error_string)(a);
    return s ? s : "unknown libarchive error";
}

/* Cleans an entry's name: "./a//b" -> "a/b"; strips the first strip components.  0 with *out
 * (NULL when nothing is left: the entry is skipped), or -1 with *why. */
static int clean_entry_path(const char *raw, unsigned strip, char **out, const char **why)
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

/* 0 when no directory on the way to rel (inside dest) is a symlink; -1 with errno ELOOP when one
 * is, other errno when the walk itself fails.  With check_last the last component must exist and
 * be no directory (a hardlink's target). */
static int check_parents(int dest, const char *rel, bool check_last, mode_t *last_mode)
{
    cleanup_free char *copy = mj_xstrdup(rel);
    cleanup_close int cur = openat(dest, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
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

static const char *type_word(mode_t type)
{
    switch (type) {
    case AE_IFCHR:
        return "character device";
    case AE_IFBLK:
        return "block device";
    case AE_IFIFO:
        return "fifo";
    case AE_IFSOCK:
        return "socket";
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
    if (clean_entry_path(raw, j->strip, &rel, &why) < 0)
        return fail(err, mj_error_new(MJ_ERR_INVALID_CONFIG, EINVAL, "archive %s: entry '%s' %s", j->archive, shown, why));
    if (!rel)
        return 1;

    cleanup_free char *link_rel = NULL;
    const char *hardlink = MJ_LAZY(MJ_LIB_ARCHIVE, archive_entry_hardlink)(ent);
    mode_t type = MJ_LAZY(MJ_LIB_ARCHIVE, archive_entry_filetype)(ent);
    if (hardlink) {
        if (clean_entry_path(hardlink, j->strip, &link_rel, &why) < 0 || !link_rel)
            return fail(err, mj_error_new(MJ_ERR_INVALID_CONFIG, EINVAL, "archive %s: entry '%s': hard link target '%s' %s",
                                          j->archive, shown, hardlink, why ? why : "is outside the tree"));
        mode_t target_mode = 0;
        if (check_parents(j->dest_fd, link_rel, true, &target_mode) < 0)
            return fail(err, mj_error_new(MJ_ERR_INVALID_CONFIG, errno,
                                          "archive %s: entry '%s': hard link target '%s' %s", j->archive, shown, hardlink,
                                          errno == ELOOP    ? "is reached through a symbolic link"
                                          : errno == EISDIR ? "is a directory"
                                                            : "does not exist in the tree"));
        /* A hard link that carries data (cpio, pax) writes it into the target: never into a symlink. */
        if (S_ISLNK(target_mode) && MJ_LAZY(MJ_LIB_ARCHIVE, archive_entry_size)(ent) > 0)
            return fail(err, mj_error_new(MJ_ERR_INVALID_CONFIG, EINVAL,
                                          "archive %s: entry '%s': hard link with data to the symbolic link '%s'",
                                          j->archive, shown, hardlink));
        MJ_LAZY(MJ_LIB_ARCHIVE, archive_entry_set_hardlink)(ent, link_rel);
    } else if (type != AE_IFREG && type != AE_IFDIR && type != AE_IFLNK) {
        return fail(err, mj_error_new(MJ_ERR_INVALID_CONFIG, EINVAL, "archive %s: entry '%s': %s entries are not allowed",
                                      j->archive, shown, type_word(type)));
    }
    if (check_parents(j->dest_fd, rel, false, NULL) < 0)
        return fail(err, mj_error_new(MJ_ERR_INVALID_CONFIG, errno, "archive %s: entry '%s': %s", j->archive, shown,
                                      errno == ELOOP ? "a parent directory is a symbolic link (not followed)"
                                                     : strerror(errno)));
    if (type == AE_IFREG && !hardlink && MJ_LAZY(MJ_LIB_ARCHIVE, archive_entry_size_is_set)(ent) && MJ_LAZY(MJ_LIB_ARCHIVE, archive_entry_size)(ent) > 0 &&
        (uint64_t)MJ_LAZY(MJ_LIB_ARCHIVE, archive_entry_size)(ent) > j->max_bytes - *bytes)
        return fail(err, mj_error_new(MJ_ERR_RESOURCE_LIMIT_EXCEEDED, EFBIG,
                                      "archive %s: entry '%s': more than %llu bytes in all (max_bytes)", j->archive, shown,
                                      (unsigned long long)j->max_bytes));

    MJ_LAZY(MJ_LIB_ARCHIVE, archive_entry_set_pathname)(ent, rel);
    MJ_LAZY(MJ_LIB_ARCHIVE, archive_entry_set_perm)(ent, MJ_LAZY(MJ_LIB_ARCHIVE, archive_entry_perm)(ent) & 0777); /* no setuid, setgid or sticky */
    if (MJ_LAZY(MJ_LIB_ARCHIVE, archive_write_header)(out, ent) < ARCHIVE_WARN)
        return fail(err, mj_error_new(archive_code(out), MJ_LAZY(MJ_LIB_ARCHIVE, archive_errno)(out), "archive %s: entry '%s': %s", j->archive,
                                      shown, archive_why(out)));
    const void *buf;
    size_t len;
    la_int64_t off;
    int r;
    while ((r = MJ_LAZY(MJ_LIB_ARCHIVE, archive_read_data_block)(in, &buf, &len, &off)) == ARCHIVE_OK) {
        if (len > j->max_bytes - *bytes)
            return fail(err, mj_error_new(MJ_ERR_RESOURCE_LIMIT_EXCEEDED, EFBIG,
                                          "archive %s: entry '%s': more than %llu bytes in all (max_bytes)", j->archive,
                                          shown, (unsigned long long)j->max_bytes));
        *bytes += len;
        if (MJ_LAZY(MJ_LIB_ARCHIVE, archive_write_data_block)(out, buf, len, off) < ARCHIVE_WARN)
            return fail(err, mj_error_new(archive_code(out), MJ_LAZY(MJ_LIB_ARCHIVE, archive_errno)(out), "archive %s: entry '%s': %s", j->archive,
                                          shown, archive_why(out)));
    }
    if (r < ARCHIVE_WARN)
        return fail(err, mj_error_new(archive_code(in), MJ_LAZY(MJ_LIB_ARCHIVE, archive_errno)(in), "archive %s: entry '%s': %s", j->archive, shown,
                                      archive_why(in)));
    if (MJ_LAZY(MJ_LIB_ARCHIVE, archive_write_finish_entry)(out) < ARCHIVE_WARN)
        return fail(err, mj_error_new(archive_code(out), MJ_LAZY(MJ_LIB_ARCHIVE, archive_errno)(out), "archive %s: entry '%s': %s", j->archive,
                                      shown, archive_why(out)));
    return 0;
}

static int unpack_run(unpack_job_t *j, mj_error_t **err)
{
    cleanup_archive_read struct archive *in = MJ_LAZY(MJ_LIB_ARCHIVE, archive_read_new)();
    cleanup_archive_write struct archive *out = MJ_LAZY(MJ_LIB_ARCHIVE, archive_write_disk_new)();
    if (!in || !out)
        return fail(err, mj_error_new(MJ_ERR_FILE_OPERATION_FAILED, ENOMEM, "archive %s: out of memory", j->archive));
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
    if (MJ_LAZY(MJ_LIB_ARCHIVE, archive_read_open_fd)(in, j->archive_fd, COPY_CHUNK) != ARCHIVE_OK)
        return fail(err, mj_error_new(archive_code(in), MJ_LAZY(MJ_LIB_ARCHIVE, archive_errno)(in), "archive %s: %s", j->archive, archive_why(in)));

    uint64_t entries = 0, bytes = 0;
    for (;;) {
        struct archive_entry *ent;
        int r = MJ_LAZY(MJ_LIB_ARCHIVE, archive_read_next_header)(in, &ent);
        if (r == ARCHIVE_EOF)
            break;
        if (r < ARCHIVE_WARN)
            return fail(err, mj_error_new(archive_code(in), MJ_LAZY(MJ_LIB_ARCHIVE, archive_errno)(in), "archive %s: after %llu entries: %s",
                                          j->archive, (unsigned long long)entries, archive_why(in)));
        if (++entries > j->max_entries)
            return fail(err, mj_error_new(MJ_ERR_RESOURCE_LIMIT_EXCEEDED, EFBIG,
                                          "archive %s: more than %llu entries (max_entries)", j->archive,
                                          (unsigned long long)j->max_entries));
        if (unpack_entry(j, in, out, ent, &bytes, err) < 0)
            return -1;
    }
    /* Directory permissions and times are applied last, by close. */
    if (MJ_LAZY(MJ_LIB_ARCHIVE, archive_write_close)(out) < ARCHIVE_WARN)
        return fail(err, mj_error_new(archive_code(out), MJ_LAZY(MJ_LIB_ARCHIVE, archive_errno)(out), "archive %s: %s", j->archive,
                                      archive_why(out)));
    return 0;
}

/* archive_write_disk works on paths relative to the working directory; this thread gets a
 * private one (unshare CLONE_FS) inside dest, so the process's own never moves. */
static void *unpack_thread(void *arg)
{
    unpack_job_t *j = arg;
    if (unshare(CLONE_FS) < 0 || fchdir(j->dest_fd) < 0) {
        j->err = file_error(errno, "unpack: enter", j->dest);
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
        return fail(err, mj_error_new(MJ_ERR_INVALID_CONFIG, EINVAL, "unpack: archive and destination paths are required"));
    cleanup_close int afd = open(archive_path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    struct stat st;
    if (afd < 0 || fstat(afd, &st) < 0)
        return fail(err, file_error(errno, "unpack: open", archive_path));
    if (!S_ISREG(st.st_mode))
        return fail(err, mj_error_new(MJ_ERR_INVALID_CONFIG, EINVAL, "unpack %s: not a regular file", archive_path));
    cleanup_close int dfd = open_dir_nofollow(dest_dir);
    if (dfd < 0)
        return fail(err, file_error(errno == ENOTDIR ? ENOTDIR : errno, "unpack: destination", dest_dir));

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
        return fail(err, mj_error_new(MJ_ERR_FILE_OPERATION_FAILED, rc, "unpack %s: cannot start a thread: %s",
                                      archive_path, strerror(rc)));
    pthread_join(t, NULL);
    if (job.err)
        return fail(err, job.err);
    return 0;
}

/* ------------------------------------------------------------------ walk */

typedef struct {
    const char *root;
    mj_tree_walk_fn fn;
    void *ud;
    mj_error_t **err;
} walk_ctx_t;

static int walk_dir(walk_ctx_t *c, int dfd, const char *rel, int depth)
{
    if (depth > TREE_MAX_DEPTH)
        return fail(c->err, mj_error_new(MJ_ERR_FILE_OPERATION_FAILED, ELOOP, "walk %s: deeper than %d levels at '%s'",
                                         c->root, TREE_MAX_DEPTH, rel));
    cleanup_names names_t names = {0};
    if (list_dir(dfd, &names) < 0) {
        cleanup_free char *shown = mj_xasprintf("%s/%s", c->root, rel);
        return fail(c->err, file_error(errno, "walk: list", shown));
    }
    for (size_t i = 0; i < names.n; i++) {
        const char *name = names.v[i];
        cleanup_free char *path = join_rel(rel, name);
        struct stat st;
        if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
            if (errno == ENOENT)
                continue; /* gone meanwhile */
            cleanup_free char *shown = mj_xasprintf("%s/%s", c->root, path);
            return fail(c->err, file_error(errno, "walk: stat", shown));
        }
        cleanup_free char *target = NULL;
        if (S_ISLNK(st.st_mode) && !(target = read_link_at(dfd, name))) {
            cleanup_free char *shown = mj_xasprintf("%s/%s", c->root, path);
            return fail(c->err, file_error(errno, "walk: readlink", shown));
        }
        mj_tree_entry_t e = {
            .path = path,
            .mode = st.st_mode,
            .size = (uint64_t)st.st_size,
            .dev = st.st_dev,
            .ino = st.st_ino,
            .nlink = st.st_nlink,
            .uid = st.st_uid,
            .gid = st.st_gid,
            .mtime = (double)st.st_mtim.tv_sec + (double)st.st_mtim.tv_nsec / 1e9,
            .link_target = target,
        };
        int r = c->fn(&e, c->ud);
        if (r < 0) {
            if (c->err && *c->err)
                return -1; /* the callback said why */
            return fail(c->err, mj_error_new(MJ_ERR_INVALID_STATE, ECANCELED, "walk %s: walk stopped at '%s'", c->root, path));
        }
        if (r == 1 || !S_ISDIR(st.st_mode))
            continue;
        cleanup_close int sub = open_subdir(dfd, name, &st);
        if (sub < 0) {
            cleanup_free char *shown = mj_xasprintf("%s/%s", c->root, path);
            return fail(c->err, file_error(errno, "walk: open", shown));
        }
        if (walk_dir(c, sub, path, depth + 1) < 0)
            return -1;
    }
    return 0;
}

int mj_tree_walk(const char *root, mj_tree_walk_fn fn, void *ud, mj_error_t **err)
{
    if (!root || !*root || !fn)
        return fail(err, mj_error_new(MJ_ERR_INVALID_CONFIG, EINVAL, "walk: a root directory and a callback are required"));
    cleanup_close int fd = open_dir_nofollow(root);
    if (fd < 0) {
        if (errno == ENOTDIR || errno == ELOOP)
            return fail(err, mj_error_new(MJ_ERR_INVALID_CONFIG, ENOTDIR,
                                          "walk %s: not a directory (symbolic links are not followed)", root));
        return fail(err, file_error(errno, "walk", root));
    }
    walk_ctx_t c = {.root = root, .fn = fn, .ud = ud, .err = err};
    return walk_dir(&c, fd, "", 1);
}

/* ------------------------------------------------------------------ remove */

typedef struct {
    const char *top;
    dev_t dev;
    mj_error_t **err;
} rm_ctx_t;

/* Whether fd is the root of a mount (a bind mount of the same file system keeps st_dev). */
static bool is_mount_root(int fd)
{
    struct statx stx;
    if (statx(fd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &stx) < 0)
        return false;
    return (stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) && (stx.stx_attributes & STATX_ATTR_MOUNT_ROOT);
}

static int rm_error(rm_ctx_t *c, int e, const char *op, const char *rel)
{
    cleanup_free char *shown = rel[0] ? mj_xasprintf("%s/%s", c->top, rel) : mj_xstrdup(c->top);
    return fail(c->err, file_error(e, op, shown));
}

static int rm_entry(rm_ctx_t *c, int parent, const char *name, const char *rel, int depth);

/* Deletes what is inside directory name of parent (which rel names for messages). */
static int rm_dir_contents(rm_ctx_t *c, int parent, const char *name, const char *rel, int depth)
{
    if (depth > TREE_MAX_DEPTH)
        return fail(c->err, mj_error_new(MJ_ERR_FILE_OPERATION_FAILED, ELOOP, "remove %s: deeper than %d levels at '%s'",
                                         c->top, TREE_MAX_DEPTH, rel));
    cleanup_close int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 && errno == EACCES) {
        /* A sandbox may have left it 0000 or 0500: make it u+rwx through an O_PATH fd, which
         * never resolves a symlink (O_NOFOLLOW | O_DIRECTORY). */
        cleanup_close int p = openat(parent, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        struct stat pst;
        if (p >= 0 && fstat(p, &pst) == 0 && pst.st_dev == c->dev && !is_mount_root(p)) {
            char proc[64];
            snprintf(proc, sizeof(proc), "/proc/self/fd/%d", p);
            if (chmod(proc, (pst.st_mode & 07777) | S_IRWXU) == 0)
                fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            else
                errno = EACCES;
        } else {
            errno = EACCES;
        }
    }
    if (fd < 0)
        return rm_error(c, errno, "remove: open", rel);
    struct stat st;
    if (fstat(fd, &st) < 0)
        return rm_error(c, errno, "remove: stat", rel);
    if (st.st_dev != c->dev || is_mount_root(fd))
        return fail(c->err, mj_error_new(MJ_ERR_FILE_OPERATION_FAILED, EXDEV,
                                         "remove %s: '%s' is another mount; not crossing into it", c->top, rel));
    if ((st.st_mode & S_IRWXU) != S_IRWXU && fchmod(fd, (st.st_mode & 07777) | S_IRWXU) < 0 && errno != EPERM)
        return rm_error(c, errno, "remove: chmod", rel);
    cleanup_names names_t names = {0};
    if (list_dir(fd, &names) < 0)
        return rm_error(c, errno, "remove: list", rel);
    for (size_t i = 0; i < names.n; i++) {
        cleanup_free char *sub = join_rel(rel, names.v[i]);
        if (rm_entry(c, fd, names.v[i], sub, depth + 1) < 0)
            return -1;
    }
    return 0;
}

static int rm_entry(rm_ctx_t *c, int parent, const char *name, const char *rel, int depth)
{
    struct stat st;
    if (fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return errno == ENOENT ? 0 : rm_error(c, errno, "remove: stat", rel);
    if (!S_ISDIR(st.st_mode)) {
        if (unlinkat(parent, name, 0) < 0 && errno != ENOENT)
            return rm_error(c, errno, "remove", rel);
        return 0;
    }
    if (st.st_dev != c->dev)
        return fail(c->err, mj_error_new(MJ_ERR_FILE_OPERATION_FAILED, EXDEV,
                                         "remove %s: '%s' is another mount; not crossing into it", c->top, rel));
    if (rm_dir_contents(c, parent, name, rel, depth) < 0)
        return -1;
    if (unlinkat(parent, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
        return rm_error(c, errno, "remove", rel);
    return 0;
}

int mj_tree_remove(const char *path, mj_error_t **err)
{
    if (!path || !*path)
        return fail(err, mj_error_new(MJ_ERR_INVALID_CONFIG, EINVAL, "remove: a path is required"));
    cleanup_free char *p = strip_slashes(path);
    char *slash = strrchr(p, '/');
    const char *name = slash ? slash + 1 : p;
    if (!*name || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        return fail(err, mj_error_new(MJ_ERR_INVALID_CONFIG, EINVAL, "remove %s: refusing to remove this path", path));
    const char *parent_path = ".";
    if (slash == p)
        parent_path = "/";
    else if (slash) {
        *slash = '\0';
        parent_path = p;
    }
    cleanup_close int parent = open(parent_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (parent < 0)
        return errno == ENOENT ? 0 : fail(err, file_error(errno, "remove", path));
    struct stat st;
    if (fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return errno == ENOENT ? 0 : fail(err, file_error(errno, "remove", path));
    if (S_ISDIR(st.st_mode)) {
        cleanup_close int top = openat(parent, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (top >= 0 && is_mount_root(top))
            return fail(err, mj_error_new(MJ_ERR_FILE_OPERATION_FAILED, EBUSY,
                                          "remove %s: is a mount point; not removing it", path));
    }
    rm_ctx_t c = {.top = path, .dev = st.st_dev, .err = err};
    return rm_entry(&c, parent, name, "", 1);
}

/* ------------------------------------------------------------------ overlay diff */

typedef struct {
    const char *path;      /* relative to the upper / lower root */
    const char *name;      /* last component */
    int dirfd;             /* upper directory holding name (ADDED, MODIFIED), lower one (DELETED) */
    mj_diff_kind_t kind;
    const struct stat *st; /* of that entry */
} diff_item_t;

typedef int (*diff_item_fn)(const diff_item_t *it, void *ud, mj_error_t **err);

typedef struct {
    const char *upper;
    const char *lower;
    diff_item_fn fn;
    void *ud;
    mj_error_t **err;
} diff_ctx_t;

static int diff_error(diff_ctx_t *c, int e, const char *op, const char *root, const char *rel)
{
    cleanup_free char *shown = rel[0] ? mj_xasprintf("%s/%s", root, rel) : mj_xstrdup(root);
    cleanup_free char *what = mj_xasprintf("overlay diff: %s", op);
    return fail(c->err, file_error(e, what, shown));
}

static int emit(diff_ctx_t *c, mj_diff_kind_t kind, int dirfd_, const char *name, const char *path,
                const struct stat *st)
{
    diff_item_t it = {.path = path, .name = name, .dirfd = dirfd_, .kind = kind, .st = st};
    return c->fn(&it, c->ud, c->err);
}

/* A whiteout: a 0:0 character device, or an empty file marked overlay.whiteout (kernels that
 * cannot make the device, e.g. in a user namespace without it, write those). */
static bool is_whiteout(int dirfd_, const char *name, const struct stat *st)
{
    if (S_ISCHR(st->st_mode) && st->st_rdev == makedev(0, 0))
        return true;
    if (S_ISREG(st->st_mode) && st->st_size == 0)
        return overlay_xattr(dirfd_, name, "whiteout", NULL, 0) >= 0;
    return false;
}

static bool is_opaque(int dirfd_, const char *name)
{
    char v[4];
    ssize_t n = overlay_xattr(dirfd_, name, "opaque", v, sizeof(v));
    return n == 1 && v[0] == 'y'; /* "x" only says the directory holds xattr whiteouts */
}

/* 1 when the two regular files hold the same bytes, 0 when not, -1 with errno. */
static int same_content(int up, int lo, const char *name)
{
    cleanup_close int a = openat(up, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    cleanup_close int b = a < 0 ? -1 : openat(lo, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    struct stat sa, sb;
    if (a < 0 || b < 0 || fstat(a, &sa) < 0 || fstat(b, &sb) < 0)
        return -1;
    if (!S_ISREG(sa.st_mode) || !S_ISREG(sb.st_mode))
        return 0;
    cleanup_free char *ba = mj_xmalloc(COPY_CHUNK);
    cleanup_free char *bb = mj_xmalloc(COPY_CHUNK);
    for (;;) {
        ssize_t na = mj_read_all(a, ba, COPY_CHUNK);
        ssize_t nb = mj_read_all(b, bb, COPY_CHUNK);
        if (na < 0 || nb < 0)
            return -1;
        if (na != nb || memcmp(ba, bb, (size_t)na) != 0)
            return 0;
        if (na == 0)
            return 1;
    }
}

static int diff_dir(diff_ctx_t *c, int up, int lo, bool opaque, const char *rel, int depth);

/* Walks the upper directory name (stat ust) against lower directory lo_dir/name (-1: none). */
static int diff_descend(diff_ctx_t *c, int up, const char *name, const struct stat *ust, int lo_parent, bool opaque,
                        const char *path, int depth)
{
    cleanup_close int usub = open_subdir(up, name, ust);
    if (usub < 0)
        return diff_error(c, errno, "open", c->upper, path);
    cleanup_close int lsub = -1;
    if (lo_parent >= 0) {
        lsub = openat(lo_parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (lsub < 0)
            return diff_error(c, errno, "open", c->lower, path);
    }
    return diff_dir(c, usub, lsub, opaque, path, depth + 1);
}

static int diff_upper(diff_ctx_t *c, int up, int lo, bool opaque, const char *name, const char *rel, int depth)
{
    cleanup_free char *path = join_rel(rel, name);
    struct stat ust, lst;
    if (fstatat(up, name, &ust, AT_SYMLINK_NOFOLLOW) < 0)
        return errno == ENOENT ? 0 : diff_error(c, errno, "stat", c->upper, path);
    bool have_lo = false;
    if (lo >= 0) {
        if (fstatat(lo, name, &lst, AT_SYMLINK_NOFOLLOW) == 0)
            have_lo = true;
        else if (errno != ENOENT)
            return diff_error(c, errno, "stat", c->lower, path);
    }
    if (is_whiteout(up, name, &ust))
        return have_lo ? emit(c, MJ_DIFF_DELETED, lo, name, path, &lst) : 0;
    bool udir = S_ISDIR(ust.st_mode);
    if (!have_lo || (ust.st_mode & S_IFMT) != (lst.st_mode & S_IFMT)) {
        if (emit(c, have_lo ? MJ_DIFF_MODIFIED : MJ_DIFF_ADDED, up, name, path, &ust) < 0)
            return -1;
        return udir ? diff_descend(c, up, name, &ust, -1, false, path, depth) : 0;
    }
    bool perms = (ust.st_mode & 07777) != (lst.st_mode & 07777);
    if (udir) {
        /* Copied up to hold a change below: reported only when its own permissions changed.
         * Below an opaque directory nothing of the lower shows, at any depth. */
        if (perms && emit(c, MJ_DIFF_MODIFIED, up, name, path, &ust) < 0)
            return -1;
        return diff_descend(c, up, name, &ust, lo, opaque || is_opaque(up, name), path, depth);
    }
    bool differs = perms;
    if (!differs && S_ISLNK(ust.st_mode)) {
        cleanup_free char *ut = read_link_at(up, name);
        if (!ut)
            return diff_error(c, errno, "readlink", c->upper, path);
        cleanup_free char *lt = read_link_at(lo, name);
        if (!lt)
            return diff_error(c, errno, "readlink", c->lower, path);
        differs = strcmp(ut, lt) != 0;
    } else if (!differs && S_ISREG(ust.st_mode)) {
        differs = ust.st_size != lst.st_size;
        /* metacopy: only the metadata was copied up, the data is still the lower's */
        if (!differs && overlay_xattr(up, name, "metacopy", NULL, 0) < 0) {
            int same = same_content(up, lo, name);
            if (same < 0)
                return diff_error(c, errno, "read", c->upper, path);
            differs = !same;
        }
    } else if (!differs) {
        differs = ust.st_rdev != lst.st_rdev;
    }
    return differs ? emit(c, MJ_DIFF_MODIFIED, up, name, path, &ust) : 0;
}

static int diff_dir(diff_ctx_t *c, int up, int lo, bool opaque, const char *rel, int depth)
{
    if (depth > TREE_MAX_DEPTH)
        return fail(c->err, mj_error_new(MJ_ERR_FILE_OPERATION_FAILED, ELOOP, "overlay diff %s: deeper than %d levels at '%s'",
                                         c->upper, TREE_MAX_DEPTH, rel));
    cleanup_names names_t un = {0};
    cleanup_names names_t ln = {0};
    if (list_dir(up, &un) < 0)
        return diff_error(c, errno, "list", c->upper, rel);
    if (opaque && lo >= 0 && list_dir(lo, &ln) < 0)
        return diff_error(c, errno, "list", c->lower, rel);
    /* One sorted sequence of both: upper entries, and the lower entries an opaque directory hides. */
    size_t i = 0, j = 0;
    while (i < un.n || j < ln.n) {
        int cmp = i == un.n ? 1 : j == ln.n ? -1 : strcmp(un.v[i], ln.v[j]);
        if (cmp > 0) {
            struct stat lst;
            const char *name = ln.v[j++];
            cleanup_free char *path = join_rel(rel, name);
            if (fstatat(lo, name, &lst, AT_SYMLINK_NOFOLLOW) < 0) {
                if (errno == ENOENT)
                    continue;
                return diff_error(c, errno, "stat", c->lower, path);
            }
            if (emit(c, MJ_DIFF_DELETED, lo, name, path, &lst) < 0)
                return -1;
            continue;
        }
        if (cmp == 0)
            j++;
        if (diff_upper(c, up, lo, opaque, un.v[i++], rel, depth) < 0)
            return -1;
    }
    return 0;
}

static int diff_run(const char *upper, const char *lower, diff_item_fn fn, void *ud, mj_error_t **err)
{
    if (!upper || !*upper || !lower || !*lower)
        return fail(err, mj_error_new(MJ_ERR_INVALID_CONFIG, EINVAL, "overlay diff: upper and lower directories are required"));
    cleanup_close int up = open_dir_nofollow(upper);
    if (up < 0)
        return fail(err, file_error(errno, "overlay diff: upper", upper));
    cleanup_close int lo = open_dir_nofollow(lower);
    if (lo < 0)
        return fail(err, file_error(errno, "overlay diff: lower", lower));
    diff_ctx_t c = {.upper = upper, .lower = lower, .fn = fn, .ud = ud, .err = err};
    return diff_dir(&c, up, lo, is_opaque(up, "."), "", 1);
}

typedef struct {
    mj_diff_fn fn;
    void *ud;
} public_diff_t;

static int public_diff_item(const diff_item_t *it, void *ud, mj_error_t **err)
{
    public_diff_t *p = ud;
    if (p->fn(it->path, it->kind, it->st->st_mode, p->ud) == 0)
        return 0;
    if (err && *err)
        return -1; /* the callback said why */
    return fail(err, mj_error_new(MJ_ERR_INVALID_STATE, ECANCELED, "overlay diff stopped at '%s'", it->path));
}

int mj_overlay_diff(const char *upper, const char *lower, mj_diff_fn fn, void *ud, mj_error_t **err)
{
    if (!fn)
        return fail(err, mj_error_new(MJ_ERR_INVALID_CONFIG, EINVAL, "overlay diff: a callback is required"));
    public_diff_t p = {.fn = fn, .ud = ud};
    return diff_run(upper, lower, public_diff_item, &p, err);
}

/* ------------------------------------------------------------------ overlay export */

typedef struct {
    char *path;
    mode_t mode;
    struct timespec mtime;
} export_dir_t;

typedef struct {
    const char *upper;
    const char *dest;
    struct archive *tar;  /* tar export */
    int dest_fd;          /* directory export */
    export_dir_t *dirs;   /* directory export: modes and times applied at the end */
    size_t n_dirs;
} export_ctx_t;

/* The whiteout name of a deleted path: "dir/.wh.name". */
static char *whiteout_path(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return mj_xasprintf(".wh.%s", path);
    return mj_xasprintf("%.*s/.wh.%s", (int)(slash - path), path, slash + 1);
}

static int export_tar_item(export_ctx_t *x, const diff_item_t *it, mj_error_t **err)
{
    const struct stat *st = it->st;
    cleanup_free char *wh = NULL;
    cleanup_free char *target = NULL;
    cleanup_close int src = -1;
    struct archive_entry *ent = MJ_LAZY(MJ_LIB_ARCHIVE, archive_entry_new)();
    if (!ent)
        return fail(err, mj_error_new(MJ_ERR_FILE_OPERATION_FAILED, ENOMEM, "export %s: out of memory", x->dest));
    uint64_t size = 0;
    if (it->kind == MJ_DIFF_DELETED) {
        wh = whiteout_path(it->path);
        MJ_LAZY(MJ_LIB_ARCHIVE, archive_entry_set_pathname)(ent, wh);
        MJ_LAZY(MJ_LIB_ARCHIVE, archive_entry_set_filetype)(ent, AE_IFREG);
        MJ_LAZY(MJ_LIB_ARCHIVE, archive_entry_set_perm)(ent, 0644);
        MJ_LAZY(MJ_LIB_ARCHIVE, archive_entry_set_size)(ent, 0);
    } else {
        MJ_LAZY(MJ_LIB_ARCHIVE, archive_entry_set_pathname)(ent, it->path);
        MJ_LAZY(MJ_LIB_ARCHIVE, archive_entry_set_perm)(ent, st->st_mode & 0777);
        MJ_LAZY(MJ_LIB_ARCHIVE, archive_entry_set_mtime)(ent, st->st_mtim.tv_sec, st->st_mtim.tv_nsec);
        if (S_ISDIR(st->st_mode)) {
            MJ_LAZY(MJ_LIB_ARCHIVE, archive_entry_set_filetype)(ent, AE_IFDIR);
        } else if (S_ISLNK(st->st_mode)) {
            if (!(target = read_link_at(it->dirfd, it->name))) {
                MJ_LAZY(MJ_LIB_ARCHIVE, archive_entry_free)(ent);
                return fail(err, file_error(errno, "export: readlink", it->path));
            }
            MJ_LAZY(MJ_LIB_ARCHIVE, archive_entry_set_filetype)(ent, AE_IFLNK);
            MJ_LAZY(MJ_LIB_ARCHIVE, archive_entry_set_symlink)(ent, target);
        } else if (S_ISREG(st->st_mode)) {
            struct stat now;
            src = openat(it->dirfd, it->name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
            if (src < 0 || fstat(src, &now) < 0 || !S_ISREG(now.st_mode)) {
                int e = src < 0 ? errno : EINVAL;
                MJ_LAZY(MJ_LIB_ARCHIVE, archive_entry_free)(ent);
                return fail(err, file_error(e, "export: read", it->path));
            }
            size = (uint64_t)now.st_size;
            MJ_LAZY(MJ_LIB_ARCHIVE, archive_entry_set_filetype)(ent, AE_IFREG);
            MJ_LAZY(MJ_LIB_ARCHIVE, archive_entry_set_size)(ent, (la_int64_t)size);
        } else {
            MJ_LAZY(MJ_LIB_ARCHIVE, archive_entry_free)(ent);
            return 0; /* fifos, sockets, devices: not part of an export */
        }
    }
    MJ_LAZY(MJ_LIB_ARCHIVE, archive_entry_set_uid)(ent, 0);
    MJ_LAZY(MJ_LIB_ARCHIVE, archive_entry_set_gid)(ent, 0);
    int r = MJ_LAZY(MJ_LIB_ARCHIVE, archive_write_header)(x->tar, ent);
    MJ_LAZY(MJ_LIB_ARCHIVE, archive_entry_free)(ent);
    if (r < ARCHIVE_WARN)
        return fail(err, mj_error_new(MJ_ERR_FILE_OPERATION_FAILED, MJ_LAZY(MJ_LIB_ARCHIVE, archive_errno)(x->tar), "export %s: '%s': %s", x->dest,
                                      it->path, archive_why(x->tar)));
    char buf[COPY_CHUNK];
    while (size > 0) {
        size_t want = size < sizeof(buf) ? (size_t)size : sizeof(buf);
        ssize_t n = mj_read_all(src, buf, want);
        if (n < 0 || (size_t)n != want)
            return fail(err, file_error(n < 0 ? errno : EIO, "export: read", it->path));
        if (MJ_LAZY(MJ_LIB_ARCHIVE, archive_write_data)(x->tar, buf, want) != (la_ssize_t)want)
            return fail(err, mj_error_new(MJ_ERR_FILE_OPERATION_FAILED, MJ_LAZY(MJ_LIB_ARCHIVE, archive_errno)(x->tar), "export %s: '%s': %s",
                                          x->dest, it->path, archive_why(x->tar)));
        size -= want;
    }
    return 0;
}

/* Opens the directory that will hold rel's last component inside dest, creating missing
 * directories (0755) on the way, never through a symlink.  *name points into rel. */
static int dest_parent(int dest, const char *rel, const char **name)
{
    const char *slash = strrchr(rel, '/');
    *name = slash ? slash + 1 : rel;
    int cur = openat(dest, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (cur < 0 || !slash)
        return cur;
    cleanup_free char *dirs = mj_xasprintf("%.*s", (int)(slash - rel), rel);
    char *save = NULL;
    for (char *comp = strtok_r(dirs, "/", &save); comp; comp = strtok_r(NULL, "/", &save)) {
        if (mkdirat(cur, comp, 0755) < 0 && errno != EEXIST) {
            int e = errno;
            close(cur);
            errno = e;
            return -1;
        }
        int next = openat(cur, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        int e = errno;
        close(cur);
        if (next < 0) {
            errno = e;
            return -1;
        }
        cur = next;
    }
    return cur;
}

static int export_dir_item(export_ctx_t *x, const diff_item_t *it, mj_error_t **err)
{
    const struct stat *st = it->st;
    cleanup_free char *rel = it->kind == MJ_DIFF_DELETED ? whiteout_path(it->path) : mj_xstrdup(it->path);
    cleanup_free char *shown = mj_xasprintf("%s/%s", x->dest, rel);
    const char *name;
    cleanup_close int parent = dest_parent(x->dest_fd, rel, &name);
    if (parent < 0)
        return fail(err, file_error(errno, "export: create", shown));
    if (it->kind == MJ_DIFF_DELETED) {
        cleanup_close int fd = openat(parent, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
        return fd < 0 ? fail(err, file_error(errno, "export: create", shown)) : 0;
    }
    struct timespec times[2] = {{.tv_nsec = UTIME_OMIT}, st->st_mtim};
    if (S_ISDIR(st->st_mode)) {
        /* 0700 while its contents are written; its own mode and time come last. */
        if (mkdirat(parent, name, 0700) < 0 && errno != EEXIST)
            return fail(err, file_error(errno, "export: mkdir", shown));
        x->dirs = mj_xrealloc(x->dirs, (x->n_dirs + 1) * sizeof(*x->dirs));
        x->dirs[x->n_dirs++] = (export_dir_t){.path = mj_xstrdup(rel), .mode = st->st_mode & 0777, .mtime = st->st_mtim};
        return 0;
    }
    if (S_ISLNK(st->st_mode)) {
        cleanup_free char *target = read_link_at(it->dirfd, it->name);
        if (!target)
            return fail(err, file_error(errno, "export: readlink", it->path));
        if (symlinkat(target, parent, name) < 0)
            return fail(err, file_error(errno, "export: symlink", shown));
        utimensat(parent, name, times, AT_SYMLINK_NOFOLLOW);
        return 0;
    }
    if (!S_ISREG(st->st_mode))
        return 0; /* fifos, sockets, devices: not part of an export */
    cleanup_close int src = openat(it->dirfd, it->name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    struct stat now;
    if (src < 0 || fstat(src, &now) < 0 || !S_ISREG(now.st_mode))
        return fail(err, file_error(src < 0 ? errno : EINVAL, "export: read", it->path));
    cleanup_close int out = openat(parent, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (out < 0)
        return fail(err, file_error(errno, "export: create", shown));
    if (copy_fd(src, out, (uint64_t)now.st_size) < 0)
        return fail(err, file_error(errno, "export: copy", shown));
    if (fchmod(out, now.st_mode & 0777) < 0 || futimens(out, times) < 0)
        return fail(err, file_error(errno, "export: chmod", shown));
    return 0;
}

static int export_item(const diff_item_t *it, void *ud, mj_error_t **err)
{
    export_ctx_t *x = ud;
    return x->tar ? export_tar_item(x, it, err) : export_dir_item(x, it, err);
}

/* Directory modes and times, children before parents (the reverse of the walk's order). */
static int export_finish_dirs(export_ctx_t *x, mj_error_t **err)
{
    for (size_t k = x->n_dirs; k-- > 0;) {
        export_dir_t *d = &x->dirs[k];
        const char *name;
        cleanup_close int parent = dest_parent(x->dest_fd, d->path, &name);
        cleanup_close int fd = parent < 0 ? -1 : openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        struct timespec times[2] = {{.tv_nsec = UTIME_OMIT}, d->mtime};
        if (fd < 0 || fchmod(fd, d->mode) < 0 || futimens(fd, times) < 0) {
            cleanup_free char *shown = mj_xasprintf("%s/%s", x->dest, d->path);
            return fail(err, file_error(errno, "export: chmod", shown));
        }
    }
    return 0;
}

static void export_ctx_free(export_ctx_t *x)
{
    for (size_t k = 0; k < x->n_dirs; k++)
        free(x->dirs[k].path);
    free(x->dirs);
}

static int export_tar(const char *upper, const char *lower, const char *dest, bool gzip, mj_error_t **err)
{
    cleanup_close int fd = open(dest, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0)
        return fail(err, file_error(errno, "export: create", dest));
    cleanup_archive_write struct archive *a = MJ_LAZY(MJ_LIB_ARCHIVE, archive_write_new)();
    int r = -1;
    if (!a || MJ_LAZY(MJ_LIB_ARCHIVE, archive_write_set_format_pax_restricted)(a) != ARCHIVE_OK ||
        (gzip && MJ_LAZY(MJ_LIB_ARCHIVE, archive_write_add_filter_gzip)(a) != ARCHIVE_OK) || MJ_LAZY(MJ_LIB_ARCHIVE, archive_write_open_fd)(a, fd) != ARCHIVE_OK) {
        fail(err, mj_error_new(MJ_ERR_FILE_OPERATION_FAILED, a ? MJ_LAZY(MJ_LIB_ARCHIVE, archive_errno)(a) : ENOMEM, "export %s: %s", dest,
                               a ? archive_why(a) : "out of memory"));
    } else {
        export_ctx_t x = {.upper = upper, .dest = dest, .tar = a, .dest_fd = -1};
        r = diff_run(upper, lower, export_item, &x, err);
        if (r == 0 && MJ_LAZY(MJ_LIB_ARCHIVE, archive_write_close)(a) != ARCHIVE_OK)
            r = fail(err, mj_error_new(MJ_ERR_FILE_OPERATION_FAILED, MJ_LAZY(MJ_LIB_ARCHIVE, archive_errno)(a), "export %s: %s", dest,
                                       archive_why(a)));
    }
    free_archive_write(&a);
    a = NULL;
    if (close(mj_steal_fd(&fd)) < 0 && r == 0)
        r = fail(err, file_error(errno, "export: write", dest));
    if (r < 0)
        unlink(dest);
    return r;
}

static int export_dir(const char *upper, const char *lower, const char *dest, mj_error_t **err)
{
    bool created = mkdir(dest, 0755) == 0;
    if (!created && errno != EEXIST)
        return fail(err, file_error(errno, "export: mkdir", dest));
    cleanup_close int dfd = open_dir_nofollow(dest);
    if (dfd < 0)
        return fail(err, file_error(errno, "export: open", dest));
    if (!created) {
        cleanup_names names_t names = {0};
        if (list_dir(dfd, &names) < 0)
            return fail(err, file_error(errno, "export: list", dest));
        if (names.n > 0)
            return fail(err, mj_error_new(MJ_ERR_INVALID_CONFIG, EEXIST, "export %s: the directory exists and is not empty",
                                          dest));
    }
    export_ctx_t x = {.upper = upper, .dest = dest, .dest_fd = dfd};
    int r = diff_run(upper, lower, export_item, &x, err);
    if (r == 0)
        r = export_finish_dirs(&x, err);
    export_ctx_free(&x);
    if (r < 0) {
        /* Leave nothing half-written: what we made goes (the empty directory given stays). */
        struct stat st;
        if (fstat(dfd, &st) == 0) {
            rm_ctx_t c = {.top = dest, .dev = st.st_dev, .err = NULL};
            cleanup_names names_t names = {0};
            if (list_dir(dfd, &names) == 0)
                for (size_t i = 0; i < names.n; i++)
                    rm_entry(&c, dfd, names.v[i], names.v[i], 2);
        }
        if (created)
            rmdir(dest);
    }
    return r;
}

int mj_overlay_export(const char *upper, const char *lower, const char *dest, mj_error_t **err)
{
    if (mj_lib_open(MJ_LIB_ARCHIVE, err) < 0) /* tar exports write with it */
        return -1;
    if (!dest || !*dest)
        return fail(err, mj_error_new(MJ_ERR_INVALID_CONFIG, EINVAL, "export: a destination path is required"));
    bool gz = ends_with(dest, ".tar.gz") || ends_with(dest, ".tgz");
    if (gz || ends_with(dest, ".tar"))
        return export_tar(upper, lower, dest, gz, err);
    cleanup_free char *d = strip_slashes(dest);
    return export_dir(upper, lower, d, err);
}

/* ------------------------------------------------------------------ git archive */

static bool ref_valid(const char *ref)
{
    if (!ref || !*ref || ref[0] == '-' || strlen(ref) >= 256)
        return false;
    for (const unsigned char *p = (const unsigned char *)ref; *p; p++)
        if (*p <= ' ' || *p == 0x7f)
            return false;
    return true;
}

/* Runs git archive of ref into out; stderr's first line goes into the error. */
/* Runs git with argv (argv[0] "git"); failures name repo and ref, with git's first stderr line. */
static int run_git(const char *repo, const char *ref, char *const *argv, mj_error_t **err)
{
    int pipefd[2];
    if (pipe2(pipefd, O_CLOEXEC) < 0)
        return fail(err, mj_error_new(MJ_ERR_COMMAND_EXECUTION_FAILED, errno, "repository %s: pipe: %s", repo,
                                      strerror(errno)));
    cleanup_close int rd = pipefd[0];
    cleanup_close int wr = pipefd[1];
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, wr, 2);
    posix_spawnattr_init(&attr);
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &all);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    pid_t pid;
    int rc = posix_spawnp(&pid, "git", &fa, &attr, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    close(mj_steal_fd(&wr));
    if (rc == ENOENT)
        return fail(err, mj_error_new(MJ_ERR_UNSUPPORTED, ENOENT, "git not found in PATH"));
    if (rc != 0)
        return fail(err, mj_error_new(MJ_ERR_COMMAND_EXECUTION_FAILED, rc, "repository %s: cannot run git: %s", repo,
                                      strerror(rc)));

    char first[512];
    size_t have = 0;
    bool line_done = false;
    for (;;) {
        char buf[4096];
        ssize_t n = read(rd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        for (ssize_t k = 0; k < n && !line_done; k++) {
            if (buf[k] == '\n')
                line_done = true;
            else if (have < sizeof(first) - 1)
                first[have++] = buf[k];
        }
    }
    while (have > 0 && (first[have - 1] == '\r' || first[have - 1] == ' '))
        have--;
    first[have] = '\0';

    int status;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR)
            return fail(err, mj_error_new(MJ_ERR_COMMAND_EXECUTION_FAILED, errno, "repository %s: waiting for git: %s",
                                          repo, strerror(errno)));
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return 0;
    if (have)
        return fail(err, mj_error_new(MJ_ERR_INVALID_CONFIG, 0, "repository %s: ref '%s': %s", repo, ref, first));
    if (WIFSIGNALED(status))
        return fail(err, mj_error_new(MJ_ERR_INVALID_CONFIG, 0, "repository %s: ref '%s': git killed by signal %d", repo,
                                      ref, WTERMSIG(status)));
    return fail(err, mj_error_new(MJ_ERR_INVALID_CONFIG, 0, "repository %s: ref '%s': git exited with status %d", repo,
                                  ref, WEXITSTATUS(status)));
}

int mj_git_archive(const char *repo, const char *ref, const char *dest_dir, mj_error_t **err)
{
    if (!repo || !*repo || !dest_dir || !*dest_dir)
        return fail(err, mj_error_new(MJ_ERR_INVALID_CONFIG, EINVAL, "git archive: repository and destination are required"));
    if (!ref_valid(ref))
        return fail(err, mj_error_new(MJ_ERR_INVALID_CONFIG, EINVAL,
                                      "repository %s: invalid ref: it must be non-empty, shorter than 256 bytes, not "
                                      "start with '-' and hold no whitespace or control characters",
                                      repo));
    const char *tmp = secure_getenv("TMPDIR");
    cleanup_free char *dir = mj_xasprintf("%s/moonjail-git-XXXXXX", tmp && tmp[0] == '/' ? tmp : "/tmp");
    if (!mkdtemp(dir))
        return fail(err, file_error(errno, "git archive: mkdtemp", dir));
    /* git archive applies the filters (smudge commands) that the repository's own .git/config
     * names, and a repository is not always trusted by whoever runs moonjail (it may be root,
     * and a sandbox may have had it mounted).  So: a bare mirror first — `clone --shared` copies
     * refs, borrows the objects and takes no config along — and the archive from the mirror. */
    cleanup_free char *mirror = mj_xasprintf("%s/mirror.git", dir);
    cleanup_free char *tarball = mj_xasprintf("%s/archive.tar", dir);
    char *const clone[] = {(char *)"git", (char *)"-c", (char *)"core.fsmonitor=false", (char *)"clone",
                           (char *)"--quiet", (char *)"--mirror", (char *)"--shared", (char *)"--",
                           (char *)repo, mirror, NULL};
    char *const archive[] = {(char *)"git", (char *)"-c", (char *)"core.fsmonitor=false", (char *)"-C", mirror,
                             (char *)"archive", (char *)"--format=tar", (char *)"-o", tarball, (char *)ref, NULL};
    int r = run_git(repo, ref, clone, err);
    if (r == 0)
        r = run_git(repo, ref, archive, err);
    if (r == 0 && (r = mj_unpack_archive(tarball, dest_dir, NULL, err)) < 0)
        mj_error_wrap(err, "repository %s: ref '%s'", repo, ref);
    mj_tree_remove(dir, NULL);
    return r;
}

int mj_file_sha256(const char *path, char hex[65], mj_error_t **err)
{
    if (mj_lib_open(MJ_LIB_CRYPTO, err) < 0)
        return -1;
    cleanup_close int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return fail(err, file_error(errno, "sha256", path));
    EVP_MD_CTX *ctx = MJ_LAZY(MJ_LIB_CRYPTO, EVP_MD_CTX_new)();
    if (!ctx || MJ_LAZY(MJ_LIB_CRYPTO, EVP_DigestInit_ex)(ctx, MJ_LAZY(MJ_LIB_CRYPTO, EVP_sha256)(), NULL) != 1) {
        MJ_LAZY(MJ_LIB_CRYPTO, EVP_MD_CTX_free)(ctx);
        return fail(err, mj_error_new(MJ_ERR_FILE_OPERATION_FAILED, 0, "sha256 %s: libcrypto failed", path));
    }
    unsigned char buf[65536];
    for (;;) {
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int e = errno;
            MJ_LAZY(MJ_LIB_CRYPTO, EVP_MD_CTX_free)(ctx);
            return fail(err, file_error(e, "sha256: reading", path));
        }
        if (n == 0)
            break;
        MJ_LAZY(MJ_LIB_CRYPTO, EVP_DigestUpdate)(ctx, buf, (size_t)n);
    }
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    MJ_LAZY(MJ_LIB_CRYPTO, EVP_DigestFinal_ex)(ctx, md, &len);
    MJ_LAZY(MJ_LIB_CRYPTO, EVP_MD_CTX_free)(ctx);
    for (unsigned i = 0; i < len && i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    hex[64] = '\0';
    return 0;
}

/* util.h — small helpers shared by every core file: cleanup attributes, ownership transfer,
 * checked allocation, growable buffers and string vectors (with KEY=VALUE environment helpers),
 * fd helpers, a directory walk, I/O loops and clocks.  Nothing here knows about sandboxes. */
#ifndef MJ_UTIL_H
#define MJ_UTIL_H

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MJ_UNUSED __attribute__((unused))
#define MJ_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

static inline void mj_cleanup_freep(void *p)
{
    free(*(void **)p);
}

static inline void mj_cleanup_closep(int *fd)
{
    if (*fd >= 0) {
        int saved = errno;
        close(*fd);
        errno = saved;
    }
}

static inline void mj_cleanup_pipep(int (*p)[2])
{
    mj_cleanup_closep(&(*p)[0]);
    mj_cleanup_closep(&(*p)[1]);
}

#define cleanup_free __attribute__((cleanup(mj_cleanup_freep)))
#define cleanup_close __attribute__((cleanup(mj_cleanup_closep)))
/* Both ends of an int[2] from pipe2()/socketpair() (-1 = already closed or handed out). */
#define cleanup_pipe __attribute__((cleanup(mj_cleanup_pipep)))

/* Hands ownership out of a cleanup-attributed variable. */
static inline void *mj_steal_pointer(void *pp)
{
    void **p = (void **)pp;
    void *v = *p;
    *p = NULL;
    return v;
}
#define steal_pointer(pp) mj_steal_pointer(pp)

static inline int mj_steal_fd(int *fd)
{
    int v = *fd;
    *fd = -1;
    return v;
}

/* Allocation failure is not a user error: abort like glib does. */
void *mj_xmalloc(size_t n);
void *mj_xcalloc(size_t n, size_t size);
void *mj_xrealloc(void *p, size_t n);
char *mj_xstrdup(const char *s);
char *mj_xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *mj_xvasprintf(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));

/* A growable byte buffer; data is always NUL-terminated for convenience. */
typedef struct {
    char *data;
    size_t len;
    size_t cap;
} mj_buf_t;

void mj_buf_append(mj_buf_t *b, const void *data, size_t len);
void mj_buf_free(mj_buf_t *b);
/* A buffer freed when it goes out of scope. */
#define cleanup_buf __attribute__((cleanup(mj_buf_free)))

/* A growable array of owned strings, NULL-terminated (usable as argv/envp). */
typedef struct {
    char **v;
    size_t n;
    size_t cap;
} mj_strv_t;

void mj_strv_push(mj_strv_t *s, const char *str);
void mj_strv_push_owned(mj_strv_t *s, char *str);
void mj_strv_free(mj_strv_t *s);
void mj_strv_copy(mj_strv_t *dst, const mj_strv_t *src);

/* An environment as a strv of "KEY=VALUE".  The value of key, or NULL. */
const char *mj_env_lookup(const mj_strv_t *env, const char *key);
/* Sets key=value, replacing the first entry of that key or appending. */
void mj_env_set(mj_strv_t *env, const char *key, const char *value);
/* Sets every KEY=VALUE of over in env, replacing existing keys. */
void mj_env_overlay(mj_strv_t *env, const mj_strv_t *over);
/* Removes the first entry of key; false when there was none. */
bool mj_env_unset(mj_strv_t *env, const char *key);

/* Closes *fd if open and sets it to -1. */
void mj_close_fd(int *fd);
int mj_set_nonblock(int fd);
/* Moves fds[0..n) to first, first+1, … (O_CLOEXEC), closing the old numbers and updating fds;
 * the next free number, or -1 with errno.  Raw system calls only: usable after clone. */
int mj_place_fds(int *fds, size_t n, int first);

/* Called for each entry of a directory with the directory's fd, the entry's name and its d_type
 * (DT_UNKNOWN where the file system does not say); a nonzero return stops the walk. */
typedef int (*mj_dir_fn)(int dfd, const char *name, unsigned char type, void *ctx);
/* Calls fn for every entry but "." and ".." of the directory dfd, freshly opened O_RDONLY |
 * O_DIRECTORY (it is read from its current offset, which the walk moves; dfd stays open).
 * getdents64 into a stack buffer and nothing else (no lseek: the supervisor's own seccomp filter
 * allows none), so it is usable after clone.  0, fn's nonzero return, or -1 with errno when the
 * directory cannot be read. */
int mj_dir_each(int dfd, mj_dir_fn fn, void *ctx);

/* Writes/reads exactly len bytes, retrying on EINTR; -1 with errno on failure, 0 on EOF (read). */
ssize_t mj_write_all(int fd, const void *buf, size_t len);
ssize_t mj_read_all(int fd, void *buf, size_t len);

/* 32 random hex digits (sandbox and cgroup ids). */
void mj_random_id(char out[33]);

double mj_now_realtime(void);
double mj_now_monotonic(void);
/* CLOCK_REALTIME in nanoseconds (the time stamps of the sandbox side's messages). */
int64_t mj_realtime_ns(void);

/* true when path is absolute, has no "..", no empty components beyond the first '/', and no NUL. */
bool mj_path_is_clean_absolute(const char *path);

#endif

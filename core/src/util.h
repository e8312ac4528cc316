/* util.h — small helpers shared by every core file: cleanup attributes, ownership transfer,
 * checked allocation and a growable byte buffer.  Nothing here knows about sandboxes. */
#ifndef MJ_UTIL_H
#define MJ_UTIL_H

#include <errno.h>
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

#define cleanup_free __attribute__((cleanup(mj_cleanup_freep)))
#define cleanup_close __attribute__((cleanup(mj_cleanup_closep)))

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

/* A growable byte buffer; data is always NUL-terminated for convenience. */
typedef struct {
    char *data;
    size_t len;
    size_t cap;
} mj_buf_t;

void mj_buf_append(mj_buf_t *b, const void *data, size_t len);
void mj_buf_free(mj_buf_t *b);

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

/* Writes/reads exactly len bytes, retrying on EINTR; -1 with errno on failure, 0 on EOF (read). */
ssize_t mj_write_all(int fd, const void *buf, size_t len);
ssize_t mj_read_all(int fd, void *buf, size_t len);

/* 32 random hex digits (sandbox and cgroup ids). */
void mj_random_id(char out[33]);

double mj_now_realtime(void);
double mj_now_monotonic(void);

/* true when path is absolute, has no "..", no empty components beyond the first '/', and no NUL. */
bool mj_path_is_clean_absolute(const char *path);

#endif

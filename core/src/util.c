/* util.c — allocation, buffers, string vectors and environments, fd helpers, the directory walk,
 * I/O loops and clocks used across the core.
 * Must never depend on sandbox state; everything here is safe to unit-test in isolation. */
#define _GNU_SOURCE
#include "util.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdarg.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <stdio.h>
#include <time.h>

static void mj_oom(void)
{
    static const char msg[] = "moonjail: out of memory\n";
    ssize_t ignored = write(STDERR_FILENO, msg, sizeof(msg) - 1);
    (void)ignored;
    abort();
}

void *mj_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        mj_oom();
    return p;
}

void *mj_xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        mj_oom();
    return p;
}

void *mj_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        mj_oom();
    return q;
}

char *mj_xstrdup(const char *s)
{
    char *d = strdup(s ? s : "");
    if (!d)
        mj_oom();
    return d;
}

char *mj_xvasprintf(const char *fmt, va_list ap)
{
    char *out = NULL;
    if (vasprintf(&out, fmt, ap) < 0)
        mj_oom();
    return out;
}

char *mj_xasprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *out = mj_xvasprintf(fmt, ap);
    va_end(ap);
    return out;
}

void mj_buf_append(mj_buf_t *b, const void *data, size_t len)
{
    if (b->len + len + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + len + 1)
            cap *= 2;
        b->data = mj_xrealloc(b->data, cap);
        b->cap = cap;
    }
    if (len)
        memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
}

void mj_buf_free(mj_buf_t *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

void mj_strv_push_owned(mj_strv_t *s, char *str)
{
    if (s->n + 2 > s->cap) {
        s->cap = s->cap ? s->cap * 2 : 8;
        s->v = mj_xrealloc(s->v, s->cap * sizeof(char *));
    }
    s->v[s->n++] = str;
    s->v[s->n] = NULL;
}

void mj_strv_push(mj_strv_t *s, const char *str)
{
    mj_strv_push_owned(s, mj_xstrdup(str));
}

void mj_strv_free(mj_strv_t *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i]);
    free(s->v);
    s->v = NULL;
    s->n = s->cap = 0;
}

void mj_strv_copy(mj_strv_t *dst, const mj_strv_t *src)
{
    for (size_t i = 0; i < src->n; i++)
        mj_strv_push(dst, src->v[i]);
}

const char *mj_env_lookup(const mj_strv_t *env, const char *key)
{
    size_t klen = strlen(key);
    for (size_t i = 0; i < env->n; i++)
        if (strncmp(env->v[i], key, klen) == 0 && env->v[i][klen] == '=')
            return env->v[i] + klen + 1;
    return NULL;
}

void mj_env_set(mj_strv_t *env, const char *key, const char *value)
{
    size_t klen = strlen(key);
    char *entry = mj_xasprintf("%s=%s", key, value);
    for (size_t i = 0; i < env->n; i++) {
        if (strncmp(env->v[i], key, klen) == 0 && env->v[i][klen] == '=') {
            free(env->v[i]);
            env->v[i] = entry;
            return;
        }
    }
    mj_strv_push_owned(env, entry);
}

void mj_env_overlay(mj_strv_t *env, const mj_strv_t *over)
{
    for (size_t i = 0; i < over->n; i++) {
        const char *eq = strchr(over->v[i], '=');
        size_t klen = eq ? (size_t)(eq - over->v[i]) : strlen(over->v[i]);
        bool replaced = false;
        for (size_t j = 0; j < env->n && !replaced; j++) {
            if (strncmp(env->v[j], over->v[i], klen) == 0 && env->v[j][klen] == '=') {
                free(env->v[j]);
                env->v[j] = mj_xstrdup(over->v[i]);
                replaced = true;
            }
        }
        if (!replaced)
            mj_strv_push(env, over->v[i]);
    }
}

bool mj_env_unset(mj_strv_t *env, const char *key)
{
    size_t klen = key ? strlen(key) : 0;
    for (size_t i = 0; i < env->n; i++) {
        if (strncmp(env->v[i], key, klen) == 0 && env->v[i][klen] == '=') {
            free(env->v[i]);
            memmove(&env->v[i], &env->v[i + 1], (env->n - i) * sizeof(char *)); /* with the NULL */
            env->n--;
            return true;
        }
    }
    return false;
}

void mj_close_fd(int *fd)
{
    if (*fd >= 0) {
        close(*fd);
        *fd = -1;
    }
}

int mj_set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

int mj_place_fds(int *fds, size_t n, int first)
{
    for (size_t i = 0; i < n; i++) {
        if (dup3(fds[i], first + (int)i, O_CLOEXEC) < 0)
            return -1;
        if (fds[i] != first + (int)i)
            close(fds[i]);
        fds[i] = first + (int)i;
    }
    return first + (int)n;
}

/* The kernel's struct linux_dirent64 (glibc declares none for getdents64 callers). */
struct mj_dirent64 {
    uint64_t ino;
    int64_t off;
    unsigned short reclen;
    unsigned char type;
    char name[];
};

int mj_dir_each(int dfd, mj_dir_fn fn, void *ctx)
{
    /* Small: walks recurse (copies, removals) with a buffer per level; a record is ≤ 280 bytes. */
    char buf[2048] __attribute__((aligned(8)));
    for (;;) {
        long n = syscall(SYS_getdents64, dfd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n < 0 ? -1 : 0;
        for (long off = 0; off < n;) {
            const struct mj_dirent64 *d = (const void *)(buf + off);
            off += d->reclen;
            if (d->name[0] == '.' && (!d->name[1] || (d->name[1] == '.' && !d->name[2])))
                continue;
            int r = fn(dfd, d->name, d->type, ctx);
            if (r != 0)
                return r;
        }
    }
}

ssize_t mj_write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    size_t done = 0;
    while (done < len) {
        ssize_t n = write(fd, p + done, len - done);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        done += (size_t)n;
    }
    return (ssize_t)done;
}

ssize_t mj_read_all(int fd, void *buf, size_t len)
{
    char *p = buf;
    size_t done = 0;
    while (done < len) {
        ssize_t n = read(fd, p + done, len - done);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (n == 0)
            break;
        done += (size_t)n;
    }
    return (ssize_t)done;
}

double mj_now_realtime(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double mj_now_monotonic(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int64_t mj_realtime_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

bool mj_path_is_clean_absolute(const char *path)
{
    if (!path || path[0] != '/')
        return false;
    const char *p = path;
    while (*p) {
        while (*p == '/')
            p++;
        const char *start = p;
        while (*p && *p != '/')
            p++;
        size_t n = (size_t)(p - start);
        if ((n == 1 && start[0] == '.') || (n == 2 && start[0] == '.' && start[1] == '.'))
            return false;
    }
    return true;
}

void mj_random_id(char out[33])
{
    unsigned char raw[16];
    if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw)) {
        uint64_t t = (uint64_t)(mj_now_realtime() * 1e9) ^ ((uint64_t)getpid() << 32);
        memcpy(raw, &t, 8);
        t = (uint64_t)(mj_now_monotonic() * 1e9);
        memcpy(raw + 8, &t, 8);
    }
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < 16; i++) {
        out[2 * i] = hex[raw[i] >> 4];
        out[2 * i + 1] = hex[raw[i] & 15];
    }
    out[32] = '\0';
}

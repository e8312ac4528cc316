/* cgroup-utils.c — the cgroup file-system helpers the facade and both backends share: controller
 * names, bounded reads and writes of one file in a group dir, number and flat-keyed parsing, the
 * pids in a cgroup.procs, and the pids / CPU-throttle readers common to v1 and v2.
 * It must never decide what a failure means (callers do), follow a symlink at the file it opens,
 * or write anything but the one file it was asked to. */
#define _GNU_SOURCE
#include "cgroup-utils.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

#define MJ_CG_MAX_PROCS (1u << 20) /* cgroup.procs is read up to this (≈100k pids) */

static const char *const ctl_names[MJ_CGC__COUNT] = {"memory", "pids", "cpu", "cpuacct", "freezer", "io"};

const char *mj_cg_controller_name(int ctl)
{
    return ctl >= 0 && ctl < MJ_CGC__COUNT ? ctl_names[ctl] : "?";
}

int mj_cg_controller_from_name(const char *name, size_t len)
{
    if (len == 5 && memcmp(name, "blkio", 5) == 0) /* v1's name for io */
        return MJ_CGC_IO;
    for (int c = 0; c < MJ_CGC__COUNT; c++)
        if (strlen(ctl_names[c]) == len && memcmp(ctl_names[c], name, len) == 0)
            return c;
    return -1;
}

void mj_cg_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

void mj_cg_read_pids(const char *dir, mj_cgroup_stats_t *out)
{
    uint64_t v;
    if (mj_cg_read_u64(dir, "pids.current", &v) == 0) {
        out->have_pids = true;
        out->pids_current = (unsigned)v;
    }
    if (mj_cg_read_keyed(dir, "pids.events", "max", &v) == 0 && v > 0) {
        out->pids_max_hit = true;
        out->pids_max_events = v;
    }
}

void mj_cg_read_throttle(const char *dir, mj_cgroup_stats_t *out)
{
    char buf[1024];
    if (mj_cg_read(dir, "cpu.stat", buf, sizeof(buf)) >= 0 && mj_cg_keyed_u64(buf, "nr_periods", &out->cpu_periods) == 0 &&
        mj_cg_keyed_u64(buf, "nr_throttled", &out->cpu_throttled) == 0)
        out->have_throttle = true;
}

/* ------------------------------------------------------------------ files */

static char *join(const char *dir, const char *file)
{
    return mj_xasprintf("%s/%s", dir, file);
}

int mj_cg_write(const char *dir, const char *file, const char *value)
{
    cleanup_free char *path = join(dir, file);
    cleanup_close int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return -1;
    /* cgroupfs takes the whole value in one write(); a short write is an error. */
    ssize_t n = write(fd, value, strlen(value));
    if (n < 0)
        return -1;
    if ((size_t)n != strlen(value)) {
        errno = EIO;
        return -1;
    }
    return 0;
}

int mj_cg_writef(const char *dir, const char *file, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cleanup_free char *value = NULL;
    int r = vasprintf(&value, fmt, ap);
    va_end(ap);
    if (r < 0)
        abort();
    return mj_cg_write(dir, file, value);
}

ssize_t mj_cg_read(const char *dir, const char *file, char *buf, size_t size)
{
    if (size == 0) {
        errno = EINVAL;
        return -1;
    }
    buf[0] = '\0';
    cleanup_free char *path = join(dir, file);
    cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0)
        return -1;
    ssize_t len = mj_read_all(fd, buf, size - 1);
    if (len < 0)
        return -1;
    buf[len] = '\0';
    return len;
}

bool mj_cg_exists(const char *dir, const char *file)
{
    cleanup_free char *path = join(dir, file);
    return access(path, F_OK) == 0;
}

static int parse_u64(const char *s, uint64_t *value)
{
    while (*s == ' ' || *s == '\t')
        s++;
    if (strncmp(s, "max", 3) == 0 && (s[3] == '\0' || isspace((unsigned char)s[3]))) {
        *value = UINT64_MAX;
        return 0;
    }
    if (!isdigit((unsigned char)*s)) {
        errno = EINVAL;
        return -1;
    }
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno)
        return -1;
    if (*end && !isspace((unsigned char)*end)) {
        errno = EINVAL;
        return -1;
    }
    *value = v;
    return 0;
}

int mj_cg_read_u64(const char *dir, const char *file, uint64_t *value)
{
    char buf[64];
    if (mj_cg_read(dir, file, buf, sizeof(buf)) < 0)
        return -1;
    return parse_u64(buf, value);
}

int mj_cg_keyed_u64(const char *text, const char *key, uint64_t *value)
{
    size_t klen = strlen(key);
    const char *line = text;
    while (line && *line) {
        if (strncmp(line, key, klen) == 0 && (line[klen] == ' ' || line[klen] == '\t'))
            return parse_u64(line + klen, value);
        line = strchr(line, '\n');
        if (line)
            line++;
    }
    errno = ENOENT;
    return -1;
}

int mj_cg_read_keyed(const char *dir, const char *file, const char *key, uint64_t *value)
{
    char buf[4096];
    if (mj_cg_read(dir, file, buf, sizeof(buf)) < 0)
        return -1;
    return mj_cg_keyed_u64(buf, key, value);
}

size_t mj_cg_for_each_pid(const char *dir, void (*fn)(pid_t pid, void *ud), void *ud)
{
    cleanup_free char *path = join(dir, "cgroup.procs");
    cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return 0;
    size_t count = 0, total = 0;
    char buf[4096];
    size_t keep = 0; /* bytes of a number split across reads */
    for (;;) {
        ssize_t n = read(fd, buf + keep, sizeof(buf) - 1 - keep);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        total += (size_t)n;
        size_t len = keep + (size_t)n;
        buf[len] = '\0';
        char *p = buf, *nl;
        while ((nl = strchr(p, '\n'))) {
            *nl = '\0';
            long v = strtol(p, NULL, 10);
            if (v > 0) {
                count++;
                if (fn)
                    fn((pid_t)v, ud);
            }
            p = nl + 1;
        }
        keep = len - (size_t)(p - buf);
        memmove(buf, p, keep);
        if (total > MJ_CG_MAX_PROCS)
            break;
    }
    if (keep > 0) {
        buf[keep] = '\0';
        long v = strtol(buf, NULL, 10);
        if (v > 0) {
            count++;
            if (fn)
                fn((pid_t)v, ud);
        }
    }
    return count;
}

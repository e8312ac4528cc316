/* proc.c — /proc of a given process, from the outside (see proc.h).  Owns: the procfs check on
 * writes, the parsing of /proc/<pid>/stat's start time, the pid walk.  Never: writes anywhere but
 * /proc. */
#define _GNU_SOURCE
#include "error.h"
#include "proc.h"
#include "util.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <stdio.h>
#include <sys/statfs.h>

int mj_proc_write(pid_t pid, const char *file, const char *data, mj_error_t **err)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
    cleanup_close int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
    struct statfs sfs;
    /* CVE-2025-52881: a write meant for procfs must land on procfs. */
    if (fd >= 0 && (fstatfs(fd, &sfs) < 0 || sfs.f_type != PROC_SUPER_MAGIC)) {
        mj_close_fd(&fd);
        errno = EXDEV;
    }
    if (fd < 0 || mj_write_all(fd, data, strlen(data)) < 0) {
        *err = mj_error_sys(MJ_ERR_SANDBOX_INIT_FAILED, errno, "writing %s", path);
        return -1;
    }
    return 0;
}

unsigned long long mj_proc_starttime(pid_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    if (!p)
        return 0;
    int field = 2;
    char *save = NULL;
    for (char *tok = strtok_r(p + 1, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
        if (++field == 22)
            return strtoull(tok, NULL, 10);
    }
    return 0;
}

typedef struct {
    int (*fn)(int procfd, const char *name, pid_t pid, void *ctx);
    void *ctx;
} pid_walk_t;

static int pid_entry(int dfd, const char *name, unsigned char type, void *ctx)
{
    (void)type;
    pid_walk_t *w = ctx;
    long pid = 0;
    for (const char *p = name; *p; p++) {
        if (*p < '0' || *p > '9' || pid > 99999999)
            return 0;
        pid = pid * 10 + (*p - '0');
    }
    return pid > 0 ? w->fn(dfd, name, (pid_t)pid, w->ctx) : 0;
}

int mj_proc_each_pid(int procfd, int (*fn)(int procfd, const char *name, pid_t pid, void *ctx), void *ctx)
{
    pid_walk_t w = {.fn = fn, .ctx = ctx};
    if (procfd >= 0)
        return mj_dir_each(procfd, pid_entry, &w);
    int dfd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return -1;
    int r = mj_dir_each(dfd, pid_entry, &w);
    close(dfd);
    return r;
}

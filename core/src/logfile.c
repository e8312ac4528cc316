/* logfile.c — the kept output of a sandbox's detached commands (`moonjail logs`): one log per
 * command in the sandbox's state directory, `logs/<pid>.log`, a sequence of records (one stream
 * byte 'o' or 'e', the length as 4 bytes little-endian, the bytes), rotated into `<pid>.log.1`
 * (ended by a record 'r' of no bytes) when the next record would pass the cap, so at most twice
 * the cap is kept; `<pid>.writer`
 * names the host process writing it ("PID STARTTIME"), and `<pid>.exit` is written once the
 * command ended.  A directory keeps the logs of at most MJ_LOG_KEEP commands: opening one more
 * removes the oldest that ended.  The host alone writes here, from what the pump read: the
 * workload never gets a path or an fd of it.
 * Never: follows a symlink (every name is opened O_NOFOLLOW under the directory's fd), or lets a
 * file grow past its cap. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "error.h"
#include "logfile.h"
#include "proc.h"
#include "util.h"

struct mj_log {
    int dir_fd;
    int fd;
    pid_t pid;
    uint64_t max, size;
    int failed; /* errno of the write that stopped it */
};

/* Writes name (under dir_fd) atomically: a temporary, then rename. */
static int write_file_at(int dir_fd, const char *name, const char *text)
{
    char tmp[64];
    snprintf(tmp, sizeof(tmp), ".%s.tmp", name);
    int fd = openat(dir_fd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    int ok = mj_write_all(fd, text, strlen(text)) == (ssize_t)strlen(text);
    close(fd);
    if (!ok || renameat(dir_fd, tmp, dir_fd, name) < 0) {
        (void)unlinkat(dir_fd, tmp, 0);
        return -1;
    }
    return 0;
}

/* Logs of ended commands, oldest first, beyond MJ_LOG_KEEP - 1: removed. */
typedef struct {
    pid_t pid;
    time_t mtime;
} log_entry_t;

static int by_mtime(const void *a, const void *b)
{
    const log_entry_t *x = a, *y = b;
    return x->mtime < y->mtime ? -1 : x->mtime > y->mtime;
}

typedef struct {
    int dir_fd;
    log_entry_t *ended;
    size_t n, cap, total;
} prune_t;

static int note_log(int dfd, const char *name, unsigned char type, void *ctx)
{
    (void)dfd;
    (void)type;
    prune_t *pr = ctx;
    char *end;
    long pid = strtol(name, &end, 10);
    if (pid <= 0 || pid > INT32_MAX || strcmp(end, ".log") != 0)
        return 0;
    pr->total++;
    char exit_name[32];
    struct stat st;
    snprintf(exit_name, sizeof(exit_name), "%ld.exit", pid);
    if (fstatat(pr->dir_fd, exit_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return 0; /* still running: never removed */
    if (pr->n == pr->cap) {
        pr->cap = pr->cap ? pr->cap * 2 : 16;
        pr->ended = mj_xrealloc(pr->ended, pr->cap * sizeof(*pr->ended));
    }
    pr->ended[pr->n++] = (log_entry_t){.pid = (pid_t)pid, .mtime = st.st_mtime};
    return 0;
}

static void prune(int dir_fd)
{
    cleanup_close int fd = openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    prune_t pr = {.dir_fd = dir_fd};
    if (fd < 0 || mj_dir_each(fd, note_log, &pr) < 0) {
        free(pr.ended);
        return;
    }
    if (pr.n > 1) /* qsort's array must not be NULL, even for no entries */
        qsort(pr.ended, pr.n, sizeof(*pr.ended), by_mtime);
    static const char *const suffixes[] = {".log", ".log.1", ".exit", ".writer"};
    for (size_t i = 0; i < pr.n && pr.total >= MJ_LOG_KEEP; i++, pr.total--)
        for (size_t k = 0; k < MJ_ARRAY_LEN(suffixes); k++) {
            char name[48];
            snprintf(name, sizeof(name), "%d%s", (int)pr.ended[i].pid, suffixes[k]);
            (void)unlinkat(dir_fd, name, 0);
        }
    free(pr.ended);
}

static int open_current(mj_log_t *log)
{
    char name[32];
    snprintf(name, sizeof(name), "%d.log", (int)log->pid);
    log->fd = openat(log->dir_fd, name, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0600);
    log->size = 0;
    return log->fd < 0 ? -1 : 0;
}

int mj_log_open(const char *dir, pid_t pid, uint64_t max, mj_log_t **out, mj_error_t **err)
{
    if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
        *err = mj_error_sys(MJ_ERR_FILE_OPERATION_FAILED, errno, "creating %s", dir);
        return -1;
    }
    cleanup_close int dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dir_fd < 0) {
        *err = mj_error_sys(MJ_ERR_FILE_OPERATION_FAILED, errno, "opening %s", dir);
        return -1;
    }
    prune(dir_fd);
    mj_log_t *log = mj_xcalloc(1, sizeof(*log));
    log->pid = pid;
    log->max = max ? max : MJ_LOG_DEFAULT_MAX;
    log->dir_fd = mj_steal_fd(&dir_fd);
    char name[32];
    snprintf(name, sizeof(name), "%d.exit", (int)pid);
    (void)unlinkat(log->dir_fd, name, 0); /* an earlier command's, with this pid */
    snprintf(name, sizeof(name), "%d.log.1", (int)pid);
    (void)unlinkat(log->dir_fd, name, 0);
    char writer[64];
    snprintf(writer, sizeof(writer), "%d %llu\n", (int)getpid(), mj_proc_starttime(getpid()));
    snprintf(name, sizeof(name), "%d.writer", (int)pid);
    if (write_file_at(log->dir_fd, name, writer) < 0 || open_current(log) < 0) {
        *err = mj_error_sys(MJ_ERR_FILE_OPERATION_FAILED, errno, "creating the log of %d in %s", (int)pid, dir);
        mj_log_close(log);
        return -1;
    }
    *out = log;
    return 0;
}

/* The current file becomes <pid>.log.1, ended by a record 'r' of no bytes (so a reader that
 * follows it knows to go on in the new <pid>.log). */
static int rotate(mj_log_t *log)
{
    static const unsigned char mark[5] = {MJ_LOG_ROTATED, 0, 0, 0, 0};
    if (mj_write_all(log->fd, mark, sizeof(mark)) != (ssize_t)sizeof(mark))
        return -1;
    char cur[32], old[32];
    snprintf(cur, sizeof(cur), "%d.log", (int)log->pid);
    snprintf(old, sizeof(old), "%d.log.1", (int)log->pid);
    mj_close_fd(&log->fd);
    if (renameat(log->dir_fd, cur, log->dir_fd, old) < 0)
        return -1;
    return open_current(log);
}

void mj_log_write(mj_log_t *log, int stream, const void *data, size_t len)
{
    const char *p = data;
    while (log && !log->failed && len > 0) {
        uint64_t room = log->max > 5 ? log->max - 5 : 1;
        size_t chunk = len < room ? len : (size_t)room;
        if (log->size + 5 + chunk > log->max && log->size > 0 && rotate(log) < 0) {
            log->failed = errno ? errno : EIO;
            return;
        }
        unsigned char head[5] = {(unsigned char)stream, (unsigned char)(chunk & 0xff),
                                 (unsigned char)((chunk >> 8) & 0xff), (unsigned char)((chunk >> 16) & 0xff),
                                 (unsigned char)((chunk >> 24) & 0xff)};
        struct iovec iov[2] = {{.iov_base = head, .iov_len = 5}, {.iov_base = (void *)p, .iov_len = chunk}};
        size_t want = 5 + chunk;
        ssize_t n;
        do
            n = writev(log->fd, iov, 2);
        while (n < 0 && errno == EINTR);
        if (n != (ssize_t)want) { /* a short write of a regular file: out of space */
            log->failed = n < 0 ? errno : ENOSPC;
            return;
        }
        log->size += want;
        p += chunk;
        len -= chunk;
    }
}

int mj_log_errno(const mj_log_t *log)
{
    return log ? log->failed : 0;
}

void mj_log_end(mj_log_t *log, const mj_result_t *res, const mj_error_t *e)
{
    if (!log)
        return;
    char text[1024], name[32];
    if (res)
        snprintf(text, sizeof(text), "exit_code=%d\nsignal=%d\nended_by=%s\nend_time=%.3f\n",
                 mj_result_exit_code(res), mj_result_signal(res), mj_end_reason_name(mj_result_ended_by(res)),
                 mj_result_end_time(res));
    else
        snprintf(text, sizeof(text), "error=%s\n", e ? mj_error_message(e) : "the command's end is unknown");
    snprintf(name, sizeof(name), "%d.exit", (int)log->pid);
    (void)write_file_at(log->dir_fd, name, text);
}

void mj_log_fds(const mj_log_t *log, int fds[2])
{
    fds[0] = log->dir_fd;
    fds[1] = log->fd;
}

void mj_log_claim(mj_log_t *log)
{
    char name[32], writer[64];
    snprintf(writer, sizeof(writer), "%d %llu\n", (int)getpid(), mj_proc_starttime(getpid()));
    snprintf(name, sizeof(name), "%d.writer", (int)log->pid);
    (void)write_file_at(log->dir_fd, name, writer);
}

void mj_log_adopt_fds(mj_log_t *log, int dir_fd, int fd)
{
    log->dir_fd = dir_fd;
    log->fd = fd;
}

void mj_log_close(mj_log_t *log)
{
    if (!log)
        return;
    mj_close_fd(&log->fd);
    mj_close_fd(&log->dir_fd);
    free(log);
}

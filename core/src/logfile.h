/* logfile.h — the kept output of a sandbox's detached commands (logfile.c). */
#ifndef MJ_LOGFILE_H
#define MJ_LOGFILE_H

#include <moonjail/moonjail.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define MJ_LOG_DEFAULT_MAX (1024u * 1024u) /* bytes in the current file before it rotates */
#define MJ_LOG_KEEP 64                     /* commands' logs a directory keeps */

enum { MJ_LOG_STDOUT = 'o', MJ_LOG_STDERR = 'e', MJ_LOG_ROTATED = 'r' };

typedef struct mj_log mj_log_t;

/* Opens (creating; owner-only) the directory dir and a new log of command `pid` in it, at most
 * max bytes per file (0: MJ_LOG_DEFAULT_MAX); records this process as its writer. */
int mj_log_open(const char *dir, pid_t pid, uint64_t max, mj_log_t **out, mj_error_t **err);
/* Records this process as the log's writer (a forked writer takes it over). */
void mj_log_claim(mj_log_t *log);
/* Appends one record of stream (MJ_LOG_STDOUT / MJ_LOG_STDERR); a failed write stops the log
 * (mj_log_errno says why). */
void mj_log_write(mj_log_t *log, int stream, const void *data, size_t len);
/* errno of the write that stopped the log, 0 while it works. */
int mj_log_errno(const mj_log_t *log);
/* The command ended: writes `<pid>.exit` atomically, "KEY=VALUE" lines: exit_code, signal,
 * ended_by and end_time of its result, or error (the message) when there is none. */
void mj_log_end(mj_log_t *log, const mj_result_t *res, const mj_error_t *e);
void mj_log_close(mj_log_t *log);
/* The fds it holds (directory, current file), so a forked writer can keep them; adopt gives it
 * their new numbers there. */
void mj_log_fds(const mj_log_t *log, int fds[2]);
void mj_log_adopt_fds(mj_log_t *log, int dir_fd, int fd);

#endif

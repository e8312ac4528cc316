/* exec.h — the last steps of every command before execve (exec.c), shared by the one-shot init
 * and the supervisor's exec shims. */
#ifndef MJ_EXEC_H
#define MJ_EXEC_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "plan.h"

/* The signals the host forwards to a command (and its init passes on). */
#define MJ_N_FORWARDED_SIGNALS 7
extern const int mj_forwarded_signals[MJ_N_FORWARDED_SIGNALS];
/* Where a command failed before execve (the first int of its report). */
enum {
    MJ_EXEC_STAGE_CHDIR = 1,
    MJ_EXEC_STAGE_LIMITS,
    MJ_EXEC_STAGE_CREDS,
    MJ_EXEC_STAGE_EXEC,
    MJ_EXEC_STAGE_SECCOMP,
    MJ_EXEC_STAGE_LANDLOCK,
    MJ_EXEC_STAGE_LSM,
    MJ_EXEC_STAGE_CGROUP,
    MJ_EXEC_STAGE_REQUEST, /* the spawner refused the request itself (bad field, no room, …) */
    MJ_EXEC_STAGE_TTY, /* opening the command's terminal (console.c) */
};
typedef struct {
    char *const *argv;
    char *const *envp;
    const char *path_env;
    const char *workdir;
    uid_t uid;
    gid_t gid;
    char *exec_buf; /* PATH_MAX scratch */
    bool read_only; /* Landlock: no writes anywhere for this command */
    bool no_network; /* Landlock (ABI 4+): no TCP bind or connect for this command */
    bool tty;        /* stdin is a pty slave: make it the controlling terminal */
    unsigned short tty_rows, tty_cols; /* its first window size (the user's), 0 = unknown */
    int landlock_fd; /* the ruleset to restrict to, -1 = none */
    char *const *restrict_paths; /* NULL-terminated, NULL = none: the command reaches only these */
    const int *cg_work_fds; /* written "0" first: the command joins <id>/work (see mj_plan_t) */
    size_t n_cg_work_fds;
} mj_exec_params_t;
/* In the forked child: prepare and execve; on failure writes {stage, errno} to err_fd, exits 127.
 * Raw system calls only. */
__attribute__((noreturn)) void mj_exec_child(const mj_plan_t *plan, const mj_exec_params_t *params, int err_fd);

/* 1 when one of the sandbox's own tmpfs mounts has no space or inodes left (ended_by "disk"). */
int mj_disk_full(const mj_plan_t *plan);

#endif

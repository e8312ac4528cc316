/* result.h — the record of a command that ran (result.c): built from what the pump collected,
 * with the kernel's cgroup counters for why it ended. */
#ifndef MJ_RESULT_H
#define MJ_RESULT_H

#include <moonjail/moonjail.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "cgroup.h"
#include "proto.h"
#include "pump.h"
#include "util.h"

struct mj_result {
    int exit_code;
    int signal;
    mj_end_reason_t ended_by;
    mj_buf_t out, err, combined;
    bool truncated;
    double start_time, end_time; /* epoch seconds (CLOCK_REALTIME) */
    double duration;             /* seconds, CLOCK_MONOTONIC */
    double cpu_time;
    uint64_t memory_peak;
    uint64_t cpu_periods, cpu_throttled; /* CFS quota periods of the command / throttled, when limited */
    pid_t pid;
    mj_strv_t warnings;
    mj_denial_t denials[MJ_RESULT_DENIALS_MAX]; /* one-shot runs with seccomp_log */
    size_t n_denials;
    uint64_t denials_total;
};

/* The error for a command's EXEC_FAILED report (stage, errno): "command not found" and its kin. */
mj_error_t *mj_exec_error(const char *argv0, const char *workdir, const mj_msg_t *m);
/* Builds the result of a command that ran (moving the captured output), or the error when it
 * did not.  t_released: monotonic time the command was released (start fallback). */
int mj_result_from_pump(mj_pump_t *p, const char *argv0, const char *workdir, double t_released, mj_result_t **out,
                        mj_error_t **err);
/* Sets ended_by oom/pids from the cgroup's counters (before: the counters when the command
 * started, NULL for a fresh group) and takes the peak memory and CFS throttling. */
void mj_result_apply_cgroup(mj_result_t *res, const mj_cgroup_stats_t *before, const mj_cgroup_stats_t *after);

#endif

/* result.c — accessors of mj_result_t, the record of a command that ran.  Read-only views;
 * the result owns its buffers and frees them in mj_result_free. */
#define _GNU_SOURCE
#include <signal.h>

#include "internal.h"

static const char *const end_names[] = {
    [MJ_END_EXIT] = "exit",       [MJ_END_SIGNAL] = "signal", [MJ_END_TIMEOUT] = "timeout",
    [MJ_END_CPU_TIME] = "cpu_time", [MJ_END_OOM] = "oom",       [MJ_END_PIDS] = "pids",
    [MJ_END_OUTPUT_LIMIT] = "output_limit", [MJ_END_DISK] = "disk",
};

const char *mj_end_reason_name(mj_end_reason_t r)
{
    if ((unsigned)r >= MJ_ARRAY_LEN(end_names))
        return "unknown";
    return end_names[r];
}

int mj_result_exit_code(const mj_result_t *r) { return r->exit_code; }
int mj_result_signal(const mj_result_t *r) { return r->signal; }
bool mj_result_success(const mj_result_t *r) { return r->ended_by == MJ_END_EXIT && r->exit_code == 0; }
mj_end_reason_t mj_result_ended_by(const mj_result_t *r) { return r->ended_by; }

static const char *buf_view(const mj_buf_t *b, size_t *len)
{
    if (len)
        *len = b->len;
    return b->data ? b->data : "";
}

const char *mj_result_stdout(const mj_result_t *r, size_t *len) { return buf_view(&r->out, len); }
const char *mj_result_stderr(const mj_result_t *r, size_t *len) { return buf_view(&r->err, len); }
const char *mj_result_combined(const mj_result_t *r, size_t *len) { return buf_view(&r->combined, len); }
bool mj_result_output_truncated(const mj_result_t *r) { return r->truncated; }
double mj_result_start_time(const mj_result_t *r) { return r->start_time; }
double mj_result_end_time(const mj_result_t *r) { return r->end_time; }
double mj_result_duration(const mj_result_t *r) { return r->duration; }
size_t mj_result_denial_count(const mj_result_t *r) { return r->n_denials; }
uint64_t mj_result_denials_total(const mj_result_t *r) { return r->denials_total; }
const mj_denial_t *mj_result_denial(const mj_result_t *r, size_t i) { return i < r->n_denials ? &r->denials[i] : NULL; }
double mj_result_cpu_time(const mj_result_t *r) { return r->cpu_time; }
uint64_t mj_result_memory_peak(const mj_result_t *r) { return r->memory_peak; }
uint64_t mj_result_cpu_periods(const mj_result_t *r) { return r->cpu_periods; }
uint64_t mj_result_cpu_throttled(const mj_result_t *r) { return r->cpu_throttled; }
pid_t mj_result_pid(const mj_result_t *r) { return r->pid; }
size_t mj_result_warning_count(const mj_result_t *r) { return r->warnings.n; }

const char *mj_result_warning(const mj_result_t *r, size_t i)
{
    return i < r->warnings.n ? r->warnings.v[i] : NULL;
}

void mj_result_free(mj_result_t *r)
{
    if (!r)
        return;
    mj_buf_free(&r->out);
    mj_buf_free(&r->err);
    mj_buf_free(&r->combined);
    mj_strv_free(&r->warnings);
    free(r);
}

/* Turns the kernel's own counters into the reason a command ended. */
void mj_result_apply_cgroup(mj_result_t *res, const mj_cgroup_stats_t *before, const mj_cgroup_stats_t *after)
{
    bool oom = after->oom_kills > (before ? before->oom_kills : 0);
    bool pids = after->pids_max_events > (before ? before->pids_max_events : 0);
    if (res->ended_by != MJ_END_TIMEOUT && res->ended_by != MJ_END_OUTPUT_LIMIT) {
        /* killed itself, or a shell reporting its killed child as 137 */
        if (oom && (res->signal == SIGKILL || res->exit_code == 128 + SIGKILL))
            res->ended_by = MJ_END_OOM;
        else if (pids && !(res->ended_by == MJ_END_EXIT && res->exit_code == 0))
            res->ended_by = MJ_END_PIDS;
    }
    if (after->have_throttle) {
        res->cpu_periods = after->cpu_periods - (before && before->have_throttle ? before->cpu_periods : 0);
        res->cpu_throttled = after->cpu_throttled - (before && before->have_throttle ? before->cpu_throttled : 0);
    }
    if (after->have_memory && after->memory_peak > res->memory_peak)
        res->memory_peak = after->memory_peak;
    if (oom)
        mj_strv_push(&res->warnings, "the kernel's OOM killer ended a process of this command (memory limit)");
    if (pids)
        mj_strv_push(&res->warnings, "a fork failed at the pids limit");
}

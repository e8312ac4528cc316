/* result.c — accessors of mj_result_t, the record of a command that ran.  Read-only views;
 * the result owns its buffers and frees them in mj_result_free. */
#define _GNU_SOURCE
#include <signal.h>

#include "cgroup.h"
#include "error.h"
#include "exec.h"
#include "proto.h"
#include "pump.h"
#include "result.h"
#include "util.h"

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

mj_error_t *mj_exec_error(const char *argv0, const char *workdir, const mj_msg_t *m)
{
    int stage = m->a, e = m->b;
    switch (stage) {
    case MJ_EXEC_STAGE_CHDIR:
        return mj_error_sys(MJ_ERR_COMMAND_EXECUTION_FAILED, e, "working directory '%s'", workdir);
    case MJ_EXEC_STAGE_LIMITS:
        return mj_error_sys(MJ_ERR_COMMAND_EXECUTION_FAILED, e, "setting resource limits");
    case MJ_EXEC_STAGE_CREDS:
        return mj_error_sys(MJ_ERR_COMMAND_EXECUTION_FAILED, e, "dropping privileges");
    case MJ_EXEC_STAGE_CGROUP:
        return mj_error_new(MJ_ERR_SANDBOX_INIT_FAILED, e,
                            "moving the command into the sandbox's work cgroup: %s (needs Linux 5.16+)", strerror(e));
    case MJ_EXEC_STAGE_LSM:
        return mj_error_sys(MJ_ERR_SANDBOX_INIT_FAILED, e, "applying the AppArmor profile / SELinux label");
    case MJ_EXEC_STAGE_LANDLOCK:
        return mj_error_sys(MJ_ERR_SANDBOX_INIT_FAILED, e, "applying Landlock");
    case MJ_EXEC_STAGE_SECCOMP:
        return mj_error_sys(MJ_ERR_SANDBOX_INIT_FAILED, e, "loading the seccomp filter");
    case MJ_EXEC_STAGE_TTY:
        return mj_error_sys(MJ_ERR_COMMAND_EXECUTION_FAILED, e, "opening a terminal in the sandbox (/dev/pts/ptmx)");
    default:
        if (e == ENOENT)
            return mj_error_new(MJ_ERR_COMMAND_EXECUTION_FAILED, e, "'%s': command not found", argv0);
        if (e == EACCES)
            return mj_error_new(MJ_ERR_COMMAND_EXECUTION_FAILED, e, "'%s': permission denied (not executable)", argv0);
        return mj_error_sys(MJ_ERR_COMMAND_EXECUTION_FAILED, e, "'%s'", argv0);
    }
}

static void result_from_status(mj_result_t *res, const mj_msg_t *exited)
{
    int st = exited->a;
    res->end_time = (double)exited->t_ns / 1e9;
    res->cpu_time = (double)(exited->u1 + exited->u2) / 1e6;
    res->memory_peak = exited->u3 * 1024;
    if (WIFEXITED(st)) {
        res->ended_by = MJ_END_EXIT;
        res->exit_code = WEXITSTATUS(st);
    } else if (WIFSIGNALED(st)) {
        res->ended_by = MJ_END_SIGNAL;
        res->signal = WTERMSIG(st);
        res->exit_code = 128 + res->signal;
    }
}

int mj_result_from_pump(mj_pump_t *p, const char *argv0, const char *workdir, double t_released, mj_result_t **out,
                   mj_error_t **err)
{
    if (p->got_exec_failed) {
        *err = mj_exec_error(argv0, workdir, &p->failed);
        return -1;
    }
    /* Output or a kill by us means the command ran even if init died before saying STARTED. */
    if (!p->got_started && !p->timed_out && !p->over_limit && p->total == 0) {
        *err = mj_error_new(MJ_ERR_SANDBOX_INIT_FAILED, 0, "the sandbox ended before starting the command");
        return -1;
    }
    mj_result_t *res = mj_xcalloc(1, sizeof(*res));
    double now = mj_now_realtime();
    res->start_time = p->got_started ? (double)p->started.t_ns / 1e9 : now - (mj_now_monotonic() - t_released);
    res->pid = p->got_started ? p->started.a : 0;
    if (p->got_exited)
        result_from_status(res, &p->exited);
    if (p->over_cpu || (p->cpu_limit > 0 && res->signal == SIGXCPU) ||
        (p->cpu_limit > 0 && res->signal == SIGKILL && res->cpu_time >= p->cpu_limit)) {
        res->ended_by = MJ_END_CPU_TIME;
        if (!p->got_exited) {
            res->signal = SIGKILL;
            res->exit_code = 128 + SIGKILL;
            res->end_time = now;
        }
    } else if (p->got_exited && p->exited.c == 1 && !(res->ended_by == MJ_END_EXIT && res->exit_code == 0) &&
               !p->timed_out && !p->over_limit) {
        res->ended_by = MJ_END_DISK; /* failed with a tmpfs of the sandbox full: ENOSPC */
    } else if (p->timed_out) {
        res->ended_by = MJ_END_TIMEOUT;
        res->exit_code = 124;
        res->signal = SIGKILL;
        if (!p->got_exited)
            res->end_time = now;
    } else if (p->over_limit) {
        res->ended_by = MJ_END_OUTPUT_LIMIT;
        if (!p->got_exited) {
            res->signal = SIGKILL;
            res->exit_code = 128 + SIGKILL;
            res->end_time = now;
        }
    } else if (!p->got_exited) {
        free(res);
        *err = mj_error_new(MJ_ERR_SANDBOX_INIT_FAILED, 0, "the sandbox's init died before the command finished");
        return -1;
    }
    if (res->end_time < res->start_time)
        res->end_time = res->start_time;
    /* The duration comes from the monotonic clock (when STARTED and EXITED reached us, or now for
     * a command we killed), so a stepped wall clock cannot make it negative or hours long. */
    double end_mono = p->got_exited ? p->exited_mono : mj_now_monotonic();
    double start_mono = p->got_started ? p->started_mono : t_released;
    res->duration = end_mono > start_mono ? end_mono - start_mono : 0;
    res->truncated = p->over_limit;
    memcpy(res->denials, p->denials, sizeof(res->denials));
    res->n_denials = p->n_denials;
    res->denials_total = p->denials_total;
    res->out = p->out;
    res->err = p->err;
    res->combined = p->combined;
    memset(&p->out, 0, sizeof(p->out));
    memset(&p->err, 0, sizeof(p->err));
    memset(&p->combined, 0, sizeof(p->combined));
    *out = res;
    return 0;
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

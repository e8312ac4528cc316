/* cgroup-v1.c — the cgroup v1 backend: limit files, usage files and the freezer of one group dir
 * per controller hierarchy (memory, pids, cpu, cpuacct, freezer).  The facade (cgroup.c) and
 * cgroup-setup.c decide which dirs exist and what a failure means; this file only reads and
 * writes the kernel's files, through cgroup-utils.c, and calls nothing above it.
 * It never touches release_agent, and keeps notify_on_release at 0 (CVE-2022-0492). */
#define _GNU_SOURCE
#include "cgroup-v1.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int mj_cgv1_apply(int ctl, const char *dir, const mj_cgroup_limits_t *l, const char **failed_file)
{
    switch (ctl) {
    case MJ_CGC_MEMORY:
        if (l->memory_max) {
            MJ_CG_WRITE_OR_FAIL("memory.limit_in_bytes", "%llu", (unsigned long long)l->memory_max);
            /* memory+swap equal to memory: no swapping past the limit (only when swap accounting is on). */
            if (mj_cg_exists(dir, "memory.memsw.limit_in_bytes"))
                MJ_CG_WRITE_OR_FAIL("memory.memsw.limit_in_bytes", "%llu", (unsigned long long)l->memory_max);
        }
        if (l->memory_request)
            MJ_CG_WRITE_OR_FAIL("memory.soft_limit_in_bytes", "%llu", (unsigned long long)l->memory_request);
        return 0;
    case MJ_CGC_CPU:
        if (l->cpus > 0) {
            MJ_CG_WRITE_OR_FAIL("cpu.cfs_period_us", "%llu", MJ_CG_CPU_PERIOD_US);
            MJ_CG_WRITE_OR_FAIL("cpu.cfs_quota_us", "%llu", mj_cg_cpu_quota_us(l->cpus));
        }
        if (l->cpu_request > 0) {
            unsigned long long shares = (unsigned long long)(l->cpu_request * 1024.0 + 0.5);
            shares = shares < 2 ? 2 : shares > 262144 ? 262144 : shares;
            MJ_CG_WRITE_OR_FAIL("cpu.shares", "%llu", shares);
        }
        return 0;
    case MJ_CGC_PIDS:
        if (l->pids_max)
            MJ_CG_WRITE_OR_FAIL("pids.max", "%llu", (unsigned long long)l->pids_max);
        return 0;
    case MJ_CGC_IO:
        for (unsigned i = 0; i < l->n_io && i < MJ_CG_MAX_IO; i++) {
            unsigned ma = l->io[i].major, mi = l->io[i].minor;
            if (l->io[i].read_bps)
                MJ_CG_WRITE_OR_FAIL("blkio.throttle.read_bps_device", "%u:%u %llu", ma, mi,
                                    (unsigned long long)l->io[i].read_bps);
            if (l->io[i].write_bps)
                MJ_CG_WRITE_OR_FAIL("blkio.throttle.write_bps_device", "%u:%u %llu", ma, mi,
                                    (unsigned long long)l->io[i].write_bps);
            if (l->io[i].read_iops)
                MJ_CG_WRITE_OR_FAIL("blkio.throttle.read_iops_device", "%u:%u %llu", ma, mi,
                                    (unsigned long long)l->io[i].read_iops);
            if (l->io[i].write_iops)
                MJ_CG_WRITE_OR_FAIL("blkio.throttle.write_iops_device", "%u:%u %llu", ma, mi,
                                    (unsigned long long)l->io[i].write_iops);
        }
        return 0;
    default:
        return 0;
    }
}

int mj_cgv1_no_release(const char *dir)
{
    return mj_cg_write(dir, "notify_on_release", "0");
}

void mj_cgv1_stats(int ctl, const char *dir, mj_cgroup_stats_t *out)
{
    uint64_t v;
    switch (ctl) {
    case MJ_CGC_MEMORY:
        if (mj_cg_read_u64(dir, "memory.usage_in_bytes", &v) == 0) {
            out->have_memory = true;
            out->memory_current = v;
        }
        if (mj_cg_read_u64(dir, "memory.max_usage_in_bytes", &v) == 0)
            out->memory_peak = v;
        if (out->memory_peak < out->memory_current)
            out->memory_peak = out->memory_current;
        if (mj_cg_read_keyed(dir, "memory.oom_control", "oom_kill", &v) == 0 && v > 0) {
            out->oom = true;
            out->oom_kills = v;
        } /* kernel >= 4.13 */
        break;
    case MJ_CGC_PIDS:
        mj_cg_read_pids(dir, out);
        break;
    case MJ_CGC_CPU:
        mj_cg_read_throttle(dir, out);
        break;
    case MJ_CGC_IO: {
        /* "MAJ:MIN Read N" / "MAJ:MIN Write N" lines (and Sync/Async/Total, skipped) */
        static const char *const files[2] = {"blkio.throttle.io_service_bytes", "blkio.throttle.io_serviced"};
        for (int f = 0; f < 2; f++) {
            char buf[4096], *save = NULL;
            if (mj_cg_read(dir, files[f], buf, sizeof(buf)) < 0)
                continue;
            out->have_io = true;
            for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                char op[16];
                unsigned long long n;
                if (sscanf(line, "%*u:%*u %15s %llu", op, &n) != 2)
                    continue;
                if (strcmp(op, "Read") == 0)
                    *(f ? &out->io_read_ops : &out->io_read_bytes) += n;
                else if (strcmp(op, "Write") == 0)
                    *(f ? &out->io_write_ops : &out->io_write_bytes) += n;
            }
        }
        break;
    }
    case MJ_CGC_CPUACCT:
        if (mj_cg_read_u64(dir, "cpuacct.usage", &v) == 0) {
            out->have_cpu = true;
            out->cpu_time = (double)v / 1e9;
        } else {
            char buf[256];
            uint64_t user, sys;
            long hz = sysconf(_SC_CLK_TCK);
            if (mj_cg_read(dir, "cpuacct.stat", buf, sizeof(buf)) >= 0 && mj_cg_keyed_u64(buf, "user", &user) == 0 &&
                mj_cg_keyed_u64(buf, "system", &sys) == 0 && hz > 0) {
                out->have_cpu = true;
                out->cpu_time = (double)(user + sys) / (double)hz;
            }
        }
        break;
    default:
        break;
    }
}

int mj_cgv1_frozen(const char *dir)
{
    char buf[32];
    if (mj_cg_read(dir, "freezer.state", buf, sizeof(buf)) < 0)
        return -1;
    if (strncmp(buf, "FROZEN", 6) == 0)
        return 1;
    if (strncmp(buf, "THAWED", 6) == 0 || strncmp(buf, "FREEZING", 8) == 0)
        return 0;
    return -1;
}

int mj_cgv1_freeze(const char *dir, bool frozen, int timeout_ms)
{
    if (mj_cg_write(dir, "freezer.state", frozen ? "FROZEN" : "THAWED") < 0)
        return -1;
    /* FREEZING until every task has stopped: poll, bounded (a task stuck in D state can hold it). */
    int waited = 0, step = 1;
    for (;;) {
        char buf[32];
        if (mj_cg_read(dir, "freezer.state", buf, sizeof(buf)) < 0)
            return -1;
        if (strncmp(buf, frozen ? "FROZEN" : "THAWED", 6) == 0)
            return 0;
        if (waited >= timeout_ms) {
            errno = ETIMEDOUT;
            return -1;
        }
        if (frozen) /* the kernel retries the freeze on each write */
            (void)mj_cg_write(dir, "freezer.state", "FROZEN");
        mj_cg_sleep_ms(step);
        waited += step;
        step = step < 16 ? step * 2 : 16;
    }
}

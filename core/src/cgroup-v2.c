/* cgroup-v2.c — the cgroup v2 backend: subtree_control, limit files, usage files, cgroup.freeze
 * and cgroup.kill of one group dir in the unified hierarchy.  The facade (cgroup.c) and
 * cgroup-setup.c decide which dirs exist and what a failure means; this file only reads and
 * writes the kernel's files, through cgroup-utils.c, and calls nothing above it. */
#define _GNU_SOURCE
#include "cgroup-v2.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* true when the space-separated list has word. */
static bool has_word(const char *list, const char *word)
{
    size_t n = strlen(word);
    for (const char *p = list; (p = strstr(p, word)); p += n)
        if ((p == list || p[-1] == ' ' || p[-1] == '+') && (p[n] == '\0' || p[n] == ' ' || p[n] == '\n'))
            return true;
    return false;
}

int mj_cgv2_enable(const char *dir, unsigned mask)
{
    static const int order[] = {MJ_CGC_MEMORY, MJ_CGC_PIDS, MJ_CGC_CPU, MJ_CGC_IO};
    char current[512];
    if (mj_cg_read(dir, "cgroup.subtree_control", current, sizeof(current)) < 0)
        return -1;
    char req[64] = "";
    for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
        const char *name = mj_cg_controller_name(order[i]);
        if (!(mask & (1u << order[i])) || has_word(current, name))
            continue;
        if (req[0])
            strcat(req, " ");
        strcat(req, "+");
        strcat(req, name);
    }
    if (!req[0])
        return 0; /* already on: no write, so no EBUSY from a group that holds processes */
    return mj_cg_write(dir, "cgroup.subtree_control", req);
}

int mj_cgv2_apply(int ctl, const char *dir, const mj_cgroup_limits_t *l, const char **failed_file)
{
    switch (ctl) {
    case MJ_CGC_MEMORY:
        if (l->memory_max) {
            MJ_CG_WRITE_OR_FAIL("memory.max", "%llu", (unsigned long long)l->memory_max);
            if (mj_cg_exists(dir, "memory.swap.max")) /* absent when swap accounting is off */
                MJ_CG_WRITE_OR_FAIL("memory.swap.max", "0");
        }
        if (l->memory_request)
            MJ_CG_WRITE_OR_FAIL("memory.low", "%llu", (unsigned long long)l->memory_request);
        return 0;
    case MJ_CGC_CPU:
        if (l->cpus > 0)
            MJ_CG_WRITE_OR_FAIL("cpu.max", "%llu %llu", mj_cg_cpu_quota_us(l->cpus), MJ_CG_CPU_PERIOD_US);
        if (l->cpu_request > 0) {
            unsigned long long w = (unsigned long long)(l->cpu_request * 100.0 + 0.5);
            w = w < 1 ? 1 : w > 10000 ? 10000 : w;
            MJ_CG_WRITE_OR_FAIL("cpu.weight", "%llu", w);
        }
        return 0;
    case MJ_CGC_PIDS:
        if (l->pids_max)
            MJ_CG_WRITE_OR_FAIL("pids.max", "%llu", (unsigned long long)l->pids_max);
        return 0;
    case MJ_CGC_IO:
        for (unsigned i = 0; i < l->n_io && i < MJ_CG_MAX_IO; i++) {
            char v[4][24];
            const uint64_t f[4] = {l->io[i].read_bps, l->io[i].write_bps, l->io[i].read_iops, l->io[i].write_iops};
            for (int k = 0; k < 4; k++) {
                if (f[k])
                    snprintf(v[k], sizeof(v[k]), "%llu", (unsigned long long)f[k]);
                else
                    snprintf(v[k], sizeof(v[k]), "max");
            }
            MJ_CG_WRITE_OR_FAIL("io.max", "%u:%u rbps=%s wbps=%s riops=%s wiops=%s", l->io[i].major, l->io[i].minor, v[0],
                                v[1], v[2], v[3]);
        }
        return 0;
    default:
        return 0;
    }
}

void mj_cgv2_stats(int ctl, const char *dir, mj_cgroup_stats_t *out, uint64_t *peak_seen)
{
    uint64_t v;
    switch (ctl) {
    case MJ_CGC_MEMORY:
        if (mj_cg_read_u64(dir, "memory.current", &v) == 0) {
            out->have_memory = true;
            out->memory_current = v;
            if (v > *peak_seen)
                *peak_seen = v;
        }
        if (mj_cg_read_u64(dir, "memory.peak", &v) == 0) /* 5.19+ */
            out->memory_peak = v;
        else
            out->memory_peak = *peak_seen; /* only as good as how often we looked */
        if (mj_cg_read_keyed(dir, "memory.events", "oom_kill", &v) == 0 && v > 0) {
            out->oom = true;
            out->oom_kills = v;
        }
        break;
    case MJ_CGC_PIDS:
        mj_cg_read_pids(dir, out);
        break;
    case MJ_CGC_CPU:
        mj_cg_read_throttle(dir, out);
        break;
    case MJ_CGC_IO: {
        /* "MAJ:MIN rbytes=N wbytes=N rios=N wios=N dbytes=N dios=N" per device */
        char buf[4096], *save = NULL;
        if (mj_cg_read(dir, "io.stat", buf, sizeof(buf)) < 0)
            break;
        out->have_io = true;
        for (char *tok = strtok_r(buf, " \n", &save); tok; tok = strtok_r(NULL, " \n", &save)) {
            unsigned long long n;
            if (sscanf(tok, "rbytes=%llu", &n) == 1)
                out->io_read_bytes += n;
            else if (sscanf(tok, "wbytes=%llu", &n) == 1)
                out->io_write_bytes += n;
            else if (sscanf(tok, "rios=%llu", &n) == 1)
                out->io_read_ops += n;
            else if (sscanf(tok, "wios=%llu", &n) == 1)
                out->io_write_ops += n;
        }
        break;
    }
    case MJ_CGC_CPUACCT:
        if (mj_cg_read_keyed(dir, "cpu.stat", "usage_usec", &v) == 0) {
            out->have_cpu = true;
            out->cpu_time = (double)v / 1e6;
        }
        break;
    default:
        break;
    }
}

int mj_cgv2_frozen(const char *dir)
{
    uint64_t v;
    if (mj_cg_read_keyed(dir, "cgroup.events", "frozen", &v) < 0)
        return -1;
    return v ? 1 : 0;
}

int mj_cgv2_freeze(const char *dir, bool frozen, int timeout_ms)
{
    if (mj_cg_write(dir, "cgroup.freeze", frozen ? "1" : "0") < 0)
        return -1;
    int waited = 0, step = 1;
    for (;;) {
        int f = mj_cgv2_frozen(dir);
        if (f < 0)
            return -1;
        if (f == (frozen ? 1 : 0))
            return 0;
        if (waited >= timeout_ms) {
            errno = ETIMEDOUT;
            return -1;
        }
        mj_cg_sleep_ms(step);
        waited += step;
        step = step < 16 ? step * 2 : 16;
    }
}

int mj_cgv2_kill(const char *dir)
{
    if (!mj_cg_exists(dir, "cgroup.kill")) {
        errno = ENOENT;
        return -1;
    }
    return mj_cg_write(dir, "cgroup.kill", "1");
}

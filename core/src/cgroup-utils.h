/* cgroup-utils.h — the cgroup file-system helpers below the facade (cgroup.c, cgroup-setup.c) and
 * both backends (cgroup-v1.c, cgroup-v2.c): the controllers' names, bounded reads and writes of a
 * group's files, flat-keyed file parsing, cgroup.procs, and the pids and CPU-throttle readers that
 * are the same files on v1 and v2.  Owned by cgroup-utils.c; it calls nothing above it (cgroup.h
 * is included for the shapes of limits and stats only). */
#ifndef MJ_CGROUP_UTILS_H
#define MJ_CGROUP_UTILS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "cgroup.h"

/* Controllers moonjail knows; cpuacct means "CPU time accounting" (v1 cpuacct, v2 cpu.stat) and
 * freezer "freezing" (v1 freezer, v2 cgroup.freeze), both core in v2. */
enum { MJ_CGC_MEMORY, MJ_CGC_PIDS, MJ_CGC_CPU, MJ_CGC_CPUACCT, MJ_CGC_FREEZER, MJ_CGC_IO, MJ_CGC__COUNT };

/* "memory", "pids", …; "?" for anything else. */
const char *mj_cg_controller_name(int ctl);
/* The MJ_CGC_* of the first len bytes of name (v1's "blkio" is io), or -1. */
int mj_cg_controller_from_name(const char *name, size_t len);

/* Bounded file access inside a group dir; -1 with errno on failure.  Reads NUL-terminate. */
int mj_cg_write(const char *dir, const char *file, const char *value);
int mj_cg_writef(const char *dir, const char *file, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
ssize_t mj_cg_read(const char *dir, const char *file, char *buf, size_t size);
bool mj_cg_exists(const char *dir, const char *file);
/* A single number ("max" reads as UINT64_MAX). */
int mj_cg_read_u64(const char *dir, const char *file, uint64_t *value);
/* The value of the line "<key> <number>" in a flat-keyed text (memory.events, cpu.stat…). */
int mj_cg_keyed_u64(const char *text, const char *key, uint64_t *value);
/* Reads "<key> <number>" from a flat-keyed file. */
int mj_cg_read_keyed(const char *dir, const char *file, const char *key, uint64_t *value);
/* CFS quota periods from dir's cpu.stat (nr_periods / nr_throttled: same keys on v1 and v2). */
void mj_cg_read_throttle(const char *dir, mj_cgroup_stats_t *out);
/* pids.current and the max counter of pids.events (same files on v1 and v2). */
void mj_cg_read_pids(const char *dir, mj_cgroup_stats_t *out);
/* Calls fn (when not NULL) for every pid listed in dir's cgroup.procs (read up to 1 MiB);
 * returns how many there were (0 when it cannot be read). */
size_t mj_cg_for_each_pid(const char *dir, void (*fn)(pid_t pid, void *ud), void *ud);
/* Sleeps ms milliseconds, through EINTR. */
void mj_cg_sleep_ms(int ms);

/* The CFS period both backends write with a CPU quota, and the quota for a float of cores
 * (at least 1 ms, the kernel's minimum). */
#define MJ_CG_CPU_PERIOD_US 100000ULL
static inline unsigned long long mj_cg_cpu_quota_us(double cpus)
{
    unsigned long long q = (unsigned long long)(cpus * (double)MJ_CG_CPU_PERIOD_US + 0.5);
    return q < 1000 ? 1000 : q;
}

/* For the backends' apply functions (with `dir` and `failed_file` in scope): writes one file; on
 * failure names it in *failed_file and returns -1 with errno. */
#define MJ_CG_WRITE_OR_FAIL(file, ...)                                                             \
    do {                                                                                           \
        *failed_file = (file);                                                                     \
        if (mj_cg_writef(dir, (file), __VA_ARGS__) < 0)                                            \
            return -1;                                                                             \
    } while (0)

#endif

/* usage.c — resource usage and the process list of a persistent sandbox, read from the host
 * through the sandbox's own procfs (reached through its root fd, mj_client_root_fd, and checked
 * to be a real procfs: the workload's pid namespace) and statfs of its tmpfs mounts.  Without
 * cgroups these are sums over live processes (RSS from /proc/PID/stat; the processes that hold no
 * memory — exiting, or between programs in execve — are not counted) plus the reaped-children
 * times of the supervisor and its helpers (read from the host's procfs: they live outside the
 * workload's namespace); docs/lua-api.md says which fields are approximations.  Everything
 * parsed here comes from the sandbox: bounded reads, checked fields. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>

#include "cgroup.h"
#include "client.h"
#include "handle.h"
#include "netsetup.h"
#include "proc.h"
#include "util.h"

static int open_in(int dirfd_, const char *path, int flags)
{
    struct open_how how = {.flags = (uint64_t)(flags | O_CLOEXEC), .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS};
    return (int)syscall(SYS_openat2, dirfd_, path, &how, sizeof(how));
}

static ssize_t read_small(int dirfd_, const char *name, char *buf, size_t len)
{
    int fd = openat(dirfd_, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, len - 1);
    close(fd);
    if (n < 0)
        return -1;
    buf[n] = '\0';
    return n;
}

/* The sandbox's procfs as a directory fd, verified. */
static int open_sandbox_proc(mj_sandbox_t *sb, mj_error_t **err)
{
    int root = mj_client_root_fd(sb, err);
    if (root < 0)
        return -1;
    int fd = open_in(root, "proc", O_RDONLY | O_DIRECTORY);
    struct statfs sfs;
    if (fd < 0 || fstatfs(fd, &sfs) < 0 || sfs.f_type != PROC_SUPER_MAGIC) {
        if (fd >= 0)
            close(fd);
        *err = mj_error_new(MJ_ERR_FILE_OPERATION_FAILED, fd < 0 ? errno : EXDEV,
                            "sandbox %s: its /proc is not a procfs", mj_client_name(sb));
        return -1;
    }
    return fd;
}

typedef struct {
    pid_t pid, ppid;
    char state;
    char comm[64];
    unsigned long long utime, stime, cutime, cstime;
    long threads;
    long long rss_pages;
} stat_t;

static bool parse_stat(const char *buf, stat_t *s)
{
    memset(s, 0, sizeof(*s));
    s->pid = (pid_t)atoi(buf);
    const char *l = strchr(buf, '(');
    const char *r = strrchr(buf, ')');
    if (!l || !r || r < l || !r[1])
        return false;
    size_t n = (size_t)(r - l - 1);
    if (n >= sizeof(s->comm))
        n = sizeof(s->comm) - 1;
    memcpy(s->comm, l + 1, n);
    s->comm[n] = '\0';
    /* fields from 3 (state) on */
    unsigned long long f[25] = {0};
    char st = 0;
    int got = sscanf(r + 2, "%c %llu %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %llu %llu %*d %*d %llu %*d %*u %*u %llu",
                     &st, &f[0], &f[1], &f[2], &f[3], &f[4], &f[5], &f[6]);
    if (got < 8)
        return false;
    s->state = st;
    s->ppid = (pid_t)f[0];
    s->utime = f[1];
    s->stime = f[2];
    s->cutime = f[3];
    s->cstime = f[4];
    s->threads = (long)f[5];
    s->rss_pages = (long long)f[6];
    return true;
}

static int count_entry(int dfd, const char *name, unsigned char type, void *ctx)
{
    (void)dfd;
    (void)type;
    if (name[0] != '.')
        ++*(unsigned *)ctx;
    return 0;
}

static unsigned count_dir(int dirfd_, const char *name)
{
    cleanup_close int fd = openat(dirfd_, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
    unsigned n = 0;
    if (fd >= 0)
        (void)mj_dir_each(fd, count_entry, &n);
    return n;
}

typedef struct {
    void (*fn)(int pdir, const stat_t *s, void *ctx);
    void *ctx;
} process_walk_t;

static int process_entry(int procfd, const char *name, pid_t pid, void *ctx)
{
    process_walk_t *w = ctx;
    if (pid <= 1)
        return 0;
    cleanup_close int pdir = openat(procfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
    if (pdir < 0)
        return 0;
    char buf[1024];
    stat_t s;
    bool ok = read_small(pdir, "stat", buf, sizeof(buf)) > 0 && parse_stat(buf, &s) && s.state != 'Z';
    if (ok && strcmp(s.comm, "moonjail-exec") != 0) /* a command not exec'd yet: not the workload's */
        w->fn(pdir, &s, w->ctx);
    return 0;
}

/* Calls fn for every process of the sandbox's procfs (the workload's pid namespace) but its
 * init, moonjail's reaper, and commands still being started. */
static int for_each_process(int procfd, void (*fn)(int pdir, const stat_t *s, void *ctx), void *ctx)
{
    process_walk_t w = {.fn = fn, .ctx = ctx};
    return mj_proc_each_pid(procfd, process_entry, &w);
}

/* The children times of the supervisor and of its own children — the spawner, which reaps the
 * commands, and the workload's init, which reaps their orphans — in clock ticks: what finished
 * processes used.  Read from the host's procfs (those processes are outside the sandbox's), only
 * while the pid still names the supervisor the handle knows. */
static unsigned long long reaped_ticks(const mj_sandbox_t *sb)
{
    if (sb->pid <= 0 || (sb->starttime && mj_proc_starttime(sb->pid) != sb->starttime))
        return 0;
    char path[64], buf[1024];
    stat_t s;
    unsigned long long ticks = 0;
    snprintf(path, sizeof(path), "/proc/%d", (int)sb->pid);
    cleanup_close int sup = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (sup < 0)
        return 0;
    if (read_small(sup, "stat", buf, sizeof(buf)) > 0 && parse_stat(buf, &s))
        ticks += s.cutime + s.cstime;
    snprintf(path, sizeof(path), "task/%d/children", (int)sb->pid);
    char kids[1024];
    if (read_small(sup, path, kids, sizeof(kids)) <= 0)
        return ticks;
    for (char *save = NULL, *tok = strtok_r(kids, " \n", &save); tok; tok = strtok_r(NULL, " \n", &save)) {
        snprintf(path, sizeof(path), "/proc/%s", tok);
        cleanup_close int kid = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (kid >= 0 && read_small(kid, "stat", buf, sizeof(buf)) > 0 && parse_stat(buf, &s) &&
            (strcmp(s.comm, "moonjail-spawn") == 0 || strcmp(s.comm, "moonjail-init") == 0))
            ticks += s.cutime + s.cstime;
    }
    return ticks;
}

typedef struct {
    mj_usage_t *u;
    unsigned long long ticks;
    long long rss_pages;
} usage_acc_t;

/* Counts one process, unless it holds no memory: then it is exiting (its address space already
 * released) or between two programs in execve, and counting it would show a live process using 0
 * bytes.  memory_usage and process_count thus always describe the same processes. */
static void add_usage(int pdir, const stat_t *s, void *ctx)
{
    usage_acc_t *a = ctx;
    if (s->rss_pages <= 0)
        return;
    a->u->process_count++;
    a->u->thread_count += (unsigned)(s->threads > 0 ? s->threads : 1);
    a->ticks += s->utime + s->stime + s->cutime + s->cstime;
    a->rss_pages += s->rss_pages;
    a->u->file_handles += count_dir(pdir, "fd");
    char buf[1024];
    if (read_small(pdir, "io", buf, sizeof(buf)) > 0) {
        const char *p;
        if ((p = strstr(buf, "syscr: ")))
            a->u->disk_reads += strtoull(p + 7, NULL, 10);
        if ((p = strstr(buf, "syscw: ")))
            a->u->disk_writes += strtoull(p + 7, NULL, 10);
        if ((p = strstr(buf, "\nread_bytes: ")))
            a->u->block_read_bytes += strtoull(p + 13, NULL, 10);
        if ((p = strstr(buf, "\nwrite_bytes: ")))
            a->u->block_write_bytes += strtoull(p + 14, NULL, 10);
    }
}

int mj_sandbox_usage(mj_sandbox_t *sb, mj_usage_t *u, mj_error_t **err)
{
    memset(u, 0, sizeof(*u));
    cleanup_close int procfd = open_sandbox_proc(sb, err);
    if (procfd < 0)
        return -1;
    u->timestamp = mj_now_realtime();
    u->uptime = sb->started_at > 0 ? u->timestamp - sb->started_at : 0;
    usage_acc_t acc = {.u = u};
    for_each_process(procfd, add_usage, &acc);
    acc.ticks += reaped_ticks(sb);

    long tick = sysconf(_SC_CLK_TCK);
    long page = sysconf(_SC_PAGESIZE);
    if (tick <= 0)
        tick = 100;
    char buf[1024];
    cleanup_close int one = openat(procfd, "1", O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
    u->cpu_time = (double)acc.ticks / (double)tick;
    u->memory_usage = (uint64_t)acc.rss_pages * (uint64_t)page;
    /* The kernel's own accounting beats sums over /proc when the sandbox has cgroups. */
    mj_cgroup_t *cg = mj_client_cgroup(sb);
    mj_cgroup_stats_t cst;
    if (cg && mj_cgroup_stats(cg, &cst) == 0) {
        if (cst.have_cpu)
            u->cpu_time = cst.cpu_time;
        if (cst.have_io) {
            u->block_read_bytes = cst.io_read_bytes;
            u->block_write_bytes = cst.io_write_bytes;
            u->block_read_ops = cst.io_read_ops;
            u->block_write_ops = cst.io_write_ops;
            u->block_io_from_cgroup = true;
        }
        if (cst.have_memory) {
            u->memory_usage = cst.memory_current;
            if (cst.memory_peak > sb->memory_peak)
                sb->memory_peak = cst.memory_peak;
        }
    }
    if (u->memory_usage > sb->memory_peak)
        sb->memory_peak = u->memory_usage;
    u->memory_peak = sb->memory_peak;
    struct sysinfo si;
    if (sb->memory_limit > 0)
        u->memory_percent = 100.0 * (double)u->memory_usage / (double)sb->memory_limit;
    else if (sysinfo(&si) == 0 && si.totalram)
        u->memory_percent = 100.0 * (double)u->memory_usage / ((double)si.totalram * si.mem_unit);
    /* CPU % (100 = one core, as docker stats): over the interval since this handle's previous
     * sample when that is long enough to be meaningful at clock-tick resolution, else over the
     * sandbox's life; never more than the host's cores can give. */
    double interval = u->timestamp - sb->last_sample_time;
    if (sb->last_sample_time > 0 && interval >= 0.5)
        u->cpu_percent = 100.0 * (u->cpu_time - sb->last_cpu_time) / interval;
    else if (u->uptime > 0)
        u->cpu_percent = 100.0 * u->cpu_time / u->uptime;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    double cap = 100.0 * (double)(ncpu > 0 ? ncpu : 1);
    if (u->cpu_percent < 0)
        u->cpu_percent = 0;
    if (u->cpu_percent > cap)
        u->cpu_percent = cap;
    if (sb->last_sample_time <= 0 || interval >= 0.5) { /* else the older sample stays the next base */
        sb->last_sample_time = u->timestamp;
        sb->last_cpu_time = u->cpu_time;
    }

    /* Network: what moonjail-net carried for a filtered sandbox (its relays run over the
     * sandbox's loopback, which would count every byte twice); else the sandbox's own interfaces
     * (none in "host" mode, where counters are the host's). */
    if (sb->net.dir && sb->net_mode == MJ_NET_FILTERED) {
        mj_error_t *ignored = NULL;
        if (mj_netsetup_stats(sb->net.dir, &u->network_in, &u->network_out, &ignored) < 0)
            mj_error_free(ignored);
    } else if (sb->own_netns && one >= 0 && read_small(one, "net/dev", buf, sizeof(buf)) > 0) {
        /* outbound: the engine's interface only (the helper reads the same counters, at exit) */
        bool skip_lo = sb->net_mode == MJ_NET_OUTBOUND;
        for (char *save = NULL, *ln = strtok_r(buf, "\n", &save); ln; ln = strtok_r(NULL, "\n", &save)) {
            char *colon = strchr(ln, ':');
            if (!colon)
                continue;
            const char *name = ln + strspn(ln, " ");
            if (skip_lo && strncmp(name, "lo:", 3) == 0)
                continue;
            unsigned long long rx = 0, tx = 0;
            if (sscanf(colon + 1, "%llu %*u %*u %*u %*u %*u %*u %*u %llu", &rx, &tx) == 2) {
                u->network_in += rx;
                u->network_out += tx;
            }
        }
    }
    /* Disk: bytes used in the sandbox's own tmpfs mounts and in its root's layer ("/", an
     * overlay whose statfs is its upper's: the layer's tmpfs). */
    int root = mj_client_root_fd(sb, err);
    for (size_t i = 0; root >= 0 && i < sb->tmpfs.n; i++) {
        int fd = open_in(root, sb->tmpfs.v[i], O_PATH | O_DIRECTORY);
        struct statfs sfs;
        if (fd >= 0 && fstatfs(fd, &sfs) == 0 &&
            (sfs.f_type == TMPFS_MAGIC || (sfs.f_type == OVERLAYFS_SUPER_MAGIC && strcmp(sb->tmpfs.v[i], "/") == 0)))
            u->disk_usage += (uint64_t)(sfs.f_blocks - sfs.f_bfree) * (uint64_t)sfs.f_bsize;
        if (fd >= 0)
            close(fd);
    }
    return 0;
}

#define MJ_COMMAND_MAX 256 /* bytes of a command line ps/top show */

typedef struct {
    mj_sandbox_t *sb;
    mj_proc_entry_t *v;
    size_t n, cap;
    long tick;
    long page;
} plist_t;

static void add_proc(int pdir, const stat_t *s, void *ctx)
{
    plist_t *l = ctx;
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 16;
        l->v = mj_xrealloc(l->v, l->cap * sizeof(*l->v));
    }
    mj_proc_entry_t *e = &l->v[l->n++];
    memset(e, 0, sizeof(*e));
    e->pid = s->pid;
    e->ppid = s->ppid;
    e->state = s->state;
    e->cpu_time = (double)(s->utime + s->stime) / (double)l->tick;
    e->rss = (uint64_t)(s->rss_pages > 0 ? s->rss_pages : 0) * (uint64_t)l->page;
    char buf[4096];
    e->uid = 65534;
    if (read_small(pdir, "status", buf, sizeof(buf)) > 0) {
        const char *p = strstr(buf, "\nUid:");
        if (p) {
            unsigned long host = strtoul(p + 5, NULL, 10);
            const mj_sandbox_t *sb = l->sb;
            if (sb->rootless)
                e->uid = host == sb->host_uid ? sb->uid : 65534;
            else if (host >= sb->id_base && host < sb->id_base + 65536)
                e->uid = (uid_t)(host - sb->id_base);
        }
    }
    ssize_t n = read_small(pdir, "cmdline", buf, MJ_COMMAND_MAX);
    if (n > 0) {
        for (ssize_t i = 0; i < n; i++)
            if (buf[i] == '\0')
                buf[i] = ' ';
        while (n > 0 && buf[n - 1] == ' ')
            buf[--n] = '\0';
        for (ssize_t i = 0; i < n; i++)
            if ((unsigned char)buf[i] < 0x20 || buf[i] == 0x7f)
                buf[i] = '?'; /* never echo terminal control bytes from the sandbox */
        size_t len = (size_t)n < MJ_COMMAND_MAX - 1 ? (size_t)n : MJ_COMMAND_MAX - 1;
        e->command = mj_xmalloc(len + 1);
        memcpy(e->command, buf, len);
        e->command[len] = '\0';
    } else {
        e->command = mj_xasprintf("[%s]", s->comm);
    }
}

void mj_proc_entries_free(mj_proc_entry_t *v, size_t n)
{
    if (!v)
        return;
    for (size_t i = 0; i < n; i++)
        free(v[i].command);
    free(v);
}

static int cmp_pid(const void *a, const void *b)
{
    return ((const mj_proc_entry_t *)a)->pid - ((const mj_proc_entry_t *)b)->pid;
}

int mj_sandbox_processes(mj_sandbox_t *sb, mj_proc_entry_t **out, size_t *count, mj_error_t **err)
{
    *out = NULL;
    *count = 0;
    cleanup_close int procfd = open_sandbox_proc(sb, err);
    if (procfd < 0)
        return -1;
    plist_t l = {.sb = sb, .tick = sysconf(_SC_CLK_TCK), .page = sysconf(_SC_PAGESIZE)};
    if (l.tick <= 0)
        l.tick = 100;
    for_each_process(procfd, add_proc, &l);
    if (l.v)
        qsort(l.v, l.n, sizeof(*l.v), cmp_pid);
    *out = l.v ? l.v : mj_xcalloc(1, sizeof(*l.v));
    *count = l.n;
    return 0;
}

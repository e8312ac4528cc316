/* cgroup.c — the cgroup facade: finds the hierarchies and the caller's place in each, builds
 * <own>/moonjail/<id> for the controllers a sandbox uses, decides what fails closed and what only
 * warns, and drives the v1 (cgroup-v1.c) and v2 (cgroup-v2.c) backends.
 * It must never create, write or remove anything outside <own>/moonjail, never touch release_agent,
 * and never signal a process it did not read from one of its own groups' cgroup.procs. */
#define _GNU_SOURCE
#include "cgroup.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MJ_CG_MAX_PROCFS (4u << 20) /* mountinfo and /proc/self/cgroup are read up to this */
#define MJ_CG_MAX_PROCS (1u << 20)  /* cgroup.procs is read up to this (≈100k pids) */

static const char *const ctl_names[MJ_CGC__COUNT] = {"memory", "pids", "cpu", "cpuacct", "freezer", "io"};

const char *mj_cg_controller_name(int ctl)
{
    return ctl >= 0 && ctl < MJ_CGC__COUNT ? ctl_names[ctl] : "?";
}

static int ctl_from_name(const char *name, size_t len)
{
    if (len == 5 && memcmp(name, "blkio", 5) == 0) /* v1's name for io */
        return MJ_CGC_IO;
    for (int c = 0; c < MJ_CGC__COUNT; c++)
        if (strlen(ctl_names[c]) == len && memcmp(ctl_names[c], name, len) == 0)
            return c;
    return -1;
}

void mj_cg_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

void mj_cg_read_pids(const char *dir, mj_cgroup_stats_t *out)
{
    uint64_t v;
    if (mj_cg_read_u64(dir, "pids.current", &v) == 0) {
        out->have_pids = true;
        out->pids_current = (unsigned)v;
    }
    if (mj_cg_read_keyed(dir, "pids.events", "max", &v) == 0 && v > 0) {
        out->pids_max_hit = true;
        out->pids_max_events = v;
    }
}

void mj_cg_read_throttle(const char *dir, mj_cgroup_stats_t *out)
{
    char buf[1024];
    if (mj_cg_read(dir, "cpu.stat", buf, sizeof(buf)) >= 0 && mj_cg_keyed_u64(buf, "nr_periods", &out->cpu_periods) == 0 &&
        mj_cg_keyed_u64(buf, "nr_throttled", &out->cpu_throttled) == 0)
        out->have_throttle = true;
}

/* ------------------------------------------------------------------ files */

static char *join(const char *dir, const char *file)
{
    return mj_xasprintf("%s/%s", dir, file);
}

int mj_cg_write(const char *dir, const char *file, const char *value)
{
    cleanup_free char *path = join(dir, file);
    cleanup_close int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return -1;
    /* cgroupfs takes the whole value in one write(); a short write is an error. */
    ssize_t n = write(fd, value, strlen(value));
    if (n < 0)
        return -1;
    if ((size_t)n != strlen(value)) {
        errno = EIO;
        return -1;
    }
    return 0;
}

int mj_cg_writef(const char *dir, const char *file, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cleanup_free char *value = NULL;
    int r = vasprintf(&value, fmt, ap);
    va_end(ap);
    if (r < 0)
        abort();
    return mj_cg_write(dir, file, value);
}

static ssize_t read_fd_bounded(int fd, char *buf, size_t size)
{
    size_t len = 0;
    while (len + 1 < size) {
        ssize_t n = read(fd, buf + len, size - 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (n == 0)
            break;
        len += (size_t)n;
    }
    buf[len] = '\0';
    return (ssize_t)len;
}

ssize_t mj_cg_read(const char *dir, const char *file, char *buf, size_t size)
{
    if (size == 0) {
        errno = EINVAL;
        return -1;
    }
    buf[0] = '\0';
    cleanup_free char *path = join(dir, file);
    cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0)
        return -1;
    return read_fd_bounded(fd, buf, size);
}

bool mj_cg_exists(const char *dir, const char *file)
{
    cleanup_free char *path = join(dir, file);
    return access(path, F_OK) == 0;
}

static int parse_u64(const char *s, uint64_t *value)
{
    while (*s == ' ' || *s == '\t')
        s++;
    if (strncmp(s, "max", 3) == 0 && (s[3] == '\0' || isspace((unsigned char)s[3]))) {
        *value = UINT64_MAX;
        return 0;
    }
    if (!isdigit((unsigned char)*s)) {
        errno = EINVAL;
        return -1;
    }
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno)
        return -1;
    if (*end && !isspace((unsigned char)*end)) {
        errno = EINVAL;
        return -1;
    }
    *value = v;
    return 0;
}

int mj_cg_read_u64(const char *dir, const char *file, uint64_t *value)
{
    char buf[64];
    if (mj_cg_read(dir, file, buf, sizeof(buf)) < 0)
        return -1;
    return parse_u64(buf, value);
}

int mj_cg_keyed_u64(const char *text, const char *key, uint64_t *value)
{
    size_t klen = strlen(key);
    const char *line = text;
    while (line && *line) {
        if (strncmp(line, key, klen) == 0 && (line[klen] == ' ' || line[klen] == '\t'))
            return parse_u64(line + klen, value);
        line = strchr(line, '\n');
        if (line)
            line++;
    }
    errno = ENOENT;
    return -1;
}

int mj_cg_read_keyed(const char *dir, const char *file, const char *key, uint64_t *value)
{
    char buf[4096];
    if (mj_cg_read(dir, file, buf, sizeof(buf)) < 0)
        return -1;
    return mj_cg_keyed_u64(buf, key, value);
}

/* Reads a whole procfs text (bounded) into out. */
static int read_text(const char *path, size_t limit, mj_buf_t *out)
{
    cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    char chunk[8192];
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (n == 0)
            break;
        if (out->len + (size_t)n > limit) {
            errno = EFBIG;
            return -1;
        }
        mj_buf_append(out, chunk, (size_t)n);
    }
    if (!out->data)
        mj_buf_append(out, "", 0);
    return 0;
}

/* ------------------------------------------------------------------ detection */

bool mj_cgroup_id_is_valid(const char *id)
{
    if (!id)
        return false;
    size_t n = strlen(id);
    if (n == 0 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isxdigit((unsigned char)id[i]))
            return false;
    return true;
}

/* A path from /proc/self/cgroup or mountinfo we are willing to build on. */
static bool path_is_sane(const char *p)
{
    if (!mj_path_is_clean_absolute(p))
        return false;
    for (const unsigned char *s = (const unsigned char *)p; *s; s++)
        if (*s < 0x20 || *s == 0x7f)
            return false;
    return true;
}

/* mountinfo escapes space, tab, newline and backslash as \ooo. */
static void unescape_octal(char *s)
{
    char *w = s;
    for (char *r = s; *r;) {
        if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] >= '0' && r[2] <= '7' && r[3] >= '0' && r[3] <= '7') {
            *w++ = (char)((r[1] - '0') * 64 + (r[2] - '0') * 8 + (r[3] - '0'));
            r += 4;
        } else {
            *w++ = *r++;
        }
    }
    *w = '\0';
}

typedef struct {
    char *ctls; /* "" for the unified hierarchy */
    char *path;
    bool used;
} cg_line_t;

static bool list_has(const char *list, const char *item, size_t len)
{
    const char *p = list;
    while (*p) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (n == len && memcmp(p, item, len) == 0)
            return true;
        if (!end)
            break;
        p = end + 1;
    }
    return false;
}

/* The controllers of a comma list ("rw,cpu,cpuacct" or "cpu,cpuacct") that we know. */
static unsigned known_ctls(const char *list)
{
    unsigned mask = 0;
    const char *p = list;
    while (*p) {
        const char *end = p + strcspn(p, ", \n");
        int c = ctl_from_name(p, (size_t)(end - p));
        if (c >= 0)
            mask |= 1u << c;
        if (!*end)
            break;
        p = end + 1;
    }
    return mask;
}

/* own relative to the mount's root, or NULL when this mount does not show our cgroup. */
static const char *relative_own(const char *own, const char *root)
{
    if (strcmp(root, "/") == 0)
        return own;
    size_t n = strlen(root);
    if (strncmp(own, root, n) != 0)
        return NULL;
    if (own[n] == '\0')
        return "/";
    if (own[n] != '/')
        return NULL;
    return own + n;
}

static void add_hier(mj_cg_host_t *host, int version, const char *prefix, const char *mnt, const char *root,
                     const char *own, const char *names)
{
    if (host->n == MJ_CG_MAX_HIER || !path_is_sane(own) || !path_is_sane(root) || !path_is_sane(mnt))
        return;
    const char *rel = relative_own(own, root);
    if (!rel)
        return;
    mj_cg_hier_t *h = &host->h[host->n++];
    h->version = version;
    h->mount = mj_xasprintf("%s%s", prefix ? prefix : "", strcmp(mnt, "/") == 0 && prefix ? "" : mnt);
    h->own = mj_xstrdup(own);
    h->own_dir = mj_xasprintf("%s%s", h->mount, strcmp(rel, "/") == 0 ? "" : rel);
    if (version == 2) {
        /* A process that moved itself into <own>/moonjail/host (see build_hier) still belongs to
         * <own>: its sandboxes and the named ones of its siblings live in <own>/moonjail. */
        size_t len = strlen(h->own_dir), sl = strlen(MJ_CG_HOST_LEAF);
        if (len > sl && strcmp(h->own_dir + len - sl, MJ_CG_HOST_LEAF) == 0)
            h->own_dir[len - sl] = '\0';
        char buf[1024];
        if (mj_cg_read(h->own_dir, "cgroup.controllers", buf, sizeof(buf)) < 0)
            buf[0] = '\0';
        buf[strcspn(buf, "\n")] = '\0';
        h->names = mj_xstrdup(buf);
        h->controllers =
            known_ctls(buf) & ((1u << MJ_CGC_MEMORY) | (1u << MJ_CGC_PIDS) | (1u << MJ_CGC_CPU) | (1u << MJ_CGC_IO));
    } else {
        h->names = mj_xstrdup(names);
        h->controllers = known_ctls(names);
    }
}

static void free_lines(cg_line_t *lines, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(lines[i].ctls);
        free(lines[i].path);
    }
}

#define MJ_CG_MAX_LINES 64

static size_t parse_proc_cgroup(char *text, cg_line_t *lines)
{
    size_t n = 0;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line && n < MJ_CG_MAX_LINES; line = strtok_r(NULL, "\n", &save)) {
        char *c1 = strchr(line, ':');
        char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        if (!c2)
            continue;
        *c1 = *c2 = '\0';
        lines[n].ctls = mj_xstrdup(c1 + 1);
        lines[n].path = mj_xstrdup(c2 + 1);
        lines[n].used = false;
        if (strcmp(line, "0") != 0 && lines[n].ctls[0] == '\0') { /* a v1 line without controllers: junk */
            free(lines[n].ctls);
            free(lines[n].path);
            continue;
        }
        n++;
    }
    return n;
}

int mj_cg_host_detect(const mj_cgroup_env_t *env, mj_cg_host_t *host, mj_error_t **err)
{
    memset(host, 0, sizeof(*host));
    host->v2 = -1;
    for (int c = 0; c < MJ_CGC__COUNT; c++)
        host->by_ctl[c] = -1;
    const char *prefix = env && env->path_prefix && env->path_prefix[0] ? env->path_prefix : NULL;

    mj_buf_t mi = {0}, pc = {0};
    if (env && env->mountinfo_text)
        mj_buf_append(&mi, env->mountinfo_text, strlen(env->mountinfo_text));
    else if (read_text("/proc/self/mountinfo", MJ_CG_MAX_PROCFS, &mi) < 0) {
        int e = errno;
        mj_buf_free(&mi);
        if (err)
            *err = mj_error_new(MJ_ERR_UNSUPPORTED, e, "cannot read /proc/self/mountinfo: %s", strerror(e));
        return -1;
    }
    if (env && env->cgroup_text)
        mj_buf_append(&pc, env->cgroup_text, strlen(env->cgroup_text));
    else if (read_text("/proc/self/cgroup", MJ_CG_MAX_PROCFS, &pc) < 0) {
        int e = errno;
        mj_buf_free(&mi);
        mj_buf_free(&pc);
        if (err)
            *err = mj_error_new(MJ_ERR_UNSUPPORTED, e, "cannot read /proc/self/cgroup: %s", strerror(e));
        return -1;
    }

    cg_line_t lines[MJ_CG_MAX_LINES];
    size_t n_lines = parse_proc_cgroup(pc.data ? pc.data : (char *)"", lines);

    char *save = NULL;
    for (char *line = strtok_r(mi.data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (!strstr(line, " - cgroup"))
            continue;
        char *tok[64];
        size_t nt = 0;
        char *s2 = NULL;
        for (char *t = strtok_r(line, " ", &s2); t && nt < MJ_ARRAY_LEN(tok); t = strtok_r(NULL, " ", &s2))
            tok[nt++] = t;
        size_t dash = 0;
        for (size_t i = 6; i < nt; i++)
            if (strcmp(tok[i], "-") == 0) {
                dash = i;
                break;
            }
        if (!dash || dash + 1 >= nt)
            continue;
        const char *fstype = tok[dash + 1];
        const char *super = dash + 3 < nt ? tok[dash + 3] : "";
        char *root = tok[3], *mnt = tok[4];
        unescape_octal(root);
        unescape_octal(mnt);
        if (strcmp(fstype, "cgroup2") == 0) {
            if (host->v2 >= 0)
                continue;
            for (size_t i = 0; i < n_lines; i++)
                if (lines[i].ctls[0] == '\0' && !lines[i].used) {
                    size_t before = host->n;
                    add_hier(host, 2, prefix, mnt, root, lines[i].path, "");
                    if (host->n > before) {
                        lines[i].used = true;
                        host->v2 = (int)before;
                    }
                    break;
                }
        } else if (strcmp(fstype, "cgroup") == 0) {
            /* Find the /proc/self/cgroup line of this hierarchy: one whose first controller is
             * among the mount's super options (named hierarchies like name=systemd are skipped). */
            for (size_t i = 0; i < n_lines; i++) {
                if (lines[i].used || lines[i].ctls[0] == '\0' || strncmp(lines[i].ctls, "name=", 5) == 0)
                    continue;
                size_t first = strcspn(lines[i].ctls, ",");
                if (!list_has(super, lines[i].ctls, first))
                    continue;
                size_t before = host->n;
                add_hier(host, 1, prefix, mnt, root, lines[i].path, lines[i].ctls);
                if (host->n > before)
                    lines[i].used = true;
                break;
            }
        }
    }
    free_lines(lines, n_lines);
    mj_buf_free(&mi);
    mj_buf_free(&pc);

    /* Resolve each controller: the unified hierarchy when it offers it, else a v1 hierarchy. */
    const unsigned limit_ctls = (1u << MJ_CGC_MEMORY) | (1u << MJ_CGC_PIDS) | (1u << MJ_CGC_CPU) | (1u << MJ_CGC_IO);
    bool v1_offers = false;
    for (size_t i = 0; i < host->n; i++)
        if (host->h[i].version == 1 && (host->h[i].controllers & limit_ctls))
            v1_offers = true;
    host->v2_primary = host->v2 >= 0 && (!v1_offers || (host->h[host->v2].controllers & limit_ctls));
    for (int c = 0; c < MJ_CGC__COUNT; c++) {
        bool core_in_v2 = c == MJ_CGC_CPUACCT || c == MJ_CGC_FREEZER;
        if (host->v2 >= 0 && ((host->h[host->v2].controllers & (1u << c)) || (core_in_v2 && host->v2_primary))) {
            host->by_ctl[c] = host->v2;
            continue;
        }
        for (size_t i = 0; i < host->n; i++)
            if (host->h[i].version == 1 && (host->h[i].controllers & (1u << c))) {
                host->by_ctl[c] = (int)i;
                break;
            }
        /* No v1 freezer on a hybrid host: cgroup.freeze of the unified hierarchy still works. */
        if (c == MJ_CGC_FREEZER && host->by_ctl[c] < 0 && host->v2 >= 0)
            host->by_ctl[c] = host->v2;
    }
    return 0;
}

void mj_cg_host_free(mj_cg_host_t *host)
{
    for (size_t i = 0; i < host->n; i++) {
        free(host->h[i].mount);
        free(host->h[i].own);
        free(host->h[i].own_dir);
        free(host->h[i].names);
    }
    host->n = 0;
}

/* ------------------------------------------------------------------ the group */

typedef struct {
    int version;
    int hier;             /* index in the host's hierarchies when created/opened */
    char *dir;            /* <own_dir>/moonjail/<id> */
    unsigned controllers; /* 1u << MJ_CGC_* served from this dir */
    bool split;           /* dir/sup holds the supervisor (init), dir/work the commands */
} mj_cg_dir_t;

/* The leaves of a split group (see build_hier). */
static const char *const leaves[] = {MJ_CG_SUP, MJ_CG_WORK};

struct mj_cgroup {
    char *id;
    mj_cg_dir_t dirs[MJ_CGC__COUNT];
    size_t n;
    int at[MJ_CGC__COUNT]; /* index into dirs, -1 = unused */
    uint64_t peak_seen;    /* v2 without memory.peak: the highest memory.current seen */
};

static mj_cgroup_t *cg_new(const char *id)
{
    mj_cgroup_t *cg = mj_xcalloc(1, sizeof(*cg));
    cg->id = mj_xstrdup(id);
    for (int c = 0; c < MJ_CGC__COUNT; c++)
        cg->at[c] = -1;
    return cg;
}

void mj_cgroup_free(mj_cgroup_t *cg)
{
    if (!cg)
        return;
    for (size_t i = 0; i < cg->n; i++)
        free(cg->dirs[i].dir);
    free(cg->id);
    free(cg);
}

static int cg_dir_for(mj_cgroup_t *cg, const mj_cg_host_t *host, int hier, const char *dir)
{
    for (size_t i = 0; i < cg->n; i++)
        if (cg->dirs[i].hier == hier)
            return (int)i;
    mj_cg_dir_t *d = &cg->dirs[cg->n];
    d->version = host->h[hier].version;
    d->hier = hier;
    d->dir = mj_xstrdup(dir);
    d->controllers = 0;
    cleanup_free char *sup = join(dir, MJ_CG_SUP);
    struct stat st;
    d->split = stat(sup, &st) == 0 && S_ISDIR(st.st_mode); /* groups of older versions have none */
    return (int)cg->n++;
}

static void cg_attach(mj_cgroup_t *cg, int ctl, int idx)
{
    cg->at[ctl] = idx;
    cg->dirs[idx].controllers |= 1u << ctl;
}

static void cg_detach(mj_cgroup_t *cg, int ctl)
{
    if (cg->at[ctl] >= 0)
        cg->dirs[cg->at[ctl]].controllers &= ~(1u << ctl);
    cg->at[ctl] = -1;
}

const char *mj_cgroup_dir(const mj_cgroup_t *cg, const char *controller)
{
    if (!cg || !controller)
        return NULL;
    int c = ctl_from_name(controller, strlen(controller));
    if (c < 0 || cg->at[c] < 0)
        return NULL;
    return cg->dirs[cg->at[c]].dir;
}

const char *mj_cgroup_version(const mj_cgroup_t *cg)
{
    if (!cg || cg->n == 0)
        return "none";
    bool v1 = false, v2 = false;
    for (size_t i = 0; i < cg->n; i++) {
        if (cg->dirs[i].version == 1)
            v1 = true;
        else
            v2 = true;
    }
    return v1 && v2 ? "v1+v2" : v2 ? "v2" : "v1";
}

/* ------------------------------------------------------------------ create */

typedef struct {
    mj_cgroup_limits_t lim; /* our copy; a skipped limit is zeroed */
    unsigned want;          /* 1u << MJ_CGC_* still wanted */
    mj_strv_t *warnings;
    const mj_cg_host_t *host;
} create_ctx_t;

static void warn(create_ctx_t *cx, char *line)
{
    if (cx->warnings)
        mj_strv_push_owned(cx->warnings, line);
    else
        free(line);
}

static bool required(const create_ctx_t *cx, int ctl)
{
    switch (ctl) {
    case MJ_CGC_MEMORY:
        return cx->lim.memory_required;
    case MJ_CGC_CPU:
        return cx->lim.cpus_required;
    case MJ_CGC_PIDS:
        return cx->lim.pids_required;
    case MJ_CGC_IO:
        return cx->lim.io_required;
    default:
        return false;
    }
}

/* "memory limit (memory_max=67108864 bytes)" and the like. */
static char *describe_limit(const mj_cgroup_limits_t *l, int ctl)
{
    switch (ctl) {
    case MJ_CGC_MEMORY:
        if (l->memory_max && l->memory_request)
            return mj_xasprintf("memory limit (memory_max=%llu bytes, memory_request=%llu bytes)",
                                (unsigned long long)l->memory_max, (unsigned long long)l->memory_request);
        if (l->memory_max)
            return mj_xasprintf("memory limit (memory_max=%llu bytes)", (unsigned long long)l->memory_max);
        return mj_xasprintf("memory request (memory_request=%llu bytes)", (unsigned long long)l->memory_request);
    case MJ_CGC_CPU:
        if (l->cpus > 0 && l->cpu_request > 0)
            return mj_xasprintf("CPU limit (cpus=%g, cpu_request=%g)", l->cpus, l->cpu_request);
        if (l->cpus > 0)
            return mj_xasprintf("CPU limit (cpus=%g)", l->cpus);
        return mj_xasprintf("CPU request (cpu_request=%g)", l->cpu_request);
    case MJ_CGC_PIDS:
        return mj_xasprintf("process limit (pids_max=%llu)", (unsigned long long)l->pids_max);
    case MJ_CGC_FREEZER:
        return mj_xstrdup("freezing (pause/resume)");
    case MJ_CGC_IO:
        return mj_xasprintf("io limit (%u device%s, e.g. %u:%u)", l->n_io, l->n_io == 1 ? "" : "s",
                            l->n_io ? l->io[0].major : 0, l->n_io ? l->io[0].minor : 0);
    default:
        return mj_xstrdup("CPU time accounting");
    }
}

static void drop_limit(mj_cgroup_limits_t *l, int ctl)
{
    if (ctl == MJ_CGC_MEMORY)
        l->memory_max = l->memory_request = 0;
    else if (ctl == MJ_CGC_CPU)
        l->cpus = l->cpu_request = 0;
    else if (ctl == MJ_CGC_PIDS)
        l->pids_max = 0;
    else if (ctl == MJ_CGC_IO)
        l->n_io = 0;
}

/* ctl cannot be used here.  A limit the user asked for fails the create (-1, *err set); anything
 * else becomes a warning and is skipped (0). */
static int give_up(create_ctx_t *cx, int ctl, mj_error_code_t code, int errnum, mj_error_t **err, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
static int give_up(create_ctx_t *cx, int ctl, mj_error_code_t code, int errnum, mj_error_t **err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cleanup_free char *reason = NULL;
    if (vasprintf(&reason, fmt, ap) < 0)
        abort();
    va_end(ap);
    cleanup_free char *what = describe_limit(&cx->lim, ctl);
    cx->want &= ~(1u << ctl);
    if (required(cx, ctl)) {
        if (err)
            *err = mj_error_new(code, errnum, "%s cannot be applied: %s; or mark the limit best effort", what, reason);
        return -1;
    }
    if (ctl == MJ_CGC_FREEZER)
        warn(cx, mj_xasprintf("%s not available: %s; pausing uses SIGSTOP and kill uses signals instead", what, reason));
    else if (ctl != MJ_CGC_CPUACCT)
        warn(cx, mj_xasprintf("%s not applied: %s", what, reason));
    drop_limit(&cx->lim, ctl);
    return 0;
}

/* setup: mkdir / subtree_control (EBUSY there is v2's no-internal-processes rule, a delegation
 * problem); otherwise a limit write, where EBUSY means the value does not fit the group's state. */
static mj_error_code_t code_for_errno(int e, bool setup)
{
    if (e == EBUSY && !setup)
        return MJ_ERR_SANDBOX_INIT_FAILED;
    switch (e) {
    case EACCES:
    case EPERM:
    case EROFS:
    case EBUSY:
        return MJ_ERR_PERMISSION_DENIED;
    case ENOENT:
    case ENODEV:
    case ENOTSUP:
    case ENOSYS:
        return MJ_ERR_UNSUPPORTED;
    case EINVAL:
    case ERANGE:
        return MJ_ERR_INVALID_CONFIG;
    default:
        return MJ_ERR_SANDBOX_INIT_FAILED;
    }
}

/* How to get past errno e on a hierarchy of this version. */
static const char *fix_for(int version, int e)
{
    if (e == EBUSY && version == 2)
        return "the cgroup holds processes, and cgroup v2 enables controllers for the children of a "
               "group only when the group itself has none (the no-internal-processes rule): run moonjail "
               "inside a delegated subtree of its own, e.g. `systemd-run --user --scope -p Delegate=yes "
               "moonjail …` (as root: `systemd-run --scope -p Delegate=yes moonjail …`)";
    if (e == EROFS)
        return "the cgroup file system is mounted read-only here (inside a container?): have the "
               "container runtime delegate a writable cgroup";
    if ((e == EACCES || e == EPERM) && version == 2)
        return "no write access: rootless cgroup v2 needs a delegated subtree, e.g. run `systemd-run "
               "--user --scope -p Delegate=yes moonjail …` (systemd delegates memory, pids and cpu to "
               "user@$UID.service)";
    if (e == EACCES || e == EPERM)
        return "cgroup v1 hierarchies are writable by root only: run as root, or use a host with cgroup "
               "v2 and a delegated subtree";
    if (e == ENOENT || e == ENODEV || e == ENOTSUP)
        return "the kernel does not offer this file: the controller is missing or disabled for this group";
    if (e == EBUSY)
        return "the group's current state does not allow this value (e.g. a memory limit below what the "
               "group already uses)";
    return "check the value and the cgroup's state";
}

static char *missing_reason(const mj_cg_host_t *host, int ctl)
{
    const char *name = ctl_names[ctl];
    if (host->n == 0)
        return mj_xasprintf("the %s controller is not available: no cgroup file system is mounted where "
                            "/proc/self/mountinfo says, or none shows this process's cgroup; mount cgroup2 on "
                            "/sys/fs/cgroup (or the v1 %s hierarchy)",
                            name, name);
    if (host->v2 >= 0 && host->v2_primary) {
        const mj_cg_hier_t *h = &host->h[host->v2];
        return mj_xasprintf("the %s controller is not available: %s/cgroup.controllers offers only \"%s\"; the "
                            "parent cgroup must delegate it (e.g. `systemd-run --user --scope -p Delegate=yes "
                            "moonjail …`, or Delegate=yes in the unit, or as root add +%s to the parents' "
                            "cgroup.subtree_control)",
                            name, h->own_dir, h->names, name);
    }
    return mj_xasprintf("the %s controller is not available: no cgroup v1 hierarchy has it and the unified "
                        "hierarchy%s does not offer it; enable it in the kernel (cgroup_enable=%s) or boot "
                        "with cgroup v2 (systemd.unified_cgroup_hierarchy=1)",
                        name, host->v2 >= 0 ? "" : " (not mounted)", name);
}

static int make_dir(const char *path)
{
    if (mkdir(path, 0755) < 0 && errno != EEXIST)
        return -1;
    return 0;
}

static size_t for_each_pid(const char *dir, void (*fn)(pid_t));
static _Thread_local pid_t only_pid_seen;
static void note_pid(pid_t pid)
{
    only_pid_seen = pid;
}

/* Moves this process into <own>/moonjail/host when it is the only one in own_dir; -1 with
 * errno EBUSY when others are there too (theirs to place, not ours). */
static int move_self_to_leaf(const char *own_dir, const char *base)
{
    only_pid_seen = 0;
    if (for_each_pid(own_dir, note_pid) != 1 || only_pid_seen != getpid()) {
        errno = EBUSY;
        return -1;
    }
    cleanup_free char *leaf = mj_xasprintf("%s%s", own_dir, MJ_CG_HOST_LEAF);
    char pid[24];
    snprintf(pid, sizeof(pid), "%d", (int)getpid());
    int e;
    if (make_dir(base) < 0 || make_dir(leaf) < 0 || mj_cg_write(leaf, "cgroup.procs", pid) < 0) {
        e = errno;
        errno = e == EBUSY ? EIO : e; /* keep EBUSY meaning "others are in the group" */
        return -1;
    }
    return 0;
}

/* Creates <own>/moonjail/<id> in hierarchy hi, enabling mask on v2.  -1 with errno and
 * *failed (owned) naming the path that failed. */
static int build_hier(create_ctx_t *cx, int hi, const char *id, unsigned mask, char **failed)
{
    const mj_cg_hier_t *h = &cx->host->h[hi];
    cleanup_free char *base = join(h->own_dir, "moonjail");
    cleanup_free char *dir = join(base, id);
    const unsigned v2_enable = mask & ((1u << MJ_CGC_MEMORY) | (1u << MJ_CGC_PIDS) | (1u << MJ_CGC_CPU) | (1u << MJ_CGC_IO));
    if (h->version == 2 && v2_enable && mj_cgv2_enable(h->own_dir, v2_enable) < 0) {
        /* The no-internal-processes rule: a delegated group we sit in alone (systemd-run --scope
         * -p Delegate=yes moonjail …, a Delegate=yes service) cannot enable controllers for its
         * children while we are in it. Move ourselves — only ourselves, never a process we did
         * not start — into the leaf <own>/moonjail/host, as the delegation contract expects. */
        if (errno != EBUSY || move_self_to_leaf(h->own_dir, base) < 0 || mj_cgv2_enable(h->own_dir, v2_enable) < 0) {
            *failed = join(h->own_dir, "cgroup.subtree_control");
            return -1;
        }
    }
    if (make_dir(base) < 0) {
        *failed = steal_pointer(&base);
        return -1;
    }
    /* A shared moonjail/ made by another user (root) is theirs to keep clean: say nothing when we
     * may not write it; our own <id> below is checked strictly. */
    if (h->version == 1 && mj_cgv1_no_release(base) < 0 && errno != EACCES && errno != EPERM)
        warn(cx, mj_xasprintf("could not clear %s/notify_on_release: %s", base, strerror(errno)));
    if (h->version == 2 && v2_enable && mj_cgv2_enable(base, v2_enable) < 0) {
        *failed = join(base, "cgroup.subtree_control");
        return -1;
    }
    if (make_dir(dir) < 0) {
        *failed = steal_pointer(&dir);
        return -1;
    }
    if (h->version == 1 && mj_cgv1_no_release(dir) < 0)
        warn(cx, mj_xasprintf("could not clear %s/notify_on_release: %s", dir, strerror(errno)));
    /* The limits sit on <id>; where there is pausing (persistent sandboxes) the supervisor lives
     * in <id>/sup and the commands in <id>/work, so a pause freezes the commands only and the
     * supervisor still answers.  A one-shot run, never paused, saves the two directories. */
    for (size_t i = 0; (cx->want & (1u << MJ_CGC_FREEZER)) && i < MJ_ARRAY_LEN(leaves); i++) {
        cleanup_free char *leaf = join(dir, leaves[i]);
        if (make_dir(leaf) < 0) { /* (v1: notify_on_release comes cleared from <id>) */
            *failed = steal_pointer(&leaf);
            return -1;
        }
    }
    return 0;
}

static unsigned wanted_ctls(const mj_cgroup_limits_t *l, bool want_freezer)
{
    unsigned want = 0;
    if (l && (l->memory_max || l->memory_request))
        want |= 1u << MJ_CGC_MEMORY;
    if (l && (l->cpus > 0 || l->cpu_request > 0))
        want |= 1u << MJ_CGC_CPU;
    if (l && l->pids_max)
        want |= 1u << MJ_CGC_PIDS;
    if (l && l->n_io)
        want |= 1u << MJ_CGC_IO;
    if (want_freezer)
        want |= 1u << MJ_CGC_FREEZER;
    return want;
}

int mj_cgroup_create(const mj_cgroup_env_t *env, const char *id, const mj_cgroup_limits_t *limits, bool want_freezer,
                     mj_cgroup_t **out, mj_strv_t *warnings, mj_error_t **err)
{
    *out = NULL;
    if (!mj_cgroup_id_is_valid(id)) {
        if (err)
            *err = mj_error_new(MJ_ERR_INVALID_CONFIG, EINVAL, "cgroup id '%s' is not 1-64 hex digits", id ? id : "(null)");
        return -1;
    }
    create_ctx_t cx = {.want = wanted_ctls(limits, want_freezer), .warnings = warnings};
    if (limits)
        cx.lim = *limits;
    if (!cx.want)
        return 0; /* fast path: nothing to enforce, nothing to pay */

    mj_cg_host_t host;
    mj_error_t *derr = NULL;
    if (mj_cg_host_detect(env, &host, &derr) < 0) {
        cx.host = &host;
        for (int c = 0; c < MJ_CGC__COUNT; c++)
            if ((cx.want & (1u << c)) &&
                give_up(&cx, c, mj_error_code(derr), mj_error_errno(derr), err, "%s", mj_error_message(derr)) < 0) {
                mj_error_free(derr);
                return -1;
            }
        mj_error_free(derr);
        return 0;
    }
    cx.host = &host;
    int rc = -1;
    mj_cgroup_t *cg = cg_new(id);

    for (int c = 0; c < MJ_CGC__COUNT; c++) {
        if (!(cx.want & (1u << c)) || host.by_ctl[c] >= 0)
            continue;
        cleanup_free char *why = missing_reason(&host, c);
        if (give_up(&cx, c, MJ_ERR_UNSUPPORTED, ENOTSUP, err, "%s", why) < 0)
            goto out;
    }
    if (!cx.want)
        goto out_ok;
    if (host.by_ctl[MJ_CGC_CPUACCT] >= 0)
        cx.want |= 1u << MJ_CGC_CPUACCT; /* usage for free wherever we create anything */

    for (size_t hi = 0; hi < host.n; hi++) {
        unsigned mask = 0;
        for (int c = 0; c < MJ_CGC__COUNT; c++)
            if ((cx.want & (1u << c)) && host.by_ctl[c] == (int)hi)
                mask |= 1u << c;
        if (!mask)
            continue;
        cleanup_free char *failed = NULL;
        if (build_hier(&cx, (int)hi, id, mask, &failed) < 0) {
            int e = errno;
            for (int c = 0; c < MJ_CGC__COUNT; c++)
                if ((mask & (1u << c)) &&
                    give_up(&cx, c, code_for_errno(e, true), e, err, "%s controller (cgroup v%d): cannot set up %s: %s; %s",
                            ctl_names[c], host.h[hi].version, failed, strerror(e), fix_for(host.h[hi].version, e)) < 0)
                    goto out;
            continue;
        }
        cleanup_free char *base = join(host.h[hi].own_dir, "moonjail");
        cleanup_free char *dir = join(base, id);
        int idx = cg_dir_for(cg, &host, (int)hi, dir);
        for (int c = 0; c < MJ_CGC__COUNT; c++)
            if (mask & (1u << c))
                cg_attach(cg, c, idx);
    }

    static const int limit_ctls[] = {MJ_CGC_MEMORY, MJ_CGC_CPU, MJ_CGC_PIDS, MJ_CGC_IO};
    for (size_t i = 0; i < MJ_ARRAY_LEN(limit_ctls); i++) {
        int c = limit_ctls[i];
        if (!(cx.want & (1u << c)) || cg->at[c] < 0)
            continue;
        const mj_cg_dir_t *d = &cg->dirs[cg->at[c]];
        const char *file = "?";
        int r = d->version == 2 ? mj_cgv2_apply(c, d->dir, &cx.lim, &file) : mj_cgv1_apply(c, d->dir, &cx.lim, &file);
        if (r < 0) {
            int e = errno;
            if (give_up(&cx, c, code_for_errno(e, false), e, err, "%s controller (cgroup v%d): cannot write %s/%s: %s; %s",
                        ctl_names[c], d->version, d->dir, file, strerror(e), fix_for(d->version, e)) < 0)
                goto out;
        }
    }

    if (cg->at[MJ_CGC_FREEZER] >= 0) {
        const mj_cg_dir_t *d = &cg->dirs[cg->at[MJ_CGC_FREEZER]];
        const char *file = d->version == 2 ? "cgroup.freeze" : "freezer.state";
        if (!mj_cg_exists(d->dir, file)) {
            cg_detach(cg, MJ_CGC_FREEZER);
            if (give_up(&cx, MJ_CGC_FREEZER, MJ_ERR_UNSUPPORTED, ENOENT, err, "%s/%s does not exist (kernel too old?)",
                        d->dir, file) < 0)
                goto out;
        }
    }

out_ok:
    rc = 0;
    if (cg->n > 0)
        *out = steal_pointer(&cg);
out:
    if (cg && rc < 0)
        mj_cgroup_destroy(cg); /* removes whatever we built before failing */
    else
        mj_cgroup_free(cg);
    mj_cg_host_free(&host);
    return rc;
}

/* ------------------------------------------------------------------ open */

int mj_cgroup_open(const mj_cgroup_env_t *env, const char *id, mj_cgroup_t **out)
{
    *out = NULL;
    if (!mj_cgroup_id_is_valid(id)) {
        errno = EINVAL;
        return -1;
    }
    mj_cg_host_t host;
    mj_error_t *derr = NULL;
    if (mj_cg_host_detect(env, &host, &derr) < 0) {
        errno = mj_error_errno(derr) ? mj_error_errno(derr) : ENOENT;
        mj_error_free(derr);
        return -1;
    }
    mj_cgroup_t *cg = cg_new(id);
    for (int c = 0; c < MJ_CGC__COUNT; c++) {
        int hi = host.by_ctl[c];
        if (hi < 0)
            continue;
        cleanup_free char *dir = mj_xasprintf("%s/moonjail/%s", host.h[hi].own_dir, id);
        struct stat st;
        if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode))
            continue;
        if (c == MJ_CGC_FREEZER && !mj_cg_exists(dir, host.h[hi].version == 2 ? "cgroup.freeze" : "freezer.state"))
            continue;
        cg_attach(cg, c, cg_dir_for(cg, &host, hi, dir));
    }
    mj_cg_host_free(&host);
    if (cg->n == 0) {
        mj_cgroup_free(cg);
        errno = ENOENT;
        return -1;
    }
    *out = cg;
    return 0;
}

/* ------------------------------------------------------------------ processes */

int mj_cgroup_add_pid(mj_cgroup_t *cg, pid_t pid, mj_error_t **err)
{
    if (!cg)
        return 0;
    for (size_t i = 0; i < cg->n; i++) {
        const mj_cg_dir_t *d = &cg->dirs[i];
        if (mj_cg_writef(d->dir, "cgroup.procs", "%d", (int)pid) < 0) {
            int e = errno;
            if (err) {
                if (e == ESRCH)
                    *err = mj_error_new(MJ_ERR_SANDBOX_INIT_FAILED, e, "cannot move process %d into %s: it is gone",
                                        (int)pid, d->dir);
                else
                    *err = mj_error_new(e == EACCES || e == EPERM ? MJ_ERR_PERMISSION_DENIED : MJ_ERR_SANDBOX_INIT_FAILED,
                                        e, "cannot move process %d into %s/cgroup.procs: %s%s%s", (int)pid, d->dir,
                                        strerror(e), e == EACCES || e == EPERM ? "; " : "",
                                        e == EACCES || e == EPERM ? fix_for(d->version, e) : "");
            }
            return -1;
        }
    }
    return 0;
}

/* Calls fn for every pid listed in dir's cgroup.procs (bounded read); returns how many. */
static size_t for_each_pid(const char *dir, void (*fn)(pid_t))
{
    cleanup_free char *path = join(dir, "cgroup.procs");
    cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return 0;
    size_t count = 0, total = 0;
    char buf[4096];
    size_t keep = 0; /* bytes of a number split across reads */
    for (;;) {
        ssize_t n = read(fd, buf + keep, sizeof(buf) - 1 - keep);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        total += (size_t)n;
        size_t len = keep + (size_t)n;
        buf[len] = '\0';
        char *p = buf, *nl;
        while ((nl = strchr(p, '\n'))) {
            *nl = '\0';
            long v = strtol(p, NULL, 10);
            if (v > 0) {
                count++;
                if (fn)
                    fn((pid_t)v);
            }
            p = nl + 1;
        }
        keep = len - (size_t)(p - buf);
        memmove(buf, p, keep);
        if (total > MJ_CG_MAX_PROCS)
            break;
    }
    if (keep > 0) {
        buf[keep] = '\0';
        long v = strtol(buf, NULL, 10);
        if (v > 0) {
            count++;
            if (fn)
                fn((pid_t)v);
        }
    }
    return count;
}

/* for_each_pid over the group's processes in one hierarchy: <id>, and <id>/sup, <id>/work. */
static size_t for_each_pid_in(const mj_cg_dir_t *d, void (*fn)(pid_t))
{
    size_t n = for_each_pid(d->dir, fn);
    if (d->split) {
        for (size_t i = 0; i < MJ_ARRAY_LEN(leaves); i++) {
            cleanup_free char *leaf = join(d->dir, leaves[i]);
            n += for_each_pid(leaf, fn);
        }
    }
    return n;
}

static void sigkill_pid(pid_t pid)
{
    if (pid > 1 && pid != getpid())
        kill(pid, SIGKILL);
}

static size_t count_procs(const mj_cgroup_t *cg)
{
    size_t n = 0;
    for (size_t i = 0; i < cg->n; i++)
        n += for_each_pid_in(&cg->dirs[i], NULL);
    return n;
}

bool mj_cgroup_can_freeze(const mj_cgroup_t *cg)
{
    return cg && cg->at[MJ_CGC_FREEZER] >= 0;
}

/* The freezer directory: the commands' <id>/work for pause, or all of <id> (kill_all). */
static char *freezer_dir(const mj_cgroup_t *cg, bool whole)
{
    const mj_cg_dir_t *d = &cg->dirs[cg->at[MJ_CGC_FREEZER]];
    return d->split && !whole ? join(d->dir, MJ_CG_WORK) : mj_xstrdup(d->dir);
}

static int freeze_bounded(mj_cgroup_t *cg, bool whole, bool frozen, int timeout_ms)
{
    const mj_cg_dir_t *d = &cg->dirs[cg->at[MJ_CGC_FREEZER]];
    cleanup_free char *dir = freezer_dir(cg, whole);
    return d->version == 2 ? mj_cgv2_freeze(dir, frozen, timeout_ms) : mj_cgv1_freeze(dir, frozen, timeout_ms);
}

bool mj_cgroup_freezes_supervisor(const mj_cgroup_t *cg)
{
    return mj_cgroup_can_freeze(cg) && !cg->dirs[cg->at[MJ_CGC_FREEZER]].split;
}

int mj_cgroup_leaf_fds(mj_cgroup_t *cg, const char *leaf, int *fds, size_t max, size_t *n, mj_error_t **err)
{
    *n = 0;
    for (size_t i = 0; cg && i < cg->n; i++) {
        const mj_cg_dir_t *d = &cg->dirs[i];
        if (!d->split)
            continue;
        cleanup_free char *path = mj_xasprintf("%s/%s/cgroup.procs", d->dir, leaf);
        int fd = *n < max ? open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW) : -1;
        if (fd < 0) {
            int e = *n < max ? errno : E2BIG;
            for (size_t k = 0; k < *n; k++)
                close(fds[k]);
            *n = 0;
            if (err)
                *err = mj_error_new(MJ_ERR_SANDBOX_INIT_FAILED, e, "cannot open %s: %s", path, strerror(e));
            return -1;
        }
        fds[(*n)++] = fd;
    }
    return 0;
}

int mj_cgroup_freeze(mj_cgroup_t *cg, bool frozen, mj_error_t **err)
{
    if (!mj_cgroup_can_freeze(cg)) {
        if (err)
            *err = mj_error_new(MJ_ERR_UNSUPPORTED, ENOTSUP, "this sandbox's cgroup has no freezer");
        return -1;
    }
    if (freeze_bounded(cg, false, frozen, 1000) < 0) {
        int e = errno;
        cleanup_free char *dir = freezer_dir(cg, false);
        if (err)
            *err = mj_error_new(e == ETIMEDOUT ? MJ_ERR_TIMEOUT : code_for_errno(e, false), e, "cannot %s %s: %s",
                                frozen ? "freeze" : "thaw", dir, strerror(e));
        return -1;
    }
    return 0;
}

int mj_cgroup_frozen(mj_cgroup_t *cg)
{
    if (!mj_cgroup_can_freeze(cg))
        return -1;
    const mj_cg_dir_t *d = &cg->dirs[cg->at[MJ_CGC_FREEZER]];
    cleanup_free char *dir = freezer_dir(cg, false);
    return d->version == 2 ? mj_cgv2_frozen(dir) : mj_cgv1_frozen(dir);
}

int mj_cgroup_kill_all(mj_cgroup_t *cg)
{
    if (!cg || cg->n == 0)
        return 0;
    bool kernel_kill = false;
    for (size_t i = 0; i < cg->n; i++)
        if (cg->dirs[i].version == 2 && mj_cgv2_kill(cg->dirs[i].dir) == 0)
            kernel_kill = true;
    bool can_freeze = mj_cgroup_can_freeze(cg);
    double deadline = mj_now_monotonic() + 1.0;
    for (int round = 0;; round++) {
        /* Freeze so nothing forks between reading cgroup.procs and the kills; a frozen task dies
         * only once thawed, so thaw right after. */
        bool froze = !kernel_kill && can_freeze && round < 3 && freeze_bounded(cg, true, true, 100) == 0;
        size_t found = 0;
        for (size_t i = 0; i < cg->n; i++)
            found += for_each_pid_in(&cg->dirs[i], sigkill_pid);
        if (froze || (can_freeze && round == 0)) {
            freeze_bounded(cg, true, false, 100);
            freeze_bounded(cg, false, false, 100); /* a paused work group too: frozen tasks die only thawed */
        }
        if (found == 0)
            return 0;
        if (mj_now_monotonic() > deadline) {
            errno = EBUSY;
            return -1;
        }
        mj_cg_sleep_ms(round < 10 ? 1 : 10);
    }
}

/* rmdir dir after its child groups (depth-bounded); cgroupfs holds no symlinks or files to unlink. */
static void remove_group(const char *dir, int depth)
{
    if (depth > 8)
        return;
    DIR *dh = opendir(dir);
    if (dh) {
        struct dirent *de;
        while ((de = readdir(dh))) {
            if (de->d_type != DT_DIR || strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                continue;
            cleanup_free char *sub = join(dir, de->d_name);
            remove_group(sub, depth + 1);
        }
        closedir(dh);
    }
    for (int tries = 0; tries < 40; tries++) {
        if (rmdir(dir) == 0 || errno == ENOENT || errno != EBUSY)
            return;
        mj_cg_sleep_ms(5); /* EBUSY: the last tasks are still leaving */
    }
}

void mj_cgroup_destroy(mj_cgroup_t *cg)
{
    if (!cg)
        return;
    mj_cgroup_kill_all(cg);
    double deadline = mj_now_monotonic() + 2.0;
    double next_kill = mj_now_monotonic() + 0.1;
    while (count_procs(cg) > 0 && mj_now_monotonic() < deadline) {
        mj_cg_sleep_ms(5);
        if (mj_now_monotonic() > next_kill) {
            mj_cgroup_kill_all(cg);
            next_kill = mj_now_monotonic() + 0.1;
        }
    }
    for (size_t i = 0; i < cg->n; i++)
        remove_group(cg->dirs[i].dir, 0);
    mj_cgroup_free(cg);
}

/* ------------------------------------------------------------------ stats */

int mj_cgroup_stats(mj_cgroup_t *cg, mj_cgroup_stats_t *out)
{
    memset(out, 0, sizeof(*out));
    if (!cg) {
        errno = EINVAL;
        return -1;
    }
    static const int stat_ctls[] = {MJ_CGC_MEMORY, MJ_CGC_PIDS, MJ_CGC_CPU, MJ_CGC_CPUACCT, MJ_CGC_IO};
    for (size_t i = 0; i < MJ_ARRAY_LEN(stat_ctls); i++) {
        int c = stat_ctls[i];
        if (cg->at[c] < 0)
            continue;
        const mj_cg_dir_t *d = &cg->dirs[cg->at[c]];
        if (d->version == 2) {
            mj_cgv2_stats(c, d->dir, out, &cg->peak_seen);
            continue;
        }
        mj_cgv1_stats(c, d->dir, out);
        /* v1 keeps OOM kills, pids.max hits and blkio counts where they happen (in the leaves),
         * not in <id>; usage itself is hierarchical there too. */
        for (size_t k = 0; d->split && c != MJ_CGC_CPU && c != MJ_CGC_CPUACCT && k < MJ_ARRAY_LEN(leaves); k++) {
            cleanup_free char *leaf = join(d->dir, leaves[k]);
            mj_cgroup_stats_t part;
            memset(&part, 0, sizeof(part));
            mj_cgv1_stats(c, leaf, &part);
            out->oom = out->oom || part.oom;
            out->oom_kills += part.oom_kills;
            out->pids_max_events += part.pids_max_events;
            out->pids_max_hit = out->pids_max_hit || part.pids_max_hit;
            out->io_read_bytes += part.io_read_bytes;
            out->io_write_bytes += part.io_write_bytes;
            out->io_read_ops += part.io_read_ops;
            out->io_write_ops += part.io_write_ops;
            out->have_io = out->have_io || part.have_io;
        }
    }
    /* v2 keeps cpu.stat in every group: use it when no accounting dir was chosen. */
    if (!out->have_cpu)
        for (size_t i = 0; i < cg->n; i++)
            if (cg->dirs[i].version == 2) {
                mj_cgv2_stats(MJ_CGC_CPUACCT, cg->dirs[i].dir, out, &cg->peak_seen);
                break;
            }
    return 0;
}

/* ------------------------------------------------------------------ describe */

static void append_word(mj_buf_t *b, const char *w)
{
    if (b->len)
        mj_buf_append(b, " ", 1);
    mj_buf_append(b, w, strlen(w));
}

void mj_cgroup_describe(const mj_cgroup_env_t *env, mj_strv_t *lines)
{
    mj_cg_host_t host;
    mj_error_t *derr = NULL;
    if (mj_cg_host_detect(env, &host, &derr) < 0) {
        mj_strv_push_owned(lines, mj_xasprintf("cgroup: not available (%s)", mj_error_message(derr)));
        mj_error_free(derr);
        return;
    }
    mj_buf_t v1 = {0};
    bool any_v1 = false;
    for (size_t i = 0; i < host.n; i++)
        if (host.h[i].version == 1) {
            any_v1 = true;
            cleanup_free char *names = mj_xstrdup(host.h[i].names);
            for (char *p = names; *p; p++)
                if (*p == ',')
                    *p = ' ';
            append_word(&v1, names);
        }
    const mj_cg_hier_t *u = host.v2 >= 0 ? &host.h[host.v2] : NULL;
    cleanup_free char *v2_text = NULL;
    if (u)
        v2_text = u->names[0] ? mj_xasprintf("cgroup2 at %s offering %s", u->mount, u->names)
                              : mj_xasprintf("cgroup2 at %s without controllers", u->mount);
    if (host.n == 0)
        mj_strv_push(lines, "cgroup: none found (no cgroup file system shows this process's cgroup)");
    else if (!any_v1)
        mj_strv_push_owned(lines, mj_xasprintf("cgroup: v2 (%s)", v2_text));
    else if (!u)
        mj_strv_push_owned(lines, mj_xasprintf("cgroup: v1 (controllers: %s)", v1.data));
    else
        mj_strv_push_owned(lines, mj_xasprintf("cgroup: hybrid (v1 controllers: %s; %s)%s", v1.data, v2_text,
                                               host.v2_primary ? "; limits use cgroup2" : ""));
    mj_buf_free(&v1);

    mj_buf_t used = {0};
    for (int c = 0; c < MJ_CGC__COUNT; c++) {
        int hi = host.by_ctl[c];
        cleanup_free char *w = hi < 0 ? mj_xasprintf("%s=missing", ctl_names[c])
                                      : mj_xasprintf("%s=v%d", ctl_names[c], host.h[hi].version);
        append_word(&used, w);
    }
    mj_strv_push_owned(lines, mj_xasprintf("cgroup controllers for moonjail: %s", used.data ? used.data : ""));
    mj_buf_free(&used);

    for (size_t i = 0; i < host.n; i++) {
        bool in_use = false;
        for (int c = 0; c < MJ_CGC__COUNT; c++)
            if (host.by_ctl[c] == (int)i)
                in_use = true;
        if (!in_use)
            continue;
        const mj_cg_hier_t *h = &host.h[i];
        mj_strv_push_owned(lines, mj_xasprintf("own cgroup (%s): %s", h->version == 2 ? "cgroup2" : h->names, h->own));
        bool writable = access(h->own_dir, W_OK) == 0;
        if (h->version == 2 && writable) {
            cleanup_free char *sc = join(h->own_dir, "cgroup.subtree_control");
            writable = access(sc, W_OK) == 0;
        }
        mj_strv_push_owned(lines, mj_xasprintf("delegation (%s): %s %s%s%s", h->version == 2 ? "cgroup2" : h->names,
                                               h->own_dir, writable ? "writable" : "not writable",
                                               writable ? "" : " — ", writable ? "" : fix_for(h->version, EACCES)));
        if (h->version == 2 && strcmp(h->own, "/") != 0 && for_each_pid(h->own_dir, NULL) > 0 && (h->controllers != 0))
            mj_strv_push_owned(lines, mj_xasprintf("note: %s holds processes: enabling controllers for "
                                                   "sandboxes fails with EBUSY unless they are already enabled",
                                                   h->own_dir));
    }
    int mi = host.by_ctl[MJ_CGC_MEMORY];
    if (mi >= 0) {
        const mj_cg_hier_t *h = &host.h[mi];
        bool swap = mj_cg_exists(h->own_dir, h->version == 2 ? "memory.swap.max" : "memory.memsw.limit_in_bytes");
        if (h->version == 2 && strcmp(h->own, "/") == 0)
            swap = true; /* the root group has no memory files; children do */
        mj_strv_push_owned(lines, mj_xasprintf("memory+swap limit: %s", swap ? "available (swap is off inside sandboxes)"
                                                                            : "not available (swap accounting off): "
                                                                              "sandboxes may swap"));
    }
    mj_cg_host_free(&host);
}

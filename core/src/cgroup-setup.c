/* cgroup-setup.c — where a sandbox's groups go: the cgroup hierarchies this process sees and its
 * place in each (from /proc/self/mountinfo and /proc/self/cgroup), the delegation and creation of
 * <own>/moonjail/<id> and its leaves sup and work, the host report for moonjail doctor, and the
 * explanations a user gets when a controller or a directory cannot be had.
 * It must never create, write or remove anything outside <own>/moonjail (it moves only this very
 * process, and only when it is alone in its group), never touch release_agent, and never build a
 * path from a /proc line that is not clean and absolute. */
#define _GNU_SOURCE
#include "cgroup-setup.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgroup-v1.h"
#include "cgroup-v2.h"
#include "error.h"

#define MJ_CG_MAX_PROCFS (4u << 20) /* mountinfo and /proc/self/cgroup are read up to this */

static char *join(const char *dir, const char *file)
{
    return mj_xasprintf("%s/%s", dir, file);
}

/* Reads a whole procfs text (bounded) into out. */
static int read_text(const char *path, size_t limit, mj_buf_t *out)
{
    cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    char chunk[8192];
    for (;;) {
        ssize_t n = mj_read_all(fd, chunk, sizeof(chunk));
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
        int c = mj_cg_controller_from_name(p, (size_t)(end - p));
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
        /* A process that moved itself into <own>/moonjail/host (see mj_cg_setup_group) still
         * belongs to <own>: its sandboxes and the named ones of its siblings live in <own>/moonjail. */
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

    __attribute__((cleanup(mj_buf_free))) mj_buf_t mi = {0};
    __attribute__((cleanup(mj_buf_free))) mj_buf_t pc = {0};
    if (env && env->mountinfo_text)
        mj_buf_append(&mi, env->mountinfo_text, strlen(env->mountinfo_text));
    else if (read_text("/proc/self/mountinfo", MJ_CG_MAX_PROCFS, &mi) < 0) {
        if (err)
            *err = mj_error_sys(MJ_ERR_UNSUPPORTED, errno, "cannot read /proc/self/mountinfo");
        return -1;
    }
    if (env && env->cgroup_text)
        mj_buf_append(&pc, env->cgroup_text, strlen(env->cgroup_text));
    else if (read_text("/proc/self/cgroup", MJ_CG_MAX_PROCFS, &pc) < 0) {
        if (err)
            *err = mj_error_sys(MJ_ERR_UNSUPPORTED, errno, "cannot read /proc/self/cgroup");
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

/* ------------------------------------------------------------------ creation */

static int make_dir(const char *path)
{
    if (mkdir(path, 0755) < 0 && errno != EEXIST)
        return -1;
    return 0;
}

static void note_pid(pid_t pid, void *ud)
{
    *(pid_t *)ud = pid;
}

/* Moves this process into <own>/moonjail/host when it is the only one in own_dir; -1 with
 * errno EBUSY when others are there too (theirs to place, not ours). */
static int move_self_to_leaf(const char *own_dir, const char *base)
{
    pid_t seen = 0;
    if (mj_cg_for_each_pid(own_dir, note_pid, &seen) != 1 || seen != getpid()) {
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

static void warn(mj_strv_t *warnings, char *line)
{
    if (warnings)
        mj_strv_push_owned(warnings, line);
    else
        free(line);
}

int mj_cg_setup_group(const mj_cg_hier_t *h, const char *id, unsigned mask, bool split, mj_strv_t *warnings,
                      char **failed)
{
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
        warn(warnings, mj_xasprintf("could not clear %s/notify_on_release: %s", base, strerror(errno)));
    if (h->version == 2 && v2_enable && mj_cgv2_enable(base, v2_enable) < 0) {
        *failed = join(base, "cgroup.subtree_control");
        return -1;
    }
    if (make_dir(dir) < 0) {
        *failed = steal_pointer(&dir);
        return -1;
    }
    if (h->version == 1 && mj_cgv1_no_release(dir) < 0)
        warn(warnings, mj_xasprintf("could not clear %s/notify_on_release: %s", dir, strerror(errno)));
    /* The limits sit on <id>; where there is pausing (persistent sandboxes) the supervisor lives
     * in <id>/sup and the commands in <id>/work, so a pause freezes the commands only and the
     * supervisor still answers.  A one-shot run, never paused, saves the two directories. */
    static const char *const leaves[] = {MJ_CG_SUP, MJ_CG_WORK};
    for (size_t i = 0; split && i < MJ_ARRAY_LEN(leaves); i++) {
        cleanup_free char *leaf = join(dir, leaves[i]);
        if (make_dir(leaf) < 0) { /* (v1: notify_on_release comes cleared from <id>) */
            *failed = steal_pointer(&leaf);
            return -1;
        }
    }
    return 0;
}

/* ------------------------------------------------------------------ explanations */

mj_error_code_t mj_cg_code_for_errno(int e, bool setup)
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

const char *mj_cg_fix_for(int version, int e)
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

char *mj_cg_missing_reason(const mj_cg_host_t *host, int ctl)
{
    const char *name = mj_cg_controller_name(ctl);
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
        cleanup_free char *w = hi < 0 ? mj_xasprintf("%s=missing", mj_cg_controller_name(c))
                                      : mj_xasprintf("%s=v%d", mj_cg_controller_name(c), host.h[hi].version);
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
                                               writable ? "" : " — ", writable ? "" : mj_cg_fix_for(h->version, EACCES)));
        if (h->version == 2 && strcmp(h->own, "/") != 0 && mj_cg_for_each_pid(h->own_dir, NULL, NULL) > 0 && (h->controllers != 0))
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

/* doctor.c — what this host can enforce, probed for real (not guessed from versions): user
 * namespaces and what restricts them, cgroups, seccomp, Landlock, overlayfs, openat2, pidfd,
 * clone3, the new mount API.  Each check says how to fix what is missing.  Probes fork where a
 * probe changes the calling process (namespaces, filters), so the caller is never altered. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/landlock.h>
#include <linux/openat2.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "cgroup.h"
#include "error.h"
#include "netsetup.h"
#include "util.h"

/* A check while it is written (fixed buffers for snprintf); handed out as mj_check_t. */
typedef struct {
    char name[48];
    int status;
    char detail[256];
    char fix[256];
} check_t;

static check_t *add(check_t **v, size_t *n, const char *name, int status)
{
    *v = mj_xrealloc(*v, (*n + 1) * sizeof(**v));
    check_t *c = &(*v)[(*n)++];
    memset(c, 0, sizeof(*c));
    snprintf(c->name, sizeof(c->name), "%s", name);
    c->status = status;
    return c;
}

static bool read_text(const char *path, char *buf, size_t len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    ssize_t n = read(fd, buf, len - 1);
    close(fd);
    if (n < 0)
        return false;
    buf[n] = '\0';
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
        buf[--n] = '\0';
    return true;
}

/* Runs fn in a forked child; its exit status 0 means success. */
static int probe(int (*fn)(void))
{
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0)
        _exit(fn() == 0 ? 0 : 1);
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

static int probe_userns(void)
{
    return unshare(CLONE_NEWUSER);
}

static int probe_all_ns(void)
{
    return unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS |
                   CLONE_NEWCGROUP);
}

static int probe_seccomp(void)
{
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        return -1;
    return prctl(PR_GET_SECCOMP, 0, 0, 0, 0) >= 0 && syscall(SYS_seccomp, 2 /* SECCOMP_GET_ACTION_AVAIL */, 0,
                                                               &(uint32_t){0x7fff0000u}) == 0
               ? 0
               : -1;
}

int mj_doctor(mj_check_t **out, size_t *count)
{
    check_t *v = NULL;
    size_t n = 0;
    char buf[160];
    check_t *c;

    /* user namespaces */
    int uns = probe(probe_userns);
    c = add(&v, &n, "user_namespaces", uns == 0 ? 1 : 0);
    if (uns == 0) {
        snprintf(c->detail, sizeof(c->detail), "creating a user namespace works for uid %u", (unsigned)geteuid());
    } else {
        snprintf(c->detail, sizeof(c->detail), "unshare(CLONE_NEWUSER) failed for uid %u", (unsigned)geteuid());
        if (read_text("/proc/sys/kernel/apparmor_restrict_unprivileged_userns", buf, sizeof(buf)) && buf[0] == '1')
            snprintf(c->fix, sizeof(c->fix),
                     "AppArmor restricts unprivileged user namespaces: add a profile for moonjail with 'userns,' "
                     "or set kernel.apparmor_restrict_unprivileged_userns=0");
        else if (read_text("/proc/sys/kernel/unprivileged_userns_clone", buf, sizeof(buf)) && buf[0] == '0')
            snprintf(c->fix, sizeof(c->fix), "sysctl -w kernel.unprivileged_userns_clone=1");
        else if (read_text("/proc/sys/user/max_user_namespaces", buf, sizeof(buf)) && strcmp(buf, "0") == 0)
            snprintf(c->fix, sizeof(c->fix), "sysctl -w user.max_user_namespaces=15000");
        else
            snprintf(c->fix, sizeof(c->fix), "enable CONFIG_USER_NS, or run moonjail as root");
    }
    int alls = probe(probe_all_ns);
    c = add(&v, &n, "namespaces", alls == 0 ? 1 : 0);
    snprintf(c->detail, sizeof(c->detail), "user, mount, pid, net, ipc, uts, cgroup: %s",
             alls == 0 ? "all can be created" : "at least one cannot be created");
    if (alls != 0)
        snprintf(c->fix, sizeof(c->fix), "a kernel with CONFIG_{USER,PID,NET,IPC,UTS,CGROUP}_NS; check container "
                                         "runtimes or LSMs that block unshare");
    if (read_text("/proc/sys/user/max_user_namespaces", buf, sizeof(buf))) {
        c = add(&v, &n, "max_user_namespaces", atol(buf) >= 100 ? 1 : 0);
        snprintf(c->detail, sizeof(c->detail), "user.max_user_namespaces = %s", buf);
        if (atol(buf) < 100)
            snprintf(c->fix, sizeof(c->fix), "sysctl -w user.max_user_namespaces=15000");
    }

    /* cgroups */
    mj_strv_t lines = {0};
    mj_cgroup_describe(NULL, &lines);
    for (size_t i = 0; i < lines.n; i++) {
        c = add(&v, &n, "cgroups", -1);
        snprintf(c->detail, sizeof(c->detail), "%s", lines.v[i]);
    }
    mj_strv_free(&lines);
    mj_cgroup_limits_t probe_limits = {.memory_max = 64u << 20, .pids_max = 64, .memory_required = true,
                                       .pids_required = true};
    char id[33];
    mj_random_id(id);
    mj_cgroup_t *cg = NULL;
    mj_error_t *err = NULL;
    mj_strv_t warns = {0};
    int cgr = mj_cgroup_create(NULL, id, &probe_limits, true, &cg, &warns, &err);
    c = add(&v, &n, "cgroup_limits", cgr == 0 && cg ? 1 : 0);
    if (cgr == 0 && cg) {
        snprintf(c->detail, sizeof(c->detail), "memory and pids limits can be applied (cgroup %s)", mj_cgroup_version(cg));
        mj_cgroup_t *freeze = cg;
        check_t *f = add(&v, &n, "freezer", mj_cgroup_can_freeze(freeze) ? 1 : 0);
        snprintf(f->detail, sizeof(f->detail), "%s", mj_cgroup_can_freeze(freeze) ? "pause/resume freeze the cgroup"
                                                                                   : "no freezer: pause uses SIGSTOP");
        mj_cgroup_destroy(cg);
    } else {
        snprintf(c->detail, sizeof(c->detail), "%s", err ? mj_error_message(err) : "no cgroup controller usable");
        snprintf(c->fix, sizeof(c->fix), "run as root, or inside a delegated cgroup v2 subtree "
                                         "(systemd-run --user --scope -p Delegate=yes moonjail …); requested "
                                         "limits fail closed, default ones are reported");
    }
    mj_error_free(err);
    mj_strv_free(&warns);

    /* seccomp */
    int sc = probe(probe_seccomp);
    c = add(&v, &n, "seccomp", sc == 0 ? 1 : 0);
    snprintf(c->detail, sizeof(c->detail), "%s", sc == 0 ? "seccomp filters with ERRNO/KILL_PROCESS actions"
                                                         : "seccomp filter mode is unavailable");
    if (sc != 0)
        snprintf(c->fix, sizeof(c->fix), "a kernel with CONFIG_SECCOMP_FILTER");
    bool notify = syscall(SYS_seccomp, 2 /* SECCOMP_GET_ACTION_AVAIL */, 0, &(uint32_t){0x7fc00000u}) == 0;
    c = add(&v, &n, "seccomp_notify", notify ? 1 : 0);
    snprintf(c->detail, sizeof(c->detail), "user notification %s", notify ? "available" : "unavailable");

    /* Landlock */
    long abi = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
    c = add(&v, &n, "landlock", abi > 0 ? 1 : 0);
    if (abi > 0)
        snprintf(c->detail, sizeof(c->detail), "ABI %ld%s", abi,
                 abi >= 4 ? " (file system and TCP bind/connect rules)" : " (file system rules only, no TCP)");
    else {
        snprintf(c->detail, sizeof(c->detail), "unavailable (%s)", strerror(errno));
        snprintf(c->fix, sizeof(c->fix), "a kernel ≥ 5.13 with CONFIG_SECURITY_LANDLOCK and 'landlock' in lsm=");
    }

    /* LSMs */
    if (read_text("/sys/kernel/security/lsm", buf, sizeof(buf))) {
        c = add(&v, &n, "lsm", -1);
        snprintf(c->detail, sizeof(c->detail), "loaded: %s", buf);
    }
    bool apparmor = read_text("/sys/module/apparmor/parameters/enabled", buf, sizeof(buf)) && buf[0] == 'Y';
    c = add(&v, &n, "apparmor", apparmor ? 1 : -1);
    snprintf(c->detail, sizeof(c->detail), "%s", apparmor ? "enabled" : "not available on this host");
    bool selinux = access("/sys/fs/selinux/enforce", F_OK) == 0;
    c = add(&v, &n, "selinux", selinux ? 1 : -1);
    snprintf(c->detail, sizeof(c->detail), "%s", selinux ? "enabled" : "not available on this host");

    /* file systems and syscalls */
    bool overlay = false;
    int fsfd = open("/proc/filesystems", O_RDONLY | O_CLOEXEC);
    if (fsfd >= 0) {
        char fsbuf[8192];
        ssize_t r = read(fsfd, fsbuf, sizeof(fsbuf) - 1);
        close(fsfd);
        if (r > 0) {
            fsbuf[r] = '\0';
            overlay = strstr(fsbuf, "\toverlay\n") != NULL;
        }
    }
    c = add(&v, &n, "overlayfs", overlay ? 1 : 0);
    snprintf(c->detail, sizeof(c->detail), "%s", overlay ? "available" : "not listed in /proc/filesystems");
    if (!overlay)
        snprintf(c->fix, sizeof(c->fix), "modprobe overlay");
    struct open_how how = {.flags = O_PATH | O_CLOEXEC, .resolve = RESOLVE_IN_ROOT};
    int o2 = (int)syscall(SYS_openat2, AT_FDCWD, "/", &how, sizeof(how));
    c = add(&v, &n, "openat2", o2 >= 0 ? 1 : 0);
    snprintf(c->detail, sizeof(c->detail), "%s", o2 >= 0 ? "RESOLVE_IN_ROOT works" : "missing (kernel < 5.6)");
    if (o2 >= 0)
        close(o2);
    int pfd = (int)syscall(SYS_pidfd_open, getpid(), 0);
    c = add(&v, &n, "pidfd", pfd >= 0 ? 1 : 0);
    snprintf(c->detail, sizeof(c->detail), "%s", pfd >= 0 ? "pidfd_open works" : "missing (kernel < 5.3)");
    if (pfd >= 0)
        close(pfd);
    int fso = (int)syscall(SYS_fsopen, "tmpfs", 1);
    c = add(&v, &n, "mount_api", fso >= 0 || errno == EPERM ? 1 : 0);
    snprintf(c->detail, sizeof(c->detail), "%s",
             fso >= 0 || errno == EPERM ? "fsopen/open_tree/move_mount/mount_setattr present" : "missing (kernel < 5.12)");
    if (fso >= 0)
        close(fso);
    /* CAP_SYS_RESOURCE (bit 24): raising rlimits past the caller's hard limits and lowering
     * oom_score_adj for the supervisor; without it both are clamped (and reported per run). */
    bool sys_resource = false;
    char status[4096];
    if (read_text("/proc/self/status", status, sizeof(status))) {
        const char *eff = strstr(status, "CapEff:");
        unsigned long long caps = 0;
        if (eff && sscanf(eff, "CapEff: %llx", &caps) == 1)
            sys_resource = (caps >> 24) & 1;
    }
    c = add(&v, &n, "cap_sys_resource", sys_resource ? 1 : -1);
    snprintf(c->detail, sizeof(c->detail), "%s",
             sys_resource ? "present: rlimits above the caller's hard limits and a protected supervisor are possible"
                          : "absent: rlimits are clamped to the caller's hard limits, oom_score_adj is not lowered");
    if (!sys_resource)
        snprintf(c->fix, sizeof(c->fix), "%s",
                 geteuid() == 0 ? "run moonjail where root keeps CAP_SYS_RESOURCE (this container or VM drops it)"
                                : "raise the hard limits you need (ulimit -H, limits.conf), or run as root");
    /* The outbound/filtered modes: moonjail-net and the engine it would start. */
    char *helper = NULL, *engines = NULL;
    mj_error_t *nerr = NULL;
    if (mj_netsetup_probe(&helper, &engines, &nerr) < 0) {
        c = add(&v, &n, "network_helper", 0);
        snprintf(c->detail, sizeof(c->detail), "%s", mj_error_message(nerr));
        snprintf(c->fix, sizeof(c->fix), "install moonjail-net (built with moonjail) or set MOONJAIL_NET_HELPER; "
                                         "network \"none\" and \"host\" work without it");
        mj_error_free(nerr);
    } else {
        c = add(&v, &n, "network_helper", 1);
        snprintf(c->detail, sizeof(c->detail), "%s", helper);
        bool any = strstr(engines, "=/") != NULL;
        c = add(&v, &n, "network_engine", any ? 1 : 0);
        snprintf(c->detail, sizeof(c->detail), "%s (outbound mode; filtered needs none)", engines);
        if (!any)
            snprintf(c->fix, sizeof(c->fix), "install Debian's passt (pasta) or slirp4netns package");
    }
    free(helper);
    free(engines);
    c = add(&v, &n, "running_as", geteuid() == 0 ? 1 : -1);
    snprintf(c->detail, sizeof(c->detail), "%s (uid %u)", geteuid() == 0 ? "root: sandboxes get a private host id range"
                                                                        : "rootless: one id mapped into each sandbox",
             (unsigned)geteuid());
    mj_check_t *r = mj_xcalloc(n ? n : 1, sizeof(*r));
    for (size_t i = 0; i < n; i++) {
        r[i].name = mj_xstrdup(v[i].name);
        r[i].status = v[i].status;
        r[i].detail = mj_xstrdup(v[i].detail);
        r[i].fix = mj_xstrdup(v[i].fix);
    }
    free(v);
    *out = r;
    *count = n;
    return 0;
}

void mj_checks_free(mj_check_t *v, size_t n)
{
    if (!v)
        return;
    for (size_t i = 0; i < n; i++) {
        free(v[i].name);
        free(v[i].detail);
        free(v[i].fix);
    }
    free(v);
}

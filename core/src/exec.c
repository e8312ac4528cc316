/* exec.c — the last steps of every command inside a sandbox, in the forked child right before
 * execve: default signals, new session, workdir, rlimits, ids and capabilities, no_new_privs,
 * then a PATH search with the command's own PATH.  Shared by the one-shot init and the
 * supervisor's exec shims.  Raw system calls only; failures go out as (stage, errno). */
#define _GNU_SOURCE
#include <limits.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <sys/ioctl.h>
#include <sys/statfs.h>

#include "caps.h"
#include "exec.h"
#include "landlock.h"
#include "plan.h"
#include "seccomp.h"
#include "trace.h"
#include "util.h"

const int mj_forwarded_signals[MJ_N_FORWARDED_SIGNALS] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH};

int mj_disk_full(const mj_plan_t *plan)
{
    for (size_t i = 0; i < plan->disk_paths.n; i++) {
        struct statfs sfs;
        if (statfs(plan->disk_paths.v[i], &sfs) == 0 && (sfs.f_bavail == 0 || (sfs.f_files && sfs.f_ffree == 0)))
            return 1;
    }
    return 0;
}

/* Reports {stage, errno} on err_fd and exits 127: the command never ran. */
__attribute__((noreturn)) static void failed(int err_fd, int32_t stage)
{
    int32_t report[2] = {stage, errno};
    (void)mj_write_all(err_fd, report, sizeof(report));
    _exit(127);
}

__attribute__((noreturn)) void mj_exec_child(const mj_plan_t *plan, const mj_exec_params_t *params, int err_fd)
{
    sigset_t empty;
    sigemptyset(&empty);
    for (int sig = 1; sig < NSIG; sig++)
        if (sig != SIGKILL && sig != SIGSTOP)
            signal(sig, SIG_DFL);
    sigprocmask(SIG_SETMASK, &empty, NULL);
    setsid();
    /* A pty of our own (never the caller's terminal): it becomes the controlling terminal. */
    if (params->tty)
        (void)ioctl(0, TIOCSCTTY, 0);

    /* Into <id>/work first, so that everything the command does is where pause and usage look. */
    for (size_t i = 0; i < params->n_cg_work_fds; i++)
        if (write(params->cg_work_fds[i], "0", 1) != 1)
            failed(err_fd, MJ_EXEC_STAGE_CGROUP);
    if (chdir(params->workdir) < 0)
        failed(err_fd, MJ_EXEC_STAGE_CHDIR);
    /* The sandbox's init and supervisor sit at -999 (see place_child in spawn.c); the command goes back
     * to 0 so an OOM inside the sandbox takes it, not them. /proc/self is only ours to write while
     * dumpable, and only for this instant, with every capability still held (no process of the
     * sandbox, capabilities dropped, may ptrace us meanwhile). Best effort: at -999 the command
     * stays killable either way. */
    if (!plan->rootless) {
        prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
        int ofd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
        struct statfs ofs;
        if (ofd >= 0) {
            if (fstatfs(ofd, &ofs) == 0 && ofs.f_type == PROC_SUPER_MAGIC)
                (void)!write(ofd, "0", 1);
            close(ofd);
        }
        prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    }
    for (int i = 0; i < MJ_RLIMIT__COUNT; i++)
        if (plan->rlimit_set[i] && setrlimit(mj_rlimit_resource[i], &plan->rlimits[i]) < 0)
            failed(err_fd, MJ_EXEC_STAGE_LIMITS);
    if (mj_caps_drop_and_setid(plan->caps_keep, plan->last_cap, params->uid, params->gid, !plan->rootless) < 0)
        failed(err_fd, MJ_EXEC_STAGE_CREDS);
    /* LSM transition on exec, before no_new_privs (which would forbid it), through an fd checked
     * to be on procfs (CVE-2025-52881). */
    if (plan->lsm_attr_path) {
        int afd = open(plan->lsm_attr_path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
        struct statfs sfs;
        if (afd < 0)
            failed(err_fd, MJ_EXEC_STAGE_LSM);
        if (fstatfs(afd, &sfs) < 0 || sfs.f_type != PROC_SUPER_MAGIC) {
            close(afd);
            errno = EXDEV;
            failed(err_fd, MJ_EXEC_STAGE_LSM);
        }
        ssize_t w = write(afd, plan->lsm_attr_value, strlen(plan->lsm_attr_value));
        int e = errno;
        close(afd);
        if (w < 0) {
            errno = e;
            failed(err_fd, MJ_EXEC_STAGE_LSM);
        }
    }
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        failed(err_fd, MJ_EXEC_STAGE_CREDS);
    if (mj_landlock_restrict(params->landlock_fd) < 0 && plan->landlock_required)
        failed(err_fd, MJ_EXEC_STAGE_LANDLOCK);
    if (params->restrict_paths && params->restrict_paths[0] && mj_landlock_restrict_paths(params->restrict_paths) < 0)
        failed(err_fd, MJ_EXEC_STAGE_LANDLOCK);
    if (params->no_network && mj_landlock_deny_tcp() < 0)
        failed(err_fd, MJ_EXEC_STAGE_LANDLOCK);
    if (mj_landlock_tcp(plan) < 0)
        failed(err_fd, MJ_EXEC_STAGE_LANDLOCK);
    mj_trace_mark("cmd: ids, caps, landlock");
    if (!plan->seccomp_loaded && mj_seccomp_load(plan) < 0)
        failed(err_fd, MJ_EXEC_STAGE_SECCOMP);
    mj_trace_mark("cmd: seccomp load");

    const char *file = params->argv[0];
    if (strchr(file, '/')) {
        execve(file, params->argv, params->envp);
    } else {
        bool eacces = false;
        size_t flen = strlen(file);
        const char *p = params->path_env;
        while (*p) {
            const char *end = strchrnul(p, ':');
            size_t dlen = (size_t)(end - p);
            if (dlen + flen + 2 <= PATH_MAX) {
                char *buf = params->exec_buf;
                memcpy(buf, dlen ? p : ".", dlen ? dlen : 1);
                size_t off = dlen ? dlen : 1;
                buf[off++] = '/';
                memcpy(buf + off, file, flen + 1);
                execve(buf, params->argv, params->envp);
                if (errno == EACCES)
                    eacces = true;
                else if (errno != ENOENT && errno != ENOTDIR && errno != ENAMETOOLONG)
                    break;
            }
            p = *end ? end + 1 : end;
        }
        if (errno == ENOENT || errno == ENOTDIR || errno == ENAMETOOLONG)
            errno = eacces ? EACCES : ENOENT;
    }
    failed(err_fd, MJ_EXEC_STAGE_EXEC);
}

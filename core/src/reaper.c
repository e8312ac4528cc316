/* reaper.c — pid 1 of a persistent sandbox's workload namespace.
 *
 * A persistent sandbox has two pid namespaces: the supervisor's (its pid 1, with the spawner
 * beside it) and, nested in it, the workload's, where every command runs.  Commands cannot see,
 * name, signal or trace a process of the outer namespace, so moonjail's helpers are out of their
 * reach (SECURITY.md, "Helpers inside the workload's reach"); the one moonjail process inside is
 * this one, the workload namespace's init, which the kernel itself shields from the namespace's
 * own processes: signals without a handler (SIGKILL and SIGSTOP included) sent from inside are
 * dropped.  It has no handler, no fd, no socket, and parses nothing.
 *
 * It starts before the root is built because a procfs shows the pid namespace of the process
 * that made it: the root's /proc must be this namespace's.  Then it reaps the orphans of the
 * namespace (daemons whose parents exited) until the supervisor, its parent, dies — the kernel
 * then kills it (parent-death signal) and with it every process of the namespace.
 * Runs after clone in a copy of the host process: raw system calls only, no allocation.
 * Never: starts, signals or reports anything; holds no fd once set up. */
#define _GNU_SOURCE
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "reaper.h"
#include "rootfs.h"
#include "seccomp.h"
#include "util.h"
#include "wire.h"

#ifndef MOUNT_ATTR_NOSUID
#define MOUNT_ATTR_NOSUID 0x00000002
#define MOUNT_ATTR_NODEV 0x00000004
#define MOUNT_ATTR_NOEXEC 0x00000008
#endif

__attribute__((noreturn)) void mj_reaper_main(int sock)
{
    /* Nothing of the host for the commands to read in /proc/1 (the caller wiped argv/environ). */
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    prctl(PR_SET_NAME, "moonjail-init", 0, 0, 0);

    int32_t e = 0;
    int mnt = mj_make_fs("proc", NULL, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC);
    if (mnt < 0)
        e = errno ? errno : EIO;
    struct iovec iov = {.iov_base = &e, .iov_len = sizeof(e)};
    /* A parent that died before the death signal was armed cannot take it: nothing to serve. */
    if (mj_wire_send(sock, &iov, 1, &mnt, mnt >= 0 ? 1 : 0, MSG_NOSIGNAL) < 0 || e)
        _exit(1);
    if (syscall(SYS_close_range, 0U, ~0U, 0U) < 0)
        for (int fd = 0; fd < 1024; fd++)
            close(fd);
    /* The cwd is the old root: pivot_root moves it (and the root) to the new one. */
    if (chdir("/") < 0)
        _exit(1);

    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    sigprocmask(SIG_BLOCK, &chld, NULL);
    /* Waiting and reaping is all it does from here (the one-shot init's filter, less a listener). */
    if (mj_seccomp_load_init(false) < 0 && errno != ENOSYS)
        _exit(1);
    for (;;) {
        siginfo_t info;
        if (sigwaitinfo(&chld, &info) < 0)
            continue;
        while (waitpid(-1, NULL, WNOHANG) > 0)
            ;
    }
}

/* oci/exec.c — `exec --detach` of the OCI runtime: a further process in a running container,
 * which the engine (conmon, containerd-shim) waits for by pid as its subreaper.
 *
 * The command is a sandbox command like any other (the spawner forks it in the workload's pid
 * namespace), so no engine can be its parent.  What the engine gets is a host process standing
 * for it, forked here once the command has started: it holds the command's channel, passes
 * SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2 and SIGWINCH on to it, and exits with its
 * status (128+N for signal N) when it ends; when it is killed itself its channel closes and the
 * spawner kills the command's tree.  The runtime then exits, and the stand-in is reparented to
 * the engine.
 * Owns: the stand-in.  Never: allocates after the fork, or keeps any fd of the caller's but the
 * channel. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "error.h"
#include "oci/console.h"
#include "oci/exec.h"
#include "process.h"
#include "proto.h"
#include "util.h"

/* Reads the channel until STARTED (0) or EXEC_FAILED (-1, *err), within 30 s. */
static int wait_started(mj_sandbox_t *sb, int chan, const char *argv0, mj_error_t **err)
{
    for (int waited = 0;;) {
        struct pollfd pfd = {.fd = chan, .events = POLLIN};
        int r = poll(&pfd, 1, 1000);
        if (r < 0 && errno == EINTR)
            continue;
        if (r == 0 && ++waited < 30)
            continue;
        mj_msg_t m;
        ssize_t n = r > 0 ? recv(chan, &m, sizeof(m), MSG_DONTWAIT) : 0;
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            continue;
        if (n != (ssize_t)sizeof(m)) {
            *err = mj_error_new(MJ_ERR_COMMAND_EXECUTION_FAILED, r == 0 ? ETIMEDOUT : EPIPE,
                                r == 0 ? "exec: the sandbox did not start the command within 30 s"
                                       : "exec: the sandbox went away before the command started");
            return -1;
        }
        if (m.type == MJ_MSG_STARTED)
            return 0;
        if (m.type == MJ_MSG_EXEC_FAILED) {
            *err = mj_process_not_started_error(sb, argv0, &m);
            return -1;
        }
    }
}

/* The stand-in: waits for the command's end on chan, passing signals on. */
__attribute__((noreturn)) static void stand_in(int chan)
{
    prctl(PR_SET_NAME, "moonjail-oci-exec", 0, 0, 0);
    chan = fcntl(chan, F_DUPFD_CLOEXEC, 10); /* out of the way of 0-3, whatever its number */
    int null = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (chan < 0 || null < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0 || dup2(null, 2) < 0)
        _exit(255);
    if (dup3(chan, 3, O_CLOEXEC) < 0)
        _exit(255);
    if (syscall(SYS_close_range, 4U, ~0U, 0U) < 0)
        for (int fd = 4; fd < 1024; fd++)
            close(fd);
    static const int passed[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH};
    sigset_t set;
    sigemptyset(&set);
    for (size_t i = 0; i < sizeof(passed) / sizeof(passed[0]); i++)
        sigaddset(&set, passed[i]);
    sigprocmask(SIG_BLOCK, &set, NULL);
    int sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
    if (sfd < 0)
        _exit(255);
    for (;;) {
        struct pollfd pfd[2] = {{.fd = 3, .events = POLLIN}, {.fd = sfd, .events = POLLIN}};
        if (poll(pfd, 2, -1) < 0)
            continue;
        if (pfd[1].revents) {
            struct signalfd_siginfo si;
            while (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
                mj_req_t req = {.magic = MJ_PROTO_MAGIC, .type = MJ_CHAN_SIGNAL, .arg = (int32_t)si.ssi_signo};
                (void)send(3, &req, sizeof(req), MSG_NOSIGNAL | MSG_DONTWAIT);
            }
        }
        if (pfd[0].revents) {
            mj_msg_t m;
            ssize_t n = recv(3, &m, sizeof(m), MSG_DONTWAIT);
            if (n < 0 && (errno == EAGAIN || errno == EINTR))
                continue;
            if (n != (ssize_t)sizeof(m))
                _exit(255); /* the sandbox went away */
            if (m.type == MJ_MSG_EXITED)
                _exit(WIFEXITED(m.a) ? WEXITSTATUS(m.a) : WIFSIGNALED(m.a) ? 128 + WTERMSIG(m.a) : 255);
        }
    }
}

int mj_oci_exec_detached(mj_sandbox_t *sb, const mj_command_t *cmd, const char *argv0, const int io[3],
                         const char *console_socket, pid_t *stand_in_pid, mj_error_t **err)
{
    cleanup_close int chan = -1;
    if (mj_process_send_exec(sb, cmd, 0, io, &chan, err) < 0)
        return -1;
    if (console_socket && mj_oci_console_relay(chan, console_socket, err) < 0)
        return -1;
    if (wait_started(sb, chan, argv0, err) < 0)
        return -1;
    pid_t pid = fork();
    if (pid < 0) {
        *err = mj_error_sys(MJ_ERR_COMMAND_EXECUTION_FAILED, errno, "exec: fork");
        return -1; /* the channel closes: the spawner kills the command */
    }
    if (pid == 0)
        stand_in(chan);
    *stand_in_pid = pid;
    return 0;
}

/* oci/console.c — the runtime-spec console socket: `create --console-socket PATH` with
 * process.terminal gives the main process a terminal of the sandbox's own devpts (the spawner
 * opens it: console.c, shim.c), whose master comes to the host first on the command's channel;
 * this file passes it on to the engine (conmon, containerd-shim) over that socket, as runc and
 * crun do.
 * Owns: the master's hand-over.  Never: keeps the master (the engine owns it), reads anything but
 * the PTY message from the channel, or passes the caller's own terminal anywhere. */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "error.h"
#include "oci/console.h"
#include "proto.h"
#include "pty.h"
#include "util.h"
#include "wire.h"

/* The pty master the sandbox sends first on chan, within timeout_ms. */
static int take_master(int chan, int timeout_ms, mj_error_t **err)
{
    mj_msg_t m;
    int fds[1] = {-1}, nfds = 0;
    bool truncated = false;
    ssize_t n;
    for (;;) {
        struct pollfd pfd = {.fd = chan, .events = POLLIN};
        int r = poll(&pfd, 1, timeout_ms);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            *err = mj_error_new(MJ_ERR_COMMAND_EXECUTION_FAILED, ETIMEDOUT,
                                "the sandbox did not hand over the container's terminal within %d s", timeout_ms / 1000);
            return -1;
        }
        n = mj_wire_recv(chan, &m, sizeof(m), MSG_DONTWAIT, fds, 1, &nfds, &truncated);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        break;
    }
    cleanup_close int master = nfds == 1 ? fds[0] : -1;
    if (n != (ssize_t)sizeof(m) || truncated || m.type != MJ_MSG_PTY || master < 0 || !mj_pty_is_master(master)) {
        if (n == (ssize_t)sizeof(m) && m.type == MJ_MSG_EXEC_FAILED)
            *err = mj_error_new(MJ_ERR_COMMAND_EXECUTION_FAILED, m.b, "the container's terminal: %s", strerror(m.b));
        else
            *err = mj_error_new(MJ_ERR_COMMAND_EXECUTION_FAILED, EPROTO, "the sandbox handed over no terminal");
        return -1;
    }
    return mj_steal_fd(&master);
}

int mj_oci_console_relay(int chan, const char *socket_path, mj_error_t **err)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (!socket_path || strlen(socket_path) >= sizeof(sa.sun_path)) {
        *err = mj_error_new(MJ_ERR_INVALID_CONFIG, ENAMETOOLONG, "console socket: path too long");
        return -1;
    }
    memcpy(sa.sun_path, socket_path, strlen(socket_path) + 1);
    cleanup_close int master = take_master(chan, 30000, err);
    if (master < 0)
        return -1;
    cleanup_close int sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (sock < 0 || connect(sock, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        *err = mj_error_sys(MJ_ERR_SANDBOX_INIT_FAILED, errno, "console socket %s", socket_path);
        return -1;
    }
    char name[128];
    if (ptsname_r(master, name, sizeof(name)) != 0)
        snprintf(name, sizeof(name), "/dev/ptmx");
    struct iovec iov = {.iov_base = name, .iov_len = strlen(name)};
    if (mj_wire_send(sock, &iov, 1, &master, 1, MSG_NOSIGNAL) < 0) {
        *err = mj_error_sys(MJ_ERR_SANDBOX_INIT_FAILED, errno, "sending the terminal to %s", socket_path);
        return -1;
    }
    return 0;
}

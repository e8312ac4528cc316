/* oci/console.c — the runtime-spec console socket: `create --console-socket PATH` with
 * process.terminal makes a pseudo-terminal whose master goes to the engine (conmon,
 * containerd-shim) over that socket and whose slave becomes the main process's terminal.
 * Owns: the pty pair's hand-over.  Never: keeps the master (the engine owns it), or passes the
 * caller's own terminal anywhere. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "error.h"
#include "oci/console.h"
#include "pty.h"
#include "util.h"
#include "wire.h"

int mj_oci_console_open(const char *socket_path, int *slave, mj_error_t **err)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (!socket_path || strlen(socket_path) >= sizeof(sa.sun_path)) {
        *err = mj_error_new(MJ_ERR_INVALID_CONFIG, ENAMETOOLONG, "console socket: path too long");
        return -1;
    }
    memcpy(sa.sun_path, socket_path, strlen(socket_path) + 1);
    cleanup_close int sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (sock < 0 || connect(sock, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        *err = mj_error_sys(MJ_ERR_SANDBOX_INIT_FAILED, errno, "console socket %s", socket_path);
        return -1;
    }
    cleanup_close int master = -1;
    cleanup_close int sl = -1;
    if (mj_pty_open(&master, &sl, err) < 0)
        return -1;
    char name[128];
    if (ptsname_r(master, name, sizeof(name)) != 0)
        snprintf(name, sizeof(name), "/dev/ptmx");
    struct iovec iov = {.iov_base = name, .iov_len = strlen(name)};
    if (mj_wire_send(sock, &iov, 1, &master, 1, MSG_NOSIGNAL) < 0) {
        *err = mj_error_sys(MJ_ERR_SANDBOX_INIT_FAILED, errno, "sending the terminal to %s", socket_path);
        return -1;
    }
    *slave = mj_steal_fd(&sl);
    return 0;
}

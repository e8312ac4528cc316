/* console.c — a command's terminal inside its sandbox (`run -t`, `exec -t`): a new pty of the
 * sandbox's own devpts instance, so `tty` prints the sandbox's /dev/pts/N, `ps` shows it and
 * ttyname() works.  Its master goes to the host over the command's channel (SCM_RIGHTS, an
 * MJ_MSG_PTY packet) for the host to relay to the user's terminal; its slave becomes the
 * command's stdio and controlling terminal.  Called by the one-shot init and the exec shims after
 * clone: raw system calls only, no allocation.
 * Never: touches a host terminal, or keeps a copy of the master (the host holds the only one). */
#define _GNU_SOURCE
#include <errno.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "console.h"
#include "proto.h"
#include "pty.h"
#include "util.h"
#include "wire.h"

int mj_console_open(int chan, uid_t uid, gid_t gid, unsigned short rows, unsigned short cols, int *slave)
{
    int master, sl;
    if (mj_pty_open_inside(uid, gid, &master, &sl) < 0)
        return -1;
    /* The user's window size from the start: the command may ask before the host relays anything. */
    struct winsize ws = {.ws_row = rows, .ws_col = cols};
    if (rows && cols)
        (void)ioctl(master, TIOCSWINSZ, &ws);
    mj_msg_t m = {.type = MJ_MSG_PTY, .t_ns = mj_realtime_ns()};
    struct iovec iov = {.iov_base = &m, .iov_len = sizeof(m)};
    ssize_t n = mj_wire_send(chan, &iov, 1, &master, 1, MSG_NOSIGNAL);
    int e = errno;
    close(master);
    if (n != (ssize_t)sizeof(m)) {
        close(sl);
        errno = n < 0 ? e : EPIPE;
        return -1;
    }
    *slave = sl;
    return 0;
}

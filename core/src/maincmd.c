/* maincmd.c — the supervisor's end of an OCI container's main command.
 *
 * The host starts the command like any other, flagged MJ_EXEC_MAIN (the spawner holds it before
 * execve: shim.c), and hands the host end of its channel to the supervisor (MJ_REQ_MAIN_WATCH).
 * From then the supervisor lets it go (START on the channel), passes signals to it, and reads its
 * end: the status the supervisor exits with, as a container's init does (the engine waits for
 * the supervisor's pid).  One per sandbox.
 * Owns: that channel and the container's two state flags.  Never: waits on the channel (every
 * send and receive is non-blocking), allocates, or ends anything itself (the supervisor does,
 * with the status it gets from here). */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "maincmd.h"
#include "proto.h"

static int main_chan = -1; /* the host end of the main command's channel, -1 without one */
static int main_flags;     /* MJ_SUP_MAIN_CREATED, MJ_SUP_MAIN_STARTED */

static void chan_send(uint32_t type, int32_t arg)
{
    mj_req_t req = {.magic = MJ_PROTO_MAGIC, .type = type, .len = 0, .arg = arg};
    (void)send(main_chan, &req, sizeof(req), MSG_NOSIGNAL | MSG_DONTWAIT);
}

int mj_maincmd_watch(int chan)
{
    if (main_chan >= 0)
        return EBUSY;
    main_chan = chan;
    main_flags |= MJ_SUP_MAIN_CREATED;
    return 0;
}

int mj_maincmd_start(void)
{
    if (main_chan < 0)
        return ENOENT;
    if (main_flags & MJ_SUP_MAIN_STARTED)
        return EALREADY;
    chan_send(MJ_CHAN_START, 0);
    main_flags |= MJ_SUP_MAIN_STARTED;
    return 0;
}

int mj_maincmd_signal(int sig)
{
    if (main_chan < 0)
        return ENOENT;
    if (sig <= 0 || sig >= NSIG)
        return EINVAL;
    chan_send(MJ_CHAN_SIGNAL, sig);
    return 0;
}

int mj_maincmd_fd(void)
{
    return main_chan;
}

int mj_maincmd_flags(void)
{
    return main_flags;
}

int mj_maincmd_read(void)
{
    mj_msg_t m;
    ssize_t r = recv(main_chan, &m, sizeof(m), MSG_DONTWAIT);
    if (r < 0 && (errno == EAGAIN || errno == EINTR))
        return -1;
    if (r != (ssize_t)sizeof(m))
        return 255; /* the channel closed without a word (the spawner is gone) */
    if (m.type == MJ_MSG_EXITED)
        return WIFEXITED(m.a) ? WEXITSTATUS(m.a) : WIFSIGNALED(m.a) ? 128 + WTERMSIG(m.a) : 255;
    if (m.type == MJ_MSG_EXEC_FAILED)
        return m.b == ENOENT ? 127 : 126; /* as a shell reports a command it could not run */
    return -1; /* STARTED, ACK: nothing ends */
}

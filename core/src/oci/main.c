/* oci/main.c — an OCI container's main process, from the host: the runtime-spec life cycle
 * (create → start → the process ends → the container is stopped) on a persistent sandbox.
 *
 * The container is a named sandbox whose supervisor is the process the engine waits for.  create
 * sends the main command (an exec request flagged MJ_EXEC_MAIN, with the engine's stdio: the
 * spawner forks it into the workload's pid namespace and holds it before execve), passes its
 * terminal on to the console socket when it has one (oci/console.c), and hands the host end of
 * its channel to the supervisor (maincmd.c), which lets it go on start, passes kill's signals to
 * it and exits with its status when it ends.
 * Owns: those four requests and their errors.  Never: builds the sandbox (sandbox.c) or the
 * exec request (process.c), keeps an fd of the command's. */
#define _GNU_SOURCE
#include <errno.h>
#include <unistd.h>

#include "client.h"
#include "error.h"
#include "oci/console.h"
#include "oci/main.h"
#include "process.h"
#include "proto.h"
#include "util.h"

static mj_error_t *refusal(mj_sandbox_t *sb, int e, const char *what)
{
    if (e == ENOENT)
        return mj_error_new(MJ_ERR_INVALID_STATE, e, "cannot %s: container %s has no main process", what,
                            mj_client_name(sb));
    if (e == EALREADY)
        return mj_error_new(MJ_ERR_INVALID_STATE, e, "cannot %s: container %s was started already", what,
                            mj_client_name(sb));
    if (e == EBUSY)
        return mj_error_new(MJ_ERR_INVALID_STATE, e, "cannot %s: container %s has a main process already", what,
                            mj_client_name(sb));
    return mj_client_state_error(sb, e, what);
}

static int main_request(mj_sandbox_t *sb, uint32_t type, int32_t arg, const int *fds, int nfds, const char *what,
                        mj_error_t **err)
{
    mj_rep_t rep;
    if (mj_client_request(sb, type, arg, NULL, 0, fds, nfds, 15, &rep, err) < 0)
        return -1;
    if (rep.type != MJ_REP_OK) {
        *err = refusal(sb, rep.err, what);
        return -1;
    }
    return 0;
}

int mj_oci_main_create(mj_sandbox_t *sb, const mj_command_t *cmd, const int io[3], const char *console_socket,
                       mj_error_t **err)
{
    cleanup_close int chan = -1;
    if (mj_process_send_exec(sb, cmd, MJ_EXEC_DETACHED | MJ_EXEC_MAIN, io, &chan, err) < 0)
        return -1;
    if (console_socket && mj_oci_console_relay(chan, console_socket, err) < 0)
        return -1;
    int fds[1] = {chan};
    return main_request(sb, MJ_REQ_MAIN_WATCH, 0, fds, 1, "create the main process", err);
}

int mj_oci_main_start(mj_sandbox_t *sb, mj_error_t **err)
{
    return main_request(sb, MJ_REQ_MAIN_START, 0, NULL, 0, "start", err);
}

int mj_oci_main_signal(mj_sandbox_t *sb, int sig, mj_error_t **err)
{
    if (sig <= 0 || sig >= 65) {
        *err = mj_error_new(MJ_ERR_INVALID_CONFIG, EINVAL, "signal %d is out of range", sig);
        return -1;
    }
    return main_request(sb, MJ_REQ_MAIN_SIGNAL, sig, NULL, 0, "kill", err);
}

int mj_oci_main_state(mj_sandbox_t *sb, bool *created, bool *started, bool *paused, mj_error_t **err)
{
    mj_rep_t rep;
    *created = *started = *paused = false;
    if (mj_client_frozen(sb)) {
        *created = *started = *paused = true;
        return 0;
    }
    if (mj_client_request(sb, MJ_REQ_STATUS, 0, NULL, 0, NULL, 0, 10, &rep, err) < 0)
        return -1;
    if (rep.type != MJ_REP_OK) {
        *err = refusal(sb, rep.err, "read the state");
        return -1;
    }
    *created = (rep.value & MJ_SUP_MAIN_CREATED) != 0;
    *started = (rep.value & MJ_SUP_MAIN_STARTED) != 0;
    *paused = (rep.value & MJ_SUP_PAUSED) != 0;
    return 0;
}

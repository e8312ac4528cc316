/* process.h — what detach.c and oci/main.c take from process.c: starting a detached command, an
 * OCI container's main command. */
#ifndef MJ_PROCESS_H
#define MJ_PROCESS_H

#include <moonjail/moonjail.h>
#include <stdint.h>
#include <sys/types.h>

#include "proto.h"

/* Sends the exec request of a detached command with io as its stdin, stdout and stderr (the
 * sandbox's ends, still the caller's to close) and waits for it to start: the host end of its
 * channel (the caller's) and its pid inside. */
int mj_process_start_detached(mj_sandbox_t *sb, const mj_command_t *cmd, int io[3], int *chan, pid_t *pid,
                              mj_error_t **err);
/* Sends the exec request of a command for the OCI runtime (oci/main.c, oci/exec.c) with flags
 * MJ_EXEC_DETACHED, MJ_EXEC_MAIN (held before execve until START comes on its channel: shim.c)
 * and io as its stdio (the caller's still): the host end of its channel (the caller's), without
 * waiting for anything (with a terminal, the pty's master comes first on the channel). */
int mj_process_send_exec(mj_sandbox_t *sb, const mj_command_t *cmd, uint32_t flags, const int io[3], int *chan,
                         mj_error_t **err);
/* The error for a command that never ran (m: its EXEC_FAILED message). */
mj_error_t *mj_process_not_started_error(mj_sandbox_t *sb, const char *argv0, const mj_msg_t *m);
/* Asks a detached command's shim, over its channel, to kill the command and everything it started. */
void mj_process_kill_detached(int chan);
/* A named sandbox's log directory (logfile.c), allocated; NULL for an anonymous one. */
char *mj_process_log_dir(const mj_sandbox_t *sb);

#endif

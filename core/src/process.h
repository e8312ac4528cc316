/* process.h — what detach.c takes from process.c: starting a detached command. */
#ifndef MJ_PROCESS_H
#define MJ_PROCESS_H

#include <moonjail/moonjail.h>
#include <sys/types.h>

/* Sends the exec request of a detached command with io as its stdin, stdout and stderr (the
 * sandbox's ends, still the caller's to close) and waits for it to start: the host end of its
 * channel (the caller's) and its pid inside. */
int mj_process_start_detached(mj_sandbox_t *sb, const mj_command_t *cmd, int io[3], int *chan, pid_t *pid,
                              mj_error_t **err);
/* Asks a detached command's shim, over its channel, to kill the command and everything it started. */
void mj_process_kill_detached(int chan);
/* A named sandbox's log directory (logfile.c), allocated; NULL for an anonymous one. */
char *mj_process_log_dir(const mj_sandbox_t *sb);

#endif

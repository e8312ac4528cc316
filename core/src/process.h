/* process.h — what process.c offers inside the library besides the public mj_sandbox_exec,
 * mj_sandbox_spawn* and mj_process_* (moonjail.h). */
#ifndef MJ_PROCESS_H
#define MJ_PROCESS_H

#include <moonjail/moonjail.h>
#include <stdint.h>

/* Builds and sends an exec request for cmd with stdio io (borrowed; passed to the sandbox) and
 * flags (MJ_EXEC_DETACHED, MJ_EXEC_MAIN; the command's own flags come from cmd); on success
 * *chan is the host end of the command's channel and *workdir_out (when not NULL) the workdir it
 * runs in, malloc'ed. */
int mj_process_start_exec(mj_sandbox_t *sb, const mj_command_t *cmd, uint32_t flags, const int io[3], int *chan,
                          char **workdir_out, mj_error_t **err);

#endif

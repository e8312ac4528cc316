/* oci/exec.h — `exec --detach` of the OCI runtime (oci/exec.c). */
#ifndef MJ_OCI_EXEC_H
#define MJ_OCI_EXEC_H

#include <moonjail/moonjail.h>
#include <sys/types.h>

/* Starts cmd in the container's sandbox with io as its stdio (borrowed), or with console_socket
 * (cmd has a tty) a terminal of the sandbox's own whose master goes to that socket; once it has
 * started, forks the host process that stands for it (*stand_in_pid, a child of the caller): it
 * exits with the command's status and passes the usual signals on to it. */
int mj_oci_exec_detached(mj_sandbox_t *sb, const mj_command_t *cmd, const char *argv0, const int io[3],
                         const char *console_socket, pid_t *stand_in_pid, mj_error_t **err);

#endif

/* oci/main.h — an OCI container's main process on a persistent sandbox (oci/main.c). */
#ifndef MJ_OCI_MAIN_H
#define MJ_OCI_MAIN_H

#include <moonjail/moonjail.h>

/* Hands cmd to the sandbox as its main command: the spawner holds it, before execve, until
 * mj_oci_main_start; its stdio is io (borrowed: passed in, never kept here), or with
 * console_socket (cmd has a tty) a terminal of the sandbox's own whose master goes to that
 * socket.  The supervisor keeps
 * the command's channel and exits with the command's status when it ends (128+N for signal N,
 * 127/126 when it could not be executed), taking the sandbox's other processes with it.  One
 * per sandbox: a second is INVALID_STATE. */
int mj_oci_main_create(mj_sandbox_t *sb, const mj_command_t *cmd, const int io[3], const char *console_socket,
                       mj_error_t **err);
/* Lets the main command start; INVALID_STATE when there is none or it started already. */
int mj_oci_main_start(mj_sandbox_t *sb, mj_error_t **err);
/* Sends sig to the main command (before it started, a signal that ends a process ends it). */
int mj_oci_main_signal(mj_sandbox_t *sb, int sig, mj_error_t **err);
/* The supervisor's state: *created (a main command was handed over), *started (and let go),
 * *paused.  A supervisor that is gone is SANDBOX_NOT_FOUND. */
int mj_oci_main_state(mj_sandbox_t *sb, bool *created, bool *started, bool *paused, mj_error_t **err);

#endif

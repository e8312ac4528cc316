/* oci/console.h — the runtime-spec console socket (oci/console.c). */
#ifndef MJ_OCI_CONSOLE_H
#define MJ_OCI_CONSOLE_H

#include <moonjail/moonjail.h>

/* Takes the pty master a main command with a terminal sends first on chan (its channel's host
 * end; within 30 s), checks it is one, sends it to the unix stream socket at socket_path
 * (SCM_RIGHTS, the pty's name as the payload, as runc and crun do) and closes it here. */
int mj_oci_console_relay(int chan, const char *socket_path, mj_error_t **err);

#endif

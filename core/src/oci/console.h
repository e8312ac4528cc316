/* oci/console.h — the runtime-spec console socket (oci/console.c). */
#ifndef MJ_OCI_CONSOLE_H
#define MJ_OCI_CONSOLE_H

#include <moonjail/moonjail.h>

/* Opens a fresh pseudo-terminal pair (the host's devpts), sends its master to the unix stream
 * socket at socket_path (SCM_RIGHTS, the pty's name as the payload, as runc and crun do) and
 * closes it here; *slave is the slave, for the container's main process. */
int mj_oci_console_open(const char *socket_path, int *slave, mj_error_t **err);

#endif

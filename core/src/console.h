/* console.h — a command's terminal inside its sandbox (console.c). */
#ifndef MJ_CONSOLE_H
#define MJ_CONSOLE_H

#include <sys/types.h>

/* Opens a pty of the sandbox's own devpts for a command that runs as uid:gid, sends its master to
 * the host over chan (one MJ_MSG_PTY packet carrying it; a socket), keeps none of it, and gives
 * the slave, which becomes the command's stdio and controlling terminal.  -1 with errno. */
int mj_console_open(int chan, uid_t uid, gid_t gid, unsigned short rows, unsigned short cols, int *slave);

#endif

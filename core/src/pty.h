/* pty.h — pseudo-terminals for commands with a tty, and the caller's terminal (pty.c). */
#ifndef MJ_PTY_H
#define MJ_PTY_H

#include <stdbool.h>
#include <sys/types.h>

struct termios;

/* Inside a sandbox, after clone (raw system calls only): a new pty of the sandbox's own devpts
 * (/dev/pts/ptmx), unlocked, its slave opened through the master (TIOCGPTPEER, so it is this
 * master's slave whatever /dev/pts names) and handed to uid:gid (best effort).  Both O_CLOEXEC;
 * -1 with errno. */
int mj_pty_open_inside(uid_t uid, gid_t gid, int *master, int *slave);
/* Host side: is fd a pty master (a ptmx clone that knows its pty number)?  What a sandbox hands
 * over as its command's terminal must be one. */
bool mj_pty_is_master(int fd);
/* Copies the window size of terminal from to terminal to. */
void mj_pty_copy_winsize(int from, int to);
/* Puts a terminal fd in raw mode (false when fd is no terminal); restore with mj_tty_restore. */
bool mj_tty_raw(int fd, struct termios *saved);
void mj_tty_restore(int fd, const struct termios *saved);

#endif

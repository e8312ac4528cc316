/* pty.h — pseudo-terminals for commands with a tty, and the caller's terminal (pty.c). */
#ifndef MJ_PTY_H
#define MJ_PTY_H

#include <moonjail/moonjail.h>
#include <stdbool.h>

struct termios;

/* A new pty pair, both ends O_CLOEXEC (the slave becomes the command's stdio). */
int mj_pty_open(int *master, int *slave, mj_error_t **err);
/* Copies the window size of terminal from to terminal to. */
void mj_pty_copy_winsize(int from, int to);
/* Puts a terminal fd in raw mode (false when fd is no terminal); restore with mj_tty_restore. */
bool mj_tty_raw(int fd, struct termios *saved);
void mj_tty_restore(int fd, const struct termios *saved);

#endif

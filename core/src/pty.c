/* pty.c — pseudo-terminals for commands: a fresh pair from the host's devpts whose slave goes into
 * the sandbox (never the caller's own terminal: no TIOCSTI into the user's shell), the caller's
 * terminal in raw mode while the command runs, and window sizes copied across. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "error.h"
#include "pty.h"

int mj_pty_open(int *master, int *slave, mj_error_t **err)
{
    int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    char name[128];
    if (m < 0 || grantpt(m) < 0 || unlockpt(m) < 0 || ptsname_r(m, name, sizeof(name)) != 0) {
        *err = mj_error_sys(MJ_ERR_COMMAND_EXECUTION_FAILED, errno, "allocating a pseudo-terminal");
        if (m >= 0)
            close(m);
        return -1;
    }
    int sl = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (sl < 0) {
        *err = mj_error_sys(MJ_ERR_COMMAND_EXECUTION_FAILED, errno, "opening %s", name);
        close(m);
        return -1;
    }
    *master = m;
    *slave = sl;
    return 0;
}

void mj_pty_copy_winsize(int from, int to)
{
    struct winsize ws;
    if (from >= 0 && to >= 0 && ioctl(from, TIOCGWINSZ, &ws) == 0)
        (void)ioctl(to, TIOCSWINSZ, &ws);
}

bool mj_tty_raw(int fd, struct termios *saved)
{
    if (fd < 0 || !isatty(fd) || tcgetattr(fd, saved) < 0)
        return false;
    struct termios raw = *saved;
    cfmakeraw(&raw);
    return tcsetattr(fd, TCSANOW, &raw) == 0;
}

void mj_tty_restore(int fd, const struct termios *saved)
{
    (void)tcsetattr(fd, TCSANOW, saved);
}

/* pty.c — pseudo-terminals for commands: a pair from the sandbox's own devpts instance (opened
 * inside, by its init or an exec shim, with raw system calls only), the host's check that what
 * the sandbox handed over is a pty master, the caller's terminal in raw mode while the command
 * runs, and window sizes copied across.  Never: a host pty or the caller's own terminal inside a
 * sandbox (no TIOCSTI into the user's shell). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <termios.h>
#include <unistd.h>

#include "pty.h"

int mj_pty_open_inside(uid_t uid, gid_t gid, int *master, int *slave)
{
    int m = open("/dev/pts/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (m < 0)
        return -1;
    int unlock = 0;
    int sl = ioctl(m, TIOCSPTLCK, &unlock) < 0 ? -1 : ioctl(m, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (sl < 0) {
        int e = errno;
        close(m);
        errno = e;
        return -1;
    }
    if (fchown(sl, uid, gid) < 0) { /* best effort: the command keeps its open fds either way */
    }
    *master = m;
    *slave = sl;
    return 0;
}

bool mj_pty_is_master(int fd)
{
    struct stat st;
    int n;
    return fstat(fd, &st) == 0 && S_ISCHR(st.st_mode) && major(st.st_rdev) == 5 && minor(st.st_rdev) == 2 &&
           ioctl(fd, TIOCGPTN, &n) == 0;
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

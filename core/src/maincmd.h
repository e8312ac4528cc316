/* maincmd.h — the supervisor's end of an OCI container's main command (maincmd.c). */
#ifndef MJ_MAINCMD_H
#define MJ_MAINCMD_H

/* Takes chan, the host end of an MJ_EXEC_MAIN command's channel: 0, or EBUSY when there is one
 * already (chan stays the caller's). */
int mj_maincmd_watch(int chan);
/* Lets the held command go: 0, ENOENT (none) or EALREADY. */
int mj_maincmd_start(void);
/* Passes sig to the command: 0, ENOENT or EINVAL. */
int mj_maincmd_signal(int sig);
/* The channel to poll, -1 without one. */
int mj_maincmd_fd(void);
/* MJ_SUP_MAIN_CREATED and MJ_SUP_MAIN_STARTED, for the status reply. */
int mj_maincmd_flags(void);
/* Reads what the channel has: the status the container ends with (the command's exit code,
 * 128+N for signal N, 127/126 when it could not be executed, 255 when the channel closed without
 * a word), or -1 when nothing ends. */
int mj_maincmd_read(void);

#endif

/* proto.h — the wire format between the host and a sandbox: the status messages (mj_msg_t) its
 * first process and the exec shims send, and the requests and replies between the host and a
 * persistent sandbox's supervisor.  Unix SOCK_SEQPACKET (or a pipe for a one-shot run's status):
 * one message per packet, fixed headers, lengths checked on both sides.  The host treats every
 * byte it receives as hostile; the supervisor checks every request.  Formats only: wire.c moves
 * them. */
#ifndef MJ_PROTO_H
#define MJ_PROTO_H

#include <stdint.h>

/* sandbox -> host: the status channel of a one-shot run (a pipe), the supervisor's control
 * connection while it starts, and each command's channel (from its exec shim) */
enum {
    MJ_MSG_SETUP_FAILED = 1, /* a = stage, b = errno, c = op index */
    MJ_MSG_STARTED,          /* a = pid of the command inside, t_ns = realtime */
    MJ_MSG_EXEC_FAILED,      /* b = errno */
    MJ_MSG_EXITED,           /* a = wait status, c = 1 when a tmpfs of the sandbox is full, t_ns = realtime,
                              * u1/u2 = utime/stime us, u3 = maxrss KiB */
    MJ_MSG_READY,            /* supervisor: set up and serving; t_ns = realtime */
    MJ_MSG_DENIED,           /* one-shot init: the filter refused a system call; a = nr, b = pid inside */
    MJ_MSG_ACK,              /* spawner: a = the channel request (MJ_CHAN_*) it carried out, b = its arg */
    MJ_MSG_PTY,              /* a command on a terminal: carries the pty's master (SCM_RIGHTS); sent
                              * before STARTED, on a socket (the status channel of a one-shot run with
                              * a tty is one too) */
};

typedef struct {
    uint32_t type;
    int32_t a;
    int32_t b;
    int32_t c;
    int64_t t_ns;
    uint64_t u1, u2, u3;
} mj_msg_t;

#define MJ_PROTO_MAGIC 0x4d4a5031u /* "MJP1" */
#define MJ_PROTO_MAX (256u * 1024u)
#define MJ_PROTO_MAX_ARGS 4096u
#define MJ_PROTO_MAX_ENV 4096u
#define MJ_PROTO_MAX_PATHS 64u

/* host -> supervisor (control connection); each gets one mj_rep_t back.  An EXEC's reply says the
 * supervisor handed it on; the spawner's verdict comes on the command's channel (STARTED, or
 * EXEC_FAILED with stage MJ_EXEC_STAGE_REQUEST and the errno of a refused request). */
enum {
    MJ_REQ_PING = 1,
    MJ_REQ_EXEC,        /* payload mj_exec_req_t + strings; fds: stdin, stdout, stderr, channel */
    MJ_REQ_SIGNAL_ALL,  /* arg = signal */
    MJ_REQ_PAUSE,
    MJ_REQ_RESUME,
    MJ_REQ_STOP,        /* arg = grace in ms */
    MJ_REQ_SHUTDOWN,    /* arg = linger in ms */
    MJ_REQ_STATUS,      /* rep.value = MJ_SUP_* flags */
    MJ_REQ_ROOT_FD,     /* reply carries an O_PATH fd of the sandbox's "/" (SCM_RIGHTS); arg 1: of its
                         * container layer (ENOENT when it has none) */
    MJ_REQ_DENIALS,     /* reply: mj_rep_t (value = n) + n mj_denial_rec_t, then forgotten */
    MJ_REQ_RULESET,     /* reply value 1 + the commands' Landlock ruleset fd (SCM_RIGHTS); value 0: none */
    MJ_REQ_DETACH,      /* a named sandbox's creator published it: its going away no longer ends it */
    MJ_REQ_START,       /* a stopped sandbox takes commands again */
    /* the main command of an OCI container (maincmd.c, core/src/oci/main.c): one per sandbox */
    MJ_REQ_MAIN_WATCH,  /* fd: the host end of the channel of an MJ_EXEC_MAIN command, handed over */
    MJ_REQ_MAIN_START,  /* let the main command run (MJ_CHAN_START on its channel) */
    MJ_REQ_MAIN_SIGNAL, /* arg = signal, to the main command (before it runs: it ends with it) */
};

/* host -> exec shim (per-command channel) */
enum {
    MJ_CHAN_SIGNAL = 100, /* arg = signal, to the command */
    MJ_CHAN_KILL_TREE,    /* the command and everything it started */
    MJ_CHAN_START,        /* an MJ_EXEC_MAIN command, held before execve, may run now */
};

#define MJ_EXEC_DETACHED 0x1u
#define MJ_EXEC_READ_ONLY 0x2u /* Landlock: no writes for this command */
#define MJ_EXEC_TTY 0x4u       /* a pty of the sandbox's own (console.c) instead of the stdio fds */
#define MJ_EXEC_NO_NETWORK 0x8u /* Landlock: no TCP bind/connect for this command */
#define MJ_EXEC_MAIN 0x10u      /* an OCI container's main command: held before execve until MJ_CHAN_START */

#define MJ_SUP_PAUSED 0x1
#define MJ_SUP_STOPPED 0x2
#define MJ_SUP_SHUTTING_DOWN 0x4
#define MJ_SUP_STOPPING 0x8 /* a stop is under way (its grace period) */
#define MJ_SUP_EXPIRED 0x10/* stopped by itself at the end of its lifetime */
#define MJ_SUP_MAIN_CREATED 0x20 /* a main command was handed over (MJ_REQ_MAIN_WATCH) */
#define MJ_SUP_MAIN_STARTED 0x40 /* … and let go: when it ends, the supervisor exits with its status */

typedef struct {
    uint32_t magic;
    uint32_t type;
    uint32_t len; /* payload bytes after this header */
    int32_t arg;
} mj_req_t;

typedef struct {
    uint32_t uid, gid;
    uint32_t flags;
    uint32_t argc, envc;
    uint32_t npaths; /* restrict_paths, at most MJ_PROTO_MAX_PATHS */
    uint16_t tty_rows, tty_cols; /* MJ_EXEC_TTY: the caller's window size, 0 = unknown */
    /* then: workdir\0 argv[0]\0 … argv[argc-1]\0 env[0]\0 … env[envc-1]\0 path[0]\0 … */
} mj_exec_req_t;

enum { MJ_REP_OK = 1, MJ_REP_ERR };

typedef struct {
    uint32_t magic;
    uint32_t type;  /* MJ_REP_OK / MJ_REP_ERR */
    int32_t err;    /* errno for MJ_REP_ERR */
    int32_t value;
} mj_rep_t;

typedef struct {
    int32_t nr;
    int32_t pid;
} mj_denial_rec_t;

#define MJ_DENIALS_MAX 256

#endif

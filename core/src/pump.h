/* pump.h — the host-side loop that carries a command's stdio and status (pump.c). */
#ifndef MJ_PUMP_H
#define MJ_PUMP_H

#include <moonjail/moonjail.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "logfile.h"
#include "proto.h"
#include "util.h"

#define MJ_RESULT_DENIALS_MAX 64 /* refusals a one-shot result lists (all are counted) */
/* With acks: seconds the sandbox side has to acknowledge a forwarded signal or kill, and to
 * report the exit of a command it was told to kill, before the pump stops waiting for it. */
#define MJ_PUMP_ACK_GRACE 5.0
#define MJ_PUMP_KILL_GRACE 10.0

/* One command's stdio and status, carried by mj_pump_run. */
typedef struct {
    /* set by the caller */
    int out_r, err_r, status_fd, stdin_w; /* owned: closed by mj_pump_close */
    const char *stdin_data;               /* borrowed */
    size_t stdin_len;
    int relay_r;                          /* borrowed host fd relayed to stdin */
    uint64_t limit;
    int tee_out, tee_err;                 /* borrowed */
    bool no_capture;                      /* count and tee the output, keep none of it */
    const char *log_dir;                  /* borrowed: also keep the output in a log there (a named
                                           * sandbox's), opened when STARTED names the pid; output
                                           * waits in its pipes until then */
    uint64_t log_max;
    mj_log_t *log;                        /* owned (closed by mj_pump_close); set by the caller or at STARTED */
    int log_errno;                        /* the log could not be opened */
    bool forward_signals;
    bool stop_on_exit;                    /* persistent exec: done at EXITED, not at EOF */
    bool acks;                            /* the sandbox side ACKs signals and kills (a spawner) */
    double deadline;                      /* monotonic seconds, 0 = none */
    double timeout;                       /* the command's, seconds, 0 = none (re-based at STARTED) */
    double cpu_limit;                     /* CPU seconds of the whole group, 0 = none (needs cpu_usage) */
    int (*cpu_usage)(void *ctx, double *seconds);
    void (*kill)(void *ctx);
    void (*signal)(void *ctx, int sig);
    void *ctx;
    /* state */
    int sig_fd;
    size_t stdin_off;
    char relay_buf[65536];
    size_t relay_len, relay_off;
    unsigned char msg_buf[sizeof(mj_msg_t)];
    size_t msg_len;
    uint64_t total;
    /* what happened */
    bool got_started, got_exited, got_exec_failed, got_setup_failed;
    double started_mono, exited_mono; /* CLOCK_MONOTONIC when STARTED / EXITED arrived */
    double ack_due, exit_due;         /* with acks: when an ACK / the EXITED after a kill is overdue */
    bool unresponsive;                /* with acks: one was overdue, the pump stopped waiting */
    mj_denial_t denials[MJ_RESULT_DENIALS_MAX];
    size_t n_denials;
    uint64_t denials_total;
    mj_msg_t started, exited, failed;
    bool timed_out, over_limit, killed, over_cpu;
    mj_buf_t out, err, combined;
} mj_pump_t;

/* All fds -1, nothing captured. */
void mj_pump_init(mj_pump_t *p);
/* Takes what a command asks of its pump: the output cap, the tees, signal forwarding, the deadline
 * (timeout after released, a CLOCK_MONOTONIC time, and again after the command's STARTED) and its
 * stdin (bytes, or a relayed fd). */
void mj_pump_take_command(mj_pump_t *p, const mj_command_t *cmd, double released);
/* A command on a terminal of the sandbox's own: its first message on status_fd (a socket) carries
 * the pty's master (MJ_MSG_PTY), which becomes out_r and, duplicated, stdin_w.  Any other first
 * message is taken as mj_pump_run would take it (a setup or exec failure: the pump then runs
 * without a terminal and reports it).  Waits at most timeout seconds for it; -1 with the error
 * when none came, or what came with it is no pty master. */
int mj_pump_take_pty(mj_pump_t *p, double timeout, mj_error_t **err);
/* Runs until the command is done (EOF on everything, or its EXITED with stop_on_exit), killing it
 * at the deadline, the CPU limit or the output cap; -1 with the error when the loop itself failed. */
int mj_pump_run(mj_pump_t *p, mj_error_t **err);
/* Takes what can be read from *fd now (a command's stdout, or its stderr when is_err) into the
 * captures, in arrival order, under the output cap (passing it calls kill); closes *fd at EOF.
 * For hosts that drive their own loop (a spawned process's wait). */
void mj_pump_take_output(mj_pump_t *p, int *fd, bool is_err);
/* Closes the owned fds and frees the captured output (what mj_result_from_pump did not take). */
void mj_pump_close(mj_pump_t *p);
#define cleanup_pump __attribute__((cleanup(mj_pump_close)))

#endif

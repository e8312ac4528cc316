/* netsetup.h — a networked sandbox's moonjail-net (netsetup.c): found, started in the sandbox's
 * namespaces before its command runs, waited for, asked for its counters, ended with it. */
#ifndef MJ_NETSETUP_H
#define MJ_NETSETUP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "plan.h"

/* A started helper, as the host keeps it.  Strings owned (mj_netsetup_clear). */
typedef struct {
    pid_t pid;                    /* moonjail-net on the host, -1 = none */
    unsigned long long starttime; /* of pid (/proc/PID/stat), so a reused pid is never killed */
    int status_r;                 /* its status pipe: "stats …" arrives here when it ends; -1 = none */
    char *dir;                    /* its directory: resolv.conf and the control socket */
    char *engine;                 /* outbound: "pasta" or "slirp4netns" */
    char *ip;                     /* the sandbox's address where known, else NULL */
} mj_netsetup_t;

#define MJ_NETSETUP_INIT {.pid = -1, .starttime = 0, .status_r = -1, .dir = NULL, .engine = NULL, .ip = NULL}

/* True for the modes that need moonjail-net (outbound, filtered). */
bool mj_netsetup_wanted(const mj_plan_t *plan);

/* Host side, before the clone: finds the helper (fail closed: UNSUPPORTED naming where it looked),
 * makes the sandbox's network directory <state>/net/<id> (owner-only) with an empty resolv.conf in
 * it, and points the plan at that file: the generated /etc's copy (base[resolv_base], an fd) or
 * the resolv.conf bind (ops[resolv_op]). */
int mj_netsetup_prepare(mj_plan_t *plan, const char *id, mj_error_t **err);

/* Host side, after the sandbox's uid/gid maps are written and before it is released: starts
 * moonjail-net on the sandbox's user and network namespaces (pid, pidfd: its first process) and
 * waits for "ready" (10 s at most).  Then writes the sandbox's resolv.conf (etc.c's text with the
 * DNS address the helper named).  The helper runs in a session of its own (it outlives this
 * process with a named sandbox and ends by itself when the sandbox's first process does).  On
 * failure the helper is gone and the error says why (its own "error …" line, or what is
 * missing). */
int mj_netsetup_start(mj_plan_t *plan, pid_t pid, int pidfd, mj_netsetup_t *out, mj_error_t **err);

/* `moonjail-net probe` (moonjail doctor): the helper's path and its line ("pasta=/usr/bin/pasta
 * slirp4netns=missing"), both owned by the caller; -1 with the error when the helper is missing or
 * does not answer within 5 s. */
int mj_netsetup_probe(char **helper, char **line, mj_error_t **err);

/* Reads the counters from the helper's control socket in dir: bytes towards the sandbox (in) and
 * from it (out). */
int mj_netsetup_stats(const char *dir, uint64_t *in, uint64_t *out, mj_error_t **err);

/* Ends the helper (SIGTERM, then SIGKILL after grace seconds; reaped when it is our child), and
 * removes its directory.  Idempotent; for a helper found in a dead sandbox's state too (pid,
 * starttime and dir loaded from there). */
void mj_netsetup_stop(mj_netsetup_t *h, double grace);
/* Frees the strings and closes the status pipe; the helper itself is left alone. */
void mj_netsetup_clear(mj_netsetup_t *h);

#endif

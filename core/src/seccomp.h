/* seccomp.h — the workload's system-call filter and moonjail's own (seccomp.c): compiled on the
 * host at plan time, loaded after clone with raw system calls only. */
#ifndef MJ_SECCOMP_H
#define MJ_SECCOMP_H

#include <moonjail/moonjail.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct mj_plan mj_plan_t;

/* Plan time: compiles the config's profile into plan->seccomp (cached per profile). */
int mj_seccomp_compile(const mj_config_t *cfg, mj_plan_t *plan, mj_error_t **err);
/* In the command's child (or the sandbox's pid 1), after no_new_privs or with CAP_SYS_ADMIN in
 * its user namespace: loads the plan's filters (raw system calls only). */
int mj_seccomp_load(const mj_plan_t *plan);
/* The same, returning a user-notification listener fd (plan->seccomp_notify), -1 on failure. */
int mj_seccomp_load_listener(const mj_plan_t *plan);
/* The native system call nr's name (a string that lives as long as the process), NULL when
 * libseccomp does not know it. */
const char *mj_seccomp_syscall_name(int nr);
/* The one-shot init's own filter, once its command runs: it may only wait, signal, write its
 * reports and exit (a fixed list, no libseccomp after clone); notify: it also serves the command's
 * listener fd (ppoll, read of its signalfd, and the two SECCOMP_IOCTL_NOTIF_* ioctls).  -1 with
 * errno on failure. */
int mj_seccomp_load_init(bool notify);
/* The persistent supervisor's own filter, on top of the workload's, once it has forked its
 * spawner: serving requests needs no fork, exec, mount or file writes.  notify: it answers the
 * workload's seccomp notifications too. */
int mj_seccomp_load_supervisor(bool notify);
/* Answers one pending notification of listener with EPERM (what an unlogged refusal returns);
 * the refused system call's number and caller (pid inside).  -1 when none could be read. */
int mj_seccomp_refuse_one(int listener, int32_t *nr, int32_t *pid);

#endif

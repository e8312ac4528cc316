/* confine.h — a worker thread that acts as a sandbox's user for the host (confine.c). */
#ifndef MJ_CONFINE_H
#define MJ_CONFINE_H

#include <stdbool.h>
#include <sys/types.h>

/* Who the worker becomes. */
typedef struct {
    bool switch_ids; /* host root: uid/gid below, no supplementary groups, no bounding set; otherwise
                      * (rootless) the caller's own ids and groups, which are its commands' too */
    uid_t uid;
    gid_t gid;
    int ruleset;     /* the commands' Landlock ruleset (borrowed), -1 for none */
} mj_confine_creds_t;

typedef struct mj_confined mj_confined_t;

/* Starts a worker thread that takes on creds — and no capability, and no_new_privs — for good;
 * -1 with errno when it could not start or take them on (nothing then runs). */
int mj_confine_start(const mj_confine_creds_t *creds, mj_confined_t **out);
/* Runs fn(arg) on the worker and waits for it: fn's result, with errno as fn left it. */
int mj_confine_run(mj_confined_t *c, int (*fn)(void *arg), void *arg);
/* Ends the worker and frees it (NULL is fine). */
void mj_confine_stop(mj_confined_t *c);

#endif

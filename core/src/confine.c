/* confine.c — a worker thread that acts as a sandbox's user, so that the host's operations on the
 * sandbox's files see exactly what its commands see.
 *
 * The kernel keeps credentials per thread; glibc's setgroups/setresuid wrappers broadcast a change
 * to every thread of the process (an embedding host's threads too).  So the worker changes only
 * its own, with raw system calls: the sandbox user's ids without supplementary groups (host
 * root; a rootless caller's ids and groups are its commands' already), then no capability at all
 * (the switch from root already empties them; done again for a caller that keeps some), then
 * no_new_privs and landlock_restrict_self on the commands' ruleset.  None of that can be undone,
 * so a worker serves one sandbox (its handle keeps it) and ends with it; the calling thread keeps
 * its credentials for the host's side (where a copy out writes).  Only the calls the host hands
 * it run on it, one at a time; it takes no signal.
 * Never: touches the process's credentials through glibc, or serves another sandbox. */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>

#include "caps.h"
#include "confine.h"
#include "landlock.h"
#include "util.h"

typedef enum { STARTING, READY, FAILED, JOB, DONE, QUIT } worker_state_t;

struct mj_confined {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    mj_confine_creds_t creds;
    int last_cap;
    worker_state_t state;
    int (*fn)(void *arg);
    void *arg;
    int result, err;
};

/* On the worker itself: becomes the sandbox's user for good. */
static int take_on(const mj_confined_t *c)
{
    const mj_confine_creds_t *cr = &c->creds;
    if (cr->switch_ids && mj_caps_drop_and_setid(0, c->last_cap, cr->uid, cr->gid, true) < 0)
        return -1;
    if (mj_caps_clear() < 0 || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        return -1;
    return mj_landlock_restrict(cr->ruleset);
}

static void set_state(mj_confined_t *c, worker_state_t state)
{
    c->state = state;
    pthread_cond_broadcast(&c->cond);
}

static void *worker(void *arg)
{
    mj_confined_t *c = arg;
    int failed = take_on(c) < 0;
    pthread_mutex_lock(&c->lock);
    c->err = failed ? errno : 0;
    set_state(c, failed ? FAILED : READY);
    while (!failed) {
        while (c->state != JOB && c->state != QUIT)
            pthread_cond_wait(&c->cond, &c->lock);
        if (c->state == QUIT)
            break;
        pthread_mutex_unlock(&c->lock);
        errno = 0;
        int r = c->fn(c->arg);
        int e = errno;
        pthread_mutex_lock(&c->lock);
        c->result = r;
        c->err = e;
        set_state(c, DONE);
    }
    pthread_mutex_unlock(&c->lock);
    return NULL;
}

/* Waits (holding c->lock) until the worker leaves state. */
static void wait_while(mj_confined_t *c, worker_state_t state)
{
    while (c->state == state)
        pthread_cond_wait(&c->cond, &c->lock);
}

int mj_confine_start(const mj_confine_creds_t *creds, mj_confined_t **out)
{
    *out = NULL;
    mj_confined_t *c = mj_xcalloc(1, sizeof(*c));
    c->creds = *creds;
    c->last_cap = creds->switch_ids ? mj_caps_last_cap() : 0;
    c->state = STARTING;
    pthread_mutex_init(&c->lock, NULL);
    pthread_cond_init(&c->cond, NULL);
    /* The worker takes no signal: the host's handlers run on its own threads. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&c->thread, NULL, worker, c);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        pthread_mutex_destroy(&c->lock);
        pthread_cond_destroy(&c->cond);
        free(c);
        errno = rc;
        return -1;
    }
    pthread_mutex_lock(&c->lock);
    wait_while(c, STARTING);
    int failed = c->state == FAILED ? c->err : 0;
    pthread_mutex_unlock(&c->lock);
    if (failed) {
        mj_confine_stop(c);
        errno = failed;
        return -1;
    }
    *out = c;
    return 0;
}

int mj_confine_run(mj_confined_t *c, int (*fn)(void *arg), void *arg)
{
    pthread_mutex_lock(&c->lock);
    while (c->state != READY) /* one job at a time, whoever hands them */
        pthread_cond_wait(&c->cond, &c->lock);
    c->fn = fn;
    c->arg = arg;
    set_state(c, JOB);
    wait_while(c, JOB);
    int r = c->result, e = c->err;
    set_state(c, READY);
    pthread_mutex_unlock(&c->lock);
    errno = e;
    return r;
}

void mj_confine_stop(mj_confined_t *c)
{
    if (!c)
        return;
    int e = errno;
    pthread_mutex_lock(&c->lock);
    set_state(c, QUIT);
    pthread_mutex_unlock(&c->lock);
    pthread_join(c->thread, NULL);
    pthread_mutex_destroy(&c->lock);
    pthread_cond_destroy(&c->cond);
    free(c);
    errno = e;
}

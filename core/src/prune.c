/* prune.c — what crashes leave of sandboxes on the host, removed: the state of named sandboxes
 * whose supervisor is gone (failed ones, and lingering shutdowns that ended), the hidden
 * directories of creations and removals that never finished (state.h: .new-<id>, .rm-<id>), the
 * claims of creators that died, cgroup directories no process is in and no creation claims, and
 * the network helper (netsetup.c) a dead sandbox's state names, with its engine and directory.
 * A creation of a named sandbox becomes visible only once it is up (renamed into its name), and a
 * removal starts by renaming it away, so a SIGKILL at any point leaves either a listed sandbox or
 * something this removes (SECURITY.md, "Crash windows").
 * Never: touches a sandbox whose supervisor is alive (its lock is held), but for a half-removed
 * one, whose removal it finishes; signals a pid without checking its start time first. */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <time.h>

#include "cgroup.h"
#include "error.h"
#include "netsetup.h"
#include "proc.h"
#include "prune.h"
#include "state.h"
#include "util.h"

/* The id, supervisor pid and start time a state directory's "state" file names (id from the
 * directory's own name when it has none yet). */
typedef struct {
    char id[33];
    pid_t pid;
    unsigned long long starttime;
    mj_netsetup_t net; /* its network helper (outbound/filtered), when the state names one */
} state_facts_t;

static void read_facts(const char *dir, state_facts_t *f)
{
    memset(f, 0, sizeof(*f));
    f->net = (mj_netsetup_t)MJ_NETSETUP_INIT;
    const char *leaf = strrchr(dir, '/');
    leaf = leaf ? leaf + 1 : dir;
    const char *dash = leaf[0] == '.' ? strchr(leaf, '-') : NULL;
    if (dash && mj_cgroup_id_is_valid(dash + 1))
        snprintf(f->id, sizeof(f->id), "%s", dash + 1);
    cleanup_free char *text = mj_state_read_file(dir, "state", NULL);
    for (char *save = NULL, *ln = text ? strtok_r(text, "\n", &save) : NULL; ln; ln = strtok_r(NULL, "\n", &save)) {
        if (strncmp(ln, "id ", 3) == 0 && mj_cgroup_id_is_valid(ln + 3))
            snprintf(f->id, sizeof(f->id), "%s", ln + 3);
        else if (strncmp(ln, "pid ", 4) == 0)
            f->pid = (pid_t)atoi(ln + 4);
        else if (strncmp(ln, "starttime ", 10) == 0)
            f->starttime = strtoull(ln + 10, NULL, 10);
        else if (strncmp(ln, "net_pid ", 8) == 0)
            f->net.pid = (pid_t)atoi(ln + 8);
        else if (strncmp(ln, "net_start ", 10) == 0)
            f->net.starttime = strtoull(ln + 10, NULL, 10);
        else if (strncmp(ln, "net_dir /", 9) == 0 && !f->net.dir)
            f->net.dir = mj_xstrdup(ln + 8);
    }
}

static void facts_clear(state_facts_t *f)
{
    mj_netsetup_clear(&f->net);
}

int mj_prune_state_dir(const char *dir, bool finish_removal, bool *killed)
{
    if (killed)
        *killed = false;
    __attribute__((cleanup(facts_clear))) state_facts_t f;
    read_facts(dir, &f);
    if (mj_state_alive(dir) == 1) {
        if (!finish_removal || f.pid <= 0 || !f.starttime || mj_proc_starttime(f.pid) != f.starttime) {
            errno = EBUSY;
            return -1;
        }
        kill(f.pid, SIGKILL);
        if (killed)
            *killed = true;
        double deadline = mj_now_monotonic() + 5;
        while (mj_state_alive(dir) == 1 && mj_now_monotonic() < deadline) {
            struct timespec ts = {0, 10 * 1000000};
            nanosleep(&ts, NULL);
        }
        if (mj_state_alive(dir) == 1) {
            errno = EBUSY;
            return -1;
        }
    }
    mj_netsetup_stop(&f.net, 1); /* what a crash left of its helper and engine, and their directory */
    mj_cgroup_t *cg = NULL;
    if (f.id[0] && mj_cgroup_open(NULL, f.id, &cg) == 0)
        mj_cgroup_destroy(cg);
    return mj_state_remove(dir);
}

typedef struct {
    const char *base;
    mj_prune_report_t *out;
} prune_walk_t;

static int prune_state_entry(int dfd, const char *name, unsigned char type, void *ctx)
{
    (void)dfd;
    prune_walk_t *w = ctx;
    if (type != DT_DIR && type != DT_UNKNOWN)
        return 0;
    cleanup_free char *dir = mj_xasprintf("%s/%s", w->base, name);
    bool killed = false;
    size_t nl = strlen(MJ_STATE_NEW), rl = strlen(MJ_STATE_REMOVING);
    if (strncmp(name, MJ_STATE_NEW, nl) == 0) {
        /* A creation: still going while its id is claimed or its lock held. */
        if (mj_state_id_claimed(name + nl) || mj_prune_state_dir(dir, false, NULL) < 0)
            return 0;
        w->out->leftovers++;
    } else if (strncmp(name, MJ_STATE_REMOVING, rl) == 0) {
        if (mj_prune_state_dir(dir, true, &killed) < 0)
            return 0;
        w->out->leftovers++;
        w->out->supervisors += killed;
    } else if (mj_name_valid(name) && mj_state_alive(dir) != 1) {
        if (mj_prune_state_dir(dir, false, NULL) < 0)
            return 0;
        w->out->sandboxes++;
    }
    return 0;
}

/* The claims in <state dir>/creating whose creator died (mj_state_id_claimed removes them). */
static int prune_claim(int dfd, const char *name, unsigned char type, void *ctx)
{
    (void)dfd;
    (void)type;
    (void)ctx;
    if (mj_cgroup_id_is_valid(name))
        (void)mj_state_id_claimed(name);
    return 0;
}

static bool id_claimed(const char *id, void *ctx)
{
    (void)ctx;
    return mj_state_id_claimed(id);
}

int mj_sandbox_prune(mj_prune_report_t *out, mj_error_t **err)
{
    memset(out, 0, sizeof(*out));
    mj_error_t *ignored = NULL;
    cleanup_free char *base = mj_state_sandboxes_dir(false, &ignored);
    mj_error_free(ignored);
    cleanup_close int dfd = base ? open(base, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
    if (dfd < 0 && errno != ENOENT) {
        if (err)
            *err = mj_error_sys(MJ_ERR_FILE_OPERATION_FAILED, errno, "listing %s", base ? base : "?");
        return -1;
    }
    prune_walk_t w = {.base = base, .out = out};
    if (dfd >= 0)
        (void)mj_dir_each(dfd, prune_state_entry, &w);
    cleanup_free char *claims = mj_state_claims_dir();
    cleanup_close int cfd = open(claims, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (cfd >= 0)
        (void)mj_dir_each(cfd, prune_claim, NULL);
    return mj_cgroup_prune(NULL, id_claimed, NULL, &out->cgroups);
}

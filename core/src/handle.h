/* handle.h — the host's handle of a persistent sandbox (mj_sandbox_t): what every host-side file
 * reads of it.  Data only.  sandbox.c creates, opens and frees it; client.c talks to the
 * supervisor through it (control connection, root fd, cgroups); state.c saves and loads a named
 * one; process.c, fsview.c and usage.c read it (fsview.c keeps its file-operation worker). */
#ifndef MJ_HANDLE_H
#define MJ_HANDLE_H

#include <moonjail/moonjail.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "cgroup.h"
#include "netsetup.h"
#include "util.h"

struct mj_sandbox {
    char *name;          /* NULL: anonymous */
    char id[33];
    char *dir;           /* named: its state directory */
    int ctl;             /* control connection to the supervisor */
    pid_t pid;           /* supervisor, host pid */
    int pidfd;           /* creator only */
    bool creator;
    unsigned long long starttime;
    double created_at, started_at;
    char hostname[65];
    uid_t uid;           /* default command ids inside */
    gid_t gid;
    unsigned long id_base;
    bool rootless;
    uid_t host_uid;      /* rootless: the one host id mapped */
    gid_t host_gid;
    mj_strv_t env;
    char *workdir;
    char *meta;
    double cleanup_delay;
    mj_strv_t tmpfs;     /* tmpfs mount points (disk usage) */
    mj_strv_t warnings;
    mj_status_t status;
    int root_fd;         /* O_PATH fd of its "/", opened lazily (client.c) */
    struct mj_confined *fs_worker; /* acts as its user for file operations: started on the first
                                    * (fsview.c), stopped with the handle (mj_fsview_release) */
    uint64_t memory_peak;
    bool own_netns;
    mj_network_mode_t net_mode;
    mj_netsetup_t net;   /* outbound/filtered: its moonjail-net (pid, start time, directory) */
    double last_sample_time, last_cpu_time;
    mj_cgroup_t *cg;     /* its cgroups, NULL when none (no limits and no freezer here); see mj_client_cgroup */
    double cpu_time_limit; /* per command (RLIMIT_CPU), for ended_by */
    uint64_t memory_limit; /* bytes, 0 = none (memory_percent is of this when set) */
    bool cg_looked;      /* opened handles: cg looked up once */
    bool unresponsive;   /* a request timed out: the connection was dropped (client.c) */
    int claim_fd;        /* creator, until the supervisor is in its cgroups: the id's claim (state.c) */
    bool expired;        /* stopped by itself at the end of its lifetime */
};

#endif

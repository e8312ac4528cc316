/* config.h — what a host asks for (config.c): mj_config_t, the sandbox, and mj_command_t, one
 * command.  Setters copy and validate shape; only the plan (plan.c) and the seccomp compiler
 * (seccomp.c, which also owns the seccomp setters) read these — nothing after the plan. */
#ifndef MJ_CONFIG_H
#define MJ_CONFIG_H

#include <moonjail/moonjail.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "cgroup.h"
#include "landlock.h"
#include "util.h"

typedef struct {
    mj_mount_kind_t kind;
    char *src;
    char *dst;
    uint64_t size;
    unsigned mode;
    char *upper, *work; /* COW only */
    bool has_owner;
    uid_t owner_uid;
    gid_t owner_gid;
} mj_mount_spec_t;

typedef struct {
    char *path;
    bool required;
} mj_host_path_t;

enum { MJ_SECCOMP_DEFAULT = 0, MJ_SECCOMP_UNCONFINED };

struct mj_config {
    char *root; /* NULL: "host" */
    mj_host_path_t *host_paths;
    size_t n_host_paths;
    bool readonly_root;
    mj_mount_spec_t *mounts;
    size_t n_mounts;
    mj_strv_t masked;
    mj_strv_t readonly;
    char *hostname;
    uid_t uid;
    gid_t gid;
    mj_network_mode_t network;
    char *net_config;    /* OUTBOUND/FILTERED: moonjail-net's configuration text, NULL = empty */
    char *net_audit_log; /* where moonjail-net appends its decisions, NULL = nowhere */
    bool rlimit_set[MJ_RLIMIT__COUNT];
    uint64_t rlimit[MJ_RLIMIT__COUNT];
    uint64_t caps_keep; /* bit n = capability n */
    mj_strv_t env;      /* "KEY=VALUE" */
    char *workdir;
    double cleanup_delay;
    int seccomp_mode;   /* MJ_SECCOMP_* */
    mj_cgroup_limits_t limits;
    int landlock_mode;  /* MJ_LANDLOCK_* */
    char *apparmor;     /* profile, NULL = none */
    char *selinux;      /* label, NULL = none */
    mj_strv_t landlock_write; /* granted write paths; empty = every rw mount and tmpfs */
    mj_landlock_tcp_t landlock_tcp;
    mj_strv_t seccomp_allow;
    mj_strv_t seccomp_deny;
    bool seccomp_custom;      /* seccomp_base replaces the default allow-list */
    bool seccomp_log;         /* persistent sandboxes: refused calls go through user notification */
    mj_strv_t seccomp_base;
    uint64_t disk_limit;      /* the container layer's cap (and size-less tmpfs'), 0 = the defaults */
    bool disk_required;       /* asked for: never lowered to fit the memory limit */
    mj_strv_t etc_hosts;      /* extra lines of the generated /etc/hosts */
    char *resolv_conf;        /* the generated /etc/resolv.conf, NULL = from the network mode */
    double lifetime;          /* persistent: seconds until the sandbox stops itself, 0 = none */
    mj_strv_t root_layers;    /* an image's lowers below root (config_image.c), topmost first */
    int lease_fd;             /* an image lease the supervisor keeps open (config_image.c), -1 = none */
};

struct mj_command {
    mj_strv_t argv;
    mj_strv_t env; /* overrides on top of the config's env */
    char *workdir;
    mj_buf_t stdin_data;
    bool has_stdin;
    int stdin_fd;
    double timeout;
    uint64_t output_limit;
    int tee_out;
    int tee_err;
    bool forward_signals;
    bool has_user;
    uid_t uid;
    gid_t gid;
    bool read_only;
    bool no_network;
    bool tty;
    bool no_capture; /* output is counted against the cap and teed, not kept */
    bool log;        /* keep the output in the named sandbox's logs (logfile.c) */
    uint64_t log_max;
    mj_on_exit_t on_exit; /* detached and logged: what its end does to the sandbox */
    mj_strv_t restrict_paths; /* Landlock: the command reaches only beneath these */
};

#endif

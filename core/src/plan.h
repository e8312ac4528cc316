/* plan.h — the plan (plan.c): a config and a command turned into plain data before clone — the
 * ordered mount operations, id maps, limits, filters, argv/envp — and the stages the cloned child
 * reports a failure at. */
#ifndef MJ_PLAN_H
#define MJ_PLAN_H

#include <moonjail/moonjail.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/types.h>

#include "cgroup.h"
#include "landlock.h"
#include "util.h"

#define MJ_PLAN_MAX_WORK_FDS 8

struct sock_filter;
typedef struct mj_plan mj_plan_t;

typedef enum {
    MJ_OP_BIND,       /* bind src (host) on dst, flags say ro/rw */
    MJ_OP_SYMLINK,    /* symlink dst -> src */
    MJ_OP_TMPFS,      /* tmpfs on dst */
    MJ_OP_PROC,       /* fresh procfs on dst */
    MJ_OP_DEVPTS,     /* fresh devpts instance on dst */
    MJ_OP_MASK,       /* hide dst (file: /dev/null, dir: empty ro tmpfs); skipped if missing */
    MJ_OP_READONLY,   /* remount dst read-only; skipped if missing */
    MJ_OP_OVERLAY,    /* overlay on dst: lowerdir src (or the tree in src_fd), upper/work */
} mj_op_kind_t;

#define MJ_OPF_RDONLY 0x1u
#define MJ_OPF_DIR 0x2u      /* the target is a directory (else a file) */
#define MJ_OPF_OPTIONAL 0x4u /* a missing source is skipped */
#define MJ_OPF_NOEXEC 0x8u
#define MJ_OPF_NODEV_KEEP 0x10u /* keep device access (our own /dev binds) */
#define MJ_OPF_PREPARED 0x20u   /* OVERLAY: src_fd is the finished overlay, mounted by the host */
#define MJ_OPF_LAYER 0x40u      /* OVERLAY: a copy-on-write layer of the container layer (layer.c): upper and
                                 * work live in the layer's tmpfs, src is the lower (a host directory) */

typedef struct {
    mj_op_kind_t kind;
    unsigned flags;
    char *src;      /* host path for BIND, link target for SYMLINK, fs options otherwise */
    char *dst;      /* path inside the new root, relative (no leading '/') */
    uint64_t size;  /* tmpfs size in bytes */
    uint64_t inodes; /* tmpfs nr_inodes */
    unsigned mode;  /* tmpfs mode */
    int src_fd;     /* filled in the child: detached tree of src */
    char *upper, *work;  /* OVERLAY: host directories */
    int upper_fd, work_fd; /* OVERLAY: opened in the child while the host tree is in view */
    bool has_owner;      /* BIND/OVERLAY: idmap the source's owner to owner_uid:gid inside */
    uid_t owner_uid;
    gid_t owner_gid;
} mj_op_t;

/* Stages the child reports on failure (with errno and op index). */
typedef enum {
    MJ_STAGE_NONE = 0,
    MJ_STAGE_SYNC,
    MJ_STAGE_SETID,
    MJ_STAGE_HOSTNAME,
    MJ_STAGE_LOOPBACK,
    MJ_STAGE_PRIVATE,
    MJ_STAGE_OPEN_SOURCE,
    MJ_STAGE_ROOT_TMPFS,
    MJ_STAGE_MKPATH,
    MJ_STAGE_MOUNT,
    MJ_STAGE_READONLY_ROOT,
    MJ_STAGE_PIVOT,
    MJ_STAGE_FORK,
    MJ_STAGE_LANDLOCK,
    MJ_STAGE_SECCOMP,
    MJ_STAGE_LAYER,
    MJ_STAGE__COUNT
} mj_stage_t;

const char *mj_stage_name(mj_stage_t stage);

/* One entry of the container layer's base (the root's topmost lower, layer.c): what the plan
 * puts there — mount points, the host root's symlinks, the generated /etc and its copies of host
 * files. */
typedef enum {
    MJ_BASE_DIR = 1, /* a directory (mode) */
    MJ_BASE_FILE,    /* an empty file: a mount point */
    MJ_BASE_LINK,    /* a symlink to data */
    MJ_BASE_DATA,    /* a file holding data (len bytes), mode */
    MJ_BASE_COPY,    /* a copy of the host file data (a path), mode */
} mj_base_kind_t;

typedef struct {
    mj_base_kind_t kind;
    char *path; /* relative to the base, no leading '/' */
    char *data;
    size_t len;
    unsigned mode;
    int fd;     /* COPY: an open host file to copy instead of the path in data (-1: none); the
                 * builder closes it */
} mj_base_entry_t;

/* Everything the later stages need, built before clone: nothing after mj_plan_build reads the
 * config.  The child only executes it (raw system calls on these fields). */
struct mj_plan {
    mj_op_t *ops;
    size_t n_ops;
    bool host_root;
    bool readonly_root;
    char *staging;      /* an existing host dir on which the new root is assembled */
    char *hostname;
    bool new_netns;
    mj_network_mode_t net_mode;
    /* OUTBOUND/FILTERED (netsetup.c): moonjail-net's configuration text, its audit log, the
     * helper's path and the sandbox's network directory (filled by mj_netsetup_prepare), and the
     * search domains.  The sandbox's resolv.conf is moonjail-net's (net_resolv): a file of the
     * network directory, written once the helper is ready (before the release), that a "host"
     * root's generated /etc copies (base[resolv_base], through its fd) and any other root gets
     * bound read-only on /etc/resolv.conf (ops[resolv_op]).  SIZE_MAX: not that way. */
    char *net_config;
    char *net_audit_log;
    char *net_helper;
    char *net_dir;
    mj_strv_t dns_search;
    bool net_resolv;
    size_t resolv_op;
    size_t resolv_base;
    bool rootless;      /* started without CAP_SETUID over the host: single-id maps */
    uid_t host_uid, host_gid;   /* the caller's ids */
    uid_t inner_uid;    /* ids the command runs as inside */
    gid_t inner_gid;
    uid_t init_uid;     /* ids init runs as inside */
    gid_t init_gid;
    char *uid_map;
    char *gid_map;
    int id_slot_fd;     /* flock-held slot of the host id range (root), -1 otherwise */
    unsigned long id_base;
    bool rlimit_set[MJ_RLIMIT__COUNT];
    struct rlimit rlimits[MJ_RLIMIT__COUNT];
    uint64_t caps_keep;
    int last_cap;
    mj_strv_t argv;
    mj_strv_t envp;
    char *path_env;     /* the PATH the command's argv[0] is searched in */
    char *exec_buf;     /* PATH_MAX scratch for the PATH search */
    char *workdir;
    /* The host process's argv/env string areas, wiped in init so /proc/1/cmdline leaks nothing. */
    uintptr_t arg_start, arg_end, env_start, env_end;
    mj_strv_t warnings;
    struct sock_filter *seccomp; /* the workload filter, NULL when unconfined */
    unsigned short seccomp_len;
    uint32_t seccomp_arch;
    int seccomp_ioctl_nr;
    int seccomp_personality_nr;
    bool seccomp_loaded;       /* the supervisor loaded it already: commands inherit it */
    bool seccomp_notify;       /* refused calls are USER_NOTIF: the supervisor answers EPERM and logs */
    bool persistent;           /* a sandbox with a supervisor (no command at plan time) */
    double cpu_time_limit;     /* seconds of CPU for the whole tree, 0 = none */
    bool tty;                  /* one-shot: the command's stdio is a pty slave */
    unsigned short tty_rows, tty_cols; /* its first window size: the caller's terminal's, 0 = unknown */
    char *lsm_attr_path;       /* /proc/self/attr/... to write before execve, NULL = none */
    char *lsm_attr_value;
    mj_strv_t disk_paths;      /* the sandbox's own tmpfs mounts: full = ended_by "disk" */
    int landlock_abi;          /* 0: not applied */
    bool landlock_required;
    mj_strv_t landlock_write;  /* paths inside where commands may write */
    int landlock_fd;           /* built in the child after pivot_root */
    int landlock_ro_fd;        /* the same with no write grants (per-command allow_write = false) */
    mj_landlock_tcp_t landlock_tcp; /* applied at exec when the ABI has TCP rules (tcp_abi_ok) */
    bool landlock_tcp_ok;
    /* <id>/work/cgroup.procs of each hierarchy, opened by the host: a command writes "0" to each
     * before execve (mj_cgroup_work_fds).  Renumbered by the child as it arranges its fds. */
    int cg_work_fds[MJ_PLAN_MAX_WORK_FDS];
    size_t n_cg_work_fds;
    int cg_sup_fds[MJ_PLAN_MAX_WORK_FDS]; /* <id>/sup: init joins it after unsharing its cgroup ns */
    size_t n_cg_sup_fds;
    mj_cgroup_limits_t limits; /* for the sandbox's cgroups (spawn.c) */
    double cleanup_delay;      /* persistent: how long the supervisor lingers after its owner closes it */
    double lifetime;           /* persistent: seconds until the supervisor stops the sandbox, 0 = none */
    /* The container layer (layer.c): a tmpfs of the sandbox's own holding the root's base and the
     * upper of every copy-on-write layer; the root is an overlay of base (and root_lowers) with
     * its upper there, or base itself, read-only.  Off for a read-only rootfs directory. */
    bool layer;
    uint64_t layer_size, layer_inodes; /* the cap on everything written into the root */
    mj_base_entry_t *base;
    size_t n_base;
    mj_strv_t root_lowers;     /* host directories below base in the root, topmost first */
    int *root_lower_fds;       /* one per root lower, -1: the builder's while it builds */
    char *layer_index;         /* written to <layer>/index: what the host-side diff reads */
    int layer_fd;              /* O_PATH of the layer tmpfs's root, once built; the supervisor keeps it */
    int root_mnt_fd;           /* the finished root mount, once built */
    bool layer_idmapped;       /* the lowers were opened by the host as idmapped trees (root) */
    bool disk_lowered;         /* the disk cap was lowered to fit the memory limit (warned once) */
    int lease_fd;              /* the config's image lease (borrowed): the supervisor keeps a copy */
};

/* cmd may be NULL (a persistent sandbox).  On failure the plan is left freed (mj_plan_free may
 * run on it again). */
int mj_plan_build(const mj_config_t *cfg, const mj_command_t *cmd, mj_plan_t *plan, mj_error_t **err);
void mj_plan_free(mj_plan_t *plan);
/* A plan freed when it goes out of scope (after mj_plan_build, which leaves a failed plan freeable). */
#define cleanup_plan __attribute__((cleanup(mj_plan_free)))

/* MJ_RLIMIT_* -> RLIMIT_* */
extern const int mj_rlimit_resource[MJ_RLIMIT__COUNT];

#endif

/* internal.h — the core's private types: the config and command a host fills in, the plan built
 * from them before clone, the messages the sandbox's init sends back, and the result.
 * Only core/src includes this; the public API is moonjail.h. */
#ifndef MJ_INTERNAL_H
#define MJ_INTERNAL_H

#include <moonjail/moonjail.h>
#include <sys/resource.h>
#include <sys/types.h>

#include "cgroup.h"
#include "error.h"
#include "handle.h"
#include "proc.h"
#include "proto.h"
#include "util.h"
#include "wire.h"

#define MJ_PLAN_MAX_WORK_FDS 8

struct sock_filter;

/* ------------------------------------------------------------ config and command */

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

#define MJ_LANDLOCK_MAX_PORTS 64
/* Landlock TCP rules: a restricted direction allows only its listed ports. */
typedef struct {
    bool bind_restricted, connect_restricted;
    uint16_t bind[MJ_LANDLOCK_MAX_PORTS], connect[MJ_LANDLOCK_MAX_PORTS];
    size_t n_bind, n_connect;
} mj_landlock_tcp_t;

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
};

enum { MJ_SECCOMP_DEFAULT = 0, MJ_SECCOMP_UNCONFINED };

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
};

/* ------------------------------------------------------------ plan */

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

typedef struct {
    mj_op_kind_t kind;
    unsigned flags;
    char *src;      /* host path for BIND, link target for SYMLINK, fs options otherwise */
    char *dst;      /* path inside the new root, relative (no leading '/') */
    uint64_t size;  /* tmpfs size in bytes */
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
    MJ_STAGE__COUNT
} mj_stage_t;

const char *mj_stage_name(mj_stage_t stage);

typedef struct {
    mj_op_t *ops;
    size_t n_ops;
    bool host_root;
    bool readonly_root;
    char *staging;      /* an existing host dir on which the new root is assembled */
    char *hostname;
    bool new_netns;
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
} mj_plan_t;

/* cmd may be NULL (a persistent sandbox). */
int mj_plan_build(const mj_config_t *cfg, const mj_command_t *cmd, mj_plan_t *plan, mj_error_t **err);
void mj_plan_free(mj_plan_t *plan);
/* A plan freed when it goes out of scope (after mj_plan_build, which leaves a failed plan freeable). */
#define cleanup_plan __attribute__((cleanup(mj_plan_free)))

#define MJ_RESULT_DENIALS_MAX 64 /* refusals a one-shot result lists (all are counted) */

/* ------------------------------------------------------------ child side */

/* rootfs.c: assemble the root in the child and pivot into it.  -1 with *stage, errno, *op_index. */
int mj_rootfs_setup(mj_plan_t *plan, mj_stage_t *stage, int *op_index);
/* A fresh superblock of fstype configured by the NULL-terminated key/value list (a NULL value is
 * a flag), as a detached mount fd; -1 with errno. */
int mj_make_fs(const char *fstype, const char *const *kv, unsigned attrs);

/* idmap.c */
/* Root only: turns read-write binds of non-root-owned sources into idmapped trees (op->src_fd)
 * whose owner appears as the sandbox user; warns about what it cannot map. */
int mj_idmap_rw_binds(mj_plan_t *plan, mj_error_t **err);

/* lazylib.c: libraries loaded on first use. */
typedef enum { MJ_LIB_ARCHIVE, MJ_LIB_CURL, MJ_LIB_CRYPTO, MJ_LIB__COUNT } mj_lib_t;
/* Loads lib unless loaded; 0, or -1 with UNSUPPORTED naming the missing library. */
int mj_lib_open(mj_lib_t lib, mj_error_t **err);
/* A function of lib (loading it if needed); aborts when a loaded library lacks it. */
void *mj_lib_sym(mj_lib_t lib, const char *name);
/* Calls fn of lib through dlsym, typed from its declaration: MJ_LAZY(MJ_LIB_CURL, curl_easy_init)().
 * typeof does not evaluate, so the object file holds no reference to the symbol. */
#define MJ_LAZY(lib, fn) ((__typeof__(&fn))mj_lib_sym(lib, #fn))

/* exec.c: 1 when one of the sandbox's own tmpfs mounts has no space or inodes left. */
int mj_disk_full(const mj_plan_t *plan);

/* exec.c */
#define MJ_N_FORWARDED_SIGNALS 7
extern const int mj_forwarded_signals[MJ_N_FORWARDED_SIGNALS];
enum {
    MJ_EXEC_STAGE_CHDIR = 1,
    MJ_EXEC_STAGE_LIMITS,
    MJ_EXEC_STAGE_CREDS,
    MJ_EXEC_STAGE_EXEC,
    MJ_EXEC_STAGE_SECCOMP,
    MJ_EXEC_STAGE_LANDLOCK,
    MJ_EXEC_STAGE_LSM,
    MJ_EXEC_STAGE_CGROUP,
};
typedef struct {
    char *const *argv;
    char *const *envp;
    const char *path_env;
    const char *workdir;
    uid_t uid;
    gid_t gid;
    char *exec_buf; /* PATH_MAX scratch */
    bool read_only; /* Landlock: no writes anywhere for this command */
    bool no_network; /* Landlock (ABI 4+): no TCP bind or connect for this command */
    bool tty;        /* stdin is a pty slave: make it the controlling terminal */
    int landlock_fd; /* the ruleset to restrict to, -1 = none */
    const int *cg_work_fds; /* written "0" first: the command joins <id>/work (see mj_plan_t) */
    size_t n_cg_work_fds;
} mj_exec_params_t;
/* In the forked child: prepare and execve; on failure writes {stage, errno} to err_fd, exits 127. */
__attribute__((noreturn)) void mj_exec_child(const mj_plan_t *plan, const mj_exec_params_t *params, int err_fd);

/* landlock.c */
int mj_landlock_abi(void);
/* In the sandbox's init after pivot_root: builds the ruleset(s); -1 with errno on failure. */
/* MJ_RLIMIT_* -> RLIMIT_* */
extern const int mj_rlimit_resource[MJ_RLIMIT__COUNT];
/* In the sandbox's pid 1 after pivot_root: the plan's rulesets (plan->landlock_fd, and for a
 * persistent sandbox the read-only variant landlock_ro_fd); -1 with errno when Landlock is
 * required and they cannot be built (best effort: Landlock is then off). */
int mj_landlock_build(mj_plan_t *plan);
/* Adds a Landlock layer that refuses every TCP bind and connect (ABI 4+); -1 with errno. */
int mj_landlock_deny_tcp(void);
/* Restricts the calling thread to the plan's TCP rules (a no-op without any). */
int mj_landlock_tcp(const mj_plan_t *plan);
int mj_landlock_restrict(int ruleset);

/* seccomp.c */
int mj_seccomp_compile(const mj_config_t *cfg, mj_plan_t *plan, mj_error_t **err);
/* In the command's child, after no_new_privs: loads the filters (raw system calls only). */
int mj_seccomp_load(const mj_plan_t *plan);
/* The same, returning a user-notification listener fd (plan->seccomp_notify), -1 on failure. */
int mj_seccomp_load_listener(const mj_plan_t *plan);
void mj_seccomp_syscall_name(int nr, char *out, size_t len);
/* The one-shot init's own filter, once its command runs: it may only wait, signal, write its
 * reports and exit (a fixed list, no libseccomp after clone).  -1 with errno on failure. */
/* init's own filter once the command runs; notify: it also serves the command's listener fd
 * (ppoll, read of its signalfd, and the two SECCOMP_IOCTL_NOTIF_* ioctls). */
int mj_seccomp_load_init(bool notify);
/* The persistent supervisor's own filter, on top of the workload's, once it has forked its
 * spawner: serving requests needs no fork, exec, mount or file writes.  notify: it answers the
 * workload's seccomp notifications too. */
int mj_seccomp_load_supervisor(bool notify);
/* Answers one pending notification of listener with EPERM (what an unlogged refusal returns);
 * the refused system call's number and caller (pid inside).  -1 when none could be read. */
int mj_seccomp_refuse_one(int listener, int32_t *nr, int32_t *pid);

/* caps.c */
int mj_caps_last_cap(void);
/* In the command's child: drop bounding/ambient/inheritable except keep, then switch ids. */
int mj_caps_drop_and_setid(uint64_t keep, int last_cap, uid_t uid, gid_t gid, bool can_setgroups);

/* pty.c */
struct termios;
int mj_pty_open(int *master, int *slave, mj_error_t **err);
void mj_pty_copy_winsize(int from, int to);
/* Puts a terminal fd in raw mode (false when fd is no terminal); restore with mj_tty_restore. */
bool mj_tty_raw(int fd, struct termios *saved);
void mj_tty_restore(int fd, const struct termios *saved);

/* Sets ended_by oom/pids from the cgroup's counters (before: the counters when the command
 * started, NULL for a fresh group) and takes the peak memory. */
void mj_result_apply_cgroup(mj_result_t *res, const mj_cgroup_stats_t *before, const mj_cgroup_stats_t *after);

/* ------------------------------------------------------------ pump.c */

typedef struct {
    /* set by the caller */
    int out_r, err_r, status_fd, stdin_w; /* owned: closed by mj_pump_close */
    const char *stdin_data;               /* borrowed */
    size_t stdin_len;
    int relay_r;                          /* borrowed host fd relayed to stdin */
    uint64_t limit;
    int tee_out, tee_err;                 /* borrowed */
    bool forward_signals;
    bool stop_on_exit;                    /* persistent exec: done at EXITED, not at EOF */
    double deadline;                      /* monotonic seconds, 0 = none */
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
    mj_denial_t denials[MJ_RESULT_DENIALS_MAX];
    size_t n_denials;
    uint64_t denials_total;
    mj_msg_t started, exited, failed;
    bool timed_out, over_limit, killed, over_cpu;
    mj_buf_t out, err, combined;
} mj_pump_t;

void mj_pump_init(mj_pump_t *p);
int mj_pump_run(mj_pump_t *p, mj_error_t **err);
void mj_pump_close(mj_pump_t *p);
#define cleanup_pump __attribute__((cleanup(mj_pump_close)))
mj_error_t *mj_exec_error(const char *argv0, const char *workdir, const mj_msg_t *m);
/* Builds the result of a command that ran (moving the captured output), or the error when it
 * did not.  t_released: monotonic time the command was released (start fallback). */
int mj_pump_result(mj_pump_t *p, const char *argv0, const char *workdir, double t_released, mj_result_t **out,
                   mj_error_t **err);

/* ------------------------------------------------------------ persistent sandboxes */



/* state.c */
bool mj_name_valid(const char *name);
char *mj_state_sandboxes_dir(bool create, mj_error_t **err);
int mj_state_write_file(const char *dir, const char *name, const void *data, size_t len, mj_error_t **err);
char *mj_state_read_file(const char *dir, const char *name, size_t *len);
int mj_state_alive(const char *dir);
int mj_state_remove(const char *dir);
/* Creates <sandboxes>/<name> (0700) for a new sandbox, taking over the name of a dead one (failed,
 * or its delayed shutdown over); its path, or NULL with the error. */
char *mj_state_create(const char *name, mj_error_t **err);
/* Takes <dir>/lock (a new sandbox's supervisor holds it for life: its liveness) and binds the
 * listening socket <dir>/sock (the supervisor listens).  Both fds out, O_CLOEXEC. */
int mj_state_claim(const char *dir, int *lock_fd, int *listen_fd, mj_error_t **err);
struct sockaddr_un;
/* The address of <dir>/sock (through /proc/self/fd/<dirfd> when the path is too long); -1 with
 * ENAMETOOLONG when dirfd < 0 and it is. */
int mj_state_sock_address(const char *dir, int dirfd, struct sockaddr_un *sa);
/* A named sandbox's handle in its state directory (nothing for an anonymous one): "state" (ids,
 * times, limits, tmpfs mounts), and its defaults "env" and "workdir"; load reads them all (and
 * "meta") back, SANDBOX_NOT_FOUND without a "state". */
int mj_state_save(const mj_sandbox_t *sb, mj_error_t **err);
int mj_state_save_defaults(const mj_sandbox_t *sb, mj_error_t **err);
int mj_state_load(mj_sandbox_t *sb, mj_error_t **err);


/* ------------------------------------------------------------ result */

struct mj_result {
    int exit_code;
    int signal;
    mj_end_reason_t ended_by;
    mj_buf_t out, err, combined;
    bool truncated;
    double start_time, end_time; /* epoch seconds (CLOCK_REALTIME) */
    double duration;             /* seconds, CLOCK_MONOTONIC */
    double cpu_time;
    uint64_t memory_peak;
    uint64_t cpu_periods, cpu_throttled; /* CFS quota periods of the command / throttled, when limited */
    pid_t pid;
    mj_strv_t warnings;
    mj_denial_t denials[MJ_RESULT_DENIALS_MAX]; /* one-shot runs with seccomp_log */
    size_t n_denials;
    uint64_t denials_total;
};

#endif

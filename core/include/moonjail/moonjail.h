/* moonjail.h — the public C API of libmoonjail.
 *
 * Owns: the opaque handles a host application uses (mj_error_t, mj_config_t, mj_command_t,
 * mj_result_t) and the functions that build, run and inspect a sandbox.  It knows nothing of Lua.
 *
 * Conventions
 *  - Functions that can fail return int (0 on success, -1 on failure) and take `mj_error_t **err`
 *    as their last argument.  On failure *err receives a new error the caller owns and frees with
 *    mj_error_free().  err may be NULL when the caller does not care.
 *  - Strings passed in are copied; strings returned by accessors are borrowed from the handle and
 *    live as long as it does.
 *  - Every handle is freed by its own *_free(); *_free(NULL) is a no-op.
 */
#ifndef MOONJAIL_H
#define MOONJAIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Everything declared here is libmoonjail's API, exported from the shared library; the library is
 * built with -fvisibility=hidden, so nothing else is. */
#pragma GCC visibility push(default)

#define MJ_VERSION_MAJOR 0
#define MJ_VERSION_MINOR 1
#define MJ_VERSION_PATCH 0
#define MJ_VERSION_STRING "0.1.0"

const char *mj_version(void);

/* ---------------------------------------------------------------- errors */

typedef enum {
    MJ_OK = 0,
    MJ_ERR_SANDBOX_NOT_FOUND,
    MJ_ERR_RESOURCE_LIMIT_EXCEEDED,
    MJ_ERR_COMMAND_EXECUTION_FAILED,
    MJ_ERR_SANDBOX_INIT_FAILED,
    MJ_ERR_FILE_OPERATION_FAILED,
    MJ_ERR_INVALID_CONFIG,
    MJ_ERR_INVALID_STATE,
    MJ_ERR_PERMISSION_DENIED,
    MJ_ERR_UNSUPPORTED,
    MJ_ERR_TIMEOUT,
    MJ_ERR_NETWORK,
    MJ_ERR_IMAGE,
    MJ_ERR_TEMPORARY_FAILURE,
    MJ_ERR__COUNT
} mj_error_code_t;

typedef struct mj_error mj_error_t;

/* "SANDBOX_NOT_FOUND", … ; NULL for an unknown code. */
const char *mj_error_code_name(mj_error_code_t code);
/* The reference's base text for a code: "Sandbox not found", "Resource limit exceeded", … */
const char *mj_error_code_text(mj_error_code_t code);
/* Parses "SANDBOX_NOT_FOUND" back to its code; MJ_OK when unknown. */
mj_error_code_t mj_error_code_from_name(const char *name);

/* A new error "<base text>: <detail>" (or just the base text when fmt is NULL).
 * retryable defaults to what errnum implies (EAGAIN, EBUSY, EINTR, ETIMEDOUT…). */
mj_error_t *mj_error_new(mj_error_code_t code, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* An error whose message is exactly the text given (the reference's literal SandboxError). */
mj_error_t *mj_error_new_literal(mj_error_code_t code, const char *message, bool retryable);
/* Wraps *err: the new error keeps *err's code, errno and retryable flag, gets the message
 * "<fmt…>: <old message>" and holds the old error as its cause.  No-op when err or *err is NULL. */
void mj_error_wrap(mj_error_t **err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Attaches cause (ownership moves to e). */
void mj_error_set_cause(mj_error_t *e, mj_error_t *cause);
void mj_error_set_retryable(mj_error_t *e, bool retryable);

mj_error_code_t mj_error_code(const mj_error_t *e);
const char *mj_error_message(const mj_error_t *e); /* the full text, as the reference's Error() */
bool mj_error_retryable(const mj_error_t *e);
int mj_error_errno(const mj_error_t *e);
const mj_error_t *mj_error_cause(const mj_error_t *e);
void mj_error_free(mj_error_t *e);

/* ---------------------------------------------------------------- config */

typedef struct mj_config mj_config_t;

typedef enum {
    MJ_MOUNT_RO = 1,  /* read-only bind of a host path */
    MJ_MOUNT_RW,      /* read-write bind of a host path (nosuid, nodev) */
    MJ_MOUNT_TMPFS,   /* a fresh tmpfs (nosuid, nodev); source unused */
    MJ_MOUNT_COW,     /* copy-on-write overlay of a host directory (mj_config_add_overlay) */
} mj_mount_kind_t;

typedef enum {
    MJ_NET_NONE = 0,  /* new network namespace, loopback only */
    MJ_NET_HOST,      /* share the host's network namespace */
    MJ_NET_OUTBOUND,  /* new network namespace, NAT'd outbound access through moonjail-net's engine */
    MJ_NET_FILTERED,  /* new network namespace, egress only as moonjail-net's rules allow */
} mj_network_mode_t;

typedef enum {
    MJ_RLIMIT_NOFILE = 0,
    MJ_RLIMIT_NPROC,
    MJ_RLIMIT_FSIZE,
    MJ_RLIMIT_CORE,
    MJ_RLIMIT_CPU,
    MJ_RLIMIT_AS,
    MJ_RLIMIT_STACK,
    MJ_RLIMIT__COUNT
} mj_rlimit_t;

/* A bare config: a read-only "host" root without host paths (not even /bin/sh), no tmpfs, no
 * limits; only what the setters add. */
mj_config_t *mj_config_new(void);
/* The shipped default policy's sandbox (policies/default.lua): what `moonjail run` gives with no
 * options.  Host /usr, /bin, /lib* and the /etc files programs read, a generated /etc, a writable
 * copy-on-write root capped at 1 GiB (mj_config_set_disk_limit, not required: lowered to fit a
 * memory limit), a /tmp tmpfs, /proc's kernel files masked or read-only as Docker has them, the
 * host's TLS private keys masked, no network, Landlock best effort, the default seccomp profile,
 * nofile 1024 and nproc 4096, TERM and LANG from this process's environment, PATH, HOME=/root,
 * hostname "moonjail", user 0:0 (inside).  The CLI's per-command defaults stay the command's
 * (output limit 16 MiB: mj_command_set_output_limit).  Change anything with the setters. */
mj_config_t *mj_config_new_default(void);
void mj_config_free(mj_config_t *cfg);

/* Root file system: NULL or "host" builds a fresh root from host paths (mj_config_add_host_path)
 * and a generated /etc (mj_config_add_hosts_entry); any other value is a directory used as the
 * root.  A read-only root (the default, mj_config_set_readonly_root) binds them read-only.  A
 * writable root is copy-on-write, as a container's: an overlay whose upper layer is the sandbox's
 * own tmpfs (capped by mj_config_set_disk_limit), over the root directory or the host paths'
 * directories, each an overlay of its own; nothing written there reaches the host.  Started as
 * root, those lowers are idmapped so that host id N shows as N inside (the sandbox's root owns
 * what host root owns there, and can change it in its layer); rootless, they keep their owners. */
int mj_config_set_root(mj_config_t *cfg, const char *root, mj_error_t **err);
/* A host path exposed read-only at the same place in a "host" root.  Symlinks (as /bin on a
 * merged-/usr system) are recreated as symlinks.  Missing paths are skipped unless required. */
int mj_config_add_host_path(mj_config_t *cfg, const char *path, bool required, mj_error_t **err);
void mj_config_set_readonly_root(mj_config_t *cfg, bool readonly);
/* Adds a mount.  src must be an absolute existing host path for RO/RW (checked when the plan is
 * built), dst an absolute path inside.  For TMPFS, size_bytes (0 = 64 MiB) and mode (0 = 01777). */
int mj_config_add_mount(mj_config_t *cfg, mj_mount_kind_t kind, const char *src, const char *dst,
                        uint64_t size_bytes, unsigned mode, mj_error_t **err);
/* A copy-on-write view of the host directory lower at dst (inside): an overlay whose changes land
 * in upper, with work as overlayfs's scratch directory.  upper and work are empty host directories
 * on the same file system (not tmpfs before Linux 6.6: overlay needs user xattrs there), created by
 * the caller and removed by it after the sandbox is gone; moonjail gives them to the sandbox's ids
 * when it starts.  None of the three paths may contain ':', ',' or '\\'.  Read the changes with
 * mj_overlay_diff(upper, lower). */
int mj_config_add_overlay(mj_config_t *cfg, const char *lower, const char *upper, const char *work,
                          const char *dst, mj_error_t **err);
/* Files of the mount most recently added at dst (RO, RW or COW) appear owned by uid:gid inside.
 * Started as root this is an idmapped mount (host owner of the source's top directory -> uid);
 * rootless, only the sandbox's own user can own anything, so another uid is UNSUPPORTED when the
 * sandbox is created.  Without it, RW and COW mounts are owned by the sandbox's user. */
int mj_config_set_mount_owner(mj_config_t *cfg, const char *dst, uid_t uid, gid_t gid, mj_error_t **err);
/* Paths hidden inside (a file becomes /dev/null, a directory an empty read-only tmpfs). */
int mj_config_add_masked(mj_config_t *cfg, const char *path, mj_error_t **err);
/* Paths made read-only inside (e.g. /proc/sys). */
int mj_config_add_readonly(mj_config_t *cfg, const char *path, mj_error_t **err);
int mj_config_set_hostname(mj_config_t *cfg, const char *hostname, mj_error_t **err);
/* The ids the command runs as inside the sandbox.  Never host root: a new user namespace maps them
 * to unprivileged host ids (docs/architecture.md, "Decisions"). */
int mj_config_set_user(mj_config_t *cfg, uid_t uid, gid_t gid, mj_error_t **err);
int mj_config_set_network(mj_config_t *cfg, mj_network_mode_t mode, mj_error_t **err);
/* OUTBOUND and FILTERED: moonjail-net's configuration text (docs/networking.md, one directive a
 * line; the `mode` line is written by moonjail from the mode above, a `sandbox` line too), and the
 * audit log (appended to, O_APPEND; NULL = none) its decisions go to.  Both copied.  The helper
 * is found through $MOONJAIL_NET_HELPER, then LIBEXECDIR/moonjail/moonjail-net, then beside the
 * running executable; a sandbox whose helper cannot start does not start. */
int mj_config_set_network_config(mj_config_t *cfg, const char *text, mj_error_t **err);
int mj_config_set_network_audit_log(mj_config_t *cfg, const char *path, mj_error_t **err);
/* value UINT64_MAX means unlimited. */
int mj_config_set_rlimit(mj_config_t *cfg, mj_rlimit_t which, uint64_t value, mj_error_t **err);
/* Keeps a capability ("CAP_NET_BIND_SERVICE" or "NET_BIND_SERVICE") for the command. */
int mj_config_add_capability(mj_config_t *cfg, const char *name, mj_error_t **err);
/* Environment of every command started in this sandbox ("KEY=VALUE"). */
int mj_config_set_env(mj_config_t *cfg, const char *key, const char *value, mj_error_t **err);
void mj_config_clear_env(mj_config_t *cfg);
int mj_config_set_workdir(mj_config_t *cfg, const char *dir, mj_error_t **err);

/* cgroup limits.  required = the user asked for it: if this host cannot enforce it the sandbox does
 * not start (PERMISSION_DENIED / UNSUPPORTED saying how to fix it).  Not required = a default: when
 * it cannot be applied the run's warnings say so.  0 removes a limit. */
int mj_config_set_memory_limit(mj_config_t *cfg, uint64_t bytes, bool required, mj_error_t **err);
int mj_config_set_memory_request(mj_config_t *cfg, uint64_t bytes, mj_error_t **err);
int mj_config_set_cpu_limit(mj_config_t *cfg, double cpus, bool required, mj_error_t **err);
int mj_config_set_cpu_request(mj_config_t *cfg, double cpus, mj_error_t **err);
int mj_config_set_pids_limit(mj_config_t *cfg, uint64_t pids, bool required, mj_error_t **err);
/* io bandwidth of the sandbox on one block device (a path such as "/dev/vda"): bytes/s and
 * operations/s, 0 = no limit for that field.  Up to 4 devices. */
int mj_config_add_io_limit(mj_config_t *cfg, const char *device, uint64_t read_bps, uint64_t write_bps,
                           uint64_t read_iops, uint64_t write_iops, bool required, mj_error_t **err);

/* The cap on what a sandbox writes into its own file systems: the container layer (everything a
 * writable root takes: size and inodes) and every tmpfs mount without a size of its own.  0 = the
 * defaults (1 GiB for a writable root, 64 MiB for a tmpfs).  A disk that is not required is
 * lowered to half the memory limit when that is smaller (tmpfs pages are memory: filling it must
 * end in ENOSPC, not an OOM kill), with a warning; a required one is never lowered.  Less than
 * 64 KiB is INVALID_CONFIG. */
int mj_config_set_disk_limit(mj_config_t *cfg, uint64_t bytes, bool required, mj_error_t **err);

/* The generated /etc of a "host" root holds passwd and group (root, nobody and the sandbox's
 * user — unless the host's are listed with mj_config_add_host_path on purpose), hosts, hostname
 * and resolv.conf.  These add a line "ADDRESS NAME [NAME…]" to its hosts (after localhost and the
 * sandbox's own name), and replace its resolv.conf (default: the host's with MJ_NET_HOST, none
 * otherwise).  Other host files of /etc listed as host paths are copied in (those others may
 * read); host directories there are mounted as host paths are. */
int mj_config_add_hosts_entry(mj_config_t *cfg, const char *line, mj_error_t **err);
int mj_config_set_resolv_conf(mj_config_t *cfg, const char *text, mj_error_t **err);

/* Persistent sandboxes: after this many seconds from its start the sandbox stops itself, as
 * mj_sandbox_stop does (SIGTERM, SIGKILL 5 s later; files stay readable until it is destroyed),
 * and its info says ended_by "lifetime".  0 = no lifetime (the default). */
void mj_config_set_lifetime(mj_config_t *cfg, double seconds);
/* An image root: after mj_config_set_root(cfg, top layer), each further layer of the image, next
 * below the ones added before (topmost first).  The root is then an overlay of every layer under
 * the sandbox's writable container layer (a read-only root over several layers is UNSUPPORTED).
 * Paths must be absolute, without ':', ',', '\\', tab or newline.  Copied. */
int mj_config_add_root_layer(mj_config_t *cfg, const char *dir, mj_error_t **err);
/* An fd the sandbox's supervisor keeps open (never the workload) until the sandbox is gone: an
 * image lease, whose flock pins the image in the store (image/lease.h).  Duplicated: the caller
 * keeps its own fd.  A one-shot run does not need it (its caller holds the lease). */
int mj_config_set_image_lease(mj_config_t *cfg, int fd, mj_error_t **err);
/* How long a destroyed sandbox's supervisor lingers, files readable, before it goes. */
void mj_config_set_cleanup_delay(mj_config_t *cfg, double seconds);

/* seccomp: profile "default" (allow-list) or "unconfined"; allow/deny add or remove system calls
 * by name on top of the profile (unknown names are INVALID_CONFIG). */
int mj_config_set_seccomp(mj_config_t *cfg, const char *profile, mj_error_t **err);
int mj_config_seccomp_allow(mj_config_t *cfg, const char *syscall_name, mj_error_t **err);
int mj_config_seccomp_deny(mj_config_t *cfg, const char *syscall_name, mj_error_t **err);
/* Replaces the default allow-list with exactly these names (an imported Docker/OCI profile);
 * moonjail's own argument checks (clone namespace flags, personality, TIOCSTI) still apply. */
int mj_config_seccomp_base(mj_config_t *cfg, const char *const *names, size_t n, mj_error_t **err);
/* Persistent sandboxes: record refused system calls (seccomp user notification; the supervisor
 * answers EPERM and keeps the last 256) so mj_sandbox_denials() can report them. */
void mj_config_set_seccomp_log(mj_config_t *cfg, bool log);
/* Whether this libseccomp knows a system call name (on the native arch). */
bool mj_seccomp_syscall_known(const char *name);

/* Landlock: MJ_LANDLOCK_OFF, REQUIRED (no Landlock here = the sandbox does not start) or
 * BEST_EFFORT (applied when the kernel has it, else reported in warnings). */
typedef enum { MJ_LANDLOCK_OFF = 0, MJ_LANDLOCK_REQUIRED, MJ_LANDLOCK_BEST_EFFORT } mj_landlock_mode_t;
int mj_config_set_landlock(mj_config_t *cfg, mj_landlock_mode_t mode, mj_error_t **err);
/* Grants writes beneath path (inside).  Without any grant, every read-write mount and tmpfs is
 * granted; with grants, only those — a rw mount not granted stays unwritable. */
int mj_config_landlock_allow_write(mj_config_t *cfg, const char *path, mj_error_t **err);
/* TCP rules (Landlock ABI 4, Linux 6.7): once called for a direction ("bind" or "connect"), the
 * commands may bind / connect only to the ports allowed for it (port -1 allows none: restricts
 * the direction without allowing anything).  Up to 64 ports per direction.  Where the ABI lacks
 * them, a REQUIRED Landlock fails (UNSUPPORTED), a best-effort one runs with a warning. */
int mj_config_landlock_allow_tcp(mj_config_t *cfg, const char *direction, int port, mj_error_t **err);

/* LSM confinement applied to every command at exec: an AppArmor profile name or an SELinux label.
 * UNSUPPORTED ("not available on this host") when the LSM is not loaded. */
int mj_config_set_apparmor(mj_config_t *cfg, const char *profile, mj_error_t **err);
int mj_config_set_selinux(mj_config_t *cfg, const char *label, mj_error_t **err);

/* Parses a capability name; -1 when unknown. */
int mj_capability_from_name(const char *name);

/* ---------------------------------------------------------------- commands */

typedef struct mj_command mj_command_t;

mj_command_t *mj_command_new(void);
void mj_command_free(mj_command_t *cmd);
/* argv[0] is looked up in PATH inside the sandbox when it has no slash. */
int mj_command_set_argv(mj_command_t *cmd, size_t argc, const char *const *argv, mj_error_t **err);
int mj_command_set_env(mj_command_t *cmd, const char *key, const char *value, mj_error_t **err);
int mj_command_set_workdir(mj_command_t *cmd, const char *dir, mj_error_t **err);
/* Bytes written to the command's stdin, then closed.  Copied. */
int mj_command_set_stdin(mj_command_t *cmd, const void *data, size_t len, mj_error_t **err);
/* Relays bytes read from a host fd (borrowed, never passed into the sandbox) to stdin. */
void mj_command_set_stdin_fd(mj_command_t *cmd, int fd);
/* Ids the command runs as inside (default: the sandbox's user). */
int mj_command_set_user(mj_command_t *cmd, uid_t uid, gid_t gid, mj_error_t **err);
/* Narrows one command of a persistent sandbox to no writes anywhere (Landlock).  When the sandbox
 * runs without Landlock the exec fails with PERMISSION_DENIED rather than run unrestricted. */
void mj_command_set_read_only(mj_command_t *cmd, bool read_only);
/* Narrows one command of a persistent sandbox to no TCP bind or connect (a Landlock layer of its
 * own, ABI 4+, on top of the sandbox's).  A kernel without Landlock TCP rules makes the exec fail
 * with UNSUPPORTED rather than run unrestricted.  UDP and unix sockets are not covered. */
void mj_command_set_no_network(mj_command_t *cmd, bool no_network);
/* Narrows one command of a persistent sandbox to the paths given (Landlock, a layer of its own on
 * top of the sandbox's, so it can only narrow): the command may then reach only beneath them —
 * read and execute, and write where the sandbox lets it write — plus, to run at all, read and
 * execute /usr, /bin, /sbin, /lib*, /etc, read /proc and use /dev's nodes.  Absolute paths, at
 * most 64; a missing one grants nothing.  Without Landlock the exec fails with UNSUPPORTED rather
 * than run unrestricted. */
int mj_command_add_restrict_path(mj_command_t *cmd, const char *path, mj_error_t **err);
/* Runs the command on a new pseudo-terminal (persistent sandboxes): a fresh pty pair whose slave
 * becomes the command's controlling terminal and stdio; the caller's own terminal is never
 * passed in.  Output arrives as stdout; stdin bytes / the stdin fd are typed into it.  When the
 * stdin fd is a terminal it is put in raw mode for the run and its window size follows (SIGWINCH
 * with forward_signals). */
void mj_command_set_tty(mj_command_t *cmd, bool tty);
/* Wall-clock limit in seconds (0 = none). */
void mj_command_set_timeout(mj_command_t *cmd, double seconds);
/* Cap on stdout+stderr bytes; passing it ends the command with ended_by "output_limit". */
void mj_command_set_output_limit(mj_command_t *cmd, uint64_t bytes);
/* Copies output to these host fds as it arrives (borrowed; -1 = do not copy). */
void mj_command_set_tee(mj_command_t *cmd, int stdout_fd, int stderr_fd);
/* Whether the result keeps the output (default true).  false: stdout, stderr and combined stay
 * empty, so a host that only tees the output holds none of it; the output limit still counts
 * every byte and ends the command at the cap. */
void mj_command_set_capture(mj_command_t *cmd, bool capture);
/* Keeps the command's output in its named sandbox's state, for `moonjail logs` (anonymous
 * sandboxes refuse it: INVALID_STATE): `<log dir>/<pid>.log`, at most max_bytes (0: 1 MiB) before
 * it rotates into `<pid>.log.1`, so at most twice that is kept per command, and the logs of at most
 * 64 commands per sandbox (the oldest ended ones go).  With mj_sandbox_exec the caller's pump writes
 * it while the command runs (besides what it captures); with mj_sandbox_spawn_detached a host
 * process of its own does ("moonjail-log", forked: call it from a single-threaded host), which
 * outlives the caller.  `<pid>.exit` is written when the command ends. */
void mj_command_set_log(mj_command_t *cmd, bool log, uint64_t max_bytes);
/* What the end of a detached, logged command does to its sandbox: nothing (the default), stop it
 * (as `moonjail stop`: everything else in it is ended; `mj_sandbox_start` makes it usable again),
 * or destroy it (`moonjail run --rm`). */
typedef enum { MJ_ON_EXIT_NOTHING = 0, MJ_ON_EXIT_STOP, MJ_ON_EXIT_DESTROY } mj_on_exit_t;
void mj_command_set_on_exit(mj_command_t *cmd, mj_on_exit_t action);
/* While the command runs, SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2 and SIGWINCH sent to
 * this process are forwarded to the command instead (for CLI hosts). */
void mj_command_set_forward_signals(mj_command_t *cmd, bool forward);

/* ---------------------------------------------------------------- results */

typedef struct mj_result mj_result_t;

typedef enum {
    MJ_END_EXIT = 0,
    MJ_END_SIGNAL,
    MJ_END_TIMEOUT,
    MJ_END_CPU_TIME,
    MJ_END_OOM,
    MJ_END_PIDS,
    MJ_END_OUTPUT_LIMIT,
    MJ_END_DISK,
} mj_end_reason_t;

const char *mj_end_reason_name(mj_end_reason_t r); /* "exit", "signal", "timeout", … */

int mj_result_exit_code(const mj_result_t *r);  /* 128+N when killed by signal N, 124 timeout */
int mj_result_signal(const mj_result_t *r);     /* 0 unless killed by a signal */
bool mj_result_success(const mj_result_t *r);
mj_end_reason_t mj_result_ended_by(const mj_result_t *r);
const char *mj_result_stdout(const mj_result_t *r, size_t *len);
const char *mj_result_stderr(const mj_result_t *r, size_t *len);
const char *mj_result_combined(const mj_result_t *r, size_t *len);
bool mj_result_output_truncated(const mj_result_t *r);
double mj_result_start_time(const mj_result_t *r); /* epoch seconds */
double mj_result_end_time(const mj_result_t *r);
double mj_result_duration(const mj_result_t *r);
double mj_result_cpu_time(const mj_result_t *r);   /* user+system seconds of the command tree */
uint64_t mj_result_memory_peak(const mj_result_t *r); /* bytes (max RSS of the command tree) */
/* CFS quota periods under a CPU limit (cgroup cpu.stat nr_periods / nr_throttled); 0 without one */
uint64_t mj_result_cpu_periods(const mj_result_t *r);
uint64_t mj_result_cpu_throttled(const mj_result_t *r);
pid_t mj_result_pid(const mj_result_t *r);         /* the command's pid inside the sandbox */
/* Warnings about things the host could not apply (e.g. a default limit): count and text. */
size_t mj_result_warning_count(const mj_result_t *r);
const char *mj_result_warning(const mj_result_t *r, size_t i);
void mj_result_free(mj_result_t *r);

/* ---------------------------------------------------------------- running */

/* One-shot: builds the plan from cfg, starts a fresh sandbox, runs cmd in it, tears it down.
 * Returns 0 and *out when the command ran (whatever its exit status); -1 and *err when nothing
 * ran (bad config: INVALID_CONFIG; setup failure: SANDBOX_INIT_FAILED; missing or
 * non-executable binary: COMMAND_EXECUTION_FAILED with errno ENOENT / EACCES). */
int mj_run(const mj_config_t *cfg, const mj_command_t *cmd, mj_result_t **out, mj_error_t **err);


/* ---------------------------------------------------------------- persistent sandboxes */

typedef struct mj_sandbox mj_sandbox_t;
typedef struct mj_process mj_process_t;

typedef enum {
    MJ_STATUS_CREATING = 0,
    MJ_STATUS_STARTING,
    MJ_STATUS_RUNNING,
    MJ_STATUS_PAUSED,
    MJ_STATUS_STOPPING,
    MJ_STATUS_STOPPED,
    MJ_STATUS_FAILED,
    MJ_STATUS_DESTROYED,
} mj_status_t;

const char *mj_status_name(mj_status_t status); /* "creating", "running", … */

/* Where named sandboxes keep their state: $MOONJAIL_STATE_DIR, else /run/moonjail (root) or
 * $XDG_RUNTIME_DIR/moonjail (rootless).  Returns a static string. */
const char *mj_state_dir(void);

/* Creates and starts a sandbox whose supervisor stays warm between commands.
 * name NULL: an anonymous sandbox owned by this process (it dies with it).  A name registers the
 * sandbox under mj_state_dir() so other processes can mj_sandbox_open() it; it outlives its
 * creator until destroyed.  Names are [A-Za-z0-9][A-Za-z0-9_.-]{0,63}; an existing name is
 * INVALID_STATE. */
int mj_sandbox_create(const mj_config_t *cfg, const char *name, mj_sandbox_t **out, mj_error_t **err);
/* Attaches to a named sandbox; SANDBOX_NOT_FOUND when there is none. */
int mj_sandbox_open(const char *name, mj_sandbox_t **out, mj_error_t **err);
/* Names of the sandboxes registered under mj_state_dir(); free with mj_strings_free. */
int mj_sandbox_list(char ***names, size_t *count, mj_error_t **err);
void mj_strings_free(char **v, size_t n);

/* What mj_sandbox_prune removed. */
typedef struct {
    unsigned sandboxes;   /* named sandboxes whose supervisor was gone (failed, or their linger over) */
    unsigned leftovers;   /* creations and removals a crash cut short (never listed) */
    unsigned supervisors; /* supervisors of those, still running, killed */
    unsigned cgroups;     /* cgroup directories of this caller's that no process was in and no creation claimed */
} mj_prune_report_t;
/* Removes what dead sandboxes and crashed moonjail processes left on this host for this caller:
 * the state and cgroups of named sandboxes whose supervisor is gone, the half-made and
 * half-removed ones, and empty, unclaimed cgroups under <own>/moonjail.  Live sandboxes (running,
 * paused, stopped, lingering) are left alone. */
int mj_sandbox_prune(mj_prune_report_t *out, mj_error_t **err);

/* Runs a command and waits for it; like mj_run, a result whenever the command ran.  The
 * command's env is the sandbox's env overlaid with the command's own; its workdir defaults to the
 * sandbox's.  Background processes the command leaves behind keep running (use a timeout or
 * mj_sandbox_signal to end them). */
int mj_sandbox_exec(mj_sandbox_t *sb, const mj_command_t *cmd, mj_result_t **out, mj_error_t **err);
/* Starts a command and returns at once; stdio through mj_process_*. */
int mj_sandbox_spawn(mj_sandbox_t *sb, const mj_command_t *cmd, mj_process_t **out, mj_error_t **err);
/* Like spawn, but the command keeps running when this process goes away (moonjail exec -d); its
 * output is kept with mj_command_set_log, else it goes to /dev/null.  No terminal (UNSUPPORTED). */
int mj_sandbox_spawn_detached(mj_sandbox_t *sb, const mj_command_t *cmd, pid_t *pid, mj_error_t **err);
/* Where a named sandbox keeps its commands' output (mj_command_set_log), allocated (free() it);
 * NULL for an anonymous one.  Each command's `<pid>.log` (and the older `<pid>.log.1`) is a
 * sequence of records: one byte 'o' (stdout) or 'e' (stderr), the length (4 bytes, little
 * endian), the bytes; a rotated file ends with a record 'r' of no bytes; `<pid>.exit` ("KEY=VALUE" lines: exit_code, signal, ended_by, end_time, or
 * error) appears when it ended; `<pid>.writer` names the host process writing it ("PID
 * STARTTIME", as /proc/PID/stat's field 22). */
char *mj_sandbox_log_dir(const mj_sandbox_t *sb);

/* Sends sig to every process of the sandbox except its supervisor. */
int mj_sandbox_signal(mj_sandbox_t *sb, int sig, mj_error_t **err);
int mj_sandbox_pause(mj_sandbox_t *sb, mj_error_t **err);
int mj_sandbox_resume(mj_sandbox_t *sb, mj_error_t **err);
/* SIGTERM to every process, up to grace seconds, then SIGKILL; the sandbox is then "stopped":
 * its files stay readable, commands are refused. */
int mj_sandbox_stop(mj_sandbox_t *sb, double grace, mj_error_t **err);
/* A stopped sandbox takes commands again (`moonjail start`); INVALID_STATE when it is not stopped. */
int mj_sandbox_start(mj_sandbox_t *sb, mj_error_t **err);
/* Kills everything, removes mounts, state and the name; idempotent.  With a cleanup delay in the
 * config the supervisor lingers that long (files inspectable) before it goes. */
int mj_sandbox_destroy(mj_sandbox_t *sb, mj_error_t **err);
/* Frees the handle; an anonymous sandbox is destroyed with it, a named one stays. */
void mj_sandbox_free(mj_sandbox_t *sb);

/* Default workdir and environment of later commands (named sandboxes remember them). */
const char *mj_sandbox_workdir(const mj_sandbox_t *sb);
int mj_sandbox_set_workdir(mj_sandbox_t *sb, const char *dir, mj_error_t **err);
/* NULL-terminated "KEY=VALUE" array, borrowed. */
const char *const *mj_sandbox_env(const mj_sandbox_t *sb);
int mj_sandbox_set_env(mj_sandbox_t *sb, const char *key, const char *value, mj_error_t **err);
int mj_sandbox_unset_env(mj_sandbox_t *sb, const char *key, mj_error_t **err);
void mj_sandbox_clear_env(mj_sandbox_t *sb);

/* Opaque text a host stores with a named sandbox (the Lua layer keeps labels, annotations,
 * image and policy there as JSON).  Copied. */
int mj_sandbox_set_meta(mj_sandbox_t *sb, const char *text, mj_error_t **err);
const char *mj_sandbox_meta(const mj_sandbox_t *sb);

/* The strings are borrowed from the handle: valid until it is freed. */
typedef struct {
    const char *id;
    const char *name;        /* the id for an anonymous sandbox */
    mj_status_t status;
    double created_at;       /* epoch seconds */
    double started_at;
    const char *hostname;
    pid_t supervisor_pid;    /* on the host */
    uid_t uid;               /* inside */
    gid_t gid;
    bool rootless;
    const char *network;     /* "none", "host", "outbound" or "filtered" */
    const char *ip;          /* the sandbox's address where moonjail-net knows it ("" otherwise) */
    bool responding;         /* false: its supervisor did not answer in time (status is the last known) */
    const char *ended_by;    /* why a stopped sandbox stopped by itself: "lifetime"; NULL otherwise */
} mj_sandbox_info_t;

int mj_sandbox_info(mj_sandbox_t *sb, mj_sandbox_info_t *out, mj_error_t **err);
/* What the host could not apply when the sandbox was created (e.g. an rw mount owned by root). */
size_t mj_sandbox_warning_count(const mj_sandbox_t *sb);
const char *mj_sandbox_warning(const mj_sandbox_t *sb, size_t i);
mj_status_t mj_sandbox_status(mj_sandbox_t *sb);

typedef struct {
    double timestamp;        /* epoch seconds of the sample */
    double cpu_time;         /* user+system seconds of every process, live and reaped */
    double cpu_percent;      /* 100 = one core busy (as docker stats): since this handle's previous
                              * sample when ≥ 0.5 s ago, else over the sandbox's life; ≤ 100 × cores */
    uint64_t memory_usage;   /* bytes: sum of RSS of live processes */
    double memory_percent;   /* of the host's RAM (or the memory limit when one is set) */
    uint64_t memory_peak;    /* bytes: highest memory_usage seen, or the kernel's peak when known */
    uint64_t disk_usage;     /* bytes written into the sandbox's own tmpfs mounts */
    uint64_t disk_reads;     /* read syscalls (approximation: /proc io syscr) */
    uint64_t disk_writes;
    uint64_t network_in;     /* bytes received on the sandbox's interfaces */
    uint64_t network_out;
    unsigned process_count;  /* live processes, supervisor excluded */
    unsigned thread_count;
    unsigned file_handles;   /* open fds of those processes */
    double uptime;           /* seconds since started */
    /* Block I/O: from the io cgroup (io.stat / blkio) when the sandbox has one (io limits), with
     * operation counts; else bytes the live processes caused to be read from / written to storage
     * (/proc/PID/io read_bytes / write_bytes), ops 0 */
    uint64_t block_read_bytes, block_write_bytes, block_read_ops, block_write_ops;
    bool block_io_from_cgroup;
} mj_usage_t;

int mj_sandbox_usage(mj_sandbox_t *sb, mj_usage_t *out, mj_error_t **err);

/* A system call the filter refused. */
typedef struct {
    int nr;               /* the system call's number (native arch) */
    const char *syscall;  /* its name (a static string), NULL when libseccomp does not know it */
    pid_t pid;            /* inside the sandbox */
} mj_denial_t;
/* System calls the filter refused since the previous call (seccomp_log sandboxes; others: none);
 * *out is malloc'ed: free(*out). */
int mj_sandbox_denials(mj_sandbox_t *sb, mj_denial_t **out, size_t *count, uint64_t *total, mj_error_t **err);
/* One-shot runs with seccomp_log: the refusals during the run (the first 64; total counts all).
 * Borrowed from the result. */
size_t mj_result_denial_count(const mj_result_t *r);
uint64_t mj_result_denials_total(const mj_result_t *r);
const mj_denial_t *mj_result_denial(const mj_result_t *r, size_t i);

/* A process inside (ps / top). */
typedef struct {
    pid_t pid;               /* inside the sandbox */
    pid_t ppid;
    uid_t uid;
    char state;
    double cpu_time;
    uint64_t rss;
    char *command;           /* its command line, owned by the array */
} mj_proc_entry_t;

int mj_sandbox_processes(mj_sandbox_t *sb, mj_proc_entry_t **out, size_t *count, mj_error_t **err);
/* Frees the entries' strings and the array. */
void mj_proc_entries_free(mj_proc_entry_t *v, size_t n);

/* ---------------------------------------------------------------- files inside a sandbox
 * Paths are absolute paths inside the sandbox.  The host resolves them inside the sandbox's root
 * (openat2 RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS), never follows its symlinks out, opens with
 * O_NONBLOCK and refuses anything that is not a regular file where it reads or writes data.
 * Every operation acts as the sandbox's user — its ids, none of the caller's groups or
 * capabilities, its commands' Landlock rules — so it sees and changes exactly what a command of
 * the sandbox could (PERMISSION_DENIED where that command would be refused). */

typedef struct {
    char *name;
    char *path;
    uint64_t size;
    uint32_t mode;           /* permission bits and type bits, as st_mode */
    double mod_time;         /* epoch seconds */
    bool is_dir;
    bool is_link;
    char *owner;             /* names from the sandbox's /etc/passwd, else the number */
    char *group;
    char *permissions;       /* "-rw-r--r--" */
} mj_file_info_t;

/* Frees the strings of n infos and the array itself. */
void mj_file_infos_free(mj_file_info_t *v, size_t n);
/* Frees the strings of one info (mj_sandbox_stat's) and zeroes it. */
void mj_file_info_clear(mj_file_info_t *fi);

/* Writes (creates or truncates) a regular file owned by the sandbox's user; mode & 07777. */
int mj_sandbox_write_file(mj_sandbox_t *sb, const char *path, const void *data, size_t len, unsigned mode,
                          mj_error_t **err);
/* Reads a regular file (at most max bytes; 0 = 1 GiB); *data is malloc'ed and NUL-terminated. */
int mj_sandbox_read_file(mj_sandbox_t *sb, const char *path, size_t max, char **data, size_t *len,
                         mj_error_t **err);
/* A directory's entries (sorted by name), or the one entry when path is not a directory. */
int mj_sandbox_list_files(mj_sandbox_t *sb, const char *path, mj_file_info_t **out, size_t *count,
                          mj_error_t **err);
int mj_sandbox_stat(mj_sandbox_t *sb, const char *path, mj_file_info_t *out, mj_error_t **err);
/* Copies a host file or directory tree into the sandbox (modes kept, owner = sandbox user).
 * When dest is an existing directory the source goes inside it, as cp and docker cp do. */
int mj_sandbox_copy_in(mj_sandbox_t *sb, const char *host_src, const char *dest, mj_error_t **err);
/* Copies a sandbox file or tree out to the host (modes kept; symlinks copied as links; the holes
 * of sparse files kept as holes; devices, FIFOs and sockets inside a tree left out, one named as
 * src is an error), within the default budget below. */
int mj_sandbox_copy_out(mj_sandbox_t *sb, const char *src, const char *host_dest, mj_error_t **err);

/* What a copy out may still write on the host: bytes of file data (holes cost nothing) and
 * entries (files, directories and symlinks it creates).  The copy takes them down as it writes. */
typedef struct {
    uint64_t bytes;
    uint64_t entries;
} mj_copy_budget_t;

/* The budget of each mj_sandbox_copy_out. */
#define MJ_COPY_OUT_BYTES ((uint64_t)8 << 30)
#define MJ_COPY_OUT_ENTRIES ((uint64_t)200000)

/* mj_sandbox_copy_out within *budget (NULL: the default above), taken down by what the copy
 * wrote.  Going over it, or deeper than 256 directory levels, fails with RESOURCE_LIMIT_EXCEEDED
 * naming the limit; whatever a failed copy out created on the host is removed again (entries it
 * copied into directories that existed before are named in the message when they stay). */
int mj_sandbox_copy_out_budget(mj_sandbox_t *sb, const char *src, const char *host_dest, mj_copy_budget_t *budget,
                               mj_error_t **err);
int mj_sandbox_mkdir(mj_sandbox_t *sb, const char *path, unsigned mode, mj_error_t **err);
int mj_sandbox_remove(mj_sandbox_t *sb, const char *path, bool recursive, mj_error_t **err);

/* ---------------------------------------------------------------- streaming processes */

/* Host fds of the process's stdio (borrowed; -1 once closed).  stdout/stderr are non-blocking. */
int mj_process_stdin_fd(const mj_process_t *p);
int mj_process_stdout_fd(const mj_process_t *p);
int mj_process_stderr_fd(const mj_process_t *p);
void mj_process_close_stdin(mj_process_t *p);
pid_t mj_process_pid(const mj_process_t *p);
int mj_process_signal(mj_process_t *p, int sig, mj_error_t **err);
/* Kills the command and everything it started. */
int mj_process_kill_tree(mj_process_t *p, mj_error_t **err);
/* Waits for the command (timeout seconds, < 0 = forever; TIMEOUT error when it passes).  The
 * result has exit code, signal, times and usage; output is whatever the caller did not read. */
int mj_process_wait(mj_process_t *p, double timeout, mj_result_t **out, mj_error_t **err);
/* Non-blocking: 1 and *out when done, 0 when still running. */
int mj_process_poll(mj_process_t *p, mj_result_t **out, mj_error_t **err);
/* Kills the tree if still running, then frees. */
void mj_process_free(mj_process_t *p);

/* ---------------------------------------------------------------- host checks (moonjail doctor) */

typedef struct {
    char *name;        /* "user_namespaces", "cgroup_limits", "seccomp", "landlock", … */
    int status;        /* 1 available, 0 missing, -1 informational */
    char *detail;
    char *fix;         /* how to get it, when missing; "" otherwise */
} mj_check_t;

/* Probes what this host can enforce; free *checks with mj_checks_free. */
int mj_doctor(mj_check_t **checks, size_t *count);
void mj_checks_free(mj_check_t *v, size_t n);

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif
#endif

/* config.c — mj_config_t and mj_command_t: setters that copy and validate what a host asks for.
 * Validation here is about shape (absolute paths, ranges, names); whether a path exists on this
 * host is checked when the plan is built.  Nothing here touches the kernel. */
#define _GNU_SOURCE
#include <ctype.h>
#include <limits.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <string.h>

#include "cgroup.h"
#include "config.h"
#include "landlock.h"
#include "util.h"

mj_config_t *mj_config_new(void)
{
    mj_config_t *cfg = mj_xcalloc(1, sizeof(*cfg));
    cfg->readonly_root = true;
    cfg->network = MJ_NET_NONE;
    cfg->lease_fd = -1;
    return cfg;
}

void mj_config_free(mj_config_t *cfg)
{
    if (!cfg)
        return;
    free(cfg->root);
    for (size_t i = 0; i < cfg->n_host_paths; i++)
        free(cfg->host_paths[i].path);
    free(cfg->host_paths);
    for (size_t i = 0; i < cfg->n_mounts; i++) {
        free(cfg->mounts[i].src);
        free(cfg->mounts[i].dst);
        free(cfg->mounts[i].upper);
        free(cfg->mounts[i].work);
    }
    free(cfg->mounts);
    mj_strv_free(&cfg->masked);
    mj_strv_free(&cfg->readonly);
    free(cfg->hostname);
    mj_strv_free(&cfg->env);
    free(cfg->workdir);
    mj_strv_free(&cfg->seccomp_allow);
    mj_strv_free(&cfg->seccomp_base);
    mj_strv_free(&cfg->landlock_write);
    free(cfg->apparmor);
    free(cfg->selinux);
    mj_strv_free(&cfg->seccomp_deny);
    free(cfg->net_config);
    free(cfg->net_audit_log);
    mj_strv_free(&cfg->etc_hosts);
    free(cfg->resolv_conf);
    mj_strv_free(&cfg->root_layers);
    mj_close_fd(&cfg->lease_fd);
    free(cfg);
}

static int check_abs(const char *what, const char *path, mj_error_t **err)
{
    if (!mj_path_is_clean_absolute(path)) {
        if (err)
            *err = mj_error_new(MJ_ERR_INVALID_CONFIG, EINVAL,
                                "%s: expected an absolute path without '..', got '%s'", what,
                                path ? path : "(null)");
        return -1;
    }
    if (strlen(path) >= PATH_MAX) {
        if (err)
            *err = mj_error_new(MJ_ERR_INVALID_CONFIG, ENAMETOOLONG, "%s: path too long", what);
        return -1;
    }
    return 0;
}

int mj_config_set_root(mj_config_t *cfg, const char *root, mj_error_t **err)
{
    if (root && strcmp(root, "host") != 0 && check_abs("root", root, err) < 0)
        return -1;
    free(cfg->root);
    cfg->root = root && strcmp(root, "host") != 0 ? mj_xstrdup(root) : NULL;
    return 0;
}

int mj_config_add_host_path(mj_config_t *cfg, const char *path, bool required, mj_error_t **err)
{
    if (check_abs("host_paths", path, err) < 0)
        return -1;
    if (strcmp(path, "/") == 0) {
        if (err)
            *err = mj_error_new(MJ_ERR_INVALID_CONFIG, EINVAL,
                                "host_paths: exposing the whole host root is not allowed");
        return -1;
    }
    cfg->host_paths = mj_xrealloc(cfg->host_paths, (cfg->n_host_paths + 1) * sizeof(*cfg->host_paths));
    cfg->host_paths[cfg->n_host_paths].path = mj_xstrdup(path);
    cfg->host_paths[cfg->n_host_paths].required = required;
    cfg->n_host_paths++;
    return 0;
}

void mj_config_set_readonly_root(mj_config_t *cfg, bool readonly)
{
    cfg->readonly_root = readonly;
}

int mj_config_add_mount(mj_config_t *cfg, mj_mount_kind_t kind, const char *src, const char *dst,
                        uint64_t size_bytes, unsigned mode, mj_error_t **err)
{
    if (kind != MJ_MOUNT_RO && kind != MJ_MOUNT_RW && kind != MJ_MOUNT_TMPFS) {
        if (err)
            *err = mj_error_new(MJ_ERR_INVALID_CONFIG, EINVAL, "mounts: unknown mount kind %d", (int)kind);
        return -1;
    }
    if (kind != MJ_MOUNT_TMPFS && check_abs("mounts: source", src, err) < 0)
        return -1;
    if (check_abs("mounts: destination", dst, err) < 0)
        return -1;
    if (strcmp(dst, "/") == 0) {
        if (err)
            *err = mj_error_new(MJ_ERR_INVALID_CONFIG, EINVAL,
                                "mounts: destination '/' is not allowed (use filesystem.root)");
        return -1;
    }
    if (mode > 07777) {
        if (err)
            *err = mj_error_new(MJ_ERR_INVALID_CONFIG, EINVAL, "mounts: mode %o out of range", mode);
        return -1;
    }
    cfg->mounts = mj_xrealloc(cfg->mounts, (cfg->n_mounts + 1) * sizeof(*cfg->mounts));
    mj_mount_spec_t *m = &cfg->mounts[cfg->n_mounts++];
    m->kind = kind;
    m->src = kind == MJ_MOUNT_TMPFS ? NULL : mj_xstrdup(src);
    m->dst = mj_xstrdup(dst);
    m->size = size_bytes;
    m->mode = mode;
    m->upper = m->work = NULL;
    m->has_owner = false;
    return 0;
}

/* overlayfs splits its options at ',' and lowerdir at ':'; '\\' escapes them. */
static int check_overlay_path(const char *what, const char *path, mj_error_t **err)
{
    if (check_abs(what, path, err) < 0)
        return -1;
    if (strpbrk(path, ":,\\")) {
        if (err)
            *err = mj_error_new(MJ_ERR_INVALID_CONFIG, EINVAL,
                                "%s: '%s' contains ':', ',' or '\\', which overlayfs cannot take", what, path);
        return -1;
    }
    return 0;
}

int mj_config_add_overlay(mj_config_t *cfg, const char *lower, const char *upper, const char *work,
                          const char *dst, mj_error_t **err)
{
    if (check_overlay_path("cow mount: source", lower, err) < 0 ||
        check_overlay_path("cow mount: upper directory", upper, err) < 0 ||
        check_overlay_path("cow mount: work directory", work, err) < 0)
        return -1;
    if (mj_config_add_mount(cfg, MJ_MOUNT_RO, lower, dst, 0, 0, err) < 0)
        return -1;
    mj_mount_spec_t *m = &cfg->mounts[cfg->n_mounts - 1];
    m->kind = MJ_MOUNT_COW;
    m->upper = mj_xstrdup(upper);
    m->work = mj_xstrdup(work);
    return 0;
}

int mj_config_set_mount_owner(mj_config_t *cfg, const char *dst, uid_t uid, gid_t gid, mj_error_t **err)
{
    for (size_t i = cfg->n_mounts; i-- > 0;) {
        mj_mount_spec_t *m = &cfg->mounts[i];
        if (strcmp(m->dst, dst) != 0)
            continue;
        if (m->kind == MJ_MOUNT_TMPFS)
            break;
        m->has_owner = true;
        m->owner_uid = uid;
        m->owner_gid = gid;
        return 0;
    }
    if (err)
        *err = mj_error_new(MJ_ERR_INVALID_CONFIG, ENOENT, "mount owner: no bind or cow mount at '%s'", dst);
    return -1;
}

int mj_config_add_masked(mj_config_t *cfg, const char *path, mj_error_t **err)
{
    if (check_abs("masked", path, err) < 0)
        return -1;
    mj_strv_push(&cfg->masked, path);
    return 0;
}

int mj_config_add_readonly(mj_config_t *cfg, const char *path, mj_error_t **err)
{
    if (check_abs("readonly", path, err) < 0)
        return -1;
    mj_strv_push(&cfg->readonly, path);
    return 0;
}

int mj_config_set_hostname(mj_config_t *cfg, const char *hostname, mj_error_t **err)
{
    size_t n = hostname ? strlen(hostname) : 0;
    bool ok = n > 0 && n <= 64;
    for (size_t i = 0; ok && i < n; i++) {
        unsigned char c = (unsigned char)hostname[i];
        ok = isalnum(c) || c == '-' || c == '.' || c == '_';
    }
    if (!ok) {
        if (err)
            *err = mj_error_new(MJ_ERR_INVALID_CONFIG, EINVAL,
                                "hostname: expected 1-64 characters of [A-Za-z0-9._-], got '%s'",
                                hostname ? hostname : "(null)");
        return -1;
    }
    free(cfg->hostname);
    cfg->hostname = mj_xstrdup(hostname);
    return 0;
}

int mj_config_set_user(mj_config_t *cfg, uid_t uid, gid_t gid, mj_error_t **err)
{
    if (uid >= 65536 || gid >= 65536) {
        if (err)
            *err = mj_error_new(MJ_ERR_INVALID_CONFIG, EINVAL,
                                "user: ids inside the sandbox must be below 65536, got %u:%u",
                                (unsigned)uid, (unsigned)gid);
        return -1;
    }
    cfg->uid = uid;
    cfg->gid = gid;
    return 0;
}

int mj_config_set_network(mj_config_t *cfg, mj_network_mode_t mode, mj_error_t **err)
{
    if (mode != MJ_NET_NONE && mode != MJ_NET_HOST && mode != MJ_NET_OUTBOUND && mode != MJ_NET_FILTERED) {
        if (err)
            *err = mj_error_new(MJ_ERR_INVALID_CONFIG, EINVAL, "network: unknown mode %d", (int)mode);
        return -1;
    }
    cfg->network = mode;
    return 0;
}

/* The helper checks the grammar itself (and fails the start with its error); here only the shape
 * the plan relies on: bounded text, no NUL (a C string cannot carry one anyway). */
int mj_config_set_network_config(mj_config_t *cfg, const char *text, mj_error_t **err)
{
    if (text && strlen(text) > (1u << 20)) {
        if (err)
            *err = mj_error_new(MJ_ERR_INVALID_CONFIG, EFBIG, "network: the helper's configuration is over 1 MiB");
        return -1;
    }
    free(cfg->net_config);
    cfg->net_config = text ? mj_xstrdup(text) : NULL;
    return 0;
}

int mj_config_set_network_audit_log(mj_config_t *cfg, const char *path, mj_error_t **err)
{
    if (path && (!*path || strlen(path) >= PATH_MAX)) {
        if (err)
            *err = mj_error_new(MJ_ERR_INVALID_CONFIG, EINVAL, "audit.log: expected a path");
        return -1;
    }
    free(cfg->net_audit_log);
    cfg->net_audit_log = path ? mj_xstrdup(path) : NULL;
    return 0;
}

int mj_config_set_rlimit(mj_config_t *cfg, mj_rlimit_t which, uint64_t value, mj_error_t **err)
{
    if ((unsigned)which >= MJ_RLIMIT__COUNT) {
        if (err)
            *err = mj_error_new(MJ_ERR_INVALID_CONFIG, EINVAL, "limits: unknown rlimit %d", (int)which);
        return -1;
    }
    if (which == MJ_RLIMIT_NOFILE && value != UINT64_MAX && (value < 3 || value > 1048576)) {
        if (err)
            *err = mj_error_new(MJ_ERR_INVALID_CONFIG, EINVAL,
                                "limits.nofile: expected 3..1048576, got %llu", (unsigned long long)value);
        return -1;
    }
    if (which == MJ_RLIMIT_NPROC && value == 0) {
        if (err)
            *err = mj_error_new(MJ_ERR_INVALID_CONFIG, EINVAL, "limits.nproc: must be at least 1");
        return -1;
    }
    cfg->rlimit_set[which] = true;
    cfg->rlimit[which] = value;
    return 0;
}

static const char *const cap_names[] = {
    "CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID",
    "SETPCAP", "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW",
    "IPC_LOCK", "IPC_OWNER", "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT",
    "SYS_ADMIN", "SYS_BOOT", "SYS_NICE", "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD",
    "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP", "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG",
    "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF", "CHECKPOINT_RESTORE",
};

int mj_capability_from_name(const char *name)
{
    if (!name)
        return -1;
    if (strncasecmp(name, "CAP_", 4) == 0)
        name += 4;
    for (size_t i = 0; i < MJ_ARRAY_LEN(cap_names); i++)
        if (strcasecmp(cap_names[i], name) == 0)
            return (int)i;
    return -1;
}

int mj_config_add_capability(mj_config_t *cfg, const char *name, mj_error_t **err)
{
    int cap = mj_capability_from_name(name);
    if (cap < 0) {
        if (err)
            *err = mj_error_new(MJ_ERR_INVALID_CONFIG, EINVAL, "capabilities: unknown capability '%s'",
                                name ? name : "(null)");
        return -1;
    }
    cfg->caps_keep |= UINT64_C(1) << cap;
    return 0;
}

static int check_env(const char *key, const char *value, mj_error_t **err)
{
    bool ok = key && *key && !strchr(key, '=') && value;
    if (!ok) {
        if (err)
            *err = mj_error_new(MJ_ERR_INVALID_CONFIG, EINVAL,
                                "env: invalid variable name '%s' (empty or contains '=')", key ? key : "(null)");
        return -1;
    }
    return 0;
}

int mj_config_set_env(mj_config_t *cfg, const char *key, const char *value, mj_error_t **err)
{
    if (check_env(key, value, err) < 0)
        return -1;
    mj_env_set(&cfg->env, key, value);
    return 0;
}

void mj_config_clear_env(mj_config_t *cfg)
{
    mj_strv_free(&cfg->env);
}

int mj_config_set_workdir(mj_config_t *cfg, const char *dir, mj_error_t **err)
{
    if (check_abs("workdir", dir, err) < 0)
        return -1;
    free(cfg->workdir);
    cfg->workdir = mj_xstrdup(dir);
    return 0;
}

/* ------------------------------------------------------------ commands */

mj_command_t *mj_command_new(void)
{
    mj_command_t *cmd = mj_xcalloc(1, sizeof(*cmd));
    cmd->stdin_fd = -1;
    cmd->tee_out = -1;
    cmd->tee_err = -1;
    return cmd;
}

void mj_command_free(mj_command_t *cmd)
{
    if (!cmd)
        return;
    mj_strv_free(&cmd->argv);
    mj_strv_free(&cmd->env);
    mj_strv_free(&cmd->restrict_paths);
    free(cmd->workdir);
    mj_buf_free(&cmd->stdin_data);
    free(cmd);
}

int mj_command_set_argv(mj_command_t *cmd, size_t argc, const char *const *argv, mj_error_t **err)
{
    if (argc == 0 || !argv || !argv[0] || !argv[0][0]) {
        if (err)
            *err = mj_error_new(MJ_ERR_INVALID_CONFIG, EINVAL, "command: empty command");
        return -1;
    }
    for (size_t i = 0; i < argc; i++) {
        if (!argv[i]) {
            if (err)
                *err = mj_error_new(MJ_ERR_INVALID_CONFIG, EINVAL, "command: argument %zu is missing", i + 1);
            return -1;
        }
    }
    mj_strv_free(&cmd->argv);
    for (size_t i = 0; i < argc; i++)
        mj_strv_push(&cmd->argv, argv[i]);
    return 0;
}

int mj_command_set_env(mj_command_t *cmd, const char *key, const char *value, mj_error_t **err)
{
    if (check_env(key, value, err) < 0)
        return -1;
    mj_env_set(&cmd->env, key, value);
    return 0;
}

int mj_command_set_workdir(mj_command_t *cmd, const char *dir, mj_error_t **err)
{
    if (check_abs("workdir", dir, err) < 0)
        return -1;
    free(cmd->workdir);
    cmd->workdir = mj_xstrdup(dir);
    return 0;
}

int mj_command_set_stdin(mj_command_t *cmd, const void *data, size_t len, mj_error_t **err)
{
    (void)err;
    mj_buf_free(&cmd->stdin_data);
    mj_buf_append(&cmd->stdin_data, data, len);
    cmd->has_stdin = true;
    return 0;
}

void mj_command_set_stdin_fd(mj_command_t *cmd, int fd)
{
    cmd->stdin_fd = fd;
}

int mj_command_set_user(mj_command_t *cmd, uid_t uid, gid_t gid, mj_error_t **err)
{
    if (uid >= 65536 || gid >= 65536) {
        if (err)
            *err = mj_error_new(MJ_ERR_INVALID_CONFIG, EINVAL,
                                "user: ids inside the sandbox must be below 65536, got %u:%u", (unsigned)uid,
                                (unsigned)gid);
        return -1;
    }
    cmd->has_user = true;
    cmd->uid = uid;
    cmd->gid = gid;
    return 0;
}

int mj_config_set_disk_limit(mj_config_t *cfg, uint64_t bytes, bool required, mj_error_t **err)
{
    if (bytes != 0 && bytes < 65536) {
        if (err)
            *err = mj_error_new(MJ_ERR_INVALID_CONFIG, EINVAL, "limits.disk: %llu bytes is less than 64K",
                                (unsigned long long)bytes);
        return -1;
    }
    cfg->disk_limit = bytes;
    cfg->disk_required = bytes != 0 && required;
    return 0;
}

/* One line of text without control characters (a hosts entry, a resolv.conf). */
static bool text_ok(const char *s, bool newlines)
{
    for (; s && *s; s++)
        if (((unsigned char)*s < 0x20 && !(newlines && (*s == '\n' || *s == '\t'))) || *s == 0x7f)
            return false;
    return s != NULL;
}

int mj_config_add_hosts_entry(mj_config_t *cfg, const char *line, mj_error_t **err)
{
    if (!text_ok(line, false) || !*line || strlen(line) > 1024) {
        if (err)
            *err = mj_error_new(MJ_ERR_INVALID_CONFIG, EINVAL,
                                "hosts entry: expected one line \"ADDRESS NAME [NAME...]\" without control characters");
        return -1;
    }
    mj_strv_push(&cfg->etc_hosts, line);
    return 0;
}

int mj_config_set_resolv_conf(mj_config_t *cfg, const char *text, mj_error_t **err)
{
    if (text && (!text_ok(text, true) || strlen(text) > 65536)) {
        if (err)
            *err = mj_error_new(MJ_ERR_INVALID_CONFIG, EINVAL,
                                "resolv.conf: expected text of lines (at most 64K) without control characters");
        return -1;
    }
    free(cfg->resolv_conf);
    cfg->resolv_conf = text ? mj_xstrdup(text) : NULL;
    return 0;
}

void mj_config_set_lifetime(mj_config_t *cfg, double seconds)
{
    cfg->lifetime = seconds > 0 ? seconds : 0;
}

void mj_config_set_cleanup_delay(mj_config_t *cfg, double seconds)
{
    cfg->cleanup_delay = seconds > 0 ? seconds : 0;
}

void mj_command_set_tty(mj_command_t *cmd, bool tty)
{
    cmd->tty = tty;
}

void mj_command_set_capture(mj_command_t *cmd, bool capture)
{
    cmd->no_capture = !capture;
}

void mj_command_set_log(mj_command_t *cmd, bool log, uint64_t max_bytes)
{
    cmd->log = log;
    cmd->log_max = max_bytes;
}

void mj_command_set_on_exit(mj_command_t *cmd, mj_on_exit_t action)
{
    cmd->on_exit = action;
}

void mj_command_set_read_only(mj_command_t *cmd, bool read_only)
{
    cmd->read_only = read_only;
}

void mj_command_set_no_network(mj_command_t *cmd, bool no_network)
{
    cmd->no_network = no_network;
}

void mj_command_set_timeout(mj_command_t *cmd, double seconds)
{
    cmd->timeout = seconds > 0 ? seconds : 0;
}

void mj_command_set_output_limit(mj_command_t *cmd, uint64_t bytes)
{
    cmd->output_limit = bytes;
}

void mj_command_set_tee(mj_command_t *cmd, int stdout_fd, int stderr_fd)
{
    cmd->tee_out = stdout_fd;
    cmd->tee_err = stderr_fd;
}

void mj_command_set_forward_signals(mj_command_t *cmd, bool forward)
{
    cmd->forward_signals = forward;
}

int mj_config_set_memory_limit(mj_config_t *cfg, uint64_t bytes, bool required, mj_error_t **err)
{
    if (bytes && bytes < (4u << 20)) {
        *err = mj_error_new(MJ_ERR_INVALID_CONFIG, EINVAL, "limits.memory: at least 4M, got %llu bytes",
                            (unsigned long long)bytes);
        return -1;
    }
    cfg->limits.memory_max = bytes;
    cfg->limits.memory_required = bytes && required;
    return 0;
}

int mj_config_set_memory_request(mj_config_t *cfg, uint64_t bytes, mj_error_t **err)
{
    (void)err;
    cfg->limits.memory_request = bytes;
    return 0;
}

int mj_config_set_cpu_limit(mj_config_t *cfg, double cpus, bool required, mj_error_t **err)
{
    if (cpus < 0 || (cpus > 0 && cpus < 0.01) || cpus > 4096) {
        *err = mj_error_new(MJ_ERR_INVALID_CONFIG, EINVAL, "limits.cpus: expected 0.01..4096 cores, got %g", cpus);
        return -1;
    }
    cfg->limits.cpus = cpus;
    cfg->limits.cpus_required = cpus > 0 && required;
    return 0;
}

int mj_config_set_cpu_request(mj_config_t *cfg, double cpus, mj_error_t **err)
{
    if (cpus < 0 || cpus > 4096) {
        *err = mj_error_new(MJ_ERR_INVALID_CONFIG, EINVAL, "limits.cpu_request: expected 0..4096 cores, got %g", cpus);
        return -1;
    }
    cfg->limits.cpu_request = cpus;
    return 0;
}

int mj_config_set_pids_limit(mj_config_t *cfg, uint64_t pids, bool required, mj_error_t **err)
{
    if (pids && pids < 4) {
        *err = mj_error_new(MJ_ERR_INVALID_CONFIG, EINVAL, "limits.pids: at least 4 (the supervisor counts), got %llu",
                            (unsigned long long)pids);
        return -1;
    }
    cfg->limits.pids_max = pids;
    cfg->limits.pids_required = pids && required;
    return 0;
}

int mj_config_set_landlock(mj_config_t *cfg, mj_landlock_mode_t mode, mj_error_t **err)
{
    if (mode != MJ_LANDLOCK_OFF && mode != MJ_LANDLOCK_REQUIRED && mode != MJ_LANDLOCK_BEST_EFFORT) {
        *err = mj_error_new(MJ_ERR_INVALID_CONFIG, EINVAL, "landlock: unknown mode %d", (int)mode);
        return -1;
    }
    cfg->landlock_mode = (int)mode;
    return 0;
}

int mj_config_landlock_allow_tcp(mj_config_t *cfg, const char *direction, int port, mj_error_t **err)
{
    mj_landlock_tcp_t *t = &cfg->landlock_tcp;
    bool bind = direction && strcmp(direction, "bind") == 0;
    if (!bind && !(direction && strcmp(direction, "connect") == 0)) {
        if (err)
            *err = mj_error_new(MJ_ERR_INVALID_CONFIG, EINVAL, "landlock tcp: direction must be \"bind\" or \"connect\"");
        return -1;
    }
    if (port < -1 || port > 65535) {
        if (err)
            *err = mj_error_new(MJ_ERR_INVALID_CONFIG, EINVAL, "landlock tcp_%s: port %d out of range (0-65535)",
                                direction, port);
        return -1;
    }
    size_t *n = bind ? &t->n_bind : &t->n_connect;
    if (bind)
        t->bind_restricted = true;
    else
        t->connect_restricted = true;
    if (port < 0)
        return 0;
    if (*n >= MJ_LANDLOCK_MAX_PORTS) {
        if (err)
            *err = mj_error_new(MJ_ERR_INVALID_CONFIG, E2BIG, "landlock tcp_%s: more than %d ports", direction,
                                MJ_LANDLOCK_MAX_PORTS);
        return -1;
    }
    (bind ? t->bind : t->connect)[(*n)++] = (uint16_t)port;
    return 0;
}

int mj_config_landlock_allow_write(mj_config_t *cfg, const char *path, mj_error_t **err)
{
    if (check_abs("landlock write grant", path, err) < 0)
        return -1;
    mj_strv_push(&cfg->landlock_write, path);
    return 0;
}

static bool file_says(const char *path, char first)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    char c = 0;
    bool yes = read(fd, &c, 1) == 1 && c == first;
    close(fd);
    return yes;
}

static bool lsm_label_ok(const char *v)
{
    size_t n = v ? strlen(v) : 0;
    if (n == 0 || n > 255)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)v[i] < 0x21 || v[i] == 0x7f)
            return false;
    return true;
}

int mj_config_set_apparmor(mj_config_t *cfg, const char *profile, mj_error_t **err)
{
    if (!lsm_label_ok(profile)) {
        *err = mj_error_new(MJ_ERR_INVALID_CONFIG, EINVAL, "apparmor: expected a profile name, got '%s'",
                            profile ? profile : "(null)");
        return -1;
    }
    if (!file_says("/sys/module/apparmor/parameters/enabled", 'Y')) {
        *err = mj_error_new(MJ_ERR_UNSUPPORTED, ENOSYS,
                            "apparmor: AppArmor is not available on this host (the LSM is not loaded), so profile "
                            "'%s' cannot be applied",
                            profile);
        return -1;
    }
    free(cfg->apparmor);
    cfg->apparmor = mj_xstrdup(profile);
    return 0;
}

int mj_config_set_selinux(mj_config_t *cfg, const char *label, mj_error_t **err)
{
    if (!lsm_label_ok(label)) {
        *err = mj_error_new(MJ_ERR_INVALID_CONFIG, EINVAL, "selinux: expected a label, got '%s'", label ? label : "(null)");
        return -1;
    }
    if (access("/sys/fs/selinux/enforce", F_OK) < 0) {
        *err = mj_error_new(MJ_ERR_UNSUPPORTED, ENOSYS,
                            "selinux: SELinux is not available on this host (no selinuxfs), so label '%s' cannot be "
                            "applied",
                            label);
        return -1;
    }
    free(cfg->selinux);
    cfg->selinux = mj_xstrdup(label);
    return 0;
}

int mj_config_add_io_limit(mj_config_t *cfg, const char *device, uint64_t read_bps, uint64_t write_bps,
                           uint64_t read_iops, uint64_t write_iops, bool required, mj_error_t **err)
{
    struct stat st;
    if (!device || stat(device, &st) < 0 || !S_ISBLK(st.st_mode)) {
        *err = mj_error_new(MJ_ERR_INVALID_CONFIG, device ? errno ? errno : ENOTBLK : EINVAL,
                            "limits.io: '%s' is not a block device", device ? device : "(null)");
        return -1;
    }
    if (cfg->limits.n_io >= MJ_CG_MAX_IO) {
        *err = mj_error_new(MJ_ERR_INVALID_CONFIG, E2BIG, "limits.io: at most %d devices", MJ_CG_MAX_IO);
        return -1;
    }
    if (!read_bps && !write_bps && !read_iops && !write_iops)
        return 0;
    unsigned i = cfg->limits.n_io++;
    cfg->limits.io[i].major = major(st.st_rdev);
    cfg->limits.io[i].minor = minor(st.st_rdev);
    cfg->limits.io[i].read_bps = read_bps;
    cfg->limits.io[i].write_bps = write_bps;
    cfg->limits.io[i].read_iops = read_iops;
    cfg->limits.io[i].write_iops = write_iops;
    cfg->limits.io_required = cfg->limits.io_required || required;
    return 0;
}

int mj_command_add_restrict_path(mj_command_t *cmd, const char *path, mj_error_t **err)
{
    if (check_abs("restrict_paths", path, err) < 0)
        return -1;
    if (cmd->restrict_paths.n >= 64) {
        if (err)
            *err = mj_error_new(MJ_ERR_INVALID_CONFIG, E2BIG, "restrict_paths: at most 64 paths");
        return -1;
    }
    mj_strv_push(&cmd->restrict_paths, path);
    return 0;
}

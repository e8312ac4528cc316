/* seccomp.c — the workload's system-call filter: compiled with libseccomp on the host before
 * clone (plan time), kept as a raw BPF program, and loaded as the very last step before execve.
 *
 * The default profile is an allow-list in the spirit of Docker's: what a build or a test suite
 * needs, minus the kernel surfaces SECURITY.md lists (namespaces, mount API, keyrings, bpf,
 * userfaultfd, io_uring, perf, ptrace and process_vm_*, open_by_handle_at, pidfd_getfd, kexec,
 * modules, TIOCSTI/TIOCLINUX compared on the low 32 bits).  Known but refused syscalls return
 * EPERM; everything libseccomp does not know — syscalls newer than this profile — and clone3
 * return ENOSYS, so libc falls back to calls the filter can inspect.  Only the native arch is
 * accepted (x32 and int 0x80 are killed).  Compiled programs are cached per profile. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <stddef.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <sched.h>
#include <seccomp.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "config.h"
#include "error.h"
#include "plan.h"
#include "seccomp.h"
#include "util.h"

static const char *const default_allow[] = {
    "accept", "accept4", "access", "adjtimex", "alarm", "arch_prctl", "bind", "brk", "cachestat", "capget",
    "capset", "chdir", "chmod", "chown", "clock_adjtime", "clock_getres", "clock_gettime", "clock_nanosleep",
    "close", "close_range", "connect", "copy_file_range", "creat", "dup", "dup2", "dup3", "epoll_create",
    "epoll_create1", "epoll_ctl", "epoll_pwait", "epoll_pwait2", "epoll_wait", "eventfd", "eventfd2", "execve",
    "execveat", "exit", "exit_group", "faccessat", "faccessat2", "fadvise64", "fallocate", "fanotify_mark",
    "fchdir", "fchmod", "fchmodat", "fchmodat2", "fchown", "fchownat", "fcntl", "fdatasync", "fgetxattr",
    "flistxattr", "flock", "fork", "fremovexattr", "fsetxattr", "fstat", "fstatfs", "fsync", "ftruncate", "futex",
    "futex_requeue", "futex_wait", "futex_waitv", "futex_wake", "futimesat", "getcpu", "getcwd", "getdents",
    "getdents64", "getegid", "geteuid", "getgid", "getgroups", "getitimer", "getpeername", "getpgid", "getpgrp",
    "getpid", "getppid", "getpriority", "getrandom", "getresgid", "getresuid", "getrlimit", "get_robust_list",
    "getrusage", "getsid", "getsockname", "getsockopt", "get_thread_area", "gettid", "gettimeofday", "getuid",
    "getxattr", "inotify_add_watch", "inotify_init", "inotify_init1", "inotify_rm_watch", "io_cancel", "ioctl",
    "io_destroy", "io_getevents", "io_pgetevents", "ioprio_get", "ioprio_set", "io_setup", "io_submit", "kill",
    "landlock_add_rule", "landlock_create_ruleset", "landlock_restrict_self", "lchown", "lgetxattr", "link",
    "linkat", "listen", "listxattr", "llistxattr", "lremovexattr", "lseek", "lsetxattr", "lstat", "madvise",
    "map_shadow_stack", "membarrier", "memfd_create", "mincore", "mkdir", "mkdirat", "mknod", "mknodat", "mlock",
    "mlock2", "mlockall", "mmap", "mprotect", "mq_getsetattr", "mq_notify", "mq_open", "mq_timedreceive",
    "mq_timedsend", "mq_unlink", "mremap", "msgctl", "msgget", "msgrcv", "msgsnd", "msync", "munlock",
    "munlockall", "munmap", "name_to_handle_at", "nanosleep", "newfstatat", "open", "openat", "openat2", "pause",
    "pidfd_open", "pidfd_send_signal", "pipe", "pipe2", "pkey_alloc", "pkey_free", "pkey_mprotect", "poll", "ppoll",
    "prctl", "pread64", "preadv", "preadv2", "prlimit64", "process_mrelease", "pselect6", "pwrite64", "pwritev",
    "pwritev2", "read", "readahead", "readlink", "readlinkat", "readv", "recvfrom", "recvmmsg", "recvmsg",
    "remap_file_pages", "removexattr", "rename", "renameat", "renameat2", "restart_syscall", "rmdir", "rseq",
    "rt_sigaction", "rt_sigpending", "rt_sigprocmask", "rt_sigqueueinfo", "rt_sigreturn", "rt_sigsuspend",
    "rt_sigtimedwait", "rt_tgsigqueueinfo", "sched_getaffinity", "sched_getattr", "sched_getparam",
    "sched_get_priority_max", "sched_get_priority_min", "sched_getscheduler", "sched_rr_get_interval",
    "sched_setaffinity", "sched_setattr", "sched_setparam", "sched_setscheduler", "sched_yield", "seccomp",
    "select", "semctl", "semget", "semop", "semtimedop", "sendfile", "sendmmsg", "sendmsg", "sendto", "setfsgid",
    "setfsuid", "setgid", "setgroups", "setitimer", "setpgid", "setpriority", "setregid", "setresgid", "setresuid",
    "setreuid", "setrlimit", "set_robust_list", "setsid", "setsockopt", "set_thread_area", "set_tid_address",
    "setuid", "setxattr", "shmat", "shmctl", "shmdt", "shmget", "shutdown", "sigaltstack", "signalfd", "signalfd4",
    "socket", "socketpair", "splice", "stat", "statfs", "statx", "symlink", "symlinkat", "sync", "sync_file_range",
    "syncfs", "sysinfo", "tee", "tgkill", "time", "timer_create", "timer_delete", "timer_getoverrun",
    "timer_gettime", "timer_settime", "timerfd_create", "timerfd_gettime", "timerfd_settime", "times", "tkill",
    "truncate", "umask", "uname", "unlink", "unlinkat", "utime", "utimensat", "utimes", "vfork", "vmsplice",
    "wait4", "waitid", "write", "writev",
};

/* Namespace-creating flags refused in clone(); clone3 hides its flags in memory, so it gets ENOSYS. */
#define NS_FLAGS                                                                                                 \
    (CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET | \
     0)

struct mj_seccomp_cache {
    char *key;
    struct sock_filter *insns;
    unsigned short len;
};

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static struct mj_seccomp_cache cache[8];

static bool in_list(const mj_strv_t *v, const char *name)
{
    for (size_t i = 0; i < v->n; i++)
        if (strcmp(v->v[i], name) == 0)
            return true;
    return false;
}

static int add(scmp_filter_ctx ctx, uint32_t action, int nr, unsigned n, const struct scmp_arg_cmp *cmp)
{
    return seccomp_rule_add_array(ctx, action, nr, n, cmp);
}

static uint32_t refuse_action = SCMP_ACT_ERRNO(EPERM);

static int build_default(scmp_filter_ctx ctx, const mj_strv_t *base, const mj_strv_t *allow, const mj_strv_t *deny,
                         mj_error_t **err)
{
    /* Validate the policy's names first: an unknown name is a typo, not a no-op. */
    for (size_t i = 0; i < allow->n; i++)
        if (seccomp_syscall_resolve_name(allow->v[i]) == __NR_SCMP_ERROR) {
            *err = mj_error_new(MJ_ERR_INVALID_CONFIG, EINVAL, "seccomp.allow: unknown system call '%s'", allow->v[i]);
            return -1;
        }
    for (size_t i = 0; i < deny->n; i++)
        if (seccomp_syscall_resolve_name(deny->v[i]) == __NR_SCMP_ERROR) {
            *err = mj_error_new(MJ_ERR_INVALID_CONFIG, EINVAL, "seccomp.deny: unknown system call '%s'", deny->v[i]);
            return -1;
        }
    bool allowed[1024] = {false};
    size_t nbase = base ? base->n : MJ_ARRAY_LEN(default_allow);
    for (size_t i = 0; i < nbase; i++) {
        int nr = seccomp_syscall_resolve_name(base ? base->v[i] : default_allow[i]);
        if (nr >= 0 && nr < 1024)
            allowed[nr] = true;
    }
    for (size_t i = 0; i < allow->n; i++) {
        int nr = seccomp_syscall_resolve_name(allow->v[i]);
        if (nr >= 0 && nr < 1024)
            allowed[nr] = true;
    }
    for (size_t i = 0; i < deny->n; i++) {
        int nr = seccomp_syscall_resolve_name(deny->v[i]);
        if (nr >= 0 && nr < 1024)
            allowed[nr] = false;
    }
    int r = 0;
    const int nr_clone = seccomp_syscall_resolve_name("clone");
    const int nr_clone3 = seccomp_syscall_resolve_name("clone3");
    const int nr_personality = seccomp_syscall_resolve_name("personality");
    const int nr_socket = seccomp_syscall_resolve_name("socket");
    for (int nr = 0; nr < 1024 && r == 0; nr++) {
        char *name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);
        if (!name)
            continue; /* unknown to libseccomp: falls to the default action, ENOSYS */
        free(name);
        if (nr == nr_clone3 && in_list(deny, "clone3")) {
            r = add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 0, NULL);
        } else if (nr == nr_clone3 && !allowed[nr]) {
            continue; /* ENOSYS is the default action: libc falls back to clone */
        } else if ((nr == nr_clone || nr == nr_personality) && in_list(deny, nr == nr_clone ? "clone" : "personality")) {
            r = add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 0, NULL); /* denied outright: no conditional allow */
        } else if (nr == nr_clone && !in_list(allow, "clone")) {
            struct scmp_arg_cmp no_ns = SCMP_A0(SCMP_CMP_MASKED_EQ, NS_FLAGS, 0);
            r = add(ctx, SCMP_ACT_ALLOW, nr, 1, &no_ns);
            if (r == 0) {
                /* any namespace bit set: EPERM (one rule per bit keeps libseccomp's ANDs simple) */
                for (unsigned long bit = 1; bit && r == 0; bit <<= 1)
                    if (NS_FLAGS & bit) {
                        struct scmp_arg_cmp one = SCMP_A0(SCMP_CMP_MASKED_EQ, bit, bit);
                        r = add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 1, &one);
                    }
            }
        } else if (nr == nr_personality && !in_list(allow, "personality")) {
            /* PER_LINUX, UNAME26, ADDR_NO_RANDOMIZE combinations and the query value, as Docker. */
            static const unsigned long ok[] = {0x0, 0x0008, 0x20000, 0x20008, 0xffffffff};
            for (size_t i = 0; i < MJ_ARRAY_LEN(ok) && r == 0; i++) {
                struct scmp_arg_cmp eq = SCMP_A0(SCMP_CMP_EQ, ok[i]);
                r = add(ctx, SCMP_ACT_ALLOW, nr, 1, &eq);
            }
        } else if (nr == nr_socket && allowed[nr]) {
            /* AF_VSOCK reaches the hypervisor without going through the network namespace: no
             * sandbox gets it (issue 15).  The domain is an int: compare its low 32 bits only. */
            struct scmp_arg_cmp not_vsock = SCMP_A0_32(SCMP_CMP_NE, AF_VSOCK);
            struct scmp_arg_cmp vsock = SCMP_A0_32(SCMP_CMP_EQ, AF_VSOCK);
            r = add(ctx, SCMP_ACT_ALLOW, nr, 1, &not_vsock);
            if (r == 0)
                r = add(ctx, SCMP_ACT_ERRNO(EAFNOSUPPORT), nr, 1, &vsock);
        } else {
            r = add(ctx, allowed[nr] ? SCMP_ACT_ALLOW : refuse_action, nr, 0, NULL);
        }
    }
    if (r < 0) {
        *err = mj_error_sys(MJ_ERR_SANDBOX_INIT_FAILED, -r, "seccomp: building the filter");
        return -1;
    }
    return 0;
}

static int export_bpf(scmp_filter_ctx ctx, struct sock_filter **insns, unsigned short *len, mj_error_t **err)
{
    int fd = memfd_create("moonjail-seccomp", MFD_CLOEXEC);
    int r = fd < 0 ? -errno : seccomp_export_bpf(ctx, fd);
    struct stat st;
    if (r == 0 && fstat(fd, &st) < 0)
        r = -errno;
    if (r == 0 && (st.st_size <= 0 || st.st_size % (off_t)sizeof(struct sock_filter) ||
                   st.st_size / (off_t)sizeof(struct sock_filter) > BPF_MAXINSNS))
        r = -E2BIG;
    if (r == 0) {
        *insns = mj_xmalloc((size_t)st.st_size);
        if (pread(fd, *insns, (size_t)st.st_size, 0) != st.st_size) {
            free(*insns);
            *insns = NULL;
            r = -EIO;
        }
        *len = (unsigned short)(st.st_size / (off_t)sizeof(struct sock_filter));
    }
    if (fd >= 0)
        close(fd);
    if (r < 0) {
        *err = mj_error_sys(MJ_ERR_SANDBOX_INIT_FAILED, -r, "seccomp: exporting the filter");
        return -1;
    }
    return 0;
}

/* The on-disk cache: <cache dir>/seccomp-<hash>.bpf, owner-only.  The key
 * covers the profile, the policy's lists, moonjail's and libseccomp's versions and the arch. */
static void disk_cache_path(const char *key, char *out, size_t len)
{
    out[0] = '\0';
    const struct scmp_version *v = seccomp_version();
    char full[8192];
    /* "r2": the filter's shape changed (socket without AF_VSOCK) — older cached programs lack it. */
    snprintf(full, sizeof(full), "%s|%s|r2|%u.%u.%u|%u", key, MJ_VERSION_STRING, v ? v->major : 0, v ? v->minor : 0,
             v ? v->micro : 0, seccomp_arch_native());
    uint64_t h = 1469598103934665603ULL; /* FNV-1a over the key and this build's profile */
    for (const char *p = full; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    for (size_t i = 0; i < MJ_ARRAY_LEN(default_allow); i++)
        for (const char *p = default_allow[i]; *p; p++)
            h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    /* A cache, not state: /var/cache/moonjail (root), $XDG_CACHE_HOME or ~/.cache/moonjail. */
    char dir[480];
    const char *env = getenv("MOONJAIL_CACHE_DIR");
    if (env && env[0] == '/') {
        snprintf(dir, sizeof(dir), "%s", env);
    } else if (geteuid() == 0) {
        snprintf(dir, sizeof(dir), "/var/cache/moonjail");
    } else if ((env = getenv("XDG_CACHE_HOME")) && env[0] == '/') {
        snprintf(dir, sizeof(dir), "%s/moonjail", env);
    } else if ((env = getenv("HOME")) && env[0] == '/') {
        char parent[400];
        snprintf(parent, sizeof(parent), "%s/.cache", env);
        if (mkdir(parent, 0700) < 0 && errno != EEXIST)
            return;
        snprintf(dir, sizeof(dir), "%s/moonjail", parent);
    } else {
        return;
    }
    if (mkdir(dir, 0700) < 0 && errno != EEXIST)
        return;
    struct stat st;
    if (lstat(dir, &st) < 0 || !S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 022))
        return;
    snprintf(out, len, "%s/seccomp-%016llx.bpf", dir, (unsigned long long)h);
}

static int disk_cache_load(const char *path, mj_plan_t *plan)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0)
        return -1;
    struct stat st;
    int r = -1;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == geteuid() && st.st_size > 0 &&
        st.st_size % (off_t)sizeof(struct sock_filter) == 0 &&
        st.st_size / (off_t)sizeof(struct sock_filter) <= BPF_MAXINSNS) {
        struct sock_filter *insns = mj_xmalloc((size_t)st.st_size);
        if (pread(fd, insns, (size_t)st.st_size, 0) == st.st_size) {
            plan->seccomp = insns;
            plan->seccomp_len = (unsigned short)(st.st_size / (off_t)sizeof(struct sock_filter));
            plan->seccomp_arch = seccomp_arch_native();
            plan->seccomp_ioctl_nr = seccomp_syscall_resolve_name("ioctl");
            plan->seccomp_personality_nr = seccomp_syscall_resolve_name("personality");
            r = 0;
        } else {
            free(insns);
        }
    }
    close(fd);
    return r;
}

static void disk_cache_store(const char *path, const mj_plan_t *plan)
{
    char tmp[600];
    snprintf(tmp, sizeof(tmp), "%s.%d.tmp", path, (int)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return;
    size_t bytes = plan->seccomp_len * sizeof(struct sock_filter);
    bool ok = mj_write_all(fd, plan->seccomp, bytes) == (ssize_t)bytes;
    close(fd);
    if (!ok || rename(tmp, path) < 0)
        unlink(tmp);
}

/* "unconfined" with a deny list: everything allowed except those (never drop a deny silently). */
static int build_unconfined(scmp_filter_ctx ctx, const mj_strv_t *deny, mj_error_t **err)
{
    for (size_t i = 0; i < deny->n; i++) {
        int nr = seccomp_syscall_resolve_name(deny->v[i]);
        int r = nr == __NR_SCMP_ERROR ? -EINVAL : add(ctx, refuse_action, nr, 0, NULL);
        if (r < 0) {
            *err = mj_error_sys(MJ_ERR_INVALID_CONFIG, -r, "seccomp.deny: '%s'", deny->v[i]);
            return -1;
        }
    }
    return 0;
}

static void release_ctx(scmp_filter_ctx *ctx)
{
    if (*ctx)
        seccomp_release(*ctx);
}

int mj_seccomp_compile(const mj_config_t *cfg, mj_plan_t *plan, mj_error_t **err)
{
    if (cfg->seccomp_mode == MJ_SECCOMP_UNCONFINED && cfg->seccomp_deny.n == 0)
        return 0;
    bool unconfined = cfg->seccomp_mode == MJ_SECCOMP_UNCONFINED;
    /* Logged refusals: answered (EPERM) and reported by the supervisor, or a one-shot run's init. */
    bool notify = cfg->seccomp_log && seccomp_api_get() >= 5;
    /* Cache key: the allow and deny lists (the default profile is the only base for now). */
    cleanup_buf mj_buf_t key = {0};
    if (notify)
        mj_buf_append(&key, "notify:", 7);
    if (unconfined)
        mj_buf_append(&key, "unconfined:", 11);
    if (cfg->seccomp_custom) {
        mj_buf_append(&key, "custom:", 7);
        for (size_t i = 0; i < cfg->seccomp_base.n; i++) {
            mj_buf_append(&key, cfg->seccomp_base.v[i], strlen(cfg->seccomp_base.v[i]));
            mj_buf_append(&key, ",", 1);
        }
    }
    mj_buf_append(&key, "default|", 8);
    for (size_t i = 0; i < cfg->seccomp_allow.n; i++) {
        mj_buf_append(&key, cfg->seccomp_allow.v[i], strlen(cfg->seccomp_allow.v[i]));
        mj_buf_append(&key, ",", 1);
    }
    mj_buf_append(&key, "|", 1);
    for (size_t i = 0; i < cfg->seccomp_deny.n; i++) {
        mj_buf_append(&key, cfg->seccomp_deny.v[i], strlen(cfg->seccomp_deny.v[i]));
        mj_buf_append(&key, ",", 1);
    }
    pthread_mutex_lock(&cache_lock);
    for (size_t i = 0; i < MJ_ARRAY_LEN(cache); i++) {
        if (cache[i].key && strcmp(cache[i].key, key.data) == 0) {
            plan->seccomp_len = cache[i].len;
            plan->seccomp_notify = notify;
            plan->seccomp_arch = seccomp_arch_native();
            plan->seccomp_ioctl_nr = seccomp_syscall_resolve_name("ioctl");
            plan->seccomp_personality_nr = seccomp_syscall_resolve_name("personality");
            plan->seccomp = mj_xmalloc(cache[i].len * sizeof(struct sock_filter));
            memcpy(plan->seccomp, cache[i].insns, cache[i].len * sizeof(struct sock_filter));
            pthread_mutex_unlock(&cache_lock);
            return 0;
        }
    }
    pthread_mutex_unlock(&cache_lock);

    /* Compiling costs milliseconds; a CLI process compiles at most once per policy and machine. */
    char path[512];
    disk_cache_path(key.data, path, sizeof(path));
    if (path[0] && disk_cache_load(path, plan) == 0) {
        plan->seccomp_notify = notify;
        return 0;
    }

    refuse_action = notify ? SCMP_ACT_NOTIFY : SCMP_ACT_ERRNO(EPERM);
    __attribute__((cleanup(release_ctx))) scmp_filter_ctx ctx =
        seccomp_init(unconfined ? SCMP_ACT_ALLOW : SCMP_ACT_ERRNO(ENOSYS));
    if (!ctx) {
        *err = mj_error_new(MJ_ERR_SANDBOX_INIT_FAILED, ENOMEM, "seccomp: cannot create a filter");
        return -1;
    }
    /* Foreign arches (x32, i386 via int 0x80) are not added: the filter kills them. */
    seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
    seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0); /* we set no_new_privs ourselves */
    /* A binary tree over syscall numbers instead of ~450 linear compares on every syscall. */
    seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
    if (unconfined ? build_unconfined(ctx, &cfg->seccomp_deny, err) < 0
                   : build_default(ctx, cfg->seccomp_custom ? &cfg->seccomp_base : NULL, &cfg->seccomp_allow,
                                   &cfg->seccomp_deny, err) < 0)
        return -1;
    struct sock_filter *insns = NULL;
    unsigned short len = 0;
    if (export_bpf(ctx, &insns, &len, err) < 0)
        return -1;
    plan->seccomp = insns;
    plan->seccomp_len = len;
    plan->seccomp_notify = notify;
    plan->seccomp_arch = seccomp_arch_native();
    plan->seccomp_ioctl_nr = seccomp_syscall_resolve_name("ioctl");
    plan->seccomp_personality_nr = seccomp_syscall_resolve_name("personality");
    if (path[0])
        disk_cache_store(path, plan);
    pthread_mutex_lock(&cache_lock);
    for (size_t i = 0; i < MJ_ARRAY_LEN(cache); i++) {
        if (!cache[i].key) {
            cache[i].key = mj_xstrdup(key.data);
            cache[i].insns = mj_xmalloc(len * sizeof(struct sock_filter));
            memcpy(cache[i].insns, insns, len * sizeof(struct sock_filter));
            cache[i].len = len;
            break;
        }
    }
    pthread_mutex_unlock(&cache_lock);
    return 0;
}

/* A second, hand-written filter: ioctl(fd, TIOCSTI|TIOCLINUX) compared on the low 32 bits of the
 * request (the kernel truncates it; CVE-2019-10063 hid the request in the high bits).  Stacked
 * filters combine to the most restrictive answer, so this composes with the main one. */
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define ARG0_LO (offsetof(struct seccomp_data, args))
#define ARG0_HI (offsetof(struct seccomp_data, args) + sizeof(uint32_t))
#define ARG1_LO (offsetof(struct seccomp_data, args) + sizeof(uint64_t))
#else
#define ARG0_LO (offsetof(struct seccomp_data, args) + sizeof(uint32_t))
#define ARG0_HI (offsetof(struct seccomp_data, args))
#define ARG1_LO (offsetof(struct seccomp_data, args) + sizeof(uint64_t) + sizeof(uint32_t))
#endif

static int load_filters(const mj_plan_t *plan, bool listener)
{
    if (!plan->seccomp)
        return 0;
    /* Also personality(): only PER_LINUX, UNAME26, ADDR_NO_RANDOMIZE combinations and the query
     * value pass (as Docker); anything else is EPERM. */
    struct sock_filter tty_guard[] = {
        /* 0 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
        /* 1 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, plan->seccomp_arch, 0, 14),   /* foreign: main filter */
        /* 2 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        /* 3 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)plan->seccomp_ioctl_nr, 0, 3),
        /* 4 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARG1_LO),
        /* 5 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, TIOCSTI, 11, 0),
        /* 6 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, TIOCLINUX, 10, 9),
        /* 7 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)plan->seccomp_personality_nr, 0, 8),
        /* 8 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARG0_HI),
        /* 9 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 7),
        /* 10 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARG0_LO),
        /* 11 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0x0, 4, 0),
        /* 12 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0x0008, 3, 0),
        /* 13 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0x20000, 2, 0),
        /* 14 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0x20008, 1, 0),
        /* 15 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0xffffffff, 0, 1),
        /* 16 */ BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        /* 17 */ BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
    };
    /* The main filter first, the guard last: for two ERRNO answers the newest filter's errno
     * wins, and the guard's EPERM must beat the main filter's ENOSYS default. */
    struct sock_fprog prog = {.len = plan->seccomp_len, .filter = plan->seccomp};
    int fd = (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, listener ? SECCOMP_FILTER_FLAG_NEW_LISTENER : 0, &prog);
    if (fd < 0)
        return -1;
    struct sock_fprog guard = {.len = MJ_ARRAY_LEN(tty_guard), .filter = tty_guard};
    if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &guard) < 0) {
        if (listener)
            close(fd);
        return -1;
    }
    return fd;
}

int mj_seccomp_load(const mj_plan_t *plan)
{
    return load_filters(plan, false) < 0 ? -1 : 0;
}

int mj_seccomp_load_listener(const mj_plan_t *plan)
{
    return load_filters(plan, true);
}

int mj_seccomp_refuse_one(int listener, int32_t *nr, int32_t *pid)
{
    struct seccomp_notif req;
    memset(&req, 0, sizeof(req));
    if (ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, &req) < 0)
        return -1; /* the caller died meanwhile (ENOENT) */
    struct seccomp_notif_resp resp = {.id = req.id, .val = 0, .error = -EPERM, .flags = 0};
    (void)ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, &resp);
    *nr = req.data.nr;
    *pid = (int32_t)req.pid;
    return 0;
}

void mj_config_set_seccomp_log(mj_config_t *cfg, bool log)
{
    cfg->seccomp_log = log;
}

int mj_config_set_seccomp(mj_config_t *cfg, const char *profile, mj_error_t **err)
{
    if (!profile || strcmp(profile, "default") == 0 || strcmp(profile, "runtime/default") == 0) {
        cfg->seccomp_mode = MJ_SECCOMP_DEFAULT;
        return 0;
    }
    if (strcmp(profile, "unconfined") == 0) {
        cfg->seccomp_mode = MJ_SECCOMP_UNCONFINED;
        return 0;
    }
    *err = mj_error_new(MJ_ERR_UNSUPPORTED, EINVAL,
                        "seccomp.profile: '%s': only \"default\" and \"unconfined\" exist so far (JSON profiles "
                        "come later)",
                        profile);
    return -1;
}

static int add_name(mj_strv_t *v, const char *what, const char *name, mj_error_t **err)
{
    if (!name || seccomp_syscall_resolve_name(name) == __NR_SCMP_ERROR) {
        *err = mj_error_new(MJ_ERR_INVALID_CONFIG, EINVAL, "seccomp.%s: unknown system call '%s'", what,
                            name ? name : "(null)");
        return -1;
    }
    if (!in_list(v, name))
        mj_strv_push(v, name);
    return 0;
}

int mj_config_seccomp_allow(mj_config_t *cfg, const char *syscall_name, mj_error_t **err)
{
    return add_name(&cfg->seccomp_allow, "allow", syscall_name, err);
}

int mj_config_seccomp_deny(mj_config_t *cfg, const char *syscall_name, mj_error_t **err)
{
    return add_name(&cfg->seccomp_deny, "deny", syscall_name, err);
}

bool mj_seccomp_syscall_known(const char *name)
{
    return name && seccomp_syscall_resolve_name(name) != __NR_SCMP_ERROR;
}

int mj_config_seccomp_base(mj_config_t *cfg, const char *const *names, size_t n, mj_error_t **err)
{
    mj_strv_t v = {0};
    for (size_t i = 0; i < n; i++) {
        if (!mj_seccomp_syscall_known(names[i])) {
            mj_strv_free(&v);
            *err = mj_error_new(MJ_ERR_INVALID_CONFIG, EINVAL, "seccomp profile: unknown system call '%s'",
                                names[i] ? names[i] : "(null)");
            return -1;
        }
        mj_strv_push(&v, names[i]);
    }
    mj_strv_free(&cfg->seccomp_base);
    cfg->seccomp_base = v;
    cfg->seccomp_custom = true;
    cfg->seccomp_mode = MJ_SECCOMP_DEFAULT;
    return 0;
}

/* Names libseccomp knows, interned once per number: at most MJ_SYSCALL_NAMES strings, never
 * freed, so a name handed out stays valid for the life of the process. */
#define MJ_SYSCALL_NAMES 1024
static pthread_mutex_t names_lock = PTHREAD_MUTEX_INITIALIZER;
static char *names[MJ_SYSCALL_NAMES];

const char *mj_seccomp_syscall_name(int nr)
{
    if (nr < 0 || nr >= MJ_SYSCALL_NAMES)
        return NULL; /* not a native system call libseccomp could name (a refused x32 or bogus nr) */
    pthread_mutex_lock(&names_lock);
    if (!names[nr]) {
        char *name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);
        names[nr] = name ? name : NULL;
    }
    const char *r = names[nr];
    pthread_mutex_unlock(&names_lock);
    return r;
}

/* Audit arch of this build (the init filter is compiled in, so it matches the binary). */
#if defined(__x86_64__)
#define MJ_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define MJ_AUDIT_ARCH AUDIT_ARCH_AARCH64
#endif

#ifdef MJ_AUDIT_ARCH
#define ALLOW_NR(nr) BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (nr), 0, 1), BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)
#define MJ_FILTER_MAX 128

/* Loads a small compiled-in allow-list filter for moonjail's own processes: native arch only
 * (others and x32 killed), the system calls in allow (instructions ending with nr loaded), with
 * notify also serve (more of them) and exactly the two SECCOMP_IOCTL_NOTIF_* ioctls; EPERM for
 * everything else. */
static int load_own_filter(const struct sock_filter *allow, size_t n_allow, const struct sock_filter *serve,
                           size_t n_serve, bool notify)
{
    const struct sock_filter head[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, MJ_AUDIT_ARCH, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
#if defined(__x86_64__)
        BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 0x40000000u, 0, 1), /* x32 */
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
#endif
    };
    const struct sock_filter notif_ioctls[] = {
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_ioctl, 0, 4),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[1])),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)SECCOMP_IOCTL_NOTIF_RECV, 1, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)SECCOMP_IOCTL_NOTIF_SEND, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_filter all[MJ_FILTER_MAX];
    size_t n = 0;
    if (MJ_ARRAY_LEN(head) + n_allow + n_serve + MJ_ARRAY_LEN(notif_ioctls) + 1 > MJ_FILTER_MAX) {
        errno = E2BIG;
        return -1;
    }
    for (size_t i = 0; i < MJ_ARRAY_LEN(head); i++)
        all[n++] = head[i];
    for (size_t i = 0; i < n_allow; i++)
        all[n++] = allow[i];
    for (size_t i = 0; notify && i < n_serve; i++)
        all[n++] = serve[i];
    for (size_t i = 0; notify && i < MJ_ARRAY_LEN(notif_ioctls); i++)
        all[n++] = notif_ioctls[i];
    all[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA));
    struct sock_fprog prog = {.len = (unsigned short)n, .filter = all};
    return (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog);
}
#endif

int mj_seccomp_load_supervisor(bool notify)
{
#ifdef MJ_AUDIT_ARCH
    const struct sock_filter allow[] = {
        /* the request loop: connections, the spawner's socket, the signalfd, /proc */
        ALLOW_NR(__NR_poll), ALLOW_NR(__NR_ppoll), ALLOW_NR(__NR_read), ALLOW_NR(__NR_write),
        ALLOW_NR(__NR_close), ALLOW_NR(__NR_accept4), ALLOW_NR(__NR_recvmsg), ALLOW_NR(__NR_sendmsg),
        ALLOW_NR(__NR_recvfrom), ALLOW_NR(__NR_sendto), ALLOW_NR(__NR_openat), ALLOW_NR(__NR_getdents64),
        ALLOW_NR(__NR_fcntl), ALLOW_NR(__NR_fstat), ALLOW_NR(__NR_newfstatat),
        /* processes: signals, reaping, waiting */
        ALLOW_NR(__NR_kill), ALLOW_NR(__NR_wait4), ALLOW_NR(__NR_waitid), ALLOW_NR(__NR_getpid),
        ALLOW_NR(__NR_nanosleep), ALLOW_NR(__NR_clock_nanosleep), ALLOW_NR(__NR_clock_gettime),
        ALLOW_NR(__NR_gettimeofday), ALLOW_NR(__NR_rt_sigreturn), ALLOW_NR(__NR_restart_syscall),
        ALLOW_NR(__NR_rt_sigprocmask), ALLOW_NR(__NR_exit), ALLOW_NR(__NR_exit_group),
        /* harmless queries the sanitizers make before any _exit (ASan's no-return hook asks for
         * the signal stack, and CHECK-fails when refused: an OCI container's status was lost) */
        ALLOW_NR(__NR_sigaltstack), ALLOW_NR(__NR_gettid),
        /* memory, never executable */
        ALLOW_NR(__NR_brk), ALLOW_NR(__NR_munmap),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_mmap, 0, 3),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[2])),
        BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, PROT_EXEC, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
    };
    return load_own_filter(allow, MJ_ARRAY_LEN(allow), NULL, 0, notify);
#else
    (void)notify;
    errno = ENOSYS;
    return -1;
#endif
}

int mj_seccomp_load_init(bool notify)
{
#ifdef MJ_AUDIT_ARCH
    const struct sock_filter allow[] = {
        ALLOW_NR(__NR_rt_sigtimedwait), ALLOW_NR(__NR_wait4), ALLOW_NR(__NR_waitid), ALLOW_NR(__NR_kill),
        ALLOW_NR(__NR_write), ALLOW_NR(__NR_getrusage), ALLOW_NR(__NR_statfs), ALLOW_NR(__NR_clock_gettime),
        ALLOW_NR(__NR_rt_sigreturn), ALLOW_NR(__NR_restart_syscall), ALLOW_NR(__NR_close), ALLOW_NR(__NR_exit),
        ALLOW_NR(__NR_exit_group),
    };
    /* serving the command's seccomp notifications: ppoll and read (of the signalfd) as well */
    const struct sock_filter serve[] = {ALLOW_NR(__NR_ppoll), ALLOW_NR(__NR_read)};
    return load_own_filter(allow, MJ_ARRAY_LEN(allow), serve, MJ_ARRAY_LEN(serve), notify);
#else
    (void)notify;
    errno = ENOSYS;
    return -1;
#endif
}

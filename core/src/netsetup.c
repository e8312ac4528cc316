/* netsetup.c — the network stage of a sandbox in the outbound and filtered modes: the host side of
 * moonjail-net (docs/networking.md, "What the host does").  Owns finding the helper, its
 * directory (resolv.conf, control socket), starting it on the sandbox's namespaces once they exist
 * and before the sandbox is released, waiting for its "ready" with a deadline, reading its
 * counters, and ending it.  Fails closed: a sandbox whose helper is missing or not ready does not
 * start.  Never: enters the sandbox's namespaces itself, reads anything the sandbox wrote, or calls
 * up into spawn/run/sandbox. */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "error.h"
#include "etc.h"
#include "netsetup.h"
#include "plan.h"
#include "proc.h"
#include "state.h"
#include "util.h"

#ifndef MJ_LIBEXECDIR
#define MJ_LIBEXECDIR "/usr/local/libexec"
#endif
#define READY_TIMEOUT_MS 10000

bool mj_netsetup_wanted(const mj_plan_t *plan)
{
    return plan->net_config != NULL && plan->net_mode != MJ_NET_HOST;
}

/* $MOONJAIL_NET_HELPER, then the install path, then beside the running executable. */
static char *find_helper(mj_error_t **err)
{
    const char *env = getenv("MOONJAIL_NET_HELPER");
    if (env && *env) {
        if (env[0] == '/' && access(env, X_OK) == 0)
            return mj_xstrdup(env);
        *err = mj_error_new(MJ_ERR_UNSUPPORTED, ENOENT,
                            "network: MOONJAIL_NET_HELPER='%s' is not an executable absolute path", env);
        return NULL;
    }
    static const char installed[] = MJ_LIBEXECDIR "/moonjail/moonjail-net";
    if (access(installed, X_OK) == 0)
        return mj_xstrdup(installed);
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n > 0) {
        self[n] = '\0';
        char *slash = strrchr(self, '/');
        if (slash) {
            char *beside = mj_xasprintf("%.*s/moonjail-net", (int)(slash - self), self);
            if (access(beside, X_OK) == 0)
                return beside;
            free(beside);
        }
    }
    *err = mj_error_new(MJ_ERR_UNSUPPORTED, ENOENT,
                        "network: the helper moonjail-net was not found (looked at $MOONJAIL_NET_HELPER, %s and "
                        "beside the moonjail executable): install it, or use network = \"none\"",
                        installed);
    return NULL;
}

int mj_netsetup_prepare(mj_plan_t *plan, const char *id, mj_error_t **err)
{
    if (!mj_netsetup_wanted(plan))
        return 0;
    free(plan->net_helper);
    plan->net_helper = find_helper(err);
    if (!plan->net_helper)
        return -1;
    /* Both engines open /dev/net/tun inside the sandbox's namespaces as the caller: say so up
     * front rather than relay the engine's "failed to start". */
    if (plan->net_mode == MJ_NET_OUTBOUND && plan->rootless && access("/dev/net/tun", R_OK | W_OK) < 0) {
        *err = mj_error_sys(MJ_ERR_UNSUPPORTED, errno,
                            "network outbound: /dev/net/tun is not usable by uid %u (pasta and slirp4netns need it "
                            "rootless): make it mode 0666 (the usual default), or run as root, or use network "
                            "\"filtered\" or \"none\"",
                            (unsigned)plan->host_uid);
        return -1;
    }
    cleanup_free char *sandboxes = mj_state_sandboxes_dir(true, err); /* makes the state dir owner-only */
    if (!sandboxes)
        return -1;
    cleanup_free char *base = mj_xasprintf("%s/net", mj_state_dir());
    if (mkdir(base, 0700) < 0 && errno != EEXIST) {
        *err = mj_error_sys(MJ_ERR_SANDBOX_INIT_FAILED, errno, "network: mkdir %s", base);
        return -1;
    }
    cleanup_free char *dir = mj_xasprintf("%s/%s", base, id);
    if (mkdir(dir, 0700) < 0) {
        *err = mj_error_sys(MJ_ERR_SANDBOX_INIT_FAILED, errno, "network: mkdir %s", dir);
        return -1;
    }
    free(plan->net_dir);
    plan->net_dir = steal_pointer(&dir);
    if (!plan->net_resolv)
        return 0;
    /* World-readable: the sandbox's user (a mapped id, not ours as root) reads it through the bind. */
    cleanup_free char *resolv = mj_xasprintf("%s/resolv.conf", plan->net_dir);
    int fd = open(resolv, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0) {
        *err = mj_error_sys(MJ_ERR_SANDBOX_INIT_FAILED, errno, "network: create %s", resolv);
        return -1; /* the plan removes its directory */
    }
    fchmod(fd, 0644);
    close(fd);
    if (plan->resolv_base != SIZE_MAX) {
        /* The generated /etc's copy: the child reads it through this fd (its ids may not look into
         * the state directory) after the release, by when mj_netsetup_start has written it. */
        fd = open(resolv, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0) {
            *err = mj_error_sys(MJ_ERR_SANDBOX_INIT_FAILED, errno, "network: open %s", resolv);
            return -1;
        }
        plan->base[plan->resolv_base].fd = fd;
        return 0;
    }
    /* The directory must be searchable for the child to open the file after it switched ids. */
    chmod(plan->net_dir, 0711);
    mj_op_t *op = &plan->ops[plan->resolv_op];
    free(op->src);
    op->src = steal_pointer(&resolv);
    return 0;
}

static int bind_control(const char *dir, mj_error_t **err)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if ((size_t)snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/ctl", dir) >= sizeof(sa.sun_path)) {
        *err = mj_error_new(MJ_ERR_SANDBOX_INIT_FAILED, ENAMETOOLONG, "network: control socket path too long (%s)", dir);
        return -1;
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || chmod(sa.sun_path, 0600) < 0 ||
        listen(fd, 8) < 0) {
        *err = mj_error_sys(MJ_ERR_SANDBOX_INIT_FAILED, errno, "network: control socket %s", sa.sun_path);
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

static int config_fd(const mj_plan_t *plan, const char *id, mj_error_t **err)
{
    static const char *const modes[] = {[MJ_NET_NONE] = "none", [MJ_NET_OUTBOUND] = "outbound",
                                        [MJ_NET_FILTERED] = "filtered"};
    int fd = (int)syscall(SYS_memfd_create, "moonjail-net.conf", MFD_CLOEXEC);
    if (fd < 0) {
        *err = mj_error_sys(MJ_ERR_SANDBOX_INIT_FAILED, errno, "network: memfd");
        return -1;
    }
    cleanup_free char *head = mj_xasprintf("mode %s\nsandbox %s\n", modes[plan->net_mode], id);
    const char *body = plan->net_config ? plan->net_config : "";
    if (mj_write_all(fd, head, strlen(head)) < 0 || mj_write_all(fd, body, strlen(body)) < 0 ||
        lseek(fd, 0, SEEK_SET) < 0) {
        *err = mj_error_sys(MJ_ERR_SANDBOX_INIT_FAILED, errno, "network: writing the helper's configuration");
        close(fd);
        return -1;
    }
    return fd;
}

/* The value of key=VALUE in a status line, copied into out. */
static bool status_field(const char *line, const char *key, char *out, size_t cap)
{
    size_t kl = strlen(key);
    for (const char *p = line; (p = strstr(p, key)) != NULL; p += kl) {
        if ((p != line && p[-1] != ' ') || p[kl] != '=')
            continue;
        const char *v = p + kl + 1;
        size_t n = strcspn(v, " \n");
        if (n == 0 || n >= cap)
            return false;
        memcpy(out, v, n);
        out[n] = '\0';
        return true;
    }
    return false;
}

/* Reads one line from the status pipe before the deadline.  0 and the line, or -1: errno
 * ETIMEDOUT, or EPIPE when the helper closed it without a line. */
static int read_status_line(int fd, char *line, size_t cap, double deadline)
{
    size_t n = 0;
    while (n + 1 < cap) {
        int left = (int)((deadline - mj_now_monotonic()) * 1000);
        if (left <= 0) {
            errno = ETIMEDOUT;
            return -1;
        }
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        int r = poll(&pfd, 1, left);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            errno = r == 0 ? ETIMEDOUT : errno;
            return -1;
        }
        ssize_t k = read(fd, line + n, 1);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            errno = EPIPE;
            return -1;
        }
        if (line[n] == '\n')
            break;
        n++;
    }
    line[n] = '\0';
    return 0;
}

static void reap(pid_t pid, double grace)
{
    double deadline = mj_now_monotonic() + grace;
    for (;;) {
        pid_t r = waitpid(pid, NULL, WNOHANG);
        if (r == pid || (r < 0 && errno == ECHILD))
            return;
        if (mj_now_monotonic() >= deadline) {
            kill(pid, SIGKILL);
            while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
                ;
            return;
        }
        usleep(2000);
    }
}

/* SIGKILLs what is left of the helper's process group (its agent, its engine): only processes
 * whose group is pgid and whose name is one of the helper's own, so a recycled group id never
 * takes anything else with it. */
static void kill_group(pid_t pgid)
{
    DIR *d = opendir("/proc");
    if (!d)
        return;
    static const char *const names[] = {"moonjail-net", "pasta", "passt", "slirp4netns"};
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        char *end;
        long pid = strtol(e->d_name, &end, 10);
        if (*end || pid <= 1)
            continue;
        char path[64], buf[512];
        snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            continue;
        ssize_t n = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        if (n <= 0)
            continue;
        buf[n] = '\0';
        char *open_paren = strchr(buf, '('), *close_paren = strrchr(buf, ')');
        if (!open_paren || !close_paren || close_paren < open_paren)
            continue;
        *close_paren = '\0';
        const char *comm = open_paren + 1;
        char state;
        int ppid, pgrp;
        if (sscanf(close_paren + 1, " %c %d %d", &state, &ppid, &pgrp) != 3 || pgrp != pgid)
            continue;
        for (size_t i = 0; i < MJ_ARRAY_LEN(names); i++)
            if (strncmp(comm, names[i], strlen(names[i])) == 0) {
                kill((pid_t)pid, SIGKILL);
                break;
            }
    }
    closedir(d);
}

/* Our child the helper, given grace seconds to end by itself (not reaped meanwhile, so its group
 * id stays reserved), then the rest of its group killed and it reaped. */
static void end_child(pid_t pid, double grace)
{
    double deadline = mj_now_monotonic() + grace;
    for (;;) {
        siginfo_t si;
        memset(&si, 0, sizeof(si));
        int r = waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT);
        if (r < 0 || si.si_pid == pid || mj_now_monotonic() >= deadline)
            break;
        usleep(2000);
    }
    kill_group(pid);
    reap(pid, 0.5);
}

int mj_netsetup_start(mj_plan_t *plan, pid_t pid, int pidfd, mj_netsetup_t *out, mj_error_t **err)
{
    *out = (mj_netsetup_t)MJ_NETSETUP_INIT;
    if (!mj_netsetup_wanted(plan))
        return 0;
    const char *id = strrchr(plan->net_dir, '/') + 1;
    /* By path, not by fd: the outbound engine opens them itself after shedding its capabilities,
     * when it may no longer look into the helper's /proc/PID/fd.  The sandbox's first process is
     * our unreaped child, so its pid names it until we reap it. */
    char netns[64], userns[64];
    snprintf(netns, sizeof(netns), "/proc/%d/ns/net", (int)pid);
    snprintf(userns, sizeof(userns), "/proc/%d/ns/user", (int)pid);
    cleanup_close int own_pidfd = pidfd >= 0 ? -1 : (int)syscall(SYS_pidfd_open, pid, 0);
    int watch = pidfd >= 0 ? pidfd : own_pidfd;
    if (watch < 0) {
        *err = mj_error_sys(MJ_ERR_SANDBOX_INIT_FAILED, errno, "network: pidfd of the sandbox");
        return -1;
    }
    cleanup_close int conf = config_fd(plan, id, err);
    if (conf < 0)
        return -1;
    cleanup_close int audit = -1;
    if (plan->net_audit_log) {
        audit = open(plan->net_audit_log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (audit < 0) {
            *err = mj_error_sys(MJ_ERR_FILE_OPERATION_FAILED, errno, "network: audit log %s", plan->net_audit_log);
            return -1;
        }
    }
    cleanup_close int control = bind_control(plan->net_dir, err);
    if (control < 0)
        return -1;
    /* Its stdio: nothing of ours (a caller's `$(moonjail create …)` would wait for a named
     * sandbox's helper to close it); what it has to say comes over the status pipe. */
    cleanup_close int devnull_low = open("/dev/null", O_RDWR | O_CLOEXEC);
    /* above 0-2 (a host without stdio), so the dup2 onto them below always copies */
    cleanup_close int devnull = devnull_low < 0 ? -1 : fcntl(devnull_low, F_DUPFD_CLOEXEC, 32);
    cleanup_pipe int st[2] = {-1, -1};
    if (devnull < 0 || pipe2(st, O_CLOEXEC) < 0) {
        *err = mj_error_sys(MJ_ERR_SANDBOX_INIT_FAILED, errno, "network: pipe");
        return -1;
    }

    /* Fixed numbers in the helper: 3 config, 4 pidfd, 5 status, 6 control, 7 audit.  Everything
     * is prepared here: after fork only dup2, close_range and execve. */
    enum { FD_CONF = 3, FD_PIDFD, FD_STATUS, FD_CONTROL, FD_AUDIT, FD_END };
    int src[FD_END] = {[FD_CONF] = conf, [FD_PIDFD] = watch, [FD_STATUS] = st[1], [FD_CONTROL] = control,
                       [FD_AUDIT] = audit};
    for (int i = 0; i < FD_CONF; i++)
        src[i] = -1;
    /* First lift every source above the targets, so no dup2 overwrites one still to come. */
    int lifted[FD_END];
    for (int i = FD_CONF; i < FD_END; i++) {
        lifted[i] = src[i] < 0 ? -1 : fcntl(src[i], F_DUPFD_CLOEXEC, FD_END + 16);
        if (src[i] >= 0 && lifted[i] < 0) {
            int e = errno;
            for (int j = FD_CONF; j < i; j++)
                if (lifted[j] >= 0)
                    close(lifted[j]);
            *err = mj_error_sys(MJ_ERR_SANDBOX_INIT_FAILED, e, "network: dup");
            return -1;
        }
    }
    char *argv[24];
    int ac = 0;
    argv[ac++] = plan->net_helper;
    argv[ac++] = "run";
    argv[ac++] = "--config-fd", argv[ac++] = "3";
    argv[ac++] = "--netns", argv[ac++] = netns;
    argv[ac++] = "--userns", argv[ac++] = userns;
    argv[ac++] = "--pidfd", argv[ac++] = "4";
    argv[ac++] = "--status-fd", argv[ac++] = "5";
    argv[ac++] = "--control-fd", argv[ac++] = "6";
    if (audit >= 0)
        argv[ac++] = "--audit-fd", argv[ac++] = "7";
    if (!plan->rootless)
        argv[ac++] = "--uid", argv[ac++] = "65534", argv[ac++] = "--gid", argv[ac++] = "65534";
    argv[ac] = NULL;
    extern char **environ;
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pid_t child = fork();
    if (child == 0) {
        /* A clean signal state (the host may ignore or block some), then the fds, then exec. */
        for (int s = 1; s < NSIG; s++)
            if (s != SIGKILL && s != SIGSTOP)
                signal(s, SIG_DFL);
        sigset_t none;
        sigemptyset(&none);
        pthread_sigmask(SIG_SETMASK, &none, NULL);
        /* Its own session and process group, which its agent and engine inherit: the engine
         * enters the sandbox's user namespace, which clears the parent-death signal the helper
         * gave it, and the helper, dropped to nobody, cannot signal a root engine — so the host
         * ends what is left of the group (kill_group). */
        setsid();
        for (int i = 0; i < FD_CONF; i++)
            if (dup2(devnull, i) < 0)
                _exit(127);
        for (int i = FD_CONF; i < FD_END; i++)
            if (lifted[i] >= 0 && dup2(lifted[i], i) < 0)
                _exit(127);
        syscall(SYS_close_range, FD_END, ~0u, 0);
        execve(argv[0], argv, environ);
        _exit(127);
    }
    int fork_errno = errno;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    for (int i = FD_CONF; i < FD_END; i++)
        if (lifted[i] >= 0)
            close(lifted[i]);
    if (child < 0) {
        *err = mj_error_sys(MJ_ERR_SANDBOX_INIT_FAILED, fork_errno, "network: fork");
        return -1;
    }
    mj_close_fd(&st[1]);
    out->pid = child;
    char line[1024];
    if (read_status_line(st[0], line, sizeof(line), mj_now_monotonic() + READY_TIMEOUT_MS / 1000.0) < 0) {
        int e = errno;
        kill(child, SIGKILL);
        end_child(child, 0);
        out->pid = -1;
        *err = e == ETIMEDOUT ? mj_error_new(MJ_ERR_TIMEOUT, ETIMEDOUT,
                                             "network: moonjail-net was not ready within %d s", READY_TIMEOUT_MS / 1000)
                              : mj_error_new(MJ_ERR_SANDBOX_INIT_FAILED, e,
                                             "network: moonjail-net (%s) exited during setup", plan->net_helper);
        return -1;
    }
    if (strncmp(line, "ready ", 6) != 0) {
        end_child(child, 2);
        out->pid = -1;
        const char *msg = strncmp(line, "error ", 6) == 0 ? line + 6 : line;
        *err = mj_error_new(MJ_ERR_NETWORK, 0, "network: %s", msg);
        return -1;
    }
    out->starttime = mj_proc_starttime(child);
    out->status_r = mj_steal_fd(&st[0]);
    out->dir = steal_pointer(&plan->net_dir); /* the helper's now: removed when it is stopped */
    char value[128];
    if (status_field(line, "engine", value, sizeof(value)))
        out->engine = mj_xstrdup(value);
    if (out->engine && strcmp(out->engine, "slirp4netns") == 0)
        out->ip = mj_xstrdup("10.0.2.100"); /* slirp4netns --configure's fixed address */
    if (!plan->net_resolv)
        return 0;
    char nameserver[64];
    if (!status_field(line, "dns", nameserver, sizeof(nameserver))) {
        *err = mj_error_new(MJ_ERR_NETWORK, 0, "network: moonjail-net's ready line names no DNS server: %s", line);
        mj_netsetup_stop(out, 0);
        return -1;
    }
    mj_etc_params_t p = {.nameserver = nameserver, .search = &plan->dns_search};
    cleanup_free char *text = mj_etc_text(MJ_ETC_RESOLV, &p);
    cleanup_free char *resolv = mj_xasprintf("%s/resolv.conf", out->dir);
    cleanup_close int rfd = open(resolv, O_WRONLY | O_TRUNC | O_CLOEXEC | O_NOFOLLOW);
    if (rfd < 0 || mj_write_all(rfd, text, strlen(text)) < 0) {
        *err = mj_error_sys(MJ_ERR_SANDBOX_INIT_FAILED, errno, "network: writing %s", resolv);
        mj_netsetup_stop(out, 0);
        return -1;
    }
    return 0;
}

int mj_netsetup_probe(char **helper, char **line, mj_error_t **err)
{
    *helper = *line = NULL;
    cleanup_free char *path = find_helper(err);
    if (!path)
        return -1;
    cleanup_pipe int p[2] = {-1, -1};
    if (pipe2(p, O_CLOEXEC) < 0) {
        *err = mj_error_sys(MJ_ERR_SANDBOX_INIT_FAILED, errno, "pipe");
        return -1;
    }
    char *argv[] = {path, "probe", NULL};
    extern char **environ;
    pid_t child = fork();
    if (child == 0) {
        if (dup2(p[1], STDOUT_FILENO) < 0)
            _exit(127);
        execve(argv[0], argv, environ);
        _exit(127);
    }
    if (child < 0) {
        *err = mj_error_sys(MJ_ERR_SANDBOX_INIT_FAILED, errno, "fork");
        return -1;
    }
    mj_close_fd(&p[1]);
    char buf[1024];
    int r = read_status_line(p[0], buf, sizeof(buf), mj_now_monotonic() + 5);
    kill(child, SIGKILL);
    reap(child, 0);
    if (r < 0) {
        *err = mj_error_sys(MJ_ERR_NETWORK, errno, "%s probe gave no answer", path);
        return -1;
    }
    *line = mj_xstrdup(buf);
    *helper = steal_pointer(&path);
    return 0;
}

int mj_netsetup_stats(const char *dir, uint64_t *in, uint64_t *out, mj_error_t **err)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if ((size_t)snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/ctl", dir) >= sizeof(sa.sun_path)) {
        *err = mj_error_new(MJ_ERR_NETWORK, ENAMETOOLONG, "network: control socket path too long");
        return -1;
    }
    cleanup_close int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct timeval tv = {.tv_sec = 2};
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0 ||
        connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || mj_write_all(fd, "stats\n", 6) < 0) {
        *err = mj_error_sys(MJ_ERR_NETWORK, errno, "network: moonjail-net's control socket");
        return -1;
    }
    char line[1024];
    size_t n = 0;
    while (n + 1 < sizeof(line)) {
        ssize_t k = read(fd, line + n, sizeof(line) - 1 - n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break;
        n += (size_t)k;
        if (memchr(line, '\n', n))
            break;
    }
    line[n] = '\0';
    char v[32];
    if (strncmp(line, "ok ", 3) != 0 || !status_field(line, "bytes_in", v, sizeof(v))) {
        *err = mj_error_new(MJ_ERR_NETWORK, EPROTO, "network: moonjail-net's stats: unexpected answer");
        return -1;
    }
    *in = strtoull(v, NULL, 10);
    *out = status_field(line, "bytes_out", v, sizeof(v)) ? strtoull(v, NULL, 10) : 0;
    return 0;
}

static void remove_dir(const char *dir)
{
    cleanup_free char *resolv = mj_xasprintf("%s/resolv.conf", dir);
    cleanup_free char *ctl = mj_xasprintf("%s/ctl", dir);
    unlink(resolv);
    unlink(ctl);
    rmdir(dir);
}

void mj_netsetup_stop(mj_netsetup_t *h, double grace)
{
    if (h->pid > 0 && h->starttime && mj_proc_starttime(h->pid) == h->starttime) {
        /* SIGTERM first (it writes its summary), then whatever is left of the group.  Our own
         * child is waited for without reaping, so its group id stays reserved until then. */
        kill(h->pid, SIGTERM);
        siginfo_t si = {0};
        if (waitid(P_PID, (id_t)h->pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0) {
            end_child(h->pid, grace);
        } else { /* not our child (a named sandbox opened later): wait for it to go */
            double deadline = mj_now_monotonic() + grace;
            while (mj_proc_starttime(h->pid) == h->starttime && mj_now_monotonic() < deadline)
                usleep(2000);
            kill_group(h->pid);
        }
    } else if (h->pid > 0) {
        kill_group(h->pid); /* the helper died before (a crash): its engine may live on */
        (void)waitpid(h->pid, NULL, WNOHANG);
    }
    h->pid = -1;
    if (h->dir)
        remove_dir(h->dir);
    mj_netsetup_clear(h);
}

void mj_netsetup_clear(mj_netsetup_t *h)
{
    mj_close_fd(&h->status_r);
    free(h->dir);
    free(h->engine);
    free(h->ip);
    h->dir = h->engine = h->ip = NULL;
}

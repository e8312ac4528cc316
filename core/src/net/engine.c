/* engine.c — pasta or slirp4netns for the outbound mode.
 * Owns: the engine's command line, start-up handshake, supervision and stop, and the prohibit
 * routes towards the host.  Never: a forwarding option that reaches the host's loopback. */
#define _GNU_SOURCE
#include "engine.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../error.h"
#include "../util.h"

static const char *engine_name(mj_net_engine_t e)
{
    return e == MJ_NET_ENGINE_SLIRP4NETNS ? "slirp4netns" : "pasta";
}

const char *mj_net_engine_find(mj_net_engine_t engine, char *buf, size_t cap)
{
    const char *name = engine_name(engine);
    const char *path = getenv("PATH");
    char dirs[4096];
    snprintf(dirs, sizeof(dirs), "%s:/usr/bin:/usr/sbin:/bin", path ? path : "");
    char *save = NULL;
    for (char *d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
        if (d[0] != '/')
            continue; /* never a relative PATH entry */
        snprintf(buf, cap, "%s/%s", d, name);
        if (access(buf, X_OK) == 0)
            return buf;
    }
    return NULL;
}

void mj_net_engine_probe(char *out, size_t cap)
{
    char a[512], b[512];
    const char *pa = mj_net_engine_find(MJ_NET_ENGINE_PASTA, a, sizeof(a));
    const char *sl = mj_net_engine_find(MJ_NET_ENGINE_SLIRP4NETNS, b, sizeof(b));
    snprintf(out, cap, "pasta=%s slirp4netns=%s", pa ? pa : "missing", sl ? sl : "missing");
}

__attribute__((noreturn)) static void exec_child(char *const argv[], const int *keep, size_t n_keep)
{
    /* Dies with moonjail-net, whatever happens to it. */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
        _exit(127);
    /* A clean signal state: pasta (2023-03) takes an inherited SIGPIPE=SIG_IGN for a failure to
     * install its own handlers, and refuses to start. */
    signal(SIGPIPE, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    for (size_t i = 0; i < n_keep; i++) {
        int fl = fcntl(keep[i], F_GETFD);
        if (fl >= 0)
            fcntl(keep[i], F_SETFD, fl & ~FD_CLOEXEC);
    }
    int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (devnull >= 0) {
        dup2(devnull, STDIN_FILENO);
        dup2(devnull, STDOUT_FILENO);
    }
    execv(argv[0], argv);
    _exit(127);
}

int mj_net_engine_start(mj_net_engine_run_t *run, mj_net_engine_t want, const char *netns_path,
                        const char *userns_path, mj_error_t **err)
{
    memset(run, 0, sizeof(*run));
    run->pidfd = run->exit_fd = -1;
    char path[512];
    mj_net_engine_t e = want;
    const char *bin = NULL;
    if (want == MJ_NET_ENGINE_AUTO || want == MJ_NET_ENGINE_PASTA) {
        e = MJ_NET_ENGINE_PASTA;
        bin = mj_net_engine_find(e, path, sizeof(path));
    }
    if (!bin && (want == MJ_NET_ENGINE_AUTO || want == MJ_NET_ENGINE_SLIRP4NETNS)) {
        e = MJ_NET_ENGINE_SLIRP4NETNS;
        bin = mj_net_engine_find(e, path, sizeof(path));
    }
    if (!bin) {
        if (err)
            *err = mj_error_new(MJ_ERR_UNSUPPORTED, ENOENT,
                                "network outbound: no %s found (install Debian's passt or slirp4netns package)",
                                want == MJ_NET_ENGINE_AUTO ? "pasta or slirp4netns" : engine_name(want));
        return -1;
    }
    run->engine = e;
    int ready[2], quit[2] = {-1, -1};
    if (pipe2(ready, O_CLOEXEC) < 0 || (e == MJ_NET_ENGINE_SLIRP4NETNS && pipe2(quit, O_CLOEXEC) < 0)) {
        if (err)
            *err = mj_error_sys(MJ_ERR_SANDBOX_INIT_FAILED, errno, "network outbound: pipe");
        return -1;
    }
    char pidfile[80], readyfd[32], exitfd[32], userns_opt[600], runas[32];
    char piddir[] = "/tmp/moonjail-net.XXXXXX";
    const char *argv[32];
    size_t n = 0;
    argv[n++] = bin;
    if (e == MJ_NET_ENGINE_PASTA) {
        /* pasta writes its pid to this file once it has configured the namespace (a private
         * directory: pasta opens the file itself, after shedding its capabilities). */
        if (!mkdtemp(piddir)) {
            if (err)
                *err = mj_error_sys(MJ_ERR_SANDBOX_INIT_FAILED, errno, "network outbound: mkdtemp");
            return -1;
        }
        snprintf(pidfile, sizeof(pidfile), "%s/pasta.pid", piddir);
        argv[n++] = "--config-net";
        argv[n++] = "--quiet";
        argv[n++] = "--foreground";
        argv[n++] = "--no-map-gw";
        argv[n++] = "-t";
        argv[n++] = "none";
        argv[n++] = "-u";
        argv[n++] = "none";
        argv[n++] = "-T";
        argv[n++] = "none";
        argv[n++] = "-U";
        argv[n++] = "none";
        argv[n++] = "--dns-forward";
        argv[n++] = MJ_NET_ENGINE_DNS;
        argv[n++] = "--pid";
        argv[n++] = pidfile;
        if (geteuid() == 0) {
            /* As root pasta would drop to nobody, who cannot enter a root-owned user namespace. */
            snprintf(runas, sizeof(runas), "0:0");
            argv[n++] = "--runas";
            argv[n++] = runas;
        }
        if (userns_path) {
            argv[n++] = "--userns";
            argv[n++] = userns_path;
        }
        argv[n++] = "--netns";
        argv[n++] = netns_path;
    } else {
        snprintf(readyfd, sizeof(readyfd), "--ready-fd=%d", ready[1]);
        snprintf(exitfd, sizeof(exitfd), "--exit-fd=%d", quit[0]);
        argv[n++] = "--configure";
        argv[n++] = "--mtu=65520";
        argv[n++] = "--disable-host-loopback";
        argv[n++] = "--enable-sandbox";
        argv[n++] = "--enable-seccomp";
        argv[n++] = readyfd;
        argv[n++] = exitfd;
        if (userns_path) {
            snprintf(userns_opt, sizeof(userns_opt), "--userns-path=%s", userns_path);
            argv[n++] = userns_opt;
        }
        argv[n++] = "--netns-type=path";
        argv[n++] = netns_path;
        argv[n++] = "tap0";
    }
    argv[n] = NULL;
    pid_t pid = fork();
    if (pid < 0) {
        if (err)
            *err = mj_error_sys(MJ_ERR_SANDBOX_INIT_FAILED, errno, "network outbound: fork");
        return -1;
    }
    if (pid == 0) {
        close(ready[0]);
        if (quit[1] >= 0)
            close(quit[1]);
        int keep[2] = {ready[1], quit[0]};
        exec_child((char *const *)argv, keep, quit[0] >= 0 ? 2 : 1);
    }
    run->pid = pid;
    run->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (quit[0] >= 0)
        close(quit[0]);
    run->exit_fd = quit[1];
    close(ready[1]);
    bool ok = false;
    int r = 0;
    if (e == MJ_NET_ENGINE_PASTA) {
        /* Ready when the pid file has the pid; gone when the engine exits first. */
        for (int i = 0; i < 1000 && !ok; i++) {
            struct pollfd p = {.fd = run->pidfd, .events = POLLIN};
            if (run->pidfd >= 0 && poll(&p, 1, 10) > 0) {
                r = -1;
                break;
            }
            int fd = open(pidfile, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
            char buf[32];
            ok = fd >= 0 && read(fd, buf, sizeof(buf)) > 0;
            if (fd >= 0)
                close(fd);
        }
        unlink(pidfile);
        rmdir(piddir);
    } else {
        /* slirp4netns writes "1" to the ready fd. */
        struct pollfd p[2] = {{.fd = ready[0], .events = POLLIN}, {.fd = run->pidfd, .events = POLLIN}};
        do
            r = poll(p, run->pidfd >= 0 ? 2 : 1, 10000);
        while (r < 0 && errno == EINTR);
        char buf[32];
        ok = r > 0 && (p[0].revents & POLLIN) && read(ready[0], buf, sizeof(buf)) > 0;
    }
    close(ready[0]);
    if (!ok) {
        int status = 0;
        mj_net_engine_stop(run);
        (void)status;
        if (err)
            *err = mj_error_new(MJ_ERR_SANDBOX_INIT_FAILED, 0, "network outbound: %s %s", engine_name(e),
                                r == 0 ? "did not configure the namespace within 10 s" : "failed to start");
        return -1;
    }
    return 0;
}

void mj_net_engine_stop(mj_net_engine_run_t *run)
{
    if (run->exit_fd >= 0)
        close(run->exit_fd);
    run->exit_fd = -1;
    /* After dropping privileges moonjail-net may not signal a root engine: it then dies of
     * PR_SET_PDEATHSIG when moonjail-net exits, and is not waited for here. */
    if (run->pid > 0 && kill(run->pid, SIGTERM) == 0) {
        struct pollfd p = {.fd = run->pidfd, .events = POLLIN};
        if (run->pidfd < 0 || poll(&p, 1, 1000) <= 0)
            kill(run->pid, SIGKILL);
        while (waitpid(run->pid, NULL, 0) < 0 && errno == EINTR)
            ;
    }
    run->pid = 0;
    if (run->pidfd >= 0)
        close(run->pidfd);
    run->pidfd = -1;
}

int mj_net_engine_prohibit_host(mj_netd_t *d, mj_error_t **err)
{
    static const char *const metadata[] = {"169.254.169.254", "169.254.170.2", "100.100.100.200", "fd00:ec2::254"};
    mj_net_addr_t list[MJ_NET_HOST_ADDRS + 4];
    size_t n = 0;
    for (size_t i = 0; i < d->n_host_addrs; i++)
        list[n++] = d->host_addrs[i];
    for (size_t i = 0; i < MJ_ARRAY_LEN(metadata); i++)
        mj_net_addr_parse(metadata[i], &list[n++]);
    for (size_t i = 0; i < n; i++) {
        if (mj_net_addr_class(&list[i]) == MJ_NET_CLASS_LOOPBACK)
            continue; /* the sandbox's own loopback */
        mj_net_agent_req_t q = mj_net_agent_req(MJ_AGENT_PROHIBIT, &list[i], (unsigned)mj_net_addr_len(&list[i]) * 8, 0);
        mj_net_agent_rep_t rep;
        int fd;
        if (mj_net_agent_call_sync(&d->agent, &q, &rep, &fd) < 0 || (rep.err && rep.err != -EEXIST)) {
            char a[MJ_NET_ADDRSTRLEN];
            mj_net_addr_format(&list[i], a);
            if (err)
                *err = mj_error_sys(MJ_ERR_SANDBOX_INIT_FAILED, rep.err ? -rep.err : errno,
                                    "network outbound: prohibit route to %s", a);
            return -1;
        }
    }
    return 0;
}

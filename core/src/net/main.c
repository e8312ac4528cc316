/* main.c — moonjail-net, the per-sandbox network helper of moonjail (docs/networking.md).
 *
 *   moonjail-net [run] --config PATH|--config-fd N --netns PATH|--netns-fd N [--userns PATH|
 *                --userns-fd N] (--pid PID|--pidfd N) [--status-fd N] [--audit-fd N|--audit-log
 *                PATH] [--control-fd N|--control PATH] [--uid UID --gid GID] [--resolv-conf PATH]
 *   moonjail-net probe              the outbound engines found ("pasta=… slirp4netns=…")
 *   moonjail-net check-config PATH  parses a configuration: exit 0, or 1 with the error
 *
 * Owns: the order of start-up (read everything, fork the agent and the engine, bind what needs
 * privileges, drop them, load the seccomp filter, then serve) and the exit when the sandbox's
 * supervisor goes.  Never: reading a byte from the sandbox before the privileges are gone. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <netdb.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include "../error.h"
#include "../util.h"
#include "control.h"
#include "dnsup.h"
#include "engine.h"
#include "gate.h"
#include "netconf.h"
#include "netd.h"
#include "privs.h"
#include "publish.h"
#include "stub.h"

typedef struct {
    const char *config_path, *netns_path, *userns_path, *audit_path, *control_path, *resolv_path;
    int config_fd, netns_fd, userns_fd, pidfd, status_fd, audit_fd, control_fd;
    pid_t pid;
    uid_t uid;
    gid_t gid;
} args_t;

static int status_fd = -1;

static void status(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void status(const char *fmt, ...)
{
    if (status_fd < 0)
        return;
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (n > 0)
        (void)!write(status_fd, buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
}

static int fail(mj_error_t *err)
{
    const char *m = err ? mj_error_message(err) : "unknown error";
    status("error %s\n", m);
    fprintf(stderr, "moonjail-net: %s\n", m);
    mj_error_free(err);
    return 1;
}

static int usage(void)
{
    fprintf(stderr, "usage: moonjail-net [run] --config PATH|--config-fd N --netns PATH|--netns-fd N "
                    "[--userns PATH|--userns-fd N] (--pid PID|--pidfd N) [--status-fd N] "
                    "[--audit-fd N|--audit-log PATH] [--control-fd N|--control PATH] [--uid UID --gid GID] "
                    "[--resolv-conf PATH]\n       moonjail-net probe\n       moonjail-net check-config PATH\n");
    return 2;
}

static int parse_int(const char *s, long min, long max, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || !*s || *end || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

static int parse_args(int argc, char **argv, args_t *a)
{
    memset(a, 0, sizeof(*a));
    a->config_fd = a->netns_fd = a->userns_fd = a->pidfd = a->status_fd = a->audit_fd = a->control_fd = -1;
    a->uid = 65534;
    a->gid = 65534;
    a->resolv_path = "/etc/resolv.conf";
    for (int i = 0; i < argc; i++) {
        const char *k = argv[i];
        if (i + 1 >= argc)
            return -1;
        const char *v = argv[++i];
        long n = -1;
        bool is_fd = strstr(k, "-fd") || strcmp(k, "--pidfd") == 0;
        if (is_fd && parse_int(v, 0, 1 << 20, &n) < 0)
            return -1;
        if (strcmp(k, "--config") == 0) a->config_path = v;
        else if (strcmp(k, "--config-fd") == 0) a->config_fd = (int)n;
        else if (strcmp(k, "--netns") == 0) a->netns_path = v;
        else if (strcmp(k, "--netns-fd") == 0) a->netns_fd = (int)n;
        else if (strcmp(k, "--userns") == 0) a->userns_path = v;
        else if (strcmp(k, "--userns-fd") == 0) a->userns_fd = (int)n;
        else if (strcmp(k, "--pidfd") == 0) a->pidfd = (int)n;
        else if (strcmp(k, "--status-fd") == 0) a->status_fd = (int)n;
        else if (strcmp(k, "--audit-fd") == 0) a->audit_fd = (int)n;
        else if (strcmp(k, "--audit-log") == 0) a->audit_path = v;
        else if (strcmp(k, "--control-fd") == 0) a->control_fd = (int)n;
        else if (strcmp(k, "--control") == 0) a->control_path = v;
        else if (strcmp(k, "--resolv-conf") == 0) a->resolv_path = v;
        else if (strcmp(k, "--pid") == 0 || strcmp(k, "--uid") == 0 || strcmp(k, "--gid") == 0) {
            if (parse_int(v, 1, 0x7fffffff, &n) < 0)
                return -1;
            if (k[2] == 'p')
                a->pid = (pid_t)n;
            else if (k[2] == 'u')
                a->uid = (uid_t)n;
            else
                a->gid = (gid_t)n;
        } else
            return -1;
    }
    if ((!a->config_path && a->config_fd < 0) || (!a->netns_path && a->netns_fd < 0) || (!a->pid && a->pidfd < 0))
        return -1;
    return 0;
}

static char *read_all(int fd, size_t max, size_t *len)
{
    mj_buf_t b = {0};
    char chunk[4096];
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        mj_buf_append(&b, chunk, (size_t)n);
        if (b.len > max) {
            mj_buf_free(&b);
            errno = EFBIG;
            return NULL;
        }
    }
    *len = b.len;
    return b.data ? b.data : mj_xstrdup("");
}

static int load_config(const char *path, int fd, mj_net_conf_t *conf, mj_error_t **err)
{
    cleanup_close int own = -1;
    if (path) {
        own = open(path, O_RDONLY | O_CLOEXEC);
        if (own < 0) {
            if (err)
                *err = mj_error_sys(MJ_ERR_INVALID_CONFIG, errno, "moonjail-net: open %s", path);
            return -1;
        }
        fd = own;
    }
    size_t len = 0;
    cleanup_free char *text = read_all(fd, 1 << 20, &len);
    if (!text) {
        if (err)
            *err = mj_error_sys(MJ_ERR_INVALID_CONFIG, errno, "moonjail-net: reading the configuration");
        return -1;
    }
    return mj_net_conf_parse(text, len, conf, err);
}

static void read_resolv_conf(const char *path, mj_dnsup_servers_t *s)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return;
    char line[512];
    while (fgets(line, sizeof(line), f) && s->n < 3) {
        char addr[256];
        if (sscanf(line, " nameserver %255s", addr) != 1)
            continue;
        char *pct = strchr(addr, '%');
        if (pct)
            *pct = '\0'; /* a zone: link-local servers keep no zone across namespaces */
        mj_net_endpoint_t e = {.port = 53};
        if (mj_net_addr_parse(addr, &e.addr) == 0)
            s->servers[s->n++] = e;
    }
    fclose(f);
}

static void host_addresses(mj_netd_t *d)
{
    struct ifaddrs *ifa;
    if (getifaddrs(&ifa) < 0)
        return;
    for (struct ifaddrs *i = ifa; i && d->n_host_addrs < MJ_NET_HOST_ADDRS; i = i->ifa_next) {
        if (!i->ifa_addr)
            continue;
        socklen_t l = i->ifa_addr->sa_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
        mj_net_addr_t a;
        if (mj_net_addr_from_sockaddr(i->ifa_addr, l, &a, NULL) == 0)
            d->host_addrs[d->n_host_addrs++] = a;
    }
    freeifaddrs(ifa);
}

static int resolve_proxy(const mj_net_proxy_t *p, mj_net_proxy_addr_t *out, mj_error_t **err)
{
    if (!p->set)
        return 0;
    char port[8];
    snprintf(port, sizeof(port), "%u", (unsigned)p->port);
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
    int r = getaddrinfo(p->host, port, &hints, &res);
    if (r != 0 || !res) {
        if (err)
            *err = mj_error_new(MJ_ERR_NETWORK, 0, "moonjail-net: proxy %s: %s", p->host, gai_strerror(r));
        return -1;
    }
    memcpy(&out->sa, res->ai_addr, res->ai_addrlen);
    out->len = res->ai_addrlen;
    out->set = true;
    out->conf = p;
    freeaddrinfo(res);
    return 0;
}

static int open_ns(const char *path, int fd, const char *what, mj_error_t **err)
{
    if (!path)
        return fd;
    int r = open(path, O_RDONLY | O_CLOEXEC);
    if (r < 0 && err)
        *err = mj_error_sys(MJ_ERR_SANDBOX_INIT_FAILED, errno, "moonjail-net: open %s namespace %s", what, path);
    return r;
}

static int bind_control(const char *path, mj_error_t **err)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(sun.sun_path)) {
        if (err)
            *err = mj_error_new(MJ_ERR_INVALID_CONFIG, ENAMETOOLONG, "moonjail-net: control path too long");
        return -1;
    }
    strcpy(sun.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    mode_t old = umask(077);
    int r = fd < 0 ? -1 : bind(fd, (struct sockaddr *)&sun, sizeof(sun));
    umask(old);
    if (r < 0 || listen(fd, 16) < 0) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        if (err)
            *err = mj_error_sys(MJ_ERR_SANDBOX_INIT_FAILED, e, "moonjail-net: control socket %s", path);
        return -1;
    }
    return fd;
}

static int sync_agent(mj_netd_t *d, mj_net_agent_op_t op, const char *addr, unsigned prefix, uint16_t port, int *fd,
                      mj_error_t **err)
{
    mj_net_addr_t a = {.family = AF_INET};
    if (addr)
        mj_net_addr_parse(addr, &a);
    mj_net_agent_req_t q = mj_net_agent_req(op, addr ? &a : NULL, prefix, port);
    mj_net_agent_rep_t rep;
    int tmp;
    if (mj_net_agent_call_sync(&d->agent, &q, &rep, fd ? fd : &tmp) < 0 || rep.err) {
        if (err)
            *err = mj_error_sys(MJ_ERR_SANDBOX_INIT_FAILED, rep.err ? -rep.err : errno,
                                "moonjail-net: setting up the sandbox's namespace (step %d, %s)", (int)op,
                                addr ? addr : "-");
        return -1;
    }
    if (!fd && tmp >= 0)
        close(tmp);
    return 0;
}

static void on_gone(mj_net_io_t *io, uint32_t events)
{
    (void)events;
    mj_netd_t *d = io->data;
    d->loop.stop = true;
}

static int run(args_t *a)
{
    mj_error_t *err = NULL;
    status_fd = a->status_fd;
    signal(SIGPIPE, SIG_IGN);
    mj_net_conf_t conf;
    if (load_config(a->config_path, a->config_fd, &conf, &err) < 0)
        return fail(err);
    static mj_netd_t d;
    d.conf = &conf;
    if (mj_net_loop_init(&d.loop) < 0)
        return fail(mj_error_sys(MJ_ERR_SANDBOX_INIT_FAILED, errno, "moonjail-net: epoll"));
    int netns = open_ns(a->netns_path, a->netns_fd, "network", &err);
    if (netns < 0)
        return fail(err);
    int userns = open_ns(a->userns_path, a->userns_fd, "user", &err);
    if (a->userns_path && userns < 0)
        return fail(err);
    int pidfd = a->pidfd >= 0 ? a->pidfd : (int)syscall(SYS_pidfd_open, a->pid, 0);
    if (pidfd < 0)
        return fail(mj_error_sys(MJ_ERR_SANDBOX_NOT_FOUND, errno, "moonjail-net: the sandbox's process %d", (int)a->pid));
    int audit_fd = a->audit_fd;
    if (a->audit_path) {
        audit_fd = open(a->audit_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (audit_fd < 0)
            return fail(mj_error_sys(MJ_ERR_FILE_OPERATION_FAILED, errno, "moonjail-net: audit log %s", a->audit_path));
    }
    mj_net_audit_init(&d.audit, audit_fd, conf.sandbox, &d.stats);
    int control = a->control_fd;
    if (a->control_path && (control = bind_control(a->control_path, &err)) < 0)
        return fail(err);
    host_addresses(&d);
    static mj_dnsup_servers_t servers;
    for (size_t i = 0; i < conf.n_servers; i++)
        servers.servers[servers.n++] = conf.servers[i];
    if (servers.n == 0 && conf.mode == MJ_NET_MODE_FILTERED)
        read_resolv_conf(a->resolv_path, &servers);
    if (resolve_proxy(&conf.proxy_http, &d.proxy_http, &err) < 0 ||
        resolve_proxy(&conf.proxy_https, &d.proxy_https, &err) < 0)
        return fail(err);
    mj_net_bucket_init(&d.ingress, &d.loop, conf.ingress);
    mj_net_bucket_init(&d.egress, &d.loop, conf.egress);

    /* The agent: inside the sandbox's namespace from here on. */
    if (mj_net_agent_start(&d.agent, userns, netns, &err) < 0)
        return fail(err);
    if (sync_agent(&d, MJ_AGENT_LO_UP, NULL, 0, 0, NULL, &err) < 0)
        return fail(err);
    int dns_udp = -1, dns_tcp = -1;
    mj_net_engine_run_t engine = {.pid = 0, .pidfd = -1, .exit_fd = -1};
    if (conf.mode == MJ_NET_MODE_FILTERED) {
        /* Nothing leaves but through moonjail-net: every address not approved is "prohibit". */
        if (sync_agent(&d, MJ_AGENT_PROHIBIT, "0.0.0.0", 0, 0, NULL, &err) < 0)
            return fail(err);
        mj_net_addr_t any6 = {.family = AF_INET6};
        mj_net_agent_req_t q = mj_net_agent_req(MJ_AGENT_PROHIBIT, &any6, 0, 0);
        mj_net_agent_rep_t rep;
        int tmp;
        if (mj_net_agent_call_sync(&d.agent, &q, &rep, &tmp) < 0 || (rep.err && rep.err != -EAFNOSUPPORT))
            return fail(mj_error_sys(MJ_ERR_SANDBOX_INIT_FAILED, rep.err ? -rep.err : errno,
                                     "moonjail-net: IPv6 prohibit route"));
        if (sync_agent(&d, MJ_AGENT_BIND_UDP, MJ_NET_STUB_ADDR, 0, 53, &dns_udp, &err) < 0 ||
            sync_agent(&d, MJ_AGENT_LISTEN_TCP, MJ_NET_STUB_ADDR, 0, 53, &dns_tcp, &err) < 0)
            return fail(err);
        if (mj_net_gate_start(&d, &err) < 0)
            return fail(err);
    } else if (conf.mode == MJ_NET_MODE_OUTBOUND) {
        /* The engine opens the namespaces itself: the paths we were given (it may not be allowed
         * into our /proc/PID/fd once it has shed its capabilities), else our descriptors. */
        char np[64], up[64];
        snprintf(np, sizeof(np), "/proc/%d/fd/%d", (int)getpid(), netns);
        if (userns >= 0)
            snprintf(up, sizeof(up), "/proc/%d/fd/%d", (int)getpid(), userns);
        const char *netns_for = a->netns_path ? a->netns_path : np;
        const char *userns_for = a->userns_path ? a->userns_path : userns >= 0 ? up : NULL;
        if (mj_net_engine_start(&engine, conf.engine, netns_for, userns_for, &err) < 0 ||
            mj_net_engine_prohibit_host(&d, &err) < 0)
            return fail(err);
    }
    if (mj_net_publish_bind(&d, &err) < 0)
        return fail(err);
    close(netns);
    if (userns >= 0)
        close(userns);

    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigprocmask(SIG_BLOCK, &sigs, NULL);
    int sfd = signalfd(-1, &sigs, SFD_CLOEXEC | SFD_NONBLOCK);

    /* From here on: no privileges, no files, no exec. */
    if (mj_net_privs_drop(a->uid, a->gid, &err) < 0 || mj_net_privs_helper_filter(&err) < 0)
        return fail(err);

    mj_net_io_t gone_io, sig_io;
    if (mj_net_agent_attach(&d.agent, &d.loop) < 0 ||
        mj_net_io_add(&d.loop, &gone_io, pidfd, EPOLLIN, on_gone, &d) < 0 ||
        (sfd >= 0 && mj_net_io_add(&d.loop, &sig_io, sfd, EPOLLIN, on_gone, &d) < 0))
        return fail(mj_error_sys(MJ_ERR_SANDBOX_INIT_FAILED, errno, "moonjail-net: epoll"));
    if ((dns_udp >= 0 && mj_net_stub_start(&d, &servers, dns_udp, dns_tcp, &err) < 0) ||
        mj_net_publish_start(&d, &err) < 0 || (control >= 0 && mj_net_control_start(&d, control, &err) < 0))
        return fail(err);

    static const char *const modes[] = {"none", "outbound", "filtered"};
    if (conf.mode == MJ_NET_MODE_FILTERED)
        status("ready mode=filtered dns=%s upstream=%zu\n", MJ_NET_STUB_ADDR, servers.n);
    else if (conf.mode == MJ_NET_MODE_OUTBOUND)
        status("ready mode=outbound engine=%s dns=%s\n",
               engine.engine == MJ_NET_ENGINE_SLIRP4NETNS ? "slirp4netns" : "pasta",
               engine.engine == MJ_NET_ENGINE_SLIRP4NETNS ? MJ_NET_SLIRP_DNS : MJ_NET_ENGINE_DNS);
    else
        status("ready mode=%s\n", modes[conf.mode]);

    int r = mj_net_loop_run(&d.loop);

    if (conf.mode == MJ_NET_MODE_OUTBOUND) {
        mj_net_agent_req_t q = mj_net_agent_req(MJ_AGENT_LINK_BYTES, NULL, 0, 0);
        mj_net_agent_rep_t rep;
        int tmp;
        mj_net_io_del(&d.agent.io);
        if (mj_net_agent_call_sync(&d.agent, &q, &rep, &tmp) == 0 && rep.err == 0) {
            d.stats.bytes_in = rep.v1;
            d.stats.bytes_out = rep.v2;
        }
    }
    char line[512];
    mj_net_control_stats_line(&d, line, sizeof(line));
    status("stats %s\n", line);
    mj_net_rec_t rec;
    mj_net_rec_begin(&rec, "network_summary");
    mj_net_rec_str(&rec, "mode", modes[conf.mode]);
    mj_net_rec_stats(&rec, &d.stats);
    mj_net_rec_emit_always(&d.audit, &rec);
    mj_net_engine_stop(&engine);
    mj_net_agent_stop(&d.agent);
    return r < 0 ? 1 : 0;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "probe") == 0) {
        char out[1200];
        mj_net_engine_probe(out, sizeof(out));
        printf("%s\n", out);
        return 0;
    }
    if (argc == 3 && strcmp(argv[1], "check-config") == 0) {
        mj_net_conf_t conf;
        mj_error_t *err = NULL;
        if (load_config(argv[2], -1, &conf, &err) < 0) {
            fprintf(stderr, "%s\n", mj_error_message(err));
            mj_error_free(err);
            return 1;
        }
        printf("ok mode=%d allow=%zu deny=%zu ports=%d\n", (int)conf.mode, conf.rules.n_allow, conf.rules.n_deny,
               conf.n_ports);
        mj_net_conf_free(&conf);
        return 0;
    }
    int first = argc >= 2 && strcmp(argv[1], "run") == 0 ? 2 : 1;
    args_t a;
    if (parse_args(argc - first, argv + first, &a) < 0)
        return usage();
    return run(&a);
}

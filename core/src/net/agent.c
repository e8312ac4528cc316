/* agent.c — the in-namespace agent of moonjail-net and the client end of its wire.
 * Owns: fork, setns (user namespace, then network namespace), the agent's request loop, and the
 * ordered queue of requests in moonjail-net.  Never: decisions, files, or any namespace other
 * than the sandbox's. */
#define _GNU_SOURCE
#include "agent.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../error.h"
#include "../util.h"
#include "privs.h"
#include "route.h"

struct mj_net_agent_pending {
    mj_net_agent_req_t req;
    mj_net_agent_cb cb;
    void *data;
    mj_net_agent_pending_t *next;
};

/* Start-up failures travel as (stage, errno) in the first reply's v1/err. */
enum { STAGE_OK, STAGE_USERNS, STAGE_NETNS, STAGE_NETLINK, STAGE_SECCOMP };
static const char *const stage_text[] = {"", "joining the sandbox's user namespace",
                                         "joining the sandbox's network namespace", "opening rtnetlink",
                                         "loading the agent's seccomp filter"};

mj_net_agent_req_t mj_net_agent_req(mj_net_agent_op_t op, const mj_net_addr_t *addr, unsigned prefix, uint16_t port)
{
    mj_net_agent_req_t r;
    memset(&r, 0, sizeof(r));
    r.op = op;
    if (addr) {
        r.family = addr->family;
        memcpy(r.addr, addr->a, 16);
    }
    r.prefix = prefix;
    r.port = port;
    return r;
}

static int send_reply(int sock, const mj_net_agent_rep_t *rep, int fd)
{
    struct iovec iov = {.iov_base = (void *)rep, .iov_len = sizeof(*rep)};
    char cbuf[CMSG_SPACE(sizeof(int))];
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
    if (fd >= 0) {
        memset(cbuf, 0, sizeof(cbuf));
        msg.msg_control = cbuf;
        msg.msg_controllen = sizeof(cbuf);
        struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(c), &fd, sizeof(int));
    }
    while (sendmsg(sock, &msg, MSG_NOSIGNAL) < 0)
        if (errno != EINTR)
            return -1;
    return 0;
}

static int make_socket(const mj_net_agent_req_t *q, int *out)
{
    if (q->family != AF_INET && q->family != AF_INET6)
        return -EAFNOSUPPORT;
    int type = (q->udp || q->op == MJ_AGENT_BIND_UDP) && q->op != MJ_AGENT_LISTEN_TCP ? SOCK_DGRAM : SOCK_STREAM;
    int s = socket(q->family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s < 0)
        return -errno;
    if (q->op == MJ_AGENT_SOCKET) {
        *out = s;
        return 0;
    }
    int one = 1;
    (void)setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (q->op == MJ_AGENT_LISTEN_TCP)
        (void)setsockopt(s, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
    /* An approved address has only a "local" route, no interface address: IPv6 needs FREEBIND to
     * bind it (IPv4 accepts local routes as they are). */
    (void)setsockopt(s, IPPROTO_IP, IP_FREEBIND, &one, sizeof(one));
    if (q->family == AF_INET6)
        (void)setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    mj_net_addr_t a = {.family = q->family};
    memcpy(a.a, q->addr, 16);
    struct sockaddr_storage ss;
    socklen_t sl = mj_net_addr_to_sockaddr(&a, q->port, &ss);
    if (bind(s, (struct sockaddr *)&ss, sl) < 0 || (q->op == MJ_AGENT_LISTEN_TCP && listen(s, 1024) < 0)) {
        int e = errno;
        close(s);
        return -e;
    }
    *out = s;
    return 0;
}

static int handle(int nl, const mj_net_agent_req_t *q, mj_net_agent_rep_t *rep, int *fd)
{
    mj_net_cidr_t c = {.addr.family = q->family, .prefix = q->prefix};
    memcpy(c.addr.a, q->addr, 16);
    bool cidr_ok = (q->family == AF_INET && q->prefix <= 32) || (q->family == AF_INET6 && q->prefix <= 128);
    switch (q->op) {
    case MJ_AGENT_LO_UP:
        return mj_net_route_link_up(nl, MJ_NET_LO_IFINDEX);
    case MJ_AGENT_PROHIBIT:
        return cidr_ok ? mj_net_route_prohibit(nl, &c) : -EINVAL;
    case MJ_AGENT_LOCAL_ADD:
    case MJ_AGENT_LOCAL_DEL:
        return cidr_ok ? mj_net_route_local(nl, &c, q->op == MJ_AGENT_LOCAL_ADD) : -EINVAL;
    case MJ_AGENT_LISTEN_TCP:
    case MJ_AGENT_BIND_UDP:
    case MJ_AGENT_SOCKET:
        return make_socket(q, fd);
    case MJ_AGENT_LINK_BYTES:
        return mj_net_route_link_bytes(nl, &rep->v1, &rep->v2);
    default:
        return -EINVAL;
    }
}

__attribute__((noreturn)) static void agent_main(int sock, int userns_fd, int netns_fd, pid_t parent)
{
    mj_net_agent_rep_t hello = {.seq = 0};
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
        _exit(1);
    int stage = STAGE_OK, e = 0;
    int nl = -1;
    if (userns_fd >= 0 && setns(userns_fd, CLONE_NEWUSER) < 0)
        stage = STAGE_USERNS, e = errno;
    else if (setns(netns_fd, CLONE_NEWNET) < 0)
        stage = STAGE_NETNS, e = errno;
    else if ((nl = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE)) < 0)
        stage = STAGE_NETLINK, e = errno;
    else if (mj_net_privs_agent_filter() < 0)
        stage = STAGE_SECCOMP, e = errno;
    hello.err = -e;
    hello.v1 = (uint64_t)stage;
    if (send_reply(sock, &hello, -1) < 0 || stage != STAGE_OK)
        _exit(1);
    for (;;) {
        mj_net_agent_req_t q;
        ssize_t n = recv(sock, &q, sizeof(q), 0);
        if (n == 0)
            _exit(0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            _exit(1);
        }
        mj_net_agent_rep_t rep = {.seq = q.seq};
        int fd = -1;
        rep.err = n == (ssize_t)sizeof(q) ? handle(nl, &q, &rep, &fd) : -EINVAL;
        int r = send_reply(sock, &rep, fd);
        if (fd >= 0)
            close(fd);
        if (r < 0)
            _exit(1);
    }
}

static ssize_t recv_reply(int sock, mj_net_agent_rep_t *rep, int *fd, int flags)
{
    char cbuf[CMSG_SPACE(sizeof(int) * 4)];
    struct iovec iov = {.iov_base = rep, .iov_len = sizeof(*rep)};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf)};
    *fd = -1;
    ssize_t n;
    do
        n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC | flags);
    while (n < 0 && errno == EINTR);
    if (n <= 0)
        return n;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
            continue;
        size_t nfd = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < nfd; i++) {
            int f;
            memcpy(&f, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
            if (*fd < 0)
                *fd = f;
            else
                close(f); /* never more than one: anything else is closed */
        }
    }
    if (n != (ssize_t)sizeof(*rep) || (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC))) {
        if (*fd >= 0)
            close(*fd);
        *fd = -1;
        errno = EPROTO;
        return -1;
    }
    return n;
}

int mj_net_agent_start(mj_net_agent_t *ag, int userns_fd, int netns_fd, mj_error_t **err)
{
    memset(ag, 0, sizeof(*ag));
    ag->fd = -1;
    ag->io.fd = -1;
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
        if (err)
            *err = mj_error_sys(MJ_ERR_SANDBOX_INIT_FAILED, errno, "network agent: socketpair");
        return -1;
    }
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        close(sv[0]);
        close(sv[1]);
        if (err)
            *err = mj_error_sys(MJ_ERR_SANDBOX_INIT_FAILED, e, "network agent: fork");
        return -1;
    }
    if (pid == 0) {
        close(sv[0]);
        agent_main(sv[1], userns_fd, netns_fd, parent);
    }
    close(sv[1]);
    ag->fd = sv[0];
    ag->pid = pid;
    mj_net_agent_rep_t hello;
    int fd;
    if (recv_reply(ag->fd, &hello, &fd, 0) <= 0) {
        int e = errno;
        mj_net_agent_stop(ag);
        if (err)
            *err = mj_error_sys(MJ_ERR_SANDBOX_INIT_FAILED, e, "network agent: no answer from the agent");
        return -1;
    }
    if (hello.v1 != STAGE_OK) {
        unsigned stage = hello.v1 < MJ_ARRAY_LEN(stage_text) ? (unsigned)hello.v1 : 0;
        mj_net_agent_stop(ag);
        if (err)
            *err = mj_error_sys(MJ_ERR_SANDBOX_INIT_FAILED, -hello.err, "network agent: %s", stage_text[stage]);
        return -1;
    }
    return 0;
}

int mj_net_agent_call_sync(mj_net_agent_t *ag, mj_net_agent_req_t *req, mj_net_agent_rep_t *rep, int *fd)
{
    req->seq = ++ag->seq;
    *fd = -1;
    ssize_t n;
    do
        n = send(ag->fd, req, sizeof(*req), MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    if (n != (ssize_t)sizeof(*req))
        return -1;
    if (recv_reply(ag->fd, rep, fd, 0) <= 0)
        return -1;
    if (rep->seq != req->seq) {
        if (*fd >= 0)
            close(*fd);
        errno = EPROTO;
        return -1;
    }
    return 0;
}

static void flush_queue(mj_net_agent_t *ag)
{
    while (ag->qhead) {
        mj_net_agent_pending_t *p = ag->qhead;
        ssize_t n = send(ag->fd, &p->req, sizeof(p->req), MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            break;
        ag->qhead = p->next;
        if (!ag->qhead)
            ag->qtail = NULL;
        p->next = NULL;
        if (n != (ssize_t)sizeof(p->req)) { /* the agent is gone: answer with the error now */
            mj_net_agent_rep_t rep = {.seq = p->req.seq, .err = -EPIPE};
            ag->n_pending--;
            p->cb(p->data, &rep, -1);
            free(p);
            continue;
        }
        if (ag->tail)
            ag->tail->next = p;
        else
            ag->head = p;
        ag->tail = p;
    }
    mj_net_io_set(&ag->io, EPOLLIN | (ag->qhead ? EPOLLOUT : 0));
}

static void fail_all(mj_net_agent_t *ag)
{
    mj_net_agent_pending_t *lists[2] = {ag->head, ag->qhead};
    ag->head = ag->tail = ag->qhead = ag->qtail = NULL;
    for (int i = 0; i < 2; i++) {
        while (lists[i]) {
            mj_net_agent_pending_t *p = lists[i];
            lists[i] = p->next;
            mj_net_agent_rep_t rep = {.seq = p->req.seq, .err = -EPIPE};
            ag->n_pending--;
            p->cb(p->data, &rep, -1);
            free(p);
        }
    }
}

static void on_agent(mj_net_io_t *io, uint32_t events)
{
    mj_net_agent_t *ag = io->data;
    if (events & EPOLLOUT)
        flush_queue(ag);
    if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
        return;
    for (;;) {
        mj_net_agent_rep_t rep;
        int fd;
        ssize_t n = recv_reply(ag->fd, &rep, &fd, MSG_DONTWAIT);
        if (n < 0 && errno == EAGAIN)
            return;
        if (n <= 0 || !ag->head || ag->head->req.seq != rep.seq) {
            if (fd >= 0)
                close(fd);
            mj_net_io_del(&ag->io);
            fail_all(ag);
            return;
        }
        mj_net_agent_pending_t *p = ag->head;
        ag->head = p->next;
        if (!ag->head)
            ag->tail = NULL;
        ag->n_pending--;
        p->cb(p->data, &rep, fd);
        free(p);
    }
}

int mj_net_agent_attach(mj_net_agent_t *ag, mj_net_loop_t *loop)
{
    return mj_net_io_add(loop, &ag->io, ag->fd, EPOLLIN, on_agent, ag);
}

void mj_net_agent_call(mj_net_agent_t *ag, mj_net_agent_req_t *req, mj_net_agent_cb cb, void *data)
{
    mj_net_agent_pending_t *p = mj_xcalloc(1, sizeof(*p));
    req->seq = ++ag->seq;
    p->req = *req;
    p->cb = cb;
    p->data = data;
    ag->n_pending++;
    if (ag->qtail)
        ag->qtail->next = p;
    else
        ag->qhead = p;
    ag->qtail = p;
    if (ag->io.fd < 0) { /* the agent is gone */
        fail_all(ag);
        return;
    }
    flush_queue(ag);
}

void mj_net_agent_stop(mj_net_agent_t *ag)
{
    if (ag->io.fd >= 0)
        mj_net_io_del(&ag->io);
    if (ag->fd >= 0)
        close(ag->fd);
    ag->fd = -1;
    /* The agent exits at EOF on its socket; a kill only hurries it (it fails once moonjail-net
     * dropped its privileges and the agent kept root's uid, which is fine: EOF still ends it). */
    if (ag->pid > 0) {
        (void)kill(ag->pid, SIGKILL);
        while (waitpid(ag->pid, NULL, 0) < 0 && errno == EINTR)
            ;
    }
    ag->pid = 0;
    fail_all(ag);
}

/* publish.c — host ports forwarded into the sandbox.
 * Owns: host-side listeners and the inbound connections' set-up.  Never: binding anything the
 * configuration did not list. */
#define _GNU_SOURCE
#include "publish.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../error.h"
#include "../util.h"

typedef struct {
    mj_netd_t *d;
    const mj_net_publish_t *p;
    int fd;
    mj_net_io_t io;
} pub_listener_t;

typedef struct mj_net_publish {
    pub_listener_t *l;
    size_t n;
} pub_t;

typedef struct {
    mj_netd_t *d;
    const mj_net_publish_t *p;
    int hfd, sfd; /* host side (accepted), sandbox side (agent socket) */
    mj_net_io_t io;
    mj_net_timer_t timer;
    char peer[MJ_NET_ADDRSTRLEN];
    mj_net_relay_t *relay;
} pconn_t;

static void pconn_free(void *p)
{
    free(p);
}

static void pconn_fail(pconn_t *c, const char *why)
{
    mj_net_io_del(&c->io);
    mj_net_timer_cancel(&c->d->loop, &c->timer);
    mj_net_reset_close(c->hfd);
    if (c->sfd >= 0)
        close(c->sfd);
    mj_net_rec_t r;
    mj_net_rec_begin(&r, "network_publish");
    mj_net_rec_str(&r, "peer", c->peer);
    mj_net_rec_u64(&r, "host_port", c->p->host_port);
    mj_net_rec_u64(&r, "port", c->p->port);
    mj_net_rec_str(&r, "error", why);
    mj_net_rec_emit(&c->d->audit, &r);
    c->d->conns--;
    mj_net_loop_defer(&c->d->loop, pconn_free, c);
}

static void on_relay_done(mj_net_relay_t *r, const char *why, void *data)
{
    pconn_t *c = data;
    (void)r;
    (void)why;
    c->d->conns--;
    mj_net_loop_defer(&c->d->loop, pconn_free, c);
}

static void on_connected(mj_net_io_t *io, uint32_t events)
{
    pconn_t *c = io->data;
    (void)events;
    int e = 0;
    socklen_t l = sizeof(e);
    getsockopt(c->sfd, SOL_SOCKET, SO_ERROR, &e, &l);
    if (e == EINPROGRESS)
        return;
    mj_net_io_del(&c->io);
    mj_net_timer_cancel(&c->d->loop, &c->timer);
    if (e) {
        char why[96];
        snprintf(why, sizeof(why), "nothing listens on port %u in the sandbox: %s", (unsigned)c->p->port, strerror(e));
        return pconn_fail(c, why);
    }
    mj_net_relay_opts_t o = {.egress = &c->d->egress, .ingress = &c->d->ingress, .stats = &c->d->stats,
                             .done = on_relay_done, .data = c};
    int sfd = c->sfd, hfd = c->hfd;
    c->sfd = c->hfd = -1;
    c->relay = mj_net_relay_new(&c->d->loop, sfd, hfd, NULL, 0, 0, &o);
    if (!c->relay) {
        c->d->conns--;
        mj_net_loop_defer(&c->d->loop, pconn_free, c);
    }
}

static void on_timeout(mj_net_timer_t *t)
{
    pconn_fail(t->data, "connecting into the sandbox timed out");
}

static void on_socket(void *data, const mj_net_agent_rep_t *rep, int fd)
{
    pconn_t *c = data;
    c->sfd = fd;
    if (rep->err || fd < 0)
        return pconn_fail(c, "the agent could not make a socket in the sandbox");
    mj_net_addr_t lo;
    mj_net_addr_parse("127.0.0.1", &lo);
    struct sockaddr_storage ss;
    socklen_t sl = mj_net_addr_to_sockaddr(&lo, c->p->port, &ss);
    if (connect(fd, (struct sockaddr *)&ss, sl) < 0 && errno != EINPROGRESS) {
        char why[96];
        snprintf(why, sizeof(why), "nothing listens on port %u in the sandbox: %s", (unsigned)c->p->port,
                 strerror(errno));
        return pconn_fail(c, why);
    }
    if (mj_net_io_add(&c->d->loop, &c->io, fd, EPOLLOUT, on_connected, c) < 0)
        return pconn_fail(c, "epoll");
    mj_net_timer_arm(&c->d->loop, &c->timer, 10.0, on_timeout, c);
}

static void on_accept(mj_net_io_t *io, uint32_t events)
{
    pub_listener_t *l = io->data;
    (void)events;
    for (int i = 0; i < 64; i++) {
        struct sockaddr_storage peer;
        socklen_t pl = sizeof(peer);
        int fd = accept4(l->fd, (struct sockaddr *)&peer, &pl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return;
        if (l->d->conns >= l->d->conf->max_conns) {
            mj_net_reset_close(fd);
            continue;
        }
        pconn_t *c = mj_xcalloc(1, sizeof(*c));
        c->d = l->d;
        c->p = l->p;
        c->hfd = fd;
        c->sfd = -1;
        c->io.fd = -1;
        mj_net_addr_t pa;
        uint16_t pp;
        if (mj_net_addr_from_sockaddr((struct sockaddr *)&peer, pl, &pa, &pp) == 0)
            mj_net_addr_format(&pa, c->peer);
        l->d->conns++;
        l->d->stats.published_conns++;
        mj_net_agent_req_t q = mj_net_agent_req(MJ_AGENT_SOCKET, NULL, 0, 0);
        q.family = AF_INET;
        mj_net_agent_call(&l->d->agent, &q, on_socket, c);
    }
}

int mj_net_publish_bind(mj_netd_t *d, mj_error_t **err)
{
    pub_t *p = mj_xcalloc(1, sizeof(*p));
    d->publish = p;
    p->l = mj_xcalloc(d->conf->n_publish ? d->conf->n_publish : 1, sizeof(*p->l));
    for (size_t i = 0; i < d->conf->n_publish; i++) {
        const mj_net_publish_t *pub = &d->conf->publish[i];
        char a[MJ_NET_ADDRSTRLEN];
        mj_net_addr_format(&pub->host_addr, a);
        if (pub->udp) {
            if (err)
                *err = mj_error_new(MJ_ERR_UNSUPPORTED, 0, "publish %s:%u:%u/udp: UDP ports cannot be published yet",
                                    a, (unsigned)pub->host_port, (unsigned)pub->port);
            return -1;
        }
        int fd = socket(pub->host_addr.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        int one = 1;
        struct sockaddr_storage ss;
        socklen_t sl = mj_net_addr_to_sockaddr(&pub->host_addr, pub->host_port, &ss);
        if (fd >= 0)
            (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (fd >= 0 && pub->host_addr.family == AF_INET6)
            (void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
        if (fd < 0 || bind(fd, (struct sockaddr *)&ss, sl) < 0 || listen(fd, 128) < 0) {
            int e = errno;
            if (fd >= 0)
                close(fd);
            if (err)
                *err = mj_error_sys(MJ_ERR_SANDBOX_INIT_FAILED, e, "publish %s:%u", a, (unsigned)pub->host_port);
            return -1;
        }
        p->l[p->n].d = d;
        p->l[p->n].p = pub;
        p->l[p->n].fd = fd;
        p->l[p->n].io.fd = -1;
        p->n++;
    }
    return 0;
}

int mj_net_publish_start(mj_netd_t *d, mj_error_t **err)
{
    pub_t *p = d->publish;
    for (size_t i = 0; p && i < p->n; i++) {
        if (mj_net_io_add(&d->loop, &p->l[i].io, p->l[i].fd, EPOLLIN, on_accept, &p->l[i]) < 0) {
            if (err)
                *err = mj_error_sys(MJ_ERR_SANDBOX_INIT_FAILED, errno, "publish: epoll");
            return -1;
        }
    }
    return 0;
}

void mj_net_publish_stop(mj_netd_t *d)
{
    pub_t *p = d->publish;
    if (!p)
        return;
    for (size_t i = 0; i < p->n; i++) {
        mj_net_io_del(&p->l[i].io);
        close(p->l[i].fd);
    }
    free(p->l);
    free(p);
    d->publish = NULL;
}

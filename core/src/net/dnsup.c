/* dnsup.c — the upstream DNS client of moonjail-net.
 * Owns: sockets to upstream servers, retries, the TCP fallback.  Never: answering the sandbox or
 * deciding anything about names. */
#define _GNU_SOURCE
#include "dnsup.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../util.h"

#define TCP_MAX 65535

typedef struct {
    mj_netd_t *d;
    const mj_dnsup_servers_t *servers;
    char name[MJ_NET_NAME_MAX + 1];
    uint16_t qtype, id;
    unsigned attempt;
    bool tcp;
    int fd;
    mj_net_io_t io;
    mj_net_timer_t timer;
    uint8_t q[512];
    size_t qlen;
    uint8_t *buf; /* TCP: 2-byte length + message */
    size_t have, sent;
    mj_dnsup_cb cb;
    void *data;
} up_t;

static void free_up(void *p)
{
    up_t *u = p;
    free(u->buf);
    free(u);
}

static void close_fd(up_t *u)
{
    mj_net_io_del(&u->io);
    if (u->fd >= 0)
        close(u->fd);
    u->fd = -1;
}

static void finish(up_t *u, bool ok, const mj_dns_response_t *r)
{
    close_fd(u);
    mj_net_timer_cancel(&u->d->loop, &u->timer);
    u->cb(u->data, ok, r);
    mj_net_loop_defer(&u->d->loop, free_up, u);
}

static void try_next(up_t *u);

static void on_timeout(mj_net_timer_t *t)
{
    try_next(t->data);
}

static void start_tcp(up_t *u);

/* 1: done (finish called); 0: not an answer to us, keep waiting; -1: try the next server. */
static int handle_answer(up_t *u, const uint8_t *msg, size_t len)
{
    mj_dns_response_t r;
    if (mj_dns_parse_response(msg, len, u->id, u->name, u->qtype, &r) < 0)
        return u->tcp ? -1 : 0;
    if (r.truncated && !u->tcp) {
        start_tcp(u);
        return 1;
    }
    if (r.rcode == MJ_DNS_RCODE_SERVFAIL || r.rcode == MJ_DNS_RCODE_REFUSED || r.rcode == MJ_DNS_RCODE_NOTIMP)
        return -1;
    finish(u, true, &r);
    return 1;
}

static void on_io(mj_net_io_t *io, uint32_t events)
{
    up_t *u = io->data;
    (void)events;
    if (!u->tcp) {
        uint8_t msg[4096];
        for (;;) {
            ssize_t n = recv(u->fd, msg, sizeof(msg), MSG_DONTWAIT);
            if (n < 0 && (errno == EAGAIN || errno == EINTR))
                return;
            if (n < 0) /* ECONNREFUSED from the ICMP of a closed port */
                return try_next(u);
            int h = handle_answer(u, msg, (size_t)n);
            if (h == 1)
                return;
            if (h < 0)
                return try_next(u);
        }
    }
    if (u->sent < u->qlen + 2) {
        uint8_t out[514];
        out[0] = (uint8_t)(u->qlen >> 8);
        out[1] = (uint8_t)u->qlen;
        memcpy(out + 2, u->q, u->qlen);
        ssize_t n = send(u->fd, out + u->sent, u->qlen + 2 - u->sent, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0 && errno != EAGAIN && errno != EINTR)
            return try_next(u);
        if (n > 0)
            u->sent += (size_t)n;
        if (u->sent < u->qlen + 2)
            return mj_net_io_set(&u->io, EPOLLOUT);
        mj_net_io_set(&u->io, EPOLLIN);
        return;
    }
    size_t want = u->have < 2 ? 2 : 2 + (((size_t)u->buf[0] << 8) | u->buf[1]);
    ssize_t n = recv(u->fd, u->buf + u->have, want - u->have, MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0)
        return try_next(u);
    u->have += (size_t)n;
    if (u->have == 2 && want == 2)
        return on_io(io, events);
    if (u->have < want)
        return;
    if (handle_answer(u, u->buf + 2, u->have - 2) != 1)
        try_next(u);
}

static int open_to(up_t *u, int type)
{
    const mj_net_endpoint_t *s = &u->servers->servers[u->attempt % u->servers->n];
    struct sockaddr_storage ss;
    socklen_t sl = mj_net_addr_to_sockaddr(&s->addr, s->port, &ss);
    u->fd = socket(ss.ss_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (u->fd < 0)
        return -1;
    /* connect(): the kernel then drops datagrams from any other address or port. */
    if (connect(u->fd, (struct sockaddr *)&ss, sl) < 0 && errno != EINPROGRESS)
        return -1;
    return mj_net_io_add(&u->d->loop, &u->io, u->fd, type == SOCK_DGRAM ? EPOLLIN : EPOLLOUT, on_io, u);
}

static void start_tcp(up_t *u)
{
    close_fd(u);
    u->tcp = true;
    u->have = u->sent = 0;
    if (!u->buf)
        u->buf = mj_xmalloc(TCP_MAX + 2);
    if (open_to(u, SOCK_STREAM) < 0)
        return try_next(u);
    mj_net_timer_arm(&u->d->loop, &u->timer, MJ_DNSUP_TRY_TIMEOUT, on_timeout, u);
}

static void send_udp(up_t *u)
{
    uint16_t id;
    if (getrandom(&id, sizeof(id), 0) != sizeof(id))
        id = (uint16_t)(mj_net_now() * 1e6);
    u->id = id;
    int n = mj_dns_build_query(u->id, u->name, u->qtype, u->q, sizeof(u->q));
    if (n < 0)
        return finish(u, false, NULL);
    u->qlen = (size_t)n;
    u->tcp = false;
    if (open_to(u, SOCK_DGRAM) < 0 || send(u->fd, u->q, u->qlen, MSG_NOSIGNAL) < 0) {
        close_fd(u);
        return try_next(u);
    }
    mj_net_timer_arm(&u->d->loop, &u->timer, MJ_DNSUP_TRY_TIMEOUT, on_timeout, u);
}

static void try_next(up_t *u)
{
    close_fd(u);
    mj_net_timer_cancel(&u->d->loop, &u->timer);
    if (++u->attempt >= 2 * u->servers->n)
        return finish(u, false, NULL);
    send_udp(u);
}

static void first_try(mj_net_timer_t *t)
{
    send_udp(t->data);
}

void mj_dnsup_query(mj_netd_t *d, const mj_dnsup_servers_t *servers, const char *name, uint16_t qtype,
                    mj_dnsup_cb cb, void *data)
{
    up_t *u = mj_xcalloc(1, sizeof(*u));
    u->d = d;
    u->servers = servers;
    snprintf(u->name, sizeof(u->name), "%s", name);
    u->qtype = qtype;
    u->fd = -1;
    u->io.fd = -1;
    u->cb = cb;
    u->data = data;
    if (servers->n == 0) {
        u->attempt = 0;
        mj_net_timer_arm(&d->loop, &u->timer, 0, on_timeout, u); /* fails from the loop, never inside */
        u->attempt = 1u << 30;
        return;
    }
    mj_net_timer_arm(&d->loop, &u->timer, 0, first_try, u);
}

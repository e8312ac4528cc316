/* conn.c — a sandbox's outbound connection in filtered mode, from accept to close.
 * Owns: the decision record, the inspection phase, the world-side connect and proxy handshake,
 * handing over to the relay, the close record.  Never: re-resolving a name, or letting a byte out
 * before the decision (and, on inspected ports, the inspector) allowed it. */
#define _GNU_SOURCE
#include "conn.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../util.h"
#include "http.h"
#include "sni.h"

#define PRE_MAX 24576
#define PROXY_HEAD_MAX 8192

typedef enum { C_INSPECT, C_CONNECT, C_PROXY_SEND, C_PROXY_RECV, C_RELAY } conn_state_t;

typedef struct {
    mj_netd_t *d;
    conn_state_t state;
    int cfd, ufd;
    mj_net_io_t cio, uio;
    mj_net_timer_t timer;
    mj_net_addr_t dst;
    uint16_t port;
    char addr_text[MJ_NET_ADDRSTRLEN];
    mj_net_mem_entry_t *entry; /* referenced while the connection lives */
    char name[MJ_NET_NAME_MAX + 1];
    const char *rule;
    mj_net_inspect_t *insp;
    uint8_t pre[PRE_MAX];
    size_t pre_len;
    int64_t cleared;
    bool check_refused;  /* the host check already wrote the denial */
    char proxy_req[640];
    size_t proxy_len, proxy_off;
    const mj_net_proxy_addr_t *proxy;
    double started;
    mj_net_relay_t *relay;
} conn_t;

bool mj_net_conn_is_host_addr(const mj_netd_t *d, const mj_net_addr_t *addr)
{
    for (size_t i = 0; i < d->n_host_addrs; i++)
        if (mj_net_addr_equal(&d->host_addrs[i], addr))
            return true;
    return false;
}

static void record(conn_t *c, const char *verdict, const char *reason, const char *host)
{
    mj_net_rec_t r;
    mj_net_rec_begin(&r, "network_connect");
    mj_net_rec_str(&r, "verdict", verdict);
    mj_net_rec_str(&r, "address", c->addr_text);
    mj_net_rec_u64(&r, "port", c->port);
    mj_net_rec_str(&r, "name", c->name[0] ? c->name : NULL);
    mj_net_rec_str(&r, "host", host);
    mj_net_rec_str(&r, "rule", c->rule);
    mj_net_rec_str(&r, "reason", reason);
    mj_net_rec_emit(&c->d->audit, &r);
}

static void deny(conn_t *c, const char *reason, const char *host)
{
    c->d->stats.conns_denied++;
    record(c, "deny", reason, host);
}

static void free_conn(void *p)
{
    free(p);
}

/* Ends the connection.  allowed: a decision record said allow, so a close record follows. */
static void conn_end(conn_t *c, bool reset, const char *why, bool allowed)
{
    mj_net_io_del(&c->cio);
    mj_net_io_del(&c->uio);
    mj_net_timer_cancel(&c->d->loop, &c->timer);
    uint64_t in = 0, out = 0;
    if (c->relay) {
        in = mj_net_relay_bytes_in(c->relay);
        out = mj_net_relay_bytes_out(c->relay);
    } else {
        if (reset) {
            mj_net_reset_close(c->cfd);
            mj_net_reset_close(c->ufd);
        } else {
            if (c->cfd >= 0)
                close(c->cfd);
            if (c->ufd >= 0)
                close(c->ufd);
        }
        if (c->insp)
            c->insp->destroy(c->insp);
    }
    c->cfd = c->ufd = -1;
    c->insp = NULL;
    if (allowed) {
        mj_net_rec_t r;
        mj_net_rec_begin(&r, "network_close");
        mj_net_rec_str(&r, "address", c->addr_text);
        mj_net_rec_u64(&r, "port", c->port);
        mj_net_rec_str(&r, "name", c->name[0] ? c->name : NULL);
        mj_net_rec_u64(&r, "bytes_in", in);
        mj_net_rec_u64(&r, "bytes_out", out);
        mj_net_rec_u64(&r, "duration_ms", (uint64_t)((mj_net_now() - c->started) * 1000));
        mj_net_rec_str(&r, "error", why);
        mj_net_rec_emit(&c->d->audit, &r);
    }
    if (c->entry)
        c->entry->refs--;
    c->d->conns--;
    c->d->stats.conns_open--;
    mj_net_loop_defer(&c->d->loop, free_conn, c);
}

static void on_relay_done(mj_net_relay_t *r, const char *why, void *data)
{
    conn_t *c = data;
    (void)r;
    if (why && c->check_refused)
        why = "refused: a later request named a host not allowed";
    conn_end(c, true, why, true);
}

static void on_timeout(mj_net_timer_t *t)
{
    conn_t *c = t->data;
    if (c->state == C_INSPECT) {
        deny(c, "no TLS ClientHello or HTTP request head in time", NULL);
        conn_end(c, true, NULL, false);
    } else {
        conn_end(c, true, c->state == C_CONNECT ? "connect timed out" : "proxy did not answer in time", true);
    }
}

/* The inspector's question: may this stream go to host on this address and port? */
static int check_host(void *ctx, const char *host)
{
    conn_t *c = ctx;
    const char *reason = NULL;
    mj_net_verdict_t v = mj_net_rules_name(&c->d->conf->rules, host, c->port);
    if (!c->entry || !mj_net_mem_has_name(c->entry, host))
        reason = "server name or Host differs from the names this address was resolved for";
    else if (!v.allowed)
        reason = v.rule ? "denied by rule" : "no rule allows this name on this port";
    if (reason) {
        if (v.rule)
            c->rule = v.rule->text;
        c->check_refused = true;
        deny(c, reason, host);
        return -1;
    }
    if (!c->name[0]) {
        snprintf(c->name, sizeof(c->name), "%s", host);
        c->rule = v.rule->text;
    }
    return 0;
}

static bool no_proxy_matches(const conn_t *c)
{
    const mj_net_conf_t *conf = c->d->conf;
    for (size_t i = 0; i < conf->n_no_proxy; i++) {
        const char *e = conf->no_proxy[i];
        if (strcmp(e, "*") == 0)
            return true;
        mj_net_cidr_t cidr;
        if (mj_net_cidr_parse(e, &cidr) == 0) {
            if (mj_net_cidr_contains(&cidr, &c->dst))
                return true;
            continue;
        }
        if (e[0] == '*')
            e++;
        if (e[0] == '.')
            e++;
        size_t n = strlen(c->name), s = strlen(e);
        if (c->name[0] && n >= s && strcasecmp(c->name + n - s, e) == 0 && (n == s || c->name[n - s - 1] == '.'))
            return true;
    }
    return false;
}

static void start_relay(conn_t *c)
{
    mj_net_io_del(&c->cio);
    mj_net_io_del(&c->uio);
    mj_net_timer_cancel(&c->d->loop, &c->timer);
    mj_net_relay_opts_t o = {
        .egress = &c->d->egress, .ingress = &c->d->ingress, .stats = &c->d->stats,
        .inspect = c->insp, .done = on_relay_done, .data = c,
    };
    int cfd = c->cfd, ufd = c->ufd;
    c->insp = NULL;
    c->cfd = c->ufd = -1;
    c->state = C_RELAY;
    c->relay = mj_net_relay_new(&c->d->loop, cfd, ufd, c->pre, c->pre_len, c->cleared, &o);
    if (!c->relay)
        conn_end(c, true, "cannot watch the connection", true);
}

static void on_upstream(mj_net_io_t *io, uint32_t events);

static void proxy_step(conn_t *c)
{
    if (c->state == C_PROXY_SEND) {
        ssize_t n = send(c->ufd, c->proxy_req + c->proxy_off, c->proxy_len - c->proxy_off, MSG_NOSIGNAL);
        if (n < 0 && errno != EAGAIN && errno != EINTR)
            return conn_end(c, true, "proxy: write error", true);
        if (n > 0)
            c->proxy_off += (size_t)n;
        if (c->proxy_off < c->proxy_len)
            return mj_net_io_set(&c->uio, EPOLLOUT);
        c->state = C_PROXY_RECV;
        mj_net_io_set(&c->uio, EPOLLIN);
        return;
    }
    char head[PROXY_HEAD_MAX + 1];
    ssize_t n = recv(c->ufd, head, PROXY_HEAD_MAX, MSG_PEEK);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0)
        return conn_end(c, true, "proxy closed the connection", true);
    head[n] = '\0';
    char *end = strstr(head, "\r\n\r\n");
    if (!end) {
        if (n == PROXY_HEAD_MAX)
            return conn_end(c, true, "proxy: answer head too large", true);
        return; /* wait for more */
    }
    size_t hl = (size_t)(end - head) + 4;
    if (!(strncmp(head, "HTTP/1.", 7) == 0 && n > 12 && head[9] == '2'))
        return conn_end(c, true, "proxy refused CONNECT", true);
    /* Consume exactly the head: what follows belongs to the tunnel. */
    char sink[PROXY_HEAD_MAX];
    if (recv(c->ufd, sink, hl, 0) != (ssize_t)hl)
        return conn_end(c, true, "proxy: read error", true);
    start_relay(c);
}

static void on_upstream(mj_net_io_t *io, uint32_t events)
{
    conn_t *c = io->data;
    (void)events;
    if (c->state == C_CONNECT) {
        int e = 0;
        socklen_t l = sizeof(e);
        if (getsockopt(c->ufd, SOL_SOCKET, SO_ERROR, &e, &l) < 0)
            e = errno;
        if (e == EINPROGRESS)
            return;
        if (e) {
            char why[128];
            snprintf(why, sizeof(why), "connect: %s", strerror(e));
            return conn_end(c, true, why, true); /* the record copies why before the stack goes */
        }
        if (!c->proxy)
            return start_relay(c);
        c->state = C_PROXY_SEND;
    }
    proxy_step(c);
}

static void connect_upstream(conn_t *c)
{
    const mj_net_proxy_addr_t *p = mj_net_conf_inspects_http(c->d->conf, c->port) ? &c->d->proxy_http
                                                                                  : &c->d->proxy_https;
    c->proxy = p->set && !no_proxy_matches(c) ? p : NULL;
    struct sockaddr_storage ss;
    socklen_t sl;
    if (c->proxy) {
        ss = c->proxy->sa;
        sl = c->proxy->len;
        char target[MJ_NET_ADDRSTRLEN + 10];
        if (c->dst.family == AF_INET6)
            snprintf(target, sizeof(target), "[%s]:%u", c->addr_text, (unsigned)c->port);
        else
            snprintf(target, sizeof(target), "%s:%u", c->addr_text, (unsigned)c->port);
        int n = snprintf(c->proxy_req, sizeof(c->proxy_req), "CONNECT %s HTTP/1.1\r\nHost: %s\r\n%s%s%s\r\n", target,
                         target, c->proxy->conf->auth_b64 ? "Proxy-Authorization: Basic " : "",
                         c->proxy->conf->auth_b64 ? c->proxy->conf->auth_b64 : "",
                         c->proxy->conf->auth_b64 ? "\r\n" : "");
        if (n < 0 || (size_t)n >= sizeof(c->proxy_req))
            return conn_end(c, true, "proxy request too long", true);
        c->proxy_len = (size_t)n;
    } else {
        sl = mj_net_addr_to_sockaddr(&c->dst, c->port, &ss);
    }
    c->ufd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->ufd < 0)
        return conn_end(c, true, "socket failed", true);
    int one = 1;
    (void)setsockopt(c->ufd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    c->state = C_CONNECT;
    if (connect(c->ufd, (struct sockaddr *)&ss, sl) < 0 && errno != EINPROGRESS) {
        char why[128];
        snprintf(why, sizeof(why), "connect: %s", strerror(errno));
        return conn_end(c, true, why, true);
    }
    if (mj_net_io_add(&c->d->loop, &c->uio, c->ufd, EPOLLOUT, on_upstream, c) < 0)
        return conn_end(c, true, "cannot watch the connection", true);
    mj_net_io_set(&c->cio, 0);
    mj_net_timer_arm(&c->d->loop, &c->timer, MJ_NET_CONNECT_TIMEOUT, on_timeout, c);
}

static void allow(conn_t *c, const char *host)
{
    c->d->stats.conns_allowed++;
    record(c, "allow", NULL, host);
    connect_upstream(c);
}

static void on_client(mj_net_io_t *io, uint32_t events)
{
    conn_t *c = io->data;
    (void)events;
    if (c->state != C_INSPECT)
        return;
    ssize_t n = recv(c->cfd, c->pre + c->pre_len, PRE_MAX - c->pre_len, MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0) {
        deny(c, "closed before sending a ClientHello or request head", NULL);
        return conn_end(c, true, NULL, false);
    }
    int64_t cleared = c->insp->scan_out(c->insp, c->pre + c->pre_len, (size_t)n);
    c->pre_len += (size_t)n;
    if (cleared < 0) {
        if (!c->check_refused)
            deny(c, c->insp->why, c->insp->host[0] ? c->insp->host : NULL);
        return conn_end(c, true, NULL, false);
    }
    if (cleared == 0) {
        if (c->pre_len == PRE_MAX) {
            deny(c, "ClientHello or request head too large", NULL);
            return conn_end(c, true, NULL, false);
        }
        return;
    }
    c->cleared = cleared;
    mj_net_timer_cancel(&c->d->loop, &c->timer);
    allow(c, c->insp->host);
}

/* The verdict before any byte is read.  Returns true when the connection goes on. */
static bool decide(conn_t *c)
{
    mj_netd_t *d = c->d;
    const mj_net_rules_t *rules = &d->conf->rules;
    mj_net_verdict_t by_addr = mj_net_rules_addr(rules, &c->dst, c->port);
    if (by_addr.allowed && mj_net_conn_is_host_addr(d, &c->dst) &&
        by_addr.rule->cidr.prefix != mj_net_addr_len(&c->dst) * 8)
        by_addr = (mj_net_verdict_t){false, NULL}; /* the host itself needs a rule for exactly it */
    if (by_addr.rule && !by_addr.allowed) {
        c->rule = by_addr.rule->text;
        deny(c, "denied by rule", NULL);
        return false;
    }
    if (by_addr.allowed) {
        c->rule = by_addr.rule->text;
        allow(c, NULL);
        return true;
    }
    c->entry = mj_net_mem_find(&d->mem, &c->dst);
    if (c->entry)
        c->entry->refs++;
    const char *reason = "address was not resolved by the sandbox's DNS for an allowed name";
    const mj_net_rule_t *allowing = NULL;
    for (size_t i = 0; c->entry && i < c->entry->n_names; i++) {
        mj_net_verdict_t v = mj_net_rules_name(rules, c->entry->names[i], c->port);
        if (v.allowed) {
            if (!allowing) {
                allowing = v.rule;
                snprintf(c->name, sizeof(c->name), "%s", c->entry->names[i]);
            }
        } else if (v.rule) {
            c->rule = v.rule->text;
            reason = "denied by rule";
        } else if (!c->rule) {
            reason = "no rule allows this address's names on this port";
        }
    }
    if (!allowing) {
        if (c->entry && !c->name[0])
            snprintf(c->name, sizeof(c->name), "%s", c->entry->names[0]);
        deny(c, reason, NULL);
        return false;
    }
    bool tls = mj_net_conf_inspects_tls(d->conf, c->port), http = mj_net_conf_inspects_http(d->conf, c->port);
    if (!tls && !http) {
        c->rule = allowing->text;
        allow(c, NULL);
        return true;
    }
    /* The name comes from the stream itself: SNI or Host. */
    c->name[0] = '\0';
    c->insp = tls ? mj_tls_inspector_new(check_host, c) : mj_http_inspector_new(c->port, check_host, c);
    c->state = C_INSPECT;
    mj_net_io_set(&c->cio, EPOLLIN);
    mj_net_timer_arm(&d->loop, &c->timer, MJ_NET_INSPECT_TIMEOUT, on_timeout, c);
    return true;
}

static void handle(mj_netd_t *d, int fd)
{
    conn_t *c = mj_xcalloc(1, sizeof(*c));
    c->d = d;
    c->cfd = fd;
    c->ufd = -1;
    c->cio.fd = c->uio.fd = -1;
    c->started = mj_net_now();
    d->conns++;
    d->stats.conns_open++;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0 ||
        mj_net_addr_from_sockaddr((struct sockaddr *)&ss, sl, &c->dst, &c->port) < 0) {
        return conn_end(c, true, NULL, false);
    }
    mj_net_addr_format(&c->dst, c->addr_text);
    if (d->conns > d->conf->max_conns) {
        deny(c, "too many connections", NULL);
        return conn_end(c, true, NULL, false);
    }
    if (mj_net_io_add(&d->loop, &c->cio, fd, 0, on_client, c) < 0)
        return conn_end(c, true, NULL, false);
    if (!decide(c))
        conn_end(c, true, NULL, false);
}

void mj_net_conn_accept(mj_netd_t *d, int lfd)
{
    for (int i = 0; i < 64; i++) {
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return;
        handle(d, fd);
    }
}

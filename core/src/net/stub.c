/* stub.c — the filtered sandbox's DNS server.
 * Owns: the UDP and TCP sockets on 127.0.0.53:53 inside the sandbox, the decision about each
 * question, the filtering of answers, and their audit records.  Never: forwarding a question for
 * a name no rule allows, or an answer carrying an address it did not approve. */
#define _GNU_SOURCE
#include "stub.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../error.h"
#include "../util.h"
#include "conn.h"
#include "gate.h"

#define TCP_IDLE 10.0

typedef struct tcp_client tcp_client_t;

typedef struct mj_net_stub {
    mj_netd_t *d;
    const mj_dnsup_servers_t *servers;
    int udp_fd, tcp_fd;
    mj_net_io_t udp_io, tcp_io;
    unsigned pending, tcp_clients;
} stub_t;

struct tcp_client {
    stub_t *s;
    int fd;
    mj_net_io_t io;
    mj_net_timer_t timer;
    uint8_t in[2 + 4096];
    size_t have;
    uint8_t *out;
    size_t out_len, out_off;
    bool busy, dead;
};

typedef struct {
    stub_t *s;
    mj_dns_query_t q;
    struct sockaddr_storage from; /* UDP */
    socklen_t from_len;
    tcp_client_t *tcp;            /* or TCP */
    mj_net_addr_t approved[MJ_DNS_MAX_ADDRS];
    size_t n_approved;
    unsigned waiting;
    uint32_t ttl;
    mj_buf_t dropped;
} query_t;

static const char *type_name(uint16_t t, char buf[8])
{
    if (t == MJ_DNS_TYPE_A)
        return "A";
    if (t == MJ_DNS_TYPE_AAAA)
        return "AAAA";
    snprintf(buf, 8, "%u", (unsigned)t);
    return buf;
}

static void tcp_free(void *p)
{
    free(((tcp_client_t *)p)->out);
    free(p);
}

static void tcp_close(tcp_client_t *c)
{
    if (c->dead)
        return;
    c->dead = true;
    mj_net_io_del(&c->io);
    mj_net_timer_cancel(&c->s->d->loop, &c->timer);
    close(c->fd);
    c->s->tcp_clients--;
    if (!c->busy)
        mj_net_loop_defer(&c->s->d->loop, tcp_free, c);
}

static void tcp_idle(mj_net_timer_t *t)
{
    tcp_close(t->data);
}

static void tcp_flush(tcp_client_t *c)
{
    while (c->out_off < c->out_len) {
        ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
            mj_net_io_set(&c->io, EPOLLOUT);
            return;
        }
        if (n <= 0)
            return tcp_close(c);
        c->out_off += (size_t)n;
    }
    free(c->out);
    c->out = NULL;
    c->out_len = c->out_off = 0;
    mj_net_io_set(&c->io, EPOLLIN);
}

static void reply(query_t *q, int rcode, const mj_net_addr_t *addrs, size_t n, uint32_t ttl)
{
    uint8_t buf[65535];
    bool tcp = q->tcp != NULL;
    size_t max = tcp ? sizeof(buf) : q->q.edns ? (q->q.edns_size > 1232 ? 1232 : q->q.edns_size) : 512;
    int len = mj_dns_build_reply(&q->q, rcode, addrs, n, ttl, buf, max);
    if (len < 0)
        return;
    if (!tcp) {
        (void)sendto(q->s->udp_fd, buf, (size_t)len, MSG_DONTWAIT | MSG_NOSIGNAL, (struct sockaddr *)&q->from,
                     q->from_len);
        return;
    }
    tcp_client_t *c = q->tcp;
    c->busy = false;
    if (c->dead) {
        mj_net_loop_defer(&c->s->d->loop, tcp_free, c);
        return;
    }
    c->out = mj_xmalloc((size_t)len + 2);
    c->out[0] = (uint8_t)(len >> 8);
    c->out[1] = (uint8_t)len;
    memcpy(c->out + 2, buf, (size_t)len);
    c->out_len = (size_t)len + 2;
    c->out_off = 0;
    tcp_flush(c);
}

static void record(query_t *q, const char *verdict, const char *reason, const char *rule, const char *answer)
{
    char tb[8];
    mj_net_rec_t r;
    mj_net_rec_begin(&r, "network_dns");
    mj_net_rec_str(&r, "verdict", verdict);
    mj_net_rec_str(&r, "name", q->q.name);
    mj_net_rec_str(&r, "type", type_name(q->q.qtype, tb));
    mj_net_rec_str(&r, "rule", rule);
    mj_net_rec_str(&r, "reason", reason);
    mj_net_rec_str(&r, "addresses", answer);
    mj_net_rec_str(&r, "dropped", q->dropped.len ? q->dropped.data : NULL);
    mj_net_rec_emit(&q->s->d->audit, &r);
}

static void query_done(query_t *q)
{
    q->s->pending--;
    mj_buf_free(&q->dropped);
    free(q);
}

static void refuse(query_t *q, int rcode, const char *reason, const char *rule)
{
    q->s->d->stats.dns_refused++;
    record(q, "deny", reason, rule, NULL);
    reply(q, rcode, NULL, 0, 0);
    query_done(q);
}

static void approved_all(query_t *q)
{
    mj_buf_t list = {0};
    for (size_t i = 0; i < q->n_approved; i++) {
        char a[MJ_NET_ADDRSTRLEN];
        mj_net_addr_format(&q->approved[i], a);
        if (i)
            mj_buf_append(&list, ",", 1);
        mj_buf_append(&list, a, strlen(a));
    }
    q->s->d->stats.dns_allowed++;
    record(q, "allow", NULL, NULL, list.len ? list.data : NULL);
    mj_buf_free(&list);
    reply(q, MJ_DNS_RCODE_NOERROR, q->approved, q->n_approved, q->ttl);
    query_done(q);
}

static void on_gate(void *data, bool ok)
{
    query_t *q = data;
    (void)ok; /* an address whose listener failed still answers: connections to it are refused */
    if (--q->waiting == 0)
        approved_all(q);
}

static void note_dropped(query_t *q, const mj_net_addr_t *a, const char *why)
{
    char s[MJ_NET_ADDRSTRLEN];
    mj_net_addr_format(a, s);
    if (q->dropped.len)
        mj_buf_append(&q->dropped, ",", 1);
    mj_buf_append(&q->dropped, s, strlen(s));
    mj_buf_append(&q->dropped, " (", 2);
    mj_buf_append(&q->dropped, why, strlen(why));
    mj_buf_append(&q->dropped, ")", 1);
}

static void on_upstream(void *data, bool ok, const mj_dns_response_t *r)
{
    query_t *q = data;
    mj_netd_t *d = q->s->d;
    if (!ok) {
        d->stats.dns_failed++;
        record(q, "allow", "upstream servers gave no answer", NULL, NULL);
        reply(q, MJ_DNS_RCODE_SERVFAIL, NULL, 0, 0);
        return query_done(q);
    }
    if (r->rcode != MJ_DNS_RCODE_NOERROR) {
        d->stats.dns_allowed++;
        record(q, "allow", r->rcode == MJ_DNS_RCODE_NXDOMAIN ? "NXDOMAIN" : "upstream error", NULL, NULL);
        reply(q, r->rcode == MJ_DNS_RCODE_NXDOMAIN ? MJ_DNS_RCODE_NXDOMAIN : MJ_DNS_RCODE_SERVFAIL, NULL, 0, 0);
        return query_done(q);
    }
    uint32_t ttl = r->min_ttl < MJ_NET_TTL_MIN ? MJ_NET_TTL_MIN : r->min_ttl > MJ_NET_TTL_MAX ? MJ_NET_TTL_MAX : r->min_ttl;
    q->ttl = ttl;
    double expires = mj_net_now() + ttl + MJ_NET_TTL_GRACE;
    const mj_net_rules_t *rules = &d->conf->rules;
    q->waiting = 1; /* held until every approval below has been asked for */
    for (size_t i = 0; i < r->n_addrs; i++) {
        const mj_net_addr_t *a = &r->addrs[i].addr;
        mj_net_class_t cls = mj_net_addr_class(a);
        if (mj_net_rules_addr_denied(rules, a)) {
            note_dropped(q, a, "denied by rule");
            continue;
        }
        if (!mj_net_rules_addr_class_allowed(rules, a)) {
            note_dropped(q, a, mj_net_class_name(cls));
            continue;
        }
        if (mj_net_conn_is_host_addr(d, a) && !mj_net_rules_addr(rules, a, 0).allowed) {
            bool exact = false;
            for (size_t k = 0; k < rules->n_allow; k++)
                if (rules->allow[k].kind == MJ_NET_RULE_CIDR && mj_net_cidr_contains(&rules->allow[k].cidr, a) &&
                    rules->allow[k].cidr.prefix == mj_net_addr_len(a) * 8)
                    exact = true;
            if (!exact) {
                note_dropped(q, a, "the host's own address");
                continue;
            }
        }
        q->approved[q->n_approved++] = *a;
        q->waiting++;
        mj_net_gate_approve(d, a, q->q.name, expires, on_gate, q);
    }
    on_gate(q, true);
}

static void handle(stub_t *s, const uint8_t *msg, size_t len, const struct sockaddr_storage *from, socklen_t from_len,
                   tcp_client_t *tcp)
{
    mj_netd_t *d = s->d;
    query_t *q = mj_xcalloc(1, sizeof(*q));
    q->s = s;
    q->tcp = tcp;
    if (from) {
        q->from = *from;
        q->from_len = from_len;
    }
    s->pending++;
    int rc = mj_dns_parse_query(msg, len, &q->q);
    if (rc < 0) { /* not even a header, or a response: never answered */
        if (tcp) {
            tcp->busy = false;
            mj_net_io_set(&tcp->io, EPOLLIN);
        }
        return query_done(q);
    }
    if (rc > 0)
        return refuse(q, rc, rc == MJ_DNS_RCODE_NOTIMP ? "not a standard IN query" : "malformed query", NULL);
    if (!q->q.name_ok)
        return refuse(q, MJ_DNS_RCODE_REFUSED, "not a host name", NULL);
    /* dns-host entries answer first: the policy's own mapping. */
    mj_net_addr_t hosts[MJ_DNS_MAX_ADDRS];
    size_t nh = 0;
    for (size_t i = 0; i < d->conf->n_hosts && nh < MJ_DNS_MAX_ADDRS; i++)
        if (strcmp(d->conf->hosts[i].name, q->q.name) == 0)
            hosts[nh++] = d->conf->hosts[i].addr;
    if (nh) {
        d->stats.dns_allowed++;
        record(q, "allow", NULL, "dns-host", NULL);
        reply(q, MJ_DNS_RCODE_NOERROR, hosts, nh, 60);
        return query_done(q);
    }
    mj_net_verdict_t v = mj_net_rules_dns(&d->conf->rules, q->q.name);
    if (!v.allowed)
        return refuse(q, MJ_DNS_RCODE_REFUSED, v.rule ? "denied by rule" : "no rule allows this name",
                      v.rule ? v.rule->text : NULL);
    if (q->q.qtype != MJ_DNS_TYPE_A && q->q.qtype != MJ_DNS_TYPE_AAAA) {
        /* Only addresses are resolved for a sandbox: other types of an allowed name get an empty
         * answer, never a forwarded one (TXT, HTTPS/SVCB with ECH keys, …). */
        d->stats.dns_allowed++;
        record(q, "allow", "only A and AAAA are answered", v.rule->text, NULL);
        reply(q, MJ_DNS_RCODE_NOERROR, NULL, 0, MJ_NET_TTL_MIN);
        return query_done(q);
    }
    if (s->pending > MJ_NET_STUB_PENDING) {
        d->stats.dns_failed++;
        record(q, "allow", "too many queries in flight", v.rule->text, NULL);
        reply(q, MJ_DNS_RCODE_SERVFAIL, NULL, 0, 0);
        return query_done(q);
    }
    mj_dnsup_query(d, s->servers, q->q.name, q->q.qtype, on_upstream, q);
}

static void on_udp(mj_net_io_t *io, uint32_t events)
{
    stub_t *s = io->data;
    (void)events;
    for (int i = 0; i < 64; i++) {
        uint8_t msg[4096];
        struct sockaddr_storage from;
        socklen_t fl = sizeof(from);
        ssize_t n = recvfrom(s->udp_fd, msg, sizeof(msg), MSG_DONTWAIT | MSG_TRUNC, (struct sockaddr *)&from, &fl);
        if (n < 0)
            return;
        if ((size_t)n > sizeof(msg))
            continue; /* a query larger than any real one */
        handle(s, msg, (size_t)n, &from, fl, NULL);
    }
}

static void on_tcp_client(mj_net_io_t *io, uint32_t events)
{
    tcp_client_t *c = io->data;
    if (events & EPOLLOUT)
        return tcp_flush(c);
    if (c->busy || c->out)
        return;
    size_t want = c->have < 2 ? 2 : 2 + (((size_t)c->in[0] << 8) | c->in[1]);
    if (want > sizeof(c->in))
        return tcp_close(c);
    ssize_t n = recv(c->fd, c->in + c->have, want - c->have, MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0)
        return tcp_close(c);
    c->have += (size_t)n;
    if (c->have < 2 || c->have < 2 + (((size_t)c->in[0] << 8) | c->in[1]))
        return;
    size_t len = c->have - 2;
    c->have = 0;
    c->busy = true;
    mj_net_io_set(&c->io, 0);
    mj_net_timer_arm(&c->s->d->loop, &c->timer, TCP_IDLE, tcp_idle, c);
    handle(c->s, c->in + 2, len, NULL, 0, c);
}

static void on_tcp_accept(mj_net_io_t *io, uint32_t events)
{
    stub_t *s = io->data;
    (void)events;
    for (int i = 0; i < 16; i++) {
        int fd = accept4(s->tcp_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return;
        if (s->tcp_clients >= MJ_NET_STUB_TCP) {
            close(fd);
            continue;
        }
        tcp_client_t *c = mj_xcalloc(1, sizeof(*c));
        c->s = s;
        c->fd = fd;
        s->tcp_clients++;
        if (mj_net_io_add(&s->d->loop, &c->io, fd, EPOLLIN, on_tcp_client, c) < 0) {
            close(fd);
            s->tcp_clients--;
            free(c);
            continue;
        }
        mj_net_timer_arm(&s->d->loop, &c->timer, TCP_IDLE, tcp_idle, c);
    }
}

int mj_net_stub_start(mj_netd_t *d, const mj_dnsup_servers_t *servers, int udp_fd, int tcp_fd, mj_error_t **err)
{
    stub_t *s = mj_xcalloc(1, sizeof(*s));
    s->d = d;
    s->servers = servers;
    s->udp_fd = udp_fd;
    s->tcp_fd = tcp_fd;
    d->stub = s;
    if (mj_net_io_add(&d->loop, &s->udp_io, udp_fd, EPOLLIN, on_udp, s) < 0 ||
        mj_net_io_add(&d->loop, &s->tcp_io, tcp_fd, EPOLLIN, on_tcp_accept, s) < 0) {
        if (err)
            *err = mj_error_sys(MJ_ERR_SANDBOX_INIT_FAILED, errno, "moonjail-net: epoll for the DNS stub");
        return -1;
    }
    return 0;
}

void mj_net_stub_stop(mj_netd_t *d)
{
    stub_t *s = d->stub;
    if (!s)
        return;
    mj_net_io_del(&s->udp_io);
    mj_net_io_del(&s->tcp_io);
    close(s->udp_fd);
    close(s->tcp_fd);
    free(s);
    d->stub = NULL;
}

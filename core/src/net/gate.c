/* gate.c — routes and listeners for approved addresses and CIDR rules, and their expiry.
 * Owns: the listener sockets (made by the agent inside the sandbox's namespace), the per-address
 * state hung on memory entries, the sweep.  Never: deciding about a connection (conn.c). */
#define _GNU_SOURCE
#include "gate.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../error.h"
#include "../util.h"
#include "conn.h"

#define SWEEP_EVERY 15.0

typedef struct listener {
    mj_net_io_t io;
    int fd;          /* -1 while the agent makes it */
    uint16_t port;
    bool failed;
    mj_netd_t *d;
    struct listener *next;
} listener_t;

struct mj_net_cidr_listener {
    listener_t l;
    int family;
    mj_net_cidr_listener_t *next;
};

typedef struct tracker {
    unsigned count;
    bool ok;
    mj_net_gate_done_fn done;
    void *data;
} tracker_t;

typedef struct waiter {
    tracker_t *t;
    struct waiter *next;
} waiter_t;

typedef struct addr_state {
    mj_netd_t *d;
    mj_net_addr_t addr;
    bool route_requested, routed, failed;
    unsigned pending; /* agent requests in flight */
    listener_t *listeners;
    waiter_t *waiters;
} addr_state_t;

typedef struct {
    addr_state_t *st;
    listener_t *l; /* NULL: the route request */
} req_ctx_t;

static void on_accept(mj_net_io_t *io, uint32_t events)
{
    (void)events;
    listener_t *l = io->data;
    mj_net_conn_accept(l->d, l->fd);
}

static void tracker_step(tracker_t *t, bool ok)
{
    if (!ok)
        t->ok = false;
    if (--t->count == 0) {
        t->done(t->data, t->ok);
        free(t);
    }
}

static void settle(addr_state_t *st)
{
    if (st->pending)
        return;
    waiter_t *w = st->waiters;
    st->waiters = NULL;
    while (w) {
        waiter_t *next = w->next;
        tracker_step(w->t, !st->failed);
        free(w);
        w = next;
    }
}

static void on_reply(void *data, const mj_net_agent_rep_t *rep, int fd)
{
    req_ctx_t *c = data;
    addr_state_t *st = c->st;
    if (!c->l) {
        st->routed = rep->err == 0;
        if (rep->err)
            st->failed = true;
    } else if (rep->err || fd < 0) {
        c->l->failed = true;
        st->failed = true;
        if (fd >= 0)
            close(fd);
    } else {
        c->l->fd = fd;
        if (mj_net_io_add(&st->d->loop, &c->l->io, fd, EPOLLIN, on_accept, c->l) < 0) {
            close(fd);
            c->l->fd = -1;
            c->l->failed = true;
            st->failed = true;
        }
    }
    free(c);
    st->pending--;
    settle(st);
}

static void request(addr_state_t *st, mj_net_agent_op_t op, unsigned prefix, uint16_t port, listener_t *l)
{
    req_ctx_t *c = mj_xcalloc(1, sizeof(*c));
    c->st = st;
    c->l = l;
    mj_net_agent_req_t q = mj_net_agent_req(op, &st->addr, prefix, port);
    st->pending++;
    mj_net_agent_call(&st->d->agent, &q, on_reply, c);
}

static bool port_wanted(mj_netd_t *d, const mj_net_mem_entry_t *e, uint16_t port)
{
    for (size_t i = 0; i < e->n_names; i++)
        if (mj_net_rules_name(&d->conf->rules, e->names[i], port).allowed)
            return true;
    return false;
}

static bool has_listener(const addr_state_t *st, uint16_t port)
{
    for (const listener_t *l = st->listeners; l; l = l->next)
        if (l->port == port && !l->failed)
            return true;
    return false;
}

/* Asks for what e is missing; the number of requests made. */
static void fill_in(mj_netd_t *d, mj_net_mem_entry_t *e, addr_state_t *st)
{
    if (!st->route_requested) {
        st->route_requested = true;
        request(st, MJ_AGENT_LOCAL_ADD, (unsigned)mj_net_addr_len(&e->addr) * 8, 0, NULL);
    }
    for (int i = 0; i < d->conf->n_ports; i++) {
        uint16_t p = d->conf->ports[i];
        if (has_listener(st, p) || !port_wanted(d, e, p))
            continue;
        listener_t *l = mj_xcalloc(1, sizeof(*l));
        l->fd = -1;
        l->io.fd = -1;
        l->port = p;
        l->d = d;
        l->next = st->listeners;
        st->listeners = l;
        request(st, MJ_AGENT_LISTEN_TCP, 0, p, l);
    }
}

void mj_net_gate_approve(mj_netd_t *d, const mj_net_addr_t *addr, const char *name, double expires,
                         mj_net_gate_done_fn done, void *data)
{
    bool created;
    mj_net_mem_entry_t *e = mj_net_mem_add(&d->mem, addr, name, expires, &created);
    if (!e) {
        done(data, false);
        return;
    }
    addr_state_t *st = e->owner;
    if (!st) {
        st = mj_xcalloc(1, sizeof(*st));
        st->d = d;
        st->addr = *addr;
        e->owner = st;
    }
    st->failed = false;
    fill_in(d, e, st);
    if (st->pending == 0) {
        done(data, st->routed);
        return;
    }
    tracker_t *t = mj_xcalloc(1, sizeof(*t));
    t->count = 1;
    t->ok = true;
    t->done = done;
    t->data = data;
    waiter_t *w = mj_xcalloc(1, sizeof(*w));
    w->t = t;
    w->next = st->waiters;
    st->waiters = w;
}

static void close_listener(listener_t *l)
{
    if (l->fd >= 0) {
        mj_net_io_del(&l->io);
        close(l->fd);
    }
    l->fd = -1;
}

static void ignore_reply(void *data, const mj_net_agent_rep_t *rep, int fd)
{
    (void)data;
    (void)rep;
    if (fd >= 0)
        close(fd);
}

static void free_state(void *p)
{
    addr_state_t *st = p;
    while (st->listeners) {
        listener_t *l = st->listeners;
        st->listeners = l->next;
        free(l);
    }
    free(st);
}

static void drop_entry(void *ctx, mj_net_mem_entry_t *e)
{
    mj_netd_t *d = ctx;
    addr_state_t *st = e->owner;
    if (!st)
        return;
    for (listener_t *l = st->listeners; l; l = l->next)
        close_listener(l);
    if (st->routed) {
        mj_net_agent_req_t q = mj_net_agent_req(MJ_AGENT_LOCAL_DEL, &st->addr, (unsigned)mj_net_addr_len(&st->addr) * 8, 0);
        mj_net_agent_call(&d->agent, &q, ignore_reply, NULL);
    }
    mj_net_loop_defer(&d->loop, free_state, st); /* events of this batch may still name its listeners */
    e->owner = NULL;
}

/* Entries with requests in flight are kept a little longer: their replies point at them. */
static void sweep(mj_net_timer_t *t)
{
    mj_netd_t *d = t->data;
    double now = mj_net_now();
    for (size_t i = 0; i < d->mem.n; i++) {
        addr_state_t *st = d->mem.e[i]->owner;
        if (st && st->pending && d->mem.e[i]->expires < now)
            d->mem.e[i]->expires = now + SWEEP_EVERY;
    }
    mj_net_mem_sweep(&d->mem, now, drop_entry, d);
    mj_net_timer_arm(&d->loop, &d->sweep_timer, SWEEP_EVERY, sweep, d);
}

/* ---------------------------------------------------------------- start-up (synchronous) */

static int sync_call(mj_netd_t *d, mj_net_agent_op_t op, const mj_net_addr_t *a, unsigned prefix, uint16_t port,
                     int *fd, mj_error_t **err, const char *what)
{
    mj_net_agent_req_t q = mj_net_agent_req(op, a, prefix, port);
    mj_net_agent_rep_t rep;
    int tmp = -1;
    if (mj_net_agent_call_sync(&d->agent, &q, &rep, fd ? fd : &tmp) < 0 || rep.err) {
        int e = rep.err ? -rep.err : errno;
        char as[MJ_NET_ADDRSTRLEN] = "";
        if (a)
            mj_net_addr_format(a, as);
        if (err)
            *err = mj_error_sys(MJ_ERR_SANDBOX_INIT_FAILED, e, "moonjail-net: %s %s/%u port %u", what, as, prefix, port);
        return -1;
    }
    if (!fd && tmp >= 0)
        close(tmp);
    return 0;
}

static int add_cidr_listener(mj_netd_t *d, int family, uint16_t port, mj_error_t **err)
{
    for (mj_net_cidr_listener_t *c = d->cidr_listeners; c; c = c->next)
        if (c->l.port == port && c->family == family)
            return 0;
    mj_net_addr_t any = {.family = family};
    int fd;
    if (sync_call(d, MJ_AGENT_LISTEN_TCP, &any, 0, port, &fd, err, "listening for a CIDR rule on") < 0)
        return -1;
    mj_net_cidr_listener_t *c = mj_xcalloc(1, sizeof(*c));
    c->l.fd = fd;
    c->l.port = port;
    c->l.d = d;
    c->family = family;
    c->next = d->cidr_listeners;
    d->cidr_listeners = c;
    if (mj_net_io_add(&d->loop, &c->l.io, fd, EPOLLIN, on_accept, &c->l) < 0) {
        if (err)
            *err = mj_error_sys(MJ_ERR_SANDBOX_INIT_FAILED, errno, "moonjail-net: epoll");
        return -1;
    }
    return 0;
}

int mj_net_gate_start(mj_netd_t *d, mj_error_t **err)
{
    const mj_net_rules_t *rules = &d->conf->rules;
    for (size_t i = 0; i < rules->n_allow; i++) {
        const mj_net_rule_t *r = &rules->allow[i];
        if (r->kind != MJ_NET_RULE_CIDR)
            continue;
        if (sync_call(d, MJ_AGENT_LOCAL_ADD, &r->cidr.addr, r->cidr.prefix, 0, NULL, err, "routing") < 0)
            return -1;
        for (int p = 0; p < d->conf->n_ports; p++)
            if (mj_net_rule_has_port(r, d->conf->ports[p]) &&
                add_cidr_listener(d, r->cidr.addr.family, d->conf->ports[p], err) < 0)
                return -1;
    }
    /* dns-host entries: the policy's own mapping, approved for good (no class check: it is explicit). */
    for (size_t i = 0; i < d->conf->n_hosts; i++) {
        const mj_net_static_host_t *h = &d->conf->hosts[i];
        bool created;
        mj_net_mem_entry_t *e = mj_net_mem_add(&d->mem, &h->addr, h->name, 0, &created);
        if (!e)
            continue;
        e->permanent = true;
        addr_state_t *st = e->owner;
        if (!st) {
            st = mj_xcalloc(1, sizeof(*st));
            st->d = d;
            st->addr = h->addr;
            e->owner = st;
        }
        if (!st->routed) {
            if (sync_call(d, MJ_AGENT_LOCAL_ADD, &h->addr, (unsigned)mj_net_addr_len(&h->addr) * 8, 0, NULL, err,
                          "routing dns-host") < 0)
                return -1;
            st->routed = st->route_requested = true;
        }
        for (int p = 0; p < d->conf->n_ports; p++) {
            uint16_t port = d->conf->ports[p];
            if (has_listener(st, port) || !port_wanted(d, e, port))
                continue;
            int fd;
            if (sync_call(d, MJ_AGENT_LISTEN_TCP, &h->addr, 0, port, &fd, err, "listening for dns-host on") < 0)
                return -1;
            listener_t *l = mj_xcalloc(1, sizeof(*l));
            l->fd = fd;
            l->port = port;
            l->d = d;
            l->next = st->listeners;
            st->listeners = l;
            if (mj_net_io_add(&d->loop, &l->io, fd, EPOLLIN, on_accept, l) < 0) {
                if (err)
                    *err = mj_error_sys(MJ_ERR_SANDBOX_INIT_FAILED, errno, "moonjail-net: epoll");
                return -1;
            }
        }
    }
    mj_net_timer_arm(&d->loop, &d->sweep_timer, SWEEP_EVERY, sweep, d);
    return 0;
}

void mj_net_gate_stop(mj_netd_t *d)
{
    mj_net_timer_cancel(&d->loop, &d->sweep_timer);
    while (d->cidr_listeners) {
        mj_net_cidr_listener_t *c = d->cidr_listeners;
        d->cidr_listeners = c->next;
        close_listener(&c->l);
        free(c);
    }
    for (size_t i = 0; i < d->mem.n; i++) {
        addr_state_t *st = d->mem.e[i]->owner;
        if (!st)
            continue;
        for (listener_t *l = st->listeners; l; l = l->next)
            close_listener(l);
        if (st->pending == 0)
            free_state(st);
        d->mem.e[i]->owner = NULL;
    }
}

/* netd.h — the state of one moonjail-net process (one sandbox): the pieces every facility of the
 * daemon shares.  main.c fills it; gate.c, conn.c, stub.c, publish.c and pasta.c each own their
 * part and say so where they touch it.
 * Owns: nothing but the struct's shape.  Never: code. */
#ifndef MJ_NET_NETD_H
#define MJ_NET_NETD_H

#include <stdbool.h>
#include <sys/socket.h>

#include "agent.h"
#include "audit.h"
#include "loop.h"
#include "memory.h"
#include "netconf.h"
#include "relay.h"

#define MJ_NET_HOST_ADDRS 64
#define MJ_NET_STUB_ADDR "127.0.0.53" /* the sandbox's resolv.conf names it */

typedef struct {
    bool set;
    struct sockaddr_storage sa;
    socklen_t len;
    const mj_net_proxy_t *conf;
} mj_net_proxy_addr_t;

typedef struct mj_net_cidr_listener mj_net_cidr_listener_t;

typedef struct mj_netd {
    mj_net_loop_t loop;
    const mj_net_conf_t *conf;
    mj_net_stats_t stats;
    mj_net_audit_t audit;
    mj_net_agent_t agent;
    mj_net_mem_t mem;
    mj_net_bucket_t ingress, egress;
    /* The host's own addresses: refused like loopback unless a rule names exactly one. */
    mj_net_addr_t host_addrs[MJ_NET_HOST_ADDRS];
    size_t n_host_addrs;
    mj_net_proxy_addr_t proxy_http, proxy_https;
    unsigned conns;             /* open connections, capped by conf->max_conns */
    mj_net_timer_t sweep_timer; /* gate.c */
    mj_net_cidr_listener_t *cidr_listeners; /* gate.c */
    struct mj_net_stub *stub;   /* stub.c */
    struct mj_net_publish *publish; /* publish.c */
    struct mj_net_control *control; /* control.c */
} mj_netd_t;

#endif

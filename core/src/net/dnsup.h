/* dnsup.h — moonjail-net's own DNS client towards upstream servers (the policy's dns servers, or
 * the host's resolv.conf ones): a fresh UDP socket and random id per try, answers accepted only
 * from the server asked and only when they answer the question asked, TCP when truncated, two
 * seconds per try, every server twice at most.
 * Owns: queries in flight.  Never: policy (only allowed names reach it), caching. */
#ifndef MJ_NET_DNSUP_H
#define MJ_NET_DNSUP_H

#include <stdint.h>

#include "dnswire.h"
#include "netconf.h"
#include "netd.h"

#define MJ_DNSUP_TRY_TIMEOUT 2.0

/* ok false: no usable answer (resp NULL). */
typedef void (*mj_dnsup_cb)(void *data, bool ok, const mj_dns_response_t *resp);

typedef struct {
    mj_net_endpoint_t servers[MJ_NET_MAX_SERVERS];
    size_t n;
} mj_dnsup_servers_t;

/* Starts a query; cb runs exactly once, never inside this call. */
void mj_dnsup_query(mj_netd_t *d, const mj_dnsup_servers_t *servers, const char *name, uint16_t qtype,
                    mj_dnsup_cb cb, void *data);

#endif

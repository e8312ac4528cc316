/* conn.h — one connection from the sandbox to the world, from accept to close: the decision
 * (address approved for which names, port, CIDR rules, deny rules), the TLS or HTTP inspection on
 * the inspected ports, the connection from the host's namespace to exactly that address and port
 * (directly or through the upstream proxy with CONNECT: the decision is made before the proxy
 * sees anything), then the relay; an audit record for every decision and every close.
 * Owns: the connection's life and its records.  Never: resolving a name (it connects to the
 * address the sandbox asked for, which must be one the stub approved or a CIDR rule names). */
#ifndef MJ_NET_CONN_H
#define MJ_NET_CONN_H

#include "netd.h"

#define MJ_NET_INSPECT_TIMEOUT 10.0 /* seconds for the ClientHello or request head */
#define MJ_NET_CONNECT_TIMEOUT 15.0 /* seconds for the world's side (and the proxy's answer) */

/* lfd is a listener inside the sandbox's namespace: accepts what is waiting and handles each. */
void mj_net_conn_accept(mj_netd_t *d, int lfd);
/* true when addr is one of the host's own addresses. */
bool mj_net_conn_is_host_addr(const mj_netd_t *d, const mj_net_addr_t *addr);

#endif

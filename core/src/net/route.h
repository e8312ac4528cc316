/* route.h — rtnetlink requests inside a sandbox's network namespace: bring loopback up, the
 * default "prohibit" routes, "local" routes for approved addresses (the AnyIP routes that deliver
 * a connection to moonjail-net's listener), "prohibit" routes for the host's own addresses, and
 * the byte counters of the namespace's interfaces.
 * Owns: building those messages and reading the kernel's acknowledgement.  Never: opening the
 * netlink socket (the agent made it inside the namespace) or deciding which address to route. */
#ifndef MJ_NET_ROUTE_H
#define MJ_NET_ROUTE_H

#include <stdbool.h>
#include <stdint.h>

#include "addr.h"

#define MJ_NET_LO_IFINDEX 1 /* loopback is the first device of every network namespace */

/* Each returns 0 or -errno.  nl is a NETLINK_ROUTE socket. */
int mj_net_route_link_up(int nl, int ifindex);
/* add: RTM_NEWROUTE (an existing identical route is fine); else RTM_DELROUTE (a missing one is). */
int mj_net_route_local(int nl, const mj_net_cidr_t *dst, bool add);
int mj_net_route_prohibit(int nl, const mj_net_cidr_t *dst);
/* Sums rx/tx bytes over the namespace's interfaces other than loopback. */
int mj_net_route_link_bytes(int nl, uint64_t *rx, uint64_t *tx);

#endif

/* stub.h — the DNS server a filtered sandbox talks to (127.0.0.53:53 inside its namespace, UDP
 * and TCP): names no allow rule covers get REFUSED and are never forwarded (no datagram leaves
 * for them); allowed names are resolved by moonjail-net itself (A and AAAA; other types get an
 * empty NOERROR answer, never forwarded); every address in an answer is checked (deny rules;
 * loopback, private, link-local, CGNAT, multicast, metadata, reserved and the host's own
 * addresses are dropped unless a CIDR rule names them: no rebinding) and approved through gate.c
 * before the answer goes back, so a connection to it can follow at once.
 * Owns: the stub's sockets, queries in flight, the DNS audit records.  Never: forwarding the
 * sandbox's packet itself (each upstream query is built anew), or answering for a name it did not
 * check. */
#ifndef MJ_NET_STUB_H
#define MJ_NET_STUB_H

#include <moonjail/moonjail.h>

#include "dnsup.h"
#include "netd.h"

#define MJ_NET_STUB_PENDING 256  /* queries in flight */
#define MJ_NET_STUB_TCP 32       /* TCP clients at once */
#define MJ_NET_TTL_MIN 5
#define MJ_NET_TTL_MAX 300
#define MJ_NET_TTL_GRACE 120.0   /* an address stays approved this long after its answer's TTL */

/* udp_fd, tcp_fd: the agent's sockets on 127.0.0.53:53 (taken over). */
int mj_net_stub_start(mj_netd_t *d, const mj_dnsup_servers_t *servers, int udp_fd, int tcp_fd, mj_error_t **err);
void mj_net_stub_stop(mj_netd_t *d);

#endif

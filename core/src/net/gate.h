/* gate.h — the door into the world for approved addresses: each approved address gets its
 * "local" route inside the sandbox's namespace and a listener there on every port a rule allows
 * for one of its names (so a connection to an approved address on any other port is refused by
 * the kernel at once); each CIDR rule gets a "local" route for its prefix and wildcard listeners
 * on its ports.  Expired addresses lose both, unless a connection still uses them.
 * Owns: per-address listeners and routes, the expiry sweep.  Never: the decision about a
 * connection (conn.c) or a DNS answer (stub.c). */
#ifndef MJ_NET_GATE_H
#define MJ_NET_GATE_H

#include <moonjail/moonjail.h>
#include <stdbool.h>

#include "netd.h"

typedef void (*mj_net_gate_done_fn)(void *data, bool ok);

/* Start-up (synchronous, before the loop runs): CIDR rules' routes and listeners, the dns-host
 * entries' approvals.  0 or -1. */
int mj_net_gate_start(mj_netd_t *d, mj_error_t **err);
/* Records addr for name until expires and makes sure its route and listeners exist; done(data,
 * ok) runs when they do — possibly before this returns. */
void mj_net_gate_approve(mj_netd_t *d, const mj_net_addr_t *addr, const char *name, double expires,
                         mj_net_gate_done_fn done, void *data);
void mj_net_gate_stop(mj_netd_t *d);

#endif

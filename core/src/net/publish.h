/* publish.h — published ports: moonjail-net listens on the host (127.0.0.1 unless the policy names
 * an address) and carries each connection into the sandbox's namespace, to 127.0.0.1:PORT there,
 * through a socket the agent made inside it.  Works for every mode with its own namespace.
 * Owns: the host-side listeners (bound by main before privileges are dropped) and the
 * connections until the relay takes them.  Never: a listener on an address the policy did not
 * give, or UDP (refused at start-up with a clear error: not built yet). */
#ifndef MJ_NET_PUBLISH_H
#define MJ_NET_PUBLISH_H

#include <moonjail/moonjail.h>

#include "netd.h"

/* Binds every published port on the host (before dropping privileges: a port below 1024 needs
 * root).  0, or -1 with an error naming the port. */
int mj_net_publish_bind(mj_netd_t *d, mj_error_t **err);
/* Starts accepting (the agent must be attached to the loop). */
int mj_net_publish_start(mj_netd_t *d, mj_error_t **err);
void mj_net_publish_stop(mj_netd_t *d);

#endif

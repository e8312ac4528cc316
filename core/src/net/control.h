/* control.h — moonjail-net's control socket: a listening unix socket (bound by the host in the
 * sandbox's state directory, or by moonjail-net at start-up) where any later moonjail process
 * asks for the counters: one line in ("stats", "ping"), one line out ("ok key=value …").
 * Owns: that tiny protocol.  Never: changing the rules (no command does), or files. */
#ifndef MJ_NET_CONTROL_H
#define MJ_NET_CONTROL_H

#include <moonjail/moonjail.h>

#include "netd.h"

int mj_net_control_start(mj_netd_t *d, int listen_fd, mj_error_t **err);
void mj_net_control_stop(mj_netd_t *d);
/* The counters line (outbound mode adds the engine interface's bytes, given here). */
void mj_net_control_stats_line(const mj_netd_t *d, char *out, size_t cap);

#endif

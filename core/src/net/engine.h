/* engine.h — the outbound mode's user-mode network engine: pasta (Debian's passt package) or,
 * when pasta is missing, slirp4netns, started in the sandbox's network namespace with every way
 * back to the host turned off (pasta: --no-map-gw and no port forwarding either way, including
 * -T/-U which would carry the sandbox's loopback ports to the host's; slirp4netns:
 * --disable-host-loopback), plus "prohibit" routes inside for each of the host's own addresses
 * and the cloud metadata addresses, so the sandbox reaches the world but none of the host's
 * services.  The engine is moonjail-net's child: it dies with it (PR_SET_PDEATHSIG, and the
 * slirp4netns exit pipe).
 * Owns: finding, starting, supervising and stopping the engine.  Never: a TCP/IP stack of its
 * own, or leaving the engine's default gateway-to-host mapping on. */
#ifndef MJ_NET_ENGINE_H
#define MJ_NET_ENGINE_H

#include <moonjail/moonjail.h>
#include <stddef.h>
#include <sys/types.h>

#include "netconf.h"
#include "netd.h"

#define MJ_NET_ENGINE_DNS "169.254.1.1" /* pasta's DNS forwarder address (resolv.conf inside) */
#define MJ_NET_SLIRP_DNS "10.0.2.3"

typedef struct {
    mj_net_engine_t engine;
    pid_t pid;
    int pidfd;
    int exit_fd; /* slirp4netns: closing it ends the engine */
} mj_net_engine_run_t;

/* The engine's path (PATH searched, then /usr/bin, /usr/sbin, /bin), or NULL. */
const char *mj_net_engine_find(mj_net_engine_t engine, char *buf, size_t cap);
/* "pasta=/usr/bin/pasta slirp4netns=missing" — what `doctor` shows. */
void mj_net_engine_probe(char *out, size_t cap);
/* Starts the engine for the namespaces given as paths, waits until it has configured them (10 s
 * at most).  runas: the ids pasta runs as when started by root (0 keeps root: pasta then still
 * sandboxes itself, and can enter a root-owned user namespace). */
int mj_net_engine_start(mj_net_engine_run_t *run, mj_net_engine_t want, const char *netns_path,
                        const char *userns_path, mj_error_t **err);
void mj_net_engine_stop(mj_net_engine_run_t *run);
/* "prohibit" routes inside for the host's own addresses and the metadata addresses. */
int mj_net_engine_prohibit_host(mj_netd_t *d, mj_error_t **err);

#endif

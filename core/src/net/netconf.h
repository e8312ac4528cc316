/* netconf.h — what the host tells moonjail-net about one sandbox's network: a small line format
 * (docs/networking.md, "The helper's configuration"), no JSON.
 * Owns: parsing and checking that text into a mj_net_conf_t.  Never: I/O (the caller reads the
 * file or pipe), resolution, or defaults that depend on the host (resolv.conf is main.c's). */
#ifndef MJ_NET_NETCONF_H
#define MJ_NET_NETCONF_H

#include <moonjail/moonjail.h>
#include <stdbool.h>
#include <stdint.h>

#include "addr.h"
#include "rules.h"

#define MJ_NET_MAX_SERVERS 8
#define MJ_NET_MAX_PUBLISH 64
#define MJ_NET_MAX_HOSTS 256

typedef enum { MJ_NET_MODE_NONE, MJ_NET_MODE_OUTBOUND, MJ_NET_MODE_FILTERED } mj_net_mode_t;
typedef enum { MJ_NET_ENGINE_AUTO, MJ_NET_ENGINE_PASTA, MJ_NET_ENGINE_SLIRP4NETNS } mj_net_engine_t;

typedef struct {
    mj_net_addr_t addr;
    uint16_t port;
} mj_net_endpoint_t;

typedef struct {
    bool set;
    char *host;     /* a name or an address, resolved once at start-up */
    uint16_t port;
    char *auth_b64; /* "user:password" in base64 for Proxy-Authorization, or NULL */
} mj_net_proxy_t;

typedef struct {
    mj_net_addr_t host_addr; /* where the host listens (127.0.0.1 unless given) */
    uint16_t host_port;
    uint16_t port;           /* inside the sandbox */
    bool udp;
} mj_net_publish_t;

typedef struct {
    char name[MJ_NET_NAME_MAX + 1];
    mj_net_addr_t addr;
} mj_net_static_host_t;

typedef struct {
    mj_net_mode_t mode;
    char *sandbox;
    mj_net_rules_t rules;
    uint16_t ports[MJ_NET_MAX_PORTS]; /* distinct ports of the allow rules */
    int n_ports;
    mj_net_endpoint_t servers[MJ_NET_MAX_SERVERS];
    size_t n_servers;
    mj_net_static_host_t *hosts;
    size_t n_hosts;
    mj_net_proxy_t proxy_http, proxy_https;
    char **no_proxy;
    size_t n_no_proxy;
    uint64_t ingress, egress; /* bytes per second, 0 = unlimited */
    mj_net_publish_t publish[MJ_NET_MAX_PUBLISH];
    size_t n_publish;
    uint16_t inspect_tls[16], inspect_http[16];
    size_t n_inspect_tls, n_inspect_http;
    unsigned max_conns;
    mj_net_engine_t engine;
} mj_net_conf_t;

/* Parses text (len bytes, no NUL needed).  Errors name the line: "line 3: …". */
int mj_net_conf_parse(const char *text, size_t len, mj_net_conf_t *out, mj_error_t **err);
void mj_net_conf_free(mj_net_conf_t *conf);

/* "10M", "512K", "1G" or a plain number: bytes (K = 1024).  0 or -1. */
int mj_net_parse_size(const char *s, uint64_t *out);
/* "[HOST_IP:]HOST_PORT:PORT[/tcp|udp]".  0 or -1. */
int mj_net_parse_publish(const char *s, mj_net_publish_t *out);
/* "ADDR", "ADDR:PORT", "[V6]:PORT": a DNS server (port 53 by default).  0 or -1. */
int mj_net_parse_endpoint(const char *s, uint16_t default_port, mj_net_endpoint_t *out);

bool mj_net_conf_inspects_tls(const mj_net_conf_t *conf, uint16_t port);
bool mj_net_conf_inspects_http(const mj_net_conf_t *conf, uint16_t port);

#endif

/* addr.h — IP addresses, CIDR prefixes and address classes for moonjail-net.
 * Owns: parsing and formatting addresses, prefix matching, the special-purpose ranges that DNS
 * answers must not smuggle into a sandbox (loopback, private, link-local, metadata…).
 * Never: name resolution, sockets, or any decision about a sandbox's rules. */
#ifndef MJ_NET_ADDR_H
#define MJ_NET_ADDR_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

/* An IPv4 (a[0..3]) or IPv6 address.  IPv4-mapped IPv6 addresses are kept as IPv6: a DNS answer
 * carrying one is classified by its embedded IPv4 address. */
typedef struct {
    int family; /* AF_INET or AF_INET6 */
    uint8_t a[16];
} mj_net_addr_t;

typedef struct {
    mj_net_addr_t addr; /* host bits cleared */
    unsigned prefix;    /* 0..32 or 0..128 */
} mj_net_cidr_t;

typedef enum {
    MJ_NET_CLASS_PUBLIC = 0,
    MJ_NET_CLASS_UNSPECIFIED, /* 0.0.0.0/8, :: */
    MJ_NET_CLASS_LOOPBACK,    /* 127/8, ::1 */
    MJ_NET_CLASS_PRIVATE,     /* RFC 1918, fc00::/7 (ULA), fec0::/10 */
    MJ_NET_CLASS_LINK_LOCAL,  /* 169.254/16, fe80::/10 */
    MJ_NET_CLASS_CGNAT,       /* 100.64/10 */
    MJ_NET_CLASS_MULTICAST,   /* 224/4, ff00::/8 */
    MJ_NET_CLASS_METADATA,    /* 169.254.169.254, fd00:ec2::254, 100.100.100.200 */
    MJ_NET_CLASS_RESERVED,    /* 240/4, broadcast, IPv4-mapped and other transition forms */
    MJ_NET_CLASS__COUNT
} mj_net_class_t;

#define MJ_NET_ADDRSTRLEN 46 /* INET6_ADDRSTRLEN */

/* "192.0.2.1" or "2001:db8::1" (no brackets, no zone): 0, or -1 when not an address. */
int mj_net_addr_parse(const char *s, mj_net_addr_t *out);
/* Always NUL-terminates out. */
void mj_net_addr_format(const mj_net_addr_t *addr, char out[MJ_NET_ADDRSTRLEN]);
bool mj_net_addr_equal(const mj_net_addr_t *x, const mj_net_addr_t *y);
size_t mj_net_addr_len(const mj_net_addr_t *addr); /* 4 or 16 */

/* sockaddr <-> address and port.  An IPv4-mapped IPv6 sockaddr becomes IPv4 here (a v6 socket
 * without V6ONLY sees IPv4 peers that way).  from_sockaddr returns -1 for other families. */
int mj_net_addr_from_sockaddr(const struct sockaddr *sa, socklen_t len, mj_net_addr_t *out, uint16_t *port);
socklen_t mj_net_addr_to_sockaddr(const mj_net_addr_t *addr, uint16_t port, struct sockaddr_storage *out);

/* "10.0.0.0/8", "2001:db8::/32", or a bare address (/32, /128).  Host bits must be zero, so a
 * typo such as 10.0.0.1/8 is an error instead of a silently wider rule.  0 or -1. */
int mj_net_cidr_parse(const char *s, mj_net_cidr_t *out);
bool mj_net_cidr_contains(const mj_net_cidr_t *cidr, const mj_net_addr_t *addr);
/* true when every address of inner lies in outer. */
bool mj_net_cidr_within(const mj_net_cidr_t *inner, const mj_net_cidr_t *outer);
void mj_net_cidr_format(const mj_net_cidr_t *cidr, char out[MJ_NET_ADDRSTRLEN + 4]);

mj_net_class_t mj_net_addr_class(const mj_net_addr_t *addr);
const char *mj_net_class_name(mj_net_class_t cls);
/* true when the prefix lies entirely inside one range of class cls: such a CIDR rule "names"
 * that class, which is what it takes to allow a special address (0.0.0.0/0 names none). */
bool mj_net_cidr_names_class(const mj_net_cidr_t *cidr, mj_net_class_t cls);

#endif

/* addr.c — IP addresses, CIDR prefixes and the special-purpose address ranges.
 * Owns: the table of ranges a DNS answer may not bring into a sandbox unless a CIDR rule names
 * them.  Never: sockets, resolution, logging. */
#define _GNU_SOURCE
#include "addr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

size_t mj_net_addr_len(const mj_net_addr_t *addr)
{
    return addr->family == AF_INET ? 4 : 16;
}

int mj_net_addr_parse(const char *s, mj_net_addr_t *out)
{
    memset(out, 0, sizeof(*out));
    if (!s || !*s)
        return -1;
    if (strchr(s, ':')) {
        if (inet_pton(AF_INET6, s, out->a) != 1)
            return -1;
        out->family = AF_INET6;
        return 0;
    }
    /* inet_pton accepts only the dotted quad with decimal parts: no "010.1", no "1.2.3". */
    if (inet_pton(AF_INET, s, out->a) != 1)
        return -1;
    out->family = AF_INET;
    return 0;
}

void mj_net_addr_format(const mj_net_addr_t *addr, char out[MJ_NET_ADDRSTRLEN])
{
    if (!inet_ntop(addr->family == AF_INET ? AF_INET : AF_INET6, addr->a, out, MJ_NET_ADDRSTRLEN))
        snprintf(out, MJ_NET_ADDRSTRLEN, "?");
}

bool mj_net_addr_equal(const mj_net_addr_t *x, const mj_net_addr_t *y)
{
    return x->family == y->family && memcmp(x->a, y->a, mj_net_addr_len(x)) == 0;
}

static const uint8_t v4mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

int mj_net_addr_from_sockaddr(const struct sockaddr *sa, socklen_t len, mj_net_addr_t *out, uint16_t *port)
{
    memset(out, 0, sizeof(*out));
    if (sa->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        out->family = AF_INET;
        memcpy(out->a, &in->sin_addr, 4);
        if (port)
            *port = ntohs(in->sin_port);
        return 0;
    }
    if (sa->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        if (memcmp(in6->sin6_addr.s6_addr, v4mapped_prefix, 12) == 0) {
            out->family = AF_INET;
            memcpy(out->a, in6->sin6_addr.s6_addr + 12, 4);
        } else {
            out->family = AF_INET6;
            memcpy(out->a, in6->sin6_addr.s6_addr, 16);
        }
        if (port)
            *port = ntohs(in6->sin6_port);
        return 0;
    }
    return -1;
}

socklen_t mj_net_addr_to_sockaddr(const mj_net_addr_t *addr, uint16_t port, struct sockaddr_storage *out)
{
    memset(out, 0, sizeof(*out));
    if (addr->family == AF_INET) {
        struct sockaddr_in *in = (struct sockaddr_in *)out;
        in->sin_family = AF_INET;
        in->sin_port = htons(port);
        memcpy(&in->sin_addr, addr->a, 4);
        return sizeof(*in);
    }
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)out;
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(port);
    memcpy(in6->sin6_addr.s6_addr, addr->a, 16);
    return sizeof(*in6);
}

static void clear_host_bits(mj_net_addr_t *addr, unsigned prefix)
{
    size_t bits = mj_net_addr_len(addr) * 8;
    for (size_t i = prefix; i < bits; i++)
        addr->a[i / 8] &= (uint8_t)~(0x80u >> (i % 8));
}

int mj_net_cidr_parse(const char *s, mj_net_cidr_t *out)
{
    memset(out, 0, sizeof(*out));
    if (!s)
        return -1;
    char buf[64];
    size_t n = strlen(s);
    if (n == 0 || n >= sizeof(buf))
        return -1;
    memcpy(buf, s, n + 1);
    char *slash = strchr(buf, '/');
    long prefix = -1;
    if (slash) {
        *slash = '\0';
        const char *p = slash + 1;
        if (!*p || strlen(p) > 3)
            return -1;
        prefix = 0;
        for (; *p; p++) {
            if (*p < '0' || *p > '9')
                return -1;
            prefix = prefix * 10 + (*p - '0');
        }
        if (slash[1] == '0' && slash[2])
            return -1; /* no leading zeros */
    }
    if (mj_net_addr_parse(buf, &out->addr) < 0)
        return -1;
    long max = (long)mj_net_addr_len(&out->addr) * 8;
    if (prefix < 0)
        prefix = max;
    if (prefix > max)
        return -1;
    mj_net_addr_t cleared = out->addr;
    clear_host_bits(&cleared, (unsigned)prefix);
    if (!mj_net_addr_equal(&cleared, &out->addr))
        return -1;
    out->prefix = (unsigned)prefix;
    return 0;
}

static bool prefix_match(const uint8_t *a, const uint8_t *b, unsigned prefix)
{
    unsigned full = prefix / 8, rest = prefix % 8;
    if (memcmp(a, b, full) != 0)
        return false;
    if (rest == 0)
        return true;
    uint8_t mask = (uint8_t)(0xffu << (8 - rest));
    return (a[full] & mask) == (b[full] & mask);
}

bool mj_net_cidr_contains(const mj_net_cidr_t *cidr, const mj_net_addr_t *addr)
{
    return cidr->addr.family == addr->family && prefix_match(cidr->addr.a, addr->a, cidr->prefix);
}

bool mj_net_cidr_within(const mj_net_cidr_t *inner, const mj_net_cidr_t *outer)
{
    return inner->addr.family == outer->addr.family && inner->prefix >= outer->prefix &&
           prefix_match(inner->addr.a, outer->addr.a, outer->prefix);
}

void mj_net_cidr_format(const mj_net_cidr_t *cidr, char out[MJ_NET_ADDRSTRLEN + 4])
{
    char a[MJ_NET_ADDRSTRLEN];
    mj_net_addr_format(&cidr->addr, a);
    snprintf(out, MJ_NET_ADDRSTRLEN + 4, "%s/%u", a, cidr->prefix);
}

/* Most specific first: the first range that contains an address gives its class. */
static const struct {
    const char *cidr;
    mj_net_class_t cls;
} ranges[] = {
    {"169.254.169.254/32", MJ_NET_CLASS_METADATA}, /* AWS, GCP, Azure, OpenStack… */
    {"169.254.170.2/32", MJ_NET_CLASS_METADATA},   /* AWS ECS task metadata */
    {"100.100.100.200/32", MJ_NET_CLASS_METADATA}, /* Alibaba Cloud */
    {"fd00:ec2::254/128", MJ_NET_CLASS_METADATA},  /* AWS over IPv6 */
    {"0.0.0.0/8", MJ_NET_CLASS_UNSPECIFIED},
    {"10.0.0.0/8", MJ_NET_CLASS_PRIVATE},
    {"100.64.0.0/10", MJ_NET_CLASS_CGNAT},
    {"127.0.0.0/8", MJ_NET_CLASS_LOOPBACK},
    {"169.254.0.0/16", MJ_NET_CLASS_LINK_LOCAL},
    {"172.16.0.0/12", MJ_NET_CLASS_PRIVATE},
    {"192.0.0.0/24", MJ_NET_CLASS_RESERVED},
    {"192.168.0.0/16", MJ_NET_CLASS_PRIVATE},
    {"198.18.0.0/15", MJ_NET_CLASS_RESERVED},
    {"224.0.0.0/4", MJ_NET_CLASS_MULTICAST},
    {"240.0.0.0/4", MJ_NET_CLASS_RESERVED}, /* includes 255.255.255.255 */
    {"::/128", MJ_NET_CLASS_UNSPECIFIED},
    {"::1/128", MJ_NET_CLASS_LOOPBACK},
    {"::ffff:0:0/96", MJ_NET_CLASS_RESERVED}, /* IPv4-mapped: never a real AAAA */
    {"::/96", MJ_NET_CLASS_RESERVED},         /* IPv4-compatible (deprecated) */
    {"64:ff9b:1::/48", MJ_NET_CLASS_PRIVATE}, /* local-use NAT64 */
    {"100::/64", MJ_NET_CLASS_RESERVED},      /* discard */
    {"2001::/32", MJ_NET_CLASS_RESERVED},     /* Teredo: the IPv4 inside is obfuscated */
    {"fc00::/7", MJ_NET_CLASS_PRIVATE},
    {"fec0::/10", MJ_NET_CLASS_PRIVATE},
    {"fe80::/10", MJ_NET_CLASS_LINK_LOCAL},
    {"ff00::/8", MJ_NET_CLASS_MULTICAST},
};

static bool range_at(size_t i, mj_net_cidr_t *out)
{
    return mj_net_cidr_parse(ranges[i].cidr, out) == 0;
}

mj_net_class_t mj_net_addr_class(const mj_net_addr_t *addr)
{
    if (addr->family == AF_INET6) {
        /* Transition forms that carry an IPv4 address the host would reach: NAT64 (64:ff9b::/96)
         * and 6to4 (2002::/16) are as special as the address inside them. */
        static const uint8_t nat64[12] = {0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};
        mj_net_addr_t v4 = {.family = AF_INET};
        if (memcmp(addr->a, nat64, 12) == 0) {
            memcpy(v4.a, addr->a + 12, 4);
            return mj_net_addr_class(&v4);
        }
        if (addr->a[0] == 0x20 && addr->a[1] == 0x02) {
            memcpy(v4.a, addr->a + 2, 4);
            mj_net_class_t c = mj_net_addr_class(&v4);
            if (c != MJ_NET_CLASS_PUBLIC)
                return c;
        }
    }
    for (size_t i = 0; i < sizeof(ranges) / sizeof(ranges[0]); i++) {
        mj_net_cidr_t r;
        if (range_at(i, &r) && mj_net_cidr_contains(&r, addr))
            return ranges[i].cls;
    }
    return MJ_NET_CLASS_PUBLIC;
}

const char *mj_net_class_name(mj_net_class_t cls)
{
    static const char *const names[MJ_NET_CLASS__COUNT] = {
        [MJ_NET_CLASS_PUBLIC] = "public",       [MJ_NET_CLASS_UNSPECIFIED] = "unspecified",
        [MJ_NET_CLASS_LOOPBACK] = "loopback",   [MJ_NET_CLASS_PRIVATE] = "private",
        [MJ_NET_CLASS_LINK_LOCAL] = "link-local", [MJ_NET_CLASS_CGNAT] = "cgnat",
        [MJ_NET_CLASS_MULTICAST] = "multicast", [MJ_NET_CLASS_METADATA] = "metadata",
        [MJ_NET_CLASS_RESERVED] = "reserved",
    };
    return (unsigned)cls < MJ_NET_CLASS__COUNT ? names[cls] : "?";
}

bool mj_net_cidr_names_class(const mj_net_cidr_t *cidr, mj_net_class_t cls)
{
    if (cls == MJ_NET_CLASS_PUBLIC)
        return true;
    for (size_t i = 0; i < sizeof(ranges) / sizeof(ranges[0]); i++) {
        mj_net_cidr_t r;
        if (ranges[i].cls == cls && range_at(i, &r) && mj_net_cidr_within(cidr, &r))
            return true;
    }
    /* So a metadata address is named only by a rule for exactly that address: 169.254.0.0/16
     * names link-local, not 169.254.169.254. */
    return false;
}

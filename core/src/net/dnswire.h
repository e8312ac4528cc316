/* dnswire.h — the DNS wire format, as much as moonjail-net's stub and its upstream client need.
 * Owns: parsing queries from a sandbox and responses from upstream servers (strict, bounded: no
 * compression loops, no reads past the message, names only in host-name syntax), and building
 * queries and answers.  Never: sockets, policy, or any state between messages. */
#ifndef MJ_NET_DNSWIRE_H
#define MJ_NET_DNSWIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "rules.h"

#define MJ_DNS_TYPE_A 1
#define MJ_DNS_TYPE_CNAME 5
#define MJ_DNS_TYPE_AAAA 28
#define MJ_DNS_TYPE_OPT 41
#define MJ_DNS_TYPE_ANY 255
#define MJ_DNS_CLASS_IN 1

#define MJ_DNS_RCODE_NOERROR 0
#define MJ_DNS_RCODE_FORMERR 1
#define MJ_DNS_RCODE_SERVFAIL 2
#define MJ_DNS_RCODE_NXDOMAIN 3
#define MJ_DNS_RCODE_NOTIMP 4
#define MJ_DNS_RCODE_REFUSED 5

#define MJ_DNS_MAX_ADDRS 32 /* addresses kept from one answer */

typedef struct {
    uint16_t id;
    bool rd;                 /* recursion desired: echoed */
    bool cd;                 /* checking disabled: echoed */
    char name[MJ_NET_NAME_MAX + 1]; /* normalised (lower case, no trailing dot) */
    bool name_ok;            /* false: the name is not a host name (name holds a printable form) */
    uint16_t qtype, qclass;
    bool edns;               /* the query carried an OPT record */
    uint16_t edns_size;      /* its UDP payload size (>= 512) */
} mj_dns_query_t;

typedef struct {
    mj_net_addr_t addr;
    uint32_t ttl;
} mj_dns_rr_addr_t;

typedef struct {
    int rcode;
    bool truncated;
    mj_dns_rr_addr_t addrs[MJ_DNS_MAX_ADDRS];
    size_t n_addrs;
    uint32_t min_ttl; /* over the CNAME chain and the addresses kept; negative answers: SOA minimum or 0 */
} mj_dns_response_t;

/* Parses a query from a sandbox.  Returns 0, or an RCODE to answer with (FORMERR, NOTIMP) when
 * the header was readable (q->id is set then), or -1 when not even that: drop the datagram. */
int mj_dns_parse_query(const uint8_t *msg, size_t len, mj_dns_query_t *q);

/* Parses an upstream response to the question (name, qtype) sent with id.  Follows the CNAME
 * chain from name inside the answer section (at most 8 links) and keeps the A/AAAA records of
 * its end.  0, or -1 when the message is malformed or does not answer that question. */
int mj_dns_parse_response(const uint8_t *msg, size_t len, uint16_t id, const char *name, uint16_t qtype,
                          mj_dns_response_t *out);

/* Builds a recursive query with an EDNS0 OPT (payload size 1232).  The length, or -1 when cap is
 * too small or the name cannot be encoded. */
int mj_dns_build_query(uint16_t id, const char *name, uint16_t qtype, uint8_t *buf, size_t cap);

/* Builds the answer to q: rcode, and for NOERROR the addresses of addrs whose family matches
 * q->qtype, each with ttl, owned by the question's name.  Answers that do not fit in max_len
 * (512, or the query's EDNS size for UDP) are left out and TC set.  The length, or -1. */
int mj_dns_build_reply(const mj_dns_query_t *q, int rcode, const mj_net_addr_t *addrs, size_t n_addrs,
                       uint32_t ttl, uint8_t *buf, size_t max_len);

#endif

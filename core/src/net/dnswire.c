/* dnswire.c — the DNS wire format for moonjail-net (RFC 1035, EDNS0 of RFC 6891).
 * Owns: strict, bounded parsing and building of the few message shapes the stub and its upstream
 * client exchange.  Never: sockets, policy, allocation (every buffer is the caller's). */
#define _GNU_SOURCE
#include "dnswire.h"

#include <arpa/inet.h>
#include <string.h>

#define HDR_LEN 12
#define FLAG_QR 0x8000
#define FLAG_TC 0x0200
#define FLAG_RD 0x0100
#define FLAG_RA 0x0080
#define FLAG_CD 0x0010
#define MAX_POINTERS 64
#define MAX_CHAIN 8
#define MAX_RRS 64 /* answer records looked at; the rest of the section is still bounds-checked */

static uint16_t rd16(const uint8_t *p)
{
    return (uint16_t)((p[0] << 8) | p[1]);
}

static uint32_t rd32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static void wr16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void wr32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* Reads the name at *off.  out gets a printable form (bytes outside a host name's alphabet become
 * '?', and *ok false); *off moves past the name as it stands in the message.  allow_ptr false
 * refuses compression.  0, or -1 when malformed. */
static int read_name(const uint8_t *msg, size_t len, size_t *off, char out[MJ_NET_NAME_MAX + 1], bool *ok,
                     bool allow_ptr)
{
    size_t pos = *off, end = 0, o = 0, wire = 0;
    int pointers = 0;
    bool jumped = false;
    char raw[MJ_NET_NAME_MAX + 2];
    *ok = true;
    for (;;) {
        if (pos >= len)
            return -1;
        uint8_t l = msg[pos];
        if ((l & 0xc0) == 0xc0) {
            if (!allow_ptr || pos + 1 >= len || ++pointers > MAX_POINTERS)
                return -1;
            size_t target = ((size_t)(l & 0x3f) << 8) | msg[pos + 1];
            /* Only backwards, and never into the header: no loops, no self-reference. */
            if (target >= pos || target < HDR_LEN)
                return -1;
            if (!jumped)
                end = pos + 2;
            jumped = true;
            pos = target;
            continue;
        }
        if (l & 0xc0)
            return -1; /* 0x40 / 0x80: extended label types, obsolete */
        if (l == 0) {
            pos++;
            break;
        }
        if (pos + 1 + l > len)
            return -1;
        wire += (size_t)l + 1;
        if (wire > 254) /* 255 octets with the root label */
            return -1;
        if (o)
            raw[o++] = '.';
        for (size_t i = 0; i < l; i++) {
            uint8_t c = msg[pos + 1 + i];
            bool good = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                        c == '_';
            if (!good)
                *ok = false;
            raw[o++] = good ? (char)c : '?';
        }
        pos += 1 + (size_t)l;
    }
    raw[o] = '\0';
    *off = jumped ? end : pos;
    if (o == 0) {
        *ok = false;
        strcpy(out, ".");
        return 0;
    }
    if (*ok && mj_net_name_normalize(raw, out) == 0)
        return 0;
    *ok = false;
    memcpy(out, raw, o + 1);
    return 0;
}

int mj_dns_parse_query(const uint8_t *msg, size_t len, mj_dns_query_t *q)
{
    memset(q, 0, sizeof(*q));
    if (len < HDR_LEN)
        return -1;
    q->id = rd16(msg);
    uint16_t flags = rd16(msg + 2);
    if (flags & FLAG_QR)
        return -1; /* a response sent to the stub: never answer it (no reflection loops) */
    q->rd = flags & FLAG_RD;
    q->cd = flags & FLAG_CD;
    if (((flags >> 11) & 0xf) != 0)
        return MJ_DNS_RCODE_NOTIMP;
    uint16_t qd = rd16(msg + 4), an = rd16(msg + 6), ns = rd16(msg + 8), ar = rd16(msg + 10);
    if (qd != 1 || an != 0 || ns != 0 || ar > 1)
        return MJ_DNS_RCODE_FORMERR;
    size_t off = HDR_LEN;
    bool ok;
    if (read_name(msg, len, &off, q->name, &ok, false) < 0 || off + 4 > len)
        return MJ_DNS_RCODE_FORMERR;
    q->name_ok = ok;
    q->qtype = rd16(msg + off);
    q->qclass = rd16(msg + off + 2);
    off += 4;
    if (ar == 1) {
        /* OPT: root owner, type 41, class = payload size, ttl, rdlength, rdata. */
        if (off + 11 > len || msg[off] != 0 || rd16(msg + off + 1) != MJ_DNS_TYPE_OPT)
            return MJ_DNS_RCODE_FORMERR;
        uint16_t size = rd16(msg + off + 3);
        uint16_t rdlen = rd16(msg + off + 9);
        if (off + 11 + rdlen > len)
            return MJ_DNS_RCODE_FORMERR;
        q->edns = true;
        q->edns_size = size < 512 ? 512 : size;
        off += 11 + rdlen;
    }
    if (off != len)
        return MJ_DNS_RCODE_FORMERR;
    if (q->qclass != MJ_DNS_CLASS_IN)
        return MJ_DNS_RCODE_NOTIMP;
    return 0;
}

/* Skips one resource record at *off after its owner name; fills what the caller wants. */
static int read_rr(const uint8_t *msg, size_t len, size_t *off, char owner[MJ_NET_NAME_MAX + 1], bool *owner_ok,
                   uint16_t *type, uint16_t *cls, uint32_t *ttl, size_t *rdata, uint16_t *rdlen)
{
    if (read_name(msg, len, off, owner, owner_ok, true) < 0 || *off + 10 > len)
        return -1;
    *type = rd16(msg + *off);
    *cls = rd16(msg + *off + 2);
    *ttl = rd32(msg + *off + 4);
    if (*ttl & 0x80000000u)
        *ttl = 0; /* RFC 2181 §8 */
    *rdlen = rd16(msg + *off + 8);
    *off += 10;
    if (*off + *rdlen > len)
        return -1;
    *rdata = *off;
    *off += *rdlen;
    return 0;
}

int mj_dns_parse_response(const uint8_t *msg, size_t len, uint16_t id, const char *name, uint16_t qtype,
                          mj_dns_response_t *out)
{
    memset(out, 0, sizeof(*out));
    if (len < HDR_LEN || rd16(msg) != id)
        return -1;
    uint16_t flags = rd16(msg + 2);
    if (!(flags & FLAG_QR) || ((flags >> 11) & 0xf) != 0)
        return -1;
    out->rcode = flags & 0xf;
    out->truncated = flags & FLAG_TC;
    uint16_t qd = rd16(msg + 4), an = rd16(msg + 6), ns = rd16(msg + 8), ar = rd16(msg + 10);
    if (qd != 1)
        return out->truncated && qd == 0 ? 0 : -1;
    size_t off = HDR_LEN;
    char qname[MJ_NET_NAME_MAX + 1];
    bool ok;
    if (read_name(msg, len, &off, qname, &ok, true) < 0 || off + 4 > len)
        return -1;
    if (!ok || strcmp(qname, name) != 0 || rd16(msg + off) != qtype || rd16(msg + off + 2) != MJ_DNS_CLASS_IN)
        return -1;
    off += 4;

    struct {
        char owner[MJ_NET_NAME_MAX + 1];
        char target[MJ_NET_NAME_MAX + 1];
        uint16_t type;
        uint32_t ttl;
        mj_net_addr_t addr;
    } rrs[MAX_RRS];
    size_t n = 0;
    for (unsigned i = 0; i < (unsigned)an + ns + ar; i++) {
        char owner[MJ_NET_NAME_MAX + 1];
        uint16_t type, cls, rdlen;
        uint32_t ttl;
        size_t rdata;
        if (read_rr(msg, len, &off, owner, &ok, &type, &cls, &ttl, &rdata, &rdlen) < 0)
            return -1;
        if (i >= an || !ok || cls != MJ_DNS_CLASS_IN || n == MAX_RRS)
            continue;
        if (type == MJ_DNS_TYPE_A || type == MJ_DNS_TYPE_AAAA) {
            size_t alen = type == MJ_DNS_TYPE_A ? 4 : 16;
            if (rdlen != alen)
                return -1;
            strcpy(rrs[n].owner, owner);
            rrs[n].type = type;
            rrs[n].ttl = ttl;
            memset(&rrs[n].addr, 0, sizeof(rrs[n].addr));
            rrs[n].addr.family = type == MJ_DNS_TYPE_A ? AF_INET : AF_INET6;
            memcpy(rrs[n].addr.a, msg + rdata, alen);
            n++;
        } else if (type == MJ_DNS_TYPE_CNAME) {
            size_t toff = rdata;
            bool tok;
            if (read_name(msg, rdata + rdlen, &toff, rrs[n].target, &tok, true) < 0 || toff != rdata + rdlen)
                return -1;
            if (!tok)
                continue;
            strcpy(rrs[n].owner, owner);
            rrs[n].type = type;
            rrs[n].ttl = ttl;
            n++;
        }
    }
    if (off != len)
        return -1;

    const char *cur = name;
    uint32_t min_ttl = UINT32_MAX;
    for (int hops = 0; hops <= MAX_CHAIN; hops++) {
        const char *next = NULL;
        for (size_t i = 0; i < n; i++) {
            if (rrs[i].type == MJ_DNS_TYPE_CNAME && strcmp(rrs[i].owner, cur) == 0) {
                next = rrs[i].target;
                if (rrs[i].ttl < min_ttl)
                    min_ttl = rrs[i].ttl;
                break;
            }
        }
        if (!next)
            break;
        if (hops == MAX_CHAIN)
            return -1;
        cur = next;
    }
    for (size_t i = 0; i < n && out->n_addrs < MJ_DNS_MAX_ADDRS; i++) {
        if (rrs[i].type != qtype || strcmp(rrs[i].owner, cur) != 0)
            continue;
        out->addrs[out->n_addrs].addr = rrs[i].addr;
        out->addrs[out->n_addrs].ttl = rrs[i].ttl;
        out->n_addrs++;
        if (rrs[i].ttl < min_ttl)
            min_ttl = rrs[i].ttl;
    }
    out->min_ttl = min_ttl == UINT32_MAX ? 0 : min_ttl;
    return 0;
}

/* Encodes a presentation name ("a.b.c") as labels; the length written, or -1. */
static int write_name(const char *name, uint8_t *buf, size_t cap)
{
    size_t o = 0, n = strlen(name);
    if (n == 0 || n > MJ_NET_NAME_MAX || n + 2 > cap)
        return -1;
    const char *p = name;
    while (*p) {
        const char *dot = strchr(p, '.');
        size_t l = dot ? (size_t)(dot - p) : strlen(p);
        if (l == 0 || l > 63)
            return -1;
        buf[o++] = (uint8_t)l;
        memcpy(buf + o, p, l);
        o += l;
        p += l;
        if (*p == '.')
            p++;
    }
    buf[o++] = 0;
    return (int)o;
}

int mj_dns_build_query(uint16_t id, const char *name, uint16_t qtype, uint8_t *buf, size_t cap)
{
    if (cap < HDR_LEN + 4 + 11)
        return -1;
    memset(buf, 0, HDR_LEN);
    wr16(buf, id);
    wr16(buf + 2, FLAG_RD);
    wr16(buf + 4, 1);
    wr16(buf + 10, 1);
    int nl = write_name(name, buf + HDR_LEN, cap - HDR_LEN - 4 - 11);
    if (nl < 0)
        return -1;
    size_t off = HDR_LEN + (size_t)nl;
    wr16(buf + off, qtype);
    wr16(buf + off + 2, MJ_DNS_CLASS_IN);
    off += 4;
    buf[off] = 0;
    wr16(buf + off + 1, MJ_DNS_TYPE_OPT);
    wr16(buf + off + 3, 1232);
    wr32(buf + off + 5, 0);
    wr16(buf + off + 9, 0);
    return (int)(off + 11);
}

int mj_dns_build_reply(const mj_dns_query_t *q, int rcode, const mj_net_addr_t *addrs, size_t n_addrs,
                       uint32_t ttl, uint8_t *buf, size_t max_len)
{
    if (max_len < HDR_LEN)
        return -1;
    memset(buf, 0, HDR_LEN);
    wr16(buf, q->id);
    uint16_t flags = FLAG_QR | FLAG_RA | (uint16_t)(rcode & 0xf);
    if (q->rd)
        flags |= FLAG_RD;
    if (q->cd)
        flags |= FLAG_CD;
    size_t off = HDR_LEN;
    int nl = q->name_ok ? write_name(q->name, buf + off, max_len > off + 4 ? max_len - off - 4 : 0) : -1;
    if (nl < 0) { /* no question to echo (unreadable or not a host name) */
        wr16(buf + 2, flags);
        return HDR_LEN;
    }
    off += (size_t)nl;
    wr16(buf + off, q->qtype);
    wr16(buf + off + 2, MJ_DNS_CLASS_IN);
    off += 4;
    wr16(buf + 4, 1);
    size_t opt_len = q->edns ? 11 : 0;
    uint16_t an = 0;
    bool truncated = false;
    int want = q->qtype == MJ_DNS_TYPE_A ? AF_INET : q->qtype == MJ_DNS_TYPE_AAAA ? AF_INET6 : 0;
    for (size_t i = 0; rcode == MJ_DNS_RCODE_NOERROR && i < n_addrs; i++) {
        if (addrs[i].family != want)
            continue;
        size_t alen = mj_net_addr_len(&addrs[i]);
        if (off + 12 + alen + opt_len > max_len) {
            truncated = true;
            break;
        }
        wr16(buf + off, 0xc000 | HDR_LEN); /* the question's name */
        wr16(buf + off + 2, (uint16_t)q->qtype);
        wr16(buf + off + 4, MJ_DNS_CLASS_IN);
        wr32(buf + off + 6, ttl);
        wr16(buf + off + 10, (uint16_t)alen);
        memcpy(buf + off + 12, addrs[i].a, alen);
        off += 12 + alen;
        an++;
    }
    if (truncated) { /* RFC 2181 §9: a truncated answer carries no partial RRset */
        an = 0;
        off = HDR_LEN + (size_t)nl + 4;
        flags |= FLAG_TC;
    }
    wr16(buf + 6, an);
    if (q->edns && off + 11 <= max_len) {
        buf[off] = 0;
        wr16(buf + off + 1, MJ_DNS_TYPE_OPT);
        wr16(buf + off + 3, 1232);
        wr32(buf + off + 5, 0);
        wr16(buf + off + 9, 0);
        off += 11;
        wr16(buf + 10, 1);
    }
    wr16(buf + 2, flags);
    return (int)off;
}

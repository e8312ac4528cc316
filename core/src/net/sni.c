/* sni.c — the server name of a TLS ClientHello (RFC 8446 §4.1.2, RFC 6066 §3).
 * Owns: reassembling the ClientHello from its records and reading server_name strictly.
 * Never: decrypting, answering the client, or accepting what it cannot read (an encrypted
 * ClientHello, two names, a name that is not a host name: each is a refusal). */
#define _GNU_SOURCE
#include "sni.h"

#include <stdlib.h>
#include <string.h>

#include "../util.h"

#define REC_HDR 5
#define REC_MAX 16384
#define RAW_MAX (MJ_TLS_HELLO_MAX + 4096) /* record headers included: tiny records are refused */
#define EXT_SERVER_NAME 0x0000
#define EXT_ECH 0xfe0d       /* encrypted_client_hello: the real name would be hidden */
#define EXT_ESNI_DRAFT 0xffce

static uint16_t rd16(const uint8_t *p)
{
    return (uint16_t)((p[0] << 8) | p[1]);
}

static mj_sni_status_t bad(const char **why, const char *text)
{
    *why = text;
    return MJ_SNI_BAD;
}

static bool is_ip_literal(const char *name)
{
    mj_net_addr_t a;
    return mj_net_addr_parse(name, &a) == 0;
}

static mj_sni_status_t parse_hello(const uint8_t *h, size_t n, char name[MJ_NET_NAME_MAX + 1], const char **why)
{
    size_t o = 0;
    if (n < 2 + 32 + 1)
        return bad(why, "ClientHello too short");
    if (h[0] != 3 || h[1] < 1)
        return bad(why, "ClientHello: not TLS 1.0 or later");
    o = 2 + 32;
    size_t sid = h[o++];
    if (sid > 32 || o + sid + 2 > n)
        return bad(why, "ClientHello: bad session id");
    o += sid;
    size_t cs = rd16(h + o);
    o += 2;
    if (cs < 2 || cs % 2 || o + cs + 1 > n)
        return bad(why, "ClientHello: bad cipher suites");
    o += cs;
    size_t comp = h[o++];
    if (comp < 1 || o + comp > n)
        return bad(why, "ClientHello: bad compression methods");
    o += comp;
    if (o == n)
        return bad(why, "ClientHello without extensions: no server name");
    if (o + 2 > n || o + 2 + rd16(h + o) != n)
        return bad(why, "ClientHello: bad extensions length");
    o += 2;
    uint16_t seen[128];
    size_t n_seen = 0;
    bool have_name = false;
    while (o < n) {
        if (o + 4 > n)
            return bad(why, "ClientHello: truncated extension");
        uint16_t type = rd16(h + o), len = rd16(h + o + 2);
        o += 4;
        if (o + len > n)
            return bad(why, "ClientHello: truncated extension");
        for (size_t i = 0; i < n_seen; i++)
            if (seen[i] == type)
                return bad(why, "ClientHello: duplicate extension");
        if (n_seen == sizeof(seen) / sizeof(seen[0]))
            return bad(why, "ClientHello: too many extensions");
        seen[n_seen++] = type;
        if (type == EXT_ECH || type == EXT_ESNI_DRAFT)
            return bad(why, "encrypted ClientHello (ECH): the server name cannot be checked");
        if (type == EXT_SERVER_NAME) {
            const uint8_t *e = h + o;
            if (len < 2 || rd16(e) != len - 2)
                return bad(why, "server_name: bad list length");
            size_t p = 2;
            while (p < len) {
                if (p + 3 > len)
                    return bad(why, "server_name: truncated entry");
                uint8_t nt = e[p];
                size_t nl = rd16(e + p + 1);
                p += 3;
                if (p + nl > len)
                    return bad(why, "server_name: truncated entry");
                if (nt != 0)
                    return bad(why, "server_name: unknown name type");
                if (have_name)
                    return bad(why, "server_name: more than one host name");
                if (nl == 0 || nl > MJ_NET_NAME_MAX || e[p + nl - 1] == '.' || memchr(e + p, 0, nl))
                    return bad(why, "server_name: not a host name");
                char raw[MJ_NET_NAME_MAX + 1];
                memcpy(raw, e + p, nl);
                raw[nl] = '\0';
                if (mj_net_name_normalize(raw, name) < 0)
                    return bad(why, "server_name: not a host name");
                if (is_ip_literal(raw))
                    return bad(why, "server_name: an IP literal");
                have_name = true;
                p += nl;
            }
        }
        o += len;
    }
    if (!have_name)
        return bad(why, "ClientHello without a server name");
    return MJ_SNI_OK;
}

mj_sni_status_t mj_tls_client_hello_sni(const uint8_t *buf, size_t len, char name[MJ_NET_NAME_MAX + 1],
                                        const char **why)
{
    *why = NULL;
    if (len >= 1 && buf[0] != 22)
        return bad(why, (buf[0] & 0x80) ? "SSLv2 ClientHello" : "not a TLS handshake");
    /* Reassemble the handshake message from consecutive handshake records. */
    uint8_t *hs = NULL;
    size_t hs_len = 0, want = 0, off = 0;
    mj_sni_status_t st = MJ_SNI_NEED_MORE;
    if (len > RAW_MAX)
        len = RAW_MAX;
    while (off + REC_HDR <= len) {
        const uint8_t *r = buf + off;
        size_t rl = rd16(r + 3);
        if (r[0] != 22) {
            st = bad(why, "ClientHello interrupted by another record type");
            break;
        }
        if (r[1] != 3 || rl == 0 || rl > REC_MAX) {
            st = bad(why, "not a TLS record");
            break;
        }
        if (off + REC_HDR + rl > len)
            break; /* need more */
        if (!hs)
            hs = mj_xmalloc(MJ_TLS_HELLO_MAX + 4);
        size_t take = rl;
        if (hs_len + take > MJ_TLS_HELLO_MAX + 4)
            take = MJ_TLS_HELLO_MAX + 4 - hs_len;
        memcpy(hs + hs_len, r + REC_HDR, take);
        hs_len += take;
        off += REC_HDR + rl;
        if (hs_len >= 4 && want == 0) {
            if (hs[0] != 1) {
                st = bad(why, "first handshake message is not a ClientHello");
                break;
            }
            want = ((size_t)hs[1] << 16) | ((size_t)hs[2] << 8) | hs[3];
            if (want > MJ_TLS_HELLO_MAX || want < 38) {
                st = bad(why, "ClientHello larger than 16 KiB or too short");
                break;
            }
        }
        if (want && hs_len >= 4 + want) {
            st = parse_hello(hs + 4, want, name, why);
            break;
        }
    }
    if (st == MJ_SNI_NEED_MORE && len >= RAW_MAX)
        st = bad(why, "ClientHello split into too many records");
    free(hs);
    return st;
}

/* ---------------------------------------------------------------- the inspector */

typedef struct {
    mj_net_inspect_t base;
    uint8_t *raw;
    size_t len;
    bool done;
    int64_t fed;
} tls_inspect_t;

static int64_t tls_scan_out(mj_net_inspect_t *in, const uint8_t *data, size_t len)
{
    tls_inspect_t *t = (tls_inspect_t *)in;
    t->fed += (int64_t)len;
    if (t->done)
        return t->fed;
    size_t take = len;
    if (t->len + take > RAW_MAX)
        take = RAW_MAX - t->len;
    memcpy(t->raw + t->len, data, take);
    t->len += take;
    const char *why = NULL;
    mj_sni_status_t st = mj_tls_client_hello_sni(t->raw, t->len, in->host, &why);
    if (st == MJ_SNI_NEED_MORE)
        return 0;
    if (st == MJ_SNI_BAD) {
        in->why = why;
        return -1;
    }
    if (in->check(in->ctx, in->host) < 0) {
        in->why = "server name not allowed for this address and port";
        return -1;
    }
    t->done = true;
    free(t->raw);
    t->raw = NULL;
    return t->fed;
}

static void tls_destroy(mj_net_inspect_t *in)
{
    tls_inspect_t *t = (tls_inspect_t *)in;
    free(t->raw);
    free(t);
}

mj_net_inspect_t *mj_tls_inspector_new(mj_net_host_check_fn check, void *ctx)
{
    tls_inspect_t *t = mj_xcalloc(1, sizeof(*t));
    t->raw = mj_xmalloc(RAW_MAX);
    t->base.scan_out = tls_scan_out;
    t->base.destroy = tls_destroy;
    t->base.check = check;
    t->base.ctx = ctx;
    return &t->base;
}

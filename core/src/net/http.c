/* http.c — a strict HTTP/1.x request framer (RFC 9112) for the port-80 inspector.
 * Owns: finding each request head in the client's byte stream, checking its Host, and skipping its
 * body by Content-Length or chunked framing.  Never: forwarding a byte of a head before its Host
 * was allowed, accepting what two servers could frame differently (bare CR or LF, obs-fold, both
 * Transfer-Encoding and Content-Length, repeated Host), or HTTP/2. */
#define _GNU_SOURCE
#include "http.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "addr.h"
#include "rules.h"
#include "../util.h"

typedef enum {
    ST_HEAD,          /* collecting a request head */
    ST_BODY,          /* Content-Length bytes left */
    ST_CHUNK_SIZE,    /* reading a chunk-size line */
    ST_CHUNK_DATA,    /* chunk bytes left */
    ST_CHUNK_CRLF,    /* the CRLF after chunk data */
    ST_TRAILER,       /* trailer lines after the last chunk */
    ST_AWAIT_101,     /* an upgrade was asked: hold everything until the server answers */
    ST_OPAQUE,        /* switched protocols: the stream is no longer HTTP/1 */
    ST_NO_MORE,       /* the server refused the upgrade: no further request on this connection */
} http_state_t;

typedef struct {
    mj_net_inspect_t base;
    uint16_t port;
    http_state_t state;
    char head[MJ_HTTP_HEAD_MAX + 1];
    size_t head_len;
    uint64_t left;     /* body or chunk bytes left */
    char line[64];     /* a chunk-size or trailer line being read */
    size_t line_len;
    unsigned requests; /* heads accepted */
    int64_t fed, cleared;
    char resp[16];
    size_t resp_len;
} http_inspect_t;

static int fail(http_inspect_t *h, const char *why)
{
    h->base.why = why;
    return -1;
}

static bool is_tchar(int c)
{
    return isalnum(c) || strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* host[:port] from a Host value or an absolute-form authority; 0 or -1. */
static int split_authority(http_inspect_t *h, const char *v, size_t n, char out[MJ_NET_NAME_MAX + 1])
{
    if (n == 0 || n > MJ_NET_NAME_MAX + 6 || v[0] == '[')
        return -1; /* IPv6 literals are not names */
    const char *colon = memchr(v, ':', n);
    size_t hl = colon ? (size_t)(colon - v) : n;
    if (colon) {
        size_t pl = n - hl - 1;
        if (pl == 0 || pl > 5)
            return -1;
        unsigned long p = 0;
        for (size_t i = 0; i < pl; i++) {
            if (!isdigit((unsigned char)colon[1 + i]))
                return -1;
            p = p * 10 + (unsigned long)(colon[1 + i] - '0');
        }
        if (p != h->port)
            return -1;
    }
    char raw[MJ_NET_NAME_MAX + 2];
    if (hl == 0 || hl > MJ_NET_NAME_MAX + 1)
        return -1;
    memcpy(raw, v, hl);
    raw[hl] = '\0';
    return mj_net_name_normalize(raw, out);
}

static bool value_is(const char *v, size_t n, const char *want)
{
    return strlen(want) == n && strncasecmp(v, want, n) == 0;
}

/* Checks one complete head (head[0..len), ending in CRLFCRLF) and sets up its body. */
static int check_head(http_inspect_t *h)
{
    char *p = h->head, *end = h->head + h->head_len;
    /* Every CR is followed by LF and every LF preceded by CR: no bare line ends. */
    for (char *c = p; c < end; c++) {
        if (*c == '\r' && (c + 1 == end || c[1] != '\n'))
            return fail(h, "bare CR in request head");
        if (*c == '\n' && (c == p || c[-1] != '\r'))
            return fail(h, "bare LF in request head");
        if (*c == '\0')
            return fail(h, "NUL in request head");
    }
    char *eol = strstr(p, "\r\n");
    /* Request line: METHOD SP TARGET SP HTTP/1.x */
    char *sp1 = memchr(p, ' ', (size_t)(eol - p));
    if (!sp1 || sp1 == p)
        return fail(h, "bad request line");
    for (char *c = p; c < sp1; c++)
        if (!is_tchar((unsigned char)*c))
            return fail(h, "bad request method");
    size_t mlen = (size_t)(sp1 - p);
    if ((mlen == 3 && memcmp(p, "PRI", 3) == 0))
        return fail(h, "HTTP/2 without TLS is not inspected");
    if (mlen == 7 && memcmp(p, "CONNECT", 7) == 0)
        return fail(h, "CONNECT is not allowed");
    char *target = sp1 + 1;
    char *sp2 = memchr(target, ' ', (size_t)(eol - target));
    if (!sp2 || sp2 == target || memchr(sp2 + 1, ' ', (size_t)(eol - sp2 - 1)))
        return fail(h, "bad request line");
    size_t vlen = (size_t)(eol - sp2 - 1);
    if (!(vlen == 8 && (memcmp(sp2 + 1, "HTTP/1.1", 8) == 0 || memcmp(sp2 + 1, "HTTP/1.0", 8) == 0)))
        return fail(h, "not HTTP/1.0 or HTTP/1.1");
    char target_host[MJ_NET_NAME_MAX + 1] = "";
    if (target[0] != '/' && !(sp2 - target == 1 && target[0] == '*')) {
        /* absolute-form: the server uses this host, not the Host header (RFC 9112 §3.2.2). */
        size_t tl = (size_t)(sp2 - target);
        if (tl < 8 || strncasecmp(target, "http://", 7) != 0)
            return fail(h, "request target is neither a path nor an http:// URL");
        const char *a = target + 7, *ae = a;
        while (ae < sp2 && *ae != '/' && *ae != '?' && *ae != '#')
            ae++;
        if (memchr(a, '@', (size_t)(ae - a)) || split_authority(h, a, (size_t)(ae - a), target_host) < 0)
            return fail(h, "request target names no allowed host form");
    }

    char host[MJ_NET_NAME_MAX + 1] = "";
    int n_host = 0, n_cl = 0, n_te = 0;
    bool chunked = false, upgrade = false;
    uint64_t cl = 0;
    for (char *line = eol + 2; line < end - 2;) {
        char *le = strstr(line, "\r\n");
        if (line[0] == ' ' || line[0] == '\t')
            return fail(h, "obsolete line folding");
        char *colon = memchr(line, ':', (size_t)(le - line));
        if (!colon || colon == line)
            return fail(h, "bad header line");
        for (char *c = line; c < colon; c++)
            if (!is_tchar((unsigned char)*c))
                return fail(h, "bad header name");
        char *v = colon + 1, *ve = le;
        while (v < ve && (*v == ' ' || *v == '\t'))
            v++;
        while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
            ve--;
        size_t nl = (size_t)(colon - line), vl = (size_t)(ve - v);
        if (nl == 4 && strncasecmp(line, "host", 4) == 0) {
            if (++n_host > 1)
                return fail(h, "more than one Host header");
            if (split_authority(h, v, vl, host) < 0)
                return fail(h, "Host is not a host name (with this connection's port)");
        } else if (nl == 14 && strncasecmp(line, "content-length", 14) == 0) {
            if (++n_cl > 1 || vl == 0 || vl > 15)
                return fail(h, "bad or repeated Content-Length");
            cl = 0;
            for (size_t i = 0; i < vl; i++) {
                if (!isdigit((unsigned char)v[i]))
                    return fail(h, "bad Content-Length");
                cl = cl * 10 + (uint64_t)(v[i] - '0');
            }
        } else if (nl == 17 && strncasecmp(line, "transfer-encoding", 17) == 0) {
            if (++n_te > 1 || !value_is(v, vl, "chunked"))
                return fail(h, "Transfer-Encoding other than one 'chunked'");
            chunked = true;
        } else if (nl == 7 && strncasecmp(line, "upgrade", 7) == 0) {
            if (!value_is(v, vl, "websocket"))
                return fail(h, "Upgrade other than websocket (h2c is not inspected)");
            upgrade = true;
        } else if (nl == 14 && strncasecmp(line, "http2-settings", 14) == 0) {
            return fail(h, "HTTP2-Settings: h2c is not inspected");
        }
        line = le + 2;
    }
    if (n_host == 0)
        return fail(h, "request without a Host header");
    if (n_cl && n_te)
        return fail(h, "both Content-Length and Transfer-Encoding");
    if (target_host[0] && strcmp(target_host, host) != 0)
        return fail(h, "request target and Host name different hosts");
    snprintf(h->base.host, sizeof(h->base.host), "%s", host);
    if (h->base.check(h->base.ctx, host) < 0)
        return fail(h, "Host not allowed for this address and port");
    if (upgrade && h->requests > 0)
        return fail(h, "upgrade after other requests on one connection");
    h->requests++;
    if (upgrade)
        h->state = ST_AWAIT_101;
    else if (chunked)
        h->state = ST_CHUNK_SIZE;
    else if (cl > 0) {
        h->state = ST_BODY;
        h->left = cl;
    } else
        h->state = ST_HEAD;
    if (upgrade && (chunked || cl))
        return fail(h, "upgrade request with a body");
    return 0;
}

/* A chunk-size line (hex, optional ";ext"), without its CRLF. */
static int chunk_size_line(http_inspect_t *h)
{
    uint64_t v = 0;
    size_t i = 0;
    for (; i < h->line_len && isxdigit((unsigned char)h->line[i]); i++) {
        if (i >= 15)
            return fail(h, "chunk size too large");
        int c = tolower((unsigned char)h->line[i]);
        v = v * 16 + (uint64_t)(isdigit(c) ? c - '0' : c - 'a' + 10);
    }
    if (i == 0 || (i < h->line_len && h->line[i] != ';'))
        return fail(h, "bad chunk size");
    h->left = v;
    h->state = v == 0 ? ST_TRAILER : ST_CHUNK_DATA;
    return 0;
}

/* Reads a CRLF-terminated line into h->line byte by byte: 1 when complete, 0 more, -1 bad. */
static int line_byte(http_inspect_t *h, uint8_t c)
{
    if (h->line_len > 0 && h->line[h->line_len - 1] == '\r') {
        if (c != '\n')
            return fail(h, "bare CR in chunked framing");
        h->line_len--;
        return 1;
    }
    if (c == '\n')
        return fail(h, "bare LF in chunked framing");
    if (h->line_len + 1 >= sizeof(h->line))
        return fail(h, "chunk line too long");
    h->line[h->line_len++] = (char)c;
    return 0;
}

/* Body bytes (Content-Length or a chunk's data) pass uninspected: of the avail bytes from the
 * current one on, takes what is left of the body, counts them fed and cleared, moves to next once
 * the body is done, and returns how many more than the current byte it took (the caller's loop
 * steps over the current one). */
static size_t pass_data(http_inspect_t *h, size_t avail, http_state_t next)
{
    size_t take = avail;
    if (take > h->left)
        take = (size_t)h->left;
    h->left -= take;
    h->fed += (int64_t)take - 1;
    h->cleared = h->fed;
    if (h->left == 0)
        h->state = next;
    return take - 1;
}

static int64_t http_scan_out(mj_net_inspect_t *in, const uint8_t *data, size_t len)
{
    http_inspect_t *h = (http_inspect_t *)in;
    for (size_t i = 0; i < len; i++) {
        uint8_t c = data[i];
        h->fed++;
        switch (h->state) {
        case ST_HEAD:
            if (h->head_len == MJ_HTTP_HEAD_MAX)
                return fail(h, "request head larger than 16 KiB");
            if (h->head_len == 0 && c != '\r' && !is_tchar(c))
                return fail(h, "not an HTTP/1 request"); /* e.g. a TLS ClientHello on port 80 */
            h->head[h->head_len++] = (char)c;
            h->head[h->head_len] = '\0';
            if (h->head_len == 2 && memcmp(h->head, "\r\n", 2) == 0) {
                h->head_len = 0; /* RFC 9112 §2.2: an empty line before a request is ignored */
                h->cleared = h->fed;
            } else if (h->head_len >= 4 && memcmp(h->head + h->head_len - 4, "\r\n\r\n", 4) == 0) {
                if (check_head(h) < 0)
                    return -1;
                h->head_len = 0;
                h->cleared = h->fed;
            }
            break;
        case ST_BODY:
            i += pass_data(h, len - i, ST_HEAD);
            break;
        case ST_CHUNK_SIZE: {
            int r = line_byte(h, c);
            if (r < 0)
                return -1;
            h->cleared = h->fed;
            if (r == 1) {
                if (chunk_size_line(h) < 0)
                    return -1;
                h->line_len = 0;
            }
            break;
        }
        case ST_CHUNK_DATA:
            i += pass_data(h, len - i, ST_CHUNK_CRLF);
            break;
        case ST_CHUNK_CRLF: {
            int r = line_byte(h, c);
            if (r < 0)
                return -1;
            h->cleared = h->fed;
            if (r == 1) {
                if (h->line_len != 0)
                    return fail(h, "chunk data longer than its size");
                h->state = ST_CHUNK_SIZE;
            }
            break;
        }
        case ST_TRAILER: {
            int r = line_byte(h, c);
            if (r < 0)
                return -1;
            h->cleared = h->fed;
            if (r == 1) {
                bool empty = h->line_len == 0;
                h->line_len = 0;
                if (empty)
                    h->state = ST_HEAD;
            }
            break;
        }
        case ST_AWAIT_101:
            break; /* held: not cleared until the server switched protocols */
        case ST_OPAQUE:
            h->cleared = h->fed;
            break;
        case ST_NO_MORE:
            return fail(h, "request after a refused upgrade");
        }
    }
    return h->cleared;
}

static int http_scan_in(mj_net_inspect_t *in, const uint8_t *data, size_t len)
{
    http_inspect_t *h = (http_inspect_t *)in;
    if (h->state != ST_AWAIT_101 || !data)
        return 0;
    size_t take = sizeof(h->resp) - 1 - h->resp_len;
    if (take > len)
        take = len;
    memcpy(h->resp + h->resp_len, data, take);
    h->resp_len += take;
    h->resp[h->resp_len] = '\0';
    if (h->resp_len < 13)
        return 0;
    if (memcmp(h->resp, "HTTP/1.1 101 ", 13) == 0) {
        h->state = ST_OPAQUE;
        h->cleared = h->fed; /* what the client sent meanwhile belongs to the new protocol */
    } else {
        h->state = ST_NO_MORE;
        if (h->fed > h->cleared)
            return fail(h, "request after a refused upgrade");
    }
    return 0;
}

static void http_destroy(mj_net_inspect_t *in)
{
    free(in);
}

mj_net_inspect_t *mj_http_inspector_new(uint16_t port, mj_net_host_check_fn check, void *ctx)
{
    http_inspect_t *h = mj_xcalloc(1, sizeof(*h));
    h->port = port;
    h->state = ST_HEAD;
    h->base.scan_out = http_scan_out;
    h->base.scan_in = http_scan_in;
    h->base.destroy = http_destroy;
    h->base.check = check;
    h->base.ctx = ctx;
    return &h->base;
}

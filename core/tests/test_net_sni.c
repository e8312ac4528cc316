/* test_net_sni.c — what moonjail-net reads of a client's first bytes: the TLS ClientHello's server
 * name (core/src/net/sni.c) and every HTTP/1 request's Host (http.c), with truncated and
 * malicious inputs. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mjtest.h"
#include "net/http.h"
#include "net/sni.h"

typedef struct {
    uint8_t b[40000];
    size_t n;
} buf_t;

static void put(buf_t *m, const void *p, size_t n)
{
    memcpy(m->b + m->n, p, n);
    m->n += n;
}
static void u8(buf_t *m, unsigned v)
{
    m->b[m->n++] = (uint8_t)v;
}
static void u16(buf_t *m, unsigned v)
{
    u8(m, v >> 8);
    u8(m, v & 0xff);
}

/* Extensions given raw; sni NULL leaves server_name out. */
static void hello_body(buf_t *h, const char *sni, const buf_t *extra)
{
    h->n = 0;
    u16(h, 0x0303);
    for (int i = 0; i < 32; i++)
        u8(h, i);
    u8(h, 0);
    u16(h, 4);
    u16(h, 0x1301);
    u16(h, 0xc02f);
    u8(h, 1);
    u8(h, 0);
    buf_t ext = {.n = 0};
    if (sni) {
        size_t l = strlen(sni);
        u16(&ext, 0);
        u16(&ext, (unsigned)(l + 5));
        u16(&ext, (unsigned)(l + 3));
        u8(&ext, 0);
        u16(&ext, (unsigned)l);
        put(&ext, sni, l);
    }
    if (extra)
        put(&ext, extra->b, extra->n);
    u16(h, (unsigned)ext.n);
    put(h, ext.b, ext.n);
}

/* Wraps a ClientHello body in a handshake header and records of at most rec bytes. */
static void records(buf_t *out, const buf_t *body, size_t rec)
{
    buf_t hs = {.n = 0};
    u8(&hs, 1);
    u8(&hs, (unsigned)(body->n >> 16));
    u16(&hs, (unsigned)(body->n & 0xffff));
    put(&hs, body->b, body->n);
    out->n = 0;
    for (size_t off = 0; off < hs.n; off += rec) {
        size_t l = hs.n - off < rec ? hs.n - off : rec;
        u8(out, 22);
        u16(out, 0x0301);
        u16(out, (unsigned)l);
        put(out, hs.b + off, l);
    }
}

static mj_sni_status_t sni_of(const buf_t *wire, char *name, const char **why)
{
    uint8_t *heap = malloc(wire->n ? wire->n : 1);
    memcpy(heap, wire->b, wire->n);
    mj_sni_status_t st = mj_tls_client_hello_sni(heap, wire->n, name, why);
    free(heap);
    return st;
}

MJ_TEST(reads_the_server_name)
{
    buf_t body, wire;
    hello_body(&body, "PyPI.org", NULL);
    records(&wire, &body, 16384);
    char name[254];
    const char *why;
    CHECK_EQ_INT(sni_of(&wire, name, &why), MJ_SNI_OK);
    CHECK_STREQ(name, "pypi.org");
}

MJ_TEST(every_truncation_asks_for_more)
{
    buf_t body, wire;
    hello_body(&body, "pypi.org", NULL);
    records(&wire, &body, 16384);
    char name[254];
    const char *why;
    for (size_t n = 0; n < wire.n; n++) {
        buf_t part = wire;
        part.n = n;
        if (sni_of(&part, name, &why) != MJ_SNI_NEED_MORE)
            MJT_FAIL("prefix of %zu bytes: not NEED_MORE (%s)", n, why ? why : "ok");
    }
}

MJ_TEST(reassembles_tiny_records)
{
    buf_t body, wire;
    hello_body(&body, "files.pythonhosted.org", NULL);
    records(&wire, &body, 7);
    char name[254];
    const char *why;
    CHECK_EQ_INT(sni_of(&wire, name, &why), MJ_SNI_OK);
    CHECK_STREQ(name, "files.pythonhosted.org");
}

MJ_TEST(refuses_what_it_cannot_check)
{
    char name[254];
    const char *why;
    buf_t body, wire, ext;
    /* no server name */
    hello_body(&body, NULL, NULL);
    records(&wire, &body, 16384);
    CHECK_EQ_INT(sni_of(&wire, name, &why), MJ_SNI_BAD);
    /* an encrypted ClientHello (ECH, and GREASE ECH looks the same) */
    ext.n = 0;
    u16(&ext, 0xfe0d);
    u16(&ext, 2);
    u16(&ext, 0);
    hello_body(&body, "pypi.org", &ext);
    records(&wire, &body, 16384);
    CHECK_EQ_INT(sni_of(&wire, name, &why), MJ_SNI_BAD);
    CHECK(strstr(why, "ECH") != NULL);
    /* two server_name extensions (the second would name another host) */
    ext.n = 0;
    u16(&ext, 0);
    u16(&ext, 13);
    u16(&ext, 11);
    u8(&ext, 0);
    u16(&ext, 8);
    put(&ext, "evil.com", 8);
    hello_body(&body, "pypi.org", &ext);
    records(&wire, &body, 16384);
    CHECK_EQ_INT(sni_of(&wire, name, &why), MJ_SNI_BAD);
    /* an IP literal, a trailing dot, a NUL inside, bytes outside host syntax */
    static const char *const names[] = {"192.0.2.1", "pypi.org.", "pypi.org\0.evil", "pyp i.org", "a..b"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        hello_body(&body, names[i], NULL);
        if (i == 2) { /* a NUL: build by hand, strlen stops at it */
            buf_t e2 = {.n = 0};
            u16(&e2, 0);
            u16(&e2, 14 + 5);
            u16(&e2, 14 + 3);
            u8(&e2, 0);
            u16(&e2, 14);
            put(&e2, "pypi.org\0.evil", 14);
            hello_body(&body, NULL, &e2);
        }
        records(&wire, &body, 16384);
        if (sni_of(&wire, name, &why) != MJ_SNI_BAD)
            MJT_FAIL("server name #%zu accepted as %s", i, name);
    }
    /* not TLS at all */
    wire.n = 0;
    put(&wire, "GET / HTTP/1.1\r\n", 16);
    CHECK_EQ_INT(sni_of(&wire, name, &why), MJ_SNI_BAD);
    /* SSLv2-style hello */
    wire.n = 0;
    put(&wire, "\x80\x2e\x01\x00\x02", 5);
    CHECK_EQ_INT(sni_of(&wire, name, &why), MJ_SNI_BAD);
    /* an alert record between the fragments */
    hello_body(&body, "pypi.org", NULL);
    records(&wire, &body, 20);
    wire.b[25] = 21;
    CHECK_EQ_INT(sni_of(&wire, name, &why), MJ_SNI_BAD);
    /* a handshake length over 16 KiB */
    wire.n = 0;
    put(&wire, "\x16\x03\x01\x00\x04\x01\x01\x00\x00", 9);
    CHECK_EQ_INT(sni_of(&wire, name, &why), MJ_SNI_BAD);
}

MJ_TEST(survives_random_mutations)
{
    buf_t body, wire;
    hello_body(&body, "pypi.org", NULL);
    records(&wire, &body, 40);
    uint32_t seed = 99;
    char name[254];
    const char *why;
    for (int iter = 0; iter < 100000; iter++) {
        buf_t m = wire;
        for (int f = 0; f < 3; f++) {
            seed = seed * 1103515245u + 12345u;
            m.b[(seed >> 8) % m.n] = (uint8_t)(seed >> 16);
        }
        if (seed % 3 == 0)
            m.n = (seed >> 4) % m.n;
        mj_sni_status_t st = sni_of(&m, name, &why);
        if (st == MJ_SNI_OK)
            CHECK(strlen(name) > 0 && strlen(name) <= MJ_NET_NAME_MAX);
    }
}

/* ---------------------------------------------------------------- HTTP */

typedef struct {
    const char *allowed;
    int calls;
    char last[254];
} checker_t;

static int check_host(void *ctx, const char *host)
{
    checker_t *c = ctx;
    c->calls++;
    snprintf(c->last, sizeof(c->last), "%s", host);
    return strcmp(host, c->allowed) == 0 ? 0 : -1;
}

/* Feeds s in pieces of step bytes; returns the final cleared count or -1. */
static int64_t feed(mj_net_inspect_t *in, const char *s, size_t step)
{
    size_t n = strlen(s);
    int64_t r = 0;
    for (size_t off = 0; off < n; off += step) {
        size_t l = n - off < step ? n - off : step;
        r = in->scan_out(in, (const uint8_t *)s + off, l);
        if (r < 0)
            return -1;
    }
    return r;
}

MJ_TEST(http_checks_every_request)
{
    static const char two[] = "GET / HTTP/1.1\r\nHost: pypi.org\r\n\r\nGET / HTTP/1.1\r\nHost: evil.com\r\n\r\n";
    for (size_t step = 1; step <= sizeof(two); step++) {
        checker_t c = {.allowed = "pypi.org"};
        mj_net_inspect_t *in = mj_http_inspector_new(80, check_host, &c);
        int64_t r = feed(in, two, step);
        CHECK_EQ_INT((int)r, -1);
        CHECK_EQ_INT(c.calls, 2);
        CHECK_STREQ(c.last, "evil.com");
        in->destroy(in);
    }
}

MJ_TEST(http_holds_a_head_until_its_host_is_checked)
{
    checker_t c = {.allowed = "pypi.org"};
    mj_net_inspect_t *in = mj_http_inspector_new(80, check_host, &c);
    CHECK_EQ_INT((int)feed(in, "GET / HTTP/1.1\r\nHost: pypi.org\r\n", 64), 0);
    CHECK_EQ_INT(c.calls, 0);
    CHECK_EQ_INT((int)feed(in, "\r\n", 64), 34);
    CHECK_EQ_INT(c.calls, 1);
    in->destroy(in);
}

MJ_TEST(http_frames_bodies)
{
    static const char req[] =
        "POST /a HTTP/1.1\r\nHost: pypi.org\r\nContent-Length: 28\r\n\r\n"
        "GET / HTTP/1.1\r\nHost: evil\r\n"                                      /* body, not a request */
        "POST /b HTTP/1.1\r\nHost: pypi.org:80\r\nTransfer-Encoding: chunked\r\n\r\n"
        "1c;ext=1\r\nGET / HTTP/1.1\r\nHost: evil\r\n\r\n0\r\nX-Trailer: 1\r\n\r\n"
        "GET /c HTTP/1.1\r\nHost: PYPI.org\r\n\r\n";
    for (size_t step = 1; step < 8; step++) {
        checker_t c = {.allowed = "pypi.org"};
        mj_net_inspect_t *in = mj_http_inspector_new(80, check_host, &c);
        int64_t r = feed(in, req, step);
        if (r != (int64_t)strlen(req))
            MJT_FAIL("step %zu: cleared %lld of %zu (%s)", step, (long long)r, strlen(req), in->why ? in->why : "");
        CHECK_EQ_INT(c.calls, 3);
        in->destroy(in);
    }
}

MJ_TEST(http_refuses_ambiguous_framing_and_other_hosts)
{
    static const char *const bad[] = {
        "GET / HTTP/1.1\r\nHost: evil.com\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: pypi.org\r\nHost: evil.com\r\n\r\n",
        "GET / HTTP/1.1\r\n\r\n",
        "GET http://evil.com/ HTTP/1.1\r\nHost: pypi.org\r\n\r\n",
        "GET http://user@pypi.org/ HTTP/1.1\r\nHost: pypi.org\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: pypi.org:8080\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: 192.0.2.1\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: [2001:db8::1]\r\n\r\n",
        "GET / HTTP/1.1\nHost: pypi.org\r\n\r\n",
        "GET / HTTP/1.1\r\nX: a\rHost: pypi.org\r\n\r\n",
        "GET / HTTP/1.1\r\nHost : pypi.org\r\n\r\n",
        "GET / HTTP/1.1\r\nX: 1\r\n Host: pypi.org\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: pypi.org\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: pypi.org\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: pypi.org\r\nContent-Length: -1\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: pypi.org\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
        "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: pypi.org\r\nUpgrade: h2c\r\nHTTP2-Settings: AA\r\n\r\n",
        "CONNECT evil.com:443 HTTP/1.1\r\nHost: evil.com:443\r\n\r\n",
        "GET / HTTP/2.0\r\nHost: pypi.org\r\n\r\n",
        "\x16\x03\x01\x00\x05\x01\x00\x00\x01\x00\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: pypi.org\r\nTransfer-Encoding: chunked\r\n\r\nz\r\n",
        "POST / HTTP/1.1\r\nHost: pypi.org\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcd\r\n",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        checker_t c = {.allowed = "pypi.org"};
        mj_net_inspect_t *in = mj_http_inspector_new(80, check_host, &c);
        if (feed(in, bad[i], 3) != -1)
            MJT_FAIL("accepted #%zu: %s", i, bad[i]);
        CHECK(in->why != NULL);
        in->destroy(in);
    }
}

MJ_TEST(http_head_size_is_bounded)
{
    checker_t c = {.allowed = "pypi.org"};
    mj_net_inspect_t *in = mj_http_inspector_new(80, check_host, &c);
    char *big = malloc(40000);
    strcpy(big, "GET / HTTP/1.1\r\nX: ");
    memset(big + strlen(big), 'a', 39000);
    big[39000 + 19] = '\0';
    CHECK_EQ_INT((int)feed(in, big, 4096), -1);
    free(big);
    in->destroy(in);
}

MJ_TEST(http_websocket_upgrade_needs_the_server_to_switch)
{
    static const char up[] = "GET /ws HTTP/1.1\r\nHost: pypi.org\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n";
    checker_t c = {.allowed = "pypi.org"};
    mj_net_inspect_t *in = mj_http_inspector_new(80, check_host, &c);
    int64_t head = feed(in, up, 5);
    CHECK_EQ_INT((int)head, (int)strlen(up));
    /* Frames sent before the answer are held. */
    CHECK_EQ_INT((int)in->scan_out(in, (const uint8_t *)"\x81\x05hello", 7), (int)head);
    CHECK_EQ_INT(in->scan_in(in, (const uint8_t *)"HTTP/1.1 101 Switching Protocols\r\n", 34), 0);
    CHECK_EQ_INT((int)in->scan_out(in, NULL, 0), (int)head + 7);
    CHECK_EQ_INT((int)in->scan_out(in, (const uint8_t *)"GET / HTTP/1.1\r\nHost: evil\r\n\r\n", 30), (int)head + 37);
    in->destroy(in);

    /* A refused upgrade: the connection carries no further request. */
    in = mj_http_inspector_new(80, check_host, &c);
    feed(in, up, 64);
    CHECK_EQ_INT(in->scan_in(in, (const uint8_t *)"HTTP/1.1 200 OK\r\n", 17), 0);
    CHECK_EQ_INT((int)feed(in, "GET / HTTP/1.1\r\nHost: evil.com\r\n\r\n", 64), -1);
    in->destroy(in);

    /* An upgrade after another request (its response could be taken for the 101). */
    in = mj_http_inspector_new(80, check_host, &c);
    CHECK_EQ_INT((int)feed(in, "GET / HTTP/1.1\r\nHost: pypi.org\r\n\r\n", 64), 34);
    CHECK_EQ_INT((int)feed(in, up, 64), -1);
    in->destroy(in);
}

MJ_TEST(tls_inspector_holds_then_passes)
{
    buf_t body, wire;
    hello_body(&body, "pypi.org", NULL);
    records(&wire, &body, 100);
    checker_t c = {.allowed = "pypi.org"};
    mj_net_inspect_t *in = mj_tls_inspector_new(check_host, &c);
    int64_t r = 0;
    for (size_t off = 0; off < wire.n; off += 50) {
        size_t l = wire.n - off < 50 ? wire.n - off : 50;
        r = in->scan_out(in, wire.b + off, l);
        if (off + l < wire.n)
            CHECK_EQ_INT((int)r, 0);
    }
    CHECK_EQ_INT((int)r, (int)wire.n);
    CHECK_EQ_INT((int)in->scan_out(in, (const uint8_t *)"xyz", 3), (int)wire.n + 3);
    in->destroy(in);
    c.allowed = "other.org";
    in = mj_tls_inspector_new(check_host, &c);
    CHECK_EQ_INT((int)in->scan_out(in, wire.b, wire.n), -1);
    CHECK_STREQ(in->host, "pypi.org");
    in->destroy(in);
}

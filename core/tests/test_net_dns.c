/* test_net_dns.c — moonjail-net's DNS codec against crafted and hostile packets
 * (core/src/net/dnswire.c): queries from a sandbox, responses from upstream, built answers. */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mjtest.h"
#include "net/dnswire.h"

/* A small message builder for the tests. */
typedef struct {
    uint8_t b[2048];
    size_t n;
} msg_t;

static void u8(msg_t *m, unsigned v)
{
    m->b[m->n++] = (uint8_t)v;
}
static void u16(msg_t *m, unsigned v)
{
    u8(m, v >> 8);
    u8(m, v & 0xff);
}
static void u32(msg_t *m, uint32_t v)
{
    u16(m, v >> 16);
    u16(m, v & 0xffff);
}
static void name(msg_t *m, const char *s)
{
    while (*s) {
        const char *dot = strchr(s, '.');
        size_t l = dot ? (size_t)(dot - s) : strlen(s);
        u8(m, (unsigned)l);
        memcpy(m->b + m->n, s, l);
        m->n += l;
        s += l;
        if (*s)
            s++;
    }
    u8(m, 0);
}
static void header(msg_t *m, unsigned id, unsigned flags, unsigned qd, unsigned an, unsigned ns, unsigned ar)
{
    m->n = 0;
    u16(m, id);
    u16(m, flags);
    u16(m, qd);
    u16(m, an);
    u16(m, ns);
    u16(m, ar);
}
static void query(msg_t *m, const char *qname, unsigned qtype)
{
    header(m, 0x1234, 0x0100, 1, 0, 0, 0);
    name(m, qname);
    u16(m, qtype);
    u16(m, 1);
}
static void rr_a(msg_t *m, unsigned owner_ptr, uint32_t ttl, const char *ip)
{
    u16(m, 0xc000 | owner_ptr);
    u16(m, 1);
    u16(m, 1);
    u32(m, ttl);
    u16(m, 4);
    inet_pton(AF_INET, ip, m->b + m->n);
    m->n += 4;
}

MJ_TEST(parses_a_plain_query)
{
    msg_t m;
    query(&m, "PyPI.org", MJ_DNS_TYPE_A);
    mj_dns_query_t q;
    CHECK_EQ_INT(mj_dns_parse_query(m.b, m.n, &q), 0);
    CHECK_EQ_INT(q.id, 0x1234);
    CHECK(q.name_ok);
    CHECK_STREQ(q.name, "pypi.org");
    CHECK_EQ_INT(q.qtype, MJ_DNS_TYPE_A);
    CHECK(q.rd);
    CHECK(!q.edns);
}

MJ_TEST(parses_edns_and_refuses_junk_after_it)
{
    msg_t m;
    query(&m, "a.test", MJ_DNS_TYPE_AAAA);
    m.b[11] = 1; /* arcount */
    u8(&m, 0);
    u16(&m, 41);
    u16(&m, 4096);
    u32(&m, 0);
    u16(&m, 0);
    mj_dns_query_t q;
    CHECK_EQ_INT(mj_dns_parse_query(m.b, m.n, &q), 0);
    CHECK(q.edns);
    CHECK_EQ_INT(q.edns_size, 4096);
    u8(&m, 0);
    CHECK_EQ_INT(mj_dns_parse_query(m.b, m.n, &q), MJ_DNS_RCODE_FORMERR);
}

MJ_TEST(hostile_queries)
{
    msg_t m = {.n = 0};
    mj_dns_query_t q;
    CHECK_EQ_INT(mj_dns_parse_query(m.b, 0, &q), -1);
    CHECK_EQ_INT(mj_dns_parse_query((const uint8_t *)"\x12\x34\x01", 3, &q), -1);
    /* A response aimed at the stub is dropped, never answered. */
    query(&m, "a.test", 1);
    m.b[2] |= 0x80;
    CHECK_EQ_INT(mj_dns_parse_query(m.b, m.n, &q), -1);
    /* Two questions, an answer section, other opcodes, other classes. */
    query(&m, "a.test", 1);
    m.b[5] = 2;
    CHECK_EQ_INT(mj_dns_parse_query(m.b, m.n, &q), MJ_DNS_RCODE_FORMERR);
    query(&m, "a.test", 1);
    m.b[7] = 1;
    CHECK_EQ_INT(mj_dns_parse_query(m.b, m.n, &q), MJ_DNS_RCODE_FORMERR);
    query(&m, "a.test", 1);
    m.b[2] |= 0x28; /* opcode 5 (UPDATE) */
    CHECK_EQ_INT(mj_dns_parse_query(m.b, m.n, &q), MJ_DNS_RCODE_NOTIMP);
    query(&m, "a.test", 1);
    m.b[m.n - 1] = 3; /* CHAOS */
    CHECK_EQ_INT(mj_dns_parse_query(m.b, m.n, &q), MJ_DNS_RCODE_NOTIMP);
    /* Compression in a query's question: it could only point into the header. */
    header(&m, 1, 0x100, 1, 0, 0, 0);
    u16(&m, 0xc000 | 2);
    u16(&m, 1);
    u16(&m, 1);
    CHECK_EQ_INT(mj_dns_parse_query(m.b, m.n, &q), MJ_DNS_RCODE_FORMERR);
    /* A label running past the end; a label length with the reserved bits. */
    header(&m, 1, 0x100, 1, 0, 0, 0);
    u8(&m, 60);
    u8(&m, 'a');
    CHECK_EQ_INT(mj_dns_parse_query(m.b, m.n, &q), MJ_DNS_RCODE_FORMERR);
    header(&m, 1, 0x100, 1, 0, 0, 0);
    u8(&m, 0x41);
    u8(&m, 0);
    u16(&m, 1);
    u16(&m, 1);
    CHECK_EQ_INT(mj_dns_parse_query(m.b, m.n, &q), MJ_DNS_RCODE_FORMERR);
    /* A name longer than 255 octets. */
    header(&m, 1, 0x100, 1, 0, 0, 0);
    for (int i = 0; i < 5; i++) {
        u8(&m, 63);
        memset(m.b + m.n, 'a', 63);
        m.n += 63;
    }
    u8(&m, 0);
    u16(&m, 1);
    u16(&m, 1);
    CHECK_EQ_INT(mj_dns_parse_query(m.b, m.n, &q), MJ_DNS_RCODE_FORMERR);
}

MJ_TEST(names_outside_host_syntax_are_flagged)
{
    msg_t m;
    mj_dns_query_t q;
    /* A label with a dot inside it: "evil.com" + "pypi" + "org" must not read as a subdomain. */
    header(&m, 7, 0x100, 1, 0, 0, 0);
    u8(&m, 8);
    memcpy(m.b + m.n, "evil.com", 8);
    m.n += 8;
    name(&m, "pypi.org");
    u16(&m, 1);
    u16(&m, 1);
    CHECK_EQ_INT(mj_dns_parse_query(m.b, m.n, &q), 0);
    CHECK(!q.name_ok);
    CHECK(strchr(q.name, '?') != NULL);
    query(&m, "a\x01" "b.test", 1);
    CHECK_EQ_INT(mj_dns_parse_query(m.b, m.n, &q), 0);
    CHECK(!q.name_ok);
    /* The root name. */
    header(&m, 7, 0x100, 1, 0, 0, 0);
    u8(&m, 0);
    u16(&m, 2);
    u16(&m, 1);
    CHECK_EQ_INT(mj_dns_parse_query(m.b, m.n, &q), 0);
    CHECK(!q.name_ok);
}

static void response_head(msg_t *m, const char *qname, unsigned qtype, unsigned an)
{
    header(m, 0x4242, 0x8180, 1, an, 0, 0);
    name(m, qname);
    u16(m, qtype);
    u16(m, 1);
}

MJ_TEST(follows_cname_chains_and_keeps_the_end)
{
    msg_t m;
    response_head(&m, "www.test", 1, 3);
    /* www.test CNAME cdn.test ; cdn.test A 192.0.2.1 ; other.test A 192.0.2.99 (not on the chain) */
    u16(&m, 0xc00c);
    u16(&m, 5);
    u16(&m, 1);
    u32(&m, 300);
    size_t rdlen_at = m.n;
    u16(&m, 0);
    size_t cname_at = m.n;
    name(&m, "cdn.test");
    m.b[rdlen_at + 1] = (uint8_t)(m.n - cname_at);
    rr_a(&m, (unsigned)cname_at, 60, "192.0.2.1");
    name(&m, "other.test");
    u16(&m, 1);
    u16(&m, 1);
    u32(&m, 60);
    u16(&m, 4);
    u32(&m, 0xc0000263);
    mj_dns_response_t r;
    CHECK_EQ_INT(mj_dns_parse_response(m.b, m.n, 0x4242, "www.test", 1, &r), 0);
    CHECK_EQ_INT(r.rcode, 0);
    CHECK_EQ_INT((int)r.n_addrs, 1);
    char buf[MJ_NET_ADDRSTRLEN];
    mj_net_addr_format(&r.addrs[0].addr, buf);
    CHECK_STREQ(buf, "192.0.2.1");
    CHECK_EQ_INT((int)r.min_ttl, 60);
}

MJ_TEST(responses_must_answer_the_question_asked)
{
    msg_t m;
    mj_dns_response_t r;
    response_head(&m, "www.test", 1, 1);
    rr_a(&m, 12, 60, "192.0.2.1");
    CHECK_EQ_INT(mj_dns_parse_response(m.b, m.n, 0x4243, "www.test", 1, &r), -1); /* id */
    CHECK_EQ_INT(mj_dns_parse_response(m.b, m.n, 0x4242, "www2.test", 1, &r), -1); /* name */
    CHECK_EQ_INT(mj_dns_parse_response(m.b, m.n, 0x4242, "www.test", 28, &r), -1); /* type */
    CHECK_EQ_INT(mj_dns_parse_response(m.b, m.n - 1, 0x4242, "www.test", 1, &r), -1); /* short */
    CHECK_EQ_INT(mj_dns_parse_response(m.b, m.n, 0x4242, "www.test", 1, &r), 0);
    /* An A record with 5 bytes of data. */
    m.b[m.n - 5] = 5;
    m.b[m.n++] = 0;
    CHECK_EQ_INT(mj_dns_parse_response(m.b, m.n, 0x4242, "www.test", 1, &r), -1);
}

MJ_TEST(compression_loops_and_forward_pointers_are_malformed)
{
    msg_t m;
    mj_dns_response_t r;
    response_head(&m, "www.test", 1, 1);
    size_t at = m.n;
    u16(&m, 0xc000 | (unsigned)at); /* points at itself */
    u16(&m, 1);
    u16(&m, 1);
    u32(&m, 1);
    u16(&m, 4);
    u32(&m, 0x01020304);
    CHECK_EQ_INT(mj_dns_parse_response(m.b, m.n, 0x4242, "www.test", 1, &r), -1);
    m.b[at + 1] = (uint8_t)(at + 2); /* forward */
    CHECK_EQ_INT(mj_dns_parse_response(m.b, m.n, 0x4242, "www.test", 1, &r), -1);
    m.b[at + 1] = 3; /* into the header */
    CHECK_EQ_INT(mj_dns_parse_response(m.b, m.n, 0x4242, "www.test", 1, &r), -1);
}

MJ_TEST(cname_loops_end)
{
    msg_t m;
    mj_dns_response_t r;
    response_head(&m, "a.test", 1, 2);
    /* a.test CNAME b.test ; b.test CNAME a.test */
    u16(&m, 0xc00c);
    u16(&m, 5);
    u16(&m, 1);
    u32(&m, 5);
    u16(&m, 8);
    size_t b_at = m.n;
    name(&m, "b.test");
    u16(&m, 0xc000 | (unsigned)b_at);
    u16(&m, 5);
    u16(&m, 1);
    u32(&m, 5);
    u16(&m, 2);
    u16(&m, 0xc00c);
    CHECK_EQ_INT(mj_dns_parse_response(m.b, m.n, 0x4242, "a.test", 1, &r), -1);
}

MJ_TEST(builds_queries_the_parser_reads_back)
{
    uint8_t buf[512];
    int n = mj_dns_build_query(0xbeef, "files.pythonhosted.org", MJ_DNS_TYPE_AAAA, buf, sizeof(buf));
    CHECK(n > 0);
    mj_dns_query_t q;
    CHECK_EQ_INT(mj_dns_parse_query(buf, (size_t)n, &q), 0);
    CHECK_STREQ(q.name, "files.pythonhosted.org");
    CHECK_EQ_INT(q.qtype, MJ_DNS_TYPE_AAAA);
    CHECK(q.edns);
    CHECK_EQ_INT(mj_dns_build_query(1, "a..b", 1, buf, sizeof(buf)), -1);
    CHECK_EQ_INT(mj_dns_build_query(1, "a.test", 1, buf, 20), -1);
}

MJ_TEST(builds_answers_and_truncates_whole)
{
    msg_t m;
    query(&m, "www.test", MJ_DNS_TYPE_A);
    mj_dns_query_t q;
    CHECK_EQ_INT(mj_dns_parse_query(m.b, m.n, &q), 0);
    mj_net_addr_t addrs[40];
    for (int i = 0; i < 40; i++) {
        char s[32];
        snprintf(s, sizeof(s), "192.0.2.%d", i + 1);
        mj_net_addr_parse(s, &addrs[i]);
    }
    mj_net_addr_parse("2001:db8::1", &addrs[3]); /* not an A: left out */
    uint8_t buf[1500];
    int n = mj_dns_build_reply(&q, 0, addrs, 3, 30, buf, 512);
    CHECK(n > 0);
    mj_dns_response_t r;
    CHECK_EQ_INT(mj_dns_parse_response(buf, (size_t)n, 0x1234, "www.test", 1, &r), 0);
    CHECK_EQ_INT((int)r.n_addrs, 3);
    CHECK_EQ_INT((int)r.min_ttl, 30);
    n = mj_dns_build_reply(&q, 0, addrs, 40, 30, buf, 512);
    CHECK(n > 0 && n <= 512);
    CHECK(mj_dns_parse_response(buf, (size_t)n, 0x1234, "www.test", 1, &r) == 0);
    CHECK(r.truncated);
    CHECK_EQ_INT((int)r.n_addrs, 0);
    n = mj_dns_build_reply(&q, MJ_DNS_RCODE_REFUSED, addrs, 3, 30, buf, 512);
    CHECK(mj_dns_parse_response(buf, (size_t)n, 0x1234, "www.test", 1, &r) == 0);
    CHECK_EQ_INT(r.rcode, MJ_DNS_RCODE_REFUSED);
    CHECK_EQ_INT((int)r.n_addrs, 0);
}

/* Mutations of valid messages never crash or read out of bounds (run under ASan in the Asan lane). */
MJ_TEST(survives_random_mutations)
{
    msg_t m;
    response_head(&m, "www.test", 1, 2);
    rr_a(&m, 12, 60, "192.0.2.1");
    rr_a(&m, 12, 60, "192.0.2.2");
    uint32_t seed = 12345;
    for (int iter = 0; iter < 200000; iter++) {
        uint8_t b[sizeof(m.b)];
        size_t n = m.n;
        memcpy(b, m.b, n);
        int flips = 1 + (int)(seed % 4);
        for (int f = 0; f < flips; f++) {
            seed = seed * 1103515245u + 12345u;
            b[(seed >> 8) % n] = (uint8_t)(seed >> 16);
        }
        seed = seed * 1103515245u + 12345u;
        if (seed % 5 == 0)
            n = (seed >> 8) % n;
        uint8_t *heap = malloc(n ? n : 1); /* exact size, so ASan sees any overread */
        memcpy(heap, b, n);
        mj_dns_response_t r;
        mj_dns_query_t q;
        (void)mj_dns_parse_response(heap, n, 0x4242, "www.test", 1, &r);
        (void)mj_dns_parse_query(heap, n, &q);
        free(heap);
        CHECK(r.n_addrs <= MJ_DNS_MAX_ADDRS);
    }
}

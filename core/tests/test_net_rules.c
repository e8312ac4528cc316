/* test_net_rules.c — moonjail-net's rules: the grammar, verdicts, and the address classes that DNS
 * answers may not bring in (core/src/net/rules.c, addr.c). */
#include <arpa/inet.h>
#include <moonjail/moonjail.h>
#include <stdlib.h>
#include <string.h>

#include "mjtest.h"
#include "net/addr.h"
#include "net/rules.h"

static mj_net_addr_t A(const char *s)
{
    mj_net_addr_t a;
    if (mj_net_addr_parse(s, &a) < 0) {
        fprintf(stderr, "bad test address %s\n", s);
        abort();
    }
    return a;
}

static mj_net_class_t cls(const char *s)
{
    mj_net_addr_t a = A(s);
    return mj_net_addr_class(&a);
}

MJ_TEST(addresses_parse_and_format)
{
    mj_net_addr_t a;
    char buf[MJ_NET_ADDRSTRLEN];
    CHECK(mj_net_addr_parse("192.0.2.1", &a) == 0 && a.family == AF_INET);
    mj_net_addr_format(&a, buf);
    CHECK_STREQ(buf, "192.0.2.1");
    CHECK(mj_net_addr_parse("2001:DB8::1", &a) == 0 && a.family == AF_INET6);
    mj_net_addr_format(&a, buf);
    CHECK_STREQ(buf, "2001:db8::1");
    CHECK(mj_net_addr_parse("1.2.3", &a) < 0);
    CHECK(mj_net_addr_parse("01.2.3.4", &a) < 0);
    CHECK(mj_net_addr_parse("1.2.3.4 ", &a) < 0);
    CHECK(mj_net_addr_parse("[::1]", &a) < 0);
    CHECK(mj_net_addr_parse("", &a) < 0);
    CHECK(mj_net_addr_parse("fe80::1%eth0", &a) < 0);
}

MJ_TEST(mapped_sockaddr_becomes_ipv4)
{
    struct sockaddr_in6 s6 = {.sin6_family = AF_INET6, .sin6_port = htons(443)};
    inet_pton(AF_INET6, "::ffff:127.0.0.1", &s6.sin6_addr);
    mj_net_addr_t a;
    uint16_t port = 0;
    CHECK(mj_net_addr_from_sockaddr((struct sockaddr *)&s6, sizeof(s6), &a, &port) == 0);
    CHECK_EQ_INT(a.family, AF_INET);
    CHECK_EQ_INT(port, 443);
    CHECK_EQ_INT(mj_net_addr_class(&a), MJ_NET_CLASS_LOOPBACK);
}

MJ_TEST(cidrs_parse_strictly)
{
    mj_net_cidr_t c;
    CHECK(mj_net_cidr_parse("10.0.0.0/8", &c) == 0 && c.prefix == 8);
    CHECK(mj_net_cidr_parse("10.0.0.1/8", &c) < 0); /* host bits set: a typo, not a wider rule */
    CHECK(mj_net_cidr_parse("10.0.0.0/33", &c) < 0);
    CHECK(mj_net_cidr_parse("10.0.0.0/08", &c) < 0);
    CHECK(mj_net_cidr_parse("10.0.0.0/", &c) < 0);
    CHECK(mj_net_cidr_parse("2001:db8::/32", &c) == 0 && c.prefix == 32);
    CHECK(mj_net_cidr_parse("2001:db8::1", &c) == 0 && c.prefix == 128);
    CHECK(mj_net_cidr_parse("0.0.0.0/0", &c) == 0 && c.prefix == 0);
    mj_net_addr_t in = A("10.200.1.1"), out = A("11.0.0.1"), v6 = A("::1");
    CHECK(mj_net_cidr_parse("10.0.0.0/8", &c) == 0);
    CHECK(mj_net_cidr_contains(&c, &in));
    CHECK(!mj_net_cidr_contains(&c, &out));
    CHECK(!mj_net_cidr_contains(&c, &v6));
    CHECK(mj_net_cidr_parse("10.128.0.0/9", &c) == 0);
    CHECK(mj_net_cidr_contains(&c, &in));
}

MJ_TEST(address_classes)
{
    CHECK_EQ_INT(cls("93.184.216.34"), MJ_NET_CLASS_PUBLIC);
    CHECK_EQ_INT(cls("192.0.2.10"), MJ_NET_CLASS_PUBLIC); /* documentation ranges: the tests' hosts */
    CHECK_EQ_INT(cls("127.0.0.1"), MJ_NET_CLASS_LOOPBACK);
    CHECK_EQ_INT(cls("127.255.0.9"), MJ_NET_CLASS_LOOPBACK);
    CHECK_EQ_INT(cls("0.0.0.0"), MJ_NET_CLASS_UNSPECIFIED);
    CHECK_EQ_INT(cls("10.1.2.3"), MJ_NET_CLASS_PRIVATE);
    CHECK_EQ_INT(cls("172.31.255.255"), MJ_NET_CLASS_PRIVATE);
    CHECK_EQ_INT(cls("172.32.0.1"), MJ_NET_CLASS_PUBLIC);
    CHECK_EQ_INT(cls("192.168.1.1"), MJ_NET_CLASS_PRIVATE);
    CHECK_EQ_INT(cls("100.64.0.1"), MJ_NET_CLASS_CGNAT);
    CHECK_EQ_INT(cls("169.254.1.1"), MJ_NET_CLASS_LINK_LOCAL);
    CHECK_EQ_INT(cls("169.254.169.254"), MJ_NET_CLASS_METADATA);
    CHECK_EQ_INT(cls("100.100.100.200"), MJ_NET_CLASS_METADATA);
    CHECK_EQ_INT(cls("224.0.0.1"), MJ_NET_CLASS_MULTICAST);
    CHECK_EQ_INT(cls("255.255.255.255"), MJ_NET_CLASS_RESERVED);
    CHECK_EQ_INT(cls("::"), MJ_NET_CLASS_UNSPECIFIED);
    CHECK_EQ_INT(cls("::1"), MJ_NET_CLASS_LOOPBACK);
    CHECK_EQ_INT(cls("fd00:ec2::254"), MJ_NET_CLASS_METADATA);
    CHECK_EQ_INT(cls("fd12::1"), MJ_NET_CLASS_PRIVATE);
    CHECK_EQ_INT(cls("fe80::1"), MJ_NET_CLASS_LINK_LOCAL);
    CHECK_EQ_INT(cls("ff02::1"), MJ_NET_CLASS_MULTICAST);
    CHECK_EQ_INT(cls("2001:db8::1"), MJ_NET_CLASS_PUBLIC);
    /* IPv6 forms that reach an IPv4 address are as special as that address. */
    CHECK_EQ_INT(cls("::ffff:127.0.0.1"), MJ_NET_CLASS_RESERVED);
    CHECK_EQ_INT(cls("::ffff:93.184.216.34"), MJ_NET_CLASS_RESERVED);
    CHECK_EQ_INT(cls("::127.0.0.1"), MJ_NET_CLASS_RESERVED);
    CHECK_EQ_INT(cls("64:ff9b::a9fe:a9fe"), MJ_NET_CLASS_METADATA);
    CHECK_EQ_INT(cls("64:ff9b::7f00:1"), MJ_NET_CLASS_LOOPBACK);
    CHECK_EQ_INT(cls("64:ff9b::5db8:d822"), MJ_NET_CLASS_PUBLIC);
    CHECK_EQ_INT(cls("2002:7f00:1::1"), MJ_NET_CLASS_LOOPBACK);
    CHECK_EQ_INT(cls("2002:0a00:1::1"), MJ_NET_CLASS_PRIVATE);
}

MJ_TEST(only_a_prefix_inside_a_range_names_its_class)
{
    mj_net_cidr_t c;
    CHECK(mj_net_cidr_parse("10.0.0.0/8", &c) == 0);
    CHECK(mj_net_cidr_names_class(&c, MJ_NET_CLASS_PRIVATE));
    CHECK(mj_net_cidr_parse("0.0.0.0/0", &c) == 0);
    CHECK(!mj_net_cidr_names_class(&c, MJ_NET_CLASS_PRIVATE));
    CHECK(!mj_net_cidr_names_class(&c, MJ_NET_CLASS_LOOPBACK));
    CHECK(mj_net_cidr_parse("169.254.0.0/16", &c) == 0);
    CHECK(mj_net_cidr_names_class(&c, MJ_NET_CLASS_LINK_LOCAL));
    CHECK(!mj_net_cidr_names_class(&c, MJ_NET_CLASS_METADATA));
    CHECK(mj_net_cidr_parse("169.254.169.254/32", &c) == 0);
    CHECK(mj_net_cidr_names_class(&c, MJ_NET_CLASS_METADATA));
}

static mj_net_rules_t make(const char *const *allow, const char *const *deny)
{
    mj_net_rules_t r = {0};
    for (; allow && *allow; allow++) {
        mj_error_t *err = NULL;
        if (mj_net_rules_add(&r, *allow, false, &err) < 0) {
            fprintf(stderr, "%s\n", mj_error_message(err));
            abort();
        }
    }
    for (; deny && *deny; deny++) {
        mj_error_t *err = NULL;
        if (mj_net_rules_add(&r, *deny, true, &err) < 0) {
            fprintf(stderr, "%s\n", mj_error_message(err));
            abort();
        }
    }
    return r;
}

MJ_TEST(rule_grammar)
{
    static const char *const good[] = {
        "pypi.org:443", "*.pythonhosted.org:443", "10.0.0.0/8:5432", "example.com", "Example.COM.",
        "host:80,443,8000-8010", "192.0.2.7", "192.0.2.7:22", "2001:db8::/32", "[2001:db8::1]:443",
        "[2001:db8::/48]", "_acme.example.com:443", "a-b.c_d.org",
    };
    static const char *const bad[] = {
        "", "*", "*.", "**.org", "a.*.org", "pypi.org:", "pypi.org:0", "pypi.org:65536", "pypi.org:443,",
        "pypi.org:80-", "pypi.org:90-80", "pypi.org:08", "10.0.0.1/8", "1.2.3.999", "1.2.3", "[2001:db8::1",
        "[2001:db8::1]443", "exa mple.com", "exämple.com", "a..b", ".example.com",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.com", "host:80:81",
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        mj_net_rule_t r;
        mj_error_t *err = NULL;
        if (mj_net_rule_parse(good[i], false, &r, &err) < 0)
            MJT_FAIL("'%s' refused: %s", good[i], mj_error_message(err));
        mj_net_rule_free(&r);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        mj_net_rule_t r;
        mj_error_t *err = NULL;
        if (mj_net_rule_parse(bad[i], false, &r, &err) == 0)
            MJT_FAIL("'%s' accepted", bad[i]);
        CHECK(mj_error_code(err) == MJ_ERR_INVALID_CONFIG);
        CHECK(strstr(mj_error_message(err), "network rule") != NULL);
        mj_error_free(err);
    }
}

MJ_TEST(names_without_port_mean_80_and_443)
{
    static const char *const allow[] = {"example.com", "pypi.org:443", "*.pythonhosted.org:443", NULL};
    mj_net_rules_t r = make(allow, NULL);
    CHECK(mj_net_rules_name(&r, "example.com", 80).allowed);
    CHECK(mj_net_rules_name(&r, "example.com", 443).allowed);
    CHECK(!mj_net_rules_name(&r, "example.com", 22).allowed);
    CHECK(!mj_net_rules_name(&r, "pypi.org", 80).allowed);
    CHECK(mj_net_rules_name(&r, "files.pythonhosted.org", 443).allowed);
    CHECK(mj_net_rules_name(&r, "a.b.pythonhosted.org", 443).allowed);
    CHECK(!mj_net_rules_name(&r, "pythonhosted.org", 443).allowed); /* *.x does not name x */
    CHECK(!mj_net_rules_name(&r, "evilpythonhosted.org", 443).allowed);
    CHECK(!mj_net_rules_name(&r, "www.example.com", 443).allowed);
    mj_net_verdict_t v = mj_net_rules_name(&r, "pypi.org", 443);
    CHECK(v.rule && strcmp(v.rule->text, "pypi.org:443") == 0);
    CHECK(mj_net_rules_name(&r, "nothing.test", 443).rule == NULL);
    mj_net_rules_free(&r);
}

MJ_TEST(deny_wins_and_a_portless_deny_refuses_dns)
{
    static const char *const allow[] = {"*.example.com", "*.corp.test:22", NULL};
    static const char *const deny[] = {"secret.example.com", "admin.example.com:443", NULL};
    mj_net_rules_t r = make(allow, deny);
    CHECK(mj_net_rules_name(&r, "www.example.com", 443).allowed);
    CHECK(!mj_net_rules_name(&r, "secret.example.com", 443).allowed);
    CHECK(!mj_net_rules_name(&r, "admin.example.com", 443).allowed);
    CHECK(mj_net_rules_name(&r, "admin.example.com", 80).allowed);
    CHECK(mj_net_rules_dns(&r, "www.example.com").allowed);
    CHECK(!mj_net_rules_dns(&r, "secret.example.com").allowed);
    CHECK(mj_net_rules_dns(&r, "admin.example.com").allowed); /* still reachable on 80 */
    CHECK(mj_net_rules_dns(&r, "git.corp.test").allowed);
    CHECK(!mj_net_rules_dns(&r, "example.com").allowed);
    CHECK(!mj_net_rules_dns(&r, "evil.test").allowed);
    mj_net_rules_free(&r);
}

MJ_TEST(cidr_rules_need_to_name_special_classes)
{
    static const char *const allow[] = {"10.0.0.0/8:5432", "0.0.0.0/0:22", "192.0.2.0/24", "[2001:db8::/32]:443", NULL};
    static const char *const deny[] = {"192.0.2.66", NULL};
    mj_net_rules_t r = make(allow, deny);
    mj_net_addr_t priv = A("10.1.2.3"), lo = A("127.0.0.1"), pub = A("198.51.100.1"), doc = A("192.0.2.5"),
                  denied = A("192.0.2.66"), v6 = A("2001:db8::5");
    CHECK(mj_net_rules_addr(&r, &priv, 5432).allowed);
    CHECK(!mj_net_rules_addr(&r, &priv, 5433).allowed);
    CHECK(!mj_net_rules_addr(&r, &priv, 22).allowed); /* 0.0.0.0/0 does not name private */
    CHECK(!mj_net_rules_addr(&r, &lo, 22).allowed);   /* nor loopback */
    CHECK(mj_net_rules_addr(&r, &pub, 22).allowed);
    CHECK(mj_net_rules_addr(&r, &doc, 443).allowed);
    CHECK(!mj_net_rules_addr(&r, &doc, 8443).allowed);
    CHECK(!mj_net_rules_addr(&r, &denied, 443).allowed);
    CHECK(mj_net_rules_addr_denied(&r, &denied) != NULL);
    CHECK(mj_net_rules_addr(&r, &v6, 443).allowed);
    CHECK(mj_net_rules_addr_class_allowed(&r, &priv));
    CHECK(!mj_net_rules_addr_class_allowed(&r, &lo));
    mj_net_rules_free(&r);
}

MJ_TEST(listener_ports_are_capped)
{
    static const char *const allow[] = {"a.test", "b.test:22,8000-8002", "10.0.0.0/8:5432", NULL};
    mj_net_rules_t r = make(allow, NULL);
    uint16_t ports[MJ_NET_MAX_PORTS];
    int n = mj_net_rules_ports(&r, ports, MJ_NET_MAX_PORTS);
    CHECK_EQ_INT(n, 7);
    CHECK_EQ_INT(ports[0], 22);
    CHECK_EQ_INT(ports[1], 80);
    CHECK_EQ_INT(ports[6], 8002);
    mj_net_rules_free(&r);
    static const char *const wide[] = {"a.test:1-65535", NULL};
    r = make(wide, NULL);
    CHECK_EQ_INT(mj_net_rules_ports(&r, ports, MJ_NET_MAX_PORTS), -1);
    mj_net_rules_free(&r);
}

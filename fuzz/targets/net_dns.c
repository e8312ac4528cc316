/* fuzz/targets/net_dns.c — moonjail-net's DNS codec (core/src/net/dnswire.c): a query as the
 * stub receives it from a sandbox (then the reply built to it), and a response as the upstream
 * client receives it for a question.  Invariants: no crash; a reply fits the buffer it is built
 * in; a parsed response keeps at most MJ_DNS_MAX_ADDRS addresses. */
#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "net/dnswire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mj_dns_query_t q;
    memset(&q, 0, sizeof q);
    int rc = mj_dns_parse_query(data, size, &q);
    if (rc >= 0) {
        uint8_t out[4096];
        mj_net_addr_t addrs[2];
        memset(addrs, 0, sizeof addrs);
        mj_net_addr_parse("192.0.2.1", &addrs[0]);
        mj_net_addr_parse("2001:db8::1", &addrs[1]);
        size_t max = q.edns && q.edns_size < sizeof out ? q.edns_size : 512;
        int n = mj_dns_build_reply(&q, rc, addrs, 2, 300, out, max);
        assert(n <= (int)max);
    }
    static const char *const names[] = {"example.com", "a.b.c", "x"};
    static const uint16_t types[] = {MJ_DNS_TYPE_A, MJ_DNS_TYPE_AAAA};
    for (size_t i = 0; i < 3; i++) {
        mj_dns_response_t r;
        uint16_t id = size >= 2 ? (uint16_t)(data[0] << 8 | data[1]) : 0;
        if (mj_dns_parse_response(data, size, id, names[i], types[i % 2], &r) == 0)
            assert(r.n_addrs <= MJ_DNS_MAX_ADDRS);
    }
    return 0;
}

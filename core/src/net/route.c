/* route.c — rtnetlink messages for a sandbox's network namespace.
 * Owns: the message layout and acknowledgements.  Never: choosing addresses, or any namespace
 * other than the netlink socket's own. */
#define _GNU_SOURCE
#include "route.h"

#include <errno.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct {
    struct nlmsghdr nh;
    union {
        struct rtmsg rt;
        struct ifinfomsg ifi;
    };
    char attrs[256];
} nl_req_t;

static void add_attr(nl_req_t *r, unsigned short type, const void *data, size_t len)
{
    struct rtattr *rta = (struct rtattr *)((char *)r + NLMSG_ALIGN(r->nh.nlmsg_len));
    rta->rta_type = type;
    rta->rta_len = (unsigned short)RTA_LENGTH(len);
    memcpy(RTA_DATA(rta), data, len);
    r->nh.nlmsg_len = NLMSG_ALIGN(r->nh.nlmsg_len) + RTA_ALIGN(rta->rta_len);
}

static uint32_t next_seq(void)
{
    static uint32_t seq;
    return ++seq;
}

/* Sends r and reads until its acknowledgement: 0 or -errno. */
static int transact(int nl, nl_req_t *r)
{
    r->nh.nlmsg_seq = next_seq();
    r->nh.nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
    struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
    if (sendto(nl, r, r->nh.nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof(kernel)) < 0)
        return -errno;
    char buf[8192];
    for (;;) {
        ssize_t n = recv(nl, buf, sizeof(buf), 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
            if (h->nlmsg_seq != r->nh.nlmsg_seq)
                continue;
            if (h->nlmsg_type == NLMSG_ERROR) {
                struct nlmsgerr *e = NLMSG_DATA(h);
                return e->error;
            }
        }
    }
}

int mj_net_route_link_up(int nl, int ifindex)
{
    nl_req_t r;
    memset(&r, 0, sizeof(r));
    r.nh.nlmsg_len = NLMSG_LENGTH(sizeof(struct ifinfomsg));
    r.nh.nlmsg_type = RTM_NEWLINK;
    r.ifi.ifi_family = AF_UNSPEC;
    r.ifi.ifi_index = ifindex;
    r.ifi.ifi_flags = IFF_UP;
    r.ifi.ifi_change = IFF_UP;
    return transact(nl, &r);
}

static void route_msg(nl_req_t *r, const mj_net_cidr_t *dst, int type, bool add)
{
    memset(r, 0, sizeof(*r));
    r->nh.nlmsg_len = NLMSG_LENGTH(sizeof(struct rtmsg));
    r->nh.nlmsg_type = add ? RTM_NEWROUTE : RTM_DELROUTE;
    if (add)
        r->nh.nlmsg_flags = NLM_F_CREATE | NLM_F_EXCL;
    r->rt.rtm_family = (unsigned char)dst->addr.family;
    r->rt.rtm_dst_len = (unsigned char)dst->prefix;
    r->rt.rtm_protocol = RTPROT_STATIC;
    r->rt.rtm_type = (unsigned char)type;
    if (type == RTN_LOCAL) {
        r->rt.rtm_table = RT_TABLE_LOCAL;
        r->rt.rtm_scope = RT_SCOPE_HOST;
    } else {
        r->rt.rtm_table = RT_TABLE_MAIN;
        r->rt.rtm_scope = RT_SCOPE_UNIVERSE;
    }
    if (dst->prefix > 0)
        add_attr(r, RTA_DST, dst->addr.a, mj_net_addr_len(&dst->addr));
}

int mj_net_route_local(int nl, const mj_net_cidr_t *dst, bool add)
{
    nl_req_t r;
    route_msg(&r, dst, RTN_LOCAL, add);
    int ifindex = MJ_NET_LO_IFINDEX;
    add_attr(&r, RTA_OIF, &ifindex, sizeof(ifindex));
    int e = transact(nl, &r);
    if ((add && e == -EEXIST) || (!add && e == -ESRCH))
        return 0;
    return e;
}

int mj_net_route_prohibit(int nl, const mj_net_cidr_t *dst)
{
    nl_req_t r;
    route_msg(&r, dst, RTN_PROHIBIT, true);
    int e = transact(nl, &r);
    return e == -EEXIST ? 0 : e;
}

int mj_net_route_link_bytes(int nl, uint64_t *rx, uint64_t *tx)
{
    *rx = *tx = 0;
    nl_req_t r;
    memset(&r, 0, sizeof(r));
    r.nh.nlmsg_len = NLMSG_LENGTH(sizeof(struct ifinfomsg));
    r.nh.nlmsg_type = RTM_GETLINK;
    r.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    r.nh.nlmsg_seq = next_seq();
    r.ifi.ifi_family = AF_UNSPEC;
    struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
    if (sendto(nl, &r, r.nh.nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof(kernel)) < 0)
        return -errno;
    static char buf[32768];
    for (;;) {
        ssize_t n = recv(nl, buf, sizeof(buf), 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
            if (h->nlmsg_seq != r.nh.nlmsg_seq)
                continue;
            if (h->nlmsg_type == NLMSG_DONE)
                return 0;
            if (h->nlmsg_type == NLMSG_ERROR)
                return ((struct nlmsgerr *)NLMSG_DATA(h))->error;
            if (h->nlmsg_type != RTM_NEWLINK)
                continue;
            struct ifinfomsg *ifi = NLMSG_DATA(h);
            if (ifi->ifi_index == MJ_NET_LO_IFINDEX)
                continue;
            int alen = (int)IFLA_PAYLOAD(h);
            for (struct rtattr *a = IFLA_RTA(ifi); RTA_OK(a, alen); a = RTA_NEXT(a, alen)) {
                if (a->rta_type == IFLA_STATS64 && RTA_PAYLOAD(a) >= sizeof(struct rtnl_link_stats64)) {
                    struct rtnl_link_stats64 st;
                    memcpy(&st, RTA_DATA(a), sizeof(st));
                    *rx += st.rx_bytes;
                    *tx += st.tx_bytes;
                }
            }
        }
    }
}

/* rules.h — a filtered sandbox's allow/deny rules: their syntax and how a name, an address and a
 * port are judged against them (docs/networking.md has the grammar).
 * Owns: parsing one rule, normalising host names, the verdict for (name, port), (address, port)
 * and for a DNS question.  Never: I/O, DNS, sockets, or the address-class policy beyond asking
 * addr.h whether a CIDR rule names a class. */
#ifndef MJ_NET_RULES_H
#define MJ_NET_RULES_H

#include <moonjail/moonjail.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"

#define MJ_NET_NAME_MAX 253  /* a host name in presentation form, without the trailing dot */
#define MJ_NET_MAX_PORTS 256 /* distinct ports over all allow rules: one listener set each */

typedef enum { MJ_NET_RULE_NAME, MJ_NET_RULE_SUFFIX, MJ_NET_RULE_CIDR } mj_net_rule_kind_t;

typedef struct {
    uint16_t lo, hi;
} mj_net_port_range_t;

typedef struct {
    mj_net_rule_kind_t kind;
    char *text;          /* as written: audit records name the rule this way */
    char *name;          /* NAME: the name; SUFFIX: what follows "*." */
    mj_net_cidr_t cidr;  /* CIDR */
    mj_net_port_range_t *ports;
    size_t n_ports;      /* 0: every port (a deny rule without a port) */
} mj_net_rule_t;

typedef struct {
    mj_net_rule_t *allow;
    size_t n_allow;
    mj_net_rule_t *deny;
    size_t n_deny;
} mj_net_rules_t;

typedef struct {
    bool allowed;
    const mj_net_rule_t *rule; /* the rule that decided; NULL when none matched (denied) */
} mj_net_verdict_t;

/* Lower-cases, drops one trailing dot and checks the name: labels of 1..63 letters, digits, '-'
 * or '_', at most 253 characters in all.  0, or -1 when the name is not a host name. */
int mj_net_name_normalize(const char *in, char out[MJ_NET_NAME_MAX + 1]);

/* Parses one rule.  An allow rule without a port means 80 and 443; a deny rule without a port
 * means every port.  The rule owns its strings; free with mj_net_rule_free. */
int mj_net_rule_parse(const char *text, bool deny, mj_net_rule_t *out, mj_error_t **err);
void mj_net_rule_free(mj_net_rule_t *rule);
bool mj_net_rule_has_port(const mj_net_rule_t *rule, uint16_t port);

int mj_net_rules_add(mj_net_rules_t *rules, const char *text, bool deny, mj_error_t **err);
void mj_net_rules_free(mj_net_rules_t *rules);

/* The distinct ports of the allow rules, ascending, into out (cap entries): the count, or -1
 * when there are more than cap. */
int mj_net_rules_ports(const mj_net_rules_t *rules, uint16_t *out, size_t cap);

/* A connection to a host name on a port: a matching deny rule wins over any allow rule. */
mj_net_verdict_t mj_net_rules_name(const mj_net_rules_t *rules, const char *name, uint16_t port);
/* A DNS question for name: answered when some allow rule names it on any port and no deny rule
 * denies it on every port. */
mj_net_verdict_t mj_net_rules_dns(const mj_net_rules_t *rules, const char *name);
/* A connection to an address on a port, by CIDR rules alone.  An allow rule counts only when it
 * also names the address's class (mj_net_cidr_names_class). */
mj_net_verdict_t mj_net_rules_addr(const mj_net_rules_t *rules, const mj_net_addr_t *addr, uint16_t port);
/* The deny rule that refuses addr on every port (a DNS answer carrying it loses it), or NULL. */
const mj_net_rule_t *mj_net_rules_addr_denied(const mj_net_rules_t *rules, const mj_net_addr_t *addr);
/* true when some CIDR allow rule names addr's class and contains it: a DNS answer may carry it. */
bool mj_net_rules_addr_class_allowed(const mj_net_rules_t *rules, const mj_net_addr_t *addr);

#endif

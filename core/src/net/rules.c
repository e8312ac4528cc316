/* rules.c — parsing and judging a filtered sandbox's allow/deny rules.
 * Owns: the rule grammar of docs/networking.md and the verdicts.  Never: I/O or sockets; the
 * caller decides what a verdict does. */
#define _GNU_SOURCE
#include "rules.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../error.h"
#include "../util.h"

int mj_net_name_normalize(const char *in, char out[MJ_NET_NAME_MAX + 1])
{
    size_t n = in ? strlen(in) : 0;
    if (n > 0 && in[n - 1] == '.')
        n--;
    if (n == 0 || n > MJ_NET_NAME_MAX)
        return -1;
    size_t label = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)in[i];
        if (c == '.') {
            if (label == 0)
                return -1;
            label = 0;
            out[i] = '.';
            continue;
        }
        if (!(isascii(c) && (isalnum(c) || c == '-' || c == '_')))
            return -1;
        if (++label > 63)
            return -1;
        out[i] = (char)tolower(c);
    }
    if (label == 0)
        return -1;
    out[n] = '\0';
    return 0;
}

static int parse_port(const char *s, size_t len, uint16_t *out)
{
    if (len == 0 || len > 5 || (s[0] == '0'))
        return -1;
    unsigned long v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (unsigned long)(s[i] - '0');
    }
    if (v < 1 || v > 65535)
        return -1;
    *out = (uint16_t)v;
    return 0;
}

/* "443", "80,443", "8000-8010,22" */
static int parse_ports(const char *s, mj_net_rule_t *rule)
{
    if (!*s)
        return -1;
    const char *p = s;
    while (*p) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        const char *dash = memchr(p, '-', len);
        mj_net_port_range_t r;
        if (dash) {
            if (parse_port(p, (size_t)(dash - p), &r.lo) < 0 ||
                parse_port(dash + 1, len - (size_t)(dash - p) - 1, &r.hi) < 0 || r.hi < r.lo)
                return -1;
        } else {
            if (parse_port(p, len, &r.lo) < 0)
                return -1;
            r.hi = r.lo;
        }
        rule->ports = mj_xrealloc(rule->ports, (rule->n_ports + 1) * sizeof(*rule->ports));
        rule->ports[rule->n_ports++] = r;
        if (!end)
            break;
        p = end + 1;
        if (!*p)
            return -1; /* trailing comma */
    }
    return 0;
}

static bool looks_numeric(const char *s)
{
    for (; *s; s++)
        if (!(isdigit((unsigned char)*s) || *s == '.' || *s == '/'))
            return false;
    return true;
}

static mj_error_t *rule_error(const char *text, const char *why)
{
    return mj_error_new(MJ_ERR_INVALID_CONFIG, EINVAL, "network rule '%s': %s", text, why);
}

int mj_net_rule_parse(const char *text, bool deny, mj_net_rule_t *out, mj_error_t **err)
{
    memset(out, 0, sizeof(*out));
    if (!text || !*text || strlen(text) > 512) {
        if (err)
            *err = rule_error(text ? text : "", "empty or longer than 512 characters");
        return -1;
    }
    cleanup_free char *host = NULL;
    const char *ports = NULL;
    if (text[0] == '[') { /* [v6] or [v6/len] with an optional :ports */
        const char *close = strchr(text, ']');
        if (!close || (close[1] && close[1] != ':')) {
            if (err)
                *err = rule_error(text, "an IPv6 address in brackets is [ADDR] or [ADDR]:PORTS");
            return -1;
        }
        host = strndup(text + 1, (size_t)(close - text - 1));
        ports = close[1] ? close + 2 : NULL;
    } else {
        const char *colon = strchr(text, ':');
        if (colon && strchr(colon + 1, ':')) {
            host = mj_xstrdup(text); /* a bare IPv6 address or prefix: no port */
        } else if (colon) {
            host = strndup(text, (size_t)(colon - text));
            ports = colon + 1;
        } else {
            host = mj_xstrdup(text);
        }
    }
    if (!host)
        abort();
    out->text = mj_xstrdup(text);
    if (ports && parse_ports(ports, out) < 0) {
        mj_net_rule_free(out);
        if (err)
            *err = rule_error(text, "ports are numbers 1-65535, ranges LO-HI or lists of both joined by ','");
        return -1;
    }
    if (!ports && !deny) {
        out->ports = mj_xcalloc(2, sizeof(*out->ports));
        out->ports[0] = (mj_net_port_range_t){80, 80};
        out->ports[1] = (mj_net_port_range_t){443, 443};
        out->n_ports = 2;
    }
    if (mj_net_cidr_parse(host, &out->cidr) == 0) {
        out->kind = MJ_NET_RULE_CIDR;
        return 0;
    }
    if (strchr(host, ':') || looks_numeric(host)) {
        mj_net_rule_free(out);
        if (err)
            *err = rule_error(text, "not a valid address or prefix (host bits must be zero)");
        return -1;
    }
    char norm[MJ_NET_NAME_MAX + 1];
    const char *name = host;
    out->kind = MJ_NET_RULE_NAME;
    if (strncmp(host, "*.", 2) == 0) {
        out->kind = MJ_NET_RULE_SUFFIX;
        name = host + 2;
    }
    if (mj_net_name_normalize(name, norm) < 0 || strchr(name, '*')) {
        mj_net_rule_free(out);
        if (err)
            *err = rule_error(text, "a host name (letters, digits, '-', '_' in labels of at most 63) or *.SUFFIX");
        return -1;
    }
    out->name = mj_xstrdup(norm);
    return 0;
}

void mj_net_rule_free(mj_net_rule_t *rule)
{
    if (!rule)
        return;
    free(rule->text);
    free(rule->name);
    free(rule->ports);
    memset(rule, 0, sizeof(*rule));
}

bool mj_net_rule_has_port(const mj_net_rule_t *rule, uint16_t port)
{
    if (rule->n_ports == 0)
        return true;
    for (size_t i = 0; i < rule->n_ports; i++)
        if (port >= rule->ports[i].lo && port <= rule->ports[i].hi)
            return true;
    return false;
}

int mj_net_rules_add(mj_net_rules_t *rules, const char *text, bool deny, mj_error_t **err)
{
    mj_net_rule_t r;
    if (mj_net_rule_parse(text, deny, &r, err) < 0)
        return -1;
    mj_net_rule_t **list = deny ? &rules->deny : &rules->allow;
    size_t *n = deny ? &rules->n_deny : &rules->n_allow;
    *list = mj_xrealloc(*list, (*n + 1) * sizeof(**list));
    (*list)[(*n)++] = r;
    return 0;
}

void mj_net_rules_free(mj_net_rules_t *rules)
{
    for (size_t i = 0; i < rules->n_allow; i++)
        mj_net_rule_free(&rules->allow[i]);
    for (size_t i = 0; i < rules->n_deny; i++)
        mj_net_rule_free(&rules->deny[i]);
    free(rules->allow);
    free(rules->deny);
    memset(rules, 0, sizeof(*rules));
}

int mj_net_rules_ports(const mj_net_rules_t *rules, uint16_t *out, size_t cap)
{
    size_t n = 0;
    /* Walk the port space once per range end, not per port: a rule with 1-65535 must fail fast. */
    for (unsigned port = 1; port <= 65535; port++) {
        bool any = false;
        unsigned next = 65536;
        for (size_t i = 0; i < rules->n_allow && !any; i++) {
            const mj_net_rule_t *r = &rules->allow[i];
            for (size_t j = 0; j < r->n_ports; j++) {
                if (port >= r->ports[j].lo && port <= r->ports[j].hi) {
                    any = true;
                    break;
                }
                if (r->ports[j].lo > port && r->ports[j].lo < next)
                    next = r->ports[j].lo;
            }
        }
        if (!any) {
            if (next > 65535)
                break;
            port = next - 1;
            continue;
        }
        if (n == cap)
            return -1;
        out[n++] = (uint16_t)port;
    }
    return (int)n;
}

static bool name_matches(const mj_net_rule_t *r, const char *name)
{
    if (r->kind == MJ_NET_RULE_NAME)
        return strcmp(r->name, name) == 0;
    if (r->kind != MJ_NET_RULE_SUFFIX)
        return false;
    size_t n = strlen(name), s = strlen(r->name);
    return n > s + 1 && name[n - s - 1] == '.' && strcmp(name + n - s, r->name) == 0;
}

mj_net_verdict_t mj_net_rules_name(const mj_net_rules_t *rules, const char *name, uint16_t port)
{
    for (size_t i = 0; i < rules->n_deny; i++)
        if (name_matches(&rules->deny[i], name) && mj_net_rule_has_port(&rules->deny[i], port))
            return (mj_net_verdict_t){false, &rules->deny[i]};
    for (size_t i = 0; i < rules->n_allow; i++)
        if (name_matches(&rules->allow[i], name) && mj_net_rule_has_port(&rules->allow[i], port))
            return (mj_net_verdict_t){true, &rules->allow[i]};
    return (mj_net_verdict_t){false, NULL};
}

mj_net_verdict_t mj_net_rules_dns(const mj_net_rules_t *rules, const char *name)
{
    for (size_t i = 0; i < rules->n_deny; i++)
        if (rules->deny[i].n_ports == 0 && name_matches(&rules->deny[i], name))
            return (mj_net_verdict_t){false, &rules->deny[i]};
    for (size_t i = 0; i < rules->n_allow; i++)
        if (name_matches(&rules->allow[i], name))
            return (mj_net_verdict_t){true, &rules->allow[i]};
    return (mj_net_verdict_t){false, NULL};
}

mj_net_verdict_t mj_net_rules_addr(const mj_net_rules_t *rules, const mj_net_addr_t *addr, uint16_t port)
{
    for (size_t i = 0; i < rules->n_deny; i++) {
        const mj_net_rule_t *r = &rules->deny[i];
        if (r->kind == MJ_NET_RULE_CIDR && mj_net_cidr_contains(&r->cidr, addr) && mj_net_rule_has_port(r, port))
            return (mj_net_verdict_t){false, r};
    }
    mj_net_class_t cls = mj_net_addr_class(addr);
    for (size_t i = 0; i < rules->n_allow; i++) {
        const mj_net_rule_t *r = &rules->allow[i];
        if (r->kind == MJ_NET_RULE_CIDR && mj_net_cidr_contains(&r->cidr, addr) && mj_net_rule_has_port(r, port) &&
            mj_net_cidr_names_class(&r->cidr, cls))
            return (mj_net_verdict_t){true, r};
    }
    return (mj_net_verdict_t){false, NULL};
}

const mj_net_rule_t *mj_net_rules_addr_denied(const mj_net_rules_t *rules, const mj_net_addr_t *addr)
{
    for (size_t i = 0; i < rules->n_deny; i++) {
        const mj_net_rule_t *r = &rules->deny[i];
        if (r->kind == MJ_NET_RULE_CIDR && r->n_ports == 0 && mj_net_cidr_contains(&r->cidr, addr))
            return r;
    }
    return NULL;
}

bool mj_net_rules_addr_class_allowed(const mj_net_rules_t *rules, const mj_net_addr_t *addr)
{
    mj_net_class_t cls = mj_net_addr_class(addr);
    if (cls == MJ_NET_CLASS_PUBLIC)
        return true;
    for (size_t i = 0; i < rules->n_allow; i++) {
        const mj_net_rule_t *r = &rules->allow[i];
        if (r->kind == MJ_NET_RULE_CIDR && mj_net_cidr_contains(&r->cidr, addr) && mj_net_cidr_names_class(&r->cidr, cls))
            return true;
    }
    return false;
}

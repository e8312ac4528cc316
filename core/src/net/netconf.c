/* netconf.c — the helper's configuration text: one directive per line, "#" comments.
 * Owns: the directive table and the checks that need the whole file (the listener-port cap,
 * rules only with mode filtered).  Never: I/O or host-dependent defaults. */
#define _GNU_SOURCE
#include "netconf.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../error.h"
#include "../util.h"

int mj_net_parse_size(const char *s, uint64_t *out)
{
    if (!s || !isdigit((unsigned char)*s))
        return -1;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno)
        return -1;
    uint64_t mul = 1;
    if (*end) {
        switch (*end) {
        case 'k': case 'K': mul = 1024ull; break;
        case 'm': case 'M': mul = 1024ull * 1024; break;
        case 'g': case 'G': mul = 1024ull * 1024 * 1024; break;
        default: return -1;
        }
        if (end[1] && !((end[1] == 'B' || end[1] == 'b') && !end[2]))
            return -1;
    }
    if (v > UINT64_MAX / mul)
        return -1;
    *out = v * mul;
    return 0;
}

static int port_of(const char *s, size_t n, uint16_t *out)
{
    if (n == 0 || n > 5 || s[0] == '0')
        return -1;
    unsigned v = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i]))
            return -1;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    if (v < 1 || v > 65535)
        return -1;
    *out = (uint16_t)v;
    return 0;
}

/* Splits "ADDR:PORT", "[V6]:PORT", "ADDR" or a bare IPv6 address; host into hbuf. */
static int split_host_port(const char *s, char *hbuf, size_t hcap, const char **port)
{
    *port = NULL;
    size_t n = strlen(s);
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (!close || (size_t)(close - s - 1) >= hcap || (close[1] && close[1] != ':'))
            return -1;
        memcpy(hbuf, s + 1, (size_t)(close - s - 1));
        hbuf[close - s - 1] = '\0';
        *port = close[1] ? close + 2 : NULL;
        return 0;
    }
    const char *colon = strrchr(s, ':');
    if (colon && strchr(s, ':') != colon) /* bare IPv6 */
        colon = NULL;
    size_t hl = colon ? (size_t)(colon - s) : n;
    if (hl >= hcap)
        return -1;
    memcpy(hbuf, s, hl);
    hbuf[hl] = '\0';
    *port = colon ? colon + 1 : NULL;
    return 0;
}

int mj_net_parse_endpoint(const char *s, uint16_t default_port, mj_net_endpoint_t *out)
{
    char host[64];
    const char *port;
    if (split_host_port(s, host, sizeof(host), &port) < 0 || mj_net_addr_parse(host, &out->addr) < 0)
        return -1;
    out->port = default_port;
    if (port && port_of(port, strlen(port), &out->port) < 0)
        return -1;
    return 0;
}

int mj_net_parse_publish(const char *s, mj_net_publish_t *out)
{
    memset(out, 0, sizeof(*out));
    char buf[128];
    if (strlen(s) >= sizeof(buf))
        return -1;
    strcpy(buf, s);
    char *slash = strrchr(buf, '/');
    if (slash) {
        if (strcmp(slash + 1, "udp") == 0)
            out->udp = true;
        else if (strcmp(slash + 1, "tcp") != 0)
            return -1;
        *slash = '\0';
    }
    /* From the right: PORT, then HOST_PORT, then an optional address ([v6] allowed). */
    char *c2 = strrchr(buf, ':');
    if (!c2 || port_of(c2 + 1, strlen(c2 + 1), &out->port) < 0)
        return -1;
    *c2 = '\0';
    char *c1 = strrchr(buf, ':');
    const char *hp = c1 ? c1 + 1 : buf;
    if (c1 && buf[0] == '[') {
        char *close = strchr(buf, ']');
        if (!close || close + 1 != c1)
            return -1;
    }
    if (port_of(hp, strlen(hp), &out->host_port) < 0)
        return -1;
    if (c1) {
        *c1 = '\0';
        char *a = buf;
        if (a[0] == '[') {
            a++;
            a[strlen(a) - 1] = '\0';
        }
        if (mj_net_addr_parse(a, &out->host_addr) < 0)
            return -1;
    } else {
        mj_net_addr_parse("127.0.0.1", &out->host_addr);
    }
    return 0;
}

static char *base64(const char *in)
{
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t n = strlen(in);
    char *out = mj_xmalloc(4 * ((n + 2) / 3) + 1), *o = out;
    const unsigned char *p = (const unsigned char *)in;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)p[i + 1] << 8;
        if (i + 2 < n)
            v |= p[i + 2];
        *o++ = tbl[(v >> 18) & 63];
        *o++ = tbl[(v >> 12) & 63];
        *o++ = i + 1 < n ? tbl[(v >> 6) & 63] : '=';
        *o++ = i + 2 < n ? tbl[v & 63] : '=';
    }
    *o = '\0';
    return out;
}

/* "[http://][user:password@]host:port" */
static int parse_proxy(const char *s, mj_net_proxy_t *out)
{
    if (strncmp(s, "http://", 7) == 0)
        s += 7;
    else if (strstr(s, "://"))
        return -1; /* https:// or socks proxies: not spoken */
    const char *at = strrchr(s, '@');
    cleanup_free char *auth = at ? strndup(s, (size_t)(at - s)) : NULL;
    const char *hp = at ? at + 1 : s;
    char host[256];
    const char *port;
    size_t hl = strlen(hp);
    if (hl && hp[hl - 1] == '/')
        hl--;
    char tmp[300];
    if (hl >= sizeof(tmp))
        return -1;
    memcpy(tmp, hp, hl);
    tmp[hl] = '\0';
    if (split_host_port(tmp, host, sizeof(host), &port) < 0 || !port || !*host)
        return -1;
    if (port_of(port, strlen(port), &out->port) < 0)
        return -1;
    out->set = true;
    out->host = mj_xstrdup(host);
    out->auth_b64 = auth ? base64(auth) : NULL;
    return 0;
}

static int parse_port_list(const char *s, uint16_t *out, size_t cap, size_t *n)
{
    *n = 0;
    const char *p = s;
    while (*p) {
        const char *end = strchr(p, ',');
        size_t l = end ? (size_t)(end - p) : strlen(p);
        if (*n == cap || port_of(p, l, &out[*n]) < 0)
            return -1;
        (*n)++;
        if (!end)
            break;
        p = end + 1;
    }
    return *n ? 0 : -1;
}

__attribute__((format(printf, 2, 3))) static mj_error_t *line_error(unsigned line, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return mj_error_new(MJ_ERR_INVALID_CONFIG, EINVAL, "network helper configuration, line %u: %s", line, msg);
}

static int directive(mj_net_conf_t *c, unsigned line, const char *key, const char *val, const char *val2,
                     mj_error_t **err)
{
#define NEED(cond, ...)                                                                            \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            if (err)                                                                               \
                *err = line_error(line, __VA_ARGS__);                                              \
            return -1;                                                                             \
        }                                                                                          \
    } while (0)
    NEED(val, "'%s' needs a value", key);
    NEED(!val2 || strcmp(key, "dns-host") == 0, "'%s' takes one value", key);
    if (strcmp(key, "mode") == 0) {
        if (strcmp(val, "none") == 0)
            c->mode = MJ_NET_MODE_NONE;
        else if (strcmp(val, "outbound") == 0)
            c->mode = MJ_NET_MODE_OUTBOUND;
        else if (strcmp(val, "filtered") == 0)
            c->mode = MJ_NET_MODE_FILTERED;
        else
            NEED(0, "mode '%s': none, outbound or filtered", val);
    } else if (strcmp(key, "sandbox") == 0) {
        free(c->sandbox);
        c->sandbox = mj_xstrdup(val);
    } else if (strcmp(key, "allow") == 0 || strcmp(key, "deny") == 0) {
        if (mj_net_rules_add(&c->rules, val, key[0] == 'd', err) < 0) {
            mj_error_wrap(err, "network helper configuration, line %u", line);
            return -1;
        }
    } else if (strcmp(key, "dns-server") == 0) {
        NEED(c->n_servers < MJ_NET_MAX_SERVERS, "more than 8 DNS servers%s", "");
        NEED(mj_net_parse_endpoint(val, 53, &c->servers[c->n_servers]) == 0, "DNS server '%s': ADDR, ADDR:PORT or [V6]:PORT", val);
        c->n_servers++;
    } else if (strcmp(key, "dns-search") == 0) {
        /* Written into the sandbox's resolv.conf by the host; the stub sees full names. */
    } else if (strcmp(key, "dns-host") == 0) {
        NEED(val2, "dns-host NAME ADDRESS%s", "");
        NEED(c->n_hosts < MJ_NET_MAX_HOSTS, "more than 256 dns-host entries%s", "");
        mj_net_static_host_t h;
        NEED(mj_net_name_normalize(val, h.name) == 0, "dns-host '%s': not a host name", val);
        NEED(mj_net_addr_parse(val2, &h.addr) == 0, "dns-host address '%s' is not an address", val2);
        c->hosts = mj_xrealloc(c->hosts, (c->n_hosts + 1) * sizeof(*c->hosts));
        c->hosts[c->n_hosts++] = h;
    } else if (strcmp(key, "proxy-http") == 0 || strcmp(key, "proxy-https") == 0) {
        mj_net_proxy_t *p = key[9] == 's' ? &c->proxy_https : &c->proxy_http;
        NEED(!p->set, "'%s' given twice", key);
        NEED(parse_proxy(val, p) == 0, "proxy '%s': [http://][USER:PASSWORD@]HOST:PORT", val);
    } else if (strcmp(key, "no-proxy") == 0) {
        c->no_proxy = mj_xrealloc(c->no_proxy, (c->n_no_proxy + 1) * sizeof(char *));
        c->no_proxy[c->n_no_proxy++] = mj_xstrdup(val);
    } else if (strcmp(key, "bandwidth-ingress") == 0 || strcmp(key, "bandwidth-egress") == 0) {
        uint64_t *v = key[10] == 'i' ? &c->ingress : &c->egress;
        NEED(mj_net_parse_size(val, v) == 0 && *v > 0, "bandwidth '%s': bytes per second (K, M, G suffixes)", val);
    } else if (strcmp(key, "publish") == 0) {
        NEED(c->n_publish < MJ_NET_MAX_PUBLISH, "more than 64 published ports%s", "");
        NEED(mj_net_parse_publish(val, &c->publish[c->n_publish]) == 0,
             "publish '%s': [HOST_IP:]HOST_PORT:PORT[/tcp|udp]", val);
        c->n_publish++;
    } else if (strcmp(key, "inspect-tls") == 0) {
        NEED(parse_port_list(val, c->inspect_tls, 16, &c->n_inspect_tls) == 0, "inspect-tls '%s': up to 16 ports", val);
    } else if (strcmp(key, "inspect-http") == 0) {
        NEED(parse_port_list(val, c->inspect_http, 16, &c->n_inspect_http) == 0, "inspect-http '%s': up to 16 ports", val);
    } else if (strcmp(key, "max-connections") == 0) {
        uint64_t v;
        NEED(mj_net_parse_size(val, &v) == 0 && v >= 1 && v <= 65536, "max-connections '%s': 1-65536", val);
        c->max_conns = (unsigned)v;
    } else if (strcmp(key, "engine") == 0) {
        if (strcmp(val, "auto") == 0)
            c->engine = MJ_NET_ENGINE_AUTO;
        else if (strcmp(val, "pasta") == 0)
            c->engine = MJ_NET_ENGINE_PASTA;
        else if (strcmp(val, "slirp4netns") == 0)
            c->engine = MJ_NET_ENGINE_SLIRP4NETNS;
        else
            NEED(0, "engine '%s': auto, pasta or slirp4netns", val);
    } else {
        NEED(0, "unknown directive '%s'", key);
    }
    return 0;
#undef NEED
}

int mj_net_conf_parse(const char *text, size_t len, mj_net_conf_t *c, mj_error_t **err)
{
    memset(c, 0, sizeof(*c));
    c->mode = MJ_NET_MODE_FILTERED;
    c->max_conns = 512;
    unsigned line = 0;
    size_t off = 0;
    while (off < len) {
        const char *nl = memchr(text + off, '\n', len - off);
        size_t l = nl ? (size_t)(nl - text - off) : len - off;
        line++;
        if (l > 1024 || memchr(text + off, '\0', l)) {
            if (err)
                *err = line_error(line, "longer than 1024 bytes or holds a NUL%s", "");
            mj_net_conf_free(c);
            return -1;
        }
        char buf[1025];
        memcpy(buf, text + off, l);
        buf[l] = '\0';
        off += l + 1;
        char *save = NULL;
        char *key = strtok_r(buf, " \t\r", &save);
        if (!key || key[0] == '#')
            continue;
        char *val = strtok_r(NULL, " \t\r", &save);
        char *val2 = strtok_r(NULL, " \t\r", &save);
        char *extra = strtok_r(NULL, " \t\r", &save);
        if (extra) {
            if (err)
                *err = line_error(line, "too many values after '%s'", key);
            mj_net_conf_free(c);
            return -1;
        }
        if (directive(c, line, key, val, val2, err) < 0) {
            mj_net_conf_free(c);
            return -1;
        }
    }
    if (c->mode != MJ_NET_MODE_FILTERED && (c->rules.n_allow || c->rules.n_deny || c->proxy_http.set ||
                                            c->proxy_https.set || c->n_hosts)) {
        if (err)
            *err = mj_error_new(MJ_ERR_INVALID_CONFIG, EINVAL,
                                "network helper configuration: allow, deny, dns-host and proxy need mode filtered");
        mj_net_conf_free(c);
        return -1;
    }
    c->n_ports = mj_net_rules_ports(&c->rules, c->ports, MJ_NET_MAX_PORTS);
    if (c->n_ports < 0) {
        if (err)
            *err = mj_error_new(MJ_ERR_INVALID_CONFIG, EINVAL,
                                "network rules: more than %d distinct ports in the allow rules (each needs a listener)",
                                MJ_NET_MAX_PORTS);
        mj_net_conf_free(c);
        return -1;
    }
    if (c->n_inspect_tls == 0) {
        c->inspect_tls[0] = 443;
        c->n_inspect_tls = 1;
    }
    if (c->n_inspect_http == 0) {
        c->inspect_http[0] = 80;
        c->n_inspect_http = 1;
    }
    return 0;
}

void mj_net_conf_free(mj_net_conf_t *c)
{
    mj_net_rules_free(&c->rules);
    free(c->sandbox);
    free(c->hosts);
    for (size_t i = 0; i < c->n_no_proxy; i++)
        free(c->no_proxy[i]);
    free(c->no_proxy);
    free(c->proxy_http.host);
    free(c->proxy_http.auth_b64);
    free(c->proxy_https.host);
    free(c->proxy_https.auth_b64);
    memset(c, 0, sizeof(*c));
}

bool mj_net_conf_inspects_tls(const mj_net_conf_t *c, uint16_t port)
{
    for (size_t i = 0; i < c->n_inspect_tls; i++)
        if (c->inspect_tls[i] == port)
            return true;
    return false;
}

bool mj_net_conf_inspects_http(const mj_net_conf_t *c, uint16_t port)
{
    for (size_t i = 0; i < c->n_inspect_http; i++)
        if (c->inspect_http[i] == port)
            return true;
    return false;
}

/* audit.c — JSON Lines audit records and the counters of moonjail-net.
 * Owns: escaping, the record rate limit and the stats line.  Never: opening files or blocking
 * (a full pipe or a slow disk loses records, counted, rather than stalling connections). */
#define _GNU_SOURCE
#include "audit.h"

#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "loop.h"

void mj_net_audit_init(mj_net_audit_t *a, int fd, const char *sandbox, mj_net_stats_t *stats)
{
    a->fd = fd;
    a->sandbox = sandbox ? mj_xstrdup(sandbox) : NULL;
    a->tokens = MJ_NET_AUDIT_BURST;
    a->last = mj_net_now();
    a->suppressed_pending = 0;
    a->stats = stats;
}

void mj_net_audit_close(mj_net_audit_t *a)
{
    free(a->sandbox);
    a->sandbox = NULL;
    if (a->fd >= 0)
        close(a->fd);
    a->fd = -1;
}

static void add(mj_net_rec_t *r, const char *s)
{
    mj_buf_append(&r->buf, s, strlen(s));
}

static void add_json_string(mj_net_rec_t *r, const char *s)
{
    add(r, "\"");
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        char esc[8];
        if (*p == '"' || *p == '\\') {
            esc[0] = '\\';
            esc[1] = (char)*p;
            esc[2] = '\0';
        } else if (*p < 0x20 || *p >= 0x7f) {
            snprintf(esc, sizeof(esc), "\\u%04x", *p); /* non-ASCII bytes too: always valid JSON */
        } else {
            esc[0] = (char)*p;
            esc[1] = '\0';
        }
        add(r, esc);
    }
    add(r, "\"");
}

static void key(mj_net_rec_t *r, const char *k)
{
    add(r, ",");
    add_json_string(r, k);
    add(r, ":");
}

void mj_net_rec_begin(mj_net_rec_t *r, const char *event)
{
    memset(r, 0, sizeof(*r));
    char t[32];
    snprintf(t, sizeof(t), "{\"time\":%lld", (long long)time(NULL));
    add(r, t);
    key(r, "event");
    add_json_string(r, event);
}

void mj_net_rec_str(mj_net_rec_t *r, const char *k, const char *value)
{
    if (!value)
        return;
    key(r, k);
    add_json_string(r, value);
}

void mj_net_rec_u64(mj_net_rec_t *r, const char *k, uint64_t value)
{
    char v[32];
    snprintf(v, sizeof(v), "%" PRIu64, value);
    key(r, k);
    add(r, v);
}

void mj_net_rec_bool(mj_net_rec_t *r, const char *k, int value)
{
    key(r, k);
    add(r, value ? "true" : "false");
}

static void write_line(mj_net_audit_t *a, mj_net_rec_t *r)
{
    if (a->sandbox) {
        key(r, "sandbox");
        add_json_string(r, a->sandbox);
    }
    add(r, "}\n");
    /* One write per record: O_APPEND keeps concurrent writers' lines whole. */
    ssize_t n = write(a->fd, r->buf.data, r->buf.len);
    if (n != (ssize_t)r->buf.len && a->stats)
        a->stats->audit_suppressed++;
}

void mj_net_rec_emit_always(mj_net_audit_t *a, mj_net_rec_t *r)
{
    if (a->fd >= 0)
        write_line(a, r);
    mj_buf_free(&r->buf);
}

void mj_net_rec_emit(mj_net_audit_t *a, mj_net_rec_t *r)
{
    if (a->fd < 0) {
        mj_buf_free(&r->buf);
        return;
    }
    double now = mj_net_now();
    a->tokens += (now - a->last) * MJ_NET_AUDIT_RATE;
    if (a->tokens > MJ_NET_AUDIT_BURST)
        a->tokens = MJ_NET_AUDIT_BURST;
    a->last = now;
    if (a->tokens < 1.0) {
        a->suppressed_pending++;
        if (a->stats)
            a->stats->audit_suppressed++;
        mj_buf_free(&r->buf);
        return;
    }
    a->tokens -= 1.0;
    if (a->suppressed_pending) {
        mj_net_rec_t s;
        mj_net_rec_begin(&s, "network_audit_suppressed");
        mj_net_rec_u64(&s, "count", a->suppressed_pending);
        a->suppressed_pending = 0;
        write_line(a, &s);
        mj_buf_free(&s.buf);
    }
    write_line(a, r);
    mj_buf_free(&r->buf);
}

void mj_net_stats_format(const mj_net_stats_t *s, char *out, size_t cap)
{
    snprintf(out, cap,
             "bytes_in=%" PRIu64 " bytes_out=%" PRIu64 " conns_allowed=%" PRIu64 " conns_denied=%" PRIu64
             " conns_open=%" PRIu64 " dns_allowed=%" PRIu64 " dns_refused=%" PRIu64 " dns_failed=%" PRIu64
             " published_conns=%" PRIu64 " audit_suppressed=%" PRIu64,
             s->bytes_in, s->bytes_out, s->conns_allowed, s->conns_denied, s->conns_open, s->dns_allowed,
             s->dns_refused, s->dns_failed, s->published_conns, s->audit_suppressed);
}

void mj_net_rec_stats(mj_net_rec_t *r, const mj_net_stats_t *s)
{
    mj_net_rec_u64(r, "network_in", s->bytes_in);
    mj_net_rec_u64(r, "network_out", s->bytes_out);
    mj_net_rec_u64(r, "conns_allowed", s->conns_allowed);
    mj_net_rec_u64(r, "conns_denied", s->conns_denied);
    mj_net_rec_u64(r, "dns_allowed", s->dns_allowed);
    mj_net_rec_u64(r, "dns_refused", s->dns_refused);
    mj_net_rec_u64(r, "dns_failed", s->dns_failed);
    mj_net_rec_u64(r, "published_conns", s->published_conns);
    mj_net_rec_u64(r, "audit_suppressed", s->audit_suppressed);
}

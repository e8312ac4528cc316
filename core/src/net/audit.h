/* audit.h — moonjail-net's decisions as audit records, and its counters.
 * Owns: one JSON object per line (the format of scripts/moonjail/audit.lua: "time", "event", then
 * the fields), written with one write(2) each to a descriptor opened O_APPEND by the host, at
 * most MJ_NET_AUDIT_RATE records a second (a flood from the sandbox costs the host no disk beyond
 * that; suppressed records are counted and reported); the counters usage reports.
 * Never: opening files (the descriptor is given), or blocking the relay on a slow log. */
#ifndef MJ_NET_AUDIT_H
#define MJ_NET_AUDIT_H

#include <stddef.h>
#include <stdint.h>

#include "../util.h"

#define MJ_NET_AUDIT_RATE 200.0   /* records per second, sustained */
#define MJ_NET_AUDIT_BURST 2000.0 /* records at once */

typedef struct {
    uint64_t bytes_in;  /* towards the sandbox */
    uint64_t bytes_out; /* from the sandbox */
    uint64_t conns_allowed, conns_denied, conns_open;
    uint64_t dns_allowed, dns_refused, dns_failed;
    uint64_t published_conns;
    uint64_t audit_suppressed;
} mj_net_stats_t;

typedef struct {
    int fd;         /* -1: no audit log */
    char *sandbox;  /* the sandbox id put in every record, or NULL */
    double tokens, last;
    uint64_t suppressed_pending;
    mj_net_stats_t *stats;
} mj_net_audit_t;

/* A record under construction: mj_net_rec_begin, fields, mj_net_rec_emit. */
typedef struct {
    mj_buf_t buf;
} mj_net_rec_t;

void mj_net_audit_init(mj_net_audit_t *a, int fd, const char *sandbox, mj_net_stats_t *stats);
void mj_net_audit_close(mj_net_audit_t *a);

void mj_net_rec_begin(mj_net_rec_t *r, const char *event);
void mj_net_rec_str(mj_net_rec_t *r, const char *key, const char *value); /* NULL value: left out */
void mj_net_rec_u64(mj_net_rec_t *r, const char *key, uint64_t value);
void mj_net_rec_bool(mj_net_rec_t *r, const char *key, int value);
/* Writes the record (or counts it as suppressed) and frees it. */
void mj_net_rec_emit(mj_net_audit_t *a, mj_net_rec_t *r);
/* Writes the record whatever the rate (the final summary), and frees it. */
void mj_net_rec_emit_always(mj_net_audit_t *a, mj_net_rec_t *r);

/* The counters as one line "key=value …" (the control socket's answer, the status line). */
void mj_net_stats_format(const mj_net_stats_t *s, char *out, size_t cap);
/* Appends the counters to a record. */
void mj_net_rec_stats(mj_net_rec_t *r, const mj_net_stats_t *s);

#endif

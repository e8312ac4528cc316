/* relay.h — moving bytes between a sandbox's connection and the world's, both ways, on the event
 * loop: bounded buffers (64 KiB each way), half-close carried across, an optional inspector that
 * must clear every byte the sandbox sends before it goes out, per-sandbox token buckets for the
 * bandwidth limits, and the byte counters.
 * Owns: the two descriptors once handed over (it closes them), the buffers, the limiter.
 * Never: decisions (the inspector and the caller make them), or a thread per connection. */
#ifndef MJ_NET_RELAY_H
#define MJ_NET_RELAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "audit.h"
#include "inspect.h"
#include "loop.h"

#define MJ_NET_RELAY_BUF 65536

typedef struct mj_net_relay mj_net_relay_t;
typedef struct mj_net_bucket mj_net_bucket_t;

/* A token bucket shared by every relay of a sandbox, for one direction. */
struct mj_net_bucket {
    double rate;   /* bytes per second; 0: unlimited */
    double tokens, burst, last;
    mj_net_loop_t *loop;
    mj_net_timer_t timer;
    struct mj_net_relay_wait *waiting;
};

void mj_net_bucket_init(mj_net_bucket_t *b, mj_net_loop_t *loop, uint64_t rate);
/* Takes up to want bytes' worth of tokens: what may be moved now (0 when empty). */
size_t mj_net_bucket_take(mj_net_bucket_t *b, size_t want);

/* why NULL: both sides closed cleanly; else the reason it was cut (an inspector's refusal, an error). */
typedef void (*mj_net_relay_done_fn)(mj_net_relay_t *r, const char *why, void *data);

typedef struct {
    mj_net_bucket_t *egress;  /* sandbox → world, or NULL */
    mj_net_bucket_t *ingress; /* world → sandbox, or NULL */
    mj_net_stats_t *stats;    /* bytes_out / bytes_in added here */
    mj_net_inspect_t *inspect; /* taken over (destroyed with the relay), or NULL */
    mj_net_relay_done_fn done;
    void *data;
} mj_net_relay_opts_t;

/* Takes over sfd (the sandbox's side) and wfd (the world's side), both non-blocking and
 * connected.  pre: bytes already read from the sandbox (and already fed to the inspector), of
 * which pre_cleared may go out.  Work starts from the loop, so done never runs inside this call.
 * NULL when the fds cannot be watched (both are closed then, and done is not called). */
mj_net_relay_t *mj_net_relay_new(mj_net_loop_t *loop, int sfd, int wfd, const uint8_t *pre, size_t pre_len,
                                 int64_t pre_cleared, const mj_net_relay_opts_t *opts);
/* Closes both sides now (reset: with RST) and frees the relay after the current batch; done is
 * not called. */
void mj_net_relay_close(mj_net_relay_t *r, bool reset);
uint64_t mj_net_relay_bytes_in(const mj_net_relay_t *r);
uint64_t mj_net_relay_bytes_out(const mj_net_relay_t *r);

/* Closes fd with SO_LINGER 0: the peer sees a reset, not an orderly end. */
void mj_net_reset_close(int fd);

#endif

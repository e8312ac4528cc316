/* relay.c — the byte pump between a sandbox's connection and the world's.
 * Owns: buffers, half-close, the limiter's buckets, counting.  Never: forwarding a byte the
 * inspector has not cleared, or blocking. */
#define _GNU_SOURCE
#include "relay.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../util.h"

typedef struct {
    uint8_t *data;
    size_t start, end;
} rbuf_t;

struct mj_net_relay_wait {
    mj_net_relay_t *relay;
    bool queued;
    struct mj_net_relay_wait *next;
};

struct mj_net_relay {
    mj_net_loop_t *loop;
    mj_net_io_t s_io, w_io;
    int sfd, wfd;
    rbuf_t out, in;             /* out: sandbox → world; in: world → sandbox */
    int64_t out_sent, out_cleared;
    bool s_eof, w_eof, s_shut, w_shut, closed;
    mj_net_relay_opts_t o;
    struct mj_net_relay_wait wait_out, wait_in;
    uint64_t bytes_in, bytes_out;
};

void mj_net_reset_close(int fd)
{
    if (fd < 0)
        return;
    struct linger l = {.l_onoff = 1, .l_linger = 0};
    (void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
    close(fd);
}

/* ---------------------------------------------------------------- the limiter */

static void bucket_refill(mj_net_bucket_t *b)
{
    double now = mj_net_now();
    b->tokens += (now - b->last) * b->rate;
    if (b->tokens > b->burst)
        b->tokens = b->burst;
    b->last = now;
}

static void update_interest(mj_net_relay_t *r);

static void bucket_wake(mj_net_timer_t *t)
{
    mj_net_bucket_t *b = t->data;
    struct mj_net_relay_wait *w = b->waiting;
    b->waiting = NULL;
    while (w) {
        struct mj_net_relay_wait *next = w->next;
        w->queued = false;
        w->next = NULL;
        if (!w->relay->closed)
            update_interest(w->relay);
        w = next;
    }
}

void mj_net_bucket_init(mj_net_bucket_t *b, mj_net_loop_t *loop, uint64_t rate)
{
    memset(b, 0, sizeof(*b));
    b->rate = (double)rate;
    /* A tenth of a second's worth at once, at least one buffer: smooth, yet few wake-ups. */
    b->burst = b->rate / 10 > MJ_NET_RELAY_BUF ? b->rate / 10 : MJ_NET_RELAY_BUF;
    b->tokens = b->burst;
    b->last = mj_net_now();
    b->loop = loop;
}

size_t mj_net_bucket_take(mj_net_bucket_t *b, size_t want)
{
    if (!b || b->rate <= 0)
        return want;
    bucket_refill(b);
    if (b->tokens < 1)
        return 0;
    size_t got = b->tokens < (double)want ? (size_t)b->tokens : want;
    b->tokens -= (double)got;
    return got;
}

static void bucket_wait(mj_net_bucket_t *b, struct mj_net_relay_wait *w)
{
    if (w->queued)
        return;
    w->queued = true;
    w->next = b->waiting;
    b->waiting = w;
    if (!b->timer.armed) {
        double need = (b->burst / 4 - b->tokens) / b->rate;
        mj_net_timer_arm(b->loop, &b->timer, need > 0.001 ? need : 0.001, bucket_wake, b);
    }
}

static void bucket_unwait(mj_net_bucket_t *b, struct mj_net_relay_wait *w)
{
    if (!b || !w->queued)
        return;
    for (struct mj_net_relay_wait **pp = &b->waiting; *pp; pp = &(*pp)->next) {
        if (*pp == w) {
            *pp = w->next;
            break;
        }
    }
    w->queued = false;
}

/* ---------------------------------------------------------------- the pump */

static void free_relay(void *p)
{
    mj_net_relay_t *r = p;
    free(r->out.data);
    free(r->in.data);
    free(r);
}

static void finish(mj_net_relay_t *r, const char *why, bool reset)
{
    if (r->closed)
        return;
    r->closed = true;
    mj_net_io_del(&r->s_io);
    mj_net_io_del(&r->w_io);
    bucket_unwait(r->o.egress, &r->wait_out);
    bucket_unwait(r->o.ingress, &r->wait_in);
    if (reset) {
        mj_net_reset_close(r->sfd);
        mj_net_reset_close(r->wfd);
    } else {
        close(r->sfd);
        close(r->wfd);
    }
    r->sfd = r->wfd = -1;
    if (r->o.inspect)
        r->o.inspect->destroy(r->o.inspect);
    r->o.inspect = NULL;
    mj_net_relay_done_fn done = r->o.done;
    r->o.done = NULL;
    if (done)
        done(r, why, r->o.data);
    mj_net_loop_defer(r->loop, free_relay, r);
}

void mj_net_relay_close(mj_net_relay_t *r, bool reset)
{
    r->o.done = NULL;
    finish(r, NULL, reset);
}

uint64_t mj_net_relay_bytes_in(const mj_net_relay_t *r)
{
    return r->bytes_in;
}

uint64_t mj_net_relay_bytes_out(const mj_net_relay_t *r)
{
    return r->bytes_out;
}

static size_t out_writable(const mj_net_relay_t *r)
{
    size_t buffered = r->out.end - r->out.start;
    int64_t cleared = r->out_cleared - r->out_sent;
    if (cleared < 0)
        cleared = 0;
    return (size_t)cleared < buffered ? (size_t)cleared : buffered;
}

static void compact(rbuf_t *b)
{
    if (b->start == b->end) {
        b->start = b->end = 0;
    } else if (b->end == MJ_NET_RELAY_BUF && b->start > 0) {
        memmove(b->data, b->data + b->start, b->end - b->start);
        b->end -= b->start;
        b->start = 0;
    }
}

static void update_interest(mj_net_relay_t *r)
{
    if (r->closed)
        return;
    uint32_t se = 0, we = 0;
    if (!r->s_eof && r->out.end < MJ_NET_RELAY_BUF && !r->wait_out.queued)
        se |= EPOLLIN;
    if (r->in.end > r->in.start)
        se |= EPOLLOUT;
    if (!r->w_eof && r->in.end < MJ_NET_RELAY_BUF && !r->wait_in.queued)
        we |= EPOLLIN;
    if (out_writable(r) > 0)
        we |= EPOLLOUT;
    mj_net_io_set(&r->s_io, se);
    mj_net_io_set(&r->w_io, we);
}

/* Moves what it can from fd into b.  1 progress, 0 nothing now, -1 error (errno), -2 EOF. */
static int fill(int fd, rbuf_t *b, mj_net_bucket_t *bucket, struct mj_net_relay_wait *w, size_t *got)
{
    *got = 0;
    size_t space = MJ_NET_RELAY_BUF - b->end;
    if (space == 0)
        return 0;
    size_t allowed = mj_net_bucket_take(bucket, space);
    if (allowed == 0) {
        bucket_wait(bucket, w);
        return 0;
    }
    ssize_t n = recv(fd, b->data + b->end, allowed, MSG_DONTWAIT);
    if (bucket && bucket->rate > 0 && (n < 0 || (size_t)n < allowed))
        bucket->tokens += (double)(allowed - (n > 0 ? (size_t)n : 0)); /* give back what was not used */
    if (n > 0) {
        b->end += (size_t)n;
        *got = (size_t)n;
        return 1;
    }
    if (n == 0)
        return -2;
    return errno == EAGAIN || errno == EINTR ? 0 : -1;
}

static int drain(int fd, rbuf_t *b, size_t max)
{
    if (max == 0)
        return 0;
    ssize_t n = send(fd, b->data + b->start, max, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n > 0) {
        b->start += (size_t)n;
        compact(b);
        return 1;
    }
    return n < 0 && errno != EAGAIN && errno != EINTR ? -1 : 0;
}

static void pump(mj_net_relay_t *r)
{
    for (int rounds = 0; rounds < 4 && !r->closed; rounds++) {
        bool progress = false;
        size_t got;
        /* sandbox → world */
        if (!r->s_eof) {
            size_t before = r->out.end;
            int f = fill(r->sfd, &r->out, r->o.egress, &r->wait_out, &got);
            if (f == -1)
                return finish(r, "sandbox side: read error", true);
            if (f == -2)
                r->s_eof = true;
            if (got) {
                progress = true;
                r->bytes_out += got;
                if (r->o.stats)
                    r->o.stats->bytes_out += got;
                if (r->o.inspect) {
                    int64_t c = r->o.inspect->scan_out(r->o.inspect, r->out.data + before, got);
                    if (c < 0)
                        return finish(r, r->o.inspect->why ? r->o.inspect->why : "refused by the inspector", true);
                    r->out_cleared = c;
                } else {
                    r->out_cleared += (int64_t)got;
                }
            }
        }
        size_t w = out_writable(r);
        size_t before_start = r->out.start, before_end = r->out.end;
        int d = drain(r->wfd, &r->out, w);
        if (d < 0)
            return finish(r, "world side: write error", true);
        if (d > 0) {
            /* drain may have compacted: count what left */
            size_t sent = before_end - before_start - (r->out.end - r->out.start);
            r->out_sent += (int64_t)sent;
            progress = true;
        }
        /* world → sandbox */
        if (!r->w_eof) {
            size_t before = r->in.end;
            int f = fill(r->wfd, &r->in, r->o.ingress, &r->wait_in, &got);
            if (f == -1)
                return finish(r, "world side: read error", true);
            if (f == -2)
                r->w_eof = true;
            if (got) {
                progress = true;
                r->bytes_in += got;
                if (r->o.stats)
                    r->o.stats->bytes_in += got;
                if (r->o.inspect && r->o.inspect->scan_in) {
                    if (r->o.inspect->scan_in(r->o.inspect, r->in.data + before, got) < 0)
                        return finish(r, r->o.inspect->why ? r->o.inspect->why : "refused by the inspector", true);
                    int64_t c = r->o.inspect->scan_out(r->o.inspect, NULL, 0);
                    if (c < 0)
                        return finish(r, r->o.inspect->why, true);
                    r->out_cleared = c;
                }
            }
        }
        d = drain(r->sfd, &r->in, r->in.end - r->in.start);
        if (d < 0)
            return finish(r, "sandbox side: write error", true);
        progress |= d > 0;
        /* Half-close: an end of stream crosses once everything before it has. */
        if (r->s_eof && !r->w_shut && r->out.start == r->out.end) {
            shutdown(r->wfd, SHUT_WR);
            r->w_shut = true;
        }
        if (r->s_eof && !r->w_shut && out_writable(r) == 0 && r->out.end > r->out.start) {
            /* What remains was never cleared (a request head cut short): it never goes out. */
            r->out.start = r->out.end = 0;
            shutdown(r->wfd, SHUT_WR);
            r->w_shut = true;
        }
        if (r->w_eof && !r->s_shut && r->in.start == r->in.end) {
            shutdown(r->sfd, SHUT_WR);
            r->s_shut = true;
        }
        if (r->s_shut && r->w_shut)
            return finish(r, NULL, false);
        if (!progress)
            break;
    }
    update_interest(r);
}

static void on_event(mj_net_io_t *io, uint32_t events)
{
    mj_net_relay_t *r = io->data;
    if ((events & EPOLLERR) && !(events & EPOLLIN)) {
        int e = 0;
        socklen_t l = sizeof(e);
        getsockopt(io->fd, SOL_SOCKET, SO_ERROR, &e, &l);
        return finish(r, io == &r->s_io ? "sandbox side: connection error" : "world side: connection error", true);
    }
    pump(r);
}

mj_net_relay_t *mj_net_relay_new(mj_net_loop_t *loop, int sfd, int wfd, const uint8_t *pre, size_t pre_len,
                                 int64_t pre_cleared, const mj_net_relay_opts_t *opts)
{
    mj_net_relay_t *r = mj_xcalloc(1, sizeof(*r));
    r->loop = loop;
    r->sfd = sfd;
    r->wfd = wfd;
    r->o = *opts;
    r->out.data = mj_xmalloc(MJ_NET_RELAY_BUF);
    r->in.data = mj_xmalloc(MJ_NET_RELAY_BUF);
    r->wait_out.relay = r->wait_in.relay = r;
    if (pre_len > MJ_NET_RELAY_BUF)
        pre_len = MJ_NET_RELAY_BUF;
    if (pre_len)
        memcpy(r->out.data, pre, pre_len);
    r->out.end = pre_len;
    r->out_cleared = pre_cleared;
    if (mj_net_io_add(loop, &r->s_io, sfd, 0, on_event, r) < 0 ||
        mj_net_io_add(loop, &r->w_io, wfd, 0, on_event, r) < 0) {
        mj_net_io_del(&r->s_io);
        r->o.done = NULL;
        finish(r, NULL, true);
        return NULL;
    }
    update_interest(r);
    return r;
}

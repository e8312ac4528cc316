/* loop.c — epoll, timers and deferred frees for moonjail-net.
 * Owns: the wait and the dispatch.  Never: I/O on the descriptors it watches. */
#define _GNU_SOURCE
#include "loop.h"

#include <errno.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "../util.h"

double mj_net_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int mj_net_loop_init(mj_net_loop_t *loop)
{
    loop->timers = NULL;
    loop->deferred = NULL;
    loop->stop = false;
    loop->epfd = epoll_create1(EPOLL_CLOEXEC);
    return loop->epfd < 0 ? -1 : 0;
}

static void run_deferred(mj_net_loop_t *loop)
{
    while (loop->deferred) {
        mj_net_deferred_t *d = loop->deferred;
        loop->deferred = d->next;
        d->fn(d->p);
        free(d);
    }
}

void mj_net_loop_close(mj_net_loop_t *loop)
{
    run_deferred(loop);
    if (loop->epfd >= 0)
        close(loop->epfd);
    loop->epfd = -1;
}

int mj_net_io_add(mj_net_loop_t *loop, mj_net_io_t *io, int fd, uint32_t events, mj_net_io_fn fn, void *data)
{
    io->fd = fd;
    io->events = events;
    io->fn = fn;
    io->data = data;
    io->loop = loop;
    struct epoll_event ev = {.events = events, .data.ptr = io};
    if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
        io->fd = -1;
        return -1;
    }
    return 0;
}

void mj_net_io_set(mj_net_io_t *io, uint32_t events)
{
    if (io->fd < 0 || io->events == events)
        return;
    io->events = events;
    struct epoll_event ev = {.events = events, .data.ptr = io};
    (void)epoll_ctl(io->loop->epfd, EPOLL_CTL_MOD, io->fd, &ev);
}

void mj_net_io_del(mj_net_io_t *io)
{
    if (io->fd < 0)
        return;
    (void)epoll_ctl(io->loop->epfd, EPOLL_CTL_DEL, io->fd, NULL);
    io->fd = -1;
    io->fn = NULL;
}

void mj_net_timer_cancel(mj_net_loop_t *loop, mj_net_timer_t *t)
{
    if (!t->armed)
        return;
    if (t->prev)
        t->prev->next = t->next;
    else
        loop->timers = t->next;
    if (t->next)
        t->next->prev = t->prev;
    t->prev = t->next = NULL;
    t->armed = false;
}

void mj_net_timer_arm(mj_net_loop_t *loop, mj_net_timer_t *t, double seconds, mj_net_timer_fn fn, void *data)
{
    mj_net_timer_cancel(loop, t);
    t->when = mj_net_now() + seconds;
    t->fn = fn;
    t->data = data;
    t->armed = true;
    mj_net_timer_t **pp = &loop->timers, *prev = NULL;
    while (*pp && (*pp)->when <= t->when) {
        prev = *pp;
        pp = &(*pp)->next;
    }
    t->next = *pp;
    t->prev = prev;
    if (*pp)
        (*pp)->prev = t;
    *pp = t;
}

void mj_net_loop_defer(mj_net_loop_t *loop, void (*fn)(void *), void *p)
{
    mj_net_deferred_t *d = mj_xmalloc(sizeof(*d));
    d->fn = fn;
    d->p = p;
    d->next = loop->deferred;
    loop->deferred = d;
}

int mj_net_loop_run(mj_net_loop_t *loop)
{
    struct epoll_event evs[64];
    while (!loop->stop) {
        int timeout = -1;
        if (loop->timers) {
            double wait = loop->timers->when - mj_net_now();
            timeout = wait <= 0 ? 0 : (int)(wait * 1000.0) + 1;
        }
        int n = epoll_wait(loop->epfd, evs, (int)MJ_ARRAY_LEN(evs), timeout);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        for (int i = 0; i < n; i++) {
            mj_net_io_t *io = evs[i].data.ptr;
            if (io->fd >= 0 && io->fn)
                io->fn(io, evs[i].events);
        }
        double now = mj_net_now();
        while (loop->timers && loop->timers->when <= now) {
            mj_net_timer_t *t = loop->timers;
            mj_net_timer_cancel(loop, t);
            t->fn(t);
        }
        run_deferred(loop);
    }
    return 0;
}

/* loop.h — moonjail-net's event loop: epoll for file descriptors, a sorted list for timers, and
 * deferred frees so that an object closed in one callback is never touched by the next event of
 * the same batch.
 * Owns: waiting and dispatching.  Never: reading or writing a descriptor it watches. */
#ifndef MJ_NET_LOOP_H
#define MJ_NET_LOOP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/epoll.h>

typedef struct mj_net_loop mj_net_loop_t;
typedef struct mj_net_io mj_net_io_t;
typedef struct mj_net_timer mj_net_timer_t;

typedef void (*mj_net_io_fn)(mj_net_io_t *io, uint32_t events);
typedef void (*mj_net_timer_fn)(mj_net_timer_t *t);

struct mj_net_io {
    int fd;          /* -1 once removed */
    uint32_t events; /* EPOLLIN / EPOLLOUT wanted */
    mj_net_io_fn fn;
    void *data;
    mj_net_loop_t *loop;
};

struct mj_net_timer {
    double when; /* monotonic seconds */
    mj_net_timer_fn fn;
    void *data;
    mj_net_timer_t *prev, *next;
    bool armed;
};

typedef struct mj_net_deferred {
    void (*fn)(void *);
    void *p;
    struct mj_net_deferred *next;
} mj_net_deferred_t;

struct mj_net_loop {
    int epfd;
    mj_net_timer_t *timers; /* sorted by when */
    mj_net_deferred_t *deferred;
    bool stop;
};

double mj_net_now(void);

int mj_net_loop_init(mj_net_loop_t *loop); /* 0, or -1 with errno */
void mj_net_loop_close(mj_net_loop_t *loop);
/* Runs until loop->stop is set; 0, or -1 with errno when epoll fails. */
int mj_net_loop_run(mj_net_loop_t *loop);

/* Watches fd (the io does not own it).  0, or -1 with errno. */
int mj_net_io_add(mj_net_loop_t *loop, mj_net_io_t *io, int fd, uint32_t events, mj_net_io_fn fn, void *data);
/* Changes the events wanted (a no-op when unchanged). */
void mj_net_io_set(mj_net_io_t *io, uint32_t events);
/* Stops watching; later events of the current batch for this io are dropped. */
void mj_net_io_del(mj_net_io_t *io);

void mj_net_timer_arm(mj_net_loop_t *loop, mj_net_timer_t *t, double seconds, mj_net_timer_fn fn, void *data);
void mj_net_timer_cancel(mj_net_loop_t *loop, mj_net_timer_t *t);

/* Calls fn(p) after the current batch of events (to free what events may still point at). */
void mj_net_loop_defer(mj_net_loop_t *loop, void (*fn)(void *), void *p);

#endif

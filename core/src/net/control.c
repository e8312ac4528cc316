/* control.c — the control socket's one-line protocol.
 * Owns: accepting, reading a line, answering.  Never: anything that changes the sandbox's
 * network. */
#define _GNU_SOURCE
#include "control.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../error.h"
#include "../util.h"

typedef struct mj_net_control {
    mj_netd_t *d;
    int fd;
    mj_net_io_t io;
} ctl_t;

typedef struct {
    mj_netd_t *d;
    int fd;
    mj_net_io_t io;
    mj_net_timer_t timer;
    char line[64];
    size_t len;
} client_t;

void mj_net_control_stats_line(const mj_netd_t *d, char *out, size_t cap)
{
    mj_net_stats_format(&d->stats, out, cap);
}

static void client_free(void *p)
{
    free(p);
}

static void client_close(client_t *c)
{
    mj_net_io_del(&c->io);
    mj_net_timer_cancel(&c->d->loop, &c->timer);
    close(c->fd);
    mj_net_loop_defer(&c->d->loop, client_free, c);
}

static void answer(client_t *c, const char *text)
{
    (void)send(c->fd, text, strlen(text), MSG_NOSIGNAL | MSG_DONTWAIT);
    client_close(c);
}

static void on_link_bytes(void *data, const mj_net_agent_rep_t *rep, int fd)
{
    client_t *c = data;
    if (fd >= 0)
        close(fd);
    if (rep->err == 0) { /* outbound: the engine's interface carries every byte */
        c->d->stats.bytes_in = rep->v1;
        c->d->stats.bytes_out = rep->v2;
    }
    char line[512], out[600];
    mj_net_control_stats_line(c->d, line, sizeof(line));
    snprintf(out, sizeof(out), "ok %s\n", line);
    answer(c, out);
}

static void on_client(mj_net_io_t *io, uint32_t events)
{
    client_t *c = io->data;
    (void)events;
    ssize_t n = recv(c->fd, c->line + c->len, sizeof(c->line) - 1 - c->len, MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0)
        return client_close(c);
    c->len += (size_t)n;
    c->line[c->len] = '\0';
    char *nl = strchr(c->line, '\n');
    if (!nl) {
        if (c->len == sizeof(c->line) - 1)
            answer(c, "error line too long\n");
        return;
    }
    *nl = '\0';
    if (strcmp(c->line, "ping") == 0)
        return answer(c, "ok\n");
    if (strcmp(c->line, "stats") == 0) {
        if (c->d->conf->mode == MJ_NET_MODE_OUTBOUND) {
            mj_net_io_set(&c->io, 0);
            mj_net_agent_req_t q = mj_net_agent_req(MJ_AGENT_LINK_BYTES, NULL, 0, 0);
            mj_net_agent_call(&c->d->agent, &q, on_link_bytes, c);
            return;
        }
        mj_net_agent_rep_t none = {.err = -1};
        return on_link_bytes(c, &none, -1);
    }
    answer(c, "error unknown command (stats, ping)\n");
}

static void on_timeout(mj_net_timer_t *t)
{
    client_close(t->data);
}

static void on_accept(mj_net_io_t *io, uint32_t events)
{
    ctl_t *ctl = io->data;
    (void)events;
    for (int i = 0; i < 16; i++) {
        int fd = accept4(ctl->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return;
        client_t *c = mj_xcalloc(1, sizeof(*c));
        c->d = ctl->d;
        c->fd = fd;
        if (mj_net_io_add(&ctl->d->loop, &c->io, fd, EPOLLIN, on_client, c) < 0) {
            close(fd);
            free(c);
            continue;
        }
        mj_net_timer_arm(&ctl->d->loop, &c->timer, 5.0, on_timeout, c);
    }
}

int mj_net_control_start(mj_netd_t *d, int listen_fd, mj_error_t **err)
{
    ctl_t *ctl = mj_xcalloc(1, sizeof(*ctl));
    ctl->d = d;
    ctl->fd = listen_fd;
    d->control = ctl;
    if (mj_net_io_add(&d->loop, &ctl->io, listen_fd, EPOLLIN, on_accept, ctl) < 0) {
        if (err)
            *err = mj_error_sys(MJ_ERR_SANDBOX_INIT_FAILED, errno, "moonjail-net: control socket");
        return -1;
    }
    return 0;
}

void mj_net_control_stop(mj_netd_t *d)
{
    ctl_t *ctl = d->control;
    if (!ctl)
        return;
    mj_net_io_del(&ctl->io);
    close(ctl->fd);
    free(ctl);
    d->control = NULL;
}

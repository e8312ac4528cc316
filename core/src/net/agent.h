/* agent.h — the agent: a small child of moonjail-net that lives inside the sandbox's network
 * namespace and makes what only a process there can make: listening and unconnected sockets
 * (handed back over SCM_RIGHTS: a socket stays in the namespace it was created in, wherever its
 * descriptor goes) and route changes (rtnetlink checks the sender's capabilities in the
 * namespace's owning user namespace, which moonjail-net gives up when it drops privileges).
 * It joins the sandbox's user namespace first (a rootless caller may enter a network namespace
 * only from inside the user namespace that owns it), then the network namespace, then locks
 * itself down with its own seccomp allow-list: whatever a compromised moonjail-net asks of it
 * stays inside the sandbox's network namespace.
 * Owns: the agent process, its request/reply wire, and the client end in moonjail-net.
 * Never: decisions (it does what it is asked, within its fixed set of operations), files, or
 * anything outside the sandbox's network namespace. */
#ifndef MJ_NET_AGENT_H
#define MJ_NET_AGENT_H

#include <moonjail/moonjail.h>
#include <stdint.h>
#include <sys/types.h>

#include "addr.h"
#include "loop.h"

typedef enum {
    MJ_AGENT_LO_UP = 1,       /* bring loopback up */
    MJ_AGENT_PROHIBIT,        /* a "prohibit" route for addr/prefix */
    MJ_AGENT_LOCAL_ADD,       /* a "local" route for addr/prefix (dev lo) */
    MJ_AGENT_LOCAL_DEL,
    MJ_AGENT_LISTEN_TCP,      /* → a listening TCP socket on addr:port (IP_FREEBIND, SO_REUSEPORT) */
    MJ_AGENT_BIND_UDP,        /* → a UDP socket bound to addr:port */
    MJ_AGENT_SOCKET,          /* → an unconnected socket of family, udp ? DGRAM : STREAM */
    MJ_AGENT_LINK_BYTES,      /* → v1 = rx, v2 = tx bytes of the non-loopback interfaces */
} mj_net_agent_op_t;

typedef struct {
    uint32_t op;
    uint32_t seq;
    int32_t family;
    uint32_t prefix;
    uint8_t addr[16];
    uint16_t port;
    uint8_t udp;
    uint8_t pad;
} mj_net_agent_req_t;

typedef struct {
    uint32_t seq;
    int32_t err; /* 0 or -errno */
    uint64_t v1, v2;
} mj_net_agent_rep_t;

/* fd: the socket asked for (the callback owns it), or -1. */
typedef void (*mj_net_agent_cb)(void *data, const mj_net_agent_rep_t *rep, int fd);

typedef struct mj_net_agent_pending mj_net_agent_pending_t;

typedef struct {
    int fd;
    pid_t pid;
    uint32_t seq;
    mj_net_io_t io;
    mj_net_agent_pending_t *head, *tail;   /* sent, awaiting replies (in order) */
    mj_net_agent_pending_t *qhead, *qtail; /* not sent yet (the socket was full) */
    size_t n_pending;
} mj_net_agent_t;

/* Forks the agent.  userns_fd may be -1 (the caller can enter netns_fd directly: root, or already
 * in the owning user namespace).  Both fds stay the caller's.  Waits until the agent is inside
 * and ready: 0, or -1 with an error saying which step failed. */
int mj_net_agent_start(mj_net_agent_t *ag, int userns_fd, int netns_fd, mj_error_t **err);
/* A blocking call, for start-up (before the loop runs). */
int mj_net_agent_call_sync(mj_net_agent_t *ag, mj_net_agent_req_t *req, mj_net_agent_rep_t *rep, int *fd);
/* Watches the agent's socket in loop; from then on use mj_net_agent_call. */
int mj_net_agent_attach(mj_net_agent_t *ag, mj_net_loop_t *loop);
/* Queues req; cb(data, rep, fd) runs when the agent answers (data must live until then). */
void mj_net_agent_call(mj_net_agent_t *ag, mj_net_agent_req_t *req, mj_net_agent_cb cb, void *data);
/* Closes the socket (the agent exits on EOF) and reaps the agent. */
void mj_net_agent_stop(mj_net_agent_t *ag);

/* Fills a request for op on addr/prefix/port. */
mj_net_agent_req_t mj_net_agent_req(mj_net_agent_op_t op, const mj_net_addr_t *addr, unsigned prefix, uint16_t port);

#endif

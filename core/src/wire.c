/* wire.c — SCM_RIGHTS packets, the decoders of requests and replies, and the sandbox side's status
 * messages (see wire.h). */
#define _GNU_SOURCE
#include "proto.h"
#include "util.h"
#include "wire.h"

#include <sys/socket.h>

ssize_t mj_wire_send(int sock, const struct iovec *iov, size_t iovcnt, const int *fds, int nfds, int flags)
{
    char cbuf[CMSG_SPACE(sizeof(int) * MJ_WIRE_MAX_FDS)];
    struct msghdr msg = {.msg_iov = (struct iovec *)iov, .msg_iovlen = iovcnt};
    if (nfds > MJ_WIRE_MAX_FDS) {
        errno = EINVAL;
        return -1;
    }
    if (nfds > 0) {
        memset(cbuf, 0, sizeof(cbuf));
        msg.msg_control = cbuf;
        msg.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds);
        struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
        memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)nfds);
    }
    ssize_t n;
    do
        n = sendmsg(sock, &msg, flags);
    while (n < 0 && errno == EINTR);
    return n;
}

ssize_t mj_wire_recv(int sock, void *buf, size_t size, int flags, int *fds, int max_fds, int *nfds, bool *truncated)
{
    char cbuf[CMSG_SPACE(sizeof(int) * MJ_WIRE_MAX_FDS)];
    struct iovec iov = {.iov_base = buf, .iov_len = size};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf)};
    if (max_fds > MJ_WIRE_MAX_FDS)
        max_fds = MJ_WIRE_MAX_FDS;
    ssize_t n = recvmsg(sock, &msg, flags | MSG_CMSG_CLOEXEC);
    int kept = 0;
    for (struct cmsghdr *c = n >= 0 ? CMSG_FIRSTHDR(&msg) : NULL; c; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
            continue;
        int cnt = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
        for (int i = 0; i < cnt; i++) {
            int f;
            memcpy(&f, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
            if (kept < max_fds)
                fds[kept++] = f;
            else
                close(f); /* never keep more than asked for */
        }
    }
    if (nfds)
        *nfds = kept;
    if (truncated)
        *truncated = n >= 0 && (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC));
    return n;
}

ssize_t mj_wire_recv_request(int sock, void *buf, size_t size, int flags, int fds[MJ_WIRE_MAX_FDS], int *nfds)
{
    bool truncated;
    ssize_t n = mj_wire_recv(sock, buf, size, flags, fds, MJ_WIRE_MAX_FDS, nfds, &truncated);
    if (truncated) {
        errno = EMSGSIZE;
        return -2;
    }
    return n;
}

/* ------------------------------------------------------------------ decoders */

int mj_wire_check_request(const void *buf, size_t n, int nfds, mj_req_t *req)
{
    if (n < sizeof(*req))
        return EPROTO;
    memcpy(req, buf, sizeof(*req));
    if (req->magic != MJ_PROTO_MAGIC || req->len != n - sizeof(*req) ||
        (req->type != MJ_REQ_EXEC && nfds > (req->type == MJ_REQ_MAIN_WATCH ? 1 : 0)))
        return EPROTO;
    return 0;
}

int mj_wire_decode_exec(char *payload, size_t len, const uint32_t *only_ids, mj_exec_req_t *er, char **workdir,
                        char **argv, char **envp, char **paths)
{
    if (len < sizeof(*er)) {
        errno = EPROTO;
        return -1;
    }
    memcpy(er, payload, sizeof(*er));
    if (er->argc < 1 || er->argc > MJ_PROTO_MAX_ARGS || er->envc > MJ_PROTO_MAX_ENV || er->npaths > MJ_PROTO_MAX_PATHS ||
        (er->flags & ~(MJ_EXEC_DETACHED | MJ_EXEC_READ_ONLY | MJ_EXEC_TTY | MJ_EXEC_NO_NETWORK | MJ_EXEC_MAIN))) {
        errno = E2BIG;
        return -1;
    }
    if (er->uid >= 65536 || er->gid >= 65536 || (only_ids && (er->uid != only_ids[0] || er->gid != only_ids[1]))) {
        errno = EINVAL; /* rootless maps exactly one id */
        return -1;
    }
    char *p = payload + sizeof(*er);
    char *end = payload + len;
    size_t want = 1 + er->argc + er->envc + er->npaths;
    for (size_t i = 0; i < want; i++) {
        char *nul = memchr(p, '\0', (size_t)(end - p));
        if (!nul) {
            errno = EPROTO;
            return -1;
        }
        if (i == 0)
            *workdir = p;
        else if (i <= er->argc)
            argv[i - 1] = p;
        else if (i <= er->argc + er->envc)
            envp[i - 1 - er->argc] = p;
        else
            paths[i - 1 - er->argc - er->envc] = p;
        p = nul + 1;
    }
    argv[er->argc] = NULL;
    envp[er->envc] = NULL;
    paths[er->npaths] = NULL;
    if ((*workdir)[0] != '/' || !argv[0][0]) {
        errno = EINVAL;
        return -1;
    }
    for (size_t i = 0; i < er->npaths; i++)
        if (paths[i][0] != '/') {
            errno = EINVAL;
            return -1;
        }
    return 0;
}

bool mj_wire_reply_ok(const mj_rep_t *rep, ssize_t n)
{
    return n == (ssize_t)sizeof(*rep) && rep->magic == MJ_PROTO_MAGIC &&
           (rep->type == MJ_REP_OK || rep->type == MJ_REP_ERR);
}

void mj_wire_msg(int fd, uint32_t type, int32_t a, int32_t b, int32_t c)
{
    mj_msg_t m = {.type = type, .a = a, .b = b, .c = c, .t_ns = mj_realtime_ns()};
    (void)mj_write_all(fd, &m, sizeof(m));
}

__attribute__((noreturn)) void mj_wire_setup_failed(int fd, int stage, int op_index)
{
    int e = errno;
    mj_wire_msg(fd, MJ_MSG_SETUP_FAILED, (int32_t)stage, e, op_index);
    _exit(1);
}

/* wire.h — moving the messages of proto.h: packets with fds (SCM_RIGHTS) on the host↔supervisor
 * sockets, and the status messages the sandbox side reports.  Owns: the cmsg handling, in one
 * place.  Never: allocation, or any system call but sendmsg/recvmsg/write (the supervisor uses it
 * under its own narrow seccomp filter, and the cloned child before exec). */
#ifndef MJ_WIRE_H
#define MJ_WIRE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "proto.h"

#define MJ_WIRE_MAX_FDS 4 /* fds a packet may carry: an exec request's stdin, stdout, stderr, channel */

/* Sends one packet (iov) with nfds fds (≤ MJ_WIRE_MAX_FDS) attached; bytes sent, or -1 with errno
 * (EINTR retried).  flags: MSG_NOSIGNAL, MSG_DONTWAIT… */
ssize_t mj_wire_send(int sock, const struct iovec *iov, size_t iovcnt, const int *fds, int nfds, int flags);
/* Receives one packet into buf (size bytes) and up to max_fds of its fds into fds (*nfds of them,
 * O_CLOEXEC; more are closed, never kept; max_fds 0 refuses them all).  *truncated (optional)
 * says whether the packet or its fds were cut short.  recvmsg's result: bytes, 0 at EOF, -1 with
 * errno (EINTR not retried: the caller decides). */
ssize_t mj_wire_recv(int sock, void *buf, size_t size, int flags, int *fds, int max_fds, int *nfds, bool *truncated);
/* The supervisor's and the spawner's receive of one request (mj_req_t and payload) with up to
 * MJ_WIRE_MAX_FDS fds: bytes, 0 at EOF, -1 with errno, or -2 (EMSGSIZE) when it was truncated
 * (its fds, if any, are in fds for the caller to close). */
ssize_t mj_wire_recv_request(int sock, void *buf, size_t size, int flags, int fds[MJ_WIRE_MAX_FDS], int *nfds);

/* The decoders: pure checks of bytes received, shared by the receiving ends and the fuzz targets
 * (fuzz/targets/wire.c).  No system call, no allocation. */

/* A request of n bytes in buf that came with nfds fds: 0 with *req filled, or EPROTO when it is
 * short, has the wrong magic, a length that is not its payload's, or fds on a type other than
 * MJ_REQ_EXEC. */
int mj_wire_check_request(const void *buf, size_t n, int nfds, mj_req_t *req);
/* An exec request's payload (len bytes after its mj_req_t; modified in place: the strings stay
 * there): 0 with *er, *workdir, argv[0..argc], envp[0..envc] and paths[0..npaths] (the
 * restrict_paths; NULL-terminated; room for MJ_PROTO_MAX_ARGS + 1, MJ_PROTO_MAX_ENV + 1 and
 * MJ_PROTO_MAX_PATHS + 1) filled, or -1 with errno: EPROTO (short, or a string missing), E2BIG
 * (counts or flags out of range), EINVAL (ids >= 65536, ids other than only_ids[0]/[1] when
 * only_ids is given, a relative workdir, an empty argv[0], a relative path); checked in that
 * order. */
int mj_wire_decode_exec(char *payload, size_t len, const uint32_t *only_ids, mj_exec_req_t *er, char **workdir,
                        char **argv, char **envp, char **paths);
/* A reply of n bytes (n < 0: none) in rep: whether it is one (size, magic and type). */
bool mj_wire_reply_ok(const mj_rep_t *rep, ssize_t n);

/* Sandbox side: writes one status message, stamped with CLOCK_REALTIME (errors ignored: a host
 * that went away cannot be told). */
void mj_wire_msg(int fd, uint32_t type, int32_t a, int32_t b, int32_t c);
/* Sandbox side, during setup: reports SETUP_FAILED with errno and exits. */
__attribute__((noreturn)) void mj_wire_setup_failed(int fd, int stage, int op_index);

#endif

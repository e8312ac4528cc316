/* http.h — the host names an HTTP/1.x client asks for on a connection, request after request.
 * Owns: a strict streaming framer of requests (heads up to 16 KiB, Content-Length and chunked
 * bodies, one WebSocket upgrade) and the HTTP inspector built on it: every request's Host (and an
 * absolute-form target's host) is checked, not only the first one's.  Never: changing a byte, or
 * guessing where a request ends when the framing is ambiguous (that is a refusal). */
#ifndef MJ_NET_HTTP_H
#define MJ_NET_HTTP_H

#include <stdint.h>

#include "inspect.h"

#define MJ_HTTP_HEAD_MAX 16384

/* port: the connection's destination port; a Host header naming another port is refused. */
mj_net_inspect_t *mj_http_inspector_new(uint16_t port, mj_net_host_check_fn check, void *ctx);

#endif

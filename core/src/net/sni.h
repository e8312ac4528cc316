/* sni.h — the server name a TLS client asks for, read from its ClientHello.
 * Owns: a strict, bounded ClientHello parser (records reassembled up to 16 KiB) and the TLS
 * inspector built on it.  Never: decryption, a TLS state machine, or changing a byte. */
#ifndef MJ_NET_SNI_H
#define MJ_NET_SNI_H

#include <stddef.h>
#include <stdint.h>

#include "inspect.h"
#include "rules.h"

#define MJ_TLS_HELLO_MAX 16384 /* ClientHello bytes (handshake body) accepted */

typedef enum { MJ_SNI_BAD = -1, MJ_SNI_NEED_MORE = 0, MJ_SNI_OK = 1 } mj_sni_status_t;

/* Parses the start of a TLS stream.  OK: name holds the normalised server name.  NEED_MORE: give
 * it more bytes (at most MJ_TLS_HELLO_MAX + a few record headers are ever needed).  BAD: *why
 * says what (not TLS, no server name, several names, an IP literal, ECH…). */
mj_sni_status_t mj_tls_client_hello_sni(const uint8_t *buf, size_t len, char name[MJ_NET_NAME_MAX + 1],
                                        const char **why);

/* An inspector that holds everything until the ClientHello is complete, asks check(ctx, sni),
 * then forwards the rest of the stream untouched. */
mj_net_inspect_t *mj_tls_inspector_new(mj_net_host_check_fn check, void *ctx);

#endif

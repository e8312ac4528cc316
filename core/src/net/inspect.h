/* inspect.h — the interface between the relay and a protocol inspector (TLS ClientHello, HTTP/1
 * requests): the relay hands it every byte the sandbox sends, in order, and forwards only what
 * the inspector has cleared.
 * Owns: the shape of that contract.  Never: parsing or I/O of its own. */
#ifndef MJ_NET_INSPECT_H
#define MJ_NET_INSPECT_H

#include <stddef.h>
#include <stdint.h>

/* Called with each host name the stream asks for (SNI, Host): 0 allows, -1 refuses. */
typedef int (*mj_net_host_check_fn)(void *ctx, const char *host);

typedef struct mj_net_inspect mj_net_inspect_t;
struct mj_net_inspect {
    /* Takes the next len bytes from the sandbox.  Returns how many bytes of everything fed so far
     * may be forwarded (never less than before), or -1 to refuse the connection (why says so). */
    int64_t (*scan_out)(mj_net_inspect_t *in, const uint8_t *data, size_t len);
    /* Sees the next len bytes from the server (may be NULL): 0, or -1 to refuse. */
    int (*scan_in)(mj_net_inspect_t *in, const uint8_t *data, size_t len);
    void (*destroy)(mj_net_inspect_t *in);
    const char *why;          /* set with -1 */
    char host[254];           /* the last host name checked, for audit records */
    mj_net_host_check_fn check;
    void *ctx;
};

#endif

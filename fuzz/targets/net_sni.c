/* fuzz/targets/net_sni.c — the TLS ClientHello parser (core/src/net/sni.c), whole and through the
 * inspector fed in chunks of the sizes the first byte picks.  Invariants: an accepted name is a
 * normalised host name (mj_net_name_normalize leaves it as it is); the inspector never clears
 * more bytes than it was fed, nor fewer than before. */
#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "net/inspect.h"
#include "net/rules.h"
#include "net/sni.h"

static int check(void *ctx, const char *host)
{
    (void)ctx;
    return host[0] == 'x' ? -1 : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t step = 1 + data[0] % 64;
    data++;
    size--;
    char name[MJ_NET_NAME_MAX + 1];
    const char *why = NULL;
    if (mj_tls_client_hello_sni(data, size, name, &why) == MJ_SNI_OK) {
        char again[MJ_NET_NAME_MAX + 1];
        assert(mj_net_name_normalize(name, again) == 0 && strcmp(name, again) == 0);
    }
    mj_net_inspect_t *in = mj_tls_inspector_new(check, NULL);
    int64_t cleared = 0;
    for (size_t at = 0; at < size; at += step) {
        size_t n = size - at < step ? size - at : step;
        int64_t r = in->scan_out(in, data + at, n);
        if (r < 0)
            break;
        assert(r >= cleared && (size_t)r <= at + n);
        cleared = r;
    }
    in->destroy(in);
    return 0;
}

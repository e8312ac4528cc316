/* fuzz/targets/net_sni.c — the TLS ClientHello parser (core/src/net/sni.c), whole and through the
 * inspector fed in chunks of the sizes the first byte picks.  Invariants: an accepted name is a
 * normalised host name (mj_net_name_normalize leaves it as it is); the inspector never clears
 * more bytes than it was fed, nor fewer than before. */
#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "net/rules.h"
#include "net/sni.h"
#include "inspect_feed.h"

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
    mj_fuzz_feed(mj_tls_inspector_new(mj_fuzz_check_name, NULL), data, size, step);
    return 0;
}

/* fuzz/targets/net_http.c — the HTTP/1 request framer (core/src/net/http.c): requests as a
 * sandbox sends them, through the inspector fed in chunks of the sizes the first byte picks (port
 * 80).  Invariant: the inspector never clears more bytes than it was fed, nor fewer than before. */
#include <stdint.h>

#include "net/rules.h"
#include "net/http.h"
#include "inspect_feed.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    mj_fuzz_feed(mj_http_inspector_new(80, mj_fuzz_check_name, NULL), data + 1, size - 1, 1 + data[0] % 64);
    return 0;
}

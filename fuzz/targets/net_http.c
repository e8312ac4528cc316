/* fuzz/targets/net_http.c — the HTTP/1 request framer (core/src/net/http.c): requests as a
 * sandbox sends them, through the inspector fed in chunks of the sizes the first byte picks (port
 * 80).  Invariant: the inspector never clears more bytes than it was fed, nor fewer than before. */
#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "net/inspect.h"
#include "net/rules.h"
#include "net/http.h"

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
    mj_net_inspect_t *in = mj_http_inspector_new(80, check, NULL);
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

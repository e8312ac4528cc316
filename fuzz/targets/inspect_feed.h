/* fuzz/targets/inspect_feed.h — what the stream-inspector targets share: the name check they
 * hand the inspector (a name starting with 'x' is denied) and the chunked feed.  The first input
 * byte picks the chunk size; the inspector never clears more bytes than it was fed, nor fewer
 * than before (asserted).  Never used outside fuzz/targets. */
#ifndef MJ_FUZZ_INSPECT_FEED_H
#define MJ_FUZZ_INSPECT_FEED_H

#include <assert.h>
#include <stddef.h>
#include <stdint.h>

#include "net/inspect.h"

static inline int mj_fuzz_check_name(void *ctx, const char *host)
{
    (void)ctx;
    return host[0] == 'x' ? -1 : 0;
}

/* Feeds data (without its first, chunk-size byte) to in in chunks, then destroys in. */
static inline void mj_fuzz_feed(mj_net_inspect_t *in, const uint8_t *data, size_t size, size_t step)
{
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
}

#endif

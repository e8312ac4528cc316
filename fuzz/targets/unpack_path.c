/* fuzz/targets/unpack_path.c — a tar entry's name as mj_unpack_entry_path sanitises it (and a
 * hardlink's target, the same way).  Invariants: an accepted name is relative, has no "." or ".."
 * component, no empty component, no leading or trailing '/', and never more components than
 * the raw name less the stripped ones. */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "unpack.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    unsigned strip = data[0] % 8;
    char *raw = malloc(size);
    memcpy(raw, data + 1, size - 1);
    raw[size - 1] = '\0';
    char *out = NULL;
    const char *why = NULL;
    if (mj_unpack_entry_path(raw, strip, &out, &why) == 0) {
        if (out) {
            size_t n = strlen(out);
            assert(n > 0 && out[0] != '/' && out[n - 1] != '/');
            assert(strstr(out, "//") == NULL);
            for (const char *p = out; *p;) {
                size_t len = strcspn(p, "/");
                assert(!(len == 1 && p[0] == '.'));
                assert(!(len == 2 && p[0] == '.' && p[1] == '.'));
                p += len;
                if (*p)
                    p++;
            }
        }
    } else {
        assert(why != NULL && out == NULL);
    }
    free(out);
    free(raw);
    return 0;
}

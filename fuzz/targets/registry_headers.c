/* fuzz/targets/registry_headers.c — the registry client's header parsing (core/src/image/
 * registry.c, compiled into this target so its static callbacks can be reached): the input is a
 * stream of header lines as libcurl hands them over (status lines, headers, blank lines, trailers,
 * several answers after 1xx), then a Content-Range checked against a blob's size.  Invariants: no
 * crash, no leak, every kept value at most HEADER_VALUE_MAX bytes, content_length -1 or >= 0. */
#include "image/registry.c"

#include <assert.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mj_http_request_t req;
    memset(&req, 0, sizeof req);
    req.resp.content_length = -1;
    req.size = size;
    req.digest = "sha256:0000";
    req.url = "https://registry.example/v2/x/blobs/sha256:0000";
    transfer_t t;
    memset(&t, 0, sizeof t);
    t.req = &req;
    t.fd = -1;

    char *copy = malloc(size + 1);
    memcpy(copy, data, size);
    copy[size] = '\0';
    for (size_t at = 0; at < size;) {
        const char *nl = memchr(copy + at, '\n', size - at);
        size_t n = nl ? (size_t)(nl - (copy + at)) + 1 : size - at;
        char *line = malloc(n ? n : 1); /* exactly n bytes: a read past them is a finding */
        memcpy(line, copy + at, n);
        size_t r = header_cb(line, 1, n, &t);
        assert(r == n);
        free(line);
        at += n;
    }
    const char *fields[] = {req.resp.www_authenticate, req.resp.content_type, req.resp.docker_content_digest,
                            req.resp.retry_after, req.resp.content_range, req.resp.location};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        assert(!fields[i] || strlen(fields[i]) <= HEADER_VALUE_MAX);
    assert(req.resp.content_length >= -1);
    t.offset = size / 2;
    if (check_content_range(&t, req.resp.content_range ? req.resp.content_range : copy) < 0)
        assert(t.abort_error != NULL);
    mj_error_free(t.abort_error);
    free(t.origin);
    response_clear(&req.resp);
    free(copy);
    return 0;
}

/* fetch.h — HTTP(S) with libcurl (fetch.c): libcurl's one-time set-up and the verdict on its
 * transport failures (the registry client, image/registry.c, stands on both), one GET request
 * whose body goes to a sink, and, on top of it, the download of a URL into a new file. */
#ifndef MJ_FETCH_H
#define MJ_FETCH_H

#include <moonjail/moonjail.h>
#include <stdbool.h>
#include <stddef.h>

/* libcurl loaded (lazylib.h) and initialised, once per process: 0, or -1 with UNSUPPORTED (not
 * installed) or NETWORK (it did not initialise). */
int mj_curl_ready(mj_error_t **err);
/* Whether a libcurl result code (CURLcode) is a transport failure worth another try: the
 * network, not the request, was the problem (resolve, connect, timeouts, send/receive, TLS
 * handshake, HTTP/2 stream errors). */
bool mj_curl_retryable(int code);

/* Takes the next piece of a response body: 0 to go on, -1 with errno to stop the transfer. */
typedef int (*mj_fetch_sink_fn)(const void *data, size_t len, void *ud);

typedef struct {
    const char *url;            /* http:// or https:// only; redirects: at most 5, to http/https only */
    const char *const *headers; /* extra request headers ("Name: value"), NULL-terminated; or NULL */
    uint64_t max_bytes;         /* of the body; 0 = 4 GiB */
    mj_fetch_sink_fn sink;      /* required */
    void *sink_ud;
    const char *sink_name;      /* what the sink writes to, for messages; NULL: the URL */
    /* Optional: called as the body arrives, at most every 100 ms and once more at its end, with
     * the bytes so far and the body's size when the server said it (Content-Length), else 0;
     * nonzero stops the transfer (an error, "stopped"). */
    int (*progress)(uint64_t done, uint64_t total, void *ud);
    void *progress_ud;
} mj_fetch_request_t;

/* Performs one GET request, handing the body to req->sink as it arrives (a status >= 400 hands
 * it nothing).  INVALID_CONFIG for a URL that is not http:// or https://; NETWORK naming the URL
 * (never its user:password@) and the HTTP status (>= 400) or the transport failure, retryable for
 * 408, 429, 5xx and transport failures (cannot resolve or connect, timeouts, send/receive
 * errors); RESOURCE_LIMIT_EXCEEDED past max_bytes; a sink's failure as
 * "fetch: write <sink_name>: <strerror>" with its errno. */
int mj_fetch(const mj_fetch_request_t *req, mj_error_t **err);

/* Downloads an http:// or https:// URL (as mj_fetch) into a new file dest_path (O_EXCL, mode
 * 0600), removed again on any failure.  max_bytes 0 = 4 GiB. */
int mj_fetch_url(const char *url, const char *dest_path, uint64_t max_bytes, mj_error_t **err);
/* The same, telling progress (as mj_fetch_request_t.progress; NULL: nothing) how it goes. */
int mj_fetch_url_progress(const char *url, const char *dest_path, uint64_t max_bytes,
                          int (*progress)(uint64_t done, uint64_t total, void *ud), void *ud, mj_error_t **err);

#endif

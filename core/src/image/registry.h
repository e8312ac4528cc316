/* registry.h — the HTTP side of the OCI distribution protocol on libcurl (registry.c): one
 * request primitive for manifests, tokens and blobs, several blobs at once, resumable and
 * verified while they stream.  It knows nothing of image references, auth flows or JSON (Lua
 * decides those) and nothing of the store (transfer.c joins the two). */
#ifndef MJ_IMAGE_REGISTRY_H
#define MJ_IMAGE_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <moonjail/moonjail.h>

#include "util.h"

/* How a client talks; copied by mj_http_client_new.  Zero fields take the defaults. */
typedef struct {
    const char *ca_file;    /* PEM bundle trusted instead of the system's, or NULL */
    long connect_timeout;   /* seconds to connect (30) */
    long stall_timeout;     /* seconds a transfer may stay under stall_speed before it fails (30) */
    long stall_speed;       /* bytes per second (1) */
    long request_timeout;   /* seconds for a whole in-memory request: manifests, tokens (120) */
    unsigned parallel;      /* transfers at once (4; at most 16) */
} mj_http_opts_t;

/* What came back: the status and the headers a registry client needs (NULL when absent). */
typedef struct {
    long status;
    char *url;                   /* the URL that answered, after redirects */
    char *www_authenticate;
    char *content_type;
    char *docker_content_digest;
    char *retry_after;
    char *content_range;
    char *location;
    int64_t content_length;      /* -1 when absent */
    mj_buf_t body;               /* in-memory requests; for a blob, an error answer's first 16 KiB */
} mj_http_response_t;

/* One request.  The caller fills the first part (borrowed: it must outlive mj_http_perform) and
 * frees the results with mj_http_request_reset. */
typedef struct {
    const char *method;          /* "GET" (NULL) or "HEAD" */
    bool insecure;               /* TLS without certificate checks, and a redirect from https to
                                  * http allowed: only for a registry named insecure */
    const char *url;             /* http:// or https:// */
    const char *const *headers;  /* "Name: value" lines, NULL-terminated, or NULL.  An
                                  * Authorization line is dropped once a redirect leaves the
                                  * URL's origin (scheme, host, port). */
    /* The body goes to memory (path NULL), bounded by max_body (0: 4 MiB) — more is an IMAGE
     * error — or to the blob file path: a partial file there is resumed with Range (206 with the
     * matching Content-Range continues it, 200 starts over), every byte is hashed, and the
     * request succeeds only when the file holds exactly size bytes whose digest is digest.  A
     * mismatch removes the file (IMAGE); a transport failure keeps it for the next attempt. */
    size_t max_body;
    const char *path;
    const char *digest;
    uint64_t size;

    mj_http_response_t resp;
    mj_error_t *error;           /* why this request failed (owned), or NULL */
    uint64_t resumed_from;       /* blob bytes already on disk when the request started */
    uint64_t received;           /* body bytes that crossed the network */
    uint64_t done;               /* blob bytes on disk and hashed so far */
} mj_http_request_t;

typedef struct mj_http_client mj_http_client_t;

/* A client keeps its connections (and DNS answers) between mj_http_perform calls. */
int mj_http_client_new(const mj_http_opts_t *opts, mj_http_client_t **out, mj_error_t **err);
void mj_http_client_free(mj_http_client_t *c);

/* Progress of request index: done of total bytes (total 0 when unknown).  Called at most every
 * 100 ms per request and once when it ends; a non-zero return cancels every unfinished request
 * (TEMPORARY_FAILURE, errno ECANCELED; partial blobs kept). */
typedef int (*mj_http_progress_fn)(void *ud, size_t index, uint64_t done, uint64_t total);

/* Runs the n requests, up to opts.parallel at once.  An in-memory request succeeds whatever the
 * HTTP status (the caller reads resp.status); a blob request only as described above, mapping
 * statuses with mj_http_status_error.  Returns how many requests failed (each has its error),
 * or -1 with *err when nothing could start (libcurl missing, a request that makes no sense). */
int mj_http_perform(mj_http_client_t *c, mj_http_request_t *reqs, size_t n, mj_http_progress_fn progress, void *ud,
                    mj_error_t **err);

/* Frees what a request got back and clears its results, keeping what the caller filled in. */
void mj_http_request_reset(mj_http_request_t *r);

/* The error an HTTP status means for a registry request (what: e.g. "GET https://…"):
 * 401/403 PERMISSION_DENIED; 404 and other 4xx IMAGE; 408, 429 and 5xx NETWORK, retryable (a
 * Retry-After value is named in the message). */
mj_error_t *mj_http_status_error(long status, const char *retry_after, const char *what);

/* The URL as messages show it: no user:password@, no query (signed blob URLs carry secrets). */
char *mj_http_display_url(const char *url);

#endif

/* registry.c — the registry HTTP client on libcurl (loaded on first use, lazylib.h).
 *
 * Owns: the one request primitive of the image code (mj_http_perform): in-memory answers for
 * manifests and tokens, bounded; blob downloads streamed into a partial file, resumed with Range,
 * hashed while they stream and verified against their descriptor; several at once on one curl
 * multi handle; redirects followed by hand (http/https only, never https → http unless insecure,
 * Authorization dropped once a redirect leaves the origin); typed errors.
 * Must never: trust a size, range or digest the server claims without counting and hashing the
 * bytes itself; write a blob anywhere but the path it was given; keep a file whose content does
 * not match its digest; decode content encodings (a blob is hashed exactly as it was sent);
 * parse JSON or decide auth (Lua does); print.  libcurl's one-time set-up and the verdict on which
 * transport failures are worth a retry are fetch.c's, shared with repository downloads.
 */
#define _GNU_SOURCE
#define CURL_DISABLE_TYPECHECK 1
#include <curl/curl.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "fetch.h"
#include "image/hash.h"
#include "image/registry.h"
#include "lazylib.h"
#include "util.h"

#define CURLF(fn) MJ_LAZY(MJ_LIB_CURL, fn)

#define DEFAULT_MAX_BODY ((size_t)4 << 20)
#define ERROR_BODY_MAX 16384
#define HEADER_VALUE_MAX 8192
#define MAX_REDIRECTS 5
#define MAX_PARALLEL 16
#define PROGRESS_INTERVAL 0.1

struct mj_http_client {
    mj_http_opts_t opts;
    char *ca_file;
    CURLM *multi;
};

typedef struct {
    mj_http_client_t *client;
    mj_http_request_t *req;
    size_t index;
    CURL *h;
    struct curl_slist *hdrs;
    char *origin;             /* scheme://host:port of the request's own URL */
    bool send_auth;
    int redirects;
    char errbuf[CURL_ERROR_SIZE];
    bool started, finished;
    bool in_headers;          /* between a status line and the blank line ending its headers */
    /* the blob file */
    int fd;
    mj_hash_t *hash;
    uint64_t offset;          /* bytes in the file, all hashed */
    bool body_checked;        /* status and ranges of a 2xx answer checked */
    mj_error_t *abort_error;  /* set by a callback to stop the transfer with this error */
    bool discard;             /* remove the partial file when finishing */
    /* progress */
    uint64_t reported;
    double reported_at;
} transfer_t;

static int fail(mj_error_t **err, mj_error_t *e)
{
    if (err)
        *err = e;
    else
        mj_error_free(e);
    return -1;
}

/* ------------------------------------------------------------------ URLs and errors */

char *mj_http_display_url(const char *url)
{
    if (!url)
        return mj_xstrdup("(no URL)");
    size_t end = strcspn(url, "?#");
    const char *scheme_end = strstr(url, "://");
    if (!scheme_end || (size_t)(scheme_end - url) > end)
        return mj_xasprintf("%.*s", (int)end, url);
    const char *host = scheme_end + 3;
    size_t auth_len = strcspn(host, "/?#");
    const char *at = memchr(host, '@', auth_len);
    if (!at)
        return mj_xasprintf("%.*s", (int)end, url);
    return mj_xasprintf("%.*s%.*s", (int)(host - url), url, (int)(url + end - (at + 1)), at + 1);
}

static bool is_http_url(const char *url)
{
    return url && (strncasecmp(url, "http://", 7) == 0 || strncasecmp(url, "https://", 8) == 0);
}

/* "scheme://host:port" in lower case, or NULL when curl cannot parse url. */
static char *origin_of(const char *url)
{
    CURLU *u = CURLF(curl_url)();
    if (!u)
        return NULL;
    char *scheme = NULL, *host = NULL, *port = NULL, *out = NULL;
    if (CURLF(curl_url_set)(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
        CURLF(curl_url_get)(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
        CURLF(curl_url_get)(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
        CURLF(curl_url_get)(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) == CURLUE_OK) {
        out = mj_xasprintf("%s://%s:%s", scheme, host, port);
        for (char *p = out; *p; p++)
            *p = (char)tolower((unsigned char)*p);
    }
    CURLF(curl_free)(scheme);
    CURLF(curl_free)(host);
    CURLF(curl_free)(port);
    CURLF(curl_url_cleanup)(u);
    return out;
}

mj_error_t *mj_http_status_error(long status, const char *retry_after, const char *what)
{
    mj_error_t *e;
    if (status == 401 || status == 403) {
        e = mj_error_new(MJ_ERR_PERMISSION_DENIED, 0, "%s: HTTP %ld (%s)", what, status,
                         status == 401 ? "authentication required or refused" : "access denied");
    } else if (status == 404) {
        e = mj_error_new(MJ_ERR_IMAGE, 0, "%s: not found (HTTP 404)", what);
    } else if (status == 408 || status == 429 || (status >= 500 && status <= 599)) {
        if (retry_after)
            e = mj_error_new(MJ_ERR_NETWORK, 0, "%s: HTTP %ld (retry after %.40s)", what, status, retry_after);
        else
            e = mj_error_new(MJ_ERR_NETWORK, 0, "%s: HTTP %ld", what, status);
        mj_error_set_retryable(e, true);
        return e;
    } else {
        e = mj_error_new(MJ_ERR_IMAGE, 0, "%s: unexpected HTTP status %ld", what, status);
    }
    mj_error_set_retryable(e, false);
    return e;
}

static mj_error_t *transfer_error(transfer_t *t, mj_error_code_t code, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static mj_error_t *transfer_error(transfer_t *t, mj_error_code_t code, int errnum, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cleanup_free char *detail = mj_xvasprintf(fmt, ap);
    va_end(ap);
    cleanup_free char *shown = mj_http_display_url(t->req->resp.url ? t->req->resp.url : t->req->url);
    return mj_error_new(code, errnum, "%s %s: %s", t->req->method ? t->req->method : "GET", shown, detail);
}

/* ------------------------------------------------------------------ responses */

static void response_clear(mj_http_response_t *r)
{
    free(r->url);
    free(r->www_authenticate);
    free(r->content_type);
    free(r->docker_content_digest);
    free(r->retry_after);
    free(r->content_range);
    free(r->location);
    mj_buf_free(&r->body);
    memset(r, 0, sizeof(*r));
    r->content_length = -1;
}

void mj_http_request_reset(mj_http_request_t *r)
{
    response_clear(&r->resp);
    mj_error_free(r->error);
    r->error = NULL;
    r->resumed_from = r->received = r->done = 0;
}

static void set_header(char **slot, const char *value, size_t len)
{
    free(*slot);
    *slot = mj_xasprintf("%.*s", (int)(len < HEADER_VALUE_MAX ? len : HEADER_VALUE_MAX), value);
}

static size_t header_cb(char *data, size_t size, size_t nmemb, void *ud)
{
    transfer_t *t = ud;
    mj_http_response_t *r = &t->req->resp;
    size_t n = size * nmemb;
    if (n <= 2 && (n == 0 || data[0] == '\r' || data[0] == '\n')) {
        t->in_headers = false; /* the end of one answer's header block */
        return n;
    }
    if (!t->in_headers) {
        /* a status line starts the next block; anything else here (trailers) is ignored */
        if (n < 5 || strncmp(data, "HTTP/", 5) != 0)
            return n;
        t->in_headers = true;
        /* a new answer (after a 1xx, or the first): forget the headers of the one before */
        char *url = steal_pointer(&r->url);
        mj_buf_t body = r->body;
        memset(&r->body, 0, sizeof(r->body));
        response_clear(r);
        r->url = url;
        r->body = body;
        /* the code after the first space, read within the n bytes (the data has no NUL) */
        const char *sp = memchr(data, ' ', n), *end = data + n;
        const char *d = sp ? sp + 1 : end;
        while (d < end && (*d == ' ' || *d == '\t'))
            d++;
        long status = 0;
        for (; d < end && isdigit((unsigned char)*d) && status < 1000; d++)
            status = status * 10 + (*d - '0');
        r->status = status;
        return n;
    }
    const char *colon = memchr(data, ':', n);
    if (!colon)
        return n;
    size_t name_len = (size_t)(colon - data);
    const char *v = colon + 1;
    const char *end = data + n;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t'))
        end--;
    size_t vlen = (size_t)(end - v);
    static const struct {
        const char *name;
        size_t offset;
    } wanted[] = {
        {"www-authenticate", offsetof(mj_http_response_t, www_authenticate)},
        {"content-type", offsetof(mj_http_response_t, content_type)},
        {"docker-content-digest", offsetof(mj_http_response_t, docker_content_digest)},
        {"retry-after", offsetof(mj_http_response_t, retry_after)},
        {"content-range", offsetof(mj_http_response_t, content_range)},
        {"location", offsetof(mj_http_response_t, location)},
    };
    for (size_t i = 0; i < MJ_ARRAY_LEN(wanted); i++)
        if (strlen(wanted[i].name) == name_len && strncasecmp(data, wanted[i].name, name_len) == 0) {
            char **slot = (char **)((char *)r + wanted[i].offset);
            if (*slot && strcmp(wanted[i].name, "www-authenticate") == 0)
                return n; /* several challenges: the first one is the registry's preferred */
            set_header(slot, v, vlen);
            return n;
        }
    if (name_len == 14 && strncasecmp(data, "content-length", 14) == 0) {
        char buf[32];
        if (vlen > 0 && vlen < sizeof(buf)) {
            memcpy(buf, v, vlen);
            buf[vlen] = '\0';
            char *stop;
            errno = 0;
            long long cl = strtoll(buf, &stop, 10);
            if (errno == 0 && *stop == '\0' && cl >= 0 && isdigit((unsigned char)buf[0]))
                r->content_length = cl;
        }
    }
    return n;
}

/* ------------------------------------------------------------------ blob bodies */

static bool is_success(long status)
{
    return status == 200 || status == 206;
}

/* "bytes A-B/T" → 0 when A is from and it ends at total-1 of total (T may be '*'). */
static int check_content_range(transfer_t *t, const char *cr)
{
    unsigned long long a, b;
    char tail[32] = "";
    if (!cr || sscanf(cr, "bytes %llu-%llu/%31s", &a, &b, tail) != 3) {
        t->abort_error = transfer_error(t, MJ_ERR_NETWORK, 0, "206 without a usable Content-Range ('%.60s')",
                                        cr ? cr : "");
        mj_error_set_retryable(t->abort_error, true);
        t->discard = true;
        return -1;
    }
    uint64_t size = t->req->size;
    if ((strcmp(tail, "*") != 0 && strtoull(tail, NULL, 10) != size) || b + 1 != size) {
        t->abort_error = transfer_error(t, MJ_ERR_IMAGE, 0, "blob %s: the registry says it ends at byte %llu of %s, its "
                                        "descriptor says %" PRIu64 " bytes", t->req->digest, b, tail, size);
        t->discard = true;
        return -1;
    }
    if (a != t->offset) {
        t->abort_error = transfer_error(t, MJ_ERR_NETWORK, 0, "asked for bytes %" PRIu64 "-, got %llu-: starting over",
                                        t->offset, a);
        mj_error_set_retryable(t->abort_error, true);
        t->discard = true;
        return -1;
    }
    return 0;
}

/* The first body byte (or the end) of a 200/206 answer: decide resume or restart. */
static int check_body_start(transfer_t *t)
{
    mj_http_response_t *r = &t->req->resp;
    t->body_checked = true;
    if (r->status == 206) {
        if (check_content_range(t, r->content_range) < 0)
            return -1;
    } else if (t->offset > 0) {
        /* 200 to a range request: the whole blob comes again, so the file starts over */
        if (ftruncate(t->fd, 0) < 0 || lseek(t->fd, 0, SEEK_SET) < 0) {
            t->abort_error = transfer_error(t, MJ_ERR_FILE_OPERATION_FAILED, errno, "truncating %s", t->req->path);
            return -1;
        }
        mj_hash_reset(t->hash);
        t->offset = t->req->resumed_from = 0;
    }
    int64_t expect = (int64_t)(t->req->size - t->offset);
    if (r->content_length >= 0 && r->content_length != expect) {
        t->abort_error = transfer_error(t, MJ_ERR_IMAGE, 0, "blob %s: the registry sends %" PRId64 " bytes where its "
                                        "descriptor leaves %" PRId64, t->req->digest, r->content_length, expect);
        t->discard = true;
        return -1;
    }
    return 0;
}

static size_t write_cb(char *data, size_t size, size_t nmemb, void *ud)
{
    transfer_t *t = ud;
    mj_http_request_t *req = t->req;
    size_t n = size * nmemb;
    req->received += n;
    if (!req->path || !is_success(req->resp.status)) {
        size_t max = req->path ? ERROR_BODY_MAX : (req->max_body ? req->max_body : DEFAULT_MAX_BODY);
        if (n > max - req->resp.body.len) {
            if (req->path) { /* an error answer: its start is enough for the message */
                mj_buf_append(&req->resp.body, data, max - req->resp.body.len);
                return n;
            }
            t->abort_error = transfer_error(t, MJ_ERR_IMAGE, EFBIG, "answer larger than %zu bytes", max);
            return 0;
        }
        mj_buf_append(&req->resp.body, data, n);
        return n;
    }
    if (!t->body_checked && check_body_start(t) < 0)
        return 0;
    if (n > req->size - t->offset) {
        t->abort_error = transfer_error(t, MJ_ERR_IMAGE, EFBIG, "blob %s: more than the %" PRIu64 " bytes of its descriptor",
                                        req->digest, req->size);
        t->discard = true;
        return 0;
    }
    if (mj_write_all(t->fd, data, n) < 0) {
        t->abort_error = transfer_error(t, MJ_ERR_FILE_OPERATION_FAILED, errno, "writing %s", req->path);
        return 0;
    }
    mj_hash_update(t->hash, data, n);
    t->offset += n;
    req->done = t->offset;
    return n;
}

/* Opens the partial file and hashes what it already holds.  1 when it is already complete. */
static int blob_open(transfer_t *t, mj_error_t **err)
{
    mj_http_request_t *req = t->req;
    mj_hash_algo_t algo;
    if (mj_digest_parse(req->digest, &algo, NULL, err) < 0 || mj_hash_new(algo, &t->hash, err) < 0)
        return -1;
    t->fd = open(req->path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    struct stat st;
    if (t->fd < 0 || fstat(t->fd, &st) < 0)
        return fail(err, mj_error_sys(MJ_ERR_FILE_OPERATION_FAILED, errno, "opening %s", req->path));
    if (!S_ISREG(st.st_mode))
        return fail(err, mj_error_new(MJ_ERR_FILE_OPERATION_FAILED, EINVAL, "%s is not a regular file", req->path));
    uint64_t have = (uint64_t)st.st_size;
    if (have > req->size) {
        if (ftruncate(t->fd, 0) < 0)
            return fail(err, mj_error_sys(MJ_ERR_FILE_OPERATION_FAILED, errno, "truncating %s", req->path));
        have = 0;
    }
    uint64_t hashed = 0;
    if (have > 0 && mj_hash_fd(t->hash, t->fd, have, &hashed, req->path, err) < 0)
        return -1;
    if (hashed != have)
        return fail(err, mj_error_new(MJ_ERR_FILE_OPERATION_FAILED, EIO, "%s shrank while being read", req->path));
    t->offset = req->resumed_from = req->done = have;
    if (have > 0 && have == req->size) {
        char got[MJ_DIGEST_MAX];
        mj_hash_final(t->hash, got);
        if (strcmp(got, req->digest) == 0)
            return 1; /* finished by an earlier attempt that did not get to commit it */
        if (ftruncate(t->fd, 0) < 0 || lseek(t->fd, 0, SEEK_SET) < 0)
            return fail(err, mj_error_sys(MJ_ERR_FILE_OPERATION_FAILED, errno, "truncating %s", req->path));
        t->offset = req->resumed_from = req->done = 0;
    }
    return 0;
}

/* ------------------------------------------------------------------ transfers */

static int start(transfer_t *t, const char *url, mj_error_t **err)
{
    mj_http_client_t *c = t->client;
    mj_http_request_t *req = t->req;
    free(req->resp.url);
    req->resp.url = mj_xstrdup(url);
    if (!t->h && !(t->h = CURLF(curl_easy_init)()))
        return fail(err, mj_error_new(MJ_ERR_NETWORK, ENOMEM, "libcurl could not make a handle"));
    CURLF(curl_slist_free_all)(t->hdrs);
    t->hdrs = NULL;
    for (const char *const *h = req->headers; h && *h; h++) {
        if (!t->send_auth && strncasecmp(*h, "authorization:", 14) == 0)
            continue;
        t->hdrs = CURLF(curl_slist_append)(t->hdrs, *h);
    }
    if (req->path && t->offset > 0) {
        char range[48];
        snprintf(range, sizeof(range), "Range: bytes=%" PRIu64 "-", t->offset);
        t->hdrs = CURLF(curl_slist_append)(t->hdrs, range);
    }
    CURL *h = t->h;
    bool head = req->method && strcmp(req->method, "HEAD") == 0;
    CURLF(curl_easy_setopt)(h, CURLOPT_URL, url);
    CURLF(curl_easy_setopt)(h, CURLOPT_PROTOCOLS_STR, "http,https");
    CURLF(curl_easy_setopt)(h, CURLOPT_FOLLOWLOCATION, 0L);
    if (head)
        CURLF(curl_easy_setopt)(h, CURLOPT_NOBODY, 1L);
    else
        CURLF(curl_easy_setopt)(h, CURLOPT_HTTPGET, 1L);
    CURLF(curl_easy_setopt)(h, CURLOPT_HTTPHEADER, t->hdrs);
    CURLF(curl_easy_setopt)(h, CURLOPT_HTTP_CONTENT_DECODING, 0L);
    CURLF(curl_easy_setopt)(h, CURLOPT_NOSIGNAL, 1L);
    CURLF(curl_easy_setopt)(h, CURLOPT_TCP_KEEPALIVE, 1L);
    CURLF(curl_easy_setopt)(h, CURLOPT_BUFFERSIZE, 131072L);
    CURLF(curl_easy_setopt)(h, CURLOPT_CONNECTTIMEOUT, c->opts.connect_timeout);
    CURLF(curl_easy_setopt)(h, CURLOPT_LOW_SPEED_LIMIT, c->opts.stall_speed);
    CURLF(curl_easy_setopt)(h, CURLOPT_LOW_SPEED_TIME, c->opts.stall_timeout);
    CURLF(curl_easy_setopt)(h, CURLOPT_TIMEOUT, req->path ? 0L : c->opts.request_timeout);
    if (!req->path)
        CURLF(curl_easy_setopt)(h, CURLOPT_MAXFILESIZE_LARGE,
                                (curl_off_t)(req->max_body ? req->max_body : DEFAULT_MAX_BODY));
    CURLF(curl_easy_setopt)(h, CURLOPT_SSL_VERIFYPEER, req->insecure ? 0L : 1L);
    CURLF(curl_easy_setopt)(h, CURLOPT_SSL_VERIFYHOST, req->insecure ? 0L : 2L);
    if (c->ca_file)
        CURLF(curl_easy_setopt)(h, CURLOPT_CAINFO, c->ca_file);
    CURLF(curl_easy_setopt)(h, CURLOPT_USERAGENT, "moonjail/" MJ_VERSION_STRING);
    CURLF(curl_easy_setopt)(h, CURLOPT_ERRORBUFFER, t->errbuf);
    CURLF(curl_easy_setopt)(h, CURLOPT_HEADERFUNCTION, header_cb);
    CURLF(curl_easy_setopt)(h, CURLOPT_HEADERDATA, t);
    CURLF(curl_easy_setopt)(h, CURLOPT_WRITEFUNCTION, write_cb);
    CURLF(curl_easy_setopt)(h, CURLOPT_WRITEDATA, t);
    CURLF(curl_easy_setopt)(h, CURLOPT_PRIVATE, t);
    t->errbuf[0] = '\0';
    if (CURLF(curl_multi_add_handle)(c->multi, h) != CURLM_OK)
        return fail(err, transfer_error(t, MJ_ERR_NETWORK, 0, "libcurl refused the transfer"));
    t->started = true;
    return 0;
}

/* A 3xx answer: the next URL, or an error.  0 restarted, -1 finished with t->abort_error. */
static int redirect(transfer_t *t)
{
    mj_http_request_t *req = t->req;
    char *next = NULL;
    CURLF(curl_easy_getinfo)(t->h, CURLINFO_REDIRECT_URL, &next);
    if (!next || !is_http_url(next)) {
        t->abort_error = transfer_error(t, MJ_ERR_IMAGE, 0, "HTTP %ld redirects to %s", req->resp.status,
                                        next ? "a URL that is not http or https" : "nowhere");
        return -1;
    }
    if (++t->redirects > MAX_REDIRECTS) {
        t->abort_error = transfer_error(t, MJ_ERR_IMAGE, 0, "more than %d redirects", MAX_REDIRECTS);
        return -1;
    }
    if (strncasecmp(req->resp.url, "https://", 8) == 0 && strncasecmp(next, "http://", 7) == 0 && !req->insecure) {
        t->abort_error = transfer_error(t, MJ_ERR_IMAGE, 0, "refusing a redirect from https to plain http");
        return -1;
    }
    cleanup_free char *next_url = mj_xstrdup(next); /* next belongs to the handle */
    cleanup_free char *origin = origin_of(next_url);
    if (!origin || !t->origin || strcmp(origin, t->origin) != 0)
        t->send_auth = false;
    if (req->resp.status == 303 && (!req->method || strcmp(req->method, "HEAD") != 0))
        req->method = "GET";
    mj_buf_free(&req->resp.body);
    mj_error_t *e = NULL;
    if (start(t, next_url, &e) < 0) {
        t->abort_error = e;
        return -1;
    }
    return 0;
}

/* The end of a transfer: its error (if any) set, the partial file kept or removed. */
static void finish(transfer_t *t, CURLcode rc)
{
    mj_http_request_t *req = t->req;
    t->finished = true;
    if (t->abort_error) {
        req->error = steal_pointer(&t->abort_error);
    } else if (rc != CURLE_OK) {
        const char *why = t->errbuf[0] ? t->errbuf : CURLF(curl_easy_strerror)(rc);
        if (rc == CURLE_FILESIZE_EXCEEDED) {
            req->error = transfer_error(t, MJ_ERR_IMAGE, EFBIG, "answer larger than %zu bytes",
                                        req->max_body ? req->max_body : DEFAULT_MAX_BODY);
        } else {
            req->error = transfer_error(t, MJ_ERR_NETWORK, rc == CURLE_OPERATION_TIMEDOUT ? ETIMEDOUT : 0, "%s", why);
            mj_error_set_retryable(req->error, mj_curl_retryable(rc));
        }
    } else if (req->path && !is_success(req->resp.status)) {
        cleanup_free char *shown = mj_http_display_url(req->resp.url);
        cleanup_free char *what = mj_xasprintf("%s %s", req->method ? req->method : "GET", shown);
        if (req->resp.status == 416) {
            req->error = transfer_error(t, MJ_ERR_NETWORK, 0, "range not satisfiable: starting over");
            mj_error_set_retryable(req->error, true);
            t->discard = true;
        } else {
            req->error = mj_http_status_error(req->resp.status, req->resp.retry_after, what);
        }
    } else if (req->path) {
        if (!t->body_checked && check_body_start(t) < 0) {
            req->error = steal_pointer(&t->abort_error);
        } else if (t->offset != req->size) {
            req->error = transfer_error(t, MJ_ERR_IMAGE, 0, "blob %s: %" PRIu64 " bytes where its descriptor says %" PRIu64,
                                        req->digest, t->offset, req->size);
            t->discard = true;
        } else {
            char got[MJ_DIGEST_MAX];
            mj_hash_final(t->hash, got);
            if (strcmp(got, req->digest) != 0) {
                req->error = transfer_error(t, MJ_ERR_IMAGE, 0, "blob content does not match its digest: descriptor %s, "
                                            "content %s", req->digest, got);
                /* after a resume, the bytes kept from before may be the bad ones: one fresh try */
                mj_error_set_retryable(req->error, req->resumed_from > 0);
                t->discard = true;
            }
        }
    }
    if (t->fd >= 0) {
        close(t->fd);
        t->fd = -1;
    }
    if (req->path && t->discard)
        unlink(req->path);
}

static void transfer_free(transfer_t *t)
{
    if (t->h) /* out of the multi handle: removed when it ended or was cancelled */
        CURLF(curl_easy_cleanup)(t->h);
    CURLF(curl_slist_free_all)(t->hdrs);
    mj_hash_free(t->hash);
    mj_error_free(t->abort_error);
    free(t->origin);
    if (t->fd >= 0)
        close(t->fd);
}

/* ------------------------------------------------------------------ the client */

int mj_http_client_new(const mj_http_opts_t *opts, mj_http_client_t **out, mj_error_t **err)
{
    if (mj_curl_ready(err) < 0)
        return -1;
    mj_http_client_t *c = mj_xcalloc(1, sizeof(*c));
    if (opts)
        c->opts = *opts;
    c->opts.ca_file = NULL;
    c->ca_file = opts && opts->ca_file ? mj_xstrdup(opts->ca_file) : NULL;
    if (c->opts.connect_timeout <= 0)
        c->opts.connect_timeout = 30;
    if (c->opts.stall_timeout <= 0)
        c->opts.stall_timeout = 30;
    if (c->opts.stall_speed <= 0)
        c->opts.stall_speed = 1;
    if (c->opts.request_timeout <= 0)
        c->opts.request_timeout = 120;
    if (c->opts.parallel == 0)
        c->opts.parallel = 4;
    if (c->opts.parallel > MAX_PARALLEL)
        c->opts.parallel = MAX_PARALLEL;
    c->multi = CURLF(curl_multi_init)();
    if (!c->multi) {
        mj_http_client_free(c);
        return fail(err, mj_error_new(MJ_ERR_NETWORK, ENOMEM, "libcurl could not make a multi handle"));
    }
    *out = c;
    return 0;
}

void mj_http_client_free(mj_http_client_t *c)
{
    if (!c)
        return;
    if (c->multi)
        CURLF(curl_multi_cleanup)(c->multi);
    free(c->ca_file);
    free(c);
}

/* Calls progress for transfers that moved (or ended); non-zero when the caller cancels. */
static int report(transfer_t *ts, size_t n, mj_http_progress_fn progress, void *ud, bool force_all)
{
    if (!progress)
        return 0;
    double now = mj_now_monotonic();
    for (size_t i = 0; i < n; i++) {
        transfer_t *t = &ts[i];
        if (!t->started && !t->finished)
            continue;
        uint64_t done = t->req->path ? t->req->done : t->req->received;
        bool ended = t->finished && t->reported_at >= 0;
        if (!ended && (done == t->reported || (!force_all && now - t->reported_at < PROGRESS_INTERVAL)))
            continue;
        t->reported = done;
        t->reported_at = t->finished ? -1 : now;
        uint64_t total = t->req->path ? t->req->size
                                      : (t->req->resp.content_length > 0 ? (uint64_t)t->req->resp.content_length : 0);
        if (progress(ud, t->index, done, total) != 0)
            return -1;
    }
    return 0;
}

static int check_request(const mj_http_request_t *r, mj_error_t **err)
{
    if (!is_http_url(r->url))
        return fail(err, mj_error_new(MJ_ERR_INVALID_CONFIG, EINVAL, "registry URL '%.200s' is not http:// or https://",
                                      r->url ? r->url : "(null)"));
    if (r->method && strcmp(r->method, "GET") != 0 && strcmp(r->method, "HEAD") != 0)
        return fail(err, mj_error_new(MJ_ERR_INVALID_CONFIG, EINVAL, "HTTP method '%.20s' (GET and HEAD are)", r->method));
    if (r->path && (!*r->path || (r->method && strcmp(r->method, "GET") != 0)))
        return fail(err, mj_error_new(MJ_ERR_INVALID_CONFIG, EINVAL, "a blob download needs GET and a file path"));
    if (r->path && mj_digest_parse(r->digest, NULL, NULL, err) < 0)
        return -1;
    if (r->size > (uint64_t)INT64_MAX)
        return fail(err, mj_error_new(MJ_ERR_IMAGE, EINVAL, "blob size %" PRIu64 " is out of range", r->size));
    return 0;
}

int mj_http_perform(mj_http_client_t *c, mj_http_request_t *reqs, size_t n, mj_http_progress_fn progress, void *ud,
                    mj_error_t **err)
{
    for (size_t i = 0; i < n; i++) {
        if (check_request(&reqs[i], err) < 0)
            return -1;
        mj_http_request_reset(&reqs[i]);
    }
    transfer_t *ts = mj_xcalloc(n ? n : 1, sizeof(*ts));
    for (size_t i = 0; i < n; i++) {
        ts[i] = (transfer_t){.client = c, .req = &reqs[i], .index = i, .fd = -1, .send_auth = true};
        ts[i].origin = origin_of(reqs[i].url);
        if (!reqs[i].path)
            continue;
        mj_error_t *e = NULL;
        int r = blob_open(&ts[i], &e);
        if (r != 0) {
            ts[i].finished = true;
            reqs[i].error = e;
            if (ts[i].fd >= 0) {
                close(ts[i].fd);
                ts[i].fd = -1;
            }
        }
    }

    size_t next = 0, active = 0;
    bool cancelled = false;
    while (!cancelled) {
        while (active < c->opts.parallel && next < n) {
            transfer_t *t = &ts[next++];
            if (t->finished)
                continue;
            mj_error_t *e = NULL;
            if (start(t, t->req->url, &e) < 0) {
                t->abort_error = e;
                finish(t, CURLE_OK);
                continue;
            }
            active++;
        }
        if (active == 0)
            break;
        int running = 0;
        CURLF(curl_multi_perform)(c->multi, &running);
        CURLMsg *msg;
        int queued;
        while ((msg = CURLF(curl_multi_info_read)(c->multi, &queued))) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            CURL *h = msg->easy_handle;
            CURLcode rc = msg->data.result;
            transfer_t *t = NULL;
            CURLF(curl_easy_getinfo)(h, CURLINFO_PRIVATE, (char **)&t);
            CURLF(curl_multi_remove_handle)(c->multi, h);
            long st = t->req->resp.status;
            if (rc == CURLE_OK && !t->abort_error && (st == 301 || st == 302 || st == 303 || st == 307 || st == 308) &&
                redirect(t) == 0)
                continue;
            finish(t, rc);
            active--;
        }
        if (report(ts, n, progress, ud, false) < 0)
            cancelled = true;
        else if (active > 0)
            CURLF(curl_multi_poll)(c->multi, NULL, 0, 100, NULL);
    }
    if (cancelled) {
        for (size_t i = 0; i < n; i++) {
            transfer_t *t = &ts[i];
            if (t->finished)
                continue;
            if (t->started)
                CURLF(curl_multi_remove_handle)(c->multi, t->h);
            t->abort_error = transfer_error(t, MJ_ERR_TEMPORARY_FAILURE, ECANCELED, "cancelled");
            finish(t, CURLE_OK);
        }
    } else {
        report(ts, n, progress, ud, true);
    }
    int failed = 0;
    for (size_t i = 0; i < n; i++) {
        transfer_free(&ts[i]);
        failed += reqs[i].error != NULL;
    }
    free(ts);
    return failed;
}

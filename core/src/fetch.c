/* fetch.c — HTTP(S) downloads with libcurl, loaded on first use: one GET request whose body goes
 * to a caller's sink under a byte budget, and the download of a URL into a new file on top of it.
 *
 * Owns: mj_fetch and mj_fetch_url, libcurl's global initialisation (mj_curl_ready) and the
 * retryable verdict on transport failures (mj_curl_retryable), for the registry client too.
 * Must never: speak any protocol but http and https (redirects included), put a URL's
 * user:password into an error, write a file it did not create itself (O_EXCL, O_NOFOLLOW), or
 * leave a partial download behind.  It knows nothing of sandboxes, archives or Lua.
 */
#define _GNU_SOURCE
#include "fetch.h"

#define CURL_DISABLE_TYPECHECK 1
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "lazylib.h"
#include "tree.h"
#include "util.h"

#define DEFAULT_MAX_BYTES (UINT64_C(4) << 30)

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_result = CURLE_FAILED_INIT;

static void curl_init(void)
{
    curl_init_result = MJ_LAZY(MJ_LIB_CURL, curl_global_init)(CURL_GLOBAL_DEFAULT);
}

int mj_curl_ready(mj_error_t **err)
{
    if (mj_lib_open(MJ_LIB_CURL, err) < 0)
        return -1;
    pthread_once(&curl_once, curl_init);
    if (curl_init_result != CURLE_OK)
        return mj_fail(err, mj_error_new(MJ_ERR_NETWORK, 0, "libcurl did not initialise: %s",
                                         MJ_LAZY(MJ_LIB_CURL, curl_easy_strerror)(curl_init_result)));
    return 0;
}

static void free_curl(CURL **h)
{
    if (*h)
        MJ_LAZY(MJ_LIB_CURL, curl_easy_cleanup)(*h);
}

static void free_slist(struct curl_slist **l)
{
    if (*l)
        MJ_LAZY(MJ_LIB_CURL, curl_slist_free_all)(*l);
}

typedef struct {
    const mj_fetch_request_t *req;
    CURL *h;
    uint64_t written;
    uint64_t max;
    bool over;
    int sink_errno;
    bool stopped;          /* the progress callback asked to stop */
    double last_progress;  /* monotonic seconds of its last call */
} fetch_state_t;

/* Tells the request's progress callback, throttled to every 100 ms unless final; false to stop. */
static bool tell_progress(fetch_state_t *s, bool final)
{
    if (!s->req->progress)
        return true;
    double now = mj_now_monotonic();
    if (!final && now - s->last_progress < 0.1)
        return true;
    s->last_progress = now;
    curl_off_t total = -1;
    if (MJ_LAZY(MJ_LIB_CURL, curl_easy_getinfo)(s->h, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &total) != CURLE_OK)
        total = -1;
    if (s->req->progress(s->written, total > 0 ? (uint64_t)total : 0, s->req->progress_ud) != 0) {
        s->stopped = true;
        return false;
    }
    return true;
}

static size_t fetch_write(char *data, size_t size, size_t nmemb, void *ud)
{
    fetch_state_t *s = ud;
    size_t n = size * nmemb;
    if (n > s->max - s->written) {
        s->over = true;
        return 0; /* a short count makes curl stop with CURLE_WRITE_ERROR */
    }
    if (s->req->sink(data, n, s->req->sink_ud) < 0) {
        s->sink_errno = errno ? errno : EIO;
        return 0;
    }
    s->written += n;
    if (!tell_progress(s, false))
        return 0;
    return n;
}

bool mj_curl_retryable(int code)
{
    switch ((CURLcode)code) {
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
        return true;
    default:
        return false;
    }
}

/* The URL as errors show it: any user:password@ is left out. */
static char *display_url(const char *url)
{
    const char *scheme_end = strstr(url, "://");
    if (!scheme_end)
        return mj_xstrdup(url);
    const char *host = scheme_end + 3;
    size_t auth_len = strcspn(host, "/?#");
    const char *at = memchr(host, '@', auth_len);
    if (!at)
        return mj_xstrdup(url);
    return mj_xasprintf("%.*s%s", (int)(host - url), url, at + 1);
}

/* Loads libcurl and checks the URL's scheme: 0 with *shown (the URL as errors show it), or -1. */
static int fetch_begin(const char *url, char **shown, mj_error_t **err)
{
    if (mj_lib_open(MJ_LIB_CURL, err) < 0)
        return -1;
    if (!url || (strncasecmp(url, "http://", 7) != 0 && strncasecmp(url, "https://", 8) != 0))
        return mj_fail(err, mj_error_new(MJ_ERR_INVALID_CONFIG, EINVAL, "fetch %s: only http:// and https:// URLs are allowed",
                                         url ? url : "(null)"));
    *shown = display_url(url);
    return 0;
}

/* libcurl's global state, initialised once per process. */
static int fetch_ready(const char *shown, mj_error_t **err)
{
    if (mj_curl_ready(err) < 0) {
        mj_error_wrap(err, "fetch %s", shown);
        return -1;
    }
    return 0;
}

static int fetch_perform(const mj_fetch_request_t *req, const char *shown, mj_error_t **err)
{
    fetch_state_t st = {.req = req, .max = req->max_bytes ? req->max_bytes : DEFAULT_MAX_BYTES};
    __attribute__((cleanup(free_slist))) struct curl_slist *headers = NULL;
    for (const char *const *line = req->headers; line && *line; line++) {
        struct curl_slist *more = MJ_LAZY(MJ_LIB_CURL, curl_slist_append)(headers, *line);
        if (!more)
            return mj_fail(err, mj_error_new(MJ_ERR_NETWORK, ENOMEM, "fetch %s: out of memory", shown));
        headers = more;
    }
    char errbuf[CURL_ERROR_SIZE] = "";
    __attribute__((cleanup(free_curl))) CURL *h = MJ_LAZY(MJ_LIB_CURL, curl_easy_init)();
    CURLcode rc = CURLE_FAILED_INIT;
    long status = 0;
    st.h = h;
    if (h) {
        MJ_LAZY(MJ_LIB_CURL, curl_easy_setopt)(h, CURLOPT_URL, req->url);
        MJ_LAZY(MJ_LIB_CURL, curl_easy_setopt)(h, CURLOPT_PROTOCOLS_STR, "http,https");
        MJ_LAZY(MJ_LIB_CURL, curl_easy_setopt)(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
        MJ_LAZY(MJ_LIB_CURL, curl_easy_setopt)(h, CURLOPT_FOLLOWLOCATION, 1L);
        MJ_LAZY(MJ_LIB_CURL, curl_easy_setopt)(h, CURLOPT_MAXREDIRS, 5L);
        MJ_LAZY(MJ_LIB_CURL, curl_easy_setopt)(h, CURLOPT_CONNECTTIMEOUT, 30L);
        MJ_LAZY(MJ_LIB_CURL, curl_easy_setopt)(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
        MJ_LAZY(MJ_LIB_CURL, curl_easy_setopt)(h, CURLOPT_LOW_SPEED_TIME, 60L);
        MJ_LAZY(MJ_LIB_CURL, curl_easy_setopt)(h, CURLOPT_NOSIGNAL, 1L);
        MJ_LAZY(MJ_LIB_CURL, curl_easy_setopt)(h, CURLOPT_FAILONERROR, 1L); /* >= 400: no body written, status kept */
        MJ_LAZY(MJ_LIB_CURL, curl_easy_setopt)(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)(st.max > INT64_MAX ? INT64_MAX : st.max));
        MJ_LAZY(MJ_LIB_CURL, curl_easy_setopt)(h, CURLOPT_USERAGENT, "moonjail/" MJ_VERSION_STRING);
        MJ_LAZY(MJ_LIB_CURL, curl_easy_setopt)(h, CURLOPT_ERRORBUFFER, errbuf);
        MJ_LAZY(MJ_LIB_CURL, curl_easy_setopt)(h, CURLOPT_WRITEFUNCTION, fetch_write);
        MJ_LAZY(MJ_LIB_CURL, curl_easy_setopt)(h, CURLOPT_WRITEDATA, &st);
        if (headers)
            MJ_LAZY(MJ_LIB_CURL, curl_easy_setopt)(h, CURLOPT_HTTPHEADER, headers);
        rc = MJ_LAZY(MJ_LIB_CURL, curl_easy_perform)(h);
        MJ_LAZY(MJ_LIB_CURL, curl_easy_getinfo)(h, CURLINFO_RESPONSE_CODE, &status);
        if (rc == CURLE_OK)
            (void)tell_progress(&st, true);
    }

    mj_error_t *e = NULL;
    if (rc == CURLE_HTTP_RETURNED_ERROR) {
        e = mj_error_new(MJ_ERR_NETWORK, 0, "fetch %s: HTTP status %ld", shown, status);
        mj_error_set_retryable(e, status == 408 || status == 429 || status >= 500);
    } else if (st.over || rc == CURLE_FILESIZE_EXCEEDED) {
        e = mj_error_new(MJ_ERR_RESOURCE_LIMIT_EXCEEDED, EFBIG, "fetch %s: more than %llu bytes (max_bytes)", shown,
                         (unsigned long long)st.max);
    } else if (st.stopped) {
        e = mj_error_new(MJ_ERR_NETWORK, ECANCELED, "fetch %s: stopped", shown);
    } else if (st.sink_errno) {
        e = mj_file_error(st.sink_errno, "fetch: write", req->sink_name ? req->sink_name : shown);
    } else if (rc != CURLE_OK) {
        e = mj_error_new(MJ_ERR_NETWORK, rc == CURLE_OPERATION_TIMEDOUT ? ETIMEDOUT : 0, "fetch %s: %s", shown,
                         errbuf[0] ? errbuf : MJ_LAZY(MJ_LIB_CURL, curl_easy_strerror)(rc));
        mj_error_set_retryable(e, mj_curl_retryable(rc));
    }
    return e ? mj_fail(err, e) : 0;
}

int mj_fetch(const mj_fetch_request_t *req, mj_error_t **err)
{
    cleanup_free char *shown = NULL;
    if (fetch_begin(req->url, &shown, err) < 0 || fetch_ready(shown, err) < 0)
        return -1;
    return fetch_perform(req, shown, err);
}

static int file_sink(const void *data, size_t len, void *ud)
{
    return mj_write_all(*(const int *)ud, data, len) < 0 ? -1 : 0;
}

int mj_fetch_url(const char *url, const char *dest_path, uint64_t max_bytes, mj_error_t **err)
{
    return mj_fetch_url_progress(url, dest_path, max_bytes, NULL, NULL, err);
}

int mj_fetch_url_progress(const char *url, const char *dest_path, uint64_t max_bytes,
                          int (*progress)(uint64_t done, uint64_t total, void *ud), void *ud, mj_error_t **err)
{
    cleanup_free char *shown = NULL;
    if (fetch_begin(url, &shown, err) < 0)
        return -1;
    if (!dest_path || !*dest_path)
        return mj_fail(err, mj_error_new(MJ_ERR_INVALID_CONFIG, EINVAL, "fetch %s: no destination path", shown));
    if (fetch_ready(shown, err) < 0)
        return -1;

    /* O_EXCL: the file is ours from here on, so removing it on failure removes nothing else. */
    cleanup_close int fd = open(dest_path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return mj_fail(err, mj_file_error(errno, "fetch: create", dest_path));
    mj_fetch_request_t req = {.url = url, .max_bytes = max_bytes, .sink = file_sink, .sink_ud = &fd, .sink_name = dest_path,
                              .progress = progress, .progress_ud = ud};
    mj_error_t *e = NULL;
    if (fetch_perform(&req, shown, &e) == 0 && close(mj_steal_fd(&fd)) < 0)
        e = mj_file_error(errno, "fetch: write", dest_path);
    if (e) {
        unlink(dest_path);
        return mj_fail(err, e);
    }
    return 0;
}

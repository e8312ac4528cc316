/* test_image_registry.c — the registry HTTP client (core/src/image/registry.c, transfer.c)
 * against a scripted HTTP server forked by the test on two loopback ports (two origins):
 * Authorization never follows a redirect to another origin; a 200 to a range request restarts
 * the blob, a 206 from the wrong offset is refused and the partial file removed; more bytes than
 * the descriptor, a lying Content-Length and a digest mismatch are IMAGE errors that remove the
 * partial file, while a truncated transfer is a retryable NETWORK error that keeps it; statuses
 * map to PERMISSION_DENIED / IMAGE / NETWORK (retryable, Retry-After kept); in-memory answers
 * are bounded; several blobs download in parallel into the store. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <moonjail/moonjail.h>

#include "image/hash.h"
#include "image/registry.h"
#include "image/store.h"
#include "image/transfer.h"
#include "mjtest.h"

#define BODY "hello, registry"
#define BODY_LEN 15

static int ports[2];
static pid_t server_pid;
static char dir[64];
static char log_path[128];
static char body_digest[MJ_DIGEST_MAX];

static int listen_on(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 16) < 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) < 0)
        return -1;
    *port = ntohs(a.sin_port);
    return fd;
}

static void reply(int c, const char *head, const char *body, size_t len)
{
    char buf[1024];
    int n = snprintf(buf, sizeof(buf), "%s\r\nConnection: close\r\n\r\n", head);
    if (write(c, buf, (size_t)n) < 0 || (len && write(c, body, len) < 0))
        return;
}

static void header_value(const char *req, const char *name, char *out, size_t size)
{
    out[0] = '\0';
    const char *p = strcasestr(req, name);
    if (!p)
        return;
    p += strlen(name);
    while (*p == ' ')
        p++;
    size_t n = strcspn(p, "\r\n");
    snprintf(out, size, "%.*s", (int)(n < size ? n : size - 1), p);
}

/* One request: log "<port> <path> auth=<…> range=<…>", answer by path. */
static void serve_one(int c, int port)
{
    char req[8192];
    size_t got = 0;
    while (got < sizeof(req) - 1) {
        ssize_t r = read(c, req + got, sizeof(req) - 1 - got);
        if (r <= 0)
            return;
        got += (size_t)r;
        req[got] = '\0';
        if (strstr(req, "\r\n\r\n"))
            break;
    }
    char path[256] = "", auth[256], range[64];
    sscanf(req, "%*s %255s", path);
    header_value(req, "\nAuthorization:", auth, sizeof(auth));
    header_value(req, "\nRange:", range, sizeof(range));
    FILE *log = fopen(log_path, "a");
    if (log) {
        fprintf(log, "%d %s auth=%s range=%s\n", port, path, auth, range);
        fclose(log);
    }
    char head[512];
    long from = 0;
    if (sscanf(range, "bytes=%ld-", &from) != 1)
        from = 0;
    if (strcmp(path, "/blob") == 0 || strcmp(path, "/ranged") == 0) {
        if (strcmp(path, "/ranged") == 0 && range[0]) {
            snprintf(head, sizeof(head), "HTTP/1.1 206 Partial Content\r\nContent-Length: %ld\r\n"
                     "Content-Range: bytes %ld-%d/%d", BODY_LEN - from, from, BODY_LEN - 1, BODY_LEN);
            reply(c, head, BODY + from, (size_t)(BODY_LEN - from));
        } else {
            snprintf(head, sizeof(head), "HTTP/1.1 200 OK\r\nContent-Length: %d", BODY_LEN);
            reply(c, head, BODY, BODY_LEN);
        }
    } else if (strcmp(path, "/wrong-range") == 0) {
        reply(c, "HTTP/1.1 206 Partial Content\r\nContent-Length: 5\r\nContent-Range: bytes 10-14/15", BODY + 10, 5);
    } else if (strcmp(path, "/too-long") == 0) {
        reply(c, "HTTP/1.1 200 OK", BODY BODY, 2 * BODY_LEN);
    } else if (strcmp(path, "/lying-length") == 0) {
        reply(c, "HTTP/1.1 200 OK\r\nContent-Length: 99", BODY, BODY_LEN);
    } else if (strcmp(path, "/other-content") == 0) {
        reply(c, "HTTP/1.1 200 OK\r\nContent-Length: 15", "HELLO, REGISTRY", BODY_LEN);
    } else if (strcmp(path, "/truncated") == 0) {
        reply(c, "HTTP/1.1 200 OK\r\nContent-Length: 15", BODY, 6);
    } else if (strcmp(path, "/to-other-origin") == 0) {
        snprintf(head, sizeof(head), "HTTP/1.1 307 Temporary Redirect\r\nLocation: http://127.0.0.1:%d/blob\r\n"
                 "Content-Length: 0", ports[1]);
        reply(c, head, NULL, 0);
    } else if (strcmp(path, "/to-same-origin") == 0) {
        reply(c, "HTTP/1.1 302 Found\r\nLocation: /blob\r\nContent-Length: 0", NULL, 0);
    } else if (strcmp(path, "/to-file") == 0) {
        reply(c, "HTTP/1.1 302 Found\r\nLocation: file:///etc/passwd\r\nContent-Length: 0", NULL, 0);
    } else if (strcmp(path, "/loop") == 0) {
        reply(c, "HTTP/1.1 302 Found\r\nLocation: /loop\r\nContent-Length: 0", NULL, 0);
    } else if (strncmp(path, "/status/", 8) == 0) {
        snprintf(head, sizeof(head), "HTTP/1.1 %s Status\r\nContent-Length: 2\r\nRetry-After: 7\r\n"
                 "WWW-Authenticate: Bearer realm=\"http://x/token\",service=\"s\"", path + 8);
        reply(c, head, "{}", 2);
    } else if (strcmp(path, "/big-answer") == 0) {
        static char big[5000];
        memset(big, 'x', sizeof(big));
        reply(c, "HTTP/1.1 200 OK", big, sizeof(big));
    } else {
        reply(c, "HTTP/1.1 404 Not Found\r\nContent-Length: 0", NULL, 0);
    }
}

__attribute__((constructor)) static void start_server(void)
{
    snprintf(dir, sizeof(dir), "/tmp/mjreg-XXXXXX");
    if (!mkdtemp(dir))
        exit(2);
    snprintf(log_path, sizeof(log_path), "%s/requests.log", dir);
    int fds[2] = {listen_on(&ports[0]), listen_on(&ports[1])};
    if (fds[0] < 0 || fds[1] < 0)
        exit(2);
    server_pid = fork();
    if (server_pid == 0) {
        struct pollfd p[2] = {{.fd = fds[0], .events = POLLIN}, {.fd = fds[1], .events = POLLIN}};
        for (;;) {
            if (poll(p, 2, 60000) <= 0 || getppid() == 1)
                _exit(0);
            for (int i = 0; i < 2; i++)
                if (p[i].revents & POLLIN) {
                    int c = accept4(fds[i], NULL, NULL, SOCK_CLOEXEC);
                    if (c >= 0) {
                        serve_one(c, ports[i]);
                        close(c);
                    }
                }
        }
    }
    close(fds[0]);
    close(fds[1]);
    mj_hash_bytes(MJ_HASH_SHA256, BODY, BODY_LEN, body_digest, NULL);
}

__attribute__((destructor)) static void stop_server(void)
{
    if (server_pid > 0) {
        kill(server_pid, SIGKILL);
        waitpid(server_pid, NULL, 0);
        char *cmd = mj_xasprintf("rm -rf '%s'", dir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", dir);
        free(cmd);
    }
}

/* ------------------------------------------------------------------ helpers */

static char *url(int which, const char *path)
{
    return mj_xasprintf("http://127.0.0.1:%d%s", ports[which], path);
}

static char *read_log(void)
{
    FILE *f = fopen(log_path, "r");
    if (!f)
        return mj_xstrdup("");
    static char buf[65536];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    buf[n] = '\0';
    fclose(f);
    if (truncate(log_path, 0) < 0)
        fprintf(stderr, "could not truncate %s\n", log_path);
    return mj_xstrdup(buf);
}

static mj_http_client_t *client(void)
{
    mj_http_opts_t o = {.stall_timeout = 5, .connect_timeout = 5};
    mj_http_client_t *c = NULL;
    if (mj_http_client_new(&o, &c, NULL) < 0)
        return NULL;
    return c;
}

static const char *AUTH[] = {"Authorization: Bearer secret-token", NULL};

/* Downloads path as the blob BODY into a partial file holding `have` (may be NULL). */
static int fetch_blob(const char *path, const char *have, mj_http_request_t *r, char *file, size_t file_size)
{
    snprintf(file, file_size, "%s/blob.partial", dir);
    unlink(file);
    if (have) {
        FILE *f = fopen(file, "w");
        fputs(have, f);
        fclose(f);
    }
    mj_http_client_t *c = client();
    char *u = url(0, path);
    *r = (mj_http_request_t){.url = u, .headers = AUTH, .path = file, .digest = body_digest, .size = BODY_LEN};
    int failed = mj_http_perform(c, r, 1, NULL, NULL, NULL);
    free(u);
    r->url = NULL;
    mj_http_client_free(c);
    return failed;
}

static bool file_holds(const char *file, const char *text)
{
    FILE *f = fopen(file, "r");
    if (!f)
        return false;
    char buf[256] = "";
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    return n == strlen(text) && memcmp(buf, text, n) == 0;
}

/* ------------------------------------------------------------------ tests */

MJ_TEST(a_blob_downloads_verified)
{
    mj_http_request_t r;
    char file[128];
    CHECK_EQ_INT(fetch_blob("/blob", NULL, &r, file, sizeof(file)), 0);
    CHECK(file_holds(file, BODY));
    CHECK_EQ_INT(r.received, BODY_LEN);
    CHECK_EQ_INT(r.resp.status, 200);
    mj_http_request_reset(&r);
    free(read_log());
}

MJ_TEST(a_partial_blob_resumes_with_a_range_answered_206)
{
    mj_http_request_t r;
    char file[128];
    CHECK_EQ_INT(fetch_blob("/ranged", "hello", &r, file, sizeof(file)), 0);
    CHECK(file_holds(file, BODY));
    CHECK_EQ_INT(r.resumed_from, 5);
    CHECK_EQ_INT(r.received, BODY_LEN - 5);
    CHECK_EQ_INT(r.resp.status, 206);
    char *log = read_log();
    CHECK(strstr(log, "range=bytes=5-") != NULL);
    free(log);
    mj_http_request_reset(&r);
}

MJ_TEST(a_200_to_a_range_request_starts_over)
{
    mj_http_request_t r;
    char file[128];
    CHECK_EQ_INT(fetch_blob("/blob", "hellX", &r, file, sizeof(file)), 0); /* a bad prefix is replaced */
    CHECK(file_holds(file, BODY));
    CHECK_EQ_INT(r.resumed_from, 0);
    CHECK_EQ_INT(r.received, BODY_LEN);
    mj_http_request_reset(&r);
    free(read_log());
}

MJ_TEST(a_206_from_another_offset_is_refused_and_the_partial_removed)
{
    mj_http_request_t r;
    char file[128];
    CHECK_EQ_INT(fetch_blob("/wrong-range", "hello", &r, file, sizeof(file)), 1);
    CHECK_EQ_INT(mj_error_code(r.error), MJ_ERR_NETWORK);
    CHECK(mj_error_retryable(r.error));
    CHECK(access(file, F_OK) != 0);
    mj_http_request_reset(&r);
    free(read_log());
}

MJ_TEST(content_that_does_not_match_the_descriptor_is_image_and_removed)
{
    const char *paths[] = {"/too-long", "/lying-length", "/other-content"};
    for (size_t i = 0; i < 3; i++) {
        mj_http_request_t r;
        char file[128];
        CHECK_EQ_INT(fetch_blob(paths[i], NULL, &r, file, sizeof(file)), 1);
        if (mj_error_code(r.error) != MJ_ERR_IMAGE)
            MJT_FAIL("%s: %s", paths[i], mj_error_message(r.error));
        CHECK(!mj_error_retryable(r.error));
        CHECK(access(file, F_OK) != 0);
        mj_http_request_reset(&r);
    }
    free(read_log());
}

MJ_TEST(a_truncated_transfer_is_retryable_and_keeps_the_partial)
{
    mj_http_request_t r;
    char file[128];
    CHECK_EQ_INT(fetch_blob("/truncated", NULL, &r, file, sizeof(file)), 1);
    CHECK_EQ_INT(mj_error_code(r.error), MJ_ERR_NETWORK);
    CHECK(mj_error_retryable(r.error));
    CHECK(file_holds(file, "hello,"));
    mj_http_request_reset(&r);
    free(read_log());
}

MJ_TEST(authorization_stays_at_its_origin)
{
    mj_http_request_t r;
    char file[128];
    CHECK_EQ_INT(fetch_blob("/to-other-origin", NULL, &r, file, sizeof(file)), 0);
    CHECK(file_holds(file, BODY));
    mj_http_request_reset(&r);
    char *log = read_log();
    char *other = mj_xasprintf("%d /blob auth= range=", ports[1]);
    if (!strstr(log, other))
        MJT_FAIL("the other origin got: %s", log);
    free(other);
    free(log);

    CHECK_EQ_INT(fetch_blob("/to-same-origin", NULL, &r, file, sizeof(file)), 0);
    mj_http_request_reset(&r);
    log = read_log();
    char *same = mj_xasprintf("%d /blob auth=Bearer secret-token", ports[0]);
    CHECK(strstr(log, same) != NULL);
    free(same);
    free(log);
}

MJ_TEST(redirects_only_to_http_and_not_forever)
{
    const char *paths[] = {"/to-file", "/loop"};
    for (size_t i = 0; i < 2; i++) {
        mj_http_request_t r;
        char file[128];
        CHECK_EQ_INT(fetch_blob(paths[i], NULL, &r, file, sizeof(file)), 1);
        CHECK_EQ_INT(mj_error_code(r.error), MJ_ERR_IMAGE);
        mj_http_request_reset(&r);
    }
    free(read_log());
}

MJ_TEST(statuses_become_typed_errors)
{
    struct {
        const char *path;
        mj_error_code_t code;
        bool retryable;
    } cases[] = {
        {"/status/401", MJ_ERR_PERMISSION_DENIED, false}, {"/status/403", MJ_ERR_PERMISSION_DENIED, false},
        {"/status/404", MJ_ERR_IMAGE, false},             {"/status/429", MJ_ERR_NETWORK, true},
        {"/status/503", MJ_ERR_NETWORK, true},            {"/status/408", MJ_ERR_NETWORK, true},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        mj_http_request_t r;
        char file[128];
        CHECK_EQ_INT(fetch_blob(cases[i].path, NULL, &r, file, sizeof(file)), 1);
        if (mj_error_code(r.error) != cases[i].code || mj_error_retryable(r.error) != cases[i].retryable)
            MJT_FAIL("%s: %s", cases[i].path, mj_error_message(r.error));
        CHECK_STREQ(r.resp.retry_after, "7");
        CHECK(r.resp.www_authenticate && strncmp(r.resp.www_authenticate, "Bearer realm=", 13) == 0);
        mj_http_request_reset(&r);
    }
    free(read_log());
}

MJ_TEST(in_memory_answers_are_bounded_and_any_status_is_an_answer)
{
    mj_http_client_t *c = client();
    char *u1 = url(0, "/status/401"), *u2 = url(0, "/big-answer"), *u3 = url(0, "/blob");
    mj_http_request_t r[3] = {{.url = u1}, {.url = u2, .max_body = 1000}, {.url = u3, .method = "HEAD"}};
    CHECK_EQ_INT(mj_http_perform(c, r, 3, NULL, NULL, NULL), 1);
    CHECK(r[0].error == NULL);
    CHECK_EQ_INT(r[0].resp.status, 401);
    CHECK(r[0].resp.body.len == 2 && memcmp(r[0].resp.body.data, "{}", 2) == 0);
    CHECK_EQ_INT(mj_error_code(r[1].error), MJ_ERR_IMAGE);
    CHECK(r[2].error == NULL);
    CHECK_EQ_INT(r[2].resp.content_length, BODY_LEN);
    CHECK_EQ_INT(r[2].resp.body.len, 0);
    for (int i = 0; i < 3; i++)
        mj_http_request_reset(&r[i]);
    free(u1);
    free(u2);
    free(u3);
    mj_http_client_free(c);
    free(read_log());
}

static int count_progress(void *ud, size_t index, uint64_t done, uint64_t total)
{
    (void)index;
    if (done == total)
        (*(int *)ud)++;
    return 0;
}

MJ_TEST(blobs_land_in_the_store_once)
{
    char *root = mj_xasprintf("%s/store", dir);
    mj_store_t *s = NULL;
    CHECK_EQ_INT(mj_store_open(root, &s, NULL), 0);
    mj_http_client_t *c = client();
    char *u = url(0, "/blob");
    char other[MJ_DIGEST_MAX];
    mj_hash_bytes(MJ_HASH_SHA256, "HELLO, REGISTRY", BODY_LEN, other, NULL);
    char *u2 = url(0, "/other-content");
    mj_blob_fetch_t jobs[2] = {{.url = u, .digest = body_digest, .size = BODY_LEN},
                               {.url = u2, .digest = other, .size = BODY_LEN}};
    int ended = 0;
    CHECK_EQ_INT(mj_image_fetch_blobs(s, c, jobs, 2, count_progress, &ended, NULL), 0);
    CHECK_EQ_INT(ended, 2);
    CHECK(!jobs[0].present && !jobs[1].present);
    CHECK_EQ_INT(mj_store_has_blob(s, body_digest, NULL, NULL), 1);
    CHECK_EQ_INT(mj_store_has_blob(s, other, NULL, NULL), 1);
    mj_blob_fetch_clear(&jobs[0]);
    mj_blob_fetch_clear(&jobs[1]);
    free(read_log());
    CHECK_EQ_INT(mj_image_fetch_blobs(s, c, jobs, 2, NULL, NULL, NULL), 0);
    CHECK(jobs[0].present && jobs[1].present);
    char *log = read_log();
    CHECK_STREQ(log, ""); /* present: nothing asked */
    free(log);
    mj_blob_fetch_t twice[2] = {jobs[0], jobs[0]};
    mj_error_t *e = NULL;
    CHECK_EQ_INT(mj_image_fetch_blobs(s, c, twice, 2, NULL, NULL, &e), -1);
    CHECK_EQ_INT(mj_error_code(e), MJ_ERR_INVALID_CONFIG);
    mj_error_free(e);
    mj_blob_fetch_clear(&jobs[0]);
    mj_blob_fetch_clear(&jobs[1]);
    mj_http_client_free(c);
    mj_store_close(s);
    free(u);
    free(u2);
    free(root);
}

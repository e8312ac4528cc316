/* test_util.c — the core's small helpers: the getdents directory walk, the KEY=VALUE environment
 * helpers, fd placement, and the wire's SCM_RIGHTS packets (at most the fds asked for are kept,
 * the rest closed; a truncated request is reported). */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mjtest.h"
#include "proto.h"
#include "util.h"
#include "wire.h"

typedef struct {
    int n, dirs;
    char seen[8][32];
} walk_t;

static int collect(int dfd, const char *name, unsigned char type, void *ctx)
{
    (void)dfd;
    walk_t *w = ctx;
    if (w->n < 8)
        snprintf(w->seen[w->n], sizeof(w->seen[0]), "%s", name);
    w->n++;
    w->dirs += type == DT_DIR;
    return 0;
}

static int stop_at_first(int dfd, const char *name, unsigned char type, void *ctx)
{
    (void)dfd;
    (void)name;
    (void)type;
    ++*(int *)ctx;
    return 42;
}

MJ_TEST(dir_each_lists_entries_but_dot_and_dotdot)
{
    char dir[] = "/tmp/mj-test-util.XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char path[64];
    snprintf(path, sizeof(path), "%s/a", dir);
    close(open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600));
    snprintf(path, sizeof(path), "%s/sub", dir);
    CHECK_EQ_INT(mkdir(path, 0700), 0);
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    walk_t w = {0};
    CHECK_EQ_INT(mj_dir_each(fd, collect, &w), 0);
    close(fd);
    CHECK_EQ_INT(w.n, 2);
    CHECK_EQ_INT(w.dirs, 1);
    for (int i = 0; i < w.n; i++)
        CHECK(strcmp(w.seen[i], ".") != 0 && strcmp(w.seen[i], "..") != 0);
    fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int calls = 0;
    CHECK_EQ_INT(mj_dir_each(fd, stop_at_first, &calls), 42); /* a nonzero return stops the walk */
    CHECK_EQ_INT(calls, 1);
    close(fd);
    CHECK_EQ_INT(mj_dir_each(-1, collect, &w), -1);
    snprintf(path, sizeof(path), "%s/a", dir);
    unlink(path);
    snprintf(path, sizeof(path), "%s/sub", dir);
    rmdir(path);
    rmdir(dir);
}

MJ_TEST(env_set_overlay_unset)
{
    mj_strv_t env = {0};
    mj_env_set(&env, "A", "1");
    mj_env_set(&env, "B", "2");
    mj_env_set(&env, "A", "3"); /* replaced in place */
    CHECK_EQ_INT(env.n, 2);
    CHECK_STREQ(env.v[0], "A=3");
    CHECK_STREQ(mj_env_lookup(&env, "B"), "2");
    CHECK(mj_env_lookup(&env, "AB") == NULL);
    mj_strv_t over = {0};
    mj_strv_push(&over, "B=x");
    mj_strv_push(&over, "C=y");
    mj_env_overlay(&env, &over);
    CHECK_EQ_INT(env.n, 3);
    CHECK_STREQ(mj_env_lookup(&env, "B"), "x");
    CHECK_STREQ(mj_env_lookup(&env, "C"), "y");
    CHECK(mj_env_unset(&env, "A"));
    CHECK(!mj_env_unset(&env, "A"));
    CHECK_EQ_INT(env.n, 2);
    CHECK(env.v[2] == NULL); /* still NULL-terminated */
    CHECK_STREQ(env.v[0], "B=x");
    mj_strv_free(&over);
    mj_strv_free(&env);
}

MJ_TEST(place_fds_moves_them_in_order)
{
    int fds[2] = {open("/dev/null", O_RDONLY | O_CLOEXEC), open("/dev/null", O_RDONLY | O_CLOEXEC)};
    int old0 = fds[0], old1 = fds[1];
    CHECK_EQ_INT(mj_place_fds(fds, 2, 100), 102);
    CHECK_EQ_INT(fds[0], 100);
    CHECK_EQ_INT(fds[1], 101);
    CHECK(fcntl(100, F_GETFD) & FD_CLOEXEC);
    CHECK(fcntl(old0, F_GETFD) < 0 && fcntl(old1, F_GETFD) < 0);
    close(100);
    close(101);
}

MJ_TEST(wire_keeps_only_the_fds_asked_for)
{
    int sp[2];
    CHECK_EQ_INT(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp), 0);
    int sent[3] = {open("/dev/null", O_RDONLY | O_CLOEXEC), open("/dev/null", O_RDONLY | O_CLOEXEC),
                   open("/dev/null", O_RDONLY | O_CLOEXEC)};
    mj_rep_t rep = {.magic = MJ_PROTO_MAGIC, .type = MJ_REP_OK};
    struct iovec iov = {.iov_base = &rep, .iov_len = sizeof(rep)};
    CHECK_EQ_INT(mj_wire_send(sp[0], &iov, 1, sent, 3, MSG_NOSIGNAL), (int)sizeof(rep));
    for (int i = 0; i < 3; i++)
        close(sent[i]);
    mj_rep_t got;
    int fd = -1, nfds = -1;
    bool truncated = true;
    CHECK_EQ_INT(mj_wire_recv(sp[1], &got, sizeof(got), 0, &fd, 1, &nfds, &truncated), (int)sizeof(got));
    CHECK_EQ_INT(nfds, 1);
    CHECK(!truncated);
    CHECK(fd >= 0 && (fcntl(fd, F_GETFD) & FD_CLOEXEC));
    CHECK_EQ_INT(got.magic, MJ_PROTO_MAGIC);
    /* the two extra fds (installed right after fd) were closed, not leaked */
    int probe = open("/dev/null", O_RDONLY | O_CLOEXEC);
    CHECK_EQ_INT(probe, fd + 1);
    close(probe);
    close(fd);
    close(sp[0]);
    close(sp[1]);
}

MJ_TEST(wire_reports_a_truncated_request)
{
    int sp[2];
    CHECK_EQ_INT(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp), 0);
    char big[64];
    memset(big, 'x', sizeof(big));
    struct iovec iov = {.iov_base = big, .iov_len = sizeof(big)};
    CHECK_EQ_INT(mj_wire_send(sp[0], &iov, 1, NULL, 0, MSG_NOSIGNAL), (int)sizeof(big));
    char small[16];
    int fds[MJ_WIRE_MAX_FDS], nfds = -1;
    CHECK_EQ_INT(mj_wire_recv_request(sp[1], small, sizeof(small), 0, fds, &nfds), -2);
    CHECK_EQ_INT(errno, EMSGSIZE);
    CHECK_EQ_INT(nfds, 0);
    close(sp[0]);
    CHECK_EQ_INT(mj_wire_recv_request(sp[1], small, sizeof(small), 0, fds, &nfds), 0); /* EOF */
    close(sp[1]);
}

/* test_confine.c — the worker that acts as a sandbox's user (confine.c): it has exactly the ids it
 * was given, no supplementary group, no capability (so no DAC_READ_SEARCH, DAC_OVERRIDE or FOWNER
 * to read or chmod past the modes), no_new_privs and the Landlock ruleset it was handed — and the
 * calling thread keeps all of its own.  Root only for the id switch (skipped otherwise). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/landlock.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "confine.h"
#include "mjtest.h"
#include "util.h"

/* One line of /proc/thread-self/status (as the thread reading it sees itself). */
typedef struct {
    char status[4096];
} status_t;

static int read_status(void *arg)
{
    status_t *s = arg;
    int fd = open("/proc/thread-self/status", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, s->status, sizeof(s->status) - 1);
    close(fd);
    if (n < 0)
        return -1;
    s->status[n] = '\0';
    return 0;
}

static const char *field(const status_t *s, const char *key, char out[128])
{
    const char *p = strstr(s->status, key);
    out[0] = '\0';
    if (p) {
        p += strlen(key);
        while (*p == '\t' || *p == ' ')
            p++;
        size_t n = strcspn(p, "\n");
        snprintf(out, 128, "%.*s", (int)(n < 127 ? n : 127), p);
    }
    return out;
}

static char secret_path[64];

static int read_secret(void *arg)
{
    (void)arg;
    int fd = open(secret_path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0)
        close(fd);
    return fd < 0 ? -1 : 0;
}

static int chmod_secret(void *arg)
{
    (void)arg;
    return chmod(secret_path, 0644);
}

MJ_TEST(the_worker_has_the_ids_and_nothing_more)
{
    if (geteuid() != 0)
        MJ_SKIP("switching ids needs root");
    snprintf(secret_path, sizeof(secret_path), "/tmp/mjtest-confine-%d", (int)getpid());
    int fd = open(secret_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    CHECK(fd >= 0);
    close(fd);
    mj_confine_creds_t creds = {.switch_ids = true, .uid = 4000123, .gid = 4000124, .ruleset = -1};
    mj_confined_t *c = NULL;
    CHECK_EQ_INT(mj_confine_start(&creds, &c), 0);
    status_t s;
    char v[128];
    CHECK_EQ_INT(mj_confine_run(c, read_status, &s), 0);
    CHECK_STREQ(field(&s, "Uid:", v), "4000123\t4000123\t4000123\t4000123");
    CHECK_STREQ(field(&s, "Gid:", v), "4000124\t4000124\t4000124\t4000124");
    CHECK_STREQ(field(&s, "Groups:", v), "");
    CHECK_STREQ(field(&s, "CapEff:", v), "0000000000000000");
    CHECK_STREQ(field(&s, "CapPrm:", v), "0000000000000000");
    CHECK_STREQ(field(&s, "CapAmb:", v), "0000000000000000");
    CHECK_STREQ(field(&s, "NoNewPrivs:", v), "1");
    /* root's 0600 file: neither read (DAC_READ_SEARCH/OVERRIDE) nor chmod'ed (FOWNER) */
    CHECK_EQ_INT(mj_confine_run(c, read_secret, NULL), -1);
    CHECK_EQ_INT(errno, EACCES);
    CHECK_EQ_INT(mj_confine_run(c, chmod_secret, NULL), -1);
    CHECK_EQ_INT(errno, EPERM);
    mj_confine_stop(c);
    /* the calling thread is still root with its capabilities */
    CHECK_EQ_INT(read_status(&s), 0);
    CHECK_STREQ(field(&s, "Uid:", v), "0\t0\t0\t0");
    CHECK(strcmp(field(&s, "CapEff:", v), "0000000000000000") != 0);
    CHECK_STREQ(field(&s, "NoNewPrivs:", v), "0");
    CHECK_EQ_INT(read_secret(NULL), 0);
    unlink(secret_path);
}

MJ_TEST(the_worker_keeps_the_callers_ids_when_told_and_drops_capabilities)
{
    mj_confine_creds_t creds = {.switch_ids = false, .ruleset = -1};
    mj_confined_t *c = NULL;
    CHECK_EQ_INT(mj_confine_start(&creds, &c), 0);
    status_t s, mine;
    char v[128], w[128];
    CHECK_EQ_INT(mj_confine_run(c, read_status, &s), 0);
    mj_confine_stop(c);
    CHECK_EQ_INT(read_status(&mine), 0);
    CHECK_STREQ(field(&s, "Uid:", v), field(&mine, "Uid:", w));
    CHECK_STREQ(field(&s, "Groups:", v), field(&mine, "Groups:", w));
    CHECK_STREQ(field(&s, "CapEff:", v), "0000000000000000");
    CHECK_STREQ(field(&s, "NoNewPrivs:", v), "1");
}

static int write_beneath(void *arg)
{
    const char *path = arg;
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    if (fd >= 0)
        close(fd);
    return fd < 0 ? -1 : 0;
}

MJ_TEST(the_worker_is_held_to_the_ruleset)
{
    struct landlock_ruleset_attr rs = {
        .handled_access_fs = LANDLOCK_ACCESS_FS_MAKE_REG | LANDLOCK_ACCESS_FS_WRITE_FILE,
    };
    int ruleset = (int)syscall(SYS_landlock_create_ruleset, &rs, sizeof(rs), 0);
    if (ruleset < 0)
        MJ_SKIP("no Landlock on this kernel");
    char dir[] = "/tmp/mjtest-confine-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char allowed[64], other[64];
    snprintf(allowed, sizeof(allowed), "%s/in", dir);
    snprintf(other, sizeof(other), "%s/out", dir);
    CHECK_EQ_INT(mkdir(allowed, 0700), 0);
    int in = open(allowed, O_PATH | O_CLOEXEC);
    struct landlock_path_beneath_attr attr = {.allowed_access = rs.handled_access_fs, .parent_fd = in};
    CHECK_EQ_INT(syscall(SYS_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH, &attr, 0), 0);
    close(in);
    mj_confine_creds_t creds = {.switch_ids = false, .ruleset = ruleset};
    mj_confined_t *c = NULL;
    CHECK_EQ_INT(mj_confine_start(&creds, &c), 0);
    close(ruleset);
    char inside[96];
    snprintf(inside, sizeof(inside), "%s/f", allowed);
    CHECK_EQ_INT(mj_confine_run(c, write_beneath, inside), 0);
    CHECK_EQ_INT(mj_confine_run(c, write_beneath, other), -1);
    CHECK_EQ_INT(errno, EACCES);
    mj_confine_stop(c);
    CHECK_EQ_INT(write_beneath(other), 0); /* this thread is not held to it */
    unlink(inside);
    unlink(other);
    rmdir(allowed);
    rmdir(dir);
}

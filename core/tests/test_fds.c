/* test_fds.c — the core never closes a file descriptor it does not own and leaks none of its own:
 * sentinel fds opened by the host survive sandbox creation, hundreds of execs, spawns and
 * destruction, and the process's fd count returns to where it was. */
#include <dirent.h>
#include <fcntl.h>
#include <moonjail/moonjail.h>
#include <unistd.h>

#include "mjtest.h"

static int count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    int n = 0;
    struct dirent *de;
    while (d && (de = readdir(d)))
        if (de->d_name[0] != '.')
            n++;
    if (d)
        closedir(d);
    return n - 1; /* opendir's own */
}

static mj_config_t *small_config(void)
{
    mj_config_t *cfg = mj_config_new();
    const char *hp[] = {"/usr", "/bin", "/lib", "/lib64"};
    for (size_t i = 0; i < 4; i++)
        mj_config_add_host_path(cfg, hp[i], false, NULL);
    mj_config_add_mount(cfg, MJ_MOUNT_TMPFS, NULL, "/tmp", 0, 0, NULL);
    return cfg;
}

MJ_TEST(sentinels_survive_and_nothing_leaks)
{
    mj_config_t *cfg = small_config();
    mj_sandbox_t *probe = NULL;
    mj_error_t *e = NULL;
    if (mj_sandbox_create(cfg, NULL, &probe, &e) < 0) {
        fprintf(stderr, "    %s\n", mj_error_message(e));
        mj_error_free(e);
        mj_config_free(cfg);
        MJ_SKIP("sandboxes cannot start on this host (see moonjail doctor)");
    }
    mj_sandbox_free(probe);
    int before = count_fds();
    int sentinel[3];
    for (int i = 0; i < 3; i++)
        sentinel[i] = open("/dev/null", O_RDONLY | O_CLOEXEC);
    mj_command_t *cmd = mj_command_new();
    const char *argv[] = {"true"};
    mj_command_set_argv(cmd, 1, argv, NULL);
    for (int round = 0; round < 3; round++) {
        mj_sandbox_t *sb = NULL;
        CHECK_EQ_INT(mj_sandbox_create(cfg, NULL, &sb, &e), 0);
        int late = open("/dev/null", O_RDONLY | O_CLOEXEC); /* numbered above the sandbox's own */
        for (int i = 0; i < 200; i++) {
            mj_result_t *r = NULL;
            CHECK_EQ_INT(mj_sandbox_exec(sb, cmd, &r, &e), 0);
            mj_result_free(r);
            mj_process_t *p = NULL;
            if (i % 50 == 0) {
                CHECK_EQ_INT(mj_sandbox_spawn(sb, cmd, &p, &e), 0);
                mj_process_free(p);
            }
            CHECK(fcntl(late, F_GETFD) >= 0);
            for (int k = 0; k < 3; k++)
                CHECK(fcntl(sentinel[k], F_GETFD) >= 0);
        }
        mj_sandbox_free(sb);
        CHECK(fcntl(late, F_GETFD) >= 0);
        close(late);
    }
    for (int k = 0; k < 3; k++) {
        CHECK(fcntl(sentinel[k], F_GETFD) >= 0);
        close(sentinel[k]);
    }
    CHECK_EQ_INT(count_fds(), before);
    mj_command_free(cmd);
    mj_config_free(cfg);
}

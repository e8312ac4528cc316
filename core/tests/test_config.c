/* test_config.c — config and command setters reject bad shapes with INVALID_CONFIG naming the field. */
#include <moonjail/moonjail.h>
#include <string.h>

#include "config.h"
#include "mjtest.h"

/* Takes &e so the error is read after the call under test ran (argument order is unspecified). */
static int expect_invalid(int rc, mj_error_t **ep, const char *needle)
{
    mj_error_t *e = *ep;
    *ep = NULL;
    int ok = rc == -1 && e && mj_error_code(e) == MJ_ERR_INVALID_CONFIG && strstr(mj_error_message(e), needle);
    if (!ok)
        fprintf(stderr, "    got rc=%d message=%s\n", rc, e ? mj_error_message(e) : "(none)");
    mj_error_free(e);
    return ok;
}

MJ_TEST(clean_absolute_paths)
{
    CHECK(mj_path_is_clean_absolute("/"));
    CHECK(mj_path_is_clean_absolute("/usr/lib"));
    CHECK(mj_path_is_clean_absolute("/a//b/"));
    CHECK(!mj_path_is_clean_absolute("usr"));
    CHECK(!mj_path_is_clean_absolute("/a/../etc"));
    CHECK(!mj_path_is_clean_absolute("/a/./b"));
    CHECK(!mj_path_is_clean_absolute("/.."));
    CHECK(!mj_path_is_clean_absolute(""));
    CHECK(!mj_path_is_clean_absolute(NULL));
    CHECK(mj_path_is_clean_absolute("/a/..b/c."));
}

MJ_TEST(mount_validation)
{
    mj_config_t *cfg = mj_config_new();
    mj_error_t *e = NULL;
    CHECK(expect_invalid(mj_config_add_mount(cfg, MJ_MOUNT_RO, "rel", "/x", 0, 0, &e), &e, "mounts: source"));
    CHECK(expect_invalid(mj_config_add_mount(cfg, MJ_MOUNT_RW, "/tmp", "x", 0, 0, &e), &e, "mounts: destination"));
    CHECK(expect_invalid(mj_config_add_mount(cfg, MJ_MOUNT_RW, "/tmp", "/", 0, 0, &e), &e, "destination '/'"));
    CHECK(expect_invalid(mj_config_add_mount(cfg, MJ_MOUNT_TMPFS, NULL, "/t", 0, 070000, &e), &e, "mode"));
    CHECK(expect_invalid(mj_config_add_mount(cfg, (mj_mount_kind_t)42, "/a", "/b", 0, 0, &e), &e, "kind"));
    CHECK_EQ_INT(mj_config_add_mount(cfg, MJ_MOUNT_TMPFS, NULL, "/t", 0, 0, NULL), 0);
    CHECK_EQ_INT(cfg->n_mounts, 1);
    mj_config_free(cfg);
}

MJ_TEST(hostname_user_and_limits)
{
    mj_config_t *cfg = mj_config_new();
    mj_error_t *e = NULL;
    CHECK(expect_invalid(mj_config_set_hostname(cfg, "bad host", &e), &e, "hostname"));
    CHECK(expect_invalid(mj_config_set_hostname(cfg, "", &e), &e, "hostname"));
    CHECK_EQ_INT(mj_config_set_hostname(cfg, "box-1.local", NULL), 0);
    CHECK(expect_invalid(mj_config_set_user(cfg, 70000, 0, &e), &e, "user"));
    CHECK_EQ_INT(mj_config_set_user(cfg, 1000, 1000, NULL), 0);
    CHECK(expect_invalid(mj_config_set_rlimit(cfg, MJ_RLIMIT_NOFILE, 1, &e), &e, "limits.nofile"));
    CHECK(expect_invalid(mj_config_set_rlimit(cfg, MJ_RLIMIT__COUNT, 1, &e), &e, "rlimit"));
    CHECK_EQ_INT(mj_config_set_rlimit(cfg, MJ_RLIMIT_FSIZE, UINT64_MAX, NULL), 0);
    CHECK(expect_invalid(mj_config_add_host_path(cfg, "/", true, &e), &e, "whole host root"));
    mj_config_free(cfg);
}

MJ_TEST(capability_names)
{
    CHECK_EQ_INT(mj_capability_from_name("CAP_NET_BIND_SERVICE"), 10);
    CHECK_EQ_INT(mj_capability_from_name("net_bind_service"), 10);
    CHECK_EQ_INT(mj_capability_from_name("SYS_ADMIN"), 21);
    CHECK_EQ_INT(mj_capability_from_name("CAP_NOPE"), -1);
    mj_config_t *cfg = mj_config_new();
    mj_error_t *e = NULL;
    CHECK(expect_invalid(mj_config_add_capability(cfg, "FLY", &e), &e, "unknown capability 'FLY'"));
    CHECK_EQ_INT(mj_config_add_capability(cfg, "CHOWN", NULL), 0);
    CHECK_EQ_INT(cfg->caps_keep, 1);
    mj_config_free(cfg);
}

MJ_TEST(env_replaces_and_rejects_bad_names)
{
    mj_config_t *cfg = mj_config_new();
    mj_error_t *e = NULL;
    CHECK_EQ_INT(mj_config_set_env(cfg, "A", "1", NULL), 0);
    CHECK_EQ_INT(mj_config_set_env(cfg, "A", "2", NULL), 0);
    CHECK_EQ_INT(cfg->env.n, 1);
    CHECK_STREQ(cfg->env.v[0], "A=2");
    CHECK(expect_invalid(mj_config_set_env(cfg, "A=B", "1", &e), &e, "env"));
    CHECK(expect_invalid(mj_config_set_env(cfg, "", "1", &e), &e, "env"));
    mj_config_free(cfg);
}

MJ_TEST(command_argv)
{
    mj_command_t *cmd = mj_command_new();
    mj_error_t *e = NULL;
    const char *empty[] = {""};
    CHECK(expect_invalid(mj_command_set_argv(cmd, 1, empty, &e), &e, "empty command"));
    CHECK(expect_invalid(mj_command_set_argv(cmd, 0, NULL, &e), &e, "empty command"));
    const char *ok[] = {"echo", "hi"};
    CHECK_EQ_INT(mj_command_set_argv(cmd, 2, ok, NULL), 0);
    CHECK_EQ_INT(cmd->argv.n, 2);
    CHECK(cmd->argv.v[2] == NULL);
    mj_command_free(cmd);
}

/* test_plan.c — plan building: mount order, missing sources, symlinked host paths, id maps, env. */
#include <moonjail/moonjail.h>
#include <string.h>
#include <sys/stat.h>

#include "plan.h"
#include "mjtest.h"

static mj_command_t *echo_cmd(void)
{
    mj_command_t *cmd = mj_command_new();
    const char *argv[] = {"echo", "hi"};
    mj_command_set_argv(cmd, 2, argv, NULL);
    return cmd;
}

static const mj_op_t *find_op(const mj_plan_t *p, mj_op_kind_t kind, const char *dst, size_t *index)
{
    for (size_t i = 0; i < p->n_ops; i++)
        if (p->ops[i].kind == kind && strcmp(p->ops[i].dst, dst) == 0) {
            if (index)
                *index = i;
            return &p->ops[i];
        }
    return NULL;
}

MJ_TEST(missing_mount_source_is_invalid_config)
{
    mj_config_t *cfg = mj_config_new();
    mj_command_t *cmd = echo_cmd();
    mj_config_add_mount(cfg, MJ_MOUNT_RO, "/nonexistent/moonjail-test", "/x", 0, 0, NULL);
    mj_plan_t plan;
    mj_error_t *e = NULL;
    CHECK_EQ_INT(mj_plan_build(cfg, cmd, &plan, &e), -1);
    CHECK(e && mj_error_code(e) == MJ_ERR_INVALID_CONFIG);
    CHECK(e && strstr(mj_error_message(e), "'/nonexistent/moonjail-test' does not exist"));
    mj_error_free(e);
    mj_config_free(cfg);
    mj_command_free(cmd);
}

MJ_TEST(mounts_sorted_parents_first_and_masks_last)
{
    mj_config_t *cfg = mj_config_new();
    mj_command_t *cmd = echo_cmd();
    mj_config_add_mount(cfg, MJ_MOUNT_TMPFS, NULL, "/work/a/b", 0, 0, NULL);
    mj_config_add_mount(cfg, MJ_MOUNT_TMPFS, NULL, "/work", 0, 0, NULL);
    mj_config_add_masked(cfg, "/proc/kcore", NULL);
    mj_config_add_readonly(cfg, "/proc/sys", NULL);
    mj_plan_t plan;
    mj_error_t *e = NULL;
    CHECK_EQ_INT(mj_plan_build(cfg, cmd, &plan, &e), 0);
    size_t i_work = 0, i_ab = 0, i_proc = 0, i_mask = 0, i_ro = 0;
    CHECK(find_op(&plan, MJ_OP_TMPFS, "work", &i_work));
    CHECK(find_op(&plan, MJ_OP_TMPFS, "work/a/b", &i_ab));
    CHECK(find_op(&plan, MJ_OP_PROC, "proc", &i_proc));
    CHECK(find_op(&plan, MJ_OP_MASK, "proc/kcore", &i_mask));
    CHECK(find_op(&plan, MJ_OP_READONLY, "proc/sys", &i_ro));
    CHECK(i_work < i_ab);
    CHECK(i_proc < i_mask && i_ab < i_mask && i_mask < i_ro);
    CHECK(find_op(&plan, MJ_OP_BIND, "dev/null", NULL));
    CHECK(find_op(&plan, MJ_OP_DEVPTS, "dev/pts", NULL));
    mj_plan_free(&plan);
    mj_config_free(cfg);
    mj_command_free(cmd);
}

MJ_TEST(host_symlinks_become_symlinks)
{
    char dir[] = "/tmp/mjplanXXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char link[64], real[64];
    snprintf(real, sizeof(real), "%s/real", dir);
    snprintf(link, sizeof(link), "%s/link", dir);
    mkdir(real, 0755);
    CHECK_EQ_INT(symlink("real", link), 0);
    mj_config_t *cfg = mj_config_new();
    mj_command_t *cmd = echo_cmd();
    mj_config_add_host_path(cfg, link, true, NULL);
    mj_config_add_host_path(cfg, real, true, NULL);
    mj_config_add_host_path(cfg, "/nonexistent-optional", false, NULL);
    mj_plan_t plan;
    mj_error_t *e = NULL;
    CHECK_EQ_INT(mj_plan_build(cfg, cmd, &plan, &e), 0);
    const mj_op_t *l = find_op(&plan, MJ_OP_SYMLINK, link + 1, NULL);
    CHECK(l && strcmp(l->src, "real") == 0);
    const mj_op_t *r = find_op(&plan, MJ_OP_BIND, real + 1, NULL);
    CHECK(r && (r->flags & MJ_OPF_RDONLY) && (r->flags & MJ_OPF_DIR));
    CHECK(!find_op(&plan, MJ_OP_BIND, "nonexistent-optional", NULL));
    mj_plan_free(&plan);
    mj_config_add_host_path(cfg, "/nonexistent-required", true, NULL);
    CHECK_EQ_INT(mj_plan_build(cfg, cmd, &plan, &e), -1);
    CHECK(e && mj_error_code(e) == MJ_ERR_INVALID_CONFIG);
    mj_error_free(e);
    mj_config_free(cfg);
    mj_command_free(cmd);
    unlink(link);
    rmdir(real);
    rmdir(dir);
}

MJ_TEST(id_maps_never_map_host_root)
{
    mj_config_t *cfg = mj_config_new();
    mj_command_t *cmd = echo_cmd();
    mj_config_set_user(cfg, 1000, 1000, NULL);
    mj_plan_t plan;
    mj_error_t *e = NULL;
    if (mj_plan_build(cfg, cmd, &plan, &e) < 0) {
        fprintf(stderr, "    %s\n", mj_error_message(e));
        mj_error_free(e);
        MJT_FAIL("plan failed");
    }
    unsigned inside, outside, count;
    CHECK_EQ_INT(sscanf(plan.uid_map, "%u %u %u", &inside, &outside, &count), 3);
    CHECK(outside != 0);
    if (geteuid() == 0) {
        CHECK_EQ_INT(inside, 0);
        CHECK_EQ_INT(count, 65536);
        CHECK(outside >= 1000000);
        CHECK_EQ_INT(plan.init_uid, 0);
    } else {
        CHECK_EQ_INT(inside, 1000);
        CHECK_EQ_INT(outside, geteuid());
        CHECK_EQ_INT(count, 1);
    }
    CHECK_EQ_INT(plan.inner_uid, 1000);
    mj_plan_free(&plan);
    mj_config_free(cfg);
    mj_command_free(cmd);
}

MJ_TEST(command_env_overrides_config_env_and_path_is_searched)
{
    mj_config_t *cfg = mj_config_new();
    mj_command_t *cmd = echo_cmd();
    mj_config_set_env(cfg, "A", "cfg", NULL);
    mj_config_set_env(cfg, "PATH", "/opt/bin", NULL);
    mj_command_set_env(cmd, "A", "cmd", NULL);
    mj_command_set_env(cmd, "B", "new", NULL);
    mj_command_set_workdir(cmd, "/work", NULL);
    mj_plan_t plan;
    mj_error_t *e = NULL;
    CHECK_EQ_INT(mj_plan_build(cfg, cmd, &plan, &e), 0);
    CHECK_EQ_INT(plan.envp.n, 3);
    CHECK_STREQ(plan.envp.v[0], "A=cmd");
    CHECK_STREQ(plan.envp.v[2], "B=new");
    CHECK_STREQ(plan.path_env, "/opt/bin");
    CHECK_STREQ(plan.workdir, "/work");
    CHECK(plan.rlimit_set[MJ_RLIMIT_CORE] && plan.rlimits[MJ_RLIMIT_CORE].rlim_max == 0);
    mj_plan_free(&plan);
    mj_config_free(cfg);
    mj_command_free(cmd);
}

MJ_TEST(end_reason_names)
{
    CHECK_STREQ(mj_end_reason_name(MJ_END_EXIT), "exit");
    CHECK_STREQ(mj_end_reason_name(MJ_END_OUTPUT_LIMIT), "output_limit");
    CHECK_STREQ(mj_end_reason_name(MJ_END_DISK), "disk");
    CHECK_STREQ(mj_end_reason_name((mj_end_reason_t)99), "unknown");
}

/* A limit above the caller's own hard limit cannot be set (not even as root in a user namespace):
 * it is lowered to that hard limit and reported, never raised and never left to fail at exec. */
MJ_TEST(rlimit_above_hard_limit_is_lowered_and_reported)
{
    struct rlimit saved, lower;
    CHECK_EQ_INT(getrlimit(RLIMIT_NPROC, &saved), 0);
    lower.rlim_max = saved.rlim_max == RLIM_INFINITY || saved.rlim_max > 3000 ? 3000 : saved.rlim_max;
    lower.rlim_cur = saved.rlim_cur < lower.rlim_max ? saved.rlim_cur : lower.rlim_max;
    CHECK_EQ_INT(setrlimit(RLIMIT_NPROC, &lower), 0);
    mj_config_t *cfg = mj_config_new();
    mj_command_t *cmd = echo_cmd();
    CHECK_EQ_INT(mj_config_set_rlimit(cfg, MJ_RLIMIT_NPROC, 4096, NULL), 0);
    CHECK_EQ_INT(mj_config_set_rlimit(cfg, MJ_RLIMIT_NOFILE, 64, NULL), 0);
    mj_plan_t plan;
    mj_error_t *e = NULL;
    CHECK_EQ_INT(mj_plan_build(cfg, cmd, &plan, &e), 0);
    CHECK(plan.rlimits[MJ_RLIMIT_NPROC].rlim_max == lower.rlim_max);
    CHECK(plan.rlimits[MJ_RLIMIT_NPROC].rlim_cur == lower.rlim_max);
    CHECK(plan.rlimits[MJ_RLIMIT_NOFILE].rlim_max == 64);
    bool reported = false;
    for (size_t i = 0; i < plan.warnings.n; i++)
        if (strstr(plan.warnings.v[i], "limits.nproc: 4096 is above the caller's hard limit"))
            reported = true;
    CHECK(reported);
    mj_plan_free(&plan);
    mj_config_free(cfg);
    mj_command_free(cmd);
    (void)setrlimit(RLIMIT_NPROC, &saved); /* root may raise it back; otherwise nothing after needs more */
}

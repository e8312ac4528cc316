/* test_cgroup.c — the cgroup facade over fake cgroupfs trees (detection of v2, v1 and hybrid hosts,
 * paths under the caller's own cgroup, limit files and values for both backends, fail-closed vs
 * warnings, stats parsing, id validation) and, as root on a host with the v1 memory controller, a
 * real group: limits, add_pid, stats, freeze, OOM and pids accounting, destroy. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <math.h>
#include <moonjail/moonjail.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cgroup-setup.h"
#include "cgroup-utils.h"
#include "cgroup.h"
#include "mjtest.h"

/* ------------------------------------------------------------------ fake trees */

typedef struct {
    char root[64];
} fake_t;

static void fake_init(fake_t *f)
{
    snprintf(f->root, sizeof(f->root), "/tmp/mjcgXXXXXX");
    if (!mkdtemp(f->root)) {
        perror("mkdtemp");
        abort();
    }
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void fake_free(fake_t *f)
{
    nftw(f->root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void mkdirs(const char *path)
{
    char buf[512];
    snprintf(buf, sizeof(buf), "%s", path);
    for (char *p = buf + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            mkdir(buf, 0755);
            *p = '/';
        }
    mkdir(buf, 0755);
}

/* Writes root/rel (creating its directories). */
static void put(const fake_t *f, const char *rel, const char *content)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", f->root, rel);
    char *slash = strrchr(path, '/');
    *slash = '\0';
    mkdirs(path);
    *slash = '/';
    FILE *fp = fopen(path, "w");
    if (!fp) {
        perror(path);
        abort();
    }
    fputs(content, fp);
    fclose(fp);
}

/* Contents of root/rel without a trailing newline ("<missing>" when absent). */
static const char *get(const fake_t *f, const char *rel)
{
    static char buf[8][512];
    static int slot;
    char *b = buf[slot++ % 8];
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", f->root, rel);
    FILE *fp = fopen(path, "r");
    if (!fp)
        return "<missing>";
    size_t n = fread(b, 1, 511, fp);
    fclose(fp);
    b[n] = '\0';
    b[strcspn(b, "\n")] = '\0';
    return b;
}

static bool exists(const fake_t *f, const char *rel)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", f->root, rel);
    return access(path, F_OK) == 0;
}

/* Puts each file (empty) into dir. */
static void put_files(const fake_t *f, const char *dir, const char *const *files)
{
    char rel[512];
    for (size_t i = 0; files[i]; i++) {
        snprintf(rel, sizeof(rel), "%s/%s", dir, files[i]);
        put(f, rel, "");
    }
}

#define ID "0123abcd"

static const char V1_MOUNTINFO[] =
    "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n"
    "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
    "32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime shared:9 - cgroup cgroup rw,cpu,cpuacct\n"
    "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime shared:12 - cgroup cgroup rw,memory\n"
    "36 31 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices\n"
    "37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer\n"
    "39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids\n"
    "40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd\n";

static const char V1_CGROUP[] = "9:name=systemd:/user.slice/session-1.scope\n"
                                "8:pids:/user.slice\n"
                                "5:devices:/\n"
                                "4:memory:/a/b\n"
                                "3:freezer:/\n"
                                "2:cpu,cpuacct:/\n";

static const char UNIFIED_MOUNT[] = "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";

static const char V2_MOUNTINFO[] = "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n"
                                   "30 23 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 "
                                   "cgroup2 rw,nsdelegate,memory_recursiveprot\n";
#define V2_OWN "/user.slice/user-1000.slice/user@1000.service/app.slice"
static const char V2_CGROUP[] = "0::" V2_OWN "\n";
#define V2_OWN_DIR "sys/fs/cgroup" V2_OWN

static mj_cgroup_env_t env_for(const fake_t *f, const char *mountinfo, const char *cgroup)
{
    mj_cgroup_env_t env = {.mountinfo_text = mountinfo, .cgroup_text = cgroup, .path_prefix = f->root};
    return env;
}

/* A test over a fresh fake tree `f` (under /tmp), removed after the body, also when it failed. */
#define FAKE_TEST(name)                                                                            \
    static void fake_test_##name(const fake_t *f);                                                 \
    MJ_TEST(name)                                                                                  \
    {                                                                                              \
        fake_t fake;                                                                               \
        fake_init(&fake);                                                                          \
        fake_test_##name(&fake);                                                                   \
        fake_free(&fake);                                                                          \
    }                                                                                              \
    static void fake_test_##name(const fake_t *f)

/* mj_cgroup_create of ID that must succeed: true, or false with the error printed. */
static bool create_ok(const mj_cgroup_env_t *env, const mj_cgroup_limits_t *lim, bool freezer, mj_cgroup_t **cg,
                      mj_strv_t *w)
{
    mj_error_t *e = NULL;
    int rc = mj_cgroup_create(env, ID, lim, freezer, cg, w, &e);
    if (rc != 0)
        fprintf(stderr, "    create: %s\n", mj_error_message(e));
    mj_error_free(e);
    return rc == 0;
}

/* A hybrid host: the v1 tree, and a unified hierarchy at /sys/fs/cgroup/unified whose
 * /user.slice offers unified_controllers.  The texts are static: one env at a time. */
static mj_cgroup_env_t hybrid_env(const fake_t *f, const char *unified_controllers)
{
    static char mi[2048], cg[1024];
    put(f, "sys/fs/cgroup/unified/user.slice/cgroup.controllers", unified_controllers);
    snprintf(mi, sizeof(mi), "%s%s", V1_MOUNTINFO, UNIFIED_MOUNT);
    snprintf(cg, sizeof(cg), "%s0::/user.slice\n", V1_CGROUP);
    return env_for(f, mi, cg);
}

static void fake_v1_group(const fake_t *f)
{
    static const char *const mem[] = {"memory.limit_in_bytes", "memory.memsw.limit_in_bytes",
                                      "memory.soft_limit_in_bytes", "notify_on_release", "cgroup.procs", NULL};
    static const char *const cpu[] = {"cpu.cfs_period_us", "cpu.cfs_quota_us", "cpu.shares", "cpuacct.usage",
                                      "notify_on_release", "cgroup.procs", NULL};
    static const char *const pids[] = {"pids.max", "notify_on_release", "cgroup.procs", NULL};
    static const char *const frz[] = {"freezer.state", "notify_on_release", "cgroup.procs", NULL};
    put_files(f, "sys/fs/cgroup/memory/a/b/moonjail/" ID, mem);
    put(f, "sys/fs/cgroup/memory/a/b/moonjail/notify_on_release", "1");
    put_files(f, "sys/fs/cgroup/cpu,cpuacct/moonjail/" ID, cpu);
    put(f, "sys/fs/cgroup/cpu,cpuacct/moonjail/notify_on_release", "1");
    put_files(f, "sys/fs/cgroup/pids/user.slice/moonjail/" ID, pids);
    put(f, "sys/fs/cgroup/pids/user.slice/moonjail/notify_on_release", "1");
    put_files(f, "sys/fs/cgroup/freezer/moonjail/" ID, frz);
    put(f, "sys/fs/cgroup/freezer/moonjail/notify_on_release", "1");
    put(f, "sys/fs/cgroup/freezer/moonjail/" ID "/freezer.state", "THAWED\n");
    /* the leaves: the supervisor's and the commands' */
    static const char *const leaf[] = {"notify_on_release", "cgroup.procs", NULL};
    static const char *const dirs[] = {"memory/a/b", "cpu,cpuacct", "pids/user.slice", "freezer"};
    for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++)
        for (int w = 0; w < 2; w++) {
            char path[256];
            snprintf(path, sizeof(path), "sys/fs/cgroup/%s/moonjail/" ID "/%s", dirs[i], w ? "work" : "sup");
            put_files(f, path, leaf);
        }
    put(f, "sys/fs/cgroup/freezer/moonjail/" ID "/work/freezer.state", "THAWED\n");
}

static void fake_v2_group(const fake_t *f, const char *controllers)
{
    static const char *const files[] = {"memory.max", "memory.swap.max", "memory.low", "cpu.max", "cpu.weight",
                                        "pids.max", "cgroup.freeze", "cgroup.procs", "cgroup.kill", NULL};
    put(f, V2_OWN_DIR "/cgroup.controllers", controllers);
    put(f, V2_OWN_DIR "/cgroup.subtree_control", "");
    put(f, V2_OWN_DIR "/moonjail/cgroup.subtree_control", "");
    put_files(f, V2_OWN_DIR "/moonjail/" ID, files);
    put(f, V2_OWN_DIR "/moonjail/" ID "/cgroup.events", "populated 0\nfrozen 0\n");
    static const char *const leaf[] = {"cgroup.freeze", "cgroup.procs", "cgroup.kill", NULL};
    put_files(f, V2_OWN_DIR "/moonjail/" ID "/sup", leaf);
    put_files(f, V2_OWN_DIR "/moonjail/" ID "/work", leaf);
    put(f, V2_OWN_DIR "/moonjail/" ID "/work/cgroup.events", "populated 0\nfrozen 0\n");
}

/* ------------------------------------------------------------------ pure logic */

MJ_TEST(id_validation)
{
    CHECK(mj_cgroup_id_is_valid("0123456789abcdef"));
    CHECK(mj_cgroup_id_is_valid("ABCDEF01"));
    CHECK(!mj_cgroup_id_is_valid(NULL));
    CHECK(!mj_cgroup_id_is_valid(""));
    CHECK(!mj_cgroup_id_is_valid(".."));
    CHECK(!mj_cgroup_id_is_valid("../etc"));
    CHECK(!mj_cgroup_id_is_valid("ab/cd"));
    CHECK(!mj_cgroup_id_is_valid("ab cd"));
    CHECK(!mj_cgroup_id_is_valid("abcg"));
    CHECK(!mj_cgroup_id_is_valid("abc\n"));
    char longid[66];
    memset(longid, 'a', 65);
    longid[65] = '\0';
    CHECK(!mj_cgroup_id_is_valid(longid));
    longid[64] = '\0';
    CHECK(mj_cgroup_id_is_valid(longid));
}

MJ_TEST(bad_id_is_refused_before_touching_anything)
{
    mj_cgroup_limits_t lim = {.memory_max = 1 << 20, .memory_required = true};
    mj_cgroup_env_t env = {.mountinfo_text = "", .cgroup_text = "", .path_prefix = "/nonexistent"};
    mj_cgroup_t *cg = (mj_cgroup_t *)1;
    mj_error_t *e = NULL;
    CHECK_EQ_INT(mj_cgroup_create(&env, "../../x", &lim, false, &cg, NULL, &e), -1);
    CHECK(cg == NULL);
    CHECK(e && mj_error_code(e) == MJ_ERR_INVALID_CONFIG);
    mj_error_free(e);
    CHECK_EQ_INT(mj_cgroup_open(&env, "..", &cg), -1);
    CHECK_EQ_INT(errno, EINVAL);
}

MJ_TEST(keyed_file_parsing)
{
    uint64_t v = 0;
    const char *oom = "oom_kill_disable 1\nunder_oom 0\noom_kill 4\n";
    CHECK_EQ_INT(mj_cg_keyed_u64(oom, "oom_kill", &v), 0);
    CHECK_EQ_INT(v, 4);
    CHECK_EQ_INT(mj_cg_keyed_u64(oom, "oom", &v), -1);
    CHECK_EQ_INT(mj_cg_keyed_u64("low 0\nhigh 0\nmax 3\noom 1\noom_kill 0\noom_group_kill 0\n", "oom_kill", &v), 0);
    CHECK_EQ_INT(v, 0);
    CHECK_EQ_INT(mj_cg_keyed_u64("max 17", "max", &v), 0);
    CHECK_EQ_INT(v, 17);
    CHECK_EQ_INT(mj_cg_keyed_u64("usage_usec 12\nuser_usec 10\n", "user_usec", &v), 0);
    CHECK_EQ_INT(v, 10);
    CHECK_EQ_INT(mj_cg_keyed_u64("frozen x\n", "frozen", &v), -1);
    CHECK_EQ_INT(mj_cg_keyed_u64("", "frozen", &v), -1);
}

MJ_TEST(fast_path_without_limits_touches_nothing)
{
    mj_cgroup_env_t env = {.mountinfo_text = "garbage", .cgroup_text = "garbage", .path_prefix = "/nonexistent"};
    mj_cgroup_limits_t none = {0};
    mj_cgroup_t *cg = (mj_cgroup_t *)1;
    mj_strv_t w = {0};
    mj_error_t *e = NULL;
    CHECK_EQ_INT(mj_cgroup_create(&env, ID, &none, false, &cg, &w, &e), 0);
    CHECK(cg == NULL);
    CHECK(e == NULL);
    CHECK_EQ_INT(w.n, 0);
    CHECK_EQ_INT(mj_cgroup_create(&env, ID, NULL, false, &cg, &w, &e), 0);
    CHECK(cg == NULL);
    CHECK_STREQ(mj_cgroup_version(NULL), "none");
    CHECK(!mj_cgroup_can_freeze(NULL));
    CHECK_EQ_INT(mj_cgroup_frozen(NULL), -1);
    CHECK_EQ_INT(mj_cgroup_kill_all(NULL), 0);
    CHECK_EQ_INT(mj_cgroup_add_pid(NULL, 1, NULL), 0);
    mj_cgroup_destroy(NULL);
    mj_cgroup_free(NULL);
}

/* ------------------------------------------------------------------ detection */

FAKE_TEST(detects_pure_v2)
{
    put(f, V2_OWN_DIR "/cgroup.controllers", "cpuset cpu io memory pids\n");
    mj_cgroup_env_t env = env_for(f, V2_MOUNTINFO, V2_CGROUP);
    mj_cg_host_t h;
    CHECK_EQ_INT(mj_cg_host_detect(&env, &h, NULL), 0);
    CHECK_EQ_INT(h.n, 1);
    CHECK_EQ_INT(h.v2, 0);
    CHECK(h.v2_primary);
    CHECK_STREQ(h.h[0].own, V2_OWN);
    char want[512];
    snprintf(want, sizeof(want), "%s/" V2_OWN_DIR, f->root);
    CHECK_STREQ(h.h[0].own_dir, want);
    for (int c = 0; c < MJ_CGC__COUNT; c++)
        CHECK_EQ_INT(h.by_ctl[c], 0);
    mj_cg_host_free(&h);
}

FAKE_TEST(detects_pure_v1_with_comounted_cpu_cpuacct)
{
    mj_cgroup_env_t env = env_for(f, V1_MOUNTINFO, V1_CGROUP);
    mj_cg_host_t h;
    CHECK_EQ_INT(mj_cg_host_detect(&env, &h, NULL), 0);
    CHECK_EQ_INT(h.v2, -1);
    CHECK(!h.v2_primary);
    CHECK_EQ_INT(h.n, 5); /* cpu,cpuacct memory devices freezer pids; name=systemd skipped */
    int mem = h.by_ctl[MJ_CGC_MEMORY], cpu = h.by_ctl[MJ_CGC_CPU];
    CHECK(mem >= 0 && cpu >= 0);
    CHECK_EQ_INT(h.by_ctl[MJ_CGC_CPUACCT], cpu);
    CHECK_STREQ(h.h[cpu].names, "cpu,cpuacct");
    CHECK_EQ_INT(h.h[mem].version, 1);
    CHECK_STREQ(h.h[mem].own, "/a/b");
    char want[512];
    snprintf(want, sizeof(want), "%s/sys/fs/cgroup/memory/a/b", f->root);
    CHECK_STREQ(h.h[mem].own_dir, want);
    snprintf(want, sizeof(want), "%s/sys/fs/cgroup/pids/user.slice", f->root);
    CHECK_STREQ(h.h[h.by_ctl[MJ_CGC_PIDS]].own_dir, want);
    snprintf(want, sizeof(want), "%s/sys/fs/cgroup/freezer", f->root);
    CHECK_STREQ(h.h[h.by_ctl[MJ_CGC_FREEZER]].own_dir, want);
    mj_cg_host_free(&h);
}

FAKE_TEST(detects_hybrid_and_uses_v1)
{
    mj_cgroup_env_t env = hybrid_env(f, "hugetlb\n");
    mj_cg_host_t h;
    CHECK_EQ_INT(mj_cg_host_detect(&env, &h, NULL), 0);
    CHECK(h.v2 >= 0);
    CHECK(!h.v2_primary);
    CHECK_STREQ(h.h[h.v2].names, "hugetlb");
    for (int c = 0; c < MJ_CGC__COUNT; c++) {
        if (c == MJ_CGC_IO)
            continue; /* this fake v1 tree has no blkio mount */
        CHECK(h.by_ctl[c] >= 0);
        CHECK_EQ_INT(h.h[h.by_ctl[c]].version, 1);
    }
    CHECK_EQ_INT(h.by_ctl[MJ_CGC_IO], -1);
    mj_cg_host_free(&h);

    mj_strv_t lines = {0};
    mj_cgroup_describe(&env, &lines);
    CHECK(lines.n >= 3);
    CHECK(strstr(lines.v[0], "cgroup: hybrid (v1 controllers: cpu cpuacct memory devices freezer pids"));
    CHECK(strstr(lines.v[0], "/sys/fs/cgroup/unified offering hugetlb"));
    CHECK(strstr(lines.v[1], "memory=v1 pids=v1 cpu=v1 cpuacct=v1 freezer=v1"));
    bool own_mem = false;
    for (size_t i = 0; i < lines.n; i++)
        if (strcmp(lines.v[i], "own cgroup (memory): /a/b") == 0)
            own_mem = true;
    CHECK(own_mem);
    mj_strv_free(&lines);
}

FAKE_TEST(hybrid_with_a_v2_controller_mixes_backends)
{
    mj_cgroup_env_t env = hybrid_env(f, "memory\n");
    mj_cg_host_t h;
    CHECK_EQ_INT(mj_cg_host_detect(&env, &h, NULL), 0);
    CHECK(h.v2_primary);
    CHECK_EQ_INT(h.by_ctl[MJ_CGC_MEMORY], h.v2);
    CHECK_EQ_INT(h.h[h.by_ctl[MJ_CGC_PIDS]].version, 1);
    CHECK_EQ_INT(h.by_ctl[MJ_CGC_FREEZER], h.v2);
    mj_cg_host_free(&h);
}

FAKE_TEST(mount_roots_escapes_and_foreign_paths)
{
    /* A container's view: the memory mount's root is /docker/abc; a space in a mount point is \040;
     * a pids mount whose root does not contain our cgroup cannot be used; ".." in own is refused. */
    const char *mi = "35 31 0:32 /docker/abc /sys/fs/cgroup/my\\040memory rw - cgroup cgroup rw,memory\n"
                     "39 31 0:36 /other /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids\n"
                     "37 31 0:34 / /sys/fs/cgroup/freezer rw - cgroup cgroup rw,freezer\n";
    const char *cg = "4:memory:/docker/abc/sub\n8:pids:/docker/abc\n3:freezer:/x/../../etc\n";
    mj_cgroup_env_t env = env_for(f, mi, cg);
    mj_cg_host_t h;
    CHECK_EQ_INT(mj_cg_host_detect(&env, &h, NULL), 0);
    CHECK_EQ_INT(h.n, 1);
    char want[512];
    snprintf(want, sizeof(want), "%s/sys/fs/cgroup/my memory/sub", f->root);
    CHECK_STREQ(h.h[0].own_dir, want);
    CHECK_EQ_INT(h.by_ctl[MJ_CGC_PIDS], -1);
    CHECK_EQ_INT(h.by_ctl[MJ_CGC_FREEZER], -1);
    mj_cg_host_free(&h);
}

/* ------------------------------------------------------------------ create */

FAKE_TEST(v1_limits_land_in_the_right_files)
{
    fake_v1_group(f);
    mj_cgroup_env_t env = env_for(f, V1_MOUNTINFO, V1_CGROUP);
    mj_cgroup_limits_t lim = {.memory_max = 64ull << 20,
                              .memory_request = 32ull << 20,
                              .cpus = 0.5,
                              .cpu_request = 2,
                              .pids_max = 10,
                              .memory_required = true,
                              .cpus_required = true,
                              .pids_required = true};
    mj_cgroup_t *cg = NULL;
    mj_strv_t w = {0};
    mj_error_t *e = NULL;
    CHECK(create_ok(&env, &lim, true, &cg, &w));
    CHECK(cg != NULL);
    for (size_t i = 0; i < w.n; i++)
        fprintf(stderr, "    warning: %s\n", w.v[i]);
    CHECK_EQ_INT(w.n, 0);
    CHECK_STREQ(mj_cgroup_version(cg), "v1");
    const char *m = "sys/fs/cgroup/memory/a/b/moonjail/" ID;
    char p[512];
#define AT(dir, file) (snprintf(p, sizeof(p), "%s/%s", dir, file), get(f, p))
    CHECK_STREQ(AT(m, "memory.limit_in_bytes"), "67108864");
    CHECK_STREQ(AT(m, "memory.memsw.limit_in_bytes"), "67108864");
    CHECK_STREQ(AT(m, "memory.soft_limit_in_bytes"), "33554432");
    CHECK_STREQ(AT(m, "notify_on_release"), "0");
    CHECK_STREQ(get(f, "sys/fs/cgroup/memory/a/b/moonjail/notify_on_release"), "0");
    const char *c = "sys/fs/cgroup/cpu,cpuacct/moonjail/" ID;
    CHECK_STREQ(AT(c, "cpu.cfs_period_us"), "100000");
    CHECK_STREQ(AT(c, "cpu.cfs_quota_us"), "50000");
    CHECK_STREQ(AT(c, "cpu.shares"), "2048");
    CHECK_STREQ(AT("sys/fs/cgroup/pids/user.slice/moonjail/" ID, "pids.max"), "10");
    CHECK_STREQ(AT("sys/fs/cgroup/freezer/moonjail/" ID, "notify_on_release"), "0");
    /* devices is not ours to touch */
    CHECK(!exists(f, "sys/fs/cgroup/devices/moonjail"));
    char want[512];
    snprintf(want, sizeof(want), "%s/%s", f->root, m);
    CHECK_STREQ(mj_cgroup_dir(cg, "memory"), want);
    snprintf(want, sizeof(want), "%s/%s", f->root, c);
    CHECK_STREQ(mj_cgroup_dir(cg, "cpu"), want);
    CHECK_STREQ(mj_cgroup_dir(cg, "cpuacct"), want);

    CHECK(mj_cgroup_can_freeze(cg));
    CHECK_EQ_INT(mj_cgroup_freeze(cg, true, &e), 0);
    /* pause freezes the commands' group only; the supervisor's stays thawed */
    CHECK_STREQ(AT("sys/fs/cgroup/freezer/moonjail/" ID "/work", "freezer.state"), "FROZEN");
    CHECK_STREQ(AT("sys/fs/cgroup/freezer/moonjail/" ID, "freezer.state"), "THAWED");
    CHECK_EQ_INT(mj_cgroup_frozen(cg), 1);
    CHECK_EQ_INT(mj_cgroup_freeze(cg, false, &e), 0);
    CHECK_EQ_INT(mj_cgroup_frozen(cg), 0);

    CHECK_EQ_INT(mj_cgroup_add_pid(cg, getpid(), &e), 0);
    char pid[32];
    snprintf(pid, sizeof(pid), "%d", (int)getpid());
    /* add_pid places the supervisor in <id> of every hierarchy (it moves itself on to sup) */
    CHECK_STREQ(AT(m, "cgroup.procs"), pid);
    CHECK_STREQ(AT(c, "cgroup.procs"), pid);
    CHECK_STREQ(AT("sys/fs/cgroup/pids/user.slice/moonjail/" ID, "cgroup.procs"), pid);
    CHECK_STREQ(AT("sys/fs/cgroup/freezer/moonjail/" ID, "cgroup.procs"), pid);
    /* the supervisor and the commands get <id>/sup and <id>/work/cgroup.procs of each, to join
     * themselves by writing "0" */
    static const char *const leaf_names[] = {MJ_CG_SUP, MJ_CG_WORK};
    for (size_t l = 0; l < 2; l++) {
        int wfds[8];
        size_t nw = 0;
        CHECK_EQ_INT(mj_cgroup_leaf_fds(cg, leaf_names[l], wfds, 8, &nw, &e), 0);
        CHECK_EQ_INT((int)nw, 4);
        for (size_t i = 0; i < nw; i++) {
            CHECK_EQ_INT((int)write(wfds[i], l ? "4242" : "4141", 4), 4);
            close(wfds[i]);
        }
    }
    CHECK_STREQ(AT("sys/fs/cgroup/memory/a/b/moonjail/" ID "/sup", "cgroup.procs"), "4141");
    CHECK_STREQ(AT("sys/fs/cgroup/freezer/moonjail/" ID "/work", "cgroup.procs"), "4242");
#undef AT
    mj_cgroup_free(cg);
    mj_strv_free(&w);
}

FAKE_TEST(v2_limits_and_subtree_control)
{
    fake_v2_group(f, "cpuset cpu io memory pids\n");
    mj_cgroup_env_t env = env_for(f, V2_MOUNTINFO, V2_CGROUP);
    mj_cgroup_limits_t lim = {.memory_max = 64ull << 20,
                              .memory_request = 16ull << 20,
                              .cpus = 0.5,
                              .cpu_request = 1.5,
                              .pids_max = 10,
                              .memory_required = true,
                              .cpus_required = true,
                              .pids_required = true};
    mj_cgroup_t *cg = NULL;
    mj_strv_t w = {0};
    mj_error_t *e = NULL;
    CHECK(create_ok(&env, &lim, true, &cg, &w));
    CHECK_EQ_INT(w.n, 0);
    CHECK_STREQ(mj_cgroup_version(cg), "v2");
    CHECK_STREQ(get(f, V2_OWN_DIR "/cgroup.subtree_control"), "+memory +pids +cpu");
    CHECK_STREQ(get(f, V2_OWN_DIR "/moonjail/cgroup.subtree_control"), "+memory +pids +cpu");
    CHECK_STREQ(get(f, V2_OWN_DIR "/moonjail/" ID "/memory.max"), "67108864");
    CHECK_STREQ(get(f, V2_OWN_DIR "/moonjail/" ID "/memory.swap.max"), "0");
    CHECK_STREQ(get(f, V2_OWN_DIR "/moonjail/" ID "/memory.low"), "16777216");
    CHECK_STREQ(get(f, V2_OWN_DIR "/moonjail/" ID "/cpu.max"), "50000 100000");
    CHECK_STREQ(get(f, V2_OWN_DIR "/moonjail/" ID "/cpu.weight"), "150");
    CHECK_STREQ(get(f, V2_OWN_DIR "/moonjail/" ID "/pids.max"), "10");
    CHECK(mj_cgroup_can_freeze(cg));
    /* The fake never reports "frozen 1": the wait is bounded and ends in TIMEOUT. */
    double t0 = mj_now_monotonic();
    CHECK_EQ_INT(mj_cgroup_freeze(cg, true, &e), -1);
    CHECK(mj_now_monotonic() - t0 < 3.0);
    CHECK(e && mj_error_code(e) == MJ_ERR_TIMEOUT);
    mj_error_free(e);
    e = NULL;
    CHECK_STREQ(get(f, V2_OWN_DIR "/moonjail/" ID "/work/cgroup.freeze"), "1");
    CHECK_STREQ(get(f, V2_OWN_DIR "/moonjail/" ID "/cgroup.freeze"), "");
    put(f, V2_OWN_DIR "/moonjail/" ID "/work/cgroup.events", "populated 1\nfrozen 1\n");
    CHECK_EQ_INT(mj_cgroup_freeze(cg, true, &e), 0);
    CHECK_EQ_INT(mj_cgroup_frozen(cg), 1);
    mj_cgroup_free(cg);
    mj_strv_free(&w);

    /* Controllers already enabled are not written again (that would be EBUSY with processes). */
    put(f, V2_OWN_DIR "/cgroup.subtree_control", "cpu memory pids\n");
    put(f, V2_OWN_DIR "/moonjail/cgroup.subtree_control", "memory\n");
    mj_cgroup_limits_t big = {.cpus = 2.25, .cpu_request = 500, .memory_max = 1 << 20};
    CHECK(create_ok(&env, &big, false, &cg, &w));
    CHECK_STREQ(get(f, V2_OWN_DIR "/cgroup.subtree_control"), "cpu memory pids");
    CHECK_STREQ(get(f, V2_OWN_DIR "/moonjail/cgroup.subtree_control"), "+cpu");
    CHECK_STREQ(get(f, V2_OWN_DIR "/moonjail/" ID "/cpu.max"), "225000 100000");
    CHECK_STREQ(get(f, V2_OWN_DIR "/moonjail/" ID "/cpu.weight"), "10000");
    mj_cgroup_free(cg);
    mj_strv_free(&w);
}

FAKE_TEST(required_limit_without_controller_fails_closed)
{
    fake_v1_group(f);
    /* no memory hierarchy at all */
    const char *mi = "39 31 0:36 / /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids\n";
    const char *cgt = "8:pids:/user.slice\n";
    mj_cgroup_env_t env = env_for(f, mi, cgt);
    mj_cgroup_limits_t lim = {.memory_max = 64ull << 20, .pids_max = 10, .memory_required = true, .pids_required = true};
    mj_cgroup_t *cg = NULL;
    mj_strv_t w = {0};
    mj_error_t *e = NULL;
    CHECK_EQ_INT(mj_cgroup_create(&env, ID, &lim, false, &cg, &w, &e), -1);
    CHECK(cg == NULL);
    CHECK(e != NULL);
    CHECK_EQ_INT(mj_error_code(e), MJ_ERR_UNSUPPORTED);
    const char *msg = e ? mj_error_message(e) : "";
    CHECK(strstr(msg, "memory_max=67108864"));
    CHECK(strstr(msg, "memory controller"));
    CHECK(strstr(msg, "best effort"));
    mj_error_free(e);
    CHECK_STREQ(get(f, "sys/fs/cgroup/pids/user.slice/moonjail/" ID "/pids.max"), "");
    mj_strv_free(&w);
}

FAKE_TEST(best_effort_limit_without_controller_warns)
{
    fake_v1_group(f);
    const char *mi = "39 31 0:36 / /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids\n";
    const char *cgt = "8:pids:/user.slice\n";
    mj_cgroup_env_t env = env_for(f, mi, cgt);
    mj_cgroup_limits_t lim = {.memory_max = 64ull << 20, .pids_max = 10, .pids_required = true};
    mj_cgroup_t *cg = NULL;
    mj_strv_t w = {0};
    mj_error_t *e = NULL;
    CHECK(create_ok(&env, &lim, true, &cg, &w));
    CHECK(cg != NULL);
    CHECK_STREQ(mj_cgroup_version(cg), "v1");
    CHECK(!mj_cgroup_can_freeze(cg));
    CHECK(mj_cgroup_dir(cg, "memory") == NULL);
    CHECK_EQ_INT(w.n, 2);
    CHECK(w.n > 0 && strstr(w.v[0], "memory limit (memory_max=67108864 bytes) not applied"));
    CHECK(w.n > 1 && strstr(w.v[1], "SIGSTOP"));
    CHECK_STREQ(get(f, "sys/fs/cgroup/pids/user.slice/moonjail/" ID "/pids.max"), "10");
    mj_cgroup_free(cg);
    mj_strv_free(&w);

    /* Nothing left to enforce: no group at all, just the warning. */
    mj_cgroup_limits_t only_mem = {.memory_max = 1 << 20};
    CHECK_EQ_INT(mj_cgroup_create(&env, ID, &only_mem, false, &cg, &w, &e), 0);
    CHECK(cg == NULL);
    CHECK_EQ_INT(w.n, 1);
    mj_strv_free(&w);
}

FAKE_TEST(required_limit_with_missing_file_names_the_path)
{
    put(f, "sys/fs/cgroup/memory/a/b/moonjail/" ID "/notify_on_release", ""); /* no limit files */
    put(f, "sys/fs/cgroup/memory/a/b/moonjail/notify_on_release", "");
    const char *mi = "35 31 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n";
    mj_cgroup_env_t env = env_for(f, mi, "4:memory:/a/b\n");
    mj_cgroup_limits_t lim = {.memory_max = 1 << 20, .memory_required = true};
    mj_cgroup_t *cg = NULL;
    mj_error_t *e = NULL;
    CHECK_EQ_INT(mj_cgroup_create(&env, ID, &lim, false, &cg, NULL, &e), -1);
    CHECK(e && mj_error_code(e) == MJ_ERR_UNSUPPORTED);
    CHECK(e && strstr(mj_error_message(e), "/sys/fs/cgroup/memory/a/b/moonjail/" ID "/memory.limit_in_bytes"));
    CHECK(e && strstr(mj_error_message(e), "memory controller (cgroup v1)"));
    mj_error_free(e);
}

FAKE_TEST(io_limits_v2_io_max)
{
    fake_v2_group(f, "cpuset cpu io memory pids\n");
    put(f, V2_OWN_DIR "/moonjail/" ID "/io.max", "");
    mj_cgroup_env_t env = env_for(f, V2_MOUNTINFO, V2_CGROUP);
    mj_cgroup_limits_t lim = {.n_io = 1, .io_required = true};
    lim.io[0].major = 8;
    lim.io[0].minor = 0;
    lim.io[0].read_bps = 1 << 20;
    lim.io[0].write_iops = 100;
    mj_cgroup_t *cg = NULL;
    mj_strv_t w = {0};
    CHECK(create_ok(&env, &lim, false, &cg, &w));
    CHECK_STREQ(get(f, V2_OWN_DIR "/moonjail/" ID "/io.max"), "8:0 rbps=1048576 wbps=max riops=max wiops=100");
    CHECK(strstr(get(f, V2_OWN_DIR "/cgroup.subtree_control"), "+io") != NULL);
    mj_cgroup_free(cg);
    mj_strv_free(&w);
}

FAKE_TEST(io_limit_required_without_controller_fails_closed)
{
    fake_v2_group(f, "cpuset cpu memory pids\n"); /* no io here */
    mj_cgroup_env_t env = env_for(f, V2_MOUNTINFO, V2_CGROUP);
    mj_cgroup_limits_t lim = {.n_io = 1, .io_required = true};
    lim.io[0].major = 8;
    lim.io[0].write_bps = 1 << 20;
    mj_cgroup_t *cg = NULL;
    mj_strv_t w = {0};
    mj_error_t *e = NULL;
    CHECK_EQ_INT(mj_cgroup_create(&env, ID, &lim, false, &cg, &w, &e), -1);
    CHECK(e && strstr(mj_error_message(e), "io limit"));
    mj_error_free(e);
    mj_strv_free(&w);
}

FAKE_TEST(v2_missing_controller_explains_delegation)
{
    fake_v2_group(f, "cpu memory\n");
    mj_cgroup_env_t env = env_for(f, V2_MOUNTINFO, V2_CGROUP);
    mj_cgroup_limits_t lim = {.pids_max = 10, .pids_required = true};
    mj_cgroup_t *cg = NULL;
    mj_error_t *e = NULL;
    CHECK_EQ_INT(mj_cgroup_create(&env, ID, &lim, false, &cg, NULL, &e), -1);
    CHECK(e && mj_error_code(e) == MJ_ERR_UNSUPPORTED);
    const char *msg = e ? mj_error_message(e) : "";
    CHECK(strstr(msg, "process limit (pids_max=10)"));
    CHECK(strstr(msg, "the pids controller"));
    CHECK(strstr(msg, V2_OWN "/cgroup.controllers offers only \"cpu memory\""));
    CHECK(strstr(msg, "Delegate=yes"));
    mj_error_free(e);
}

/* ------------------------------------------------------------------ stats */

FAKE_TEST(v1_stats_from_files)
{
    fake_v1_group(f);
    put(f, "sys/fs/cgroup/memory/a/b/moonjail/" ID "/memory.usage_in_bytes", "1048576\n");
    put(f, "sys/fs/cgroup/memory/a/b/moonjail/" ID "/memory.max_usage_in_bytes", "2097152\n");
    put(f, "sys/fs/cgroup/memory/a/b/moonjail/" ID "/memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n");
    put(f, "sys/fs/cgroup/pids/user.slice/moonjail/" ID "/pids.current", "3\n");
    put(f, "sys/fs/cgroup/pids/user.slice/moonjail/" ID "/pids.events", "max 5\n");
    put(f, "sys/fs/cgroup/cpu,cpuacct/moonjail/" ID "/cpuacct.usage", "1500000000\n");
    mj_cgroup_env_t env = env_for(f, V1_MOUNTINFO, V1_CGROUP);
    mj_cgroup_t *cg = NULL;
    CHECK_EQ_INT(mj_cgroup_open(&env, ID, &cg), 0);
    CHECK_STREQ(mj_cgroup_version(cg), "v1");
    CHECK(mj_cgroup_can_freeze(cg));
    mj_cgroup_stats_t st;
    CHECK_EQ_INT(mj_cgroup_stats(cg, &st), 0);
    CHECK(st.have_memory && st.have_pids && st.have_cpu);
    CHECK_EQ_INT(st.memory_current, 1048576);
    CHECK_EQ_INT(st.memory_peak, 2097152);
    CHECK(st.oom);
    CHECK(st.pids_max_hit);
    CHECK_EQ_INT(st.pids_current, 3);
    CHECK(fabs(st.cpu_time - 1.5) < 1e-9);

    put(f, "sys/fs/cgroup/memory/a/b/moonjail/" ID "/memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n");
    put(f, "sys/fs/cgroup/pids/user.slice/moonjail/" ID "/pids.events", "max 0\n");
    /* cpuacct.stat (USER_HZ ticks) when cpuacct.usage is missing */
    char p[512];
    snprintf(p, sizeof(p), "%s/sys/fs/cgroup/cpu,cpuacct/moonjail/" ID "/cpuacct.usage", f->root);
    unlink(p);
    char ticks[64];
    long hz = sysconf(_SC_CLK_TCK);
    snprintf(ticks, sizeof(ticks), "user %ld\nsystem %ld\n", hz, hz / 2);
    put(f, "sys/fs/cgroup/cpu,cpuacct/moonjail/" ID "/cpuacct.stat", ticks);
    CHECK_EQ_INT(mj_cgroup_stats(cg, &st), 0);
    CHECK(!st.oom);
    CHECK(!st.pids_max_hit);
    CHECK(st.have_cpu && fabs(st.cpu_time - (double)(hz + hz / 2) / (double)hz) < 1e-9);
    mj_cgroup_free(cg);

    CHECK_EQ_INT(mj_cgroup_open(&env, "abcdef", &cg), -1);
    CHECK_EQ_INT(errno, ENOENT);
}

FAKE_TEST(v2_stats_from_files)
{
    fake_v2_group(f, "cpu memory pids\n");
    const char *d = V2_OWN_DIR "/moonjail/" ID;
    char p[512];
#define PUT(file, text) (snprintf(p, sizeof(p), "%s/%s", d, file), put(f, p, text))
    PUT("memory.current", "4096\n");
    PUT("memory.events", "low 0\nhigh 0\nmax 3\noom 1\noom_kill 0\noom_group_kill 0\n");
    PUT("cpu.stat", "usage_usec 2500000\nuser_usec 2000000\nsystem_usec 500000\n");
    PUT("pids.current", "2\n");
    PUT("pids.events", "max 0\n");
    mj_cgroup_env_t env = env_for(f, V2_MOUNTINFO, V2_CGROUP);
    mj_cgroup_t *cg = NULL;
    CHECK_EQ_INT(mj_cgroup_open(&env, ID, &cg), 0);
    CHECK_STREQ(mj_cgroup_version(cg), "v2");
    mj_cgroup_stats_t st;
    CHECK_EQ_INT(mj_cgroup_stats(cg, &st), 0);
    CHECK(st.have_memory && st.have_pids && st.have_cpu);
    CHECK_EQ_INT(st.memory_current, 4096);
    CHECK_EQ_INT(st.memory_peak, 4096);
    CHECK(!st.oom);
    CHECK(!st.pids_max_hit);
    CHECK_EQ_INT(st.pids_current, 2);
    CHECK(fabs(st.cpu_time - 2.5) < 1e-9);
    /* no memory.peak: the highest memory.current seen */
    PUT("memory.current", "1024\n");
    PUT("memory.events", "oom 2\noom_kill 1\n");
    PUT("pids.events", "max 7\n");
    CHECK_EQ_INT(mj_cgroup_stats(cg, &st), 0);
    CHECK_EQ_INT(st.memory_current, 1024);
    CHECK_EQ_INT(st.memory_peak, 4096);
    CHECK(st.oom);
    CHECK(st.pids_max_hit);
    PUT("memory.peak", "9999\n");
    CHECK_EQ_INT(mj_cgroup_stats(cg, &st), 0);
    CHECK_EQ_INT(st.memory_peak, 9999);
#undef PUT
    mj_cgroup_free(cg);
}

/* ------------------------------------------------------------------ the real kernel */

static mj_cgroup_t *real_group(const char *why_tag, const mj_cgroup_limits_t *lim, bool freezer, char *id,
                               const char **skip)
{
    *skip = NULL;
    if (geteuid() != 0) {
        *skip = "needs root: cgroup v1 hierarchies are root-only";
        return NULL;
    }
    mj_cg_host_t h;
    if (mj_cg_host_detect(NULL, &h, NULL) < 0) {
        *skip = "cannot read /proc/self/mountinfo or /proc/self/cgroup";
        return NULL;
    }
    int mem = h.by_ctl[MJ_CGC_MEMORY];
    bool v1_mem = mem >= 0 && h.h[mem].version == 1;
    mj_cg_host_free(&h);
    if (!v1_mem) {
        *skip = "this host has no cgroup v1 memory controller";
        return NULL;
    }
    snprintf(id, 32, "%x%lx", (unsigned)getpid(), (long)time(NULL) & 0xffffff);
    mj_cgroup_t *cg = NULL;
    mj_strv_t w = {0};
    mj_error_t *e = NULL;
    if (mj_cgroup_create(NULL, id, lim, freezer, &cg, &w, &e) < 0) {
        fprintf(stderr, "    %s: create failed: %s\n", why_tag, mj_error_message(e));
        mj_error_free(e);
    }
    for (size_t i = 0; i < w.n; i++)
        fprintf(stderr, "    %s: warning: %s\n", why_tag, w.v[i]);
    mj_strv_free(&w);
    return cg;
}

/* A child that waits for a byte on fd, then runs body, then sleeps. */
static pid_t spawn_waiting(int *go_fd, void (*body)(void))
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        close(p[1]);
        char c;
        if (read(p[0], &c, 1) != 1)
            _exit(1);
        if (body)
            body();
        for (;;)
            pause();
    }
    close(p[0]);
    *go_fd = p[1];
    return pid;
}

static void touch_16m(void)
{
    size_t n = 16u << 20;
    char *m = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m != MAP_FAILED)
        memset(m, 1, n);
}

static void touch_256m(void)
{
    size_t n = 256u << 20;
    char *m = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
        _exit(3);
    for (size_t i = 0; i < n; i += 4096)
        m[i] = 1;
    _exit(4); /* should have been OOM-killed */
}

static void fork_twenty(void)
{
    for (int i = 0; i < 20; i++)
        if (fork() == 0) {
            for (;;)
                pause();
        }
}

static bool dir_gone(const char *dir)
{
    struct stat st;
    return dir && stat(dir, &st) < 0 && errno == ENOENT;
}

MJ_TEST(real_v1_group_limits_stats_freeze_destroy)
{
    char id[32];
    const char *skip;
    mj_cgroup_limits_t lim = {.memory_max = 64ull << 20, .pids_max = 10, .memory_required = true, .pids_required = true};
    mj_cgroup_t *cg = real_group("real", &lim, true, id, &skip);
    if (skip)
        MJ_SKIP(skip);
    CHECK(cg != NULL);
    CHECK_STREQ(mj_cgroup_version(cg), "v1");
    const char *mdir = mj_cgroup_dir(cg, "memory");
    char mdir_copy[512], pdir_copy[512];
    snprintf(mdir_copy, sizeof(mdir_copy), "%s", mdir ? mdir : "");
    snprintf(pdir_copy, sizeof(pdir_copy), "%s", mj_cgroup_dir(cg, "pids") ? mj_cgroup_dir(cg, "pids") : "");
    uint64_t v = 0;
    CHECK_EQ_INT(mj_cg_read_u64(mdir, "memory.limit_in_bytes", &v), 0);
    CHECK_EQ_INT(v, 64ull << 20);
    CHECK_EQ_INT(mj_cg_read_u64(mj_cgroup_dir(cg, "pids"), "pids.max", &v), 0);
    CHECK_EQ_INT(v, 10);
    CHECK_EQ_INT(mj_cg_read_u64(mdir, "notify_on_release", &v), 0);
    CHECK_EQ_INT(v, 0);

    int go = -1;
    pid_t child = spawn_waiting(&go, touch_16m);
    CHECK(child > 0);
    mj_error_t *e = NULL;
    if (mj_cgroup_add_pid(cg, child, &e) < 0) {
        kill(child, SIGKILL);
        waitpid(child, NULL, 0);
        MJT_FAIL("add_pid: %s", mj_error_message(e));
    }
    CHECK_EQ_INT(write(go, "x", 1), 1);
    close(go);
    usleep(300 * 1000);
    char path[64], text[2048] = "";
    snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)child);
    FILE *fp = fopen(path, "r");
    if (fp) {
        size_t n = fread(text, 1, sizeof(text) - 1, fp);
        text[n] = '\0';
        fclose(fp);
    }
    char want[64];
    snprintf(want, sizeof(want), "/moonjail/%s\n", id);
    CHECK(strstr(text, want));

    mj_cgroup_stats_t st;
    CHECK_EQ_INT(mj_cgroup_stats(cg, &st), 0);
    CHECK(st.have_memory && st.have_pids);
    CHECK(st.memory_current >= (8u << 20));
    CHECK(st.memory_peak >= st.memory_current);
    CHECK_EQ_INT(st.pids_current, 1);
    CHECK(!st.oom && !st.pids_max_hit);
    if (st.have_cpu)
        CHECK(st.cpu_time > 0);

    if (mj_cgroup_can_freeze(cg)) {
        CHECK_EQ_INT(mj_cgroup_freeze(cg, true, &e), 0);
        CHECK_EQ_INT(mj_cgroup_frozen(cg), 1);
        CHECK_EQ_INT(mj_cgroup_freeze(cg, false, &e), 0);
        CHECK_EQ_INT(mj_cgroup_frozen(cg), 0);
        /* destroy must also work on a paused group */
        CHECK_EQ_INT(mj_cgroup_freeze(cg, true, &e), 0);
    }

    /* Another process would reattach by id. */
    mj_cgroup_t *again = NULL;
    CHECK_EQ_INT(mj_cgroup_open(NULL, id, &again), 0);
    CHECK(mj_cgroup_stats(again, &st) == 0 && st.pids_current == 1);
    mj_cgroup_free(again);

    double t0 = mj_now_monotonic();
    mj_cgroup_destroy(cg);
    double took = mj_now_monotonic() - t0;
    int status = 0;
    CHECK_EQ_INT(waitpid(child, &status, 0), child);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    CHECK(dir_gone(mdir_copy));
    CHECK(dir_gone(pdir_copy));
    fprintf(stderr, "    destroy took %.1f ms\n", took * 1000);
    CHECK_EQ_INT(mj_cgroup_open(NULL, id, &again), -1);
}

MJ_TEST(real_v1_oom_and_pids_are_reported)
{
    char id[32];
    const char *skip;
    mj_cgroup_limits_t lim = {.memory_max = 32ull << 20, .pids_max = 5, .memory_required = true, .pids_required = true};
    mj_cgroup_t *cg = real_group("real-oom", &lim, false, id, &skip);
    if (skip)
        MJ_SKIP(skip);
    CHECK(cg != NULL);
    int go = -1;
    pid_t child = spawn_waiting(&go, touch_256m);
    mj_error_t *e = NULL;
    if (mj_cgroup_add_pid(cg, child, &e) < 0) {
        kill(child, SIGKILL);
        waitpid(child, NULL, 0);
        MJT_FAIL("add_pid: %s", mj_error_message(e));
    }
    CHECK_EQ_INT(write(go, "x", 1), 1);
    close(go);
    int status = 0;
    CHECK_EQ_INT(waitpid(child, &status, 0), child);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    mj_cgroup_stats_t st;
    CHECK_EQ_INT(mj_cgroup_stats(cg, &st), 0);
    CHECK(st.oom);
    CHECK(st.memory_peak >= (30u << 20));

    pid_t bomb = spawn_waiting(&go, fork_twenty);
    CHECK_EQ_INT(mj_cgroup_add_pid(cg, bomb, &e), 0);
    CHECK_EQ_INT(write(go, "x", 1), 1);
    close(go);
    usleep(300 * 1000);
    CHECK_EQ_INT(mj_cgroup_stats(cg, &st), 0);
    CHECK(st.pids_max_hit);
    CHECK_EQ_INT(st.pids_current, 5);
    char pdir[512];
    snprintf(pdir, sizeof(pdir), "%s", mj_cgroup_dir(cg, "pids"));
    double t0 = mj_now_monotonic();
    mj_cgroup_destroy(cg);
    fprintf(stderr, "    destroy of 5 processes took %.1f ms\n", (mj_now_monotonic() - t0) * 1000);
    CHECK_EQ_INT(waitpid(bomb, &status, 0), bomb);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    CHECK(dir_gone(pdir));
}

MJ_TEST(real_host_describe)
{
    mj_strv_t lines = {0};
    mj_cgroup_describe(NULL, &lines);
    CHECK(lines.n >= 1);
    for (size_t i = 0; i < lines.n; i++)
        fprintf(stderr, "    %s\n", lines.v[i]);
    CHECK(strncmp(lines.v[0], "cgroup: ", 8) == 0);
    mj_strv_free(&lines);
}

/* defaults.c — mj_config_new_default: the shipped default policy (policies/default.lua) as a C
 * config, so that a C host gets with one call the sandbox `moonjail run` gives with no options:
 * the same host paths, generated /etc, copy-on-write root and disk cap, /tmp, masked and
 * read-only kernel paths, Landlock (best effort), seccomp profile, rlimits and environment.
 * spec/integration/embed_default_spec.lua holds the two to the same plan.  Never: reads a policy
 * file (a C host has no Lua), or sets anything the default policy does not. */
#include <moonjail/moonjail.h>
#include <stdlib.h>

#include "util.h"

static const char *const host_paths[] = {
    "/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32",
    "/etc/alternatives", "/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d",
    "/etc/nsswitch.conf", "/etc/localtime", "/etc/ssl", "/etc/ca-certificates", "/etc/os-release",
    "/etc/debian_version", "/etc/profile", "/etc/shells", "/etc/mime.types", "/etc/protocols",
    "/etc/services", "/etc/terminfo", "/etc/bash.bashrc", "/etc/inputrc",
};

static const char *const masked[] = {
    "/proc/kcore", "/proc/keys", "/proc/timer_list", "/proc/sched_debug", "/proc/sysrq-trigger",
    "/proc/latency_stats", "/proc/acpi", "/proc/scsi", "/proc/kpageflags", "/proc/kpagecount",
    "/proc/kpagecgroup", "/etc/ssl/private",
};

static const char *const readonly[] = {"/proc/sys", "/proc/bus", "/proc/fs", "/proc/irq"};

static const char *const passed_env[] = {"TERM", "LANG"};

mj_config_t *mj_config_new_default(void)
{
    mj_config_t *cfg = mj_config_new();
    for (size_t i = 0; i < MJ_ARRAY_LEN(host_paths); i++)
        (void)mj_config_add_host_path(cfg, host_paths[i], false, NULL);
    mj_config_set_readonly_root(cfg, false);
    (void)mj_config_set_disk_limit(cfg, (uint64_t)1 << 30, false, NULL);
    (void)mj_config_add_mount(cfg, MJ_MOUNT_TMPFS, NULL, "/tmp", 0, 0, NULL);
    for (size_t i = 0; i < MJ_ARRAY_LEN(masked); i++)
        (void)mj_config_add_masked(cfg, masked[i], NULL);
    for (size_t i = 0; i < MJ_ARRAY_LEN(readonly); i++)
        (void)mj_config_add_readonly(cfg, readonly[i], NULL);
    (void)mj_config_set_user(cfg, 0, 0, NULL);
    (void)mj_config_set_hostname(cfg, "moonjail", NULL);
    (void)mj_config_set_workdir(cfg, "/", NULL);
    (void)mj_config_set_network(cfg, MJ_NET_NONE, NULL);
    (void)mj_config_set_landlock(cfg, MJ_LANDLOCK_BEST_EFFORT, NULL);
    (void)mj_config_set_seccomp(cfg, "default", NULL);
    (void)mj_config_set_rlimit(cfg, MJ_RLIMIT_NOFILE, 1024, NULL);
    (void)mj_config_set_rlimit(cfg, MJ_RLIMIT_NPROC, 4096, NULL);
    for (size_t i = 0; i < MJ_ARRAY_LEN(passed_env); i++) {
        const char *v = getenv(passed_env[i]);
        if (v)
            (void)mj_config_set_env(cfg, passed_env[i], v, NULL);
    }
    (void)mj_config_set_env(cfg, "PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", NULL);
    (void)mj_config_set_env(cfg, "HOME", "/root", NULL);
    return cfg;
}

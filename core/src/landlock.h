/* landlock.h — Landlock rulesets for the commands (landlock.c): writes only beneath the granted
 * paths, and TCP bind/connect only to the granted ports where the ABI has them. */
#ifndef MJ_LANDLOCK_H
#define MJ_LANDLOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct mj_plan mj_plan_t;

#define MJ_LANDLOCK_MAX_PORTS 64
/* Landlock TCP rules: a restricted direction allows only its listed ports. */
typedef struct {
    bool bind_restricted, connect_restricted;
    uint16_t bind[MJ_LANDLOCK_MAX_PORTS], connect[MJ_LANDLOCK_MAX_PORTS];
    size_t n_bind, n_connect;
} mj_landlock_tcp_t;

/* The kernel's Landlock ABI version, 0 without Landlock. */
int mj_landlock_abi(void);
/* In the sandbox's pid 1 after pivot_root: the plan's rulesets (plan->landlock_fd, and for a
 * persistent sandbox the read-only variant landlock_ro_fd); -1 with errno when Landlock is
 * required and they cannot be built (best effort: Landlock is then off). */
int mj_landlock_build(mj_plan_t *plan);
/* Adds a Landlock layer that refuses every TCP bind and connect (ABI 4+); -1 with errno. */
int mj_landlock_deny_tcp(void);
/* Restricts the calling thread to the plan's TCP rules (a no-op without any). */
int mj_landlock_tcp(const mj_plan_t *plan);
/* A command's restrict_paths (NULL-terminated; after the sandbox's own layer, so it only
 * narrows): it may then reach only beneath these paths — read, execute, and write where the
 * sandbox lets it write — and, to run at all, read and execute the system directories (/usr,
 * /bin, /sbin, /lib*, /etc), read /proc and use /dev's nodes.  Missing paths grant nothing.  -1
 * with errno (ENOTSUP without Landlock).  Raw system calls: runs in the exec child. */
int mj_landlock_restrict_paths(char *const *paths);
/* Restricts the calling thread to ruleset (-1: nothing to do); -1 with errno. */
int mj_landlock_restrict(int ruleset);

#endif

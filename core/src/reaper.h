/* reaper.h — pid 1 of a persistent sandbox's workload namespace (reaper.c). */
#ifndef MJ_REAPER_H
#define MJ_REAPER_H

/* The first process of the workload's pid namespace, forked by the sandbox's first process (the
 * supervisor to be) right after unshare(CLONE_NEWPID), before the root is built: makes a procfs
 * of its namespace and sends it as a detached mount fd over sock (one int32_t, 0 or an errno,
 * with the fd attached when 0) for rootfs.c to attach at /proc, closes every fd and then only
 * reaps the namespace's orphans until the supervisor dies (parent-death signal).  Never
 * returns. */
__attribute__((noreturn)) void mj_reaper_main(int sock);

#endif

/* proc.h — /proc of a given process, from the outside: a write checked to land on procfs, the
 * start time that tells a pid from its reuse, and a walk over the pids of a procfs. */
#ifndef MJ_PROC_H
#define MJ_PROC_H

#include <moonjail/moonjail.h>
#include <sys/types.h>

/* Writes data to /proc/<pid>/<file> through an fd checked to be on procfs (CVE-2025-52881). */
int mj_proc_write(pid_t pid, const char *file, const char *data, mj_error_t **err);
/* Field 22 of /proc/<pid>/stat (start time in clock ticks), 0 when unknown. */
unsigned long long mj_proc_starttime(pid_t pid);
/* Calls fn for every pid (all-digit name > 0) of the procfs directory procfd, or of this pid
 * namespace's /proc when procfd is -1; fn's nonzero return stops the walk.  No allocation (the
 * supervisor and the exec shims use it): 0, fn's return, or -1 when the directory cannot be read. */
int mj_proc_each_pid(int procfd, int (*fn)(int procfd, const char *name, pid_t pid, void *ctx), void *ctx);

#endif

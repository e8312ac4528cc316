/* rootfs.h — the sandbox's root file system, assembled in the cloned child (rootfs.c). */
#ifndef MJ_ROOTFS_H
#define MJ_ROOTFS_H

#include "plan.h"

/* Assembles the root in the child and pivots into it.  -1 with *stage, errno, *op_index. */
int mj_rootfs_setup(mj_plan_t *plan, mj_stage_t *stage, int *op_index);
/* A fresh superblock of fstype configured by the NULL-terminated key/value list (a NULL value is
 * a flag), as a detached mount fd; -1 with errno. */
int mj_make_fs(const char *fstype, const char *const *kv, unsigned attrs);

#endif

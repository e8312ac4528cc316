/* caps.h — capabilities of the command (caps.c). */
#ifndef MJ_CAPS_H
#define MJ_CAPS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* The highest capability this kernel knows (/proc/sys/kernel/cap_last_cap). */
int mj_caps_last_cap(void);
/* Empties the calling thread's ambient, inheritable, permitted and effective sets (capset acts on
 * the calling thread only). */
int mj_caps_clear(void);
/* In the command's child: drop bounding/ambient/inheritable except keep, then switch ids. */
int mj_caps_drop_and_setid(uint64_t keep, int last_cap, uid_t uid, gid_t gid, bool can_setgroups);

#endif

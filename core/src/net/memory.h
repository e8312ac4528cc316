/* memory.h — what the DNS stub approved: each address with the names it was resolved for, until
 * when, and how many connections use it (an address in use is never forgotten: its listeners
 * and route stay).  Bounded: MJ_NET_MEM_MAX addresses, MJ_NET_MEM_NAMES names each.
 * Owns: that table.  Never: routes, sockets or policy (gate.c acts on what is here). */
#ifndef MJ_NET_MEMORY_H
#define MJ_NET_MEMORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "rules.h"

#define MJ_NET_MEM_MAX 4096
#define MJ_NET_MEM_NAMES 16

typedef struct {
    mj_net_addr_t addr;
    char *names[MJ_NET_MEM_NAMES];
    size_t n_names;
    double expires;      /* monotonic seconds; never shrinks */
    unsigned refs;       /* open connections */
    bool permanent;      /* dns-host entries */
    void *owner;         /* gate.c's per-address state (listeners, route) */
} mj_net_mem_entry_t;

typedef struct {
    mj_net_mem_entry_t *e[MJ_NET_MEM_MAX];
    size_t n;
} mj_net_mem_t;

mj_net_mem_entry_t *mj_net_mem_find(mj_net_mem_t *m, const mj_net_addr_t *addr);
/* Records that addr answers name until now + ttl (extending, never shortening).  *created tells
 * whether the address is new.  NULL when the table is full (nothing expired to reuse). */
mj_net_mem_entry_t *mj_net_mem_add(mj_net_mem_t *m, const mj_net_addr_t *addr, const char *name, double expires,
                                   bool *created);
bool mj_net_mem_has_name(const mj_net_mem_entry_t *e, const char *name);
/* Removes entries that expired before now and have no connection; each one goes to
 * drop(owner, entry) first (which must release what owner holds).  Returns how many. */
size_t mj_net_mem_sweep(mj_net_mem_t *m, double now, void (*drop)(void *ctx, mj_net_mem_entry_t *e), void *ctx);
void mj_net_mem_free(mj_net_mem_t *m);

#endif

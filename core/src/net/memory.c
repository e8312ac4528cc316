/* memory.c — the stub's memory of approved addresses and their names.
 * Owns: the bounded table and its expiry rule (never shortened, never while in use).
 * Never: routes or sockets. */
#define _GNU_SOURCE
#include "memory.h"

#include <stdlib.h>
#include <string.h>

#include "../util.h"

mj_net_mem_entry_t *mj_net_mem_find(mj_net_mem_t *m, const mj_net_addr_t *addr)
{
    for (size_t i = 0; i < m->n; i++)
        if (mj_net_addr_equal(&m->e[i]->addr, addr))
            return m->e[i];
    return NULL;
}

bool mj_net_mem_has_name(const mj_net_mem_entry_t *e, const char *name)
{
    for (size_t i = 0; i < e->n_names; i++)
        if (strcmp(e->names[i], name) == 0)
            return true;
    return false;
}

mj_net_mem_entry_t *mj_net_mem_add(mj_net_mem_t *m, const mj_net_addr_t *addr, const char *name, double expires,
                                   bool *created)
{
    *created = false;
    mj_net_mem_entry_t *e = mj_net_mem_find(m, addr);
    if (!e) {
        if (m->n == MJ_NET_MEM_MAX)
            return NULL;
        e = mj_xcalloc(1, sizeof(*e));
        e->addr = *addr;
        m->e[m->n++] = e;
        *created = true;
    }
    if (expires > e->expires)
        e->expires = expires;
    if (!mj_net_mem_has_name(e, name)) {
        if (e->n_names == MJ_NET_MEM_NAMES) {
            /* A shared address (a CDN) answering many names: forget the oldest name, keep the new. */
            free(e->names[0]);
            memmove(e->names, e->names + 1, (MJ_NET_MEM_NAMES - 1) * sizeof(char *));
            e->n_names--;
        }
        e->names[e->n_names++] = mj_xstrdup(name);
    }
    return e;
}

static void entry_free(mj_net_mem_entry_t *e)
{
    for (size_t i = 0; i < e->n_names; i++)
        free(e->names[i]);
    free(e);
}

size_t mj_net_mem_sweep(mj_net_mem_t *m, double now, void (*drop)(void *ctx, mj_net_mem_entry_t *e), void *ctx)
{
    size_t removed = 0;
    for (size_t i = 0; i < m->n;) {
        mj_net_mem_entry_t *e = m->e[i];
        if (e->permanent || e->refs > 0 || e->expires >= now) {
            i++;
            continue;
        }
        if (drop)
            drop(ctx, e);
        entry_free(e);
        m->e[i] = m->e[--m->n];
        removed++;
    }
    return removed;
}

void mj_net_mem_free(mj_net_mem_t *m)
{
    for (size_t i = 0; i < m->n; i++)
        entry_free(m->e[i]);
    m->n = 0;
}

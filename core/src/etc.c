/* etc.c — what a sandbox's generated /etc holds, decided on the host at plan time: passwd and
 * group with only root, nobody and the sandbox's user (the host's other users stay unseen),
 * hosts (localhost, the sandbox's own name, the lines a host adds: the networking code's
 * entries), hostname and resolv.conf (the host's, the caller's, or moonjail-net's stub once it
 * is ready: netsetup.c writes that one).  Text only: plan.c puts it in the container layer's base
 * and layer.c writes it.  Never: copies a host account other than the sandbox user's own name. */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>

#include "etc.h"
#include "util.h"

static const char *const names[MJ_ETC__COUNT] = {
    [MJ_ETC_PASSWD] = "passwd", [MJ_ETC_GROUP] = "group", [MJ_ETC_HOSTS] = "hosts",
    [MJ_ETC_HOSTNAME] = "hostname", [MJ_ETC_RESOLV] = "resolv.conf",
};

static void add(mj_buf_t *b, const char *s)
{
    mj_buf_append(b, s, strlen(s));
}

const char *mj_etc_name(mj_etc_file_t f)
{
    return names[f];
}

/* The whole text of a small host file, or NULL. */
static char *host_text(const char *path)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return NULL;
    mj_buf_t b = {0};
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0 && b.len < (1u << 20))
        mj_buf_append(&b, chunk, n);
    fclose(f);
    mj_buf_append(&b, "", 1);
    return b.data;
}

/* The host's name for id in a passwd- or group-style file (field 3), when it is a plain name. */
static char *host_name(const char *path, unsigned long id)
{
    cleanup_free char *text = host_text(path);
    for (char *save = NULL, *ln = text ? strtok_r(text, "\n", &save) : NULL; ln; ln = strtok_r(NULL, "\n", &save)) {
        char *c1 = strchr(ln, ':');
        char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        if (!c2)
            continue;
        char *end;
        unsigned long v = strtoul(c2 + 1, &end, 10);
        if (end == c2 + 1 || *end != ':' || v != id || c1 == ln || (size_t)(c1 - ln) > 32)
            continue;
        *c1 = '\0';
        if (strspn(ln, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") == strlen(ln))
            return mj_xstrdup(ln);
    }
    return NULL;
}

char *mj_etc_text(mj_etc_file_t f, const mj_etc_params_t *p)
{
    mj_buf_t b = {0};
    switch (f) {
    case MJ_ETC_PASSWD: {
        add(&b, "root:x:0:0:root:/root:/bin/sh\n");
        add(&b, "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n");
        if (p->uid != 0 && p->uid != 65534) {
            cleanup_free char *name = host_name("/etc/passwd", p->uid);
            cleanup_free char *line = mj_xasprintf("%s:x:%u:%u:%s:/tmp:/bin/sh\n", name ? name : "sandbox",
                                                   (unsigned)p->uid, (unsigned)p->gid, name ? name : "sandbox");
            add(&b, line);
        }
        break;
    }
    case MJ_ETC_GROUP: {
        add(&b, "root:x:0:\nnogroup:x:65534:\n");
        if (p->gid != 0 && p->gid != 65534) {
            cleanup_free char *name = host_name("/etc/group", p->gid);
            cleanup_free char *line = mj_xasprintf("%s:x:%u:\n", name ? name : "sandbox", (unsigned)p->gid);
            add(&b, line);
        }
        break;
    }
    case MJ_ETC_HOSTS: {
        cleanup_free char *host = p->host_network ? host_text("/etc/hosts") : NULL;
        if (host) {
            add(&b, host);
            if (b.len && b.data[b.len - 1] != '\n')
                add(&b, "\n");
        } else {
            add(&b, "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n");
        }
        cleanup_free char *own = mj_xasprintf("127.0.1.1\t%s\n", p->hostname);
        add(&b, own);
        for (size_t i = 0; p->hosts && i < p->hosts->n; i++) {
            add(&b, p->hosts->v[i]);
            add(&b, "\n");
        }
        break;
    }
    case MJ_ETC_HOSTNAME: {
        cleanup_free char *line = mj_xasprintf("%s\n", p->hostname);
        add(&b, line);
        break;
    }
    case MJ_ETC_RESOLV: {
        cleanup_free char *host = !p->resolv_conf && p->host_network ? host_text("/etc/resolv.conf") : NULL;
        if (p->resolv_conf) {
            add(&b, p->resolv_conf);
        } else if (p->nameserver) {
            add(&b, "# written by moonjail: the sandbox's DNS goes through moonjail-net\nnameserver ");
            add(&b, p->nameserver);
            add(&b, "\n");
            if (p->search && p->search->n) {
                add(&b, "search");
                for (size_t i = 0; i < p->search->n; i++) {
                    add(&b, " ");
                    add(&b, p->search->v[i]);
                }
                add(&b, "\n");
            }
        } else if (host) {
            add(&b, host);
        } else {
            add(&b, "# moonjail: this sandbox has no network (network = \"none\")\n");
        }
        break;
    }
    case MJ_ETC__COUNT:
        break;
    }
    mj_buf_append(&b, "", 1);
    return b.data;
}

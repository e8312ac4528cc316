/* etc.h — the contents of a sandbox's generated /etc (etc.c). */
#ifndef MJ_ETC_H
#define MJ_ETC_H

#include <stdbool.h>
#include <sys/types.h>

#include "util.h"

typedef enum { MJ_ETC_PASSWD = 0, MJ_ETC_GROUP, MJ_ETC_HOSTS, MJ_ETC_HOSTNAME, MJ_ETC_RESOLV, MJ_ETC__COUNT } mj_etc_file_t;

typedef struct {
    uid_t uid;               /* the sandbox's user, inside */
    gid_t gid;
    const char *hostname;
    bool host_network;       /* hosts and resolv.conf start from the host's */
    const mj_strv_t *hosts;  /* extra lines of hosts */
    const char *resolv_conf; /* NULL: from the network mode */
    const char *nameserver;  /* outbound/filtered: moonjail-net's DNS, once it is ready (netsetup.c) */
    const mj_strv_t *search; /* with nameserver: the policy's search domains */
} mj_etc_params_t;

/* The name of a generated file under /etc ("passwd", …). */
const char *mj_etc_name(mj_etc_file_t f);
/* The text of a generated file (malloc'ed): passwd and group hold root, nobody and the sandbox's
 * user (named as on the host when the host has that id, else "sandbox"); resolv.conf is the
 * caller's text, else moonjail-net's nameserver and search domains, else the host's (network
 * "host"), else a comment. */
char *mj_etc_text(mj_etc_file_t f, const mj_etc_params_t *p);

#endif

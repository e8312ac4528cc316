/* privs.h — how moonjail-net and its agent give up what they do not need before they read one
 * byte from a sandbox: an unprivileged uid/gid when started by root, no_new_privs, not dumpable,
 * and a seccomp allow-list each (no open, no exec, no namespace calls; sockets of AF_INET and
 * AF_INET6 only).
 * Owns: the order of those steps and both filters.  Never: deciding the ids (the host gives them). */
#ifndef MJ_NET_PRIVS_H
#define MJ_NET_PRIVS_H

#include <moonjail/moonjail.h>
#include <sys/types.h>

/* When running as root: setgroups(0), setresgid(gid), setresuid(uid), checked.  Always:
 * PR_SET_NO_NEW_PRIVS and PR_SET_DUMPABLE 0. */
int mj_net_privs_drop(uid_t uid, gid_t gid, mj_error_t **err);
/* moonjail-net's filter, loaded once its set-up (files, namespaces, children) is done. */
int mj_net_privs_helper_filter(mj_error_t **err);
/* The agent's filter: sockets, bind/listen, netlink and its socketpair.  0 or -1 with errno. */
int mj_net_privs_agent_filter(void);

#endif

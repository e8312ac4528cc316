/* oci/bundle.h — a bundle's paths made reachable for a container's ids (oci/bundle.c). */
#ifndef MJ_OCI_BUNDLE_H
#define MJ_OCI_BUNDLE_H

#include <moonjail/moonjail.h>
#include <stdbool.h>

/* Moves the calling process into a mount namespace of its own (every mount private), so the
 * binds below never show in the host's; sandboxes created afterwards copy it. */
int mj_oci_private_mounts(mj_error_t **err);
/* Binds src (recursively) onto dst, an existing directory or file of the same kind. */
int mj_oci_bind(const char *src, const char *dst, mj_error_t **err);

/* Detaches what this process's namespace has bound at path, if anything (before the mount point
 * is removed by the process that bound it). */
void mj_oci_unbind(const char *path);
/* Creates the mount point rel (a directory, or an empty file when !dir) beneath root as the
 * caller when missing, never following a symlink: a component that is a symlink or a file is
 * left alone (the sandbox decides about mounting there). */
int mj_oci_mountpoint(const char *root, const char *rel, bool dir, mj_error_t **err);

#endif

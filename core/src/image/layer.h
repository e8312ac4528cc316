/* layer.h — one OCI image layer (a tar, plain, gzip or zstd) unpacked into a directory that
 * overlayfs takes as a lower layer (layer.c): OCI whiteouts become what overlayfs reads, owners
 * are kept (root) or left to the caller (rootless), and every entry is checked the way
 * SECURITY.md asks of untrusted layers.  The store's side (which directory, once per diff-id,
 * locks) is layerstore.h. */
#ifndef MJ_IMAGE_LAYER_H
#define MJ_IMAGE_LAYER_H

#include <stdbool.h>
#include <stdint.h>

#include <moonjail/moonjail.h>

#include "image/hash.h"

typedef enum { MJ_LAYER_PLAIN, MJ_LAYER_GZIP, MJ_LAYER_ZSTD } mj_layer_compression_t;

/* Budgets and what the unpacker may do.  Zero budgets take the defaults. */
typedef struct {
    uint64_t max_bytes;   /* of the uncompressed tar, and of the sizes its files declare (sparse
                           * files count whole), each; default 16 GiB */
    uint64_t max_entries; /* default 1,000,000 */
    unsigned max_depth;   /* path components of an entry; default 128 */
    unsigned max_ratio;   /* past the first 64 MiB the tar may be at most this many times the
                           * compressed blob (decompression bombs); default 100, UINT32_MAX: off */
    bool keep_owners;     /* lchown to the tar's ids and keep setuid/setgid bits (root); else
                           * every file is the caller's and setuid/setgid bits are dropped */
    bool trusted_xattrs;  /* also mark opaque directories with trusted.overlay.opaque (root:
                           * the overlay host root mounts); user.overlay.opaque is always set
                           * (the userxattr overlay a user namespace mounts) */
    bool allow_devices;   /* create character and block devices (with keep_owners only); else
                           * they are skipped and counted */
} mj_layer_opts_t;

typedef struct {
    char diff_id[MJ_DIGEST_MAX]; /* the digest of the uncompressed tar */
    uint64_t compressed;         /* bytes of the blob */
    uint64_t uncompressed;       /* bytes of the tar */
    uint64_t entries, files, dirs, symlinks, hardlinks, whiteouts, opaques;
    uint64_t devices_skipped;    /* devices and sockets not created */
    uint64_t xattrs_skipped;     /* extended attributes not restored (trusted.*, overlay's, …) */
} mj_layer_stats_t;

/* Unpacks the layer blob (fd blob_fd, read from its start) into the directory dest_fd, which
 * should be empty and private to the caller.  what names the layer in messages.  The
 * uncompressed stream is hashed with expect_diff_id's algorithm and must match it (IMAGE);
 * expect_diff_id NULL: sha256, not checked.
 *
 * OCI whiteouts: ".wh.NAME" becomes a character device 0/0 named NAME (what overlayfs reads as
 * a whiteout; unprivileged users may make one since Linux 5.8), ".wh..wh..opq" the xattr
 * user.overlay.opaque=y (and trusted.overlay.opaque=y with trusted_xattrs) on its directory;
 * a whiteout of something the same layer adds keeps it (a directory turns opaque).  Refused as
 * IMAGE, naming the layer and the entry: absolute names, ".." components, a path through a
 * symbolic link or a non-directory, a non-directory named "." (the layer's root), hard links
 * to what the layer has not made before (or to a directory), a character device 0/0, deeper
 * than max_depth.  Extended attributes: user.* (not user.overlay.*), and security.capability
 * with keep_owners; others are skipped and counted.  RESOURCE_LIMIT_EXCEEDED naming the budget.
 * On failure dest_fd may hold part of the layer (the caller removes it). */
int mj_layer_unpack(int blob_fd, mj_layer_compression_t comp, int dest_fd, const char *what, const char *expect_diff_id,
                    const mj_layer_opts_t *opts, mj_layer_stats_t *stats, mj_error_t **err);

#endif

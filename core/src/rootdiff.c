/* rootdiff.c — what a persistent sandbox changed in its root, read from the host: the container
 * layer (layer.c) comes as an fd from the supervisor (client.c), its index names each
 * copy-on-write layer (mount point, upper, lowers), and overlay.c diffs each upper against its
 * lowers.  The index is written by moonjail before the sandbox runs, in a tmpfs no command can
 * reach; it is still read bounded and parsed strictly.  Never: follows a symlink of the layer
 * (overlay.c walks with *at() and O_NOFOLLOW), writes anything. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <string.h>

#include "client.h"
#include "error.h"
#include "handle.h"
#include "overlay.h"
#include "rootdiff.h"
#include "util.h"

#define MJ_INDEX_MAX (64 * 1024)

typedef struct {
    const char *dst; /* the layer's mount point inside */
    mj_diff_fn fn;
    void *ud;
} layer_diff_t;

static int prefixed(const char *path, mj_diff_kind_t kind, mode_t mode, void *ud)
{
    layer_diff_t *l = ud;
    cleanup_free char *full = strcmp(l->dst, "/") == 0 ? mj_xasprintf("/%s", path) : mj_xasprintf("%s/%s", l->dst, path);
    return l->fn(full, kind, mode, l->ud);
}

/* One index line "DST\tUPPER\tLOWER…" (modified in place): its diff. */
static int diff_line(int layer, char *line, mj_diff_fn fn, void *ud, mj_error_t **err)
{
    char *fields[2 + 64];
    size_t n = 0;
    for (char *save = NULL, *f = strtok_r(line, "\t", &save); f && n < MJ_ARRAY_LEN(fields); f = strtok_r(NULL, "\t", &save))
        fields[n++] = f;
    if (n < 3 || fields[0][0] != '/' || fields[1][0] == '/' || strstr(fields[1], "..")) {
        *err = mj_error_new(MJ_ERR_INVALID_STATE, EPROTO, "the sandbox's layer index is malformed");
        return -1;
    }
    cleanup_free char *upper = mj_xasprintf("/proc/self/fd/%d/%s", layer, fields[1]);
    cleanup_free char *base = mj_xasprintf("/proc/self/fd/%d/base", layer);
    const char *lowers[64];
    size_t nl = 0;
    for (size_t i = 2; i < n; i++)
        lowers[nl++] = strcmp(fields[i], "@base") == 0 ? base : fields[i];
    layer_diff_t l = {.dst = fields[0], .fn = fn, .ud = ud};
    return mj_overlay_diff_lowers(upper, lowers, nl, prefixed, &l, err);
}

int mj_sandbox_root_diff(mj_sandbox_t *sb, mj_diff_fn fn, void *ud, mj_error_t **err)
{
    cleanup_close int layer = mj_client_layer_fd(sb, err);
    if (layer < 0)
        return -1;
    cleanup_close int fd = openat(layer, "index", O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT)
        return 0; /* a read-only root: nothing can have changed */
    cleanup_free char *text = mj_xmalloc(MJ_INDEX_MAX + 1);
    ssize_t len = fd < 0 ? -1 : mj_read_all(fd, text, MJ_INDEX_MAX);
    if (len < 0) {
        *err = mj_error_sys(MJ_ERR_INVALID_STATE, errno, "sandbox %s: reading its layer index", mj_client_name(sb));
        return -1;
    }
    text[len] = '\0';
    for (char *save = NULL, *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
        if (diff_line(layer, line, fn, ud, err) < 0)
            return -1;
    return 0;
}

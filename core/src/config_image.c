/* config_image.c — what a sandbox standing on an OCI image adds to its config: the image's
 * layers below the root directory (the overlay's further lowers) and the lease that pins them.
 * Setters only: they copy and validate shape.  Never: reads the image store, decides which
 * layers an image has (moonjail.image does), or touches the kernel beyond dup'ing the lease. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>

#include "config.h"
#include "error.h"
#include "util.h"

#define MJ_MAX_ROOT_LAYERS 500 /* overlayfs's own limit on lower layers */

/* The host-side diff's index separates lowers by tabs and lines, overlay options by ',' and ':'
 * (as plan.c refuses them in a root directory): a layer path holding one would read as two. */
int mj_config_add_root_layer(mj_config_t *cfg, const char *dir, mj_error_t **err)
{
    if (!mj_path_is_clean_absolute(dir) || strlen(dir) >= PATH_MAX || strpbrk(dir, "\t\n:,\\")) {
        *err = mj_error_new(MJ_ERR_INVALID_CONFIG, EINVAL,
                            "root_layers: '%s' is no clean absolute path without tab, newline, ':', ',' or '\\'",
                            dir ? dir : "(null)");
        return -1;
    }
    if (cfg->root_layers.n + 1 >= MJ_MAX_ROOT_LAYERS) {
        *err = mj_error_new(MJ_ERR_RESOURCE_LIMIT_EXCEEDED, E2BIG, "root_layers: more than %d layers",
                            MJ_MAX_ROOT_LAYERS);
        return -1;
    }
    mj_strv_push(&cfg->root_layers, dir);
    return 0;
}

int mj_config_set_image_lease(mj_config_t *cfg, int fd, mj_error_t **err)
{
    int copy = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    if (copy < 0) {
        *err = mj_error_sys(MJ_ERR_INVALID_CONFIG, errno, "image lease: fd %d", fd);
        return -1;
    }
    mj_close_fd(&cfg->lease_fd);
    cfg->lease_fd = copy;
    return 0;
}

/* fuzz/targets/wire.c — the supervisor protocol's decoders (core/src/wire.c): a request as the
 * supervisor receives it (with 0-4 fds), the exec payload as the spawner decodes it (rootless or
 * not), and a reply as the host checks it.  Invariants: a decoded exec request's strings lie
 * inside the payload, are NUL-terminated, and argv/envp are NULL-terminated at argc/envc. */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"
#include "wire.h"

static char *argv_buf[MJ_PROTO_MAX_ARGS + 1];
static char *envp_buf[MJ_PROTO_MAX_ENV + 1];
static char *paths_buf[MJ_PROTO_MAX_PATHS + 1];

static void check_inside(const char *s, const char *start, const char *end)
{
    assert(s >= start && s < end);
    assert(memchr(s, '\0', (size_t)(end - s)) != NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t mode = data[0];
    data++;
    size--;
    char *buf = malloc(size + 1);
    memcpy(buf, data, size);

    mj_req_t req;
    int nfds = mode & 7;
    if (nfds <= MJ_WIRE_MAX_FDS && mj_wire_check_request(buf, size, nfds, &req) == 0) {
        assert(req.magic == MJ_PROTO_MAGIC && req.len == size - sizeof req);
        assert(nfds == 0 || req.type == MJ_REQ_EXEC || (req.type == MJ_REQ_MAIN_WATCH && nfds == 1));
    }

    /* the exec payload: after a request header when the input has one, else the whole input */
    size_t off = size >= sizeof(mj_req_t) && (mode & 8) ? sizeof(mj_req_t) : 0;
    uint32_t ids[2] = {1000, 1000};
    mj_exec_req_t er;
    char *workdir = NULL;
    if (mj_wire_decode_exec(buf + off, size - off, (mode & 16) ? ids : NULL, &er, &workdir, argv_buf, envp_buf,
                            paths_buf) == 0) {
        const char *start = buf + off, *end = buf + size;
        assert(er.argc >= 1 && er.argc <= MJ_PROTO_MAX_ARGS && er.envc <= MJ_PROTO_MAX_ENV);
        assert(er.uid < 65536 && er.gid < 65536);
        assert(!(mode & 16) || (er.uid == ids[0] && er.gid == ids[1]));
        check_inside(workdir, start, end);
        assert(workdir[0] == '/');
        for (uint32_t i = 0; i < er.argc; i++)
            check_inside(argv_buf[i], start, end);
        for (uint32_t i = 0; i < er.envc; i++)
            check_inside(envp_buf[i], start, end);
        for (uint32_t i = 0; i < er.npaths; i++) {
            check_inside(paths_buf[i], start, end);
            assert(paths_buf[i][0] == '/');
        }
        assert(argv_buf[er.argc] == NULL && envp_buf[er.envc] == NULL && argv_buf[0][0] != '\0');
        assert(er.npaths <= MJ_PROTO_MAX_PATHS && paths_buf[er.npaths] == NULL);
    }

    mj_rep_t rep;
    memset(&rep, 0, sizeof rep);
    memcpy(&rep, buf, size < sizeof rep ? size : sizeof rep);
    if (mj_wire_reply_ok(&rep, (ssize_t)size))
        assert(size == sizeof rep && rep.magic == MJ_PROTO_MAGIC);
    free(buf);
    return 0;
}

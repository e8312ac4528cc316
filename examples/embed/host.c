/* host.c — a minimal C host for libmoonjail: one persistent sandbox, one command, one file.
 *
 * Uses only the public API (<moonjail/moonjail.h>) of an installed moonjail; build it with the
 * Makefile or CMakeLists.txt beside this file.  Runs as root or as any user allowed to create
 * user namespaces.  Exit status 0, or 1 after printing the error.
 */
#include <moonjail/moonjail.h>
#include <stdio.h>
#include <stdlib.h>

/* A call that fails returns -1 and hands us an error we own.  This example simply stops: the
 * process exit frees memory, and an anonymous sandbox dies with the process that created it. */
static void check(int rc, mj_error_t *err, const char *what)
{
    if (rc == 0)
        return;
    fprintf(stderr, "host: %s: %s\n", what, mj_error_message(err));
    mj_error_free(err);
    exit(1);
}

int main(void)
{
    mj_error_t *err = NULL;

    /* The shipped default policy's sandbox in one call, the one `moonjail run` gives with no
     * options: the host's system directories under a copy-on-write root (whatever a command
     * writes stays in the sandbox's own layer, capped at 1 GiB, and never reaches the host), a
     * generated /etc, a /tmp, no network, the default seccomp filter and Landlock.  Setters
     * change any of it: here the host name.  (mj_config_new() starts bare instead.) */
    mj_config_t *cfg = mj_config_new_default();
    check(mj_config_set_hostname(cfg, "embedded", &err), err, "hostname");

    /* An anonymous sandbox (name NULL): its supervisor stays warm for every later command.  The
     * sandbox keeps a copy of what it needs, so the config can go at once. */
    mj_sandbox_t *sb = NULL;
    check(mj_sandbox_create(cfg, NULL, &sb, &err), err, "create sandbox");
    mj_config_free(cfg);

    /* A result comes back whenever the command ran, whatever its exit status. */
    mj_command_t *cmd = mj_command_new();
    const char *argv[] = {"sh", "-c", "echo hello > /greeting; uname -n"};
    check(mj_command_set_argv(cmd, 3, argv, &err), err, "argv");
    mj_command_set_timeout(cmd, 30);
    mj_result_t *res = NULL;
    check(mj_sandbox_exec(sb, cmd, &res, &err), err, "exec");
    size_t len;
    const char *out = mj_result_stdout(res, &len);
    printf("exit code: %d\nstdout: %.*s", mj_result_exit_code(res), (int)len, out);
    mj_result_free(res);
    mj_command_free(cmd);

    /* Files are read through the sandbox's own root, never by following its symlinks out. */
    char *data = NULL;
    check(mj_sandbox_read_file(sb, "/greeting", 0, &data, &len, &err), err, "read_file");
    printf("greeting: %.*s", (int)len, data);
    free(data);

    check(mj_sandbox_destroy(sb, &err), err, "destroy");
    mj_sandbox_free(sb);
    return 0;
}

/* git.c — a tree from a git ref: `git archive` of the ref, from a bare mirror of the repository,
 * unpacked into a directory (unpack.c) and the scratch space removed again (tree.c).
 *
 * Owns: mj_git_archive and the running of git.
 * Must never: run a shell, pass a ref git could read as an option, let the repository's own
 * config (filters, fsmonitor) run anything, or hand git the caller's stdin, stdout or tty.
 */
#define _GNU_SOURCE
#include "git.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "error.h"
#include "tree.h"
#include "unpack.h"
#include "util.h"

extern char **environ;

static bool ref_valid(const char *ref)
{
    if (!ref || !*ref || ref[0] == '-' || strlen(ref) >= 256)
        return false;
    for (const unsigned char *p = (const unsigned char *)ref; *p; p++)
        if (*p <= ' ' || *p == 0x7f)
            return false;
    return true;
}

/* Runs git with argv (argv[0] "git"); failures name repo and ref, with git's first stderr line. */
static int run_git(const char *repo, const char *ref, char *const *argv, mj_error_t **err)
{
    int pipefd[2];
    if (pipe2(pipefd, O_CLOEXEC) < 0)
        return mj_fail(err, mj_error_sys(MJ_ERR_COMMAND_EXECUTION_FAILED, errno, "repository %s: pipe", repo));
    cleanup_close int rd = pipefd[0];
    cleanup_close int wr = pipefd[1];
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, wr, 2);
    posix_spawnattr_init(&attr);
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &all);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    pid_t pid;
    int rc = posix_spawnp(&pid, "git", &fa, &attr, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    close(mj_steal_fd(&wr));
    if (rc == ENOENT)
        return mj_fail(err, mj_error_new(MJ_ERR_UNSUPPORTED, ENOENT, "git not found in PATH"));
    if (rc != 0)
        return mj_fail(err, mj_error_sys(MJ_ERR_COMMAND_EXECUTION_FAILED, rc, "repository %s: cannot run git", repo));

    char first[512];
    size_t have = 0;
    bool line_done = false;
    for (;;) {
        char buf[4096];
        ssize_t n = read(rd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        for (ssize_t k = 0; k < n && !line_done; k++) {
            if (buf[k] == '\n')
                line_done = true;
            else if (have < sizeof(first) - 1)
                first[have++] = buf[k];
        }
    }
    while (have > 0 && (first[have - 1] == '\r' || first[have - 1] == ' '))
        have--;
    first[have] = '\0';

    int status;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR)
            return mj_fail(err, mj_error_sys(MJ_ERR_COMMAND_EXECUTION_FAILED, errno, "repository %s: waiting for git", repo));
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return 0;
    if (have)
        return mj_fail(err, mj_error_new(MJ_ERR_INVALID_CONFIG, 0, "repository %s: ref '%s': %s", repo, ref, first));
    if (WIFSIGNALED(status))
        return mj_fail(err, mj_error_new(MJ_ERR_INVALID_CONFIG, 0, "repository %s: ref '%s': git killed by signal %d", repo,
                                         ref, WTERMSIG(status)));
    return mj_fail(err, mj_error_new(MJ_ERR_INVALID_CONFIG, 0, "repository %s: ref '%s': git exited with status %d", repo,
                                     ref, WEXITSTATUS(status)));
}

int mj_git_archive(const char *repo, const char *ref, const char *dest_dir, mj_error_t **err)
{
    if (!repo || !*repo || !dest_dir || !*dest_dir)
        return mj_fail(err, mj_error_new(MJ_ERR_INVALID_CONFIG, EINVAL, "git archive: repository and destination are required"));
    if (!ref_valid(ref))
        return mj_fail(err, mj_error_new(MJ_ERR_INVALID_CONFIG, EINVAL,
                                         "repository %s: invalid ref: it must be non-empty, shorter than 256 bytes, not "
                                         "start with '-' and hold no whitespace or control characters",
                                         repo));
    const char *tmp = secure_getenv("TMPDIR");
    cleanup_free char *dir = mj_xasprintf("%s/moonjail-git-XXXXXX", tmp && tmp[0] == '/' ? tmp : "/tmp");
    if (!mkdtemp(dir))
        return mj_fail(err, mj_file_error(errno, "git archive: mkdtemp", dir));
    /* git archive applies the filters (smudge commands) that the repository's own .git/config
     * names, and a repository is not always trusted by whoever runs moonjail (it may be root,
     * and a sandbox may have had it mounted).  So: a bare mirror first — `clone --shared` copies
     * refs, borrows the objects and takes no config along — and the archive from the mirror. */
    cleanup_free char *mirror = mj_xasprintf("%s/mirror.git", dir);
    cleanup_free char *tarball = mj_xasprintf("%s/archive.tar", dir);
    char *const clone[] = {(char *)"git", (char *)"-c", (char *)"core.fsmonitor=false", (char *)"clone",
                           (char *)"--quiet", (char *)"--mirror", (char *)"--shared", (char *)"--",
                           (char *)repo, mirror, NULL};
    char *const archive[] = {(char *)"git", (char *)"-c", (char *)"core.fsmonitor=false", (char *)"-C", mirror,
                             (char *)"archive", (char *)"--format=tar", (char *)"-o", tarball, (char *)ref, NULL};
    int r = run_git(repo, ref, clone, err);
    if (r == 0)
        r = run_git(repo, ref, archive, err);
    if (r == 0 && (r = mj_unpack_archive(tarball, dest_dir, NULL, err)) < 0)
        mj_error_wrap(err, "repository %s: ref '%s'", repo, ref);
    mj_tree_remove(dir, NULL);
    return r;
}

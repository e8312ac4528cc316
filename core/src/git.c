/* git.c — a tree from a git ref: `git archive` of the ref, from a bare mirror of the repository,
 * unpacked into a directory (unpack.c) and the scratch space removed again (tree.c).
 *
 * Owns: mj_git_archive and the running of git.
 * Must never: run a shell, pass a ref git could read as an option, let the repository's own
 * config (filters, fsmonitor) run anything, or hand git the caller's stdin, stdout or tty.
 */
#define _GNU_SOURCE
#include "git.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/stat.h>
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

/* Runs git with argv (argv[0] "git") in env (NULL: ours); failures name repo and ref, with git's
 * first stderr line. */
static int run_git_env(const char *repo, const char *ref, char *const *argv, char *const *env, mj_error_t **err)
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
    int rc = posix_spawnp(&pid, "git", &fa, &attr, argv, env ? env : environ);
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

static int run_git(const char *repo, const char *ref, char *const *argv, mj_error_t **err)
{
    return run_git_env(repo, ref, argv, NULL, err);
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

/* ------------------------------------------------------------------ remote repositories */

static bool url_valid(const char *url)
{
    static const char *const schemes[] = {"git://", "http://", "https://"};
    if (!url || strlen(url) >= 2048)
        return false;
    for (const unsigned char *p = (const unsigned char *)url; *p; p++)
        if (*p <= ' ' || *p == 0x7f)
            return false;
    for (size_t i = 0; i < MJ_ARRAY_LEN(schemes); i++)
        if (strncmp(url, schemes[i], strlen(schemes[i])) == 0 && url[strlen(schemes[i])])
            return true;
    return false;
}

/* The environment git runs in for a remote: PATH and the proxy variables, no HOME, no user or
 * system config, no prompts. */
static mj_strv_t remote_env(void)
{
    static const char *const keep[] = {"PATH", "http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "no_proxy",
                                       "NO_PROXY"};
    mj_strv_t env = {0};
    for (size_t i = 0; i < MJ_ARRAY_LEN(keep); i++) {
        const char *v = getenv(keep[i]);
        if (v)
            mj_strv_push_owned(&env, mj_xasprintf("%s=%s", keep[i], v));
    }
    static const char *const fixed[] = {"GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null", "GIT_TERMINAL_PROMPT=0",
                                        "GIT_ASKPASS=/bin/false", "SSH_ASKPASS=/bin/false", "LC_ALL=C",
                                        "GIT_PROTOCOL_FROM_USER=0"};
    for (size_t i = 0; i < MJ_ARRAY_LEN(fixed); i++)
        mj_strv_push(&env, fixed[i]);
    return env;
}

/* The cache's name for url: its characters that are safe in a file name, and a hash of all of it. */
static char *cache_name(const char *url)
{
    unsigned long long h = 1469598103934665603ULL;
    char safe[65];
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)url; *p; p++) {
        h = (h ^ *p) * 1099511628211ULL;
        if (n < sizeof(safe) - 1)
            safe[n++] = (isalnum(*p) || *p == '.' || *p == '-') ? (char)*p : '_';
    }
    safe[n] = '\0';
    return mj_xasprintf("%s-%016llx", safe, h);
}

int mj_git_clone_archive(const char *url, const char *branch, const char *cache_dir, const char *dest_dir,
                         mj_error_t **err)
{
    if (!url_valid(url))
        return mj_fail(err, mj_error_new(MJ_ERR_INVALID_CONFIG, EINVAL,
                                         "repository: expected a git://, http:// or https:// URL"));
    if (!branch || !*branch)
        branch = "HEAD";
    if (!ref_valid(branch))
        return mj_fail(err, mj_error_new(MJ_ERR_INVALID_CONFIG, EINVAL, "repository %s: invalid branch", url));
    if (!cache_dir || cache_dir[0] != '/' || !dest_dir || !*dest_dir)
        return mj_fail(err, mj_error_new(MJ_ERR_INVALID_CONFIG, EINVAL, "git clone: cache and destination are required"));
    if (mkdir(cache_dir, 0700) < 0 && errno != EEXIST)
        return mj_fail(err, mj_file_error(errno, "git cache", cache_dir));
    cleanup_free char *name = cache_name(url);
    cleanup_free char *mirror = mj_xasprintf("%s/%s.git", cache_dir, name);
    cleanup_free char *lockpath = mj_xasprintf("%s/%s.lock", cache_dir, name);
    cleanup_close int lock = open(lockpath, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (lock < 0 || flock(lock, LOCK_EX) < 0)
        return mj_fail(err, mj_file_error(errno, "git cache lock", lockpath));
    mj_strv_t env = remote_env();
    cleanup_free char *tarball = mj_xasprintf("%s/%s.tar", cache_dir, name);
    /* Nothing of the remote runs: a bare mirror (no checkout, so no hooks or filters), no config
     * but ours, only git/http(s) transports, objects checked as they arrive. */
#define SAFE "-c", "core.hooksPath=/dev/null", "-c", "core.fsmonitor=false", "-c", "protocol.allow=never", "-c",     \
             "protocol.git.allow=always", "-c", "protocol.http.allow=always", "-c", "protocol.https.allow=always", "-c", \
             "transfer.fsckObjects=true", "-c", "credential.helper=", "-c", "submodule.recurse=false"
    struct stat st;
    int r;
    if (stat(mirror, &st) == 0) {
        char *const fetch[] = {"git", SAFE, "-C", mirror, "fetch", "--quiet", "--prune", "--no-recurse-submodules",
                               "origin", NULL};
        r = run_git_env(url, branch, fetch, env.v, err);
    } else {
        char *const clone[] = {"git", SAFE, "clone", "--quiet", "--mirror", "--no-local", "--", (char *)url, mirror, NULL};
        r = run_git_env(url, branch, clone, env.v, err);
    }
    if (r == 0) {
        char *const archive[] = {"git", SAFE, "-C", mirror, "archive", "--format=tar", "-o", tarball, (char *)branch, NULL};
        r = run_git_env(url, branch, archive, env.v, err);
    }
#undef SAFE
    mj_strv_free(&env);
    if (r == 0 && (r = mj_unpack_archive(tarball, dest_dir, NULL, err)) < 0)
        mj_error_wrap(err, "repository %s: branch '%s'", url, branch);
    unlink(tarball);
    return r;
}

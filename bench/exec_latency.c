/* exec_latency.c — helper of bench/exec: warm exec latency and idle supervisors through the C API.
 *
 * Compiled on the fly by bench/exec (cc -O2 -I core/include ... build/lib/libmoonjail.a); not part
 * of the CMake build.  Prints "key value" lines on stdout, one figure per line, for the script to
 * read; progress and errors go to stderr.
 *
 *   exec_latency latency N WARMUP
 *       One anonymous sandbox (host root view: ro /usr /bin /sbin /lib /lib64 /etc/ld.so.cache
 *       /etc/passwd /etc/group, tmpfs /tmp), then N mj_sandbox_exec of /bin/true, interleaved one
 *       by one with N bare fork+execve+waitpid of /bin/true (after WARMUP untimed rounds of each).
 *       Prints percentiles of both, and the supervisor's VmRSS / Pss after the loop.
 *   exec_latency idle M
 *       M anonymous sandboxes with the same config, all alive at once: creation times, the sum of
 *       their supervisors' VmRSS / Pss, then frees them all and checks no supervisor is left.
 *
 * Exit status: 0 ok, 1 a sandbox call or a command failed (message on stderr).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <moonjail/moonjail.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *const host_paths[] = {
    "/usr", "/bin", "/sbin", "/lib", "/lib64", "/etc/ld.so.cache", "/etc/passwd", "/etc/group",
};

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void fail(const char *what, mj_error_t *err)
{
    fprintf(stderr, "exec_latency: %s: %s\n", what, err ? mj_error_message(err) : strerror(errno));
    mj_error_free(err);
    exit(1);
}

static mj_config_t *make_config(void)
{
    mj_error_t *err = NULL;
    mj_config_t *cfg = mj_config_new();
    if (mj_config_set_root(cfg, "host", &err) < 0)
        fail("mj_config_set_root", err);
    for (size_t i = 0; i < sizeof(host_paths) / sizeof(host_paths[0]); i++)
        if (mj_config_add_host_path(cfg, host_paths[i], false, &err) < 0)
            fail("mj_config_add_host_path", err);
    if (mj_config_add_mount(cfg, MJ_MOUNT_TMPFS, NULL, "/tmp", 0, 0, &err) < 0)
        fail("mj_config_add_mount tmpfs /tmp", err);
    if (mj_config_set_hostname(cfg, "moonjail", &err) < 0)
        fail("mj_config_set_hostname", err);
    return cfg;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Nearest-rank percentile of a sorted array. */
static double pct(const double *v, size_t n, double q)
{
    size_t k = (size_t)ceil(q * (double)n);
    if (k < 1)
        k = 1;
    if (k > n)
        k = n;
    return v[k - 1];
}

static void report(const char *prefix, double *v, size_t n)
{
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += v[i];
    qsort(v, n, sizeof(*v), cmp_double);
    double mean = sum / (double)n, var = 0;
    for (size_t i = 0; i < n; i++)
        var += (v[i] - mean) * (v[i] - mean);
    printf("%s_n %zu\n", prefix, n);
    printf("%s_p50_ms %.4f\n", prefix, pct(v, n, 0.50));
    printf("%s_p90_ms %.4f\n", prefix, pct(v, n, 0.90));
    printf("%s_p99_ms %.4f\n", prefix, pct(v, n, 0.99));
    printf("%s_mean_ms %.4f\n", prefix, mean);
    printf("%s_stddev_ms %.4f\n", prefix, n > 1 ? sqrt(var / (double)(n - 1)) : 0.0);
    printf("%s_min_ms %.4f\n", prefix, v[0]);
    printf("%s_max_ms %.4f\n", prefix, v[n - 1]);
}

/* A "Key:   123 kB" field of a /proc file, in kB; -1 when missing. */
static long proc_kb(pid_t pid, const char *file, const char *key)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
    FILE *f = fopen(path, "re");
    if (!f)
        return -1;
    size_t kl = strlen(key);
    long val = -1;
    while (fgets(line, sizeof(line), f))
        if (strncmp(line, key, kl) == 0 && line[kl] == ':') {
            val = strtol(line + kl + 1, NULL, 10);
            break;
        }
    fclose(f);
    return val;
}

/* State letter and start time (field 22) of a process; 0 when it does not exist. */
static char proc_state(pid_t pid, unsigned long long *starttime)
{
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "re");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = 0;
    char *p = strrchr(buf, ')');
    if (!p || p[1] != ' ')
        return 0;
    char state = p[2];
    if (starttime) {
        /* after ") " come fields 3 (state) .. ; start time is field 22 */
        char *s = p + 2;
        for (int field = 3; field < 22 && s; field++) {
            s = strchr(s, ' ');
            if (s)
                s++;
        }
        *starttime = s ? strtoull(s, NULL, 10) : 0;
    }
    return state;
}

/* Processes whose parent is pid (children of a supervisor). */
static int count_children(pid_t pid)
{
    char path[96], buf[4096];
    snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)pid, (int)pid);
    FILE *f = fopen(path, "re");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = 0;
    int c = 0;
    for (char *s = strtok(buf, " \n"); s; s = strtok(NULL, " \n"))
        c++;
    return c;
}

static pid_t supervisor_pid(mj_sandbox_t *sb)
{
    mj_sandbox_info_t info;
    mj_error_t *err = NULL;
    if (mj_sandbox_info(sb, &info, &err) < 0)
        fail("mj_sandbox_info", err);
    return info.supervisor_pid;
}

static void run_true_in(mj_sandbox_t *sb, const mj_command_t *cmd, size_t i)
{
    mj_result_t *res = NULL;
    mj_error_t *err = NULL;
    if (mj_sandbox_exec(sb, cmd, &res, &err) < 0) {
        fprintf(stderr, "exec_latency: mj_sandbox_exec #%zu failed\n", i);
        fail("mj_sandbox_exec", err);
    }
    if (!mj_result_success(res)) {
        fprintf(stderr, "exec_latency: /bin/true in the sandbox ended by %s, exit code %d (exec #%zu)\n",
                mj_end_reason_name(mj_result_ended_by(res)), mj_result_exit_code(res), i);
        exit(1);
    }
    mj_result_free(res);
}

static void run_true_bare(size_t i)
{
    static char *const argv[] = {"/bin/true", NULL};
    pid_t pid = fork();
    if (pid < 0)
        fail("fork", NULL);
    if (pid == 0) {
        execve(argv[0], argv, environ);
        _exit(127);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            fail("waitpid", NULL);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        fprintf(stderr, "exec_latency: bare /bin/true failed (status 0x%x, run #%zu)\n", st, i);
        exit(1);
    }
}

static int cmd_latency(size_t n, size_t warmup)
{
    mj_error_t *err = NULL;
    mj_config_t *cfg = make_config();
    mj_sandbox_t *sb = NULL;
    double t0 = now_ms();
    if (mj_sandbox_create(cfg, NULL, &sb, &err) < 0)
        fail("mj_sandbox_create", err);
    printf("create_ms %.4f\n", now_ms() - t0);
    pid_t sup = supervisor_pid(sb);
    printf("supervisor_pid %d\n", (int)sup);
    printf("supervisor_rss_kb_fresh %ld\n", proc_kb(sup, "status", "VmRSS"));
    printf("supervisor_pss_kb_fresh %ld\n", proc_kb(sup, "smaps_rollup", "Pss"));

    mj_command_t *cmd = mj_command_new();
    const char *argv[] = {"/bin/true"};
    if (mj_command_set_argv(cmd, 1, argv, &err) < 0)
        fail("mj_command_set_argv", err);

    double *api = calloc(n, sizeof(double)), *bare = calloc(n, sizeof(double));
    if (!api || !bare)
        fail("calloc", NULL);
    for (size_t i = 0; i < warmup; i++) {
        run_true_in(sb, cmd, i);
        run_true_bare(i);
    }
    /* Interleaved one by one, so both see the same machine noise. */
    for (size_t i = 0; i < n; i++) {
        double a = now_ms();
        run_true_in(sb, cmd, i);
        double b = now_ms();
        run_true_bare(i);
        double c = now_ms();
        api[i] = b - a;
        bare[i] = c - b;
    }
    printf("supervisor_rss_kb %ld\n", proc_kb(sup, "status", "VmRSS"));
    printf("supervisor_hwm_kb %ld\n", proc_kb(sup, "status", "VmHWM"));
    printf("supervisor_anon_kb %ld\n", proc_kb(sup, "status", "RssAnon"));
    printf("supervisor_pss_kb %ld\n", proc_kb(sup, "smaps_rollup", "Pss"));
    printf("helper_rss_kb %ld\n", proc_kb(getpid(), "status", "VmRSS"));
    report("api", api, n);
    report("bare", bare, n);
    free(api);
    free(bare);
    mj_command_free(cmd);
    mj_sandbox_free(sb);
    mj_config_free(cfg);
    return 0;
}

static int cmd_idle(size_t m)
{
    /* Each sandbox keeps a few fds here; lift the soft limit. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    mj_error_t *err = NULL;
    mj_config_t *cfg = make_config();
    mj_sandbox_t **sbs = calloc(m, sizeof(*sbs));
    pid_t *pids = calloc(m, sizeof(*pids));
    unsigned long long *starts = calloc(m, sizeof(*starts));
    double *create = calloc(m, sizeof(double));
    if (!sbs || !pids || !starts || !create)
        fail("calloc", NULL);

    double t_all = now_ms();
    for (size_t i = 0; i < m; i++) {
        double a = now_ms();
        if (mj_sandbox_create(cfg, NULL, &sbs[i], &err) < 0) {
            fprintf(stderr, "exec_latency: sandbox %zu of %zu could not be created\n", i + 1, m);
            fail("mj_sandbox_create", err);
        }
        create[i] = now_ms() - a;
        pids[i] = supervisor_pid(sbs[i]);
        proc_state(pids[i], &starts[i]);
    }
    printf("idle_created %zu\n", m);
    printf("idle_create_total_ms %.3f\n", now_ms() - t_all);

    usleep(200 * 1000); /* let them settle: idle means idle */
    long rss = 0, pss = 0, anon = 0, rss_max = 0, rss_min = -1;
    int running = 0, children = 0;
    for (size_t i = 0; i < m; i++) {
        long r = proc_kb(pids[i], "status", "VmRSS"), p = proc_kb(pids[i], "smaps_rollup", "Pss");
        long a = proc_kb(pids[i], "status", "RssAnon");
        if (r < 0 || p < 0) {
            fprintf(stderr, "exec_latency: supervisor %d of sandbox %zu is gone\n", (int)pids[i], i + 1);
            return 1;
        }
        rss += r;
        pss += p;
        anon += a > 0 ? a : 0;
        if (r > rss_max)
            rss_max = r;
        if (rss_min < 0 || r < rss_min)
            rss_min = r;
        if (mj_sandbox_status(sbs[i]) == MJ_STATUS_RUNNING)
            running++;
        children += count_children(pids[i]);
    }
    /* A quick exec in the last sandbox proves they are not just alive but usable. */
    mj_command_t *cmd = mj_command_new();
    const char *argv[] = {"/bin/true"};
    if (mj_command_set_argv(cmd, 1, argv, &err) < 0)
        fail("mj_command_set_argv", err);
    run_true_in(sbs[m - 1], cmd, 0);
    run_true_in(sbs[0], cmd, 0);
    mj_command_free(cmd);

    printf("idle_running %d\n", running);
    printf("idle_supervisor_children %d\n", children);
    printf("idle_rss_total_kb %ld\n", rss);
    printf("idle_pss_total_kb %ld\n", pss);
    printf("idle_anon_total_kb %ld\n", anon);
    printf("idle_rss_min_kb %ld\n", rss_min);
    printf("idle_rss_max_kb %ld\n", rss_max);
    printf("helper_rss_kb %ld\n", proc_kb(getpid(), "status", "VmRSS"));
    report("idle_create", create, m);

    double t_free = now_ms();
    for (size_t i = 0; i < m; i++)
        mj_sandbox_free(sbs[i]);
    printf("idle_free_total_ms %.3f\n", now_ms() - t_free);

    /* None may be left: not alive, not a zombie (they are our children, so free must reap them).
     * A pid reused by an unrelated process has another start time. */
    int alive = 0, zombies = 0;
    for (int tries = 0; tries < 50; tries++) {
        alive = zombies = 0;
        for (size_t i = 0; i < m; i++) {
            unsigned long long st = 0;
            char s = proc_state(pids[i], &st);
            if (!s || st != starts[i])
                continue;
            if (s == 'Z' || s == 'X')
                zombies++;
            else
                alive++;
        }
        if (!alive && !zombies)
            break;
        usleep(100 * 1000);
    }
    printf("idle_left_alive %d\n", alive);
    printf("idle_left_zombie %d\n", zombies);
    free(sbs);
    free(pids);
    free(starts);
    free(create);
    mj_config_free(cfg);
    return alive || zombies ? 1 : 0;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc == 4 && strcmp(argv[1], "latency") == 0)
        return cmd_latency(strtoul(argv[2], NULL, 10), strtoul(argv[3], NULL, 10));
    if (argc == 3 && strcmp(argv[1], "idle") == 0)
        return cmd_idle(strtoul(argv[2], NULL, 10));
    fprintf(stderr, "usage: %s latency N WARMUP | idle M\n", argv[0]);
    return 2;
}

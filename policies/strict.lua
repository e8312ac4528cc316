-- strict: for code you trust least.  No network, nothing writable but a small /tmp, tight
-- limits that must hold, Landlock required, no capabilities.  Extend it and loosen only what a
-- job needs, e.g. `return { extends = "strict", limits = { wall_time = "15m" } }`.
-- Tables with named keys merge into the parent's; lists replace them (docs/policies.md).
return {
  extends = "default",
  description = "No network, read-only except a 64M /tmp, tight required limits, Landlock required",

  filesystem = {
    -- The host paths of `default` stay (read-only binds of /usr, /bin, /lib*, parts of /etc);
    -- the root itself stays read-only.  The only writable place is a small /tmp (a tmpfs, so
    -- nothing written survives the sandbox).
    readonly_root = true,
    tmpfs = { { "/tmp", size = "64M" } },
    -- With Landlock on, commands may write beneath these paths only: a read-write mount added
    -- on the command line (`--rw DIR`) stays unwritable unless it lies beneath /tmp, and so
    -- does /dev/shm.  /dev's device nodes (/dev/null…) stay writable.
    writable = { "/tmp" },
  },

  -- A new network namespace with loopback only: no host, no metadata address, no internet.
  network = "none",

  -- Required, not best effort: a kernel without Landlock makes the run fail (UNSUPPORTED)
  -- instead of quietly dropping the write restriction above.
  landlock = true,

  -- Docker-style allow-list; nothing added, nothing removed.
  seccomp = { profile = "default", allow = {}, deny = {} },

  -- None: "ALL" also removes anything a policy in between would add.  The command runs as
  -- root inside its user namespace, but without a single capability (and never as host root).
  capabilities = { add = {}, drop = { "ALL" } },

  limits = {
    memory = "256M",   -- cgroup; the OOM killer ends a bomb (ended_by "oom", status 137)
    pids = 64,         -- cgroup; fork bombs hit it (ended_by "pids")
    cpu_time = 60,     -- seconds of CPU (RLIMIT_CPU, plus a tree-wide watchdog in one-shot runs)
    wall_time = "5m",  -- the whole tree is killed after five minutes (status 124)
    output = "1M",     -- captured stdout+stderr; the command is stopped past it
    disk = "64M",      -- every tmpfs without its own size (e.g. `--tmpfs DIR`): ENOSPC, not OOM
  },
  -- No `best_effort` on purpose: these limits are the point of this policy, so they fail
  -- closed.  Where they cannot be applied (rootless without a delegated cgroup subtree, a
  -- cgroup v1 host as non-root) the run stops with PERMISSION_DENIED or UNSUPPORTED instead of
  -- running unlimited; run as root, or under `systemd-run --user --scope -p Delegate=yes`.
}

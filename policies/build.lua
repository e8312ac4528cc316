-- build: for compilers and test suites.  More memory, processes and CPU than `default`, a
-- large /tmp, still no network.  Mount your source tree yourself, e.g.
--   moonjail run --policy build --rw .:/src -w /src -- make -j2
-- A copy-on-write workspace (the tree visible read-write inside, changes kept out of the host
-- until exported) comes with repository rules, which are not built yet: this policy does not
-- provide one, and a `--rw` mount writes straight through to the host.
return {
  extends = "default",
  description = "Compilers and test suites: 2G memory, 1024 pids, 2 CPUs, 1G /tmp, no network",

  filesystem = {
    -- Compilers and linkers put large temporary files in /tmp.  tmpfs pages count against the
    -- memory limit, so the 1G /tmp stays below limits.memory (2G).
    tmpfs = { { "/tmp", size = "1G" } },
  },

  -- Builds that need to download dependencies: fetch them before, or use the `network`
  -- template once filtered egress exists.  "host" gives the host's network unfiltered.
  network = "none",

  -- Applied when the kernel has Landlock, reported in warnings when it does not: build tools
  -- rename across directories a lot, which Landlock ABI 1 kernels cannot allow.
  landlock = "best_effort",

  limits = {
    memory = "2G",     -- cgroup: a big link step fits, a runaway test is OOM-killed
    pids = 1024,       -- cgroup: `make -j` with compiler subprocesses and test runners
    cpus = 2,          -- cgroup quota: two cores
    nofile = 4096,     -- linkers and test runners open many files at once
    output = "64M",    -- build logs are long
    wall_time = "1h",  -- a hung build ends (status 124) instead of holding the machine
  },
  -- Best effort for the cgroup limits: a build should still run where this host cannot apply
  -- them (rootless without cgroup delegation); the run then carries a warning that says so.
  -- Set the limit on the command line (`-m 2G`) or drop it from this list to fail closed.
  best_effort = { "memory", "pids", "cpus" },
}

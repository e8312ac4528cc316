-- The default policy: what `moonjail run` and `moonjail.run()` use when no policy is named.
-- Write your own by starting a file with `extends = "default"` and listing only what changes:
-- tables with named keys merge into these, arrays (lists) replace them.  See docs/policies.md.
return {
  description = "Host system directories under a copy-on-write root, no network, unprivileged root",

  -- File system.  `root = "host"` builds a fresh root from the host paths below, at the same
  -- place; anything not listed (your home, /root, /var, /srv, other users' files, the host's
  -- /tmp) does not exist inside.  Paths missing on this host are skipped.
  -- The root is writable, copy-on-write, as a container's: whatever a command writes anywhere
  -- (/, /usr/local, /etc) lands in the sandbox's own layer, capped by limits.disk, and never
  -- reaches the host; it is gone with the sandbox (`moonjail diff NAME` lists it meanwhile).
  -- /etc is generated: passwd and group with root, nobody and the sandbox's user only, hosts,
  -- hostname, resolv.conf; the /etc host paths below are copied or layered into it.
  filesystem = {
    root = "host",
    readonly_root = false,
    host_paths = {
      -- programs and libraries
      "/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32",
      -- what the dynamic linker, libc and common tools read
      "/etc/alternatives", "/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d",
      "/etc/nsswitch.conf", "/etc/localtime", "/etc/ssl", "/etc/ca-certificates", "/etc/os-release",
      "/etc/debian_version", "/etc/profile", "/etc/shells", "/etc/mime.types", "/etc/protocols",
      "/etc/services", "/etc/terminfo", "/etc/bash.bashrc", "/etc/inputrc",
    },
    -- Extra mounts: { "/host/dir", "/inside", mode = "ro" | "rw" }, "SRC:DST:rw",
    -- or { type = "tmpfs", dst = "/scratch", size = "256M" }.
    mounts = {},
    -- Fresh, empty, writable in-memory directories (nosuid, nodev).
    tmpfs = { "/tmp" },
    -- Kernel interfaces hidden from the command, as Docker does.
    masked = {
      "/proc/kcore", "/proc/keys", "/proc/timer_list", "/proc/sched_debug", "/proc/sysrq-trigger",
      "/proc/latency_stats", "/proc/acpi", "/proc/scsi", "/proc/kpageflags", "/proc/kpagecount",
      "/proc/kpagecgroup",
      -- host TLS private keys: readable by the host's root only, and the sandbox's root owns
      -- what host root owns in its layered host paths
      "/etc/ssl/private",
    },
    -- Kernel interfaces visible but read-only.
    readonly = { "/proc/sys", "/proc/bus", "/proc/fs", "/proc/irq" },
  },

  -- The command runs as root *inside* a new user namespace; that root maps to an unprivileged
  -- host id and is never host root.  "uid:gid", or names from the root's /etc/passwd and /etc/group.
  user = "0:0",

  -- Host name inside the sandbox (a moonjail extension to the policy keys).
  hostname = "moonjail",

  -- Working directory of the command.
  workdir = "/",

  -- "none": a new network namespace with only loopback.  "host": the host's network.
  network = "none",

  -- Landlock on top of the mounts: commands write only beneath the read-write mounts and tmpfs
  -- (or beneath filesystem.writable when a policy lists it).  "best_effort": applied when the
  -- kernel has Landlock, reported in the run's warnings when it does not.  true = required.
  landlock = "best_effort",

  -- Capabilities the command keeps (inside its user namespace).  None by default.
  capabilities = { add = {} },

  -- Limits.  nofile/nproc are rlimits; output caps captured stdout+stderr; wall_time (unset here:
  -- no time limit) kills the command after that long; disk caps what the sandbox writes into its
  -- root and into every tmpfs without a size of its own (ENOSPC past it; lowered to half of
  -- memory when a memory limit is smaller).  memory, cpus, pids (cgroups) and cpu_time are
  -- enforced when set; see docs/policies.md.
  limits = {
    nofile = 1024,
    nproc = 4096,
    output = "16M",
    disk = "1G",
    -- wall_time = "30m",
  },

  -- Environment: only the variables named in `pass` are taken from the caller; `set` adds fixed
  -- values.  HOME is chosen from the user (/root for uid 0, /tmp otherwise) unless set here.
  env = {
    pass = { "TERM", "LANG" },
    set = {
      PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    },
  },
}

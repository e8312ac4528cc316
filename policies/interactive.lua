-- interactive: for shells in a named sandbox, e.g.
--   moonjail create dev --policy interactive && moonjail exec -it dev bash
-- A writable home, the caller's terminal type, limits that stop a runaway job without getting
-- in the way of a person typing.
return {
  extends = "default",
  description = "Shells (exec -t): writable HOME at /root, TERM passed, moderate best-effort limits",

  filesystem = {
    -- /tmp as in `default`, plus an in-memory home so shells can keep history, dotfiles and
    -- caches for the life of the sandbox (nothing reaches the host).
    tmpfs = { "/tmp", { "/root", size = "256M" } },
  },

  -- TERM so the shell and full-screen tools draw correctly; LANG for the caller's language.
  -- A named sandbox takes them from the environment of `moonjail create`; from another
  -- terminal, pass yours along: `moonjail exec -it -e TERM dev bash`.
  -- HOME matches the tmpfs above (the command runs as root inside its user namespace);
  -- SHELL for tools that start a sub-shell.
  env = {
    pass = { "TERM", "LANG", "COLORTERM" },
    set = { HOME = "/root", SHELL = "/bin/bash" },
  },

  landlock = "best_effort",

  limits = {
    memory = "1G",   -- cgroup: enough for an editor and a compiler, not for a leak
    pids = 512,      -- cgroup: a fork bomb typed by mistake ends here
    cpus = 1,        -- cgroup: one core, so the host stays responsive
    -- No wall_time or cpu_time: a shell stays open for as long as the person needs it.
  },
  -- Best effort: a shell should still open where this host cannot apply cgroup limits
  -- (rootless without delegation); the sandbox reports what was not applied in its warnings.
  best_effort = { "memory", "pids", "cpus" },
}

-- ci-strict.lua — a custom policy for examples/recipes/strict.lua: everything `strict` says
-- (no network, read-only root, required Landlock, tight limits), plus a CI label, two more
-- masked paths (appended to strict's list instead of replacing it) and a smaller /tmp.
return {
  extends = "strict",
  description = "strict, for CI jobs that only read their input",
  filesystem = {
    tmpfs = { { "/tmp", size = "16M" } },
    masked = { append = { "/etc/hosts", "/etc/resolv.conf" } },
  },
  limits = { wall_time = "2m", pids = 32 },
  labels = { purpose = "ci" },
}

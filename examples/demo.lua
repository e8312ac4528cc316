-- examples/demo.lua — a first look at moonjail: a few commands, each in a fresh sandbox.
--
--   build/moonjail script examples/demo.lua
--
-- Each command sees its own pid namespace (it is pid 2 or so, under moonjail's supervisor), its
-- own hostname, an unprivileged identity and a read-only view of the host's system directories.
-- Exits non-zero when any command could not run or failed.
local mj = require "moonjail"

local commands = {
  { title = "who and where am I?", cmd = "echo pid $$; hostname; id" },
  { title = "what is in the root?", cmd = "ls /" },
  { title = "can I write to /usr?", cmd = "touch /usr/moonjail-demo 2>&1 || echo 'no: read-only'" },
  { title = "an argv command", cmd = { "uname", "-sr" } },
}

local failed = 0
for _, c in ipairs(commands) do
  local shown = type(c.cmd) == "table" and table.concat(c.cmd, " ") or c.cmd
  print(("== %s  (%s)"):format(c.title, shown))
  local result, err = mj.run(c.cmd, { hostname = "moonjail-demo", timeout = 30 })
  if not result then
    print("   could not run: " .. tostring(err))
    failed = failed + 1
  else
    io.write(result.stdout)
    if result.stderr ~= "" then io.write(result.stderr) end
    print(("   -> exit %d, ended by %s, %.1f ms"):format(result.exit_code, result.ended_by,
                                                       result.duration * 1000))
    if not result.success then failed = failed + 1 end
  end
end

-- A persistent sandbox: one warm supervisor, many commands and file operations.
print("== a persistent sandbox: write a script, run it, read what it wrote")
do
  local sb <close>, err = mj.sandbox({ hostname = "moonjail-demo" })
  if not sb then
    print("   could not start: " .. tostring(err))
    failed = failed + 1
  else
    assert(sb:write_file("/tmp/hello.sh", "#!/bin/sh\necho hello from $(hostname) > /tmp/out.txt\n", "0755"))
    local r = assert(sb:exec({ "/tmp/hello.sh" }))
    io.write("   ", assert(sb:read_file("/tmp/out.txt")))
    local u = assert(sb:usage())
    print(("   -> exit %d; the sandbox has used %.3f s of CPU, up %.2f s"):format(r.exit_code, u.cpu_time, u.uptime))
    if not r.success then failed = failed + 1 end
  end
end

-- Limits are enforced by the kernel and reported: a memory bomb under a 64M cgroup limit.
print("== a memory bomb under limits.memory = 64M")
do
  local r, err = mj.run({ "awk", "BEGIN { s = \"x\"; while (1) s = s s }" },
    { limits = { memory = "64M" }, timeout = 30 })
  if r then
    print(("   -> ended by %s, exit %d (the kernel's OOM killer, inside the sandbox's own cgroup)"):format(
      r.ended_by, r.exit_code))
    if r.ended_by ~= "oom" then failed = failed + 1 end
  else
    -- rootless without cgroup delegation: a requested limit fails closed, saying why
    print("   -> refused, as it must be when this host cannot enforce it: " .. tostring(err))
  end
end

if failed > 0 then
  print(("%d demo steps failed"):format(failed))
  os.exit(1)
end
print("all commands ran in their sandboxes")

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

if failed > 0 then
  print(("%d of %d commands failed"):format(failed, #commands))
  os.exit(1)
end
print("all commands ran in their sandboxes")

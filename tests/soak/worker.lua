-- tests/soak/worker.lua — one soak worker: a named persistent sandbox with a copy-on-write
-- repository, M rounds of commands and file operations in it, then removed.  Run by tests/soak/run
-- as `moonjail script worker.lua ID M OUT SRC`; writes OUT (one "op seconds" line per operation,
-- then "fds FIRST LAST" — this process's open fds after the first round and at the end) and
-- exits 1 after printing the first failure.
local mj = require "moonjail"

local id, rounds, out, src = arg[1], tonumber(arg[2]), arg[3], arg[4]
local clock = mj.now
local self_pid = assert(io.open("/proc/self/stat")):read("l"):match("^(%d+)")

local function fd_count()
  collectgarbage()
  local n = 0
  local p = io.popen("ls /proc/" .. self_pid .. "/fd")
  for _ in p:lines() do n = n + 1 end
  p:close()
  return n
end

local times = {}
local function timed(op, fn, ...)
  local t0 = clock()
  local a, b = fn(...)
  times[#times + 1] = string.format("%s %.6f", op, clock() - t0)
  if a == nil or a == false then error(string.format("worker %s: %s failed: %s", id, op, tostring(b)), 0) end
  return a
end

local name = string.format("soak-%s-%s", self_pid, id)
local sb = timed("create", mj.sandbox, { name = name, repositories = { { path = src, mount = "/src", mode = "cow" } } })
local sandbox_id = sb:info().id
local host_tmp = os.getenv("TMPDIR") .. "/soak-" .. name
local fds_first
local ok, err = pcall(function()
  for i = 1, rounds do
    local r = timed("exec", sb.exec, sb, { "sh", "-c", 'echo "$1" >/src/round; cat /src/round', "sh", tostring(i) })
    if r.exit_code ~= 0 or r.stdout ~= i .. "\n" then
      error(string.format("worker %s: round %d: exit %s, stdout %q", id, i, tostring(r.exit_code), r.stdout), 0)
    end
    local body = string.rep(string.format("%d:%s\n", i, id), 64)
    timed("write_file", sb.write_file, sb, "/tmp/f" .. i % 4, body)
    local back = timed("read_file", sb.read_file, sb, "/tmp/f" .. i % 4)
    if back ~= body then error(string.format("worker %s: round %d: read back %d bytes", id, i, #back), 0) end
    if i % 10 == 0 then
      timed("copy_out", sb.copy_out, sb, "/tmp/f" .. i % 4, host_tmp)
      timed("copy_in", sb.copy_files, sb, host_tmp, "/tmp/in" .. i % 3)
      os.remove(host_tmp)
      timed("list_files", sb.list_files, sb, "/tmp")
    end
    if i == 1 then fds_first = fd_count() end
  end
end)
timed("destroy", sb.destroy, sb)

local f = assert(io.open(out, "w"))
f:write(table.concat(times, "\n"), "\n", string.format("fds %d %d\nid %s\n", fds_first or -1, fd_count(), sandbox_id))
f:close()
if not ok then
  io.stderr:write(tostring(err), "\n")
  os.exit(1)
end

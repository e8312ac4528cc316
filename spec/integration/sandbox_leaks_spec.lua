-- spec/integration/sandbox_leaks_spec.lua — persistent sandboxes leave nothing behind.
--
-- Covers: 1000 sequential execs in one sandbox, 100 concurrent sandboxes (created, one exec
-- each, then all closed) and 100 streamed processes (half waited, half dropped) leave no zombie
-- (children of this process or of a supervisor, by state in /proc, with a bounded wait because
-- reaping by pid 1 is lazy here), no extra fd in this process (/proc/<pid>/fd before/after), no
-- extra mount in the host's mount namespace (mountinfo before/after: the sandboxes' mounts live
-- in their own namespaces), no state left for anonymous sandboxes, and no supervisor process.
-- When a host limit stops the 100 sandboxes, the failure names the limit (errno, EMFILE/ENOSPC/
-- EAGAIN, the rlimit, user.max_user_namespaces).
local mj = require "moonjail"
local helpers = require "spec.helpers"

if helpers.skip_unless_sandboxes() then return end

-- This process: the moonjail running the spec is the parent of a popen'ed shell.
local SELF = tonumber(helpers.sh("echo $PPID"))

-- This process's open fds, as text ("0 1 2 3 ...") and as a count, from one listing.  Garbage
-- is collected first, so a file handle that some library dropped without closing (closed
-- whenever the collector runs) does not come and go between two listings.
local function fd_list()
  collectgarbage()
  collectgarbage()
  local text = helpers.sh("ls /proc/" .. SELF .. "/fd 2>/dev/null | sort -n | tr '\\n' ' '")
  local n = 0
  for _ in text:gmatch("%d+") do n = n + 1 end
  return text, n
end

-- The host mount namespace's mount table (of this process), without the mount ids that change
-- on remount: a set of lines.
local function mounts()
  local set = {}
  for _, line in ipairs(helpers.lines(helpers.read_file("/proc/" .. SELF .. "/mountinfo") or "")) do
    set[line] = true
  end
  return set
end

local function new_lines(before, after)
  local extra = {}
  for line in pairs(after) do
    if not before[line] then extra[#extra + 1] = line end
  end
  table.sort(extra)
  return extra
end

-- Where named sandboxes keep state for this process (as mj_state_dir does).
local function state_dir()
  local env = os.getenv("MOONJAIL_STATE_DIR")
  if env and env:sub(1, 1) == "/" then return env end
  if helpers.is_root() then return "/run/moonjail" end
  env = os.getenv("XDG_RUNTIME_DIR")
  if env and env:sub(1, 1) == "/" then return env .. "/moonjail" end
  return "/tmp/moonjail-" .. helpers.uid()
end

-- Top-level entries of the state dir (the id-slot directory of root and the directory of
-- creation claims excluded), and whatever is in sandboxes/.
local function state_entries()
  local set = {}
  local out = helpers.sh("ls -A " .. helpers.shell_quote(state_dir()) .. " 2>/dev/null")
  for _, e in ipairs(helpers.lines(out)) do
    if e ~= "ids" and e ~= "creating" and e ~= "sandboxes" then set[e] = true end
  end
  out = helpers.sh("ls -A " .. helpers.shell_quote(state_dir() .. "/sandboxes") .. " 2>/dev/null")
  for _, e in ipairs(helpers.lines(out)) do set["sandboxes/" .. e] = true end
  return set
end

-- Every process on the host: array of { pid, ppid, state, comm }.
-- The listing is read whole (and its shell reaped) before any /proc/<pid>/stat is: a popen'ed
-- shell still being read from is a child of this process that exits before p:close() reaps it,
-- and would show up as this process's own zombie.
local function processes()
  local list = {}
  for _, name in ipairs(helpers.lines(helpers.sh("ls /proc"))) do
    if name:match("^%d+$") then
      local stat = helpers.read_file("/proc/" .. name .. "/stat")
      if stat then
        local comm, rest = stat:match("^%d+ %((.*)%) (.*)$")
        if rest then
          local state, ppid = rest:match("^(%a) (%d+)")
          list[#list + 1] = { pid = tonumber(name), ppid = tonumber(ppid), state = state, comm = comm }
        end
      end
    end
  end
  return list
end

-- Zombies among the children of this process, of the given supervisor pids and of their own
-- children (the spawner, every command's parent, and the workload's init, which takes orphans).
local function zombies(supervisors)
  local parents = { [SELF] = true }
  for _, pid in ipairs(supervisors or {}) do
    parents[pid] = true
    local kids = helpers.read_file("/proc/" .. pid .. "/task/" .. pid .. "/children") or ""
    for kid in kids:gmatch("%d+") do parents[tonumber(kid)] = true end
  end
  local found = {}
  for _, pr in ipairs(processes()) do
    if parents[pr.ppid] and (pr.state == "Z" or pr.state == "X") then
      found[#found + 1] = string.format("%d(%s, child of %d)", pr.pid, pr.comm, pr.ppid)
    end
  end
  return found
end

-- Supervisors still alive (not zombies) among pids.
local function alive(pids)
  local left = {}
  for _, pid in ipairs(pids) do
    if helpers.process_alive(pid) then left[#left + 1] = pid end
  end
  return left
end

-- Retries check() (which returns an array of problems) every 50 ms for up to `seconds`;
-- returns the last array.
local function settle(seconds, check)
  local deadline = helpers.now() + seconds
  local problems = check()
  while #problems > 0 and helpers.now() < deadline do
    helpers.sleep(0.05)
    problems = check()
  end
  return problems
end

-- Asserts that a call succeeded (first value neither nil nor false); returns it.
local function must(v, err)
  if v == nil or v == false then error("operation failed: " .. tostring(err), 2) end
  return v
end

local function snapshot()
  local fds, nfds = fd_list()
  return { fds = fds, nfds = nfds, mounts = mounts(), state = state_entries() }
end

-- Asserts nothing of the sandboxes (supervisors given) is left compared with the snapshot.
local function assert_clean(before, supervisors, what)
  local left = settle(3, function() return alive(supervisors) end)
  assert.are.same({}, left, what .. ": supervisors still running: " .. table.concat(left, " "))
  local z = settle(3, function() return zombies(supervisors) end)
  assert.are.same({}, z, what .. ": zombies left: " .. table.concat(z, " "))
  -- A leak is growth.  (The count is not required to stay equal: a file handle the Lua side drops
  -- can be closed by the collector at any time; the core's own fds are checked in C as well.)
  local fds, nfds
  settle(1, function()
    fds, nfds = fd_list()
    return nfds <= before.nfds and {} or { fds }
  end)
  assert.is_true(nfds <= before.nfds, what .. ": fds of the spec process grew: before: " .. before.fds
    .. " after: " .. fds)
  local extra = settle(2, function() return new_lines(before.mounts, mounts()) end)
  assert.are.same({}, extra, what .. ": mounts appeared in the host's namespace:\n" .. table.concat(extra, "\n"))
  local st = settle(2, function()
    local e = {}
    for k in pairs(state_entries()) do if not before.state[k] then e[#e + 1] = k end end
    return e
  end)
  assert.are.same({}, st, what .. ": state left under " .. state_dir() .. ": " .. table.concat(st, " "))
end

-- A message that names the host limit an error hit.
local function explain_limit(err, made)
  local hints = {
    [24] = "EMFILE: the fd limit of this process (ulimit -n = " .. helpers.sh("ulimit -n") .. ")",
    [23] = "ENFILE: the system-wide fd limit",
    [28] = "ENOSPC: user.max_user_namespaces = " .. (helpers.read_file("/proc/sys/user/max_user_namespaces")
      or "?"):gsub("\n", "") .. " or another namespace limit",
    [11] = "EAGAIN: a process limit (ulimit -u = " .. helpers.sh("ulimit -u") .. ") or the id-slot pool",
    [12] = "ENOMEM",
  }
  return string.format("sandbox %d of 100 failed to start (%s, errno %s): %s. Limit: %s", made + 1,
    tostring(err and err.code), tostring(err and err.errno), tostring(err),
    hints[err and err.errno or 0] or "unknown")
end

describe("persistent sandboxes leave nothing behind", function()
  teardown(function() helpers.cleanup() end)

  it("after 1000 sequential execs in one sandbox", function()
    local before = snapshot()
    local sb = must(mj.sandbox({}))
    finally(function() if mj.type(sb) == "sandbox" then sb:close() end end)
    local sup = must(sb:info()).supervisor_pid
    local t0 = helpers.now()
    local first = must(sb:exec({ "true" }))
    assert.are.equal(0, first.exit_code)
    local fds_first, nfds_first = fd_list()
    for i = 2, 1000 do
      local res, err = sb:exec({ "true" })
      if not res or res.exit_code ~= 0 then
        error(string.format("exec %d failed: %s", i, tostring(err or res.exit_code)))
      end
    end
    local elapsed = helpers.now() - t0
    io.stdout:write(string.format("[1000 execs in %.2f s] ", elapsed))
    local fds_now, nfds_now
    settle(1, function()
      fds_now, nfds_now = fd_list()
      return nfds_now <= nfds_first and {} or { fds_now }
    end)
    assert.is_true(nfds_now <= nfds_first, "fds grew over 1000 execs: after the first " .. fds_first
      .. " after the last " .. fds_now)
    -- every command was reaped inside: no zombie child of the supervisor, none counted by usage
    local z = settle(2, function() return zombies({ sup }) end)
    assert.are.same({}, z, "zombies in the sandbox: " .. table.concat(z, " "))
    assert.are.equal(0, must(sb:usage()).process_count)
    -- inside: the workload's init and ls itself, nothing else (moonjail's helpers are outside)
    local inside = {}
    for _, e in ipairs(helpers.lines(must(sb:exec({ "ls", "/proc" })).stdout)) do
      if e:match("^%d+$") then inside[#inside + 1] = e end
    end
    assert.is_true(#inside <= 2, "processes inside after 1000 execs: " .. table.concat(inside, " "))
    sb:close()
    assert_clean(before, { sup }, "1000 execs")
  end)

  it("after 100 concurrent sandboxes, each running one exec, all closed", function()
    local before = snapshot()
    local boxes, sups = {}, {}
    finally(function()
      for _, sb in ipairs(boxes) do
        if mj.type(sb) == "sandbox" then sb:close() end
      end
    end)
    local t0 = helpers.now()
    local failure
    for i = 1, 100 do
      local sb, err = mj.sandbox({})
      if not sb then
        failure = explain_limit(err, i - 1)
        break
      end
      boxes[i] = sb
      sups[i] = must(sb:info()).supervisor_pid
    end
    if not failure then
      for i, sb in ipairs(boxes) do
        local res, err = sb:exec({ "echo", tostring(i) })
        if not res or res.stdout ~= i .. "\n" then
          failure = string.format("exec in sandbox %d failed: %s", i, tostring(err or res.stdout))
          break
        end
      end
    end
    assert.are.equal(#boxes, #alive(sups), "supervisors died while their sandboxes were open")
    for _, sb in ipairs(boxes) do sb:close() end
    local elapsed = helpers.now() - t0
    io.stdout:write(string.format("[100 sandboxes in %.2f s] ", elapsed))
    assert(not failure, failure)
    assert_clean(before, sups, "100 sandboxes")
  end)

  it("after 100 streamed processes, half waited and half dropped unwaited", function()
    local before = snapshot()
    local sb = must(mj.sandbox({}))
    finally(function() if mj.type(sb) == "sandbox" then sb:close() end end)
    local sup = must(sb:info()).supervisor_pid
    local n = helpers.unique_number()
    for i = 1, 100 do
      local p = must(sb:spawn({ "sh", "-c", "echo " .. i .. "; exec sleep " .. n }))
      local chunk = must(p:read("stdout", 5))
      assert.are.equal(i .. "\n", chunk)
      if i % 2 == 0 then
        must(p:kill())
        must(p:wait(5))
      end
      p:close()
    end
    collectgarbage()
    local left = settle(3, function()
      local _, pids = helpers.count_processes("sleep " .. n)
      return pids
    end)
    assert.are.same({}, left, "spawned processes outlived their closed handles")
    local z = settle(2, function() return zombies({ sup }) end)
    assert.are.same({}, z, "zombies in the sandbox: " .. table.concat(z, " "))
    sb:close()
    assert_clean(before, { sup }, "100 spawns")
  end)
end)

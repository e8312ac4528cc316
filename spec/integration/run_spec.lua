-- spec/integration/run_spec.lua — one-shot sandboxes through the Lua module's mj.run.
--
-- Covers (each with a real sandbox, root and rootless): a fresh pid namespace with moonjail's
-- supervisor as pid 1; its own host name (default "moonjail", settable); only the planned root
-- (no /root, /home, /srv, /boot; a host canary outside the mounts unreachable); read-only root;
-- writable tmpfs /tmp; ro, rw and tmpfs mounts; no capabilities unless one is asked for;
-- NoNewPrivs; only fds 0-2 open; timeout killing the whole tree including a setsid grandchild;
-- the output cap; stdin delivery; stdout/stderr/combined ordering; exit codes, signals, missing
-- and non-executable binaries, bad config as typed errors; environment (set, and host secrets
-- not leaking); workdir; start/end/duration.
local mj = require "moonjail"
local helpers = require "spec.helpers"

if helpers.skip_unless_sandboxes() then return end

-- Runs cmd and asserts that it ran; returns the result.
local function run(cmd, opts)
  local res, err = mj.run(cmd, opts)
  assert(res, "mj.run failed: " .. tostring(err))
  return res
end

-- Runs a shell snippet that must succeed; returns its stdout.
local function sh_ok(script, opts)
  local res = run(script, opts)
  assert(res.exit_code == 0, string.format("%q exited %d: %s", script, res.exit_code, res.stderr))
  return res.stdout
end

local function ro(src, dst) return { src = src, dst = dst, mode = "ro" } end
local function rw(src, dst) return { src = src, dst = dst, mode = "rw" } end

-- The five capability sets of a /proc/<pid>/status text, as integers.
local function cap_sets(status)
  local sets = {}
  for _, name in ipairs({ "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb" }) do
    local hex = helpers.status_field(status, name)
    assert(hex, "no " .. name .. " in /proc/self/status")
    sets[name] = tonumber(hex, 16)
  end
  return sets
end

local CAP_NET_BIND_SERVICE = 10

describe("mj.run isolation", function()
  teardown(function() helpers.cleanup() end)

  it("runs the command in a fresh pid namespace under moonjail's pid 1", function()
    local out = sh_ok("echo $$; tr '\\0' ' ' </proc/1/cmdline; echo; ls /proc | grep -c '^[0-9]'; "
                      .. "cat /proc/1/comm")
    local lines = helpers.lines(out)
    local pid, init_cmdline, nprocs = tonumber(lines[1]), lines[2] or "", tonumber(lines[3])
    assert.matches("^moonjail", lines[4] or "", nil, false, "pid 1 is not moonjail's init")
    assert.is_truthy(pid)
    assert.are_not.equal(1, pid, "the command itself is pid 1")
    assert.is_falsy(init_cmdline:find("echo $$", 1, true), "pid 1 is the command")
    assert.is_true(nprocs <= 5, "the sandbox sees " .. tostring(nprocs) .. " processes")
  end)

  it("has its own host name, 'moonjail' by default", function()
    local host_before = helpers.read_file("/proc/sys/kernel/hostname")
    assert.are.equal("moonjail\n", sh_ok("cat /proc/sys/kernel/hostname"))
    assert.are.equal("box\n", sh_ok("cat /proc/sys/kernel/hostname", { hostname = "box" }))
    assert.are.equal(host_before, helpers.read_file("/proc/sys/kernel/hostname"))
  end)

  it("shows only the planned root: no /root, /home, /srv or /boot of the host", function()
    local out = sh_ok("ls -a /")
    local names = {}
    for _, n in ipairs(helpers.lines(out)) do names[n] = true end
    for _, hidden in ipairs({ "root", "home", "srv", "boot" }) do
      assert.is_nil(names[hidden], "/" .. hidden .. " is visible inside")
    end
    assert.is_true(names.usr, "/usr is missing inside")
    assert.is_true(names.tmp, "/tmp is missing inside")
  end)

  it("cannot reach a host file outside its mounts", function()
    local dir = helpers.tmpdir()
    local canary = helpers.write_file(dir .. "/canary", "host secret\n")
    local res = run({ "cat", canary })
    assert.are_not.equal(0, res.exit_code)
    assert.is_falsy(res.stdout:find("host secret", 1, true))
    assert.matches("No such file", res.stderr, 1, true)
  end)

  it("has a copy-on-write root: /NAME and /usr/NAME are made inside, never on the host", function()
    local name = "mjspec-" .. helpers.unique_number()
    local res = run("echo root >/" .. name .. " && cat /" .. name .. " && "
      .. "{ echo usr >/usr/" .. name .. " && cat /usr/" .. name .. " || echo denied; }")
    -- a broken sandbox could have created them on the host: remove them before failing
    local leaked = helpers.exists("/" .. name) or helpers.exists("/usr/" .. name)
    os.remove("/" .. name)
    os.remove("/usr/" .. name)
    assert.is_false(leaked, "a write inside the sandbox reached the host")
    assert.are.equal(0, res.exit_code, res.stderr)
    assert.are.equal("root\nusr\n", res.stdout)
    -- as root, the host's /usr shows as the sandbox root's (idmapped) down to /usr/local; rootless
    -- what the host's root owns below the layer's top stays unwritable
    res = run("touch /usr/local/" .. name .. " 2>/dev/null && echo made || echo denied")
    leaked = helpers.exists("/usr/local/" .. name)
    os.remove("/usr/local/" .. name)
    assert.is_false(leaked, "a write inside the sandbox reached the host's /usr/local")
    assert.are.equal(helpers.is_root() and "made\n" or "denied\n", res.stdout)
    -- nothing of it is left for the next sandbox
    res = run("test -e /" .. name .. " || test -e /usr/" .. name .. " || echo gone")
    assert.are.equal("gone\n", res.stdout)
  end)

  it("has a read-only root when the policy says so: /newfile and /usr/... cannot be created", function()
    local readonly = { policy = { extends = "default", filesystem = { readonly_root = true } } }
    local name = "mjspec-" .. helpers.unique_number()
    local res = run("true >/" .. name .. " || exit 10; exit 0", readonly)
    assert.are.equal(10, res.exit_code, "/" .. name .. " was created")
    res = run("true >/usr/" .. name .. " || exit 10; exit 0", readonly)
    -- a broken sandbox could have created it on the host: remove it before failing
    if helpers.exists("/usr/" .. name) then os.remove("/usr/" .. name) end
    assert.are.equal(10, res.exit_code, "/usr/" .. name .. " was created")
  end)

  it("has a writable tmpfs at /tmp", function()
    local out = sh_ok("echo hi >/tmp/f && cat /tmp/f && stat -f -c %T /tmp")
    assert.are.equal("hi\ntmpfs\n", out)
  end)

  it("mounts a host directory read-only: visible, not writable", function()
    local dir = helpers.tmpdir()
    helpers.write_file(dir .. "/data", "ro data\n", "0644")
    local res = run("cat /mnt/ro/data; true >/mnt/ro/new && echo WROTE; true >>/mnt/ro/data && echo APPENDED",
                    { mounts = { ro(dir, "/mnt/ro") } })
    assert.are.equal("ro data\n", res.stdout)
    assert.is_false(helpers.exists(dir .. "/new"))
    assert.are.equal("ro data\n", helpers.read_file(dir .. "/data"))
  end)

  it("mounts a host directory read-write: the write is visible on the host", function()
    local dir = helpers.tmpdir("0777")
    local out = sh_ok("echo from-inside >/mnt/rw/out && cat /mnt/rw/out",
                      { mounts = { rw(dir, "/mnt/rw") } })
    assert.are.equal("from-inside\n", out)
    assert.are.equal("from-inside\n", helpers.read_file(dir .. "/out"))
  end)

  it("mounts a fresh writable tmpfs where asked", function()
    local out = sh_ok("echo x >/scratch/f && cat /scratch/f && stat -f -c %T /scratch",
                      { mounts = { { type = "tmpfs", dst = "/scratch" } } })
    assert.are.equal("x\ntmpfs\n", out)
  end)

  it("gives the command no capabilities", function()
    local sets = cap_sets(sh_ok("cat /proc/self/status"))
    for name, v in pairs(sets) do
      assert.are.equal(0, v, name .. " is not empty")
    end
  end)

  it("keeps a capability the policy adds, and only that one", function()
    local policy = { extends = "default", capabilities = { add = { "CAP_NET_BIND_SERVICE" } } }
    local sets = cap_sets(sh_ok("cat /proc/self/status", { policy = policy }))
    assert.are.equal(1 << CAP_NET_BIND_SERVICE, sets.CapBnd)
    assert.are.equal(1 << CAP_NET_BIND_SERVICE, sets.CapEff)
  end)

  it("sets no_new_privs", function()
    local status = sh_ok("cat /proc/self/status")
    assert.are.equal("1", helpers.status_field(status, "NoNewPrivs"))
  end)

  it("has no network interface but loopback by default", function()
    local out = sh_ok("cat /proc/net/dev")
    local ifaces = {}
    for name in out:gmatch("\n%s*([%w%.%-_@]+):") do ifaces[#ifaces + 1] = name end
    assert.are.same({ "lo" }, ifaces)
  end)

  it("runs as the user given, still without capabilities #root", function()
    -- rootless, only the caller's own id is mapped: uid 1000 does not exist inside
    if not helpers.is_root() then pending("needs root: rootless maps a single id") return end
    local out = sh_ok("id -u; id -g; cat /proc/self/status", { user = "1000:1000" })
    local lines = helpers.lines(out)
    assert.are.equal("1000", lines[1])
    assert.are.equal("1000", lines[2])
    for name, v in pairs(cap_sets(out)) do
      assert.are.equal(0, v, name .. " is not empty")
    end
  end)

  it("opens only fds 0, 1 and 2 for the command", function()
    -- ls opens /proc/self/fd itself: that one fd (pointing at its own fd dir) is allowed.
    local out = sh_ok("exec ls -l /proc/self/fd")
    local fds = {}
    for fd, target in out:gmatch("\n[^\n]- (%d+) %-> ([^\n]*)") do
      fds[#fds + 1] = fd
      if tonumber(fd) > 2 then
        assert.matches("^/proc/%d+/fd$", target, nil, false,
                       "fd " .. fd .. " is open to " .. target)
      end
    end
    assert.is_true(#fds >= 3 and #fds <= 4, "open fds: " .. table.concat(fds, ","))
    assert.are.same({ "0", "1", "2" }, { fds[1], fds[2], fds[3] })
  end)
end)

describe("mj.run process control", function()
  teardown(function() helpers.cleanup() end)

  it("kills the whole tree, setsid grandchild included, when the timeout passes", function()
    local n = helpers.unique_number()
    local pattern = "sleep " .. n
    local t0 = helpers.now()
    local res = run(string.format("sleep %d & setsid sleep %d & wait", n, n), { timeout = 1 })
    local elapsed = helpers.now() - t0
    assert.are.equal("timeout", res.ended_by)
    assert.are.equal(124, res.exit_code)
    assert.is_false(res.success)
    assert.is_true(elapsed < 3, string.format("mj.run returned after %.2f s", elapsed))
    local left, pids = helpers.count_processes(pattern)
    assert.are.equal(0, left, "left running on the host: " .. table.concat(pids, " "))
  end)

  it("accepts a duration string as timeout", function()
    local res = run("sleep 30", { timeout = "500ms" })
    assert.are.equal("timeout", res.ended_by)
    assert.is_true(res.duration < 2.5)
  end)

  it("stops a flood at the output cap", function()
    local res = run("yes", { output_limit = 4096, timeout = 10 })
    assert.are.equal("output_limit", res.ended_by)
    assert.is_false(res.success)
    assert.is_true(#res.stdout > 0)
    assert.is_true(#res.stdout + #res.stderr <= 4096,
                   "captured " .. (#res.stdout + #res.stderr) .. " bytes")
  end)

  it("delivers stdin", function()
    assert.are.equal("hello\n", run({ "cat" }, { stdin = "hello\n" }).stdout)
  end)

  it("delivers a large stdin while reading a large stdout", function()
    local data = string.rep("0123456789abcdef", 64 * 1024) -- 1 MiB
    local res = run({ "cat" }, { stdin = data })
    assert.are.equal(0, res.exit_code)
    assert.is_true(res.stdout == data, "stdout differs from stdin (" .. #res.stdout .. " bytes)")
  end)

  it("gives an empty stdin when none is given", function()
    assert.are.equal("0\n", run("wc -c", { timeout = 5 }).stdout)
  end)

  it("keeps stdout, stderr and their combined order apart", function()
    local res = run("echo a; sleep 0.1; echo b >&2; sleep 0.1; echo c")
    assert.are.equal("a\nc\n", res.stdout)
    assert.are.equal("b\n", res.stderr)
    assert.are.equal("a\nb\nc\n", res.combined)
  end)

  it("passes argv words through unsplit", function()
    assert.are.equal("a  b|c\n", run({ "printf", "%s|%s\n", "a  b", "c" }).stdout)
  end)

  it("reports a zero exit as success", function()
    local res = run({ "true" })
    assert.are.equal(0, res.exit_code)
    assert.is_true(res.success)
    assert.are.equal("exit", res.ended_by)
  end)

  it("reports a non-zero exit", function()
    local res = run("exit 3")
    assert.are.equal(3, res.exit_code)
    assert.is_false(res.success)
    assert.are.equal("exit", res.ended_by)
    assert.is_true(res.signal == nil or res.signal == 0)
  end)

  it("reports death by signal as 128+N", function()
    local res = run("kill -TERM $$")
    assert.are.equal(15, res.signal)
    assert.are.equal(143, res.exit_code)
    assert.are.equal("signal", res.ended_by)
    assert.is_false(res.success)
  end)

  it("returns COMMAND_EXECUTION_FAILED with ENOENT for a missing binary", function()
    for _, cmd in ipairs({ { "/nonexistent/mjspec-bin" }, { "mjspec-no-such-command" } }) do
      local res, err = mj.run(cmd)
      assert.is_nil(res)
      assert.is_true(mj.is_error(err))
      assert.are.equal("COMMAND_EXECUTION_FAILED", err.code)
      assert.are.equal(2, err.errno)
    end
  end)

  it("returns COMMAND_EXECUTION_FAILED with EACCES for a non-executable file", function()
    local dir = helpers.tmpdir()
    helpers.write_file(dir .. "/script", "#!/bin/sh\necho ran\n", "0644")
    local res, err = mj.run({ "/mnt/x/script" }, { mounts = { ro(dir, "/mnt/x") } })
    assert.is_nil(res)
    assert.are.equal("COMMAND_EXECUTION_FAILED", err.code)
    assert.are.equal(13, err.errno)
  end)

  it("returns INVALID_CONFIG for a mount source that does not exist", function()
    local res, err = mj.run({ "true" }, { mounts = { ro("/nonexistent/mjspec-src", "/mnt/x") } })
    assert.is_nil(res)
    assert.is_true(mj.is_error(err))
    assert.are.equal("INVALID_CONFIG", err.code)
    assert.matches("/nonexistent/mjspec-src", err.message, 1, true)
  end)

  it("returns INVALID_CONFIG for a bad timeout", function()
    local res, err = mj.run({ "true" }, { timeout = "soon" })
    assert.is_nil(res)
    assert.are.equal("INVALID_CONFIG", err.code)
  end)
end)

describe("mj.run environment", function()
  teardown(function() helpers.cleanup() end)

  it("sets the variables given in env", function()
    assert.are.equal("bar\n", run("echo $FOO", { env = { FOO = "bar" } }).stdout)
  end)

  it("does not leak the caller's environment", function()
    local dir = helpers.tmpdir()
    local script = helpers.write_file(dir .. "/leak.lua", [[
      local mj = require "moonjail"
      local res = assert(mj.run("echo ${MJ_SECRET-unset}"))
      io.write(res.stdout)
    ]])
    local r = helpers.cli({ "script", script }, { env = { MJ_SECRET = "hunter2" } })
    assert.are.equal(0, r.status, r.stderr)
    assert.are.equal("unset\n", r.stdout)
  end)

  it("runs in the workdir given", function()
    assert.are.equal("/tmp\n", run({ "pwd" }, { workdir = "/tmp" }).stdout)
    assert.are.equal("/\n", run({ "pwd" }).stdout)
  end)

  it("reports start, end and duration consistently", function()
    local before = helpers.now()
    local res = run("sleep 0.2")
    local after = helpers.now()
    assert.is_true(res.start_time <= res.end_time)
    assert.is_true(res.start_time >= before - 60, "start_time is before the call") -- stepped clocks
    assert.is_true(res.end_time <= after + 60, "end_time is after the call returned")
    -- duration comes from the monotonic clock, so it holds even when the wall clock is stepped
    assert.is_true(res.duration >= 0.2 and res.duration < 5, "duration " .. res.duration)
  end)

  it("returns the result fields of the pinned interface", function()
    local res = run({ "true" })
    for _, field in ipairs({ "exit_code", "success", "stdout", "stderr", "combined", "start_time",
                             "end_time", "duration", "ended_by", "process_id", "resource_usage" }) do
      assert.is_not_nil(res[field], "result lacks " .. field)
    end
    assert.is_true(res.process_id > 1)
  end)
end)

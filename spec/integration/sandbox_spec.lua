-- spec/integration/sandbox_spec.lua — persistent sandboxes through the Lua module (mj.sandbox).
--
-- Walks the whole reference interface (ExecutionSandbox in execution-sandbox_test.go) with real
-- sandboxes, root and rootless: Initialize from a config (hostname, env, workdir, user, labels,
-- annotations, limits, mounts); ExecuteCommand (exec: every result field, per-command env,
-- workdir, stdin, timeout; state kept between commands); streaming (spawn: read, write,
-- close_stdin, wait, kill, pid); signal; CopyFiles host -> sandbox (a file and a tree, modes
-- kept) and copy_out; WriteFile with a mode number and an octal string; ReadFile; ListFiles
-- with every FileInfo field compared with what stat(1) says inside; Get/SetWorkingDirectory;
-- Get/SetEnvironment; GetResourceUsage (every field present and sane, cpu_time growing,
-- process_count counting a background sleep); GetInfo (every SandboxInfo field); pause/resume
-- (a paused counter stands still, files stay readable; where cgroups are used only the commands'
-- <id>/work is frozen, so the supervisor still writes files); Cleanup (close, <close>, __gc).
-- Status transitions observable from outside: running -> paused -> running -> stopped ->
-- destroyed, and failed when the supervisor is SIGKILLed from the host.  Illegal transitions
-- and every error code the interface can produce are checked for code, "Base text: detail"
-- message and retryable.
local mj = require "moonjail"
local helpers = require "spec.helpers"

if helpers.skip_unless_sandboxes() then return end

local SIGKILL, SIGTERM = 9, 15
local ENOENT = 2

-- Every sandbox a test made, closed in teardown whatever happened (weak: __gc tests need the
-- sandbox to become garbage).
local made = setmetatable({}, { __mode = "k" })

local function close_all()
  for sb in pairs(made) do
    if mj.type(sb) == "sandbox" then pcall(sb.close, sb) end
    made[sb] = nil
  end
end

-- Creates a sandbox that must start; registered for cleanup.
local function new_sandbox(opts)
  local sb, err = mj.sandbox(opts or {})
  assert(sb, "mj.sandbox failed: " .. tostring(err))
  made[sb] = true
  return sb
end

-- Asserts that a call returned a non-nil, non-false first value; returns it.
local function ok(v, err)
  if v == nil or v == false then error("operation failed: " .. tostring(err), 2) end
  return v
end

-- Runs cmd in sb, asserts it ran and exited 0; returns stdout.
local function sh_ok(sb, cmd, opts)
  local res, err = sb:exec(cmd, opts)
  assert(res, "exec failed: " .. tostring(err))
  assert(res.exit_code == 0, string.format("%s exited %s: %s", type(cmd) == "string" and cmd
    or table.concat(cmd, " "), tostring(res.exit_code), tostring(res.stderr)))
  return res.stdout
end

-- Asserts err is a moonjail error with this code, a "Base text: detail" message (the base
-- text is the code's own, as tostring(mj.error(code)) gives it), a boolean retryable flag (the
-- expected one when given) and tostring equal to the message.
local function assert_error(err, code, retryable)
  assert.is_true(mj.is_error(err), "not a moonjail error: " .. tostring(err))
  assert.are.equal(code, err.code, "wrong code for: " .. tostring(err))
  local base = tostring(mj.error(code))
  local text = tostring(err)
  assert.are.equal(err.message, text)
  assert.is_true(text:sub(1, #base + 2) == base .. ": " and #text > #base + 2,
    "message is not '" .. base .. ": <detail>': " .. text)
  assert.are.equal("boolean", type(err.retryable))
  if retryable ~= nil then assert.are.equal(retryable, err.retryable, text) end
  return err
end

-- Asserts that a call returned nil, err with this code; returns err.
local function assert_fails(code, v, err, retryable)
  assert.is_nil(v, "expected " .. code .. ", the call succeeded")
  return assert_error(err, code, retryable)
end

local eventually = helpers.eventually

-- The platform name the reference uses ("linux/amd64").
local function host_platform()
  local m = helpers.sh("uname -m")
  local arch = ({ x86_64 = "amd64", aarch64 = "arm64" })[m] or m
  return "linux/" .. arch
end

-- Reads everything a spawned process writes until both streams end (bounded).
local function read_all(p, seconds)
  local out, err_out = {}, {}
  local deadline = helpers.now() + (seconds or 5)
  while true do
    local left = deadline - helpers.now()
    assert(left > 0, "the process's output did not end in time")
    local chunk, stream = p:read(nil, left)
    if chunk == nil then
      assert(stream == nil, "read failed: " .. tostring(stream))
      break
    end
    if stream == "stderr" then err_out[#err_out + 1] = chunk else out[#out + 1] = chunk end
  end
  return table.concat(out), table.concat(err_out)
end

-- CPUs of the host: no CPU percentage can pass 100 per CPU (plus the clock tick's rounding).
local NCPU = tonumber(helpers.sh("nproc")) or 1
local MAX_CPU_PERCENT = 100 * NCPU + 5

-- The user the sandbox's commands run as when root (rootless maps only the caller's id).
local USER = helpers.is_root() and "1000:1000" or nil

-- ---------------------------------------------------------------------------------------

describe("mj.sandbox initialized from a config", function()
  local sb, host_dir, t_created

  setup(function()
    host_dir = helpers.tmpdir()
    helpers.write_file(host_dir .. "/data", "ro data\n", "0644")
    t_created = os.time()
    sb = new_sandbox({
      hostname = "mjbox",
      env = { MJ_A = "1", MJ_B = "two words" },
      workdir = "/work",
      user = USER,
      labels = { app = "chorus", version = "1.0.0" },
      annotations = { description = "sandbox spec" },
      limits = { nofile = 512 },
      mounts = {
        { src = host_dir, dst = "/mnt/ro", mode = "ro" },
        { type = "tmpfs", dst = "/work" },
      },
    })
  end)
  teardown(function() close_all() helpers.cleanup() end)

  it("uses the host name given", function()
    assert.are.equal("mjbox\n", sh_ok(sb, "cat /proc/sys/kernel/hostname"))
  end)

  it("gives every command the sandbox's environment", function()
    assert.are.equal("1|two words", sh_ok(sb, 'printf "%s|%s" "$MJ_A" "$MJ_B"'))
  end)

  it("starts commands in the workdir given", function()
    assert.are.equal("/work", sb:workdir())
    assert.are.equal("/work\n", sh_ok(sb, "pwd"))
  end)

  it("runs commands as the user given", function()
    local lines = helpers.lines(sh_ok(sb, "id -u; id -g"))
    if USER then
      assert.are.same({ "1000", "1000" }, lines)
    else
      assert.are.same({ "0", "0" }, lines)
    end
  end)

  it("applies the limits given", function()
    assert.are.equal("512\n", sh_ok(sb, "ulimit -n"))
  end)

  it("mounts a host directory read-only and a tmpfs read-write", function()
    assert.are.equal("ro data\n", sh_ok(sb, "cat /mnt/ro/data"))
    local res = ok(sb:exec("echo x >/mnt/ro/new"))
    assert.are_not.equal(0, res.exit_code)
    assert.is_false(helpers.exists(host_dir .. "/new"))
    assert.are.equal("tmpfs\n", sh_ok(sb, "stat -f -c %T /work"))
  end)

  it("reports labels, annotations, host name and limits in info", function()
    local info = ok(sb:info())
    assert.are.same({ app = "chorus", version = "1.0.0" }, info.labels)
    assert.are.same({ description = "sandbox spec" }, info.annotations)
    assert.are.equal("mjbox", info.hostname)
    assert.are.equal("table", type(info.allocated_resources))
    assert.are.equal(512, info.allocated_resources.file_limit)
    assert.is_true(info.created_at >= t_created - 1)
  end)
end)

describe("Sandbox:exec", function()
  local sb
  setup(function() sb = new_sandbox() end)
  teardown(function() close_all() helpers.cleanup() end)

  it("returns a result with every field of the reference's CommandResult", function()
    local before = os.time()
    local res = ok(sb:exec({ "sh", "-c", "echo out; echo err >&2; exit 3" }))
    assert.are.equal(3, res.exit_code)
    assert.is_false(res.success)
    assert.are.equal(0, res.signal)
    assert.are.equal("out\n", res.stdout)
    assert.are.equal("err\n", res.stderr)
    assert.is_truthy(res.combined == "out\nerr\n" or res.combined == "err\nout\n", res.combined)
    assert.are.equal("exit", res.ended_by)
    assert.are.equal("number", type(res.start_time))
    -- wall-clock epoch seconds (not a monotonic reading); generous: this host's clock is stepped
    assert.is_true(res.start_time >= before - 60 and res.start_time <= os.time() + 60, tostring(res.start_time))
    assert.is_true(res.end_time >= res.start_time)
    -- duration is measured on the monotonic clock (start/end are wall-clock stamps, which a
    -- stepped clock can move): never negative, and a trivial command's is short
    assert.is_true(res.duration >= 0 and res.duration < 30, tostring(res.duration))
    assert.are.equal("table", type(res.resource_usage))
    assert.are.equal("number", type(res.resource_usage.cpu_time))
    assert.is_true(math.type(res.process_id) == "integer" and res.process_id > 1)
    assert.are.equal("table", type(res.metadata))
    local good = ok(sb:exec({ "true" }))
    assert.are.equal(0, good.exit_code)
    assert.is_true(good.success)
  end)

  it("runs a string through /bin/sh -c", function()
    assert.are.equal("a b\n", sh_ok(sb, "echo a   b"))
  end)

  it("reports a command killed by a signal", function()
    local res = ok(sb:exec("kill -TERM $$"))
    assert.are.equal(SIGTERM, res.signal)
    assert.are.equal(128 + SIGTERM, res.exit_code)
    assert.are.equal("signal", res.ended_by)
    assert.is_false(res.success)
  end)

  it("keeps state between commands: a file written by one is read by the next", function()
    sh_ok(sb, "echo kept >/tmp/state")
    assert.are.equal("kept\n", sh_ok(sb, "cat /tmp/state"))
  end)

  it("runs every command in the same sandbox but as a new process", function()
    local a = ok(sb:exec("echo $$"))
    local b = ok(sb:exec("echo $$"))
    assert.are_not.equal(a.process_id, b.process_id)
    -- the same supervisor is pid 1 for both
    local p1a, p1b = sh_ok(sb, "stat -c %Y /proc/1"), sh_ok(sb, "stat -c %Y /proc/1")
    assert.are.equal(p1a, p1b)
  end)

  it("takes per-command env, workdir, stdin and timeout", function()
    local out = sh_ok(sb, 'printf "%s|" "$MJ_X"; pwd; cat', { env = { MJ_X = "per-cmd" }, workdir = "/tmp",
      stdin = "from stdin" })
    assert.are.equal("per-cmd|/tmp\nfrom stdin", out)
    assert.is_nil(sb:env().MJ_X, "a command's env leaked into the sandbox's")
    local t0 = helpers.now()
    local res = ok(sb:exec({ "sleep", "30" }, { timeout = 0.5 }))
    assert.are.equal("timeout", res.ended_by)
    assert.are.equal(124, res.exit_code)
    assert.is_true(helpers.now() - t0 < 3)
  end)

  it("keeps a background process the command leaves behind running", function()
    local n = helpers.unique_number()
    sh_ok(sb, string.format("sleep %d >/dev/null 2>&1 &", n))
    assert.are.equal(1, (helpers.count_processes("sleep " .. n)))
    ok(sb:signal(SIGKILL))
    assert.is_truthy(eventually(2, function() return helpers.count_processes("sleep " .. n) == 0 end))
  end)

  it("still works after a command that was not found", function()
    local res, err = sb:exec({ "mjspec-no-such-command" })
    assert_fails("COMMAND_EXECUTION_FAILED", res, err)
    assert.are.equal(ENOENT, err.errno)
    assert.are.equal("ok\n", sh_ok(sb, "echo ok"))
  end)

  it("raises on misuse", function()
    assert.has_error(function() sb:exec(42) end)
    assert.has_error(function() sb:exec({}) end)
    assert.has_error(function() sb:exec("true", { mjspec_bogus = 1 }) end)
  end)
end)

describe("Sandbox:spawn", function()
  local sb
  setup(function() sb = new_sandbox() end)
  teardown(function() close_all() helpers.cleanup() end)

  it("streams stdin and stdout, then waits for the result", function()
    local p = ok(sb:spawn({ "cat" }))
    local pid = p:pid()
    assert.is_true(math.type(pid) == "integer" and pid > 1)
    ok(p:write("hello\n"))
    ok(p:write("world\n"))
    p:close_stdin()
    local out = read_all(p)
    assert.are.equal("hello\nworld\n", out)
    local res = ok(p:wait())
    assert.are.equal(0, res.exit_code)
    assert.is_true(res.success)
    assert.are.equal(pid, res.process_id)
  end)

  it("reads stdout and stderr apart", function()
    local p = ok(sb:spawn("echo out; echo err >&2"))
    local out, err_out = read_all(p)
    assert.are.equal("out\n", out)
    assert.are.equal("err\n", err_out)
    assert.are.equal(0, ok(p:wait()).exit_code)
  end)

  it("keeps the output nobody read: wait() returns it (echo, and cat fed through stdin)", function()
    local p = ok(sb:spawn({ "sh", "-c", "echo hi" }))
    local res = ok(p:wait(10))
    assert.are.equal("hi\n", res.stdout)
    assert.are.equal("hi\n", res.combined)
    p = ok(sb:spawn({ "cat" }))
    ok(p:write("fed\n"))
    p:close_stdin()
    res = ok(p:wait(10))
    assert.are.equal("fed\n", res.stdout)
  end)

  it("keeps 1 MiB on stdout and 1 MiB on stderr that nobody read, whole and combined in arrival order", function()
    local MiB = 1024 * 1024
    -- distinct bytes per stream, so combined can be split back into both in order
    local p = ok(sb:spawn({ "sh", "-c", "head -c 1048576 /dev/zero | tr '\\0' o & "
      .. "head -c 1048576 /dev/zero | tr '\\0' e >&2; wait" }))
    local res = ok(p:wait(30))
    assert.are.equal(0, res.exit_code)
    assert.are.equal(MiB, #res.stdout)
    assert.are.equal(MiB, #res.stderr)
    assert.are.equal(string.rep("o", MiB), res.stdout)
    assert.are.equal(string.rep("e", MiB), res.stderr)
    assert.are.equal(2 * MiB, #res.combined)
    assert.are.equal(res.stdout, (res.combined:gsub("e", "")))
    assert.are.equal(res.stderr, (res.combined:gsub("o", "")))
    assert.is_false(res.output_truncated)
  end)

  it("keeps what read() did not take: the rest of the output comes with wait()", function()
    local p = ok(sb:spawn({ "sh", "-c", "echo first; sleep 0.3; echo second; echo third >&2" }))
    local chunk, stream = p:read("stdout", 5)
    assert.are.equal("first\n", chunk)
    assert.are.equal("stdout", stream)
    local res = ok(p:wait(10))
    assert.are.equal("second\n", res.stdout)
    assert.are.equal("third\n", res.stderr)
    assert.is_nil(p:read()) -- wait took the rest: the streams are at their end
  end)

  it("ends a process that nobody reads at its output limit", function()
    local p = ok(sb:spawn({ "sh", "-c", "head -c 300000 /dev/zero" }, { output_limit = 100000 }))
    local res = ok(p:wait(30))
    assert.are.equal("output_limit", res.ended_by)
    assert.is_true(res.output_truncated)
    assert.are.equal(100000, #res.stdout)
  end)

  it("kills a running process with a signal", function()
    local p = ok(sb:spawn({ "sleep", "100" }))
    ok(p:kill(SIGTERM))
    local res = ok(p:wait(5))
    assert.are.equal(SIGTERM, res.signal)
    assert.are.equal(128 + SIGTERM, res.exit_code)
    assert.are.equal("signal", res.ended_by)
  end)

  it("kills the whole tree when no signal is given", function()
    local n = helpers.unique_number()
    local p = ok(sb:spawn(string.format("sleep %d & sleep %d; wait", n, n + 1)))
    -- the shell's own command line holds the pattern too: it and the sleep
    assert.is_truthy(eventually(2, function() return helpers.count_processes("sleep " .. n) >= 1 end))
    ok(p:kill())
    ok(p:wait(5))
    assert.is_truthy(eventually(2, function()
      return helpers.count_processes("sleep " .. n) == 0 and helpers.count_processes("sleep " .. n + 1) == 0
    end), "the spawned tree survived kill()")
  end)

  it("times out a wait with a TIMEOUT error, then still waits", function()
    local p = ok(sb:spawn({ "sleep", "0.7" }))
    local t0 = helpers.now()
    local res, err = p:wait(0.2)
    assert_fails("TIMEOUT", res, err)
    assert.is_true(helpers.now() - t0 < 0.6)
    res = ok(p:wait(5))
    assert.are.equal(0, res.exit_code)
  end)

  it("refuses to write after stdin was closed", function()
    local p = ok(sb:spawn({ "cat" }))
    p:close_stdin()
    local v, err = p:write("late")
    assert.is_nil(v)
    assert.is_true(mj.is_error(err))
    read_all(p)
    ok(p:wait(5))
  end)
end)

describe("Sandbox files", function()
  local sb, owner, group, host
  setup(function()
    sb = new_sandbox({ user = USER, mounts = { { type = "tmpfs", dst = "/work" } }, workdir = "/work" })
    local lines = helpers.lines(sh_ok(sb, "id -un 2>/dev/null || id -u; id -gn 2>/dev/null || id -g"))
    owner, group = lines[1], lines[2]
    host = helpers.tmpdir()
  end)
  teardown(function() close_all() helpers.cleanup() end)

  -- What stat(1) says inside about path: size, octal mode, owner, group, mtime, ls-style string.
  local function stat_inside(path)
    local out = sh_ok(sb, { "stat", "-c", "%s|%a|%U|%G|%Y|%A|%F", path })
    local size, mode, u, g, mtime, perms, kind = out:match("^(%d+)|(%d+)|([^|]+)|([^|]+)|(%d+)|([^|]+)|([^\n]+)")
    return { size = tonumber(size), mode = tonumber(mode, 8), owner = u, group = g, mod_time = tonumber(mtime),
      permissions = perms, is_dir = kind == "directory" }
  end

  it("writes a file with a mode number and one with an octal string, then reads them back", function()
    ok(sb:write_file("/work/a.txt", "alpha\n", 420)) -- 0644
    ok(sb:write_file("/work/b.bin", "b\0e\255ta", "0600"))
    ok(sb:write_file("/work/c.sh", "#!/bin/sh\necho ran\n", "0755"))
    assert.are.equal("alpha\n", ok(sb:read_file("/work/a.txt")))
    assert.are.equal("b\0e\255ta", ok(sb:read_file("/work/b.bin")))
    assert.are.equal("644\n", sh_ok(sb, "stat -c %a /work/a.txt"))
    assert.are.equal("600\n", sh_ok(sb, "stat -c %a /work/b.bin"))
    assert.are.equal("ran\n", sh_ok(sb, "/work/c.sh"))
    assert.are.equal(owner .. "\n", sh_ok(sb, "stat -c %U /work/a.txt"))
  end)

  it("overwrites a file, truncating it", function()
    ok(sb:write_file("/work/trunc", "a long first version\n"))
    ok(sb:write_file("/work/trunc", "short"))
    assert.are.equal("short", ok(sb:read_file("/work/trunc")))
  end)

  it("sees a file a command wrote, and a command sees a file write_file wrote", function()
    sh_ok(sb, "printf from-cmd >/work/from-cmd")
    assert.are.equal("from-cmd", ok(sb:read_file("/work/from-cmd")))
    ok(sb:write_file("/work/from-api", "from-api"))
    assert.are.equal("from-api", sh_ok(sb, "cat /work/from-api"))
  end)

  it("creates the missing parent directories of write_file: 0755, owned by the sandbox's user", function()
    ok(sb:write_file("/work/p/q/r.txt", "deep"))
    assert.are.equal("deep", ok(sb:read_file("/work/p/q/r.txt")))
    for _, d in ipairs({ "/work/p", "/work/p/q" }) do
      local st = stat_inside(d)
      assert.is_true(st.is_dir, d)
      assert.are.equal(tonumber("755", 8), st.mode, d)
      assert.are.equal(owner, st.owner, d)
    end
    -- a component that exists and is no directory stays an error
    ok(sb:write_file("/work/plainfile", "x"))
    local v, err = sb:write_file("/work/plainfile/sub/f", "y")
    assert_fails("FILE_OPERATION_FAILED", v, err, false)
  end)

  it("creates the missing parent directories of copy_files' destination", function()
    helpers.write_file(host .. "/parented.txt", "parented\n", "0644")
    ok(sb:copy_files(host .. "/parented.txt", "/work/made/for/it.txt"))
    assert.are.equal("parented\n", ok(sb:read_file("/work/made/for/it.txt")))
    assert.are.equal(tonumber("755", 8), stat_inside("/work/made/for").mode)
    assert.are.equal(owner, stat_inside("/work/made").owner)
  end)

  it("lists a directory with every FileInfo field matching stat inside", function()
    sh_ok(sb, "mkdir -p /work/list/sub && chmod 0750 /work/list/sub")
    ok(sb:write_file("/work/list/f.txt", string.rep("x", 1024), "0644"))
    ok(sb:write_file("/work/list/secret", "s", "0600"))
    local t_now = os.time()
    local list = ok(sb:list_files("/work/list"))
    assert.are.equal(3, #list)
    local names = {}
    for i, fi in ipairs(list) do names[i] = fi.name end
    assert.are.same({ "f.txt", "secret", "sub" }, names) -- sorted by name
    local expect_perms = { ["f.txt"] = "-rw-r--r--", secret = "-rw-------", sub = "drwxr-x---" }
    local expect_mode = { ["f.txt"] = 420, secret = 384, sub = 488 }
    for _, fi in ipairs(list) do
      local path = "/work/list/" .. fi.name
      local st = stat_inside(path)
      assert.are.equal(path, fi.path)
      assert.are.equal(st.size, fi.size, fi.name .. " size")
      assert.are.equal(expect_mode[fi.name], fi.mode, fi.name .. " mode")
      assert.are.equal(st.mode, fi.mode, fi.name .. " mode vs stat")
      assert.are.equal(st.is_dir, fi.is_dir, fi.name .. " is_dir")
      assert.are.equal(owner, fi.owner, fi.name .. " owner")
      assert.are.equal(group, fi.group, fi.name .. " group")
      assert.are.equal(st.owner, fi.owner)
      assert.are.equal(st.group, fi.group)
      assert.are.equal(expect_perms[fi.name], fi.permissions, fi.name .. " permissions")
      assert.are.equal(st.permissions, fi.permissions)
      assert.are.equal("number", type(fi.mod_time))
      assert.is_true(math.abs(fi.mod_time - st.mod_time) < 1.01, fi.name .. " mod_time vs stat")
      assert.is_true(math.abs(fi.mod_time - t_now) < 30, fi.name .. " mod_time is not near now")
    end
    assert.are.equal(1024, list[1].size)
  end)

  it("lists a single file as one entry", function()
    ok(sb:write_file("/work/single", "12345", "0640"))
    local list = ok(sb:list_files("/work/single"))
    assert.are.equal(1, #list)
    assert.are.equal("single", list[1].name)
    assert.are.equal("/work/single", list[1].path)
    assert.are.equal(5, list[1].size)
    assert.are.equal("-rw-r-----", list[1].permissions)
    assert.is_false(list[1].is_dir)
  end)

  it("copies a host file into the sandbox, mode kept", function()
    helpers.write_file(host .. "/tool.sh", "#!/bin/sh\necho tool\n", "0750")
    ok(sb:copy_files(host .. "/tool.sh", "/work/tool.sh"))
    assert.are.equal("tool\n", sh_ok(sb, "/work/tool.sh"))
    local st = stat_inside("/work/tool.sh")
    assert.are.equal(tonumber("750", 8), st.mode)
    assert.are.equal(owner, st.owner)
  end)

  it("copies a host directory tree into the sandbox, modes kept", function()
    local tree = host .. "/tree"
    os.execute("mkdir -p " .. tree .. "/a/b " .. tree .. "/priv")
    helpers.write_file(tree .. "/top.txt", "top\n", "0644")
    helpers.write_file(tree .. "/a/b/deep.sh", "#!/bin/sh\necho deep\n", "0755")
    helpers.write_file(tree .. "/priv/key", "k\n", "0600")
    helpers.chmod(tree .. "/priv", "0700")
    ok(sb:copy_files(tree, "/work/tree"))
    assert.are.equal("top\n", ok(sb:read_file("/work/tree/top.txt")))
    assert.are.equal("deep\n", sh_ok(sb, "/work/tree/a/b/deep.sh"))
    assert.are.equal("k\n", ok(sb:read_file("/work/tree/priv/key")))
    assert.are.equal(tonumber("755", 8), stat_inside("/work/tree/a/b/deep.sh").mode)
    assert.are.equal(tonumber("600", 8), stat_inside("/work/tree/priv/key").mode)
    assert.are.equal(tonumber("700", 8), stat_inside("/work/tree/priv").mode)
    assert.are.equal(tonumber("644", 8), stat_inside("/work/tree/top.txt").mode)
  end)

  it("copies into an existing directory as cp does: the source goes inside", function()
    helpers.write_file(host .. "/into.txt", "into\n", "0644")
    sh_ok(sb, "mkdir -p /work/dest")
    ok(sb:copy_files(host .. "/into.txt", "/work/dest"))
    assert.are.equal("into\n", ok(sb:read_file("/work/dest/into.txt")))
  end)

  it("copies a sandbox file and a tree out to the host, modes kept", function()
    sh_ok(sb, "mkdir -p /work/out/d && printf one >/work/out/one && chmod 0640 /work/out/one && "
              .. "printf two >/work/out/d/two && chmod 0755 /work/out/d/two")
    local dest = host .. "/out-file"
    ok(sb:copy_out("/work/out/one", dest))
    assert.are.equal("one", helpers.read_file(dest))
    assert.are.equal("640", helpers.sh("stat -c %a " .. dest))
    local tdest = host .. "/out-tree"
    ok(sb:copy_out("/work/out", tdest))
    assert.are.equal("one", helpers.read_file(tdest .. "/one"))
    assert.are.equal("two", helpers.read_file(tdest .. "/d/two"))
    assert.are.equal("755", helpers.sh("stat -c %a " .. tdest .. "/d/two"))
    assert.are.equal("640", helpers.sh("stat -c %a " .. tdest .. "/one"))
  end)

  it("reports a missing file as FILE_OPERATION_FAILED with errno ENOENT", function()
    local v, err = sb:read_file("/work/mjspec-missing")
    assert_fails("FILE_OPERATION_FAILED", v, err, false)
    assert.are.equal(ENOENT, err.errno)
    v, err = sb:list_files("/work/mjspec-missing")
    assert_fails("FILE_OPERATION_FAILED", v, err, false)
    v, err = sb:copy_files(host .. "/mjspec-missing", "/work/x")
    assert_fails("FILE_OPERATION_FAILED", v, err, false)
    v, err = sb:copy_out("/work/mjspec-missing", host .. "/x")
    assert_fails("FILE_OPERATION_FAILED", v, err, false)
    assert.is_false(helpers.exists(host .. "/x"))
  end)

  it("raises on a malformed mode", function()
    assert.has_error(function() sb:write_file("/work/badmode", "x", "rw-r--r--") end)
    assert.has_error(function() sb:write_file("/work/badmode", "x", "0999") end)
    assert.is_nil(sb:read_file("/work/badmode"))
  end)
end)

describe("Sandbox workdir and env", function()
  local sb
  setup(function() sb = new_sandbox({ env = { MJ_A = "a" }, workdir = "/tmp" }) end)
  teardown(function() close_all() helpers.cleanup() end)

  it("changes the workdir of later commands", function()
    assert.are.equal("/tmp", sb:workdir())
    sh_ok(sb, "mkdir -p /tmp/wd")
    ok(sb:set_workdir("/tmp/wd"))
    assert.are.equal("/tmp/wd", sb:workdir())
    assert.are.equal("/tmp/wd\n", sh_ok(sb, "pwd"))
    assert.are.equal("/\n", sh_ok(sb, "pwd", { workdir = "/" }))
    assert.are.equal("/tmp/wd", sb:workdir())
  end)

  it("refuses a workdir that does not exist, keeping the old one", function()
    local v, err = sb:set_workdir("/mjspec-no-such-dir")
    assert.is_nil(v)
    assert_error(err, "FILE_OPERATION_FAILED")
    assert.are_not.equal("/mjspec-no-such-dir", sb:workdir())
  end)

  it("merges set_env into the environment of later commands", function()
    assert.are.equal("a", sb:env().MJ_A)
    ok(sb:set_env({ MJ_B = "b", MJ_C = "c c" }))
    local env = sb:env()
    assert.are.equal("a", env.MJ_A)
    assert.are.equal("b", env.MJ_B)
    assert.are.equal("c c", env.MJ_C)
    assert.are.equal("a|b|c c", sh_ok(sb, 'printf "%s|%s|%s" "$MJ_A" "$MJ_B" "$MJ_C"'))
    ok(sb:set_env({ MJ_B = "b2" }))
    assert.are.equal("b2", sb:env().MJ_B)
    assert.are.equal("b2", sh_ok(sb, 'printf %s "$MJ_B"'))
  end)

  it("returns a copy of the environment", function()
    local env = sb:env()
    env.MJ_INJECTED = "x"
    assert.is_nil(sb:env().MJ_INJECTED)
    assert.are.equal("", sh_ok(sb, 'printf %s "$MJ_INJECTED"'))
  end)

  it("rejects a variable name with '=' in it", function()
    local ok_call, v, err = pcall(sb.set_env, sb, { ["A=B"] = "x" })
    if ok_call then
      assert.is_nil(v)
      assert.is_true(mj.is_error(err))
    end
    assert.is_nil(sb:env()["A=B"])
  end)
end)

describe("Sandbox:usage", function()
  local sb
  setup(function() sb = new_sandbox({ mounts = { { type = "tmpfs", dst = "/work" } } }) end)
  teardown(function() close_all() helpers.cleanup() end)

  local INTEGER_FIELDS = { "memory_usage", "memory_peak", "disk_usage", "disk_reads", "disk_writes", "network_in",
    "network_out", "process_count", "thread_count", "file_handles" }

  it("reports every ResourceUsage field, sane", function()
    local t0 = os.time()
    local u = ok(sb:usage())
    assert.are.equal("number", type(u.timestamp))
    assert.is_true(math.abs(u.timestamp - t0) <= 2, "timestamp is not now")
    assert.are.equal("number", type(u.cpu_usage))
    assert.is_true(u.cpu_usage >= 0)
    assert.are.equal("number", type(u.cpu_time))
    assert.is_true(u.cpu_time >= 0)
    assert.are.equal("number", type(u.memory_percent))
    assert.is_true(u.memory_percent >= 0 and u.memory_percent <= 100)
    for _, k in ipairs(INTEGER_FIELDS) do
      assert.are.equal("integer", math.type(u[k]), k .. " is not an integer")
      assert.is_true(u[k] >= 0, k .. " is negative")
    end
    assert.is_true(u.memory_peak >= u.memory_usage)
    assert.is_true(u.thread_count >= u.process_count)
    assert.are.equal("number", type(u.uptime))
    assert.is_true(u.uptime > 0)
  end)

  it("counts the CPU time of a busy command", function()
    local before = ok(sb:usage()).cpu_time
    sh_ok(sb, "i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done")
    -- reaping (and so accounting) may lag the result a little: allow a second
    local after
    eventually(1, function()
      after = ok(sb:usage())
      return after.cpu_time >= before + 0.05
    end)
    assert.is_true(after.cpu_time >= before + 0.05,
      string.format("cpu_time went from %.3f to %.3f after a busy command", before, after.cpu_time))
    -- a percentage: at most 100 per CPU of the host, whichever way it is normalized
    assert.is_true(after.cpu_usage > 0 and after.cpu_usage <= MAX_CPU_PERCENT,
      string.format("cpu_usage %.2f is more than %d CPUs can give", after.cpu_usage, NCPU))
    -- a finished command's CPU time stays counted, sample after sample
    for _ = 1, 5 do
      local again = ok(sb:usage())
      assert.are.equal(0, again.process_count)
      assert.is_true(again.cpu_time >= after.cpu_time - 0.001,
        string.format("cpu_time went down from %.3f to %.3f", after.cpu_time, again.cpu_time))
      assert.is_true(again.cpu_usage <= MAX_CPU_PERCENT,
        string.format("cpu_usage %.2f is more than %d CPUs can give", again.cpu_usage, NCPU))
    end
  end)

  it("never counts a live process without its memory: process_count and memory_usage agree", function()
    local n = helpers.unique_number()
    sh_ok(sb, string.format("sleep %d >/dev/null 2>&1 &", n))
    -- sampled at once and over and over while the shell exits and the sleep starts
    for _ = 1, 40 do
      local u = ok(sb:usage())
      assert.is_true(u.memory_usage >= 4096 * u.process_count,
        string.format("%d processes with %d bytes of memory", u.process_count, u.memory_usage))
    end
    ok(sb:signal(SIGKILL))
    assert.is_truthy(eventually(2, function() return ok(sb:usage()).process_count == 0 end))
  end)

  it("counts a background process, its memory, threads and fds", function()
    local idle = ok(sb:usage())
    assert.are.equal(0, idle.process_count)
    local n = helpers.unique_number()
    sh_ok(sb, string.format("sleep %d >/dev/null 2>&1 &", n))
    -- the sleep may still be in execve when the shell's result returns: give it a moment
    local u
    eventually(1, function()
      u = ok(sb:usage())
      return u.process_count == 1 and u.memory_usage > 0
    end)
    assert.are.equal(1, u.process_count)
    assert.is_true(u.thread_count >= 1, "thread_count " .. u.thread_count)
    assert.is_true(u.memory_usage > 0, "memory_usage " .. u.memory_usage .. " with a live sleep")
    assert.is_true(u.memory_peak >= u.memory_usage, "memory_peak " .. u.memory_peak)
    assert.is_true(u.file_handles >= 3, "file_handles " .. u.file_handles)
    assert.is_true(u.cpu_usage >= 0 and u.cpu_usage <= MAX_CPU_PERCENT,
      string.format("cpu_usage %.2f is more than %d CPUs can give", u.cpu_usage, NCPU))
    -- a second sample agrees while the sleep lives
    local again = ok(sb:usage())
    assert.are.equal(1, again.process_count)
    assert.is_true(again.memory_usage > 0, "memory_usage " .. again.memory_usage .. " with a live sleep")
    assert.is_true(again.memory_peak >= u.memory_peak, "memory_peak went down")
    ok(sb:signal(SIGKILL))
    assert.is_truthy(eventually(2, function() return ok(sb:usage()).process_count == 0 end))
  end)

  it("counts bytes written into the sandbox's tmpfs", function()
    local before = ok(sb:usage()).disk_usage
    ok(sb:write_file("/work/big", string.rep("d", 1024 * 1024)))
    local after = ok(sb:usage()).disk_usage
    assert.is_true(after >= before + 1024 * 1024, string.format("disk_usage %d -> %d", before, after))
  end)

  it("grows its uptime", function()
    local a = ok(sb:usage()).uptime
    helpers.sleep(0.2)
    assert.is_true(ok(sb:usage()).uptime >= a + 0.15)
  end)
end)

describe("Sandbox:info", function()
  teardown(function() close_all() helpers.cleanup() end)

  it("reports every SandboxInfo field", function()
    local t0 = os.time()
    local sb = new_sandbox({ hostname = "infobox", labels = { app = "x" }, annotations = { creator = "spec" } })
    local info = ok(sb:info())
    assert.are.equal("string", type(info.id))
    assert.is_true(#info.id > 0)
    assert.is_true(info.name == nil or type(info.name) == "string")
    assert.are.equal("string", type(info.type))
    assert.is_true(#info.type > 0)
    assert.are.equal("running", info.status)
    assert.are.equal("number", type(info.created_at))
    assert.are.equal("number", type(info.started_at))
    assert.is_true(info.created_at <= info.started_at)
    assert.is_true(info.created_at >= t0 - 60 and info.started_at <= os.time() + 60) -- a stepped clock here
    assert.are.equal("string", type(info.runtime))
    assert.is_true(#info.runtime > 0)
    assert.are.equal(host_platform(), info.platform)
    assert.are.equal("infobox", info.hostname)
    assert.are.equal("table", type(info.allocated_resources))
    assert.are.same({ app = "x" }, info.labels)
    assert.are.same({ creator = "spec" }, info.annotations)
    assert.is_true(info.image == nil or type(info.image) == "string")
    assert.is_true(info.ip_address == nil or type(info.ip_address) == "string")
    assert.is_true(info.mac_address == nil or type(info.mac_address) == "string")
    -- the supervisor is a live host process
    assert.are.equal("integer", math.type(info.supervisor_pid))
    assert.is_true(helpers.process_alive(info.supervisor_pid))
    -- two sandboxes never share an id
    local other = new_sandbox()
    assert.are_not.equal(info.id, ok(other:info()).id)
  end)

  it("has empty labels and annotations when none were given", function()
    local info = ok(new_sandbox():info())
    assert.are.same({}, info.labels)
    assert.are.same({}, info.annotations)
  end)
end)

describe("Sandbox pause and resume", function()
  local sb
  setup(function() sb = new_sandbox({ mounts = { { type = "tmpfs", dst = "/work" } } }) end)
  teardown(function() close_all() helpers.cleanup() end)

  local function counter()
    local v = sb:read_file("/work/counter")
    return tonumber(v and v:match("%d+"))
  end

  it("freezes the sandbox's processes and thaws them, files readable while paused", function()
    sh_ok(sb, "(i=0; while :; do i=$((i+1)); echo $i >/work/counter.new; mv /work/counter.new /work/counter; "
              .. "sleep 0.02; done) >/dev/null 2>&1 &")
    assert.is_truthy(eventually(2, function() return (counter() or 0) >= 3 end), "the counter does not count")
    ok(sb:pause())
    assert.are.equal("paused", ok(sb:info()).status)
    local c1 = counter()
    assert.is_truthy(c1, "the counter file is not readable while paused")
    helpers.sleep(0.4)
    assert.are.equal(c1, counter(), "the counter advanced while paused")
    assert.is_truthy(ok(sb:list_files("/work"))[1])
    ok(sb:usage())
    ok(sb:resume())
    assert.are.equal("running", ok(sb:info()).status)
    assert.is_truthy(eventually(2, function() return counter() > c1 end), "the counter did not resume")
    ok(sb:signal(SIGKILL))
  end)

  it("freezes only the commands (cgroup <id>/work): the supervisor still reads and writes files", function()
    local cgroup = ok(sb:exec("cat /proc/self/cgroup")).stdout
    local has_cgroup = not cgroup:match("^0::/\n$") and cgroup:find("/work", 1, true) ~= nil
    if not has_cgroup then
      -- no cgroups here (rootless on a v1 host): pause falls back to SIGSTOP, nothing to split
      assert.is_nil(cgroup:find("/sup", 1, true))
      return
    end
    -- the sandbox's cgroup namespace is rooted at <id>: commands see /work, the supervisor /sup
    assert.is_nil(cgroup:find("/..", 1, true), cgroup)
    assert.is_truthy(ok(sb:exec("cat /proc/1/cgroup")).stdout:find(":/sup\n", 1, true))
    ok(sb:pause())
    ok(sb:write_file("/work/while-paused", "written"))
    assert.are.equal("written", ok(sb:read_file("/work/while-paused")))
    ok(sb:resume())
    assert.are.equal("written", ok(sb:exec("cat /work/while-paused")).stdout)
  end)

  it("rejects pausing twice and resuming a running sandbox with INVALID_STATE", function()
    local v, err = sb:resume()
    assert_fails("INVALID_STATE", v, err, false)
    ok(sb:pause())
    v, err = sb:pause()
    assert_fails("INVALID_STATE", v, err, false)
    ok(sb:resume())
  end)

  it("refuses exec while paused, promptly, with INVALID_STATE", function()
    ok(sb:pause())
    local t0 = helpers.now()
    local res, err = sb:exec({ "true" }, { timeout = 3 })
    local elapsed = helpers.now() - t0
    ok(sb:resume())
    -- retryable either way: the design makes EBUSY-like states retryable, a caller may resume
    assert_fails("INVALID_STATE", res, err)
    assert.is_true(elapsed < 1, string.format("took %.2f s", elapsed))
  end)
end)

describe("Sandbox status transitions", function()
  teardown(function() close_all() helpers.cleanup() end)

  it("goes running -> paused -> running -> stopped and refuses commands once stopped", function()
    local sb = new_sandbox()
    assert.are.equal("running", sb:status())
    ok(sb:pause())
    assert.are.equal("paused", sb:status())
    ok(sb:resume())
    assert.are.equal("running", sb:status())
    local n = helpers.unique_number()
    sh_ok(sb, string.format("sleep %d >/dev/null 2>&1 &", n))
    ok(sb:write_file("/tmp/kept", "kept"))
    ok(sb:stop(1))
    assert.are.equal("stopped", sb:status())
    assert.are.equal("stopped", ok(sb:info()).status)
    assert.are.equal(0, (helpers.count_processes("sleep " .. n)), "stop left a process running")
    local res, err = sb:exec({ "true" })
    assert_fails("INVALID_STATE", res, err, false)
    local p
    p, err = sb:spawn({ "true" })
    assert_fails("INVALID_STATE", p, err, false)
    local v
    v, err = sb:pause()
    assert_fails("INVALID_STATE", v, err, false)
    v, err = sb:resume()
    assert_fails("INVALID_STATE", v, err, false)
    assert.are.equal("kept", ok(sb:read_file("/tmp/kept")), "files of a stopped sandbox are not readable")
    ok(sb:close())
  end)

  it("says stopped only once the commands that outlived the grace period are gone", function()
    -- regression: the grace period's SIGKILL was sent and the stop answered at once, while the
    -- killed processes still existed
    local sb = new_sandbox()
    local n = helpers.unique_number()
    sh_ok(sb, string.format("trap '' TERM; for i in $(seq 40); do sleep %d & done >/dev/null 2>&1", n))
    ok(sb:stop(0.2))
    assert.are.equal("stopped", sb:status())
    local left, pids = helpers.count_processes("sleep " .. n)
    assert.are.equal(0, left, "stopped with processes left: " .. table.concat(pids, " "))
    ok(sb:close())
  end)

  it("reports destroyed to another handle on a named sandbox once it is destroyed", function()
    local name = "mjspec-" .. helpers.unique_number() .. "-" .. helpers.uid()
    local sb = new_sandbox({ name = name })
    local other = ok(mj.open(name))
    made[other] = true
    assert.are.equal("running", other:status())
    ok(sb:destroy())
    assert.are.equal("closed sandbox", mj.type(sb))
    local st = other:status()
    assert.are.equal("destroyed", st, "a sandbox removed cleanly looks " .. st .. " to another handle")
    local res, err = other:exec({ "true" })
    assert.is_nil(res)
    assert.is_true(err.code == "INVALID_STATE" or err.code == "SANDBOX_NOT_FOUND", tostring(err))
    assert_error(err, err.code, false)
    other:close()
    local again
    again, err = mj.open(name)
    assert_fails("SANDBOX_NOT_FOUND", again, err, false)
  end)

  it("reports failed when the supervisor is SIGKILLed from the host, and closes cleanly", function()
    local sb = new_sandbox()
    local n = helpers.unique_number()
    sh_ok(sb, string.format("sleep %d >/dev/null 2>&1 &", n))
    local pid = ok(sb:info()).supervisor_pid
    assert.is_true(helpers.process_alive(pid))
    os.execute("kill -KILL " .. pid)
    assert.is_truthy(eventually(2, function() return sb:status() == "failed" end),
      "status is " .. tostring(sb:status()))
    assert.are.equal("failed", ok(sb:info()).status)
    local res, err = sb:exec({ "true" })
    assert.is_nil(res)
    assert_error(err, err and err.code or "INVALID_STATE")
    assert.is_truthy(err.code == "INVALID_STATE" or err.code == "SANDBOX_NOT_FOUND", tostring(err))
    assert.is_truthy(eventually(2, function() return helpers.count_processes("sleep " .. n) == 0 end),
      "the sandbox's processes outlived its supervisor")
    ok(sb:close())
    assert.is_false(helpers.process_alive(pid))
  end)
end)

describe("Sandbox lifetime", function()
  teardown(function() close_all() helpers.cleanup() end)

  it("stops itself when its lifetime ends, and says why", function()
    local sb = new_sandbox({ lifetime = "1s" })
    local n = helpers.unique_number()
    sh_ok(sb, string.format("sleep %d >/dev/null 2>&1 &", n))
    ok(sb:write_file("/kept", "kept"))
    assert.are.equal("running", sb:status())
    assert.is_nil(ok(sb:info()).ended_by)
    assert.is_truthy(eventually(5, function() return sb:status() == "stopped" end), "still " .. sb:status())
    local status, why = sb:status()
    assert.are.equal("stopped", status)
    assert.are.equal("lifetime", why)
    assert.are.equal("lifetime", ok(sb:info()).ended_by)
    assert.are.equal(0, (helpers.count_processes("sleep " .. n)), "the end of its lifetime left a process")
    local res, err = sb:exec({ "true" })
    assert_fails("INVALID_STATE", res, err, false)
    assert.are.equal("kept", ok(sb:read_file("/kept")))
  end)

  it("takes its lifetime from a policy, and a stop by request is not one", function()
    local sb = new_sandbox({ policy = { extends = "default", lifetime = "1h" } })
    ok(sb:stop(1))
    local status, why = sb:status()
    assert.are.equal("stopped", status)
    assert.is_nil(why)
    assert.is_nil(ok(sb:info()).ended_by)
  end)
end)

describe("Sandbox cleanup", function()
  teardown(function() close_all() helpers.cleanup() end)

  it("closes: the supervisor and every process go, methods then raise", function()
    local sb = new_sandbox()
    local n = helpers.unique_number()
    sh_ok(sb, string.format("sleep %d >/dev/null 2>&1 &", n))
    local pid = ok(sb:info()).supervisor_pid
    ok(sb:close())
    assert.are.equal("closed sandbox", mj.type(sb))
    assert.is_truthy(eventually(2, function() return not helpers.process_alive(pid) end), "supervisor left")
    assert.are.equal(0, (helpers.count_processes("sleep " .. n)))
    for _, call in ipairs({
      function() sb:exec({ "true" }) end,
      function() sb:spawn({ "true" }) end,
      function() sb:info() end,
      function() sb:usage() end,
      function() sb:read_file("/etc/hostname") end,
      function() sb:write_file("/tmp/x", "x") end,
      function() sb:list_files("/") end,
      function() sb:workdir() end,
      function() sb:env() end,
      function() sb:pause() end,
      function() sb:signal(SIGTERM) end,
      function() sb:close() end,
    }) do
      assert.has_error(call, "attempt to use a closed sandbox")
    end
  end)

  it("closes at the end of a <close> scope", function()
    local pid
    do
      local sb <close> = new_sandbox()
      pid = ok(sb:info()).supervisor_pid
      assert.is_true(helpers.process_alive(pid))
    end
    assert.is_truthy(eventually(2, function() return not helpers.process_alive(pid) end), "supervisor left")
  end)

  it("closes a sandbox that was garbage-collected", function()
    local pid
    do
      local sb = new_sandbox()
      pid = ok(sb:info()).supervisor_pid
    end
    collectgarbage()
    collectgarbage()
    assert.is_truthy(eventually(2, function() return not helpers.process_alive(pid) end),
      "__gc left the supervisor running")
  end)
end)

describe("Sandbox errors", function()
  teardown(function() close_all() helpers.cleanup() end)

  it("fails to start with SANDBOX_INIT_FAILED when the root cannot be set up", function()
    -- a root whose /proc is a regular file: proc cannot be mounted there, root or rootless
    local root = helpers.tmpdir()
    helpers.write_file(root .. "/proc", "")
    local sb, err = mj.sandbox({ rootfs = root })
    if sb then made[sb] = true end
    assert_fails("SANDBOX_INIT_FAILED", sb, err)
  end)

  it("rejects a bad config with INVALID_CONFIG before starting anything", function()
    local sb, err = mj.sandbox({ mounts = { { src = "/mjspec/no/such/dir", dst = "/x", mode = "ro" } } })
    if sb then made[sb] = true end
    assert_fails("INVALID_CONFIG", sb, err, false)
    sb, err = mj.sandbox({ hostname = string.rep("h", 100) })
    if sb then made[sb] = true end
    assert_fails("INVALID_CONFIG", sb, err, false)
  end)

  it("raises on misuse of mj.sandbox", function()
    assert.has_error(function() mj.sandbox({ mjspec_bogus = true }) end)
    assert.has_error(function() mj.sandbox("not a table") end)
  end)

  it("reports an unknown named sandbox as SANDBOX_NOT_FOUND", function()
    local sb, err = mj.open("mjspec-no-such-sandbox-" .. helpers.unique_number())
    assert_fails("SANDBOX_NOT_FOUND", sb, err, false)
    assert.matches("^Sandbox not found: ", tostring(err))
  end)

  it("reports a missing binary as COMMAND_EXECUTION_FAILED with errno ENOENT", function()
    local sb = new_sandbox()
    local res, err = sb:exec({ "/nonexistent/mjspec" })
    assert_fails("COMMAND_EXECUTION_FAILED", res, err, false)
    assert.are.equal(ENOENT, err.errno)
    local p
    p, err = sb:spawn({ "mjspec-no-such-command" })
    assert_fails("COMMAND_EXECUTION_FAILED", p, err, false)
    assert.are.equal(ENOENT, err.errno)
  end)

  it("refuses a command asking for more than the sandbox allows with PERMISSION_DENIED", function()
    local sb = new_sandbox({ network = "none" })
    local res, err = sb:exec({ "true" }, { allow_network = true })
    assert_fails("PERMISSION_DENIED", res, err, false)
  end)

  -- allow_network = false in a host-network sandbox: a Landlock layer refusing TCP bind and
  -- connect (ABI 4+). Connecting to a closed local port tells the two apart: refused by the
  -- peer (ECONNREFUSED) when allowed, by Landlock (EACCES) when not. Kernels without Landlock
  -- TCP rules (the VM lane's 6.1 has ABI 2) fail closed: UNSUPPORTED, and nothing runs.
  it("narrows one command to no TCP with allow_network = false, or fails closed", function()
    local sb = new_sandbox({ network = "host" })
    local probe = { "bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/9 && echo CONNECTED; true" }
    local plain = ok(sb:exec(probe))
    assert.is_nil(plain.stderr:find("Permission denied", 1, true), plain.stderr)
    local abi = 0 -- as moonjail doctor sees it
    for _, c in ipairs(helpers.json_decode(helpers.cli({ "doctor", "--json" }).stdout).checks) do
      if c.name == "landlock" then abi = tonumber((c.detail or ""):match("ABI (%d+)")) or 0 end
    end
    local res, err = sb:exec(probe, { allow_network = false })
    if abi < 4 then
      assert_fails("UNSUPPORTED", res, err, false)
      assert.matches("Landlock TCP rules", err.message, 1, true)
      return
    end
    assert.is_truthy(res, tostring(err))
    assert.matches("Permission denied", res.stderr, 1, true)
    assert.is_nil(res.stdout:find("CONNECTED", 1, true))
    -- only this command: the next one connects (and is refused by the peer) again
    local again = ok(sb:exec(probe))
    assert.is_nil(again.stderr:find("Permission denied", 1, true), again.stderr)
  end)

  -- restrict_paths: only beneath the listed paths (read, and write where the sandbox allows),
  -- plus what a command needs to run; a Landlock layer of its own, so only for this command.
  it("narrows one command to its restrict_paths: a listed path is reached, another refused", function()
    local abi = 0 -- as moonjail doctor sees it
    for _, c in ipairs(helpers.json_decode(helpers.cli({ "doctor", "--json" }).stdout).checks) do
      if c.name == "landlock" then abi = tonumber((c.detail or ""):match("ABI (%d+)")) or 0 end
    end
    local sb = new_sandbox({ mounts = { { type = "tmpfs", dst = "/work" } } })
    sh_ok(sb, "mkdir -p /work/a /work/b && echo in-a >/work/a/f && echo in-b >/work/b/f")
    local res, err = sb:exec("cat /work/a/f; echo made >/work/a/new && cat /work/a/new; cat /work/b/f; "
      .. "echo x >/work/b/new", { restrict_paths = { "/work/a" } })
    if abi < 1 then
      assert_fails("UNSUPPORTED", res, err, false)
      return
    end
    assert.is_truthy(res, tostring(err))
    assert.are.equal("in-a\nmade\n", res.stdout)
    assert.matches("/work/b/f: Permission denied", res.stderr, 1, true)
    assert.matches("/work/b/new: Permission denied", res.stderr, 1, true)
    -- only this command: the next one reaches /work/b again
    assert.are.equal("in-b\n", sh_ok(sb, "cat /work/b/f"))
  end)

  it("reports an operation that timed out as TIMEOUT", function()
    local sb = new_sandbox()
    local p = ok(sb:spawn({ "sleep", "5" }))
    local chunk, err = p:read(nil, 0.1)
    assert_fails("TIMEOUT", chunk, err)
    local res
    res, err = p:wait(0.1)
    assert_fails("TIMEOUT", res, err)
    ok(p:kill())
  end)
end)

-- spec/security/host_root_spec.lua — root inside a sandbox is never root outside.
--
-- Covers (SECURITY.md, "Host root mapped to root inside" and neighbours), root and rootless:
--  - /etc/shadow bound read-only stays unreadable to uid 0 inside;
--  - /proc/sys/kernel/core_pattern and /proc/sysrq-trigger cannot be opened for writing
--    (tested by opening for append without writing — never by writing a value);
--  - /proc/kcore and /proc/kpageflags yield nothing;
--  - uid 0 inside maps to a host id that is not 0 (rootless: the caller's own id);
--  - no host fd leaks into the sandbox (CVE-2024-21626), host cwd not inherited;
--  - /proc/self/exe of the command is not the moonjail binary, and the supervisor's exe and
--    fds cannot be opened from the workload (CVE-2019-5736);
--  - `kill -9 -1` inside leaves a host canary alive — sent only after checking that the
--    canary is invisible inside.
local mj = require "moonjail"
local helpers = require "spec.helpers"

if helpers.skip_unless_sandboxes() then return end

local function run(cmd, opts)
  local res, err = mj.run(cmd, opts)
  assert(res, "mj.run failed: " .. tostring(err))
  return res
end

local function trim(s) return (s:gsub("%s+$", "")) end

describe("root inside is not root outside", function()
  teardown(function() helpers.cleanup() end)

  it("cannot read /etc/shadow bound read-only, although it is uid 0 inside", function()
    -- the content goes to /dev/null so that a failure can never print it
    local res = run("id -u; cat /etc/shadow >/dev/null && echo READABLE",
                    { mounts = { { src = "/etc/shadow", dst = "/etc/shadow", mode = "ro" } } })
    local lines = helpers.lines(res.stdout)
    assert.are.equal("0", lines[1])
    assert.is_nil(lines[2], "/etc/shadow is readable inside")
    assert.matches("Permission denied", res.stderr, 1, true)
  end)

  it("cannot open /proc/sys/kernel/core_pattern for writing", function()
    -- `exec 3>>` opens for append and writes nothing: a broken sandbox changes nothing.
    local res = run("(exec 3>>/proc/sys/kernel/core_pattern) && echo OPENED || echo DENIED")
    assert.are.equal("DENIED\n", res.stdout, "core_pattern is writable inside")
    assert.is_truthy(res.stderr:find("Read-only file system", 1, true)
                     or res.stderr:find("Permission denied", 1, true), res.stderr)
  end)

  it("cannot open /proc/sysrq-trigger for writing (or it is masked by /dev/null)", function()
    local res = run([[
      if [ "$(stat -L -c %F:%t:%T /proc/sysrq-trigger 2>/dev/null)" = "character special file:1:3" ]
      then echo MASKED; exit 0; fi
      (exec 3>>/proc/sysrq-trigger) && echo OPENED || echo DENIED]])
    assert.is_truthy(res.stdout == "MASKED\n" or res.stdout == "DENIED\n",
                     "the real sysrq-trigger is writable inside: " .. res.stdout)
  end)

  it("reads nothing from /proc/kcore and /proc/kpageflags", function()
    for _, path in ipairs({ "/proc/kcore", "/proc/kpageflags" }) do
      local res = run("head -c 16 " .. path .. " 2>/dev/null | wc -c")
      assert.are.equal("0", trim(res.stdout), path .. " is readable inside")
    end
  end)

  it("maps uid 0 inside to a host id that is not 0 (rootless: the caller's id)", function()
    local res = run("id -u; cat /proc/self/uid_map; cat /proc/self/gid_map")
    local lines = helpers.lines(res.stdout)
    assert.are.equal("0", lines[1])
    local outside
    for i = 2, #lines do
      local inside, out = lines[i]:match("^%s*(%d+)%s+(%d+)%s+%d+")
      if inside == "0" and not outside then outside = tonumber(out) end
    end
    assert.is_truthy(outside, "uid 0 is not mapped: " .. res.stdout)
    assert.are_not.equal(0, outside, "uid 0 inside is host root")
    if not helpers.is_root() then
      assert.are.equal(helpers.uid(), outside)
    end
    for i = 2, #lines do
      local _, out = lines[i]:match("^%s*(%d+)%s+(%d+)%s+%d+")
      assert.are_not.equal("0", out, "host id 0 appears in a map: " .. lines[i])
    end
  end)

  it("mounts /proc/sys read-only", function()
    local res = run("cat /proc/self/mountinfo")
    local opts
    for line in res.stdout:gmatch("[^\n]+") do
      local mountpoint, mount_opts = line:match("^%d+ %d+ %S+ %S+ (%S+) (%S+)")
      if mountpoint == "/proc/sys" then opts = mount_opts end
    end
    assert.is_truthy(opts, "/proc/sys is not a mount of its own")
    assert.matches("^ro,", opts .. ",")
  end)

  it("cannot write /proc/sys even where the kernel would let the mapped root", function()
    local res = run("(exec 3>>/proc/sys/kernel/hostname) && echo OPENED || echo DENIED")
    assert.are.equal("DENIED\n", res.stdout, "/proc/sys is writable inside")
  end)
end)

describe("nothing of the host process reaches the sandbox", function()
  teardown(function() helpers.cleanup() end)

  it("does not leak a host fd the caller holds open (CVE-2024-21626)", function()
    local dir = helpers.tmpdir()
    local held = assert(io.open(dir .. "/held-open-mjspec", "w"))
    local res = run("ls -l /proc/self/fd/ /proc/self/cwd")
    held:close()
    assert.are.equal(0, res.exit_code, res.stderr)
    assert.is_falsy(res.stdout:find("held-open-mjspec", 1, true), "host fd leaked: " .. res.stdout)
    assert.is_falsy(res.stdout:find(dir, 1, true), "host path visible: " .. res.stdout)
  end)

  it("starts the command in the sandbox's workdir, not the host's cwd", function()
    local res = run("pwd -P; ls -d /proc/self/cwd/. >/dev/null && readlink /proc/self/cwd")
    local lines = helpers.lines(res.stdout)
    assert.are.equal("/", lines[1])
    assert.are.equal("/", lines[2])
  end)

  it("runs a command whose /proc/self/exe is its own binary, not moonjail", function()
    local res = run({ "readlink", "/proc/self/exe" })
    local exe = trim(res.stdout)
    assert.matches("readlink$", exe)
    assert.is_falsy(exe:find("moonjail", 1, true))
  end)

  it("cannot open the supervisor's exe or fds (CVE-2019-5736)", function()
    -- opening /proc/1/exe for append writes nothing even if it were allowed
    local res = run([[
      (exec 3>>/proc/1/exe) 2>/dev/null && echo EXE-WRITABLE
      ls /proc/1/fd/ >/dev/null 2>&1 && echo FDS-LISTED
      readlink /proc/1/exe >/dev/null 2>&1 && echo EXE-READABLE
      echo done]])
    assert.are.equal("done\n", res.stdout)
  end)
end)

describe("kill(-1) inside", function()
  local canary

  after_each(function()
    if canary and helpers.process_alive(canary) then os.execute("kill " .. canary) end
    canary = nil
  end)

  it("cannot reach a host process (checked invisible before anything is sent)", function()
    local n = helpers.unique_number()
    canary = helpers.start_host_sleep(n)
    assert.is_true(helpers.process_alive(canary))
    -- The script sends kill(-1) only when no process inside looks like the canary and the
    -- sandbox sees only a handful of processes; otherwise it reports the escape and stops.
    local res = run(string.format([[
      count=0
      for p in /proc/[0-9]*; do
        count=$((count + 1))
        if [ "$(tr '\0' ' ' <$p/cmdline 2>/dev/null)" = "sleep %d " ]; then
          echo CANARY-VISIBLE; exit 0
        fi
      done
      if [ $count -gt 10 ]; then echo TOO-MANY-PROCESSES $count; exit 0; fi
      kill -9 -1
      echo sent]], n))
    assert.are.equal("sent\n", res.stdout,
                     "the host canary was visible inside; nothing was sent: " .. res.stdout)
    helpers.sleep(0.2)
    assert.is_true(helpers.process_alive(canary), "kill -9 -1 inside killed a host process")
  end)
end)

-- spec/security/escalation_spec.lua — a command cannot gain privileges it was not given.
--
-- Covers (SECURITY.md, "Capabilities: bounding, inheritable and ambient sets empty unless asked;
-- no_new_privs always; nosuid,nodev…; no mknod", "Host root mapped to root inside", "A fake or
-- symlinked /proc, unmasked /proc/kcore…", "cgroup v1 release_agent (CVE-2022-0492); writable
-- cgroupfs inside", "The supervisor is a target" — CVE-2019-5736), root and rootless:
--  - every capability set is empty and no_new_privs is set, as root inside and as another user;
--    an added capability is the only one present;
--  - mknod of character and block devices is refused (a FIFO still works);
--  - a setuid-root program does not raise the caller's ids: a copy made setuid by root inside
--    the sandbox's /tmp (root lane: the only lane where a second uid is mapped), and the host's
--    own setuid-root /usr/bin/su;
--  - no way back to capabilities through a new user namespace (unshare -U);
--  - /proc/sys/kernel/core_pattern cannot be opened for writing (opened for append, never
--    written); /proc/kcore yields nothing; /sys is absent or read-only;
--  - no cgroupfs is mounted inside, mounting one (v1 with a release_agent, or v2) fails;
--  - the supervisor's /proc/1/exe, /proc/1/root and /proc/1/environ cannot be opened.
-- Nothing here writes to a host file: setuid copies live only in the sandbox's own tmpfs.
local mj = require "moonjail"
local helpers = require "spec.helpers"
local probe = require "spec.fixtures.probe"

if helpers.skip_unless_sandboxes() then return end
if not probe.compiler() then return helpers.skip_file(probe.NO_COMPILER) end
probe.build()
teardown(function() helpers.cleanup() end)

local function run(cmd, opts)
  local res, err = mj.run(cmd, opts)
  assert(res, "mj.run failed: " .. tostring(err))
  return res
end

local CAP_SETS = { "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb" }

local function caps(status_text)
  local t = {}
  for _, k in ipairs(CAP_SETS) do t[k] = helpers.status_field(status_text, k) end
  return t
end

describe("capabilities and no_new_privs", function()
  it("are all empty, with no_new_privs set, for root inside and for another user", function()
    for _, user in ipairs({ "0:0", "1000:1000" }) do
      local res = run("cat /proc/self/status", { user = user })
      local c = caps(res.stdout)
      for _, k in ipairs(CAP_SETS) do
        assert.are.equal("0000000000000000", c[k], k .. " is not empty for user " .. user)
      end
      assert.are.equal("1", helpers.status_field(res.stdout, "NoNewPrivs"), "no_new_privs not set")
    end
  end)

  it("hold only the one capability a run asks for", function()
    local res = run("cat /proc/self/status", { capabilities = { "NET_BIND_SERVICE" } })
    local c = caps(res.stdout)
    -- CAP_NET_BIND_SERVICE is bit 10
    assert.are.equal("0000000000000400", c.CapEff)
    for _, k in ipairs(CAP_SETS) do
      local v = assert(tonumber(c[k], 16), k)
      assert.are.equal(0, v & ~0x400, k .. " holds more than NET_BIND_SERVICE: " .. c[k])
    end
  end)

  it("cannot be regained through a new user namespace (unshare -U)", function()
    local res = run("unshare -Ur cat /proc/self/status && echo ESCAPED; exit 0")
    assert.is_falsy(res.stdout:find("ESCAPED", 1, true), res.stdout)
    assert.matches("Operation not permitted", res.stderr, 1, true)
  end)
end)

describe("device nodes", function()
  it("cannot be created: mknod of a character and a block device fails, a FIFO works", function()
    local res = run([[
      mknod /tmp/mjspec-c c 1 3 2>&1 && echo CHAR-CREATED
      mknod /tmp/mjspec-b b 7 0 2>&1 && echo BLOCK-CREATED
      mkfifo /tmp/mjspec-fifo && echo FIFO-OK]])
    assert.is_falsy(res.stdout:find("CREATED", 1, true), res.stdout)
    assert.matches("FIFO-OK", res.stdout, 1, true)
    for _, line in ipairs(helpers.lines(res.stdout)) do
      if line:match("^mknod") then
        assert.is_truthy(line:find("Operation not permitted", 1, true)
                         or line:find("Permission denied", 1, true), line)
      end
    end
  end)
end)

describe("setuid programs", function()
  it("do not raise a user's ids: a setuid-root copy in the sandbox's /tmp", function()
    local sb <close> = assert(mj.sandbox({ mounts = { probe.mount() } }))
    if not helpers.is_root() then
      -- Rootless, only uid 0 is mapped: no second user exists to run the copy, and asking for
      -- one is refused — the attack cannot even be staged.
      local res, err = sb:exec("id -u", { user = "1000:1000" })
      assert.is_nil(res, "a rootless sandbox ran a command as a second, unmapped user")
      assert.are.equal("PERMISSION_DENIED", err.code)
      return
    end
    local prep = assert(sb:exec("cp /probe /tmp/suid && chmod 4755 /tmp/suid && stat -c %a:%u /tmp/suid"))
    assert.are.equal("4755:0\n", prep.stdout, prep.stderr)
    local res = assert(sb:exec({ "/tmp/suid", "ids" }, { user = "1000:1000" }))
    assert.are.equal(0, res.exit_code, res.stderr)
    assert.are.equal("ids 1000 1000 1000\n", res.stdout, "the setuid bit raised the euid")
  end)

  it("do not raise a user's ids: the host's setuid-root /usr/bin/su", function()
    if not helpers.exists("/usr/bin/su") then
      pending("/usr/bin/su is not installed on this host")
      return
    end
    -- su waits for a password on stdin (a pipe that stays open); its ids are read meanwhile.
    local res = run([[
      sleep 20 2>/dev/null | /usr/bin/su root -c true >/dev/null 2>&1 &
      pid=$!
      i=0
      while [ "$(readlink /proc/$pid/exe 2>/dev/null)" != /usr/bin/su ] && [ $i -lt 200 ]; do
        sleep 0.01; i=$((i + 1))
      done
      grep -E '^(Uid|Gid):' /proc/$pid/status
      kill -9 $pid
      exit 0]], { user = "1000:1000", timeout = 20 })
    assert.is_truthy(helpers.status_field(res.stdout, "Uid"), "su was not seen running: "
                     .. res.stdout .. res.stderr)
    assert.matches("^1000%s+1000%s+1000%s+1000$", helpers.status_field(res.stdout, "Uid"))
    assert.matches("^1000%s+1000%s+1000%s+1000$", helpers.status_field(res.stdout, "Gid"))
  end)
end)

describe("host kernel interfaces", function()
  it("cannot open /proc/sys/kernel/core_pattern for writing", function()
    -- `exec 3>>` opens for append and writes nothing: a broken sandbox changes nothing.
    local res = run("(exec 3>>/proc/sys/kernel/core_pattern) && echo OPENED || echo DENIED")
    assert.are.equal("DENIED\n", res.stdout, "core_pattern is writable inside")
  end)

  it("reads nothing from /proc/kcore", function()
    local res = run("head -c 16 /proc/kcore 2>/dev/null | wc -c")
    assert.are.equal("0", res.stdout:gsub("%s+", ""), "/proc/kcore is readable inside")
  end)

  it("has no /sys, or only a read-only one", function()
    local res = run([[
      [ -e /sys ] || { echo ABSENT; exit 0; }
      awk '$5 == "/sys" || $5 ~ "^/sys/" { print $5, $6 }' /proc/self/mountinfo]])
    if res.stdout ~= "ABSENT\n" then
      for _, line in ipairs(helpers.lines(res.stdout)) do
        assert.is_truthy(line:match("^%S+ ro,") or line:match("^%S+ ro$"), "/sys mount is writable: " .. line)
      end
    end
  end)

  it("mounts no cgroupfs and cannot mount one (CVE-2022-0492 release_agent)", function()
    local res = run([[
      # the file system type follows the " - " separator (a path like /proc/kpagecgroup is no match)
      awk '{ for (i = 1; i <= NF; i++) if ($i == "-") { print $(i + 1); break } }' /proc/self/mountinfo |
        grep -c '^cgroup'
      mkdir -p /tmp/cg1 /tmp/cg2
      mount -t cgroup -o memory cgroup /tmp/cg1 2>/dev/null && echo V1-MOUNTED
      [ -e /tmp/cg1/release_agent ] && echo RELEASE-AGENT
      mount -t cgroup2 cgroup2 /tmp/cg2 2>/dev/null && echo V2-MOUNTED
      exit 0]])
    assert.are.equal("0\n", res.stdout, "a cgroupfs is reachable inside: " .. res.stdout)
  end)
end)

describe("the supervisor (pid 1 inside)", function()
  it("cannot be reached through /proc/1/exe, /proc/1/root or /proc/1/environ (CVE-2019-5736)", function()
    local res = run([[
      (exec 3</proc/1/exe) 2>/dev/null && echo EXE-OPENED
      (exec 3>>/proc/1/exe) 2>/dev/null && echo EXE-WRITABLE
      ls /proc/1/root/ >/dev/null 2>&1 && echo ROOT-LISTED
      (exec 3</proc/1/environ) 2>/dev/null && echo ENVIRON-OPENED
      echo done]])
    assert.are.equal("done\n", res.stdout)
  end)
end)

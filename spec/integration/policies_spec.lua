-- spec/integration/policies_spec.lua — the shipped policies do what their comments say.
--
-- Covers, root and rootless:
--  - every shipped policy (default, strict, build, network, interactive) loads by name and has
--    a description;
--  - strict: loopback only (no other interface), a read-only root, /tmp the only writable place
--    (a 64M tmpfs), Landlock refusing writes to a read-write mount outside /tmp (EACCES; nothing
--    reaches the host dir), no capabilities; its cgroup limits are required: as root a memory
--    bomb is OOM-killed (ended_by "oom", 137), rootless (no delegation here) the run fails closed
--    with PERMISSION_DENIED/UNSUPPORTED before anything starts — `moonjail run --policy strict`
--    alike;
--  - build and interactive run `true` in both lanes (their cgroup limits are best effort:
--    rootless they run with warnings); build's /tmp is 1G; interactive has a writable HOME at
--    /root and passes TERM;
--  - network (filtered egress) runs, for run and sandbox, and through the CLI: its resolv.conf
--    names moonjail-net's stub, and a name it does not allow does not resolve.
-- The only host files written are in this spec's own temp dirs.
local mj = require "moonjail"
local helpers = require "spec.helpers"

if helpers.skip_unless_sandboxes() then return end
teardown(function() helpers.cleanup() end)

local ROOT = helpers.is_root()
local SHIPPED = { "default", "strict", "build", "network", "interactive" }
local MEMORY_BOMB = [[BEGIN { s = "x"; while (1) { s = s s } }]]

-- strict's cgroup limits fail closed rootless (tested below); to test its other protections
-- in that lane too, the rootless runs mark the limits best effort and change nothing else.
local STRICT = ROOT and "strict" or { extends = "strict", best_effort = { limits = true } }

local function run(cmd, opts)
  local res, err = mj.run(cmd, opts)
  assert(res, "mj.run failed: " .. tostring(err))
  return res
end

local function assert_fails_closed(res, err, codes)
  assert.is_nil(res, "the run started")
  assert.is_truthy(mj.is_error(err), tostring(err))
  assert.is_truthy(codes[err.code], "unexpected code: " .. tostring(err))
end

describe("shipped policies", function()
  it("all load by name and describe themselves", function()
    local names = {}
    for _, n in ipairs(mj.policies()) do names[n] = true end
    for _, name in ipairs(SHIPPED) do
      assert.is_true(names[name], name .. " is not built in")
      local pol, err = mj.load_policy(name)
      assert.is_nil(err, tostring(err))
      assert.are.equal("string", type(pol.description))
    end
  end)
end)

describe("the strict policy", function()
  it("has no network but loopback", function()
    local res = run("tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '", { policy = STRICT })
    assert.are.equal(0, res.exit_code, res.stderr)
    assert.are.equal("lo\n", res.stdout)
  end)

  it("keeps everything read-only except a 64M /tmp", function()
    local res = run([[
      touch /etc/x 2>/dev/null && echo ETC-WRITABLE
      touch /x 2>/dev/null && echo ROOT-WRITABLE
      touch /dev/shm/x 2>/dev/null && echo SHM-WRITABLE
      touch /tmp/x && echo TMP-OK
      df -k /tmp | tail -1 | awk '{ print $2 }'
    ]], { policy = STRICT })
    assert.are.equal("TMP-OK\n65536\n", res.stdout, res.stderr)
  end)

  it("refuses writes to a read-write mount outside /tmp through Landlock", function()
    local dir = helpers.tmpdir("0777")
    local res = run([[
      grep -q ' /data rw,' /proc/self/mountinfo && echo MOUNT-RW
      echo x >/data/new && echo WROTE
    ]], { policy = STRICT, mounts = { { src = dir, dst = "/data", mode = "rw" } } })
    assert.are.equal("MOUNT-RW\n", res.stdout, "the write went through: " .. res.stderr)
    assert.matches("Permission denied", res.stderr, 1, true)
    assert.are.equal("", helpers.sh("ls -A " .. helpers.shell_quote(dir)))
  end)

  it("leaves the command no capabilities", function()
    local res = run("grep -E '^Cap(Eff|Prm|Bnd|Amb):' /proc/self/status", { policy = STRICT })
    for _, line in ipairs(helpers.lines(res.stdout)) do
      assert.matches(":%s+0+$", line)
    end
    assert.are.equal(4, #helpers.lines(res.stdout))
  end)

  it("OOM-kills a memory bomb as root, and fails closed rootless", function()
    if not ROOT then
      local dir = helpers.tmpdir("0777")
      local res, err = mj.run("touch /out/ran", { policy = "strict",
        mounts = { { src = dir, dst = "/out", mode = "rw" } } })
      assert_fails_closed(res, err, { PERMISSION_DENIED = true, UNSUPPORTED = true })
      assert.matches("limit", err.message, 1, true)
      assert.is_false(helpers.exists(dir .. "/ran"), "the command ran")
      local sb, err2 = mj.sandbox({ policy = "strict" })
      if sb then sb:close() end
      assert_fails_closed(sb, err2, { PERMISSION_DENIED = true, UNSUPPORTED = true })
      return
    end
    local res = run({ "awk", MEMORY_BOMB }, { policy = "strict", timeout = 60 })
    assert.are.equal("oom", res.ended_by, res.stderr)
    assert.are.equal(9, res.signal)
    assert.is_true(res.resource_usage.memory_peak <= 256 * 1024 * 1024 + 4 * 1024 * 1024,
      "peak " .. tostring(res.resource_usage.memory_peak))
  end)

  it("runs true from the CLI as root, and exits 125 rootless", function()
    local r = helpers.cli({ "run", "--policy", "strict", "--", "true" })
    if ROOT then
      assert.are.equal(0, r.status, r.stderr)
    else
      assert.are.equal(125, r.status, r.stderr)
      assert.matches("^moonjail: [A-Z_]+: [^\n]+\n$", r.stderr)
      assert.is_truthy(r.stderr:match("^moonjail: PERMISSION_DENIED") or r.stderr:match("^moonjail: UNSUPPORTED"),
        r.stderr)
    end
  end)
end)

describe("the build and interactive policies", function()
  it("run true (cgroup limits best effort: rootless with warnings)", function()
    for _, name in ipairs({ "build", "interactive" }) do
      local r = helpers.cli({ "run", "--policy", name, "--", "true" })
      assert.are.equal(0, r.status, name .. ": " .. r.stderr)
      local res = run("true", { policy = name })
      assert.are.equal(0, res.exit_code)
      if ROOT then
        assert.are.same({}, res.warnings, name)
      else
        assert.is_true(#res.warnings > 0, name .. ": rootless without delegation should warn")
      end
    end
  end)

  it("build has a 1G /tmp and four times default's open files", function()
    local res = run("df -k /tmp | tail -1 | awk '{ print $2 }'; ulimit -n", { policy = "build" })
    assert.are.equal("1048576\n4096\n", res.stdout, res.stderr)
  end)

  it("interactive has a writable home at /root and passes TERM", function()
    local r = helpers.cli({ "run", "-q", "--policy", "interactive", "--", "sh", "-c",
      'echo "$TERM $HOME"; touch "$HOME/.history" && echo HOME-OK' }, { env = { TERM = "xterm-256color" } })
    assert.are.equal(0, r.status, r.stderr)
    assert.are.equal("xterm-256color /root\nHOME-OK\n", r.stdout)
  end)
end)

describe("the network policy", function()
  it("runs filtered: the stub in resolv.conf, names it does not allow unresolved", function()
    local res, err = mj.run("cat /etc/resolv.conf; getent hosts example.org || echo refused", { policy = "network" })
    assert(res, tostring(err))
    assert.matches("nameserver 127%.0%.0%.53", res.stdout)
    assert.matches("refused\n$", res.stdout)
    local sb = assert(mj.sandbox({ policy = "network" }))
    local r1 = assert(sb:exec({ "cat", "/etc/resolv.conf" }))
    sb:close()
    assert.matches("nameserver 127%.0%.0%.53", r1.stdout)
    local r = helpers.cli({ "run", "--policy", "network", "--", "true" })
    assert.are.equal(0, r.status, r.stderr)
  end)
end)

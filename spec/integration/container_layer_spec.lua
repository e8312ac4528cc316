-- spec/integration/container_layer_spec.lua — the container layer and the generated /etc.
--
-- Covers, root and rootless:
--  - the reference's own file test: write /test.txt, read it, list / and find it; the host's /
--    untouched;
--  - a writable root is copy-on-write: writes anywhere land in the sandbox's layer, never on the
--    host, and are gone with the sandbox; `diff` lists them; masked and read-only paths stay so;
--  - the generated /etc: passwd and group hold root, nobody and the sandbox's user only (issue 18,
--    "the sandbox sees the host's /etc/passwd"), hosts, hostname, resolv.conf; a policy may still
--    bind the host's on purpose;
--  - limits.disk caps the layer and every tmpfs in bytes and inodes: 300k empty files end in
--    ENOSPC, never in host slab growth (issue 18, item 5);
--  - root only (cgroups): the default /tmp under -m 64M ends in ENOSPC, not OOM (issue 18, item 9),
--    and a run whose init the OOM killer ends reports ended_by "oom", not SANDBOX_INIT_FAILED.
local mj = require "moonjail"
local helpers = require "spec.helpers"

if helpers.skip_unless_sandboxes() then return end

local function run(cmd, opts)
  local res, err = mj.run(cmd, opts)
  assert(res, "mj.run failed: " .. tostring(err))
  return res
end

local made = {}
local function new_sandbox(opts)
  local sb, err = mj.sandbox(opts or {})
  assert(sb, "mj.sandbox failed: " .. tostring(err))
  made[#made + 1] = sb
  return sb
end
local function close_all()
  for _, sb in ipairs(made) do
    if mj.type(sb) == "sandbox" then sb:close() end
  end
  made = {}
end

describe("the reference's file test", function()
  teardown(function() close_all() helpers.cleanup() end)

  it("writes /test.txt, reads it back, lists / and finds it; the host's / is untouched", function()
    assert.is_false(helpers.exists("/test.txt"), "the host has a /test.txt before the test")
    local sb = new_sandbox()
    assert(sb:write_file("/test.txt", "Hello, moonjail!"))
    assert.are.equal("Hello, moonjail!", assert(sb:read_file("/test.txt")))
    local found
    for _, fi in ipairs(assert(sb:list_files("/"))) do
      if fi.name == "test.txt" then found = fi end
    end
    assert.is_truthy(found, "/test.txt is not listed in /")
    assert.are.equal(16, found.size)
    assert.is_false(found.is_dir)
    assert.are.equal("Hello, moonjail!", assert(sb:exec("cat /test.txt")).stdout)
    assert.is_false(helpers.exists("/test.txt"), "/test.txt reached the host")
    sb:close()
    assert.is_false(helpers.exists("/test.txt"))
  end)
end)

describe("a copy-on-write root", function()
  teardown(function() close_all() helpers.cleanup() end)

  it("takes writes anywhere, keeps them out of the host, and lists them in diff()", function()
    local name = "mjspec-" .. helpers.unique_number()
    local sb = new_sandbox()
    local res = assert(sb:exec("echo a >/" .. name .. " && echo b >>/etc/hosts && mkdir -p /opt/" .. name
      .. " && rm /etc/nsswitch.conf && echo c >/usr/" .. name))
    assert.are.equal(0, res.exit_code, res.stderr)
    assert.is_false(helpers.exists("/" .. name))
    assert.is_false(helpers.exists("/opt/" .. name))
    local leaked = helpers.exists("/usr/" .. name)
    os.remove("/usr/" .. name)
    assert.is_false(leaked, "/usr/" .. name .. " reached the host")
    assert.is_truthy(helpers.exists("/etc/nsswitch.conf"), "the host's /etc/nsswitch.conf was removed")
    local kinds = {}
    for _, e in ipairs(assert(sb:diff())) do kinds[e.path] = e.kind .. " " .. e.type end
    assert.are.equal("added file", kinds["/" .. name])
    assert.are.equal("modified file", kinds["/etc/hosts"])
    assert.are.equal("deleted file", kinds["/etc/nsswitch.conf"])
    assert.are.equal("added dir", kinds["/opt"])
    assert.are.equal("added file", kinds["/usr/" .. name])
    assert.is_nil(kinds["/proc"], "a mount point shows as a change")
    assert.is_nil(kinds["/tmp"], "a mount point shows as a change")
    sb:close()
    -- the next sandbox starts clean
    res = run("test -e /" .. name .. " || test -e /usr/" .. name .. " || echo clean; "
      .. "test -e /etc/nsswitch.conf && echo kept")
    assert.are.equal("clean\nkept\n", res.stdout)
  end)

  it("keeps masked and read-only kernel paths so", function()
    local res = run("(exec 3>>/proc/sys/kernel/core_pattern) 2>/dev/null && echo WRITABLE; "
      .. "head -c 16 /proc/kcore 2>/dev/null | wc -c; touch /proc/sys/x 2>/dev/null && echo MADE; echo done")
    assert.are.equal("0\ndone\n", res.stdout)
  end)

  it("ends in ENOSPC and ended_by 'disk' at limits.disk, in the root's layer as in /tmp", function()
    local res = run({ "sh", "-c", "set -e; head -c 8M /dev/zero > /fill" }, { limits = { disk = "2M" }, timeout = 30 })
    assert.are.equal("disk", res.ended_by)
    assert.matches("No space left on device", res.stderr, 1, true)
  end)

  it("is read-only under readonly_root = true, with the generated /etc all the same", function()
    local res = run("touch /x 2>/dev/null && echo MADE; grep -c . /etc/passwd",
      { policy = { extends = "default", filesystem = { readonly_root = true } } })
    assert.are.equal("2\n", res.stdout)
  end)
end)

describe("the generated /etc", function()
  teardown(function() close_all() helpers.cleanup() end)

  it("shows root, nobody and the sandbox's user only, never the host's other users", function()
    local res = run("cat /etc/passwd; echo --; cat /etc/group")
    local passwd, group = res.stdout:match("^(.-)%-%-\n(.*)$")
    local users = {}
    for line in passwd:gmatch("[^\n]+") do users[#users + 1] = line:match("^([^:]+)") end
    assert.are.same({ "root", "nobody" }, users)
    local groups = {}
    for line in group:gmatch("[^\n]+") do groups[#groups + 1] = line:match("^([^:]+)") end
    assert.are.same({ "root", "nogroup" }, groups)
    -- a user the host has (the rootless lane's, or a system one) is not there
    for line in (helpers.read_file("/etc/passwd") or ""):gmatch("[^\n]+") do
      local u = line:match("^([^:]+)")
      if u ~= "root" and u ~= "nobody" then
        assert.is_falsy(passwd:find(u .. ":", 1, true), "the host's user " .. u .. " shows inside")
      end
    end
  end)

  it("names the sandbox's own user, and lets a policy bind the host's passwd on purpose", function()
    if not helpers.is_root() then pending("needs root: rootless maps a single id") return end
    local res = run("id -un; grep -c . /etc/passwd", { user = "1000:1000" })
    assert.are.equal("3\n", res.stdout:match("\n(.*)$"))
    res = run("grep -c . /etc/passwd", { policy = { extends = "default",
      filesystem = { host_paths = { append = { "/etc/passwd" } } } } })
    local host_lines = select(2, (helpers.read_file("/etc/passwd") or ""):gsub("\n", ""))
    assert.are.equal(tostring(host_lines) .. "\n", res.stdout)
  end)

  it("has hosts, hostname and resolv.conf of the sandbox's own", function()
    local res = run("cat /etc/hostname; grep -c localhost /etc/hosts; grep moonjail /etc/hosts; "
      .. "grep -c nameserver /etc/resolv.conf", { hostname = "moonjail" })
    assert.are.equal("moonjail\n2\n127.0.1.1\tmoonjail\n0\n", res.stdout)
  end)
end)

describe("limits.disk in inodes", function()
  it("ends 300k empty files in ENOSPC at a 1M disk, early, in /tmp and in the root", function()
    local script = "i=0; while [ $i -lt 300000 ]; do true > %s/f$i || { echo stopped at $i; exit 3; }; i=$((i+1)); done"
    for _, dir in ipairs({ "/tmp", "/many" }) do
      local cmd = (dir == "/many" and "mkdir /many && " or "") .. script:format(dir)
      local res = run({ "sh", "-c", cmd }, { limits = { disk = "1M" }, timeout = 60 })
      local n = tonumber(res.stdout:match("stopped at (%d+)"))
      assert.is_truthy(n, dir .. ": " .. res.stdout .. res.stderr)
      assert.is_true(n < 5000, dir .. ": " .. n .. " files before ENOSPC")
      assert.matches("No space left on device", res.stderr, 1, true)
      assert.are.equal("disk", res.ended_by)
    end
  end)
end)

describe("memory limits and the sandbox's tmpfs", function()
  it("ends the default /tmp filled under -m 64M in ENOSPC, not an OOM kill", function()
    if not helpers.is_root() then pending("needs root: a memory limit needs a cgroup") return end
    local res = run({ "sh", "-c", "set -e; head -c 200M /dev/zero > /tmp/fill" },
      { limits = { memory = "64M" }, timeout = 60 })
    assert.are.equal("disk", res.ended_by)
    assert.are_not.equal(137, res.exit_code)
    assert.matches("No space left on device", res.stderr, 1, true)
  end)

  it("reports 'oom', not SANDBOX_INIT_FAILED, when the OOM killer ends the sandbox's init", function()
    if not helpers.is_root() then pending("needs root: a memory limit needs a cgroup") return end
    -- a tmpfs of its own size, larger than memory: its pages fill the limit and no process can
    -- give them back, so the killer goes on to init once the writer is gone
    for _ = 1, 2 do
      local res, err = mj.run({ "sh", "-c", "head -c 200M /dev/zero > /big/x; sleep 1" },
        { mounts = { { type = "tmpfs", dst = "/big", size = "256M" } }, limits = { memory = "32M" }, timeout = 60 })
      assert.is_truthy(res, "mj.run failed: " .. tostring(err))
      assert.are.equal("oom", res.ended_by)
      assert.are.equal(137, res.exit_code)
    end
  end)
end)

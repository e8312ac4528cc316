-- spec/security/mounts_spec.lua — what the workload can write, it cannot turn into devices or
-- setuid programs.
--
-- Covers (SECURITY.md, "Capabilities: … nosuid,nodev on every mount the sandbox can write; no
-- mknod"), root and rootless: every directory mount the command can create files in carries
-- nosuid and nodev (the default mounts and a --rw bind); mknod of a device fails; the
-- interfaces the default policy masks read as empty.  Files are created only inside the
-- sandbox's own mounts (and a temp dir of this spec bound read-write), never elsewhere on the host.
local mj = require "moonjail"
local helpers = require "spec.helpers"

if helpers.skip_unless_sandboxes() then return end

local function run(cmd, opts)
  local res, err = mj.run(cmd, opts)
  assert(res, "mj.run failed: " .. tostring(err))
  return res
end

describe("writable mounts", function()
  teardown(function() helpers.cleanup() end)

  it("are all nosuid and nodev", function()
    local dir = helpers.tmpdir("0777")
    local res = run([[
      while read -r _id _parent _dev _root mp opts _rest; do
        [ -d "$mp" ] || continue
        f="$mp/.mjspec-w.$$"
        if (: >"$f") 2>/dev/null; then rm -f "$f"; echo "$mp $opts"; fi
      done </proc/self/mountinfo]], { mounts = { { src = dir, dst = "/mnt/rw", mode = "rw" } } })
    assert.are.equal(0, res.exit_code, res.stderr)
    local writable = {}
    for _, line in ipairs(helpers.lines(res.stdout)) do
      local mp, opts = line:match("^(%S+) (%S+)$")
      writable[mp] = true
      local flags = {}
      for o in opts:gmatch("[^,]+") do flags[o] = true end
      assert.is_true(flags.nosuid == true, mp .. " is writable without nosuid (" .. opts .. ")")
      assert.is_true(flags.nodev == true, mp .. " is writable without nodev (" .. opts .. ")")
    end
    -- the check saw the mounts that must be writable
    assert.is_true(writable["/tmp"], "/tmp was not found writable")
    assert.is_true(writable["/mnt/rw"], "the --rw mount was not found writable")
  end)

  it("refuse mknod of a device", function()
    local res = run("mknod /tmp/mjspec-null c 1 3 && echo CREATED; exit 0")
    assert.are.equal("", res.stdout)
    -- refused by the capability check (EPERM) or, with Landlock on, before it (EACCES)
    local refused = res.stderr:find("Operation not permitted", 1, true)
      or res.stderr:find("Permission denied", 1, true)
    assert.is_truthy(refused, res.stderr)
  end)
end)

describe("masked kernel interfaces", function()
  it("read as empty or are absent", function()
    local pol = assert(mj.load_policy("default"))
    for _, path in ipairs(pol.filesystem.masked) do
      local res = run("if [ -d " .. path .. " ]; then ls -A " .. path .. "; "
                      .. "else head -c 64 " .. path .. " 2>/dev/null | wc -c; fi")
      local out = res.stdout:gsub("%s+", "")
      assert.is_true(out == "" or out == "0", path .. " is not masked: " .. res.stdout)
    end
  end)
end)

-- spec/security/landlock_spec.lua — Landlock confines writes beyond what the mounts allow.
--
-- Covers (SECURITY.md, "Degradation" and DESIGN.md "Landlock": Landlock restricts the file
-- system in addition to the mount namespace; writes are granted beneath filesystem.writable),
-- root and rootless:
--  - the default policy asks for Landlock as "best_effort";
--  - with `landlock = true, filesystem.writable = { "/tmp" }`, a read-write bind mount at /data
--    (a host temp dir, mode 0777) refuses creating, writing, mkdir and renaming into it with
--    EACCES ("Permission denied") — not EROFS: the mount itself stays rw — while /tmp works and
--    existing files under /data stay readable; nothing reaches the host dir; the same holds
--    for commands exec'ed in a persistent sandbox;
--  - with the default policy the same write works, so the denial is Landlock's, not the mount's.
-- The only host files written are in this spec's own temp dirs.
local mj = require "moonjail"
local helpers = require "spec.helpers"

helpers.require_sandboxes()
teardown(function() helpers.cleanup() end)

local CONFINED = { extends = "default", landlock = true, filesystem = { writable = { "/tmp" } } }

local function run(cmd, opts)
  local res, err = mj.run(cmd, opts)
  assert(res, "mj.run failed: " .. tostring(err))
  return res
end

-- A host temp dir (0777, with one readable file) and its read-write mount at /data.
local function data_dir()
  local dir = helpers.tmpdir("0777")
  helpers.write_file(dir .. "/existing", "hello\n", "0644")
  return dir, { src = dir, dst = "/data", mode = "rw" }
end

local function listing(dir)
  return helpers.sh("ls -A " .. helpers.shell_quote(dir))
end

local WRITE_DATA = "echo x >/data/new && echo WROTE"

describe("Landlock", function()
  it("is asked for as best effort by the default policy", function()
    local pol = assert(mj.load_policy("default"))
    assert.are.equal("best_effort", pol.landlock)
  end)

  it("refuses writes to a read-write mount outside filesystem.writable, with EACCES", function()
    local dir, mount = data_dir()
    local res = run([[
      grep -q ' /data rw,' /proc/self/mountinfo && echo MOUNT-RW
      echo x >/data/new 2>&1 && echo WROTE
      mkdir /data/sub 2>&1 && echo MKDIR
      echo y >/tmp/f && mv /tmp/f /data/moved 2>&1 && echo MOVED
      echo y >>/data/existing 2>&1 && echo APPENDED
      cat /data/existing
      echo z >/tmp/t && cat /tmp/t]], { policy = CONFINED, mounts = { mount } })
    local out = res.stdout
    assert.matches("MOUNT-RW", out, 1, true) -- the mount allows it: any refusal is Landlock's
    for _, what in ipairs({ "WROTE", "MKDIR", "MOVED", "APPENDED" }) do
      assert.is_falsy(out:find(what, 1, true), what .. " went through: " .. out)
    end
    assert.matches("Permission denied", out, 1, true)
    assert.is_falsy(out:find("Read-only file system", 1, true), out)
    assert.matches("hello\n", out, 1, true) -- reading is still allowed
    assert.matches("z\n$", out)            -- /tmp is writable
    assert.are.equal("existing", listing(dir), "something reached the host dir")
    assert.are.equal("hello\n", helpers.read_file(dir .. "/existing"))
  end)

  it("confines commands exec'ed in a persistent sandbox the same way", function()
    local dir, mount = data_dir()
    local sb <close> = assert(mj.sandbox({ policy = CONFINED, mounts = { mount } }))
    local res = assert(sb:exec(WRITE_DATA))
    assert.are.equal("", res.stdout)
    assert.matches("Permission denied", res.stderr, 1, true)
    local ok = assert(sb:exec("echo y >/tmp/f && cat /tmp/f"))
    assert.are.equal("y\n", ok.stdout, ok.stderr)
    assert.are.equal("existing", listing(dir))
  end)

  it("as best effort, on a kernel that has it, confines run and exec alike", function()
    -- whether this kernel has Landlock, as moonjail doctor sees it
    local has_landlock = false
    for _, c in ipairs(helpers.json_decode(helpers.cli({ "doctor", "--json" }).stdout).checks) do
      if c.name == "landlock" then has_landlock = c.status == "ok" end
    end
    if not has_landlock then
      pending("this kernel has no Landlock: best effort applies nothing here")
      return
    end
    local pol = { extends = "default", landlock = "best_effort", filesystem = { writable = { "/tmp" } } }
    local dir, mount = data_dir()
    local res = run(WRITE_DATA, { policy = pol, mounts = { mount } })
    assert.are.equal("", res.stdout, "mj.run: the write went through")
    assert.matches("Permission denied", res.stderr, 1, true)
    local sb <close> = assert(mj.sandbox({ policy = pol, mounts = { mount } }))
    local r2 = assert(sb:exec(WRITE_DATA))
    assert.are.equal("", r2.stdout, "sb:exec: the write went through")
    assert.matches("Permission denied", r2.stderr, 1, true)
    assert.are.equal("existing", listing(dir))
  end)

  it("is what refuses the write: with the default policy the same write works", function()
    local dir, mount = data_dir()
    local res = run(WRITE_DATA, { mounts = { mount } })
    assert.are.equal("WROTE\n", res.stdout, res.stderr)
    assert.are.equal("x\n", helpers.read_file(dir .. "/new"))
  end)
end)

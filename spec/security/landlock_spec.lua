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
--  - with the default policy the same write works, so the denial is Landlock's, not the mount's;
--  - TCP rules (`landlock = { enforce = true, tcp_bind = {8080}, tcp_connect = {8080} }`): where
--    the ABI has them (4+), bind and connect work on 8080 and fail with EACCES on 8081 on
--    loopback; where it does not (the VM lane's 6.1 has ABI 2), a required rule set is
--    UNSUPPORTED and a best-effort one runs with a warning; TCP rules with Landlock off are
--    INVALID_CONFIG.
-- The only host files written are in this spec's own temp dirs.
local mj = require "moonjail"
local helpers = require "spec.helpers"

if helpers.skip_unless_sandboxes() then return end
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

describe("Landlock TCP rules", function()
  -- binds 8080 and 8081 on loopback, then connects to both; prints what worked
  local PROBE = [[python3 -c '
import socket
def b(p):
  s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
  try: s.bind(("127.0.0.1", p)); s.listen(); print("bind", p, "ok"); return s
  except OSError as e: print("bind", p, e.errno)
keep = [b(8080), b(8081)]
def c(p):
  s = socket.socket()
  try: s.connect(("127.0.0.1", p)); print("connect", p, "ok")
  except OSError as e: print("connect", p, e.errno)
c(8080); c(8081)
']]
  local function policy(enforce)
    return { extends = "default", landlock = { enforce = enforce, tcp_bind = { 8080 }, tcp_connect = { 8080 } } }
  end
  local abi = 0
  for _, c in ipairs(mj.doctor()) do
    if c.name == "landlock" and c.status == "ok" then abi = tonumber(c.detail:match("ABI (%d+)")) or 0 end
  end

  if abi >= 4 then
    it("allow only the listed ports for bind and connect (EACCES otherwise)", function()
      if os.execute("command -v python3 >/dev/null") ~= true then error("python3 is needed for this probe") end
      local r = run(PROBE, { policy = policy(true) })
      assert.are.equal("bind 8080 ok\nbind 8081 13\nconnect 8080 ok\nconnect 8081 13\n", r.stdout, r.stderr)
      r = run(PROBE)
      assert.are.equal("bind 8080 ok\nbind 8081 ok\nconnect 8080 ok\nconnect 8081 ok\n", r.stdout, r.stderr)
    end)
  else
    it("are refused when required and reported when best effort (ABI " .. abi .. " has none)", function()
      local res, err = mj.run("true", { policy = policy(true) })
      assert.is_nil(res)
      assert.are.equal("UNSUPPORTED", err.code)
      assert.is_truthy(err.message:find("ABI 4", 1, true), err.message)
      res = run("true", { policy = policy("best_effort") })
      local warned = false
      for _, w in ipairs(res.warnings) do warned = warned or w:find("TCP port rules not applied", 1, true) ~= nil end
      assert.is_true(warned)
    end)
  end

  it("need Landlock on", function()
    local pol = { extends = "default", landlock = false, network = "host" }
    local res = run("true", { policy = pol })
    assert.is_true(res.success)
    local bad = { extends = "default", landlock = { enforce = false, tcp_bind = {} } }
    local r2, err = mj.run("true", { policy = bad })
    assert.is_nil(r2)
    assert.are.equal("INVALID_CONFIG", err.code)
  end)
end)

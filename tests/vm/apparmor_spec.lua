-- tests/vm/apparmor_spec.lua — an AppArmor profile named by a policy confines the sandbox.
--
-- Runs in the VM lane (tests/vm/run), where tests/vm/apparmor-setup has loaded the profile
-- moonjail-vm-test (tests/vm/apparmor/moonjail-vm-test: everything allowed except files named
-- mjvm-denied*).  Skips elsewhere (no AppArmor, or the profile is not loaded).  Lives under
-- tests/vm/, not spec/, so the host's ctest glob does not pick it up.
-- Covers (DESIGN.md policy key `apparmor = "name"`, SECURITY.md "LSM"):
--  - with `apparmor = "moonjail-vm-test"` a command runs confined by that profile
--    (/proc/self/attr/current names it), reads an allowed file and is refused the denied one
--    with EACCES, in one-shot runs and in a persistent sandbox;
--  - without the key the same read works, so the denial is AppArmor's, not the mount's;
--  - a profile that is not loaded fails closed: nothing runs.
local mj = require "moonjail"
local helpers = require "spec.helpers"

local PROFILE = "moonjail-vm-test"

if helpers.skip_unless_sandboxes() then return end
local loaded = helpers.read_file("/sys/kernel/security/apparmor/profiles") or ""
if not loaded:find(PROFILE .. " (enforce)", 1, true) then
  return helpers.skip_file("the AppArmor profile " .. PROFILE .. " is not loaded here (the VM lane loads it)")
end
teardown(function() helpers.cleanup() end)

local CONFINED = { extends = "default", apparmor = PROFILE }

local function data_mount()
  local dir = helpers.tmpdir("0755")
  helpers.write_file(dir .. "/allowed.txt", "allowed\n", "0644")
  helpers.write_file(dir .. "/mjvm-denied.txt", "secret\n", "0644")
  return { src = dir, dst = "/data", mode = "ro" }
end

local PROBE = [[
  echo "label=$(cat /proc/self/attr/current)"
  cat /data/allowed.txt
  cat /data/mjvm-denied.txt && echo READ-DENIED-FILE
  true
]]

describe("an AppArmor profile from the policy", function()
  it("confines a one-shot run: the profile's denial is enforced", function()
    local res = assert(mj.run(PROBE, { policy = CONFINED, mounts = { data_mount() }, timeout = 30 }))
    assert.are.equal(0, res.exit_code, res.stderr)
    assert.matches("label=" .. PROFILE .. " (enforce)", res.stdout, 1, true)
    assert.matches("allowed\n", res.stdout, 1, true)
    assert.is_nil(res.stdout:find("READ-DENIED-FILE", 1, true), res.stdout)
    assert.matches("Permission denied", res.stderr, 1, true)
  end)

  it("confines commands exec'ed in a persistent sandbox", function()
    local sb <close> = assert(mj.sandbox({ policy = CONFINED, mounts = { data_mount() } }))
    local res = assert(sb:exec(PROBE, { timeout = 30 }))
    assert.matches("label=" .. PROFILE .. " (enforce)", res.stdout, 1, true)
    assert.is_nil(res.stdout:find("READ-DENIED-FILE", 1, true), res.stdout)
    assert.matches("Permission denied", res.stderr, 1, true)
  end)

  it("is what refuses the read: without it the same read works", function()
    local res = assert(mj.run(PROBE, { mounts = { data_mount() }, timeout = 30 }))
    assert.matches("READ-DENIED-FILE", res.stdout, 1, true)
    assert.is_nil(res.stdout:find("label=" .. PROFILE, 1, true), res.stdout)
  end)

  it("fails closed when the profile is not loaded: nothing runs", function()
    local dir = helpers.tmpdir("0777")
    local res, err = mj.run("touch /out/ran", {
      policy = { extends = "default", apparmor = "moonjail-no-such-profile" },
      mounts = { { src = dir, dst = "/out", mode = "rw" } }, timeout = 30 })
    assert.is_nil(res, "a command ran under a profile that does not exist")
    assert.is_truthy(err, "no error")
    assert.is_false(helpers.exists(dir .. "/ran"), "the command ran")
  end)
end)

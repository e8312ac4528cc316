-- spec/security/truncation_spec.lua — strings crossing from Lua to C with an embedded NUL raise;
-- they are never cut at the NUL (SECURITY.md, "Truncation"; issue 18 item 8:
-- `mj.open("rt-cp\0../../x")` opened `rt-cp`, and a destroy() on it removed that sandbox).
--
-- Covers: names (open, sandbox), argv, env, hostname, workdir, mount paths, file paths of the
-- file operations, policy names and paths: each either raises or returns an error — nothing
-- runs, nothing is opened or touched under the shorter name.
local mj = require "moonjail"
local helpers = require "spec.helpers"

if helpers.skip_unless_sandboxes() then return end

-- f(...) must fail (raise, or return nil and an error) without doing anything.
local function refused(what, f, ...)
  local ok, res, err = pcall(f, ...)
  assert.is_true(not ok or res == nil, what .. " went through: " .. tostring(res))
  if ok then assert.is_truthy(mj.is_error(err), what .. ": no error") end
  return ok and err.message or tostring(res)
end

describe("a NUL byte in a string handed to C", function()
  local sb, name
  setup(function()
    name = string.format("mjspec-nul-%d-%d", helpers.unique_number(), helpers.uid())
    sb = assert(mj.sandbox({ name = name }))
  end)
  teardown(function()
    if sb then sb:destroy() end
    helpers.cleanup()
  end)

  it("in a sandbox name raises instead of opening the shorter name", function()
    local msg = refused("open", mj.open, name .. "\0../../x")
    assert.matches("NUL", msg, 1, true)
    local again = assert(mj.open(name)) -- still there, untouched
    assert.are.equal("running", again:status())
    refused("sandbox", mj.sandbox, { name = name .. "\0x" })
  end)

  it("in argv, env, hostname, workdir or a mount path refuses the run", function()
    refused("argv", mj.run, { "echo", "a\0b" })
    refused("env", mj.run, { "true" }, { env = { A = "x\0y" } })
    refused("env name", mj.run, { "true" }, { env = { ["A\0B"] = "x" } })
    refused("hostname", mj.run, { "true" }, { hostname = "h\0x" })
    refused("workdir", mj.run, { "true" }, { workdir = "/tmp\0/x" })
    refused("mount", mj.run, { "true" }, { mounts = { { "/tmp\0/etc", "/x" } } })
    refused("exec argv", sb.exec, sb, { "echo", "a\0b" })
  end)

  it("in a file path of a file operation raises", function()
    assert(sb:write_file("/tmp/f", "data"))
    refused("read_file", sb.read_file, sb, "/tmp/f\0/etc/shadow")
    refused("write_file", sb.write_file, sb, "/tmp/g\0x", "data")
    refused("stat", sb.stat, sb, "/tmp/f\0x")
    refused("remove", sb.remove, sb, "/tmp/f\0x")
    refused("list_files", sb.list_files, sb, "/tmp\0/etc")
    local dir = helpers.tmpdir()
    refused("copy_out", sb.copy_out, sb, "/tmp/f", dir .. "/out\0x")
    assert.is_false(helpers.exists(dir .. "/out"))
    assert.are.equal("data", sb:read_file("/tmp/f")) -- nothing was removed
  end)

  it("in a policy name or path is an error, never the shorter name", function()
    local pol, err = mj.load_policy("default\0../../etc/x")
    assert.is_nil(pol)
    assert.are.equal("INVALID_CONFIG", err.code)
    pol, err = mj.load_policy("/etc/passwd\0.lua")
    assert.is_nil(pol)
    assert.are.equal("INVALID_CONFIG", err.code)
  end)
end)

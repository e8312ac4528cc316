-- spec/integration/doctor_spec.lua — `moonjail doctor` says what this host can enforce.
--
-- Covers (SECURITY.md, "Degradation": what cannot be applied is reported with what is missing
-- and how to fix it; DESIGN.md: default limits that cannot be applied are reported by
-- `moonjail doctor`), root and rootless:
--  - `doctor --json` exits 0 here and prints one JSON object: `checks` (each with a name, a
--    status ok/missing/info and a detail) and `usable`;
--  - the checks user_namespaces, namespaces, cgroup_limits, seccomp, landlock, openat2 and pidfd
--    are all there; user_namespaces agrees with `unshare -U`; cgroup_limits is "ok" as root
--    here (cgroup v1 writable) and "missing" rootless (no delegation), and every "missing" check
--    says how to fix it;
--  - the text form lists the same checks and ends with the verdict; `mj.doctor()` agrees;
--  - an unknown option is a usage error: status 125, one line `moonjail: CODE: message`.
local mj = require "moonjail"
local helpers = require "spec.helpers"

local REQUIRED = { "user_namespaces", "namespaces", "cgroup_limits", "seccomp", "landlock", "openat2",
                   "pidfd" }
local STATUSES = { ok = true, missing = true, info = true }

local function by_name(checks)
  local t = {}
  for _, c in ipairs(checks) do
    if t[c.name] == nil then t[c.name] = c end
  end
  return t
end

describe("moonjail doctor --json", function()
  local res, report

  setup(function()
    res = helpers.cli({ "doctor", "--json" })
    report = helpers.json_decode(res.stdout)
  end)

  it("exits 0 on this host and prints one JSON object with checks and usable", function()
    if not helpers.userns_available() then
      -- a host where sandboxes cannot start says so: usable = false, status 1
      assert.are.equal(1, res.status, res.stderr)
      assert.are.equal(false, report.usable)
      return
    end
    assert.are.equal(0, res.status, res.stderr)
    assert.are.equal("table", type(report))
    assert.are.equal("table", type(report.checks))
    assert.is_true(#report.checks > 0)
    assert.are.equal(true, report.usable)
    assert.matches("^%s*{.*}%s*$", res.stdout)
  end)

  it("gives every check a name, a status ok/missing/info and a detail", function()
    for i, c in ipairs(report.checks) do
      assert.are.equal("string", type(c.name), "check " .. i)
      assert.is_true(STATUSES[c.status] == true, c.name .. ": status " .. tostring(c.status))
      assert.are.equal("string", type(c.detail), c.name)
      assert.is_true(#c.detail > 0, c.name .. " has an empty detail")
    end
  end)

  it("has the checks user_namespaces, namespaces, cgroup_limits, seccomp, landlock, openat2, pidfd",
     function()
    local checks = by_name(report.checks)
    for _, name in ipairs(REQUIRED) do
      assert.is_truthy(checks[name], "no check named " .. name)
    end
  end)

  it("agrees with the host: user namespaces work, cgroup limits only as root here", function()
    local checks = by_name(report.checks)
    assert.are.equal(helpers.userns_available() and "ok" or "missing", checks.user_namespaces.status)
    if helpers.is_root() then
      assert.are.equal("ok", checks.cgroup_limits.status, checks.cgroup_limits.detail)
    else
      -- rootless on this host: cgroup v1 only, no delegated subtree
      assert.are.equal("missing", checks.cgroup_limits.status, checks.cgroup_limits.detail)
    end
  end)

  it("says how to fix every check that is missing", function()
    for _, c in ipairs(report.checks) do
      if c.status == "missing" then
        assert.are.equal("string", type(c.fix), c.name .. " is missing without a fix")
        assert.is_true(#c.fix > 0, c.name .. " has an empty fix")
      end
    end
  end)

  it("matches what mj.doctor() returns", function()
    local direct = by_name(mj.doctor())
    for _, name in ipairs(REQUIRED) do
      assert.is_truthy(direct[name], "mj.doctor() has no " .. name)
      assert.are.equal(direct[name].status, by_name(report.checks)[name].status, name)
    end
  end)
end)

describe("moonjail doctor", function()
  it("prints the same checks as text and ends with the verdict", function()
    local res = helpers.cli({ "doctor" })
    assert.are.equal(0, res.status, res.stderr)
    for _, name in ipairs(REQUIRED) do
      assert.matches("%f[%w_]" .. name .. "%f[^%w_]", res.stdout, nil, false, "no line for " .. name)
    end
    local lines = helpers.lines(res.stdout)
    assert.are.equal("sandboxes can start on this host", lines[#lines])
  end)

  it("refuses an unknown option with status 125 and one error line", function()
    local res = helpers.cli({ "doctor", "--mjspec-bogus" })
    assert.are.equal(125, res.status)
    assert.are.equal("", res.stdout)
    local lines = helpers.lines(res.stderr)
    assert.are.equal(1, #lines, res.stderr)
    assert.matches("^moonjail: [A-Z_]+: .*%-%-mjspec%-bogus", lines[1])
  end)
end)

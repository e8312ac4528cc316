-- spec/integration/trace_spec.lua — the phase trace (MOONJAIL_TRACE=timing, core/src/trace.c).
--
-- Covers: `run`, `create`, `exec` and the Lua API print their phases to stderr, the sandbox's
-- own phases (mounts, seccomp) among them; the phases add up to the printed total; without the
-- variable nothing is printed.  No timing thresholds: the machine is shared.
local helpers = require "spec.helpers"

if helpers.skip_unless_sandboxes() then return end

local cli = helpers.cli

-- The traces in text: a list of { what = "run", phases = { {name, us}, … }, total = us }.
local function parse(text)
  local traces, cur = {}, nil
  for line in text:gmatch("[^\n]+") do
    local what = line:match("^moonjail trace: (%S+) %(us%)$")
    if what then
      cur = { what = what, phases = {}, names = {} }
      traces[#traces + 1] = cur
    elseif cur then
      local name, us = line:match("^  (.-)%s+(%d+)$")
      if name == "total" then
        cur.total = tonumber(us)
      elseif name then
        cur.phases[#cur.phases + 1] = { name, tonumber(us) }
        cur.names[name] = true
      end
    end
  end
  return traces
end

-- Each phase is printed rounded down to a microsecond: the sum is the total within one per phase.
local function assert_adds_up(t)
  assert.is_truthy(t.total, "no total line")
  local sum = 0
  for _, p in ipairs(t.phases) do sum = sum + p[2] end
  assert.is_true(sum <= t.total + 1 and t.total <= sum + #t.phases + 1,
    string.format("phases sum to %d us, total %d us", sum, t.total))
end

local function assert_has(t, names)
  for _, n in ipairs(names) do
    assert.is_true(t.names[n] == true, "no phase '" .. n .. "' in the " .. t.what .. " trace")
  end
end

describe("the phase trace", function()
  teardown(function() helpers.cleanup() end)

  it("lists the phases of a run, from process start to reap, adding up to the total", function()
    local r = cli({ "run", "--", "/bin/true" }, { env = { MOONJAIL_TRACE = "timing" } })
    assert.are.equal(0, r.status, r.stderr)
    local traces = parse(r.stderr)
    assert.are.equal(1, #traces, r.stderr)
    local t = traces[1]
    assert.are.equal("run", t.what)
    assert.are.equal("start+ld.so (cpu)", t.phases[1][1])
    assert_has(t, { "lua vm, libs", "require moonjail.cli", "policy load, validation", "plan", "clone",
      "maps+cgroup place", "child: mounts", "child: pivot_root", "cmd: seccomp load", "exit status", "reap",
      "lua_close" })
    assert_adds_up(t)
  end)

  it("prints nothing without MOONJAIL_TRACE", function()
    local r = cli({ "run", "--", "/bin/true" })
    assert.are.equal(0, r.status, r.stderr)
    assert.are.equal("", r.stderr)
  end)

  it("traces create and exec of a named sandbox", function()
    local name = "trace" .. helpers.unique_number()
    local env = { MOONJAIL_TRACE = "timing" }
    local c = cli({ "create", name }, { env = env })
    finally(function() cli({ "rm", "-f", name }) end)
    assert.are.equal(0, c.status, c.stderr)
    local t = parse(c.stderr)[1]
    assert.are.equal("create", t.what)
    assert_has(t, { "plan", "clone", "child: mounts", "supervisor ready" })
    assert_adds_up(t)
    local e = cli({ "exec", name, "/bin/true" }, { env = env })
    assert.are.equal(0, e.status, e.stderr)
    t = parse(e.stderr)[1]
    assert.are.equal("exec", t.what)
    assert_has(t, { "cli: open sandbox", "exec: request sent", "exit status" })
    assert_adds_up(t)
  end)

  it("traces each operation of the Lua API on its own", function()
    local dir = helpers.tmpdir()
    local script = helpers.write_file(dir .. "/api.lua", [[
      local mj = require "moonjail"
      assert(mj.run({ "/bin/true" }))
      local sb <close> = assert(mj.sandbox({}))
      assert(sb:exec({ "/bin/true" }))
      assert(sb:exec({ "/bin/true" }))
    ]])
    local r = cli({ "script", script }, { env = { MOONJAIL_TRACE = "timing" } })
    assert.are.equal(0, r.status, r.stderr)
    local traces = parse(r.stderr)
    local whats = {}
    for i, t in ipairs(traces) do
      whats[i] = t.what
      assert_adds_up(t)
    end
    -- one trace per operation, the process's start in the first, its end (`script`) last
    assert.are.same({ "run", "create", "exec", "exec", "script" }, whats)
    assert.are.equal("start+ld.so (cpu)", traces[1].phases[1][1])
    assert_has(traces[1], { "plan", "clone", "cmd: seccomp load", "reap" })
    assert_has(traces[3], { "exec: request sent", "exit status", "result" })
  end)
end)

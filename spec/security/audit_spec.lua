-- spec/security/audit_spec.lua — the audit log (`audit = { log = PATH }` in a policy).
--
-- Covers: every line is one JSON object (read back with lua-cjson); a one-shot run logs its
-- result ("run": command, exit code, ended_by, duration, usage, limit hits such as a timeout)
-- and the system calls the filter refused ("seccomp_denied": names and count), which the result
-- also lists (`denials`, `denials_total`) — the refused call still fails with EPERM inside; a
-- persistent sandbox logs its life cycle (create, exec, close) and the refusals of its commands;
-- without an audit log nothing is collected and the refusal is the same EPERM.
local mj = require "moonjail"
local helpers = require "spec.helpers"

if helpers.skip_unless_sandboxes() then return end

local cjson_ok, cjson = pcall(require, "cjson")

local function events(path)
  local out = {}
  for line in (helpers.read_file(path) or ""):gmatch("[^\n]+") do
    local ev = cjson_ok and cjson.decode(line) or helpers.json_decode(line)
    assert(type(ev) == "table", "not a JSON object: " .. line)
    out[#out + 1] = ev
  end
  return out
end

local function find(list, name)
  for _, ev in ipairs(list) do
    if ev.event == name then return ev end
  end
  return nil
end

-- unshare(2) is refused by the default profile; the shell prints its exit status
local REFUSED = "unshare -U true 2>/dev/null; echo rc=$?"

describe("audit log", function()
  local dir
  before_each(function() dir = helpers.tmpdir() end)
  teardown(function() helpers.cleanup() end)

  local function policy(log)
    return { extends = "default", audit = { log = log } }
  end

  it("records a one-shot run and the system calls refused in it", function()
    local log = dir .. "/audit.jsonl"
    local r = assert(mj.run(REFUSED, { policy = policy(log) }))
    assert.are.equal("rc=1\n", r.stdout)
    assert.is_table(r.denials)
    assert.are.equal("unshare", r.denials[1].syscall)
    assert.is_true(r.denials_total >= 1)
    local evs = events(log)
    local run = assert(find(evs, "run"), "no run event")
    assert.are.equal(0, run.exit_code)
    assert.are.equal("exit", run.ended_by)
    assert.is_number(run.duration)
    local denied = assert(find(evs, "seccomp_denied"), "no seccomp_denied event")
    assert.are.same({ "unshare" }, denied.syscalls)
    assert.are.equal(r.denials_total, denied.count)
  end)

  it("records limit hits with the reason", function()
    local log = dir .. "/audit.jsonl"
    local r = assert(mj.run("sleep 5", { policy = policy(log), timeout = 0.3 }))
    assert.are.equal("timeout", r.ended_by)
    local run = assert(find(events(log), "run"))
    assert.are.equal("timeout", run.ended_by)
    assert.are.equal("timeout", run.limit_hit)
  end)

  it("records a persistent sandbox's life cycle and its commands' refusals", function()
    local log = dir .. "/audit.jsonl"
    local sb = assert(mj.sandbox({ policy = policy(log) }))
    assert.are.equal("rc=1\n", assert(sb:exec(REFUSED)).stdout)
    sb:close()
    local evs = events(log)
    assert.is_table(find(evs, "sandbox_create"))
    assert.is_table(find(evs, "exec"))
    local denied = assert(find(evs, "seccomp_denied"), "no seccomp_denied event")
    assert.are.same({ "unshare" }, denied.syscalls)
    assert.is_table(find(evs, "sandbox_close"))
  end)

  it("collects nothing without a log, and the refusal is the same EPERM", function()
    local r = assert(mj.run(REFUSED))
    assert.are.equal("rc=1\n", r.stdout)
    assert.is_nil(r.denials)
  end)
end)

-- spec/security/helpers_spec.lua — moonjail's own processes in a sandbox are out of the workload's
-- reach, and the host never waits on a sandbox without a deadline (SECURITY.md, "Helpers inside
-- the workload's reach"; issue 18, item 2).
--
-- Covers, root and rootless, each symptom of the issue as a user meets it through the CLI:
--  - root inside sees no moonjail process but its namespace's init (pid 1), and SIGSTOP, SIGKILL
--    and SIGTERM to it change nothing; a command that signals every process it can (kill -1)
--    with SIGSTOP, then SIGKILL, leaves the sandbox working;
--  - `exec box sh -c 'kill -STOP 2'` (once the spawner) leaves exec, ps (for every sandbox),
--    info, top and cp prompt, and rm -f takes well under the 35 s it took;
--  - `kill -9 2` (once the spawner) does not leave the sandbox "running" with every exec failing;
--  - `kill -STOP $PPID` (once the command's exec shim) does not make `moonjail exec` hang: SIGTERM
--    to it still ends the command, even one that stopped itself;
--  - with a supervisor that does not answer at all (stopped from the host), ps still lists every
--    sandbox within seconds, that one as unresponsive, and rm -f removes it promptly;
--  - with the spawner stopped from the host, `moonjail exec` told SIGTERM gives up with TIMEOUT
--    once its signal goes unacknowledged, instead of waiting for good.
-- Every CLI call runs under a private MOONJAIL_STATE_DIR; every sandbox is removed after each test.
local helpers = require "spec.helpers"

if helpers.skip_unless_sandboxes() then return end

local state_dir
local names = {}

-- `moonjail ARGS` (helpers.cli's result), SIGKILLed after 60 s: a build where the bug is back
-- fails these tests instead of hanging them.
local function cli(args)
  local words = {}
  for _, a in ipairs(args) do words[#words + 1] = helpers.shell_quote(a) end
  local dir = helpers.tmpdir("0700")
  local t0 = helpers.now()
  local _, how, code = os.execute(string.format("MOONJAIL_STATE_DIR=%s timeout -s KILL 60 %s %s </dev/null >%s 2>%s",
    helpers.shell_quote(state_dir), helpers.shell_quote(helpers.moonjail_bin()), table.concat(words, " "),
    helpers.shell_quote(dir .. "/out"), helpers.shell_quote(dir .. "/err")))
  local r = { status = how == "signal" and 128 + code or code, duration = helpers.now() - t0,
    stdout = helpers.read_file(dir .. "/out") or "", stderr = helpers.read_file(dir .. "/err") or "" }
  os.execute("rm -rf " .. helpers.shell_quote(dir))
  return r
end

local function cli_ok(args)
  local r = cli(args)
  assert(r.status == 0, "moonjail " .. table.concat(args, " ") .. " exited " .. tostring(r.status) .. ": " .. r.stderr)
  return r.stdout
end

local function create()
  local name = string.format("mjspec-h-%d-%d", helpers.unique_number(), helpers.uid())
  names[#names + 1] = name
  cli_ok({ "create", name })
  return name
end

local function info(name)
  local i = helpers.json_decode(cli_ok({ "info", name, "--json" }))
  i.supervisor_pid = math.tointeger(i.supervisor_pid)
  return i
end

-- The host pids of a supervisor's children, by their comm.
local function helpers_of(sup)
  local found = {}
  local kids = helpers.read_file("/proc/" .. sup .. "/task/" .. sup .. "/children") or ""
  for pid in kids:gmatch("%d+") do
    local comm = (helpers.read_file("/proc/" .. pid .. "/comm") or ""):gsub("\n", "")
    found[comm] = tonumber(pid)
  end
  return found
end

-- Runs `moonjail ARGS` in the background, sends it SIGTERM after `after` seconds, and waits up to
-- `limit` seconds for it to end (then SIGKILLs it): returns its exit status and how long it took
-- from the SIGTERM.
local function cli_terminated(args, after, limit)
  local words = {}
  for _, a in ipairs(args) do words[#words + 1] = helpers.shell_quote(a) end
  local script = string.format(
    "MOONJAIL_STATE_DIR=%s %s %s </dev/null >/dev/null 2>&1 & p=$!; sleep %s; "
      .. "t0=$(date +%%s%%N); kill -TERM $p; i=0; "
      .. "while kill -0 $p 2>/dev/null && [ $i -lt %d ]; do sleep 0.1; i=$((i+1)); done; "
      .. "kill -KILL $p 2>/dev/null; wait $p; s=$?; t1=$(date +%%s%%N); echo $s $(( (t1 - t0) / 1000000 ))",
    helpers.shell_quote(state_dir), helpers.shell_quote(helpers.moonjail_bin()), table.concat(words, " "),
    tostring(after), math.floor(limit * 10))
  local out = helpers.sh(script)
  local status, ms = out:match("(%d+) (%d+)")
  return tonumber(status), tonumber(ms) / 1000
end

setup(function()
  state_dir = helpers.tmpdir("0700")
end)

after_each(function()
  for _, name in ipairs(names) do
    cli({ "rm", "-f", name })
  end
  names = {}
end)

teardown(function() helpers.cleanup() end)

describe("moonjail's helpers in a sandbox", function()
  it("are invisible to root inside but the namespace's init, which SIGSTOP, SIGKILL and SIGTERM do not reach",
    function()
      local name = create()
      local out = cli_ok({ "exec", "-u", "0", name, "sh", "-c", [=[
        for p in /proc/[0-9]*; do c=$(cat $p/comm 2>/dev/null); case $c in moonjail*) echo "${p#/proc/} $c";; esac; done
        kill -STOP 1; kill -KILL 1; kill -TERM 1
        sleep 0.2
        echo "state $(sed -n 's/^State:[[:space:]]*\(.\).*/\1/p' /proc/1/status)"]=] })
      assert.are.equal("1 moonjail-init\nstate S\n", out)
      assert.are.equal("still\n", cli_ok({ "exec", name, "echo", "still" }))
    end)

  it("survive a command that stops, then kills, every process it may signal (kill -1)", function()
    local name = create()
    local r = cli({ "exec", "-u", "0", name, "sh", "-c", "kill -STOP -1; kill -KILL -1; echo done" })
    assert.are.equal(0, r.status, r.stderr)
    assert.are.equal("done\n", r.stdout)
    assert.are.equal("works\n", cli_ok({ "exec", name, "echo", "works" }))
    assert.are.equal("running", info(name).status)
  end)

  it("survive `kill -STOP 2`: exec, ps, info, top, cp stay prompt and rm -f is quick", function()
    local name, other = create(), create()
    cli_ok({ "exec", name, "true" }) -- pid 2 is not the killer's own then
    cli({ "exec", "-u", "0", name, "sh", "-c", "kill -STOP 2" })
    local t0 = helpers.now()
    local r = cli({ "exec", name, "echo", "after" })
    assert.are.equal("after\n", r.stdout, r.stderr)
    local ps = cli({ "ps", "--json" })
    assert.are.equal(0, ps.status, ps.stderr)
    local listed = {}
    for _, e in ipairs(helpers.json_decode(ps.stdout)) do listed[e.name] = e.status end
    assert.are.equal("running", listed[name])
    assert.are.equal("running", listed[other])
    assert.are.equal(0, cli({ "info", name }).status)
    assert.are.equal(0, cli({ "top", name }).status)
    local dir = helpers.tmpdir("0755")
    helpers.write_file(dir .. "/in", "x")
    assert.are.equal(0, cli({ "cp", dir .. "/in", name .. ":/tmp/in" }).status)
    assert.are.equal(0, cli({ "cp", name .. ":/tmp/in", dir .. "/out" }).status)
    assert.is_true(helpers.now() - t0 < 15, string.format("took %.1f s", helpers.now() - t0))
    local rm = cli({ "rm", "-f", name })
    assert.are.equal(0, rm.status, rm.stderr)
    assert.is_true(rm.duration < 5, string.format("rm -f took %.1f s", rm.duration))
  end)

  it("survive `kill -9 2`: the sandbox is not left running with every exec failing", function()
    local name = create()
    cli_ok({ "exec", name, "true" }) -- pid 2 is not the killer's own then
    cli({ "exec", "-u", "0", name, "sh", "-c", "kill -9 2" })
    local r = cli({ "exec", name, "echo", "alive" })
    assert.are.equal(0, r.status, r.stderr)
    assert.are.equal("alive\n", r.stdout)
    assert.are.equal("running", info(name).status)
  end)

  it("survive `kill -STOP $PPID`: SIGTERM still ends `moonjail exec`, even of a command that stopped itself", function()
    local name = create()
    -- on a sandbox whose commands can see their parent, that parent is moonjail's; here it is not
    local status, took = cli_terminated({ "exec", "-u", "0", name, "sh", "-c",
      '[ "$PPID" -gt 0 ] && kill -STOP "$PPID"; sleep 100' }, 1, 15)
    assert.are.equal(128 + 15, status)
    assert.is_true(took < 5, string.format("exec ended %.1f s after SIGTERM", took))
    status, took = cli_terminated({ "exec", name, "sh", "-c", "kill -STOP $$; sleep 100" }, 1, 15)
    assert.are.equal(128 + 15, status)
    assert.is_true(took < 5, string.format("exec ended %.1f s after SIGTERM", took))
    assert.are.equal("ok\n", cli_ok({ "exec", name, "echo", "ok" }))
  end)
end)

describe("the host side", function()
  it("lists every sandbox within seconds when one's supervisor does not answer, and rm -f removes that one",
    function()
      local name, other = create(), create()
      local sup = info(name).supervisor_pid
      helpers.sh("kill -STOP " .. sup)
      local ps = cli({ "ps", "--json" })
      assert.are.equal(0, ps.status, ps.stderr)
      assert.is_true(ps.duration < 10, string.format("ps took %.1f s", ps.duration))
      local listed = {}
      for _, e in ipairs(helpers.json_decode(ps.stdout)) do listed[e.name] = e end
      assert.are.equal("running", listed[other] and listed[other].status)
      assert.is_truthy(listed[name], "the unresponsive sandbox is not listed")
      assert.are.equal(false, listed[name].responding)
      local text = cli({ "ps" })
      assert.is_truthy(text.stdout:find(name:gsub("%p", "%%%0") .. "%s+unresponsive"), text.stdout)
      local rm = cli({ "rm", "-f", name })
      assert.are.equal(0, rm.status, rm.stderr)
      assert.is_true(rm.duration < 10, string.format("rm -f took %.1f s", rm.duration))
      assert.is_truthy(helpers.eventually(3, function() return not helpers.process_alive(sup) end),
        "the supervisor outlived rm -f")
      assert.are.equal(125, cli({ "info", name }).status)
    end)

  it("gives up on an exec with TIMEOUT when its signal goes unacknowledged", function()
    local name = create()
    local spawner = helpers_of(info(name).supervisor_pid)["moonjail-spawn"]
    assert.is_number(spawner)
    local n = helpers.unique_number()
    local script = string.format(
      "MOONJAIL_STATE_DIR=%s %s exec %s sleep %d </dev/null >/dev/null 2>&1 & p=$!; sleep 1; kill -STOP %d; "
        .. "kill -TERM $p; i=0; while kill -0 $p 2>/dev/null && [ $i -lt 200 ]; do sleep 0.1; i=$((i+1)); done; "
        .. "kill -KILL $p 2>/dev/null; wait $p; echo $? $i; kill -CONT %d",
      helpers.shell_quote(state_dir), helpers.shell_quote(helpers.moonjail_bin()), helpers.shell_quote(name), n,
      spawner, spawner)
    local status, tenths = helpers.sh(script):match("(%d+) (%d+)")
    assert.are.equal(125, tonumber(status), "exec did not give up")
    assert.is_true(tonumber(tenths) < 150, string.format("exec gave up after %.1f s", tonumber(tenths) / 10))
  end)
end)

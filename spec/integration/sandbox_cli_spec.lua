-- spec/integration/sandbox_cli_spec.lua — the life cycle of named sandboxes through the CLI.
--
-- Covers, as a user types it (each CLI call a subprocess of the binary, state isolated under a
-- private MOONJAIL_STATE_DIR): create NAME; exec NAME CMD (output and exit status, env and
-- workdir); exec -d; cp in both directions with NAME:/path (files and trees, modes kept); ps,
-- ps -q, ps --json; info NAME --json; stats --no-stream --json; top NAME; pause/resume; stop -t 1
-- (grace then SIGKILL); kill -s TERM; rm refused while running without -f (125, INVALID_STATE);
-- rm -f; an unknown name (SANDBOX_NOT_FOUND, 125); SIGKILL of a `moonjail exec` mid-command
-- (the sandbox keeps running and answers, the killed command is gone); SIGKILL of the supervisor
-- (ps -a and info say "failed", rm removes it cleanly); rm -f of a paused sandbox.
-- Every sandbox a test makes has a unique name and is removed in after_each whatever happened.
local helpers = require "spec.helpers"

if helpers.skip_unless_sandboxes() then return end

local state_dir -- private to this file, made in setup
local names = {} -- sandboxes to remove after each test

local function cli(args, opts)
  opts = opts or {}
  opts.env = opts.env or {}
  opts.env.MOONJAIL_STATE_DIR = state_dir
  return helpers.cli(args, opts)
end

local function words(args) return table.concat(args, " ") end

-- Runs the CLI and asserts exit 0; returns stdout.
local function cli_ok(args, opts)
  local r = cli(args, opts)
  assert(r.status == 0, "moonjail " .. words(args) .. " exited " .. tostring(r.status) .. ": " .. r.stderr)
  return r.stdout
end

-- Asserts r is a moonjail error exit (125, one line "moonjail: CODE: message"); returns the message.
local function assert_own_error(r, code)
  assert.are.equal(125, r.status, "stdout: " .. r.stdout .. " stderr: " .. r.stderr)
  local got, msg = r.stderr:match("^moonjail: ([A-Z_]+): ([^\n]+)\n$")
  assert.is_truthy(got, "stderr is not one line 'moonjail: CODE: message': " .. r.stderr)
  assert.are.equal(code, got, r.stderr)
  return msg
end

local function unique_name()
  local name = string.format("mjspec-%d-%d", helpers.unique_number(), helpers.uid())
  names[#names + 1] = name
  return name
end

-- Creates a named sandbox (extra CLI options allowed); returns its name.
local function create(extra)
  local name = unique_name()
  local args = { "create", name }
  for _, a in ipairs(extra or {}) do args[#args + 1] = a end
  local out = cli_ok(args)
  assert.are.equal(name .. "\n", out)
  return name
end

local function info(name)
  local i = helpers.json_decode(cli_ok({ "info", name, "--json" }))
  -- JSON numbers may decode as floats; pids are integers
  if type(i.supervisor_pid) == "number" then i.supervisor_pid = math.tointeger(i.supervisor_pid) end
  return i
end

local eventually = helpers.eventually

local function gone(pattern)
  return eventually(3, function() return helpers.count_processes(pattern) == 0 end)
end

-- Paths under the state dir whose name contains name (plain text), at any depth.
local function state_entries(name)
  local out = helpers.sh("find " .. helpers.shell_quote(state_dir) .. " -mindepth 1 2>/dev/null")
  local found = {}
  for _, e in ipairs(helpers.lines(out)) do
    if e:sub(#state_dir + 2):find(name, 1, true) then found[#found + 1] = e end
  end
  return found
end

describe("moonjail named sandboxes", function()
  setup(function()
    state_dir = helpers.tmpdir("0700")
  end)

  after_each(function()
    for i = #names, 1, -1 do
      cli({ "rm", "-f", names[i] })
      names[i] = nil
    end
  end)

  teardown(function() helpers.cleanup() end)

  it("creates a sandbox, runs commands in it with their output and exit status, and removes it", function()
    local name = create({ "-e", "MJ_A=from-create", "-w", "/tmp", "--hostname", "clibox" })
    local r = cli({ "exec", name, "sh", "-c", 'echo "out $MJ_A"; pwd; cat /proc/sys/kernel/hostname; echo err >&2' })
    assert.are.equal(0, r.status, r.stderr)
    assert.are.equal("out from-create\n/tmp\nclibox\n", r.stdout)
    assert.are.equal("err\n", r.stderr)
    assert.are.equal(3, cli({ "exec", name, "sh", "-c", "exit 3" }).status)
    assert.are.equal(143, cli({ "exec", name, "sh", "-c", "kill -TERM $$" }).status)
    assert.are.equal(127, cli({ "exec", name, "mjspec-no-such-command" }).status)
    -- state persists between execs
    cli_ok({ "exec", name, "sh", "-c", "echo kept >/tmp/kept" })
    assert.are.equal("kept\n", cli_ok({ "exec", name, "cat", "/tmp/kept" }))
    -- per-exec env and workdir
    assert.are.equal("x|/\n", cli_ok({ "exec", "-e", "MJ_X=x", "-w", "/", name, "sh", "-c", 'echo "$MJ_X|$(pwd)"' }))
    -- a second create with the same name is refused
    assert_own_error(cli({ "create", name }), "INVALID_STATE")
    cli_ok({ "rm", "-f", name })
    assert_own_error(cli({ "exec", name, "true" }), "SANDBOX_NOT_FOUND")
    assert.are.same({}, state_entries(name))
  end)

  it("reports an unknown name as SANDBOX_NOT_FOUND with status 125", function()
    local ghost = "mjspec-ghost-" .. helpers.unique_number()
    for _, args in ipairs({ { "exec", ghost, "true" }, { "info", ghost }, { "info", ghost, "--json" },
                             { "top", ghost }, { "pause", ghost }, { "resume", ghost }, { "stop", ghost },
                             { "kill", ghost }, { "rm", ghost }, { "rm", "-f", ghost },
                             { "cp", "/etc/hostname", ghost .. ":/tmp/x" }, { "stats", "--no-stream", ghost } }) do
      local r = cli(args)
      if args[#args] == "--json" then
        assert.are.equal(125, r.status, words(args))
      else
        local msg = assert_own_error(r, "SANDBOX_NOT_FOUND")
        assert.matches("^Sandbox not found", msg)
      end
    end
  end)

  it("runs a detached command with exec -d and shows it in top", function()
    local name = create()
    local n = helpers.unique_number()
    local t0 = helpers.now()
    local r = cli({ "exec", "-d", name, "sleep", tostring(n) })
    assert.are.equal(0, r.status, r.stderr)
    assert.is_true(helpers.now() - t0 < 3, "exec -d did not return at once")
    assert.matches("^%d+\n$", r.stdout)
    assert.are.equal(1, (helpers.count_processes("sleep " .. n)))
    local top = cli_ok({ "top", name })
    assert.matches("PID", top, 1, true)
    assert.matches("sleep " .. n, top, 1, true)
    local procs = helpers.json_decode(cli_ok({ "top", name, "--json" }))
    local seen = false
    for _, p in ipairs(procs) do
      if tostring(p.command):find("sleep " .. n, 1, true) then
        seen = true
        assert.are.equal(tonumber(r.stdout), p.pid)
      end
    end
    assert.is_true(seen, "top --json does not list the detached command")
    cli_ok({ "rm", "-f", name })
    assert.is_truthy(gone("sleep " .. n), "rm -f left the detached command running")
  end)

  it("copies files and trees in both directions with NAME:PATH, modes kept", function()
    local name = create()
    local host = helpers.tmpdir()
    helpers.write_file(host .. "/in.sh", "#!/bin/sh\necho in\n", "0750")
    os.execute("mkdir -p " .. host .. "/tree/sub")
    helpers.write_file(host .. "/tree/sub/f", "f\n", "0600")
    cli_ok({ "cp", host .. "/in.sh", name .. ":/tmp/in.sh" })
    cli_ok({ "cp", host .. "/tree", name .. ":/tmp/tree" })
    assert.are.equal("in\n750\nf\n600\n",
      cli_ok({ "exec", name, "sh", "-c", "/tmp/in.sh; stat -c %a /tmp/in.sh; cat /tmp/tree/sub/f; "
                                         .. "stat -c %a /tmp/tree/sub/f" }))
    cli_ok({ "exec", name, "sh", "-c", "mkdir -p /tmp/o/d && printf o >/tmp/o/d/x && chmod 0640 /tmp/o/d/x" })
    cli_ok({ "cp", name .. ":/tmp/o/d/x", host .. "/x" })
    assert.are.equal("o", helpers.read_file(host .. "/x"))
    assert.are.equal("640", helpers.sh("stat -c %a " .. host .. "/x"))
    cli_ok({ "cp", name .. ":/tmp/o", host .. "/o" })
    assert.are.equal("o", helpers.read_file(host .. "/o/d/x"))
    -- neither side a sandbox, or both: a usage error
    assert_own_error(cli({ "cp", host .. "/x", host .. "/y" }), "INVALID_CONFIG")
    -- a missing file inside
    assert_own_error(cli({ "cp", name .. ":/tmp/mjspec-missing", host .. "/z" }), "FILE_OPERATION_FAILED")
    assert.is_false(helpers.exists(host .. "/z"))
  end)

  it("lists sandboxes with ps, ps -q and ps --json", function()
    local a = create({ "--label", "app=spec" })
    local b = create()
    local n = helpers.unique_number()
    cli_ok({ "exec", "-d", b, "sleep", tostring(n) })
    local text = cli_ok({ "ps" })
    assert.matches("NAME", text, 1, true)
    assert.matches(a, text, 1, true)
    assert.matches(b, text, 1, true)
    local quiet = helpers.lines(cli_ok({ "ps", "-q" }))
    table.sort(quiet)
    local expect = { a, b }
    table.sort(expect)
    assert.are.same(expect, quiet)
    local list = helpers.json_decode(cli_ok({ "ps", "--json" }))
    local by_name = {}
    for _, e in ipairs(list) do by_name[e.name] = e end
    assert.is_truthy(by_name[a], "ps --json lacks " .. a)
    assert.are.equal("running", by_name[a].status)
    assert.are.equal("spec", by_name[a].labels.app)
    assert.are.equal(1, by_name[b].process_count)
    assert.are.equal(0, by_name[a].process_count)
    assert.is_truthy(by_name[a].id ~= by_name[b].id)
  end)

  it("shows a sandbox's info as JSON", function()
    local t0 = os.time()
    local name = create({ "--hostname", "infobox", "--label", "app=chorus", "--annotation", "creator=spec" })
    local i = info(name)
    assert.are.equal(name, i.name)
    assert.are.equal("running", i.status)
    assert.are.equal("infobox", i.hostname)
    assert.are.equal("chorus", i.labels.app)
    assert.are.equal("spec", i.annotations.creator)
    assert.is_true(type(i.id) == "string" and #i.id > 0)
    assert.is_true(i.created_at >= t0 - 1 and i.created_at <= i.started_at)
    assert.is_true(type(i.platform) == "string" and i.platform:match("^linux/") ~= nil)
    assert.is_true(type(i.supervisor_pid) == "number" and helpers.process_alive(i.supervisor_pid))
    local text = cli_ok({ "info", name })
    assert.matches("status: running", text, 1, true)
  end)

  it("samples usage with stats --no-stream and --json", function()
    local name = create()
    local n = helpers.unique_number()
    cli_ok({ "exec", "-d", name, "sleep", tostring(n) })
    local samples = helpers.json_decode(cli_ok({ "stats", "--no-stream", "--json", name }))
    assert.are.equal(1, #samples)
    local u = samples[1]
    assert.are.equal(name, u.name)
    assert.are.equal(1, u.process_count)
    for _, k in ipairs({ "timestamp", "cpu_usage", "cpu_time", "memory_usage", "memory_percent", "memory_peak",
                         "disk_usage", "disk_reads", "disk_writes", "network_in", "network_out", "process_count",
                         "thread_count", "file_handles", "uptime" }) do
      assert.are.equal("number", type(u[k]), "stats --json lacks " .. k)
    end
    assert.is_true(u.uptime > 0)
    local all = helpers.json_decode(cli_ok({ "stats", "--no-stream", "--json" }))
    local seen = false
    for _, s in ipairs(all) do seen = seen or s.name == name end
    assert.is_true(seen, "stats --json without NAME lacks the running sandbox")
    local text = cli_ok({ "stats", "--no-stream", name })
    assert.matches(name, text, 1, true)
  end)

  it("pauses and resumes: a paused sandbox's counter stands still, cp still works", function()
    local name = create()
    cli_ok({ "exec", "-d", name, "sh", "-c",
             "i=0; while :; do i=$((i+1)); echo $i >/tmp/c.new; mv /tmp/c.new /tmp/c; sleep 0.02; done" })
    local host = helpers.tmpdir()
    local function counter(k)
      local dest = host .. "/c" .. k
      cli_ok({ "cp", name .. ":/tmp/c", dest })
      return tonumber((helpers.read_file(dest) or ""):match("%d+"))
    end
    assert.is_truthy(eventually(2, function() return (counter(0) or 0) > 2 end))
    assert.are.equal(name .. "\n", cli_ok({ "pause", name }))
    assert.are.equal("paused", info(name).status)
    local c1 = counter(1)
    helpers.sleep(0.4)
    assert.are.equal(c1, counter(2), "the counter advanced while paused")
    assert_own_error(cli({ "pause", name }), "INVALID_STATE")
    assert_own_error(cli({ "exec", name, "true" }), "INVALID_STATE")
    cli_ok({ "resume", name })
    assert.are.equal("running", info(name).status)
    assert.is_truthy(eventually(2, function() return counter(3) > c1 end), "the counter did not resume")
    assert_own_error(cli({ "resume", name }), "INVALID_STATE")
  end)

  it("stops with a grace period, then SIGKILL; a stopped sandbox refuses exec and is removed by rm", function()
    local name = create()
    local n = helpers.unique_number()
    -- ignores SIGTERM (the ignored disposition survives exec), so only the SIGKILL ends it
    cli_ok({ "exec", "-d", name, "sh", "-c", string.format("trap '' TERM; sleep %d", n) })
    -- the shell's command line holds the pattern too
    assert.is_truthy(eventually(2, function() return helpers.count_processes("sleep " .. n) >= 1 end))
    local r = cli({ "stop", "-t", "1", name })
    assert.are.equal(0, r.status, r.stderr)
    assert.is_true(r.duration >= 0.9, string.format("stop returned after %.2f s: no grace", r.duration))
    assert.is_true(r.duration < 5, string.format("stop took %.2f s", r.duration))
    assert.is_truthy(gone("sleep " .. n), "stop left the command running")
    assert.are.equal("stopped", info(name).status)
    assert_own_error(cli({ "exec", name, "true" }), "INVALID_STATE")
    local ps = helpers.json_decode(cli_ok({ "ps", "-a", "--json" }))
    local listed
    for _, e in ipairs(ps) do if e.name == name then listed = e end end
    assert.is_truthy(listed, "ps -a does not list a stopped sandbox")
    assert.are.equal("stopped", listed.status)
    cli_ok({ "rm", name })
    assert_own_error(cli({ "info", name }), "SANDBOX_NOT_FOUND")
    assert.are.same({}, state_entries(name))
  end)

  it("stops a sandbox created with --lifetime by itself, and info says why", function()
    local name = create({ "--lifetime", "1s" })
    assert.are.equal("running", info(name).status)
    assert.is_truthy(eventually(5, function() return info(name).status == "stopped" end))
    assert.are.equal("lifetime", info(name).ended_by)
    assert_own_error(cli({ "exec", name, "true" }), "INVALID_STATE")
    cli_ok({ "rm", name })
  end)

  it("sends a signal to the sandbox's processes with kill -s TERM", function()
    local name = create()
    local n = helpers.unique_number()
    cli_ok({ "exec", "-d", name, "sleep", tostring(n) })
    assert.is_truthy(eventually(2, function() return helpers.count_processes("sleep " .. n) == 1 end))
    local i = info(name)
    assert.are.equal(name .. "\n", cli_ok({ "kill", "-s", "TERM", name }))
    assert.is_truthy(gone("sleep " .. n), "kill -s TERM left the command running")
    assert.is_true(helpers.process_alive(i.supervisor_pid), "kill reached the supervisor")
    assert_own_error(cli({ "kill", "-s", "NOSUCHSIG", name }), "INVALID_CONFIG")
  end)

  it("refuses rm of a running sandbox without -f (125, INVALID_STATE) and removes it with -f", function()
    local name = create()
    local sup = info(name).supervisor_pid
    local msg = assert_own_error(cli({ "rm", name }), "INVALID_STATE")
    assert.matches(name, msg, 1, true)
    assert.are.equal("running", info(name).status)
    assert.are.equal(name .. "\n", cli_ok({ "rm", "-f", name }))
    assert.is_truthy(eventually(3, function() return not helpers.process_alive(sup) end), "supervisor left")
    assert_own_error(cli({ "info", name }), "SANDBOX_NOT_FOUND")
    assert.are.same({}, state_entries(name))
  end)

  it("keeps the sandbox running and usable when a `moonjail exec` is SIGKILLed mid-command", function()
    local name = create()
    local n = helpers.unique_number()
    local bin = helpers.shell_quote(helpers.moonjail_bin())
    local pid = tonumber(helpers.sh(string.format(
      "MOONJAIL_STATE_DIR=%s %s exec %s sleep %d </dev/null >/dev/null 2>&1 & echo $!",
      helpers.shell_quote(state_dir), bin, name, n)))
    assert.is_truthy(pid)
    -- `moonjail exec NAME sleep N` itself matches the pattern: it and the command make 2
    assert.is_truthy(eventually(3, function() return helpers.count_processes("sleep " .. n) >= 2 end),
      "the command did not start")
    os.execute("kill -KILL " .. pid)
    assert.is_truthy(eventually(3, function() return not helpers.process_alive(pid) end))
    assert.is_truthy(gone("sleep " .. n), "the killed exec's command is still running")
    assert.are.equal("running", info(name).status)
    assert.are.equal("still here\n", cli_ok({ "exec", name, "echo", "still here" }))
  end)

  it("reports failed when the supervisor is SIGKILLed, and rm removes it cleanly", function()
    local name = create()
    local n = helpers.unique_number()
    cli_ok({ "exec", "-d", name, "sleep", tostring(n) })
    local sup = info(name).supervisor_pid
    os.execute("kill -KILL " .. sup)
    assert.is_truthy(eventually(3, function() return not helpers.process_alive(sup) end))
    assert.is_truthy(gone("sleep " .. n), "the sandbox's command outlived its supervisor")
    assert.are.equal("failed", info(name).status)
    local ps = helpers.json_decode(cli_ok({ "ps", "-a", "--json" }))
    local listed
    for _, e in ipairs(ps) do if e.name == name then listed = e end end
    assert.is_truthy(listed, "ps -a does not list the failed sandbox")
    assert.are.equal("failed", listed.status)
    assert.matches(name:gsub("%p", "%%%0") .. "%s+failed", cli_ok({ "ps", "-a" }))
    assert_own_error(cli({ "exec", name, "true" }), "INVALID_STATE")
    cli_ok({ "rm", name })
    assert_own_error(cli({ "info", name }), "SANDBOX_NOT_FOUND")
    assert.are.same({}, state_entries(name))
    assert.is_falsy(cli_ok({ "ps", "-a" }):find(name, 1, true))
  end)

  it("removes a paused sandbox cleanly with rm -f", function()
    local name = create()
    local n = helpers.unique_number()
    cli_ok({ "exec", "-d", name, "sleep", tostring(n) })
    local sup = info(name).supervisor_pid
    cli_ok({ "pause", name })
    assert_own_error(cli({ "rm", name }), "INVALID_STATE")
    local r = cli({ "rm", "-f", name })
    assert.are.equal(0, r.status, r.stderr)
    assert.is_true(r.duration < 5, string.format("rm -f of a paused sandbox took %.2f s", r.duration))
    assert.is_truthy(gone("sleep " .. n), "rm -f left a frozen process behind")
    assert.is_truthy(eventually(3, function() return not helpers.process_alive(sup) end), "supervisor left")
    assert_own_error(cli({ "info", name }), "SANDBOX_NOT_FOUND")
    assert.are.same({}, state_entries(name))
  end)
end)

-- spec/integration/logs_spec.lua — docker's container life on the command line: `run --name` and
-- `run -d` keep the sandbox (stopped once its command ends) and the command's output, `logs [-f]
-- [--tail N] NAME [PID]` reads it, `start`/`restart` run the command again, `--rm` removes.
--
-- Covers: run --name -d prints the name and returns at once; logs -f follows the output to the
-- command's end (stdout to stdout, stderr to stderr, the command's exit status back); ps shows
-- "stopped (exit N)"; cp out of the stopped sandbox; --tail; start -a (output and status) and
-- restart; run --name in the foreground streams and keeps the output; run --name --rm and run -d
-- --rm leave nothing; run -d without --name generates one; exec -d's pid for logs; the log is
-- capped (older output rotates out); errors for unknown sandboxes and pids.
local helpers = require "spec.helpers"

if helpers.skip_unless_sandboxes() then return end

local state_dir
local function cli(args, opts)
  opts = opts or {}
  opts.env = opts.env or {}
  opts.env.MOONJAIL_STATE_DIR = state_dir
  return helpers.cli(args, opts)
end

local function run_ok(args)
  local r = cli(args)
  assert(r.status == 0, "moonjail " .. table.concat(args, " ") .. " exited " .. r.status .. ": " .. r.stderr)
  return r.stdout
end

local function status_of(name)
  for _, line in ipairs(helpers.lines(run_ok({ "ps", "-a" }))) do
    local n, st = line:match("^(%S+)%s%s+(.-)%s%s") -- columns are two spaces or more apart
    if n == name then return st end
  end
end

local names = {}
local function new_name()
  names[#names + 1] = "mjspec-logs-" .. helpers.unique_number()
  return names[#names]
end

describe("a named run's output", function()
  setup(function() state_dir = helpers.tmpdir("0700") end)
  teardown(function()
    for _, n in ipairs(names) do cli({ "rm", "-f", n }) end
    assert.are.equal("", run_ok({ "ps", "-aq" }))
    helpers.cleanup()
  end)

  it("run --name -d returns at once; logs -f follows the command to its end", function()
    local name = new_name()
    local r = cli({ "run", "--name", name, "-d", "--", "sh", "-c",
      "for i in 1 2 3; do echo out$i; echo err$i >&2; sleep 0.4; done; exit 3" })
    assert.are.equal(0, r.status, r.stderr)
    assert.are.equal(name .. "\n", r.stdout)
    assert.is_true(r.duration < 1, string.format("run -d took %.2f s", r.duration))
    local f = cli({ "logs", "-f", name })
    assert.are.equal(0, f.status, f.stderr)
    assert.are.equal("out1\nout2\nout3\n", f.stdout)
    assert.are.equal("err1\nerr2\nerr3\n", f.stderr)
    assert.is_true(f.duration > 0.6, string.format("logs -f ended after %.2f s: it did not follow", f.duration))
    assert.are.equal("stopped (exit 3)", status_of(name))
    -- logs again: the same, at once; --tail counts lines of both streams
    local again = cli({ "logs", name })
    assert.are.equal("out1\nout2\nout3\n", again.stdout)
    assert.are.equal("err1\nerr2\nerr3\n", again.stderr)
    local tail = cli({ "logs", "--tail", "2", name })
    assert.are.equal("out3\n", tail.stdout)
    assert.are.equal("err3\n", tail.stderr)
    local last = cli({ "logs", "-n", "1", name })
    assert.are.equal("", last.stdout)
    assert.are.equal("err3\n", last.stderr)
  end)

  it("keeps the stopped sandbox's files for cp, and start -a / restart run the command again", function()
    local name = new_name()
    local r = cli({ "run", "--name", name, "--", "sh", "-c",
      "date +%s%N >> /tmp/runs; wc -l < /tmp/runs; exit 7" })
    assert.are.equal(7, r.status, r.stderr)
    assert.are.equal("1\n", r.stdout) -- a foreground named run streams as run does
    assert.are.equal("1\n", run_ok({ "logs", name })) -- and keeps what it printed
    assert.are.equal("stopped (exit 7)", status_of(name))
    local out = helpers.tmpdir()
    run_ok({ "cp", name .. ":/tmp/runs", out .. "/runs" })
    assert.are.equal(1, #helpers.lines(helpers.read_file(out .. "/runs")))

    local s = cli({ "start", "-a", name })
    assert.are.equal(7, s.status, s.stderr)
    assert.are.equal("2\n", s.stdout) -- the same sandbox: its /tmp kept the first run's line
    assert.are.equal("stopped (exit 7)", status_of(name))

    assert.are.equal(name .. "\n", run_ok({ "restart", name }))
    assert.is_truthy(helpers.eventually(10, function() return status_of(name) == "stopped (exit 7)" end))
    assert.are.equal("3\n", run_ok({ "logs", "-f", name }))
  end)

  it("--rm removes the sandbox when the command ends, in the foreground and detached", function()
    local name = new_name()
    local r = cli({ "run", "--name", name, "--rm", "--", "echo", "gone" })
    assert.are.equal(0, r.status, r.stderr)
    assert.are.equal("gone\n", r.stdout)
    assert.is_nil(status_of(name))
    local d = new_name()
    assert.are.equal(d .. "\n", run_ok({ "run", "--name", d, "-d", "--rm", "--", "sleep", "0.3" }))
    assert.is_truthy(helpers.eventually(10, function() return status_of(d) == nil end))
  end)

  it("run -d without --name makes up a name and prints it", function()
    local name = run_ok({ "run", "-d", "--", "echo", "generated" }):match("^(%S+)\n$")
    assert.is_truthy(name)
    names[#names + 1] = name
    assert.are.equal("generated\n", run_ok({ "logs", "-f", name }))
  end)

  it("keeps an exec -d command's output under its pid", function()
    local name = new_name()
    run_ok({ "create", name })
    local pid = run_ok({ "exec", "-d", name, "sh", "-c", "echo a; sleep 0.5; echo b >&2; exit 2" }):match("^(%d+)\n$")
    assert.is_truthy(pid)
    local f = cli({ "logs", "-f", name, pid })
    assert.are.equal(0, f.status, f.stderr)
    assert.are.equal("a\n", f.stdout)
    assert.are.equal("b\n", f.stderr)
    assert.are.equal("running", status_of(name)) -- exec -d does not stop a created sandbox
    local bad = cli({ "logs", name, "99999" })
    assert.are.equal(125, bad.status)
    assert.matches("99999", bad.stderr, 1, true)
  end)

  it("caps what it keeps: older output rotates out", function()
    local name = new_name()
    run_ok({ "run", "--name", name, "--", "sh", "-c",
      "i=0; while [ $i -lt 60000 ]; do echo line-$i-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx; i=$((i+1)); done" })
    local out = run_ok({ "logs", name })
    local lines = helpers.lines(out)
    assert.are.equal("line-59999-" .. string.rep("x", 41), lines[#lines])
    assert.is_true(#out < 3 * 1024 * 1024, "kept " .. #out .. " bytes")
    assert.is_nil(out:find("line-0-", 1, true))
  end)

  it("names what it cannot find", function()
    local r = cli({ "logs", "mjspec-no-such-sandbox" })
    assert.are.equal(125, r.status)
    assert.matches("mjspec%-no%-such%-sandbox", r.stderr)
    r = cli({ "start", "mjspec-no-such-sandbox" })
    assert.are.equal(125, r.status)
  end)
end)

-- spec/integration/cli_spec.lua — `moonjail run` as a user runs it: a subprocess of the binary.
--
-- Covers: stdout/stderr passed through; the exit status contract (the command's own status,
-- 128+N for signal N, 124 timeout, 125 moonjail's own errors with one line
-- "moonjail: CODE: message", 126 not executable, 127 not found); usage and config errors
-- (unknown option, missing command, non-numeric timeout, policy file with a syntax error,
-- missing mount source); --ro/--rw/--tmpfs, --hostname, -e (set and pass), -w, --cap-add, -i;
-- host secrets in the environment not leaking; the timeout and signal forwarding leaving no
-- process behind; --json output.
local helpers = require "spec.helpers"

if helpers.skip_unless_sandboxes() then return end

local cli = helpers.cli

-- Asserts r is a moonjail error exit: status 125 and exactly one stderr line
-- "moonjail: CODE: message"; returns the code and message.
local function assert_own_error(r, expected_code)
  assert.are.equal(125, r.status, "stderr: " .. r.stderr)
  local code, msg = r.stderr:match("^moonjail: ([A-Z_]+): ([^\n]+)\n$")
  assert.is_truthy(code, "stderr is not one line 'moonjail: CODE: message': " .. r.stderr)
  if expected_code then assert.are.equal(expected_code, code, r.stderr) end
  return code, msg
end

local function run_ok(args, opts)
  local r = cli(args, opts)
  assert(r.status == 0, "moonjail " .. table.concat(args, " ") .. " exited " .. tostring(r.status)
         .. ": " .. r.stderr)
  return r.stdout
end

describe("moonjail run", function()
  teardown(function() helpers.cleanup() end)

  it("passes the command's stdout and stderr through", function()
    local r = cli({ "run", "--", "sh", "-c", "echo out; echo err >&2" })
    assert.are.equal(0, r.status)
    assert.are.equal("out\n", r.stdout)
    assert.are.equal("err\n", r.stderr)
  end)

  it("runs isolated: its own host name, root inside, pid 1 is not the command", function()
    local out = run_ok({ "run", "--", "sh", "-c", "cat /proc/sys/kernel/hostname; id -u; echo $$" })
    local lines = helpers.lines(out)
    assert.are.equal("moonjail", lines[1])
    assert.are.equal("0", lines[2])
    assert.are_not.equal("1", lines[3])
  end)

  it("exits with the command's own status", function()
    assert.are.equal(3, cli({ "run", "--", "sh", "-c", "exit 3" }).status)
    assert.are.equal(0, cli({ "run", "--", "true" }).status)
    assert.are.equal(1, cli({ "run", "--", "false" }).status)
  end)

  it("exits 128+N when the command is killed by signal N", function()
    local r = cli({ "run", "--", "sh", "-c", "kill -TERM $$" })
    assert.are.equal(143, r.status)
    assert.are.equal("exit", r.how, "moonjail itself died of a signal")
  end)

  it("exits 124 on timeout and leaves no process of the tree behind", function()
    local n = helpers.unique_number()
    local r = cli({ "run", "--timeout", "1", "--", "sh", "-c",
                    string.format("sleep %d & setsid sleep %d & wait", n, n) })
    assert.are.equal(124, r.status, r.stderr)
    assert.is_true(r.duration < 3, string.format("took %.2f s", r.duration))
    local left, pids = helpers.count_processes("sleep " .. n)
    assert.are.equal(0, left, "left running: " .. table.concat(pids, " "))
  end)

  it("accepts a duration string for --timeout", function()
    assert.are.equal(124, cli({ "run", "--timeout", "500ms", "--", "sleep", "30" }).status)
  end)

  it("forwards SIGTERM to the command and leaves nothing behind", function()
    local n = helpers.unique_number()
    local script = string.format(
      "%s run -- sleep %d </dev/null >/dev/null 2>&1 & p=$!; sleep 0.5; kill -TERM $p; wait $p; echo $?",
      helpers.shell_quote(helpers.moonjail_bin()), n)
    local status = helpers.sh(script)
    assert.are.equal("143", status)
    local left, pids = helpers.count_processes("sleep " .. n)
    assert.are.equal(0, left, "left running: " .. table.concat(pids, " "))
  end)

  it("dies with moonjail: SIGKILL of the CLI leaves nothing of the sandbox behind", function()
    -- regression: changing ids in the sandbox's init cleared its parent-death signal
    local n = helpers.unique_number()
    local script = string.format(
      "%s run -- sleep %d </dev/null >/dev/null 2>&1 & p=$!; sleep 0.5; kill -KILL $p; wait $p; echo $?",
      helpers.shell_quote(helpers.moonjail_bin()), n)
    assert.are.equal("137", helpers.sh(script))
    local left, pids
    for _ = 1, 20 do -- the kernel tears the pid namespace down asynchronously
      left, pids = helpers.count_processes("sleep " .. n)
      if left == 0 then break end
      helpers.sleep(0.05)
    end
    assert.are.equal(0, left, "left running: " .. table.concat(pids, " "))
  end)

  it("exits 127 with COMMAND_EXECUTION_FAILED when the command is not found", function()
    local r = cli({ "run", "--", "mjspec-no-such-command" })
    assert.are.equal(127, r.status)
    assert.matches("^moonjail: COMMAND_EXECUTION_FAILED: [^\n]+\n$", r.stderr)
    assert.are.equal(127, cli({ "run", "--", "/nonexistent/mjspec" }).status)
  end)

  it("exits 126 when the command is not executable", function()
    local dir = helpers.tmpdir()
    helpers.write_file(dir .. "/script", "#!/bin/sh\necho ran\n", "0644")
    local r = cli({ "run", "--ro", dir .. ":/mnt/x", "--", "/mnt/x/script" })
    assert.are.equal(126, r.status, r.stderr)
    assert.are.equal("", r.stdout)
    assert.matches("^moonjail: COMMAND_EXECUTION_FAILED: [^\n]+\n$", r.stderr)
  end)
end)

describe("moonjail run errors", function()
  teardown(function() helpers.cleanup() end)

  it("rejects an unknown option with 125 and one line naming it", function()
    local r = cli({ "run", "--mjspec-bogus", "--", "true" })
    local _, msg = assert_own_error(r)
    assert.matches("--mjspec-bogus", msg, 1, true)
  end)

  it("rejects a missing command with 125", function()
    assert_own_error(cli({ "run" }))
    assert_own_error(cli({ "run", "--" }))
  end)

  it("rejects a non-numeric timeout with 125 INVALID_CONFIG", function()
    assert_own_error(cli({ "run", "--timeout", "abc", "--", "true" }), "INVALID_CONFIG")
  end)

  it("rejects a policy file with a syntax error with 125 INVALID_CONFIG naming file:line", function()
    local dir = helpers.tmpdir()
    local path = helpers.write_file(dir .. "/bad.lua", "return {\n  limits = = 3,\n}\n")
    local _, msg = assert_own_error(cli({ "run", "--policy", path, "--", "true" }),
                                    "INVALID_CONFIG")
    assert.matches("bad.lua:2", msg, 1, true)
  end)

  it("rejects an unknown policy name with 125 INVALID_CONFIG", function()
    assert_own_error(cli({ "run", "--policy", "mjspec-no-such-policy", "--", "true" }),
                     "INVALID_CONFIG")
  end)

  it("rejects a mount source that does not exist with 125 INVALID_CONFIG", function()
    assert_own_error(cli({ "run", "--ro", "/nonexistent/mjspec:/x", "--", "true" }),
                     "INVALID_CONFIG")
  end)
end)

describe("moonjail run options", function()
  teardown(function() helpers.cleanup() end)

  it("--ro SRC mounts a host directory read-only at the same path", function()
    local dir = helpers.tmpdir()
    helpers.write_file(dir .. "/data", "ro data\n", "0644")
    local out = run_ok({ "run", "--ro", dir, "--", "sh", "-c",
                         "cat " .. dir .. "/data; true >" .. dir .. "/new && echo WROTE; exit 0" })
    assert.are.equal("ro data\n", out)
    assert.is_false(helpers.exists(dir .. "/new"))
  end)

  it("--rw SRC:DST mounts a host directory writable; the write reaches the host", function()
    local dir = helpers.tmpdir("0777")
    run_ok({ "run", "--rw", dir .. ":/work", "--", "sh", "-c", "echo written >/work/out" })
    assert.are.equal("written\n", helpers.read_file(dir .. "/out"))
  end)

  it("--tmpfs DST mounts a fresh writable tmpfs", function()
    local out = run_ok({ "run", "--tmpfs", "/scratch", "--", "sh", "-c",
                         "echo x >/scratch/f && cat /scratch/f && stat -f -c %T /scratch" })
    assert.are.equal("x\ntmpfs\n", out)
  end)

  it("--hostname sets the host name", function()
    assert.are.equal("box\n", run_ok({ "run", "--hostname", "box", "--", "cat",
                                       "/proc/sys/kernel/hostname" }))
  end)

  it("-e K=V sets a variable", function()
    assert.are.equal("bar\n", run_ok({ "run", "-e", "FOO=bar", "--", "sh", "-c", "echo $FOO" }))
    assert.are.equal("baz\n", run_ok({ "run", "--env", "FOO=baz", "--", "sh", "-c", "echo $FOO" }))
  end)

  it("does not pass the host's environment unless asked with -e K", function()
    local env = { MJ_SECRET = "hunter2" }
    local cmd = { "--", "sh", "-c", "echo ${MJ_SECRET-unset}" }
    assert.are.equal("unset\n", run_ok({ "run", table.unpack(cmd) }, { env = env }))
    assert.are.equal("hunter2\n", run_ok({ "run", "-e", "MJ_SECRET", table.unpack(cmd) },
                                          { env = env }))
  end)

  it("-w sets the working directory", function()
    assert.are.equal("/tmp\n", run_ok({ "run", "-w", "/tmp", "--", "pwd" }))
    assert.are.equal("/tmp\n", run_ok({ "run", "--workdir", "/tmp", "--", "pwd" }))
  end)

  it("drops every capability by default and keeps one given with --cap-add", function()
    local function cap_bnd(args)
      local out = run_ok(args)
      return tonumber(helpers.status_field(out, "CapBnd"), 16)
    end
    assert.are.equal(0, cap_bnd({ "run", "--", "cat", "/proc/self/status" }))
    assert.are.equal(1 << 10, cap_bnd({ "run", "--cap-add", "NET_BIND_SERVICE", "--", "cat",
                                        "/proc/self/status" }))
  end)

  it("passes stdin only with -i", function()
    assert.are.equal("hello\n", run_ok({ "run", "-i", "--", "cat" }, { stdin = "hello\n" }))
    assert.are.equal("", run_ok({ "run", "--", "cat" }, { stdin = "hello\n" }))
  end)

  it("--json prints the result as one JSON object", function()
    local r = cli({ "run", "--json", "--", "sh", "-c", "echo out; echo err >&2; exit 4" })
    assert.are.equal(4, r.status, r.stderr)
    local ok, obj = pcall(helpers.json_decode, r.stdout)
    assert.is_true(ok, "not JSON: " .. r.stdout)
    assert.are.equal(4, obj.exit_code)
    assert.is_false(obj.success)
    assert.are.equal("out\n", obj.stdout)
    assert.are.equal("err\n", obj.stderr)
    assert.are.equal("exit", obj.ended_by)
    assert.are.equal("number", type(obj.start_time))
    assert.are.equal("number", type(obj.end_time))
    assert.are.equal("number", type(obj.duration))
    assert.is_true(obj.start_time <= obj.end_time)
  end)
end)

-- tests/vm/delegation_spec.lua — rootless cgroup v2 limits inside a delegated subtree.
--
-- Runs in the VM lane (tests/vm/run, pure cgroup v2, as root) and skips elsewhere.  Each test
-- makes a fresh group under the root cgroup and hands it to the unprivileged user mjtest the
-- way systemd's Delegate=yes does (the directory, cgroup.procs, cgroup.subtree_control and
-- cgroup.threads owned by the user), puts a shell in it and execs `moonjail run` as mjtest there.
-- Covers (DESIGN.md "cgroups": rootless v2 in a delegated subtree; SECURITY.md "Degradation"):
--  - alone in its delegated group, moonjail moves itself into <group>/moonjail/host (the
--    no-internal-processes rule), enables memory/pids in the group and puts the sandbox in
--    <group>/moonjail/<id>: a memory bomb under --memory 64M ends as ended_by "oom" (137), a
--    command sees its limit through the kernel (pids), and nothing is created outside <group>;
--  - with another process in the group it does not move what it did not start: it fails closed
--    (125) explaining the rule, and nothing ran;
--  - a group that is not delegated (not writable by the user) fails closed naming delegation.
local helpers = require "spec.helpers"

local CG = "/sys/fs/cgroup"
if not helpers.is_root() then return helpers.skip_file("needs root to delegate a cgroup (the VM lane runs it)") end
if not helpers.exists(CG .. "/cgroup.subtree_control") or helpers.exists(CG .. "/memory") then
  return helpers.skip_file("needs a pure cgroup v2 host (the VM lane boots one)")
end
if helpers.sh("id -u mjtest 2>/dev/null") == "" then return helpers.skip_file("no user mjtest") end
if os.execute("command -v setpriv >/dev/null 2>&1") ~= true then return helpers.skip_file("no setpriv") end

local made = {}
teardown(function()
  -- deepest first: sandboxes' groups, the host leaf, moonjail/, the delegated group
  for i = #made, 1, -1 do os.execute("find " .. made[i] .. " -depth -type d -exec rmdir {} + 2>/dev/null") end
  helpers.cleanup()
end)

local function delegated_group(chown)
  local dir = string.format("%s/mjvm-deleg-%d", CG, helpers.unique_number())
  assert(os.execute("mkdir " .. dir))
  made[#made + 1] = dir
  os.execute("echo '+memory +pids +cpu' > " .. CG .. "/cgroup.subtree_control")
  if chown ~= false then
    assert(os.execute(string.format("chown mjtest:mjtest %s %s/cgroup.procs %s/cgroup.subtree_control "
                                    .. "%s/cgroup.threads", dir, dir, dir, dir)))
  end
  return dir
end

-- mjtest may not reach the build tree (a clone under /root): a copy of the self-contained binary
local BIN = helpers.tmpdir("0755") .. "/moonjail"
assert(os.execute("cp " .. helpers.shell_quote(helpers.moonjail_bin()) .. " " .. BIN .. " && chmod 0755 " .. BIN))

-- Runs `moonjail ARGS` as mjtest from a shell placed in dir; returns status and output.
local function run_in(dir, args)
  local out_path = os.tmpname()
  local inner = string.format("cd / && echo $$ > %s/cgroup.procs && exec setpriv --reuid mjtest --regid mjtest "
                              .. "--init-groups env HOME=/tmp %s %s", dir, BIN, args)
  local _, _, code = os.execute(string.format("sh -c %s >%s 2>&1 </dev/null", helpers.shell_quote(inner), out_path))
  local out = helpers.read_file(out_path) or ""
  os.remove(out_path)
  return code, out
end

describe("rootless cgroup v2 in a delegated subtree", function()
  it("moves itself into a leaf, enables the controllers and enforces the limits", function()
    local dir = delegated_group()
    local marker = helpers.tmpdir("0777")
    local outside = helpers.sh("ls " .. CG .. "/moonjail 2>/dev/null")
    local bomb = [[BEGIN { system("touch /out/ran"); s = "x"; while (1) { s = s s } }]]
    local code, out = run_in(dir, "run --json --memory 64M --pids-limit 64 --rw " .. marker .. ":/out -- awk "
                                  .. helpers.shell_quote(bomb))
    assert.are.equal(137, code, out)
    local res = helpers.json_decode(out:match("(%b{})"))
    assert.are.equal("oom", res.ended_by, out)
    assert.is_true(helpers.exists(marker .. "/ran"), "the command never started")
    -- the layout: ourselves in <dir>/moonjail/host, controllers on for <dir> and <dir>/moonjail
    assert.is_true(helpers.exists(dir .. "/moonjail/host"), "no host leaf")
    assert.matches("memory", helpers.read_file(dir .. "/cgroup.subtree_control"))
    assert.matches("pids", helpers.read_file(dir .. "/moonjail/cgroup.subtree_control"))
    assert.are.equal(outside, helpers.sh("ls " .. CG .. "/moonjail 2>/dev/null"), "a group outside the subtree")

    -- a second run from the same (now leaf-organised) subtree: its own process sits in
    -- moonjail/host already counts as <dir>, and the kernel enforces the pids limit
    local _, out2 = run_in(dir .. "/moonjail/host",
                           "run --json --pids-limit 20 -- sh -c 'for i in $(seq 40); do sleep 2 & done; wait'")
    local res2 = helpers.json_decode(out2:match("(%b{})") or "{}")
    assert.are.equal("pids", res2.ended_by, out2)
    assert.is_false(helpers.exists(dir .. "/moonjail/host/moonjail"), "nested a second moonjail/ under the leaf")
  end)

  it("fails closed, moving nobody, when another process shares the group", function()
    local dir = delegated_group()
    local sleeper = io.popen("sh -c 'echo $$ > " .. dir .. "/cgroup.procs && exec sleep 60' & echo $!"):read("l")
    helpers.sleep(0.2)
    local marker = helpers.tmpdir("0777")
    local code, out = run_in(dir, "run --memory 64M --rw " .. marker .. ":/out -- touch /out/ran")
    os.execute("pkill -f 'sleep 60' ; kill " .. sleeper .. " 2>/dev/null")
    assert.are.equal(125, code, out)
    assert.matches("no-internal-processes", out, 1, true)
    assert.is_false(helpers.exists(marker .. "/ran"), "the command ran")
    assert.is_false(helpers.exists(dir .. "/moonjail/host"), "moved itself although others were there")
  end)

  it("fails closed naming delegation when the group is not the user's", function()
    local dir = delegated_group(false)
    local code, out = run_in(dir, "run --memory 64M -- true")
    assert.are.equal(125, code, out)
    assert.matches("delegated subtree", out, 1, true)
  end)
end)

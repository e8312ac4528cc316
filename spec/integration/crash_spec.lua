-- spec/integration/crash_spec.lua — a CLI killed in the middle of `moonjail create` leaves either a
-- listed sandbox or nothing that `moonjail prune` cannot remove (SECURITY.md, "Crash windows";
-- issue 18, item 3).
--
-- Covers, root and rootless: a seeded loop of 30 `moonjail create`s, each SIGKILLed at a random
-- point of its run (0 to 1.2 times how long a create takes here); then
--  - no supervisor is running that `ps -a` does not list (a supervisor is ours when it holds a
--    file under this spec's private state directory);
--  - every listed sandbox is removed by `rm -f`, and `moonjail prune` removes everything else:
--    the state directory is empty, no new cgroup directory is left without a process in it, and
--    no process holds anything under the state directory;
--  - a name whose creation was killed can be created again.
-- The seed is printed (MJSPEC_SEED=N reruns one sequence).
local helpers = require "spec.helpers"

if helpers.skip_unless_sandboxes() then return end

local state_dir

local function cli(args)
  return helpers.cli(args, { env = { MOONJAIL_STATE_DIR = state_dir } })
end

local function cli_ok(args)
  local r = cli(args)
  assert(r.status == 0, "moonjail " .. table.concat(args, " ") .. " exited " .. tostring(r.status) .. ": " .. r.stderr)
  return r.stdout
end

-- Host processes holding an fd on a path under the state dir: { [pid] = path }.
local function holders()
  local found = {}
  local out = helpers.sh("for p in /proc/[0-9]*; do for f in $p/fd/*; do l=$(readlink $f 2>/dev/null) && "
    .. "case $l in " .. helpers.shell_quote(state_dir) .. "/*) echo \"${p#/proc/} $l\";; esac; done; done 2>/dev/null")
  for _, line in ipairs(helpers.lines(out)) do
    local pid, path = line:match("^(%d+) (.*)$")
    if pid and helpers.process_alive(tonumber(pid)) then found[tonumber(pid)] = path end
  end
  return found
end

-- Sandbox cgroup directories (…/moonjail/<hex id>) on this host that this lane's user owns (the
-- ones its creates can have made: the root lane's, run beside the rootless one, are not the
-- rootless user's to prune), with whether a process is in one.
local function cgroup_dirs()
  local dirs = {}
  local out = helpers.sh("find /sys/fs/cgroup -mindepth 2 -maxdepth 12 -type d -path '*/moonjail/*' "
    .. "-regex '.*/moonjail/[0-9a-f]+' -uid \"$(id -u)\" 2>/dev/null")
  for _, d in ipairs(helpers.lines(out)) do
    local procs = helpers.sh("cat " .. helpers.shell_quote(d) .. "/cgroup.procs " .. helpers.shell_quote(d)
      .. "/sup/cgroup.procs " .. helpers.shell_quote(d) .. "/work/cgroup.procs 2>/dev/null | head -1")
    dirs[d] = procs ~= ""
  end
  return dirs
end

local function state_entries()
  local out = helpers.sh("ls -A " .. helpers.shell_quote(state_dir .. "/sandboxes") .. " 2>/dev/null")
  return helpers.lines(out)
end

setup(function()
  state_dir = helpers.tmpdir("0700")
end)

teardown(function() helpers.cleanup() end)

describe("a CLI killed during create", function()
  it("leaves a listed sandbox or nothing prune cannot remove, over 30 random kills", function()
    local seed = tonumber(os.getenv("MJSPEC_SEED") or "") or os.time()
    io.stdout:write(string.format("[seed %d] ", seed))
    math.randomseed(seed)
    local cgroups_before = cgroup_dirs()
    -- how long a whole create takes here
    local probe = string.format("mjspec-crash-probe-%d", helpers.unique_number())
    local r = cli({ "create", probe })
    assert.are.equal(0, r.status, r.stderr)
    local full = r.duration
    cli_ok({ "rm", "-f", probe })

    local names = {}
    for i = 1, 30 do
      local name = string.format("mjspec-crash-%d-%d", helpers.unique_number(), i)
      names[#names + 1] = name
      local delay = math.random() * full * 1.2
      helpers.sh(string.format("MOONJAIL_STATE_DIR=%s %s create %s >/dev/null 2>&1 & p=$!; sleep %.4f; "
        .. "kill -KILL $p 2>/dev/null; wait $p 2>/dev/null; true", helpers.shell_quote(state_dir),
        helpers.shell_quote(helpers.moonjail_bin()), name, delay))
    end

    -- no supervisor of ours runs unlisted (those of killed creations die with their creator)
    local listed = {}
    local function unlisted()
      listed = {}
      for _, e in ipairs(helpers.json_decode(cli_ok({ "ps", "-a", "--json" }))) do listed[e.name] = e.status end
      local bad = {}
      for pid, path in pairs(holders()) do
        local dir = path:match("/sandboxes/([^/]+)")
        if not dir or not listed[dir] then bad[#bad + 1] = pid .. " " .. path end
      end
      return bad
    end
    local bad = unlisted()
    local deadline = helpers.now() + 5
    while #bad > 0 and helpers.now() < deadline do
      helpers.sleep(0.1)
      bad = unlisted()
    end
    assert.are.same({}, bad, "supervisors running unlisted")

    -- listed ones go with rm -f, the rest with prune
    for name in pairs(listed) do cli_ok({ "rm", "-f", name }) end
    cli_ok({ "prune" })
    assert.are.same({}, state_entries(), "left in the state directory after prune")
    local left = {}
    for pid, path in pairs(holders()) do left[#left + 1] = pid .. " " .. path end
    assert.are.same({}, left, "processes still holding the state directory")
    -- (a supervisor's group empties a moment after it died: prune once more for those)
    local function leaked()
      local l = {}
      for dir, busy in pairs(cgroup_dirs()) do
        if cgroups_before[dir] == nil and not busy then l[#l + 1] = dir end
      end
      return l
    end
    if #leaked() > 0 then
      helpers.sleep(0.5)
      cli_ok({ "prune", "-q" })
    end
    assert.are.same({}, leaked(), "empty cgroup directories left after prune")

    -- every name is free again
    cli_ok({ "create", names[1] })
    cli_ok({ "rm", "-f", names[1] })
  end)
end)

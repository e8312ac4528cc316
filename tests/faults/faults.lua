-- tests/faults/faults.lua — the fault-injection loop behind tests/faults/run (see there).  Run as
-- `moonjail script faults.lua BIN RUN_DIR ITERATIONS SEED`; prints one line per iteration and a
-- summary, exits 1 on the first unexplained outcome or leftover (after printing it).
local mj = require "moonjail"
local json = require "moonjail.json"

local BIN, RUN, ITERATIONS, SEED = arg[1], arg[2], tonumber(arg[3]), tonumber(arg[4])
local STATE, WORK, TMP, OUT = RUN .. "/state", RUN .. "/work", RUN .. "/tmp", RUN .. "/out"

local function q(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

local function sh(script)
  local p = assert(io.popen("{\n" .. script .. "\n} 2>&1"))
  local out = p:read("a")
  p:close()
  return out
end

local ENV = string.format("MOONJAIL_STATE_DIR=%s MOONJAIL_WORK_DIR=%s TMPDIR=%s", q(STATE), q(WORK), q(TMP))

-- moonjail ARGS, synchronously: status, stdout, stderr.
local function mjrun(args)
  local out = sh(string.format("%s %s %s >%s/o 2>%s/e </dev/null; echo $?", ENV, q(BIN), args, q(OUT), q(OUT)))
  local f, g = io.open(OUT .. "/o"), io.open(OUT .. "/e")
  local o, e = f and f:read("a") or "", g and g:read("a") or ""
  if f then f:close() end
  if g then g:close() end
  return tonumber(out:match("(%d+)%s*$")), o, e
end

local function fail(fmt, ...)
  io.stdout:write("FAIL: ", string.format(fmt, ...), "\n")
  io.stdout:write(string.format("faults: rerun with --seed %d\n", SEED))
  os.exit(1)
end

-- Shell functions that find a victim by kind once the operation runs; $p is the CLI.  The
-- supervisor holds its sandbox's lock (fd 5) in the run's state directory; the spawner and the
-- workload's init are its children, the command the spawner's.
local FIND = [[
sup() {
  for s in $(pgrep -x moonjail-init); do
    case $(readlink /proc/$s/fd/5 2>/dev/null) in ]] .. STATE .. [[/*) echo $s; return;; esac
  done
}
kid() {
  s=$(sup); [ -n "$s" ] || return
  for k in $(cat /proc/$s/task/$s/children 2>/dev/null); do
    [ "$(cat /proc/$k/comm 2>/dev/null)" = "$1" ] && echo $k
  done
}
cmd() { k=$(kid moonjail-spawn); [ -n "$k" ] && cat /proc/$k/task/$k/children 2>/dev/null | cut -d' ' -f1; }
victim() {
  case $1 in
    cli) echo $p;; supervisor) sup;; spawner) kid moonjail-spawn;; reaper) kid moonjail-init;; command) cmd;;
  esac
}
]]

-- Runs `moonjail ARGS` in the background, SIGKILLs the victim of kind `kind` after `delay`
-- seconds (when it exists by then), waits up to 30 s: status (nil: it hung), stderr, the pid
-- killed (nil when the victim was not there).  A helper of a sandbox that exists already
-- (`early`) is looked up before the operation starts: looking it up takes longer than a quick
-- operation (rm -f), which would otherwise always have ended it before the kill.
local function with_fault(args, kind, delay, early)
  local script = FIND .. string.format([[
v=
[ %s = yes ] && v=$(victim %s | head -1)
( export %s; exec %s %s >%s/o 2>%s/e </dev/null ) & p=$!
sleep %.4f
[ -z "$v" ] && v=$(victim %s | head -1)
# Only a live victim counts: the CLI may have ended already (a zombie until waited for).
if [ -n "$v" ] && [ "$(sed 's/.*) //' /proc/$v/stat 2>/dev/null | cut -d' ' -f1)" = Z ]; then v=; fi
[ -n "$v" ] && { kill -KILL $v 2>/dev/null || v=; }
i=0; while kill -0 $p 2>/dev/null && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done
if kill -0 $p 2>/dev/null; then kill -KILL $p; wait $p; echo hung; else wait $p; echo status $?; fi
echo victim ${v:-none}
]], early and "yes" or "no", kind, ENV, q(BIN), args, q(OUT), q(OUT), delay, kind)
  local out = sh(script)
  local f = io.open(OUT .. "/e")
  local err = f and f:read("a") or ""
  if f then f:close() end
  return tonumber(out:match("status (%d+)")), err, tonumber(out:match("victim (%d+)")), out
end

-- Leftovers of the run: state entries, processes holding its files, and cgroup directories of
-- sandboxes that no process is in, that the run did not find before, and that no creation claims.
local cgroups_before = {}
local function cgroup_dirs()
  local set = {}
  local out = sh("find /sys/fs/cgroup -mindepth 2 -maxdepth 12 -type d -regex '.*/moonjail/[0-9a-f]+' 2>/dev/null")
  for d in out:gmatch("[^\n]+") do set[d] = true end
  return set
end
local function empty_group(d)
  return sh("cat " .. q(d) .. "/cgroup.procs " .. q(d) .. "/sup/cgroup.procs " .. q(d)
    .. "/work/cgroup.procs 2>/dev/null | head -1") == ""
end
local function leftovers()
  local found = {}
  local entries = sh("ls -A " .. q(STATE .. "/sandboxes") .. " 2>/dev/null")
  if entries ~= "" then found[#found + 1] = "state: " .. entries:gsub("\n", " ") end
  local holders = sh("for p in /proc/[0-9]*; do for f in $p/fd/*; do l=$(readlink $f 2>/dev/null) || continue; "
    .. "case $l in " .. q(RUN) .. "/*) echo ${p#/proc/} $l;; esac; done; done 2>/dev/null")
  if holders ~= "" then found[#found + 1] = "processes: " .. holders:gsub("\n", "; ") end
  for d in pairs(cgroup_dirs()) do
    local id = d:match("([0-9a-f]+)$")
    local claimed = sh("ls /run/moonjail/creating/" .. id .. " 2>/dev/null") ~= ""
    if not cgroups_before[d] and not claimed and empty_group(d) then found[#found + 1] = "cgroup: " .. d end
  end
  for _, dir in ipairs({ WORK, TMP }) do
    local e = sh("ls -A " .. q(dir) .. " 2>/dev/null")
    if e ~= "" then found[#found + 1] = dir .. ": " .. e:gsub("\n", " ") end
  end
  return found
end

-- The status `ps -a` lists for a sandbox (nil: not listed).
local function listed(name, what)
  local st, o = mjrun("ps -a --json")
  if st ~= 0 then fail("%s: ps -a failed (%s)", what, tostring(st)) end
  for _, e in ipairs(json.decode(o)) do
    if e.name == name then return e.status end
  end
  return nil
end

-- After an iteration: a listed sandbox that says it runs must work, rm -f removes it, prune the
-- rest; then nothing may be left (a supervisor's group empties a moment after it died).  `names`
-- is one name or a list of them; returns the first one's status.
local function settle(names, what)
  if type(names) ~= "table" then names = { names } end
  local first
  for i, name in ipairs(names) do
    local status = listed(name, what)
    if i == 1 then first = status end
    if status == "running" then
      local s2, o2, e2 = mjrun("exec " .. q(name) .. " echo alive")
      if s2 ~= 0 or o2 ~= "alive\n" then fail("%s: listed running but exec gave %s: %s", what, tostring(s2), e2) end
    end
    if status then
      local s3, _, e3 = mjrun("rm -f " .. q(name))
      if s3 ~= 0 then fail("%s: rm -f of a %s sandbox failed: %s", what, status, e3) end
      if listed(name, what) then fail("%s: rm -f of a %s sandbox said yes but it is still listed", what, status) end
    end
  end
  local found
  for _ = 1, 20 do
    local s4, _, e4 = mjrun("prune -q")
    if s4 ~= 0 then fail("%s: prune failed: %s", what, e4) end
    found = leftovers()
    if #found == 0 then break end
    sh("sleep 0.1")
  end
  if #found > 0 then fail("%s: left behind after rm -f and prune: %s", what, table.concat(found, " | ")) end
  return first
end

local function same_file(a, b)
  return sh("cmp -s " .. q(a) .. " " .. q(b) .. " && echo same") == "same\n"
end

-- Whether an outcome is explainable: success, a typed moonjail error (125 and one line
-- "moonjail: CODE: message"), the CLI itself killed, or the command's status (137: it, or the
-- namespace it runs in, was killed).
local function explain(status, err, kind, victim, op)
  if status == nil then return nil, "the CLI hung (SIGKILLed after 30 s)" end
  if status == 0 then return "ok" end
  if status == 125 then
    local code = err:match("^moonjail: ([A-Z_]+): [^\n]+\n$")
    if code then return code end
    return nil, "exit 125 without one typed error line: " .. err
  end
  if status == 137 and kind == "cli" and victim then return "cli killed" end
  if status == 137 and op == "exec" and victim then return "command killed" end
  return nil, string.format("exit %d (victim %s %s): %s", status, kind, tostring(victim), err)
end

local VICTIMS = {
  create = { "cli", "supervisor", "spawner", "reaper" },
  exec = { "cli", "supervisor", "spawner", "reaper", "command" },
  cp_in = { "cli", "supervisor", "spawner" },
  cp_out = { "cli", "supervisor", "spawner" },
  rm = { "cli", "supervisor", "spawner" },
}
local OPS = { "create", "exec", "cp_in", "cp_out", "rm" }

local BIG = RUN .. "/big"
sh("head -c 8388608 /dev/urandom >" .. q(BIG))

local function args_for(op, name, mark)
  if op == "create" then return "create " .. q(name) end
  if op == "exec" then return "exec " .. q(name) .. " sh -c 'echo start; sleep 0.2; echo end' " .. q(mark) end
  if op == "cp_in" then return "cp " .. q(BIG) .. " " .. q(name .. ":/tmp/big") end
  if op == "cp_out" then return "cp " .. q(name .. ":/tmp/big") .. " " .. q(OUT .. "/big.out") end
  return "rm -f " .. q(name)
end

-- What an operation's outcome must have done, beyond being explainable: a create that said yes is
-- listed; an exec that said yes printed all its command printed; a copy that said yes copied every
-- byte (into a sandbox that still runs: read back out); an rm that said yes left nothing listed.
-- Whatever an operation that failed or was cut short left, settle() must then clean up.
local function check_outcome(op, code, name, printed, what)
  if code ~= "ok" then return end
  local status = listed(name, what)
  if op == "create" and not status then fail("%s: create said yes but the sandbox is not listed", what) end
  if op == "rm" and status then fail("%s: rm -f said yes but the sandbox is listed %s", what, status) end
  if op == "exec" and printed ~= "start\nend\n" then fail("%s: exec said yes but printed %q", what, printed) end
  if op == "cp_out" and not same_file(BIG, OUT .. "/big.out") then
    fail("%s: cp out said yes but the copy differs from the original", what)
  end
  if op == "cp_in" and status == "running" then
    local st, _, e = mjrun("cp " .. q(name .. ":/tmp/big") .. " " .. q(OUT .. "/check"))
    if st ~= 0 then fail("%s: cp in said yes but the file cannot be read back: %s", what, e) end
    if not same_file(BIG, OUT .. "/check") then fail("%s: cp in said yes but the copy differs", what) end
    sh("rm -f " .. q(OUT .. "/check"))
  end
end

-- How long each operation takes here, unharmed: the faults land over 1.2 times that.
local function calibrate()
  local t = {}
  local name = "fault-cal"
  local t0 = mj.now()
  assert(mjrun("create " .. name) == 0, "calibration: create failed")
  t.create = mj.now() - t0
  for _, op in ipairs({ "exec", "cp_in", "cp_out", "rm" }) do
    t0 = mj.now()
    local st, _, e = mjrun(args_for(op, name, "fault-cal-mark"))
    if st ~= 0 then fail("calibration: %s failed: %s", op, e) end
    t[op] = mj.now() - t0
  end
  sh("rm -f " .. q(OUT .. "/big.out"))
  return t
end

-- A CLI call with an environment and, when nofile is given, under that fd limit: status and
-- stderr.
local function call(env, args, nofile)
  local limit = nofile and string.format("ulimit -n %d; ", nofile) or ""
  local script = string.format("(%sexport %s; exec %s %s) >/dev/null 2>%s/e </dev/null; echo $?", limit, env, q(BIN),
    args, q(OUT))
  local status = tonumber(sh(script):match("(%d+)%s*$"))
  local f = io.open(OUT .. "/e")
  local err = f and f:read("a") or ""
  if f then f:close() end
  return status, err
end

-- Disk full (root only: a tiny tmpfs, filled, as the state directory and as the directory of
-- working trees) and fd exhaustion (the CLI under ulimit -n): each a typed error or success, and
-- nothing left once the space is back.
local function disk_and_fds()
  local results = {}
  if sh("id -u"):match("^0") then
    local small = RUN .. "/small"
    sh("mkdir -p " .. q(small) .. " && mount -t tmpfs -o size=256k,mode=0711 moonjail-fault " .. q(small))
    sh("mkdir -m 0700 " .. q(small .. "/state") .. " && mkdir -m 0711 " .. q(small .. "/work") .. " && mkdir -m 0755 "
      .. q(small .. "/src") .. " && echo x >" .. q(small .. "/src/x")
      .. " && head -c 1048576 /dev/zero >" .. q(small .. "/fill"))
    local prefix = string.format("MOONJAIL_STATE_DIR=%s MOONJAIL_WORK_DIR=%s TMPDIR=%s", q(small .. "/state"),
      q(small .. "/work"), q(TMP))
    local repo = q(small .. "/src") .. ":/src:cow"
    for _, args in ipairs({ "create fault-full", "create fault-full-repo --repo " .. repo }) do
      local status, err = call(prefix, args)
      local code, why = explain(status, err, "none", nil, "create")
      if not code then fail("disk full, %s: %s", args, why) end
      results[#results + 1] = string.format("disk full, %s: %s", args:match("^%S+ %S+"), code)
    end
    sh("rm -f " .. q(small .. "/fill"))
    call(prefix, "rm -f fault-full fault-full-repo")
    call(prefix, "prune -q")
    local left = sh("ls -A " .. q(small .. "/state/sandboxes") .. " 2>/dev/null; ls -A " .. q(small .. "/work"))
    sh("umount " .. q(small))
    if left:find("%S") then fail("disk full: left behind: %s", left) end
  end
  if mjrun("create fault-fds") ~= 0 then fail("fd exhaustion: create failed") end
  for _, n in ipairs({ 10, 16, 24 }) do
    local inside = "fault-fds:/tmp/b" .. n
    -- Each: the arguments, and what must hold when it said yes (checked without the limit).
    local ops = {
      { "create fault-fds-" .. n, function() return listed("fault-fds-" .. n, "fd exhaustion") ~= nil end },
      { "exec fault-fds true" },
      { "cp " .. q(BIG) .. " " .. inside, function()
        return mjrun("cp " .. inside .. " " .. q(OUT .. "/check")) == 0 and same_file(BIG, OUT .. "/check")
      end },
      { "cp " .. inside .. " " .. q(OUT .. "/b"), function() return same_file(BIG, OUT .. "/b") end },
    }
    for _, o in ipairs(ops) do
      local args, holds = o[1], o[2]
      sh("rm -f " .. q(OUT .. "/b") .. " " .. q(OUT .. "/check"))
      local status, err = call(ENV, args, n)
      local code, why = explain(status, err, "none", nil, "exec")
      if not code then fail("ulimit -n %d, %s: %s", n, args, why) end
      if code == "ok" and holds and not holds() then fail("ulimit -n %d, %s said yes but did not do it", n, args) end
      results[#results + 1] = string.format("ulimit -n %d, %s: %s", n, args:match("^%S+"), code)
    end
  end
  sh("rm -f " .. q(OUT .. "/b") .. " " .. q(OUT .. "/check"))
  settle({ "fault-fds", "fault-fds-10", "fault-fds-16", "fault-fds-24" }, "fd exhaustion")
  return results
end

cgroups_before = cgroup_dirs()
math.randomseed(SEED)
local took = calibrate()
settle("fault-cal", "calibration")
io.stdout:write(string.format("faults: unharmed, create %.0f ms, exec %.0f ms, cp in %.0f ms, cp out %.0f ms, "
  .. "rm %.0f ms\n", took.create * 1000, took.exec * 1000, took.cp_in * 1000, took.cp_out * 1000, took.rm * 1000))
local outcomes, killed = {}, 0
for i = 1, ITERATIONS do
  local op = OPS[math.random(#OPS)]
  local kinds = VICTIMS[op]
  local kind = kinds[math.random(#kinds)]
  local delay = math.random() * took[op] * 1.2
  local name = string.format("fault-%d", i)
  local mark = string.format("fault-mark-%d-%d", SEED, i)
  if op ~= "create" then
    local st, _, e = mjrun("create " .. q(name))
    if st ~= 0 then fail("iteration %d: setup create failed: %s", i, e) end
    if op == "cp_out" or op == "rm" then
      st, _, e = mjrun("cp " .. q(BIG) .. " " .. q(name .. ":/tmp/big"))
      if st ~= 0 then fail("iteration %d: setup cp failed: %s", i, e) end
    end
  end
  local status, err, victim, raw = with_fault(args_for(op, name, mark), kind, delay,
    op ~= "create" and kind ~= "cli" and kind ~= "command")
  local f = io.open(OUT .. "/o")
  local printed = f and f:read("a") or ""
  if f then f:close() end
  local what = string.format("iteration %d: %s, SIGKILL to the %s at %.0f ms", i, op, kind, delay * 1000)
  local code, why = explain(status, err, kind, victim, op)
  if not code then fail("%s: %s\n%s", what, why, raw) end
  check_outcome(op, code, name, printed, what)
  killed = killed + (victim and 1 or 0)
  sh("rm -f " .. q(OUT .. "/big.out"))
  local after = settle(name, what)
  local key = string.format("%s/%s: %s", op, kind, victim and code or "ok (victim gone by then)")
  outcomes[key] = (outcomes[key] or 0) + 1
  io.stdout:write(string.format("%s -> %s%s%s\n", what, victim and code or "no victim",
    op == "exec" and string.format(" (printed %q)", printed) or "", after and (", left " .. after) or ""))
end
local extra = disk_and_fds()
io.stdout:write(string.format("faults: %d iterations (seed %d), %d with a victim killed; outcomes:\n", ITERATIONS, SEED,
  killed))
local keys = {}
for k in pairs(outcomes) do keys[#keys + 1] = k end
table.sort(keys)
for _, k in ipairs(keys) do io.stdout:write(string.format("  %4d  %s\n", outcomes[k], k)) end
for _, r in ipairs(extra) do io.stdout:write("  ", r, "\n") end
io.stdout:write("faults: nothing left behind\n")

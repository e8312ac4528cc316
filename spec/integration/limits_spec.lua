-- spec/integration/limits_spec.lua — resource limits end runaway commands, and say why.
--
-- Covers (SECURITY.md, "Resources": fork bombs, memory bombs, CPU spinners, wall-clock
-- timeout; "Degradation": requested limits fail closed), with real bombs:
--  - root lane (cgroup v1 here): a memory bomb under `limits.memory` ends with ended_by "oom"
--    and 137, bounded by the limit, while the host (a canary process, this process) survives —
--    in one-shot runs (argv and shell string) and in a persistent sandbox, which stays usable;
--    a bounded fork bomb under `limits.pids` ends with ended_by "pids" and leaves no process
--    behind; two CPU spinners under `limits.cpus = 0.5` get half a core in total, from the
--    kernel's CFS accounting (resource_usage.cpu_periods / cpu_throttled_periods / cpu_time);
--  - rootless lane (no cgroup delegation on this host): each of those limits fails closed —
--    `nil, err` with PERMISSION_DENIED or UNSUPPORTED naming the limit, for run and sandbox, and
--    the command never ran;
--  - both lanes: `limits.cpu_time` kills a spinner (SIGXCPU/SIGKILL, ended_by "cpu_time"); the
--    wall-clock timeout ends a sleeper with ended_by "timeout" and 124, distinct from cpu_time;
--    a paused sandbox freezes its commands (a background counter stands still) while usage()
--    and file reads keep answering, and resume() thaws it.
local mj = require "moonjail"
local helpers = require "spec.helpers"

if helpers.skip_unless_sandboxes() then return end
teardown(function() helpers.cleanup() end)

local ROOT = helpers.is_root()
local MiB = 1024 * 1024
local MEMORY_BOMB = [[BEGIN { s = "x"; while (1) { s = s s } }]]
local SPIN = "while :; do :; done"

local function run(cmd, opts)
  local res, err = mj.run(cmd, opts)
  assert(res, "mj.run failed: " .. tostring(err))
  return res
end

-- Rootless here, a requested cgroup limit must stop the run before anything starts: returns
-- nil, err (PERMISSION_DENIED or UNSUPPORTED, naming `what`), and a marker the command would
-- have written into a host dir is absent — for mj.run and mj.sandbox alike.
local function assert_fails_closed(limits, what)
  local dir = helpers.tmpdir("0777")
  local res, err = mj.run("touch /out/ran", { limits = limits, timeout = 10,
                                               mounts = { { src = dir, dst = "/out", mode = "rw" } } })
  assert.is_nil(res, "the run started although the limit cannot be applied")
  assert.is_truthy(err.code == "PERMISSION_DENIED" or err.code == "UNSUPPORTED", tostring(err))
  assert.matches(what, err.message:lower(), 1, true)
  assert.is_false(helpers.exists(dir .. "/ran"), "the command ran")
  local sb, err2 = mj.sandbox({ limits = limits })
  if sb then sb:close() end
  assert.is_nil(sb, "a sandbox started although the limit cannot be applied")
  assert.is_truthy(err2.code == "PERMISSION_DENIED" or err2.code == "UNSUPPORTED", tostring(err2))
  assert.matches(what, err2.message:lower(), 1, true)
end

-- OOM kills charged to this process's own memory cgroup (not its children): cgroup v1
-- memory.oom_control does not count descendants' kills, v2 memory.events.local neither.
-- nil when neither file is readable.
local function own_oom_kills()
  local cg = helpers.read_file("/proc/self/cgroup") or ""
  local v1 = cg:match("%d+:[^:\n]*memory[^:\n]*:([^\n]*)")
  local text
  if v1 then
    text = helpers.read_file("/sys/fs/cgroup/memory" .. v1 .. "/memory.oom_control")
  else
    local v2 = cg:match("0::([^\n]*)")
    text = v2 and helpers.read_file("/sys/fs/cgroup" .. v2 .. "/memory.events.local")
  end
  return text and tonumber(text:match("oom_kill (%d+)"))
end

describe("limits.memory", function()
  local canary
  after_each(function()
    if canary and helpers.process_alive(canary) then os.execute("kill " .. canary) end
    canary = nil
  end)

  it("ends a memory bomb with ended_by 'oom' and 137; the host survives", function()
    if not ROOT then return assert_fails_closed({ memory = "64M" }, "memory") end
    canary = helpers.start_host_sleep(helpers.unique_number())
    local kills_before = own_oom_kills()
    local res = run({ "awk", MEMORY_BOMB }, { limits = { memory = "64M" }, timeout = 30 })
    assert.are.equal("oom", res.ended_by)
    assert.are.equal(137, res.exit_code)
    assert.are.equal(9, res.signal)
    assert.is_false(res.success)
    -- it really grew to the limit, and no further
    assert.is_true(res.resource_usage.memory_peak > 32 * MiB, tostring(res.resource_usage.memory_peak))
    assert.is_true(res.resource_usage.memory_peak < 128 * MiB, tostring(res.resource_usage.memory_peak))
    assert.is_true(helpers.process_alive(canary), "the OOM killer took a host process")
    -- the OOM happened in the sandbox's cgroup, not in the one this spec runs in
    assert.are.equal(kills_before, own_oom_kills(), "an OOM kill was charged to the host's cgroup")
  end)

  it("reports 'oom' and 137 for a memory bomb run through the shell (a string command)", function()
    if not ROOT then return assert_fails_closed({ memory = "64M" }, "memory") end
    local res = run("awk '" .. MEMORY_BOMB .. "'", { limits = { memory = "64M" }, timeout = 30 })
    assert.are.equal(137, res.exit_code)
    assert.are.equal("oom", res.ended_by)
  end)

  it("ends a bomb exec'ed in a persistent sandbox with 'oom'; the sandbox stays usable", function()
    if not ROOT then return assert_fails_closed({ memory = "64M" }, "memory") end
    local sb <close> = assert(mj.sandbox({ limits = { memory = "64M" } }))
    local res = assert(sb:exec({ "awk", MEMORY_BOMB }, { timeout = 30 }))
    assert.are.equal("oom", res.ended_by)
    assert.are.equal(137, res.exit_code)
    local after = assert(sb:exec("echo still here"))
    assert.are.equal("still here\n", after.stdout)
    assert.are.equal("exit", after.ended_by)
    assert.are.equal("running", sb:status())
    assert.is_truthy(sb:usage())
  end)
end)

describe("the OOM killer's choice", function()
  -- Root hosts with CAP_SYS_RESOURCE put the sandbox's init/supervisor at -999 (never -1000: that
  -- floor is inherited and a sandbox of -1000 processes has nothing the kernel may kill at its
  -- memory limit); the command itself is back at 0, so an OOM takes it first.
  local function host_has_sys_resource()
    local eff = (helpers.read_file("/proc/self/status") or ""):match("CapEff:%s*(%x+)")
    return eff ~= nil and (tonumber(eff:sub(-7), 16) // (1 << 24)) % 2 == 1
  end

  it("runs commands at oom_score_adj 0, below their init's protection", function()
    local script = "cat /proc/self/oom_score_adj /proc/1/oom_score_adj"
    local want_init = (ROOT and host_has_sys_resource()) and "-999" or nil
    local res = run(script)
    local cmd_adj, init_adj = res.stdout:match("^(%-?%d+)\n(%-?%d+)\n$")
    assert.are.equal(ROOT and "0" or helpers.sh("cat /proc/self/oom_score_adj"), cmd_adj, res.stdout)
    if want_init then assert.are.equal(want_init, init_adj) end
    local sb <close> = assert(mj.sandbox({}))
    local r2 = assert(sb:exec(script))
    cmd_adj, init_adj = r2.stdout:match("^(%-?%d+)\n(%-?%d+)\n$")
    assert.are.equal(cmd_adj, (res.stdout:match("^(%-?%d+)")), r2.stdout)
    if want_init then assert.are.equal(want_init, init_adj) end
  end)
end)

describe("rlimits above the caller's own hard limit", function()
  it("are lowered to it and reported, and the command still runs", function()
    if os.execute("command -v prlimit >/dev/null 2>&1") ~= true then
      return pending("prlimit (util-linux) not installed")
    end
    -- the default policy asks for nproc 4096; the CLI runs under a hard limit of 3000
    local quoted = helpers.shell_quote(helpers.moonjail_bin())
    local out = helpers.sh("prlimit --nproc=1000:3000 " .. quoted ..
                           " run -- sh -c 'grep \"Max processes\" /proc/self/limits' 2>&1")
    assert.matches("limits.nproc: 4096 is above the caller's hard limit, lowered to 3000", out, 1, true)
    assert.matches("Max processes%s+3000%s+3000", out)
  end)
end)

describe("limits.pids", function()
  it("stops a fork bomb with ended_by 'pids' and leaves nothing behind", function()
    if not ROOT then return assert_fails_closed({ pids = 20 }, "pids") end
    local n = helpers.unique_number()
    local tag = string.format("sleep 9.%d", n)
    local res = run(string.format("for i in $(seq 60); do %s & done; wait", tag),
                    { limits = { pids = 20 }, timeout = 30 })
    assert.are.equal("pids", res.ended_by)
    assert.is_false(res.success)
    assert.is_true(res.duration < 9, "the sleeps were waited for: " .. res.duration)
    local left, pids = helpers.count_processes(tag)
    assert.are.equal(0, left, "processes of the bomb survived: " .. table.concat(pids, " "))
  end)
end)

describe("limits.cpus", function()
  it("gives two spinners half a core in total, by the kernel's accounting", function()
    if not ROOT then return assert_fails_closed({ cpus = 0.5 }, "cpu") end
    -- two spinners: without the quota they would take both cores (ratio ~2)
    local cmd = string.format("sh -c '%s' & sh -c '%s'; wait", SPIN, SPIN)
    local res = run({ "timeout", "2", "sh", "-c", cmd }, { limits = { cpus = 0.5 }, timeout = 30 })
    assert.are.equal(124, res.exit_code, res.stderr) -- timeout(1) ended them
    -- the kernel's CFS accounting, not wall-clock proportions (under qemu's TCG the wall clock
    -- and the guest's CPU time drift apart): the quota throttled most periods, and the group
    -- never ran more than 50 ms (0.5 × the 100 ms period) in any of them
    local u = res.resource_usage
    assert.is_true((u.cpu_periods or 0) > 0, "no CFS periods reported")
    assert.is_true(u.cpu_throttled_periods >= u.cpu_periods // 2,
                   string.format("%d of %d periods throttled", u.cpu_throttled_periods, u.cpu_periods))
    assert.is_true(u.cpu_time <= u.cpu_periods * 0.05 * 1.1 + 0.02,
                   string.format("cpu_time %.3f s over %d periods of 50 ms quota", u.cpu_time, u.cpu_periods))
    -- and the two spinners together got about half a core, not the two they would take
    local ratio = u.cpu_time / res.duration
    assert.is_true(ratio > 0.2 and ratio < 0.75,
                   string.format("cpu_time %.3f s over %.3f s = %.2f cores, expected 0.5",
                                 u.cpu_time, res.duration, ratio))
  end)
end)

describe("limits.cpu_time", function()
  it("kills a CPU spinner after its CPU seconds, with ended_by 'cpu_time'", function()
    local res = run({ "sh", "-c", SPIN }, { limits = { cpu_time = 1 }, timeout = 30 })
    assert.is_truthy(res.signal == 24 or res.signal == 9, "signal " .. tostring(res.signal))
    assert.are.equal(128 + res.signal, res.exit_code)
    assert.are.equal("cpu_time", res.ended_by)
    -- not ended at once, nor long after its second: the lower bound is loose because a guest
    -- without KVM (the VM lane's TCG fallback) charges CPU time by coarse ticks (0.77 s seen)
    assert.is_true(res.duration >= 0.5 and res.duration < 10, "duration " .. res.duration)
  end)
end)

describe("io limits", function()
  -- the block device under / (a real one on our machines: /dev/vda), else any mounted one
  -- (the VM lane's root is 9p; its ext4 scratch disk is a virtio block device)
  local function root_device()
    local any
    for line in (helpers.read_file("/proc/self/mountinfo") or ""):gmatch("[^\n]+") do
      local mp, src = line:match("^%S+ %S+ %S+ %S+ (%S+) .- %- %S+ (%S+)")
      if src and src:match("^/dev/") and os.execute("test -b " .. helpers.shell_quote(src)) == true then
        if mp == "/" then return src, mp end
        any = any or { src, mp }
      end
    end
    if any then return any[1], any[2] end
  end

  it("throttles the sandbox's io on a block device (blkio / io.max), or fails closed", function()
    local dev, mountpoint = root_device()
    if not dev then
      pending("no mounted block device on this host")
      return
    end
    local limits = { io = { { device = dev, read_bps = "10M", write_iops = 100 } } }
    if not ROOT then return assert_fails_closed(limits, "io") end
    -- a read-write directory on that device, for I/O the io cgroup accounts
    local out = string.format("%s/mjspec-io-%d", mountpoint == "/" and "/var/tmp" or mountpoint,
                              helpers.unique_number())
    assert(os.execute("mkdir -m 0777 " .. out))
    local sb = assert(mj.sandbox({ limits = limits, mounts = { { src = out, dst = "/out", mode = "rw" } } }))
    local wrote = assert(sb:exec("dd if=/dev/zero of=/out/f bs=1M count=4 oflag=direct 2>&1"))
    local usage = assert(sb:usage())
    os.execute("rm -rf " .. out)
    assert.are.equal(0, wrote.exit_code, wrote.stdout)
    -- usage from the io cgroup (io.stat / blkio.throttle.io_service_bytes), with operation counts
    assert.is_true(usage.block_write_bytes >= 4 * MiB, tostring(usage.block_write_bytes))
    assert.is_true((usage.block_write_ops or 0) >= 4, tostring(usage.block_write_ops))
    local id = sb:info().id
    local text = ""
    for _, base in ipairs({ "/sys/fs/cgroup/blkio", "/sys/fs/cgroup" }) do
      local found = helpers.sh("find " .. base .. " -maxdepth 6 -path '*moonjail/" .. id .. "' 2>/dev/null")
      for line in found:gmatch("[^\n]+") do
        text = text .. (helpers.read_file(line .. "/blkio.throttle.read_bps_device") or "")
          .. (helpers.read_file(line .. "/io.max") or "")
      end
    end
    sb:close()
    -- v1 blkio.throttle.read_bps_device "MAJ:MIN 10485760", v2 io.max "MAJ:MIN rbps=10485760 …"
    assert.is_truthy(text:find(" 10485760", 1, true) or text:find("rbps=10485760", 1, true), text)
  end)
end)

describe("the disk limit", function()
  it("ends a fill larger than the memory limit in ENOSPC and 'disk', never in an OOM kill", function()
    -- root: memory 64M and disk 32M, a 100M fill; rootless (no cgroups here): the disk cap alone
    local limits = ROOT and { memory = "64M", disk = "32M" } or { disk = "32M" }
    local res = run({ "sh", "-c", "set -e; head -c 100M /dev/zero > /tmp/fill" }, { limits = limits, timeout = 30 })
    assert.are.equal("disk", res.ended_by)
    assert.is_false(res.success)
    assert.matches("No space left on device", res.stderr, 1, true)
    assert.are_not.equal(137, res.exit_code)
  end)

  it("refuses a disk limit above the memory limit (it would end in OOM, not ENOSPC)", function()
    local res, err = mj.run({ "true" }, { limits = { memory = "64M", disk = "1G" } })
    assert.is_nil(res)
    assert.are.equal("UNSUPPORTED", err.code)
    assert.matches("limits.disk", err.message, 1, true)
  end)
end)

describe("the wall-clock timeout", function()
  it("ends a sleeper with ended_by 'timeout' and 124, distinct from cpu_time", function()
    local res = run({ "sleep", "30" }, { timeout = 0.5, limits = { cpu_time = 5 } })
    assert.are.equal("timeout", res.ended_by)
    assert.are.equal(124, res.exit_code)
    assert.is_true(res.duration >= 0.4 and res.duration < 5, "duration " .. res.duration)
  end)
end)

describe("a paused sandbox", function()
  it("freezes its commands while usage() and file reads still answer; resume() thaws them", function()
    local sb <close> = assert(mj.sandbox({}))
    assert(sb:exec("(i=0; while :; do i=$((i + 1)); echo $i >/tmp/count.new; "
                   .. "mv /tmp/count.new /tmp/count; sleep 0.02; done) >/dev/null 2>&1 &"))
    -- wait until it counts
    local first
    for _ = 1, 100 do
      first = tonumber(sb:read_file("/tmp/count") or "")
      if first and first > 2 then break end
      helpers.sleep(0.02)
    end
    assert.is_truthy(first, "the counter never started")
    assert(sb:pause())
    assert.are.equal("paused", sb:status())
    local frozen = assert(tonumber(assert(sb:read_file("/tmp/count"))))
    helpers.sleep(0.4)
    local usage, err = sb:usage()
    assert.is_truthy(usage, tostring(err))
    assert.are.equal(frozen, tonumber(assert(sb:read_file("/tmp/count"))), "the counter moved while paused")
    assert(sb:resume())
    assert.are.equal("running", sb:status())
    local moved = false
    for _ = 1, 100 do
      if tonumber(sb:read_file("/tmp/count") or "") ~= frozen then moved = true break end
      helpers.sleep(0.02)
    end
    assert.is_true(moved, "the counter did not move after resume")
  end)
end)

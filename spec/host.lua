-- spec/host.lua — what this host's kernel can do, probed unconfined, for specs about kernel
-- features.
--
-- Covers: i386 (int 0x80) and x32 system call entry points, the Landlock ABI, openat2, pidfd,
-- the new mount API, idmapped mounts (by kernel version), the cgroup layout (v1, v2, hybrid),
-- user namespaces.  The system call probes run spec/fixtures/syscall_probe.c on the host itself,
-- outside any sandbox, so a spec can tell "the host lacks it" (skip, saying why) from "moonjail
-- failed to contain it" (fail).  Results are cached per process.
--
-- Use: `local reason = host.lacks("i386_syscalls")`; nil when the host has the feature, else a
-- sentence saying what is missing.  A spec file that needs a feature skips itself with
-- `if reason then return helpers.skip_file(reason) end`.
--
-- Must never: change anything on the host (every probe is a harmless call on the probe's own
-- process or an invalid argument).
local helpers = require "spec.helpers"
local probe = require "spec.fixtures.probe"

local M = {}

local cache = {}

-- Runs the probe on the host with the given names: the parsed lines and the exit status (128+N
-- when a signal ended it).
function M.run_unconfined(names)
  local bin = probe.build()
  local out = helpers.sh(helpers.shell_quote(bin) .. " " .. table.concat(names, " ")
                         .. " 2>/dev/null; echo \"status $?\"")
  local status = tonumber(out:match("status (%d+)%s*$"))
  return probe.parse(out), status
end

local function syscall(name)
  if cache[name] == nil then
    local t, status = M.run_unconfined({ name })
    cache[name] = { line = t[name], status = status }
  end
  return cache[name].line, cache[name].status
end

-- Linux version as two numbers (major, minor).
function M.kernel_version()
  local major, minor = helpers.sh("uname -r"):match("^(%d+)%.(%d+)")
  return tonumber(major), tonumber(minor)
end

local function kernel_at_least(major, minor)
  local a, b = M.kernel_version()
  return a > major or (a == major and b >= minor)
end

-- The Landlock ABI version of the running kernel, 0 when it has no Landlock (or it is off).
function M.landlock_abi()
  local line = syscall("landlock_abi")
  return line and line.ret > 0 and line.ret or 0
end

-- "v2" (cgroup2 only), "v1" (no cgroup2 mount) or "hybrid" (v1 controllers plus a cgroup2 mount).
function M.cgroup_layout()
  local v1, v2 = false, false
  for line in io.lines("/proc/self/mountinfo") do
    local fstype = line:match(" %- (%S+) ")
    if fstype == "cgroup" then v1 = true elseif fstype == "cgroup2" then v2 = true end
  end
  if v1 and v2 then return "hybrid" end
  return v2 and "v2" or "v1"
end

local checks = {
  i386_syscalls = function()
    local line, status = syscall("int80_getpid")
    if line and line.ret > 0 then return nil end
    if status and status > 128 then
      return string.format("this host's kernel does not take i386 system calls (int 0x80 kills an "
                           .. "unconfined process with signal %d)", status - 128)
    end
    return "this host's kernel does not take i386 system calls (int 0x80 getpid returned "
           .. (line and (line.ret .. " errno " .. line.errno) or "nothing") .. " unconfined)"
  end,
  x32_syscalls = function()
    local line = syscall("x32_getpid")
    if line and line.ret > 0 then return nil end
    return "this host's kernel does not take x32 system calls (no CONFIG_X86_X32_ABI)"
  end,
  landlock = function()
    if M.landlock_abi() > 0 then return nil end
    return "this host's kernel has no Landlock (or it is not among the enabled LSMs)"
  end,
  landlock_tcp = function()
    local abi = M.landlock_abi()
    if abi >= 4 then return nil end
    return "this host's Landlock (ABI " .. abi .. ") has no TCP rules (ABI 4, Linux 6.7)"
  end,
  openat2 = function()
    local line = syscall("openat2_root")
    if line and line.ret >= 0 then return nil end
    return "this host's kernel has no openat2 (Linux 5.6)"
  end,
  pidfd = function()
    local line = syscall("pidfd_open_self")
    if line and line.ret >= 0 then return nil end
    return "this host's kernel has no pidfd_open (Linux 5.3)"
  end,
  mount_api = function()
    local line = syscall("fsopen_bad")
    if line and line.errno ~= 38 then return nil end
    return "this host's kernel has no new mount API (fsopen, Linux 5.2)"
  end,
  idmapped_mounts = function()
    if kernel_at_least(5, 12) then return nil end
    return "this host's kernel has no idmapped mounts (Linux 5.12)"
  end,
  cgroup_v2 = function()
    if M.cgroup_layout() == "v2" then return nil end
    return "this host's cgroups are " .. M.cgroup_layout() .. ", not a pure cgroup v2"
  end,
  user_namespaces = function()
    if helpers.userns_available() then return nil end
    return "user namespaces are not available to uid " .. helpers.uid() .. " on this host"
  end,
}

-- nil when the host has the feature, else why not.  An unknown name is a spec bug: it raises.
function M.lacks(feature)
  local check = assert(checks[feature], "spec/host.lua: no probe named " .. tostring(feature))
  if cache["feature:" .. feature] == nil then
    cache["feature:" .. feature] = check() or false
  end
  return cache["feature:" .. feature] or nil
end

return M

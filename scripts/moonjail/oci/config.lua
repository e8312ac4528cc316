-- moonjail.oci.config — a runtime-spec bundle's config.json onto moonjail: the options of the
-- named sandbox that becomes the container, and its main process.
--
-- What moonjail can do is mapped; what it cannot is refused with a message naming the field
-- (the runtime log shows it), never dropped in silence.  Where moonjail's hardening is stronger
-- than what the bundle asks (a user namespace always, no /sys, a fixed /dev, every namespace
-- new), the difference is listed in the notes the runtime log records and in docs/oci-runtime.md.
-- Never: touches the host (the caller creates the sandbox), or widens a moonjail policy.
local json = require "moonjail.json"
local util = require "moonjail.util"

local M = {}

M.OCI_VERSION = "1.1.0"
M.POLICY_ANNOTATION = "run.oci.moonjail.policy"

local function refuse(field, why) return nil, field .. ": " .. why end

-- Reads BUNDLE/config.json; the decoded table, or nil, message.
function M.load(bundle)
  local path = bundle .. "/config.json"
  local f, e = io.open(path, "r")
  if not f then return nil, "cannot read " .. path .. ": " .. tostring(e) end
  local text = f:read("a")
  f:close()
  local spec, why = json.decode(text)
  if type(spec) ~= "table" then return nil, path .. ": " .. tostring(why or "not a JSON object") end
  return spec
end

-- Kernel file systems moonjail never mounts into a container: they stay absent (hardening;
-- docs/oci-runtime.md says why).  proc, /dev and /dev/pts moonjail mounts itself.
local NOT_EXPOSED = { sysfs = "/sys", cgroup = "/sys/fs/cgroup", cgroup2 = "/sys/fs/cgroup", mqueue = "/dev/mqueue" }
local OWN = { ["/proc"] = "proc", ["/dev"] = "tmpfs", ["/dev/pts"] = "devpts" }
-- mount options that moonjail's binds and tmpfs already have, or that do not change what the
-- container can do
local HARMLESS = { nosuid = true, nodev = true, rw = true, bind = true, rbind = true, private = true,
  rprivate = true, slave = true, rslave = true, shared = false, rshared = false, relatime = true,
  norelatime = true, strictatime = true, noatime = true, nodiratime = true, exec = true, suid = false,
  dev = false, async = true, sync = true, newinstance = true }

local function is_under(path, dir) return path == dir or path:sub(1, #dir + 1) == dir .. "/" end

-- One of config.json's mounts onto the policy's filesystem (fs.mounts / fs.tmpfs); notes what
-- stays different.  nil, message for what moonjail cannot do.
local function add_mount(fs, m, i, bundle, notes)
  local field = string.format("mounts[%d]", i - 1)
  if type(m) ~= "table" or type(m.destination) ~= "string" or m.destination:sub(1, 1) ~= "/" then
    return refuse(field, "needs an absolute destination")
  end
  local dst, typ = util.clean_path(m.destination), m.type
  local opts, ro, size, mode = {}, false, nil, nil
  for _, o in ipairs(m.options or {}) do
    if type(o) ~= "string" then return refuse(field, "options must be strings") end
    opts[o] = true
    if o == "ro" or o == "rro" then ro = true
    elseif o:match("^size=") then size = o:sub(6)
    elseif o:match("^mode=") then mode = o:sub(6)
    elseif o == "noexec" then notes[#notes + 1] = field .. " (" .. dst .. "): noexec is not applied"
    elseif HARMLESS[o] == nil and not o:match("^[ug]id=") and not o:match("^nr_inodes=") and not o:match("^ptmxmode=")
      and not o:match("^newinstance") then
      return refuse(field, "mount option '" .. o .. "' is not supported by moonjail")
    elseif HARMLESS[o] == false then
      return refuse(field, "mount option '" .. o ..
        "' is refused by moonjail (suid, dev and shared propagation are never allowed)")
    end
  end
  if not typ then typ = (opts.bind or opts.rbind) and "bind" or nil end
  if OWN[dst] and (typ == OWN[dst] or (dst == "/proc" and typ == "proc")) then return true end
  if NOT_EXPOSED[typ] then
    notes[#notes + 1] = string.format("%s: %s at %s is not mounted (moonjail does not expose %s)", field, typ, dst, typ)
    return true
  end
  if dst == "/dev" or is_under(dst, "/proc") or is_under(dst, "/sys") or dst == "/" then
    return refuse(field, "moonjail builds " .. dst .. " itself; it cannot take another mount there")
  end
  if typ == "tmpfs" or typ == "shm" then
    fs.tmpfs[#fs.tmpfs + 1] = { dst = dst, size = size, mode = mode }
    if ro then return refuse(field, "a read-only tmpfs is not supported") end
    return true
  end
  if typ == "bind" or typ == "rbind" or opts.bind or opts.rbind then
    if type(m.source) ~= "string" or m.source == "" then return refuse(field, "a bind mount needs a source") end
    local src = m.source
    if src:sub(1, 1) ~= "/" then src = util.clean_path(bundle .. "/" .. src) end
    fs.mounts[#fs.mounts + 1] = { src = src, dst = dst, mode = ro and "ro" or "rw" }
    return true
  end
  return refuse(field, "mount type '" .. tostring(typ) .. "' at " .. dst .. " is not supported by moonjail")
end

local RLIMITS = { RLIMIT_NOFILE = "nofile", RLIMIT_NPROC = "nproc", RLIMIT_FSIZE = "file_size",
  RLIMIT_CPU = "cpu_time" }
local NAMESPACES = { pid = true, network = true, ipc = true, uts = true, mount = true, user = true, cgroup = true,
  time = true }
-- system calls no bundle's profile turns back on: the escape paths moonjail's own allow-list leaves out
local ESCAPES = { "keyctl", "add_key", "request_key", "ptrace", "bpf", "userfaultfd", "io_uring_setup",
  "io_uring_enter", "io_uring_register", "open_by_handle_at", "pidfd_getfd", "fsopen", "fsmount", "fsconfig",
  "fspick", "move_mount", "open_tree", "mount_setattr", "kexec_load", "kexec_file_load", "init_module",
  "finit_module", "delete_module", "perf_event_open", "process_vm_readv", "process_vm_writev" }

-- The container's sandbox options and main process from config.json (spec), the bundle's
-- absolute path and the state directory (where a bundle's seccomp profile is written).
-- Returns opts (for moonjail.sandbox, without the name), main (for core.oci.main_create), notes
-- (differences worth a line in the log); or nil, message.
function M.translate(spec, bundle, state_dir)
  local notes = {}
  if type(spec.ociVersion) ~= "string" then return refuse("ociVersion", "missing") end
  local root = spec.root
  if type(root) ~= "table" or type(root.path) ~= "string" then return refuse("root.path", "missing") end
  local rootfs = root.path:sub(1, 1) == "/" and root.path or util.clean_path(bundle .. "/" .. root.path)
  local p = spec.process
  if type(p) ~= "table" or type(p.args) ~= "table" or #p.args == 0 then
    return refuse("process.args", "a container needs a command")
  end
  local linux = spec.linux or {}
  local annotations = spec.annotations or {}
  local policy_name = annotations[M.POLICY_ANNOTATION] or "default"
  if type(policy_name) ~= "string" or not policy_name:match("^[%w_.-]+$") then
    return refuse("annotations." .. M.POLICY_ANNOTATION, "must name a policy")
  end
  local fs = { root = rootfs, readonly_root = root.readonly == true, mounts = {}, tmpfs = {},
    masked = {}, readonly = {} }
  local pol = { extends = policy_name, filesystem = fs, limits = {}, capabilities = { add = {} },
    env = { pass = {}, set = {} } }

  -- hooks run code of the engine's at points of the life cycle: not yet
  for k, v in pairs(spec.hooks or {}) do
    if type(v) == "table" and #v > 0 then return refuse("hooks." .. k, "hooks are not supported by moonjail yet") end
  end

  -- namespaces: moonjail makes every namespace new, always with a user namespace; leaving out
  -- the network namespace means the host's network, as in runc
  local has = {}
  for i, ns in ipairs(linux.namespaces or {}) do
    if not NAMESPACES[ns.type] then return refuse(string.format("linux.namespaces[%d]", i - 1), "unknown type") end
    if ns.path and ns.path ~= "" then
      return refuse(string.format("linux.namespaces[%d]", i - 1),
        "joining the " .. ns.type .. " namespace at " .. ns.path .. " is not supported by moonjail yet")
    end
    has[ns.type] = true
  end
  pol.network = has.network and "none" or "host"
  for _, t in ipairs({ "pid", "ipc", "uts", "mount", "cgroup", "user" }) do
    if not has[t] then
      notes[#notes + 1] = "linux.namespaces: a new " .. t .. " namespace all the same (moonjail hardening)"
    end
  end
  if linux.uidMappings or linux.gidMappings then
    notes[#notes + 1] = "linux.uidMappings/gidMappings: replaced by moonjail's own " ..
      "(the container's root maps to an unprivileged host id)"
  end

  -- process
  local user = p.user or {}
  local uid, gid = math.tointeger(user.uid or 0), math.tointeger(user.gid or 0)
  if not uid or not gid or uid < 0 or gid < 0 then
    return refuse("process.user", "uid and gid must be whole numbers")
  end
  if user.username then return refuse("process.user.username", "only numeric ids are supported") end
  pol.user = uid .. ":" .. gid
  for _, g in ipairs(user.additionalGids or {}) do
    if g ~= gid then
      notes[#notes + 1] = "process.user.additionalGids: not applied (moonjail's commands have no supplementary group)"
      break
    end
  end
  for i, r in ipairs(p.rlimits or {}) do
    local key = RLIMITS[r.type]
    if not key then
      return refuse(string.format("process.rlimits[%d]", i - 1),
        tostring(r.type) .. " is not supported by moonjail yet")
    end
    pol.limits[key] = math.tointeger(r.soft or r.hard)
  end
  if p.noNewPrivileges == false then
    notes[#notes + 1] = "process.noNewPrivileges false: moonjail sets no_new_privs all the same"
  end
  local caps = p.capabilities or {}
  local effective = caps.effective or caps.bounding or {}
  for _, c in ipairs(effective) do pol.capabilities.add[#pol.capabilities.add + 1] = c end
  if p.apparmorProfile and p.apparmorProfile ~= "" then pol.apparmor = p.apparmorProfile end
  if p.selinuxLabel and p.selinuxLabel ~= "" then pol.selinux = p.selinuxLabel end
  if p.oomScoreAdj then notes[#notes + 1] = "process.oomScoreAdj: not applied" end
  for _, kv in ipairs(p.env or {}) do
    local k, v = tostring(kv):match("^([^=]+)=(.*)$")
    if k then pol.env.set[k] = v end
  end
  if spec.hostname then pol.hostname = spec.hostname end

  -- mounts
  for i, m in ipairs(spec.mounts or {}) do
    local ok, why = add_mount(fs, m, i, bundle, notes)
    if not ok then return nil, why end
  end
  for _, path in ipairs(linux.maskedPaths or {}) do
    if not is_under(path, "/sys") then fs.masked[#fs.masked + 1] = path end
  end
  for _, path in ipairs(linux.readonlyPaths or {}) do
    if not is_under(path, "/sys") then fs.readonly[#fs.readonly + 1] = path end
  end

  -- resources (cgroup v1 and v2 alike: moonjail's cgroups facade picks the backend)
  local res = linux.resources or {}
  if res.memory and res.memory.limit and res.memory.limit > 0 then
    pol.limits.memory = math.tointeger(res.memory.limit)
  end
  if res.pids and res.pids.limit and res.pids.limit > 0 then pol.limits.pids = math.tointeger(res.pids.limit) end
  if res.cpu and res.cpu.quota and res.cpu.quota > 0 then
    pol.limits.cpus = res.cpu.quota / ((res.cpu.period and res.cpu.period > 0) and res.cpu.period or 100000)
  end
  if res.cpu and (res.cpu.shares or res.cpu.cpus or res.cpu.mems) then
    notes[#notes + 1] = "linux.resources.cpu: shares and cpusets are not applied"
  end
  for _, k in ipairs({ "blockIO", "hugepageLimits", "unified", "network", "rdma" }) do
    if res[k] ~= nil and next(res[k]) ~= nil then
      return refuse("linux.resources." .. k, "not supported by moonjail yet")
    end
  end
  if linux.cgroupsPath then
    notes[#notes + 1] = "linux.cgroupsPath " .. tostring(linux.cgroupsPath) ..
      ": not honoured yet (the container's cgroups are moonjail's <own>/moonjail/<id>)"
  end
  if linux.sysctl and next(linux.sysctl) then notes[#notes + 1] = "linux.sysctl: not applied" end
  if linux.devices and #linux.devices > 0 then
    return refuse("linux.devices", "extra device nodes are not supported (moonjail's /dev is a fixed minimal set)")
  end

  -- seccomp: the bundle's profile, with moonjail's argument checks and its escape deny list on top
  if linux.seccomp then
    for _, r in ipairs(linux.seccomp.syscalls or {}) do
      if r.action == "SCMP_ACT_NOTIFY" then
        return refuse("linux.seccomp", "SCMP_ACT_NOTIFY is not supported (moonjail's one seccomp listener is its own)")
      end
    end
    local path = state_dir .. "/seccomp.json"
    local f, e = io.open(path, "w")
    if not f then return nil, "cannot write " .. path .. ": " .. tostring(e) end
    f:write(json.encode(linux.seccomp))
    f:close()
    pol.seccomp = { profile = path, deny = ESCAPES }
  end

  local main = { argv = p.args, env = p.env or {}, cwd = p.cwd or "/", uid = uid, gid = gid,
    terminal = p.terminal == true }
  local opts = { policy = pol, annotations = annotations }
  return opts, main, notes
end

-- The config.json `moonjail oci spec` writes: runc's default, with --rootless runc's rootless one.
function M.default_spec(rootless)
  local A = json.array
  local spec = {
    ociVersion = M.OCI_VERSION,
    process = { terminal = true, user = { uid = 0, gid = 0 }, args = A { "sh" },
      env = A { "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm" }, cwd = "/",
      capabilities = {
        bounding = A { "CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE" },
        effective = A { "CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE" },
        permitted = A { "CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE" },
        ambient = A { "CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE" } },
      rlimits = A { { type = "RLIMIT_NOFILE", hard = 1024, soft = 1024 } }, noNewPrivileges = true },
    root = { path = "rootfs", readonly = true },
    hostname = "moonjail",
    mounts = A {
      { destination = "/proc", type = "proc", source = "proc" },
      { destination = "/dev", type = "tmpfs", source = "tmpfs",
        options = A { "nosuid", "strictatime", "mode=755", "size=65536k" } },
      { destination = "/dev/pts", type = "devpts", source = "devpts",
        options = A { "nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620" } },
      { destination = "/dev/shm", type = "tmpfs", source = "shm",
        options = A { "nosuid", "noexec", "nodev", "mode=1777", "size=65536k" } },
    },
    linux = {
      namespaces = A { { type = "pid" }, { type = "network" }, { type = "ipc" }, { type = "uts" }, { type = "mount" },
        { type = "cgroup" } },
      maskedPaths = A { "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
        "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi" },
      readonlyPaths = A { "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger" },
    },
  }
  if rootless then
    local ns = spec.linux.namespaces
    ns[#ns + 1] = { type = "user" }
    spec.linux.uidMappings = A { { containerID = 0, hostID = 1000, size = 1 } }
    spec.linux.gidMappings = A { { containerID = 0, hostID = 1000, size = 1 } }
  else
    spec.linux.resources = { devices = A { { allow = false, access = "rwm" } } }
  end
  return spec
end

return M

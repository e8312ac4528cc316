-- moonjail.oci.cli — the runtime-spec command set with runc's command line: `moonjail oci …`,
-- or the whole command line when the binary runs as `moonjail-runc` (a link the build installs),
-- so container engines (podman, containerd, CRI-O) can use moonjail as their OCI runtime.
--
-- main(argv) -> exit status.  Global options come before the command (--root, --log,
-- --log-format text|json, --debug, --systemd-cgroup); options take `--name value` or
-- `--name=value`, one dash or two, as runc's do.  Errors: one line on stderr and, with --log, in
-- the log (JSON lines {level, msg, time} with --log-format json), exit status 1 — runc's habits,
-- which engines read.  `run` and foreground `exec` return the container command's own status.
-- The container model is in moonjail.oci.state and core/src/oci/main.c; config.json's mapping in
-- moonjail.oci.config.
-- Never: prints anything on stdout but what the command outputs (engines parse it).
local json = require "moonjail.json"
local config = require "moonjail.oci.config"
local state = require "moonjail.oci.state"

local mj, C -- require "moonjail" and its OCI primitives (moonjail.ocicore), on first use
local function load_core()
  if not mj then
    mj = require "moonjail"
    C = require "moonjail.ocicore"
  end
end

local DEFAULT_ROOT = "/run/moonjail-runc"
local VERSION_TEXT = "moonjail-runc version %s\nspec: " .. config.OCI_VERSION .. "\n"

------------------------------------------------------------------------------------------------
-- Logging: errors (and with --debug, steps) to stderr and the --log file.

local G = { root = nil, log = nil, log_format = "text", debug = false }

local function log(level, msg)
  msg = tostring(msg):gsub("[\r\n]+", " ")
  if G.log then
    local f = io.open(G.log, "a")
    if f then
      local now = C and C.now() or os.time()
      local t = state.timestamp(now)
      if G.log_format == "json" then
        f:write(json.encode({ level = level, msg = msg, time = t }), "\n")
      else
        f:write(string.format("time=%q level=%s msg=%q\n", t, level, msg))
      end
      f:close()
    end
  end
  if level == "error" or (G.debug and level ~= "info") then io.stderr:write(level, ": ", msg, "\n") end
end

local function fail(msg)
  if type(msg) == "table" and msg.message then msg = msg.message end
  log("error", msg)
  return 1
end

------------------------------------------------------------------------------------------------
-- Options: FLAGS = { name = "value" | "flag" | "list", alias = "name" }.

local function parse(argv, first, flags, cmd)
  local o, pos = {}, {}
  local i = first
  while i <= #argv do
    local a = argv[i]
    if a == "--" then
      for j = i + 1, #argv do pos[#pos + 1] = argv[j] end
      break
    end
    local name, value = a:match("^%-%-?([%w][%w-]*)=(.*)$")
    if not name then name = a:match("^%-%-?([%w][%w-]*)$") end
    if name and #pos == 0 or (name and flags.__anywhere) then
      local kind = flags[name]
      if type(kind) == "string" and flags[kind] and kind ~= "value" and kind ~= "flag" and kind ~= "list" then
        name, kind = kind, flags[kind]
      end
      if not kind then return nil, cmd .. ": unknown option '" .. a .. "'" end
      if kind == "flag" then
        o[name] = value == nil or (value ~= "false" and value ~= "0")
      else
        if value == nil then
          i = i + 1
          value = argv[i]
          if value == nil then return nil, cmd .. ": option '" .. a .. "' needs a value" end
        end
        if kind == "list" then
          o[name] = o[name] or {}
          o[name][#o[name] + 1] = value
        else
          o[name] = value
        end
      end
    else
      pos[#pos + 1] = a
      if flags.__stop_at_args then
        for j = i + 1, #argv do pos[#pos + 1] = argv[j] end
        break
      end
    end
    i = i + 1
  end
  return o, pos
end

local CREATE_FLAGS = { bundle = "value", b = "bundle", ["console-socket"] = "value", ["pid-file"] = "value",
  ["no-pivot"] = "flag", ["no-new-keyring"] = "flag", ["preserve-fds"] = "value" }

------------------------------------------------------------------------------------------------
-- Containers

local function absolute(path)
  if path:sub(1, 1) == "/" then return path end
  local cwd = C.realpath(".")
  return (cwd or os.getenv("PWD") or "/") .. "/" .. path
end

-- Removes a directory's entries and the directory (one level: all the runtime writes there).
local function rm_dir(dir, unbind)
  for _, n in ipairs(C.list_dir(dir) or {}) do
    if unbind then C.unbind(dir .. "/" .. n) end -- `run` and a failed create hold their binds
    os.remove(dir .. "/" .. n)
  end
  os.remove(dir)
end

local function rm_state(id, st)
  if st and type(st.mounts) == "string" and st.mounts:find("/moonjail-runc/mnt/", 1, true) then
    rm_dir(st.mounts, true)
  end
  rm_dir(state.dir(G.root, id))
end

local function destroy_sandbox(id)
  local sb = mj.open(id)
  if sb then sb:destroy() end
end

-- The bundle's root and bind sources, bound (in this process's own mount namespace, which the
-- sandbox copies) onto mount points in the container's state directory: engines keep them
-- beneath directories only host root may enter, and the sandbox resolves them as its mapped ids
-- (core/src/oci/bundle.c).
-- The mount points live beneath MOUNT_BASE (its parents open to everyone, unlike an engine's
-- --root), one directory per container and create, named in state.json for delete.
local function mount_base()
  local run = C.euid() == 0 and "/run" or os.getenv("XDG_RUNTIME_DIR") or "/tmp"
  return run .. "/moonjail-runc"
end

local function reachable(fs, id)
  local ok, e = C.private_mounts()
  if not ok then return nil, e end
  local base = mount_base()
  local dir = string.format("%s/mnt/%s.%d", base, id, math.floor(C.now() * 1e6))
  for _, path in ipairs({ base, base .. "/mnt", dir }) do
    ok, e = C.mkdir_private(path, tonumber("711", 8))
    if ok then ok, e = C.chmod(path, tonumber("711", 8)) end
    if not ok then return nil, e end
  end
  local function bind(src, name)
    local kind = C.path_kind(src)
    local mp = dir .. "/" .. name
    if kind == "directory" then
      ok, e = C.mkdir_private(mp, tonumber("755", 8))
    elseif kind == "file" then
      local f
      f, e = io.open(mp, "w")
      if f then f:close() end
      ok = f ~= nil
    else
      return nil, "bind source " .. src .. " does not exist"
    end
    if ok then ok, e = C.bind(src, mp) end
    if not ok then return nil, e end
    return mp
  end
  -- the mount points the root lacks, created as runc creates them (never through a symlink)
  local points = { { "/proc", true }, { "/dev", true } }
  for _, t in ipairs(fs.tmpfs) do points[#points + 1] = { t.dst, true } end
  for _, m in ipairs(fs.mounts) do points[#points + 1] = { m.dst, C.path_kind(m.src) == "directory" } end
  for _, pt in ipairs(points) do
    ok, e = C.mountpoint(fs.root, pt[1], pt[2])
    if not ok then return nil, e end
  end
  local mp
  mp, e = bind(fs.root, "rootfs")
  if not mp then return nil, e end
  fs.root = mp
  for i, m in ipairs(fs.mounts) do
    mp, e = bind(m.src, "mount" .. i)
    if not mp then return nil, e end
    m.src = mp
  end
  return dir
end

-- create: the sandbox (its supervisor is the container's pid), then the main process, waiting.
local function create(o, id)
  if not state.valid_id(id) then return nil, "invalid container id '" .. tostring(id) .. "'" end
  if C.path_kind(state.dir(G.root, id)) then return nil, "container with id " .. id .. " already exists" end
  if o["preserve-fds"] and o["preserve-fds"] ~= "0" then
    return nil, "--preserve-fds is not supported by moonjail yet"
  end
  local bundle = absolute(o.bundle or ".")
  bundle = C.realpath(bundle) or bundle
  local spec, why = config.load(bundle)
  if not spec then return nil, why end
  if spec.process and spec.process.terminal and not o["console-socket"] then
    return nil, "process.terminal needs --console-socket (moonjail relays no terminal of its own in OCI mode yet)"
  end
  if o["console-socket"] and not (spec.process and spec.process.terminal) then
    return nil, "--console-socket given but process.terminal is false"
  end
  local dir = state.dir(G.root, id)
  local ok, e = C.mkdir_private(dir)
  if not ok then return nil, e end
  local opts, main, notes = config.translate(spec, bundle, dir)
  if not opts then rm_state(id); return nil, main end
  for _, n in ipairs(notes) do log("warning", "container " .. id .. ": " .. n) end
  local rootfs = opts.policy.filesystem.root
  local mounts
  mounts, e = reachable(opts.policy.filesystem, id)
  if not mounts then rm_state(id); return nil, e end
  opts.name = id
  local pok, sb, serr = pcall(mj.sandbox, opts)
  if not pok or not sb then
    rm_state(id, { mounts = mounts })
    return nil, pok and serr or sb
  end
  local info = sb:info() or {}
  sb:close()
  main.console_socket = o["console-socket"]
  local mok, merr = C.main_create(id, main)
  if not mok then
    destroy_sandbox(id)
    rm_state(id, { mounts = mounts })
    return nil, merr
  end
  local pid = info.supervisor_pid
  local _, start = C.process_start(pid)
  local st = { ociVersion = spec.ociVersion, id = id, pid = pid, starttime = start, bundle = bundle,
    rootfs = rootfs, mounts = mounts, created = state.timestamp(C.now()), annotations = spec.annotations or {} }
  ok, e = state.save(G.root, st)
  if ok and o["pid-file"] then ok, e = state.write_file(absolute(o["pid-file"]), tostring(pid)) end
  if not ok then
    destroy_sandbox(id)
    rm_state(id, { mounts = mounts })
    return nil, e
  end
  log("debug", "container " .. id .. " created, supervisor pid " .. tostring(pid))
  return st
end

local function loaded(id)
  if not id then return nil, "container id is required" end
  return state.load(G.root, id)
end

local function cmd_create(argv, first)
  local o, pos = parse(argv, first, CREATE_FLAGS, "create")
  if not o then return fail(pos) end
  if #pos ~= 1 then return fail("create: expected exactly one container id") end
  local st, e = create(o, pos[1])
  if not st then return fail(e) end
  return 0
end

local function start(st)
  local status = state.status(st, C)
  if status ~= "created" then return nil, "cannot start a container that is " .. status end
  return C.main_start(st.id)
end

local function cmd_start(argv, first)
  local o, pos = parse(argv, first, {}, "start")
  if not o then return fail(pos) end
  local st, e = loaded(pos[1])
  if not st then return fail(e) end
  local ok, serr = start(st)
  if not ok then return fail(serr) end
  return 0
end

local function cmd_state(argv, first)
  local o, pos = parse(argv, first, {}, "state")
  if not o then return fail(pos) end
  local st, e = loaded(pos[1])
  if not st then return fail(e) end
  local report = state.report(st, state.status(st, C))
  io.stdout:write(json.encode(report), "\n")
  return 0
end

local function cmd_kill(argv, first)
  local o, pos = parse(argv, first, { all = "flag", a = "all" }, "kill")
  if not o then return fail(pos) end
  local st, e = loaded(pos[1])
  if not st then return fail(e) end
  local sig, why = require("moonjail.util").signal_number(pos[2] or "TERM")
  if not sig then return fail(why) end
  local status = state.status(st, C)
  if status == "stopped" then return fail("container not running") end
  if sig == 0 then return 0 end
  if o.all then
    local sb = mj.open(st.id)
    if sb then sb:signal(sig); sb:close() end
  end
  local ok, kerr = C.main_signal(st.id, sig)
  if not ok then return fail(kerr) end
  return 0
end

local function delete(st, force)
  local status = state.status(st, C)
  if status ~= "stopped" and status ~= "created" and not force then
    return nil, "cannot delete container " .. st.id .. " that is not stopped: " .. status
  end
  destroy_sandbox(st.id)
  rm_state(st.id, st)
  return true
end

local function cmd_delete(argv, first)
  local o, pos = parse(argv, first, { force = "flag", f = "force" }, "delete")
  if not o then return fail(pos) end
  local st, e = loaded(pos[1])
  if not st then
    if o.force then return 0 end
    return fail(e)
  end
  local ok, derr = delete(st, o.force)
  if not ok then return fail(derr) end
  return 0
end

local function cmd_run(argv, first)
  local flags = { detach = "flag", d = "detach", keep = "flag" }
  for k, v in pairs(CREATE_FLAGS) do flags[k] = v end
  local o, pos = parse(argv, first, flags, "run")
  if not o then return fail(pos) end
  if #pos ~= 1 then return fail("run: expected exactly one container id") end
  local st, e = create(o, pos[1])
  if not st then return fail(e) end
  local ok, serr = start(st)
  if not ok then
    delete(st, true)
    return fail(serr)
  end
  if o.detach then return 0 end
  local code = C.wait(st.pid) or 255
  if not o.keep then delete(st, true) end
  return code
end

local function cmd_pause(argv, first, resume)
  local name = resume and "resume" or "pause"
  local o, pos = parse(argv, first, {}, name)
  if not o then return fail(pos) end
  local st, e = loaded(pos[1])
  if not st then return fail(e) end
  local status = state.status(st, C)
  if resume and status ~= "paused" then return fail("container not paused") end
  if not resume and status ~= "running" then return fail("container not running") end
  local sb, oerr = mj.open(st.id)
  if not sb then return fail(oerr) end
  local ok, perr
  if resume then ok, perr = sb:resume() else ok, perr = sb:pause() end
  sb:close()
  if not ok then return fail(perr) end
  return 0
end

local function cmd_ps(argv, first)
  local o, pos = parse(argv, first, { format = "value", f = "format" }, "ps")
  if not o then return fail(pos) end
  local st, e = loaded(pos[1])
  if not st then return fail(e) end
  local pids = state.host_pids(st, C)
  if (o.format or "table") == "json" then
    io.stdout:write(json.encode(json.array(pids)), "\n")
    return 0
  end
  if o.format ~= nil and o.format ~= "table" then return fail("ps: --format must be table or json") end
  local set = {}
  for _, p in ipairs(pids) do set[p] = true end
  local args = {}
  for i = 2, #pos do args[#args + 1] = "'" .. pos[i]:gsub("'", "'\\''") .. "'" end
  local ps = io.popen("ps " .. (#args > 0 and table.concat(args, " ") or "-ef"))
  if not ps then return fail("ps: cannot run ps") end
  local header = ps:read("l") or ""
  io.stdout:write(header, "\n")
  local col = 2
  local n = 0
  for w in header:gmatch("%S+") do
    n = n + 1
    if w == "PID" then col = n end
  end
  for line in ps:lines() do
    local fields = {}
    for x in line:gmatch("%S+") do fields[#fields + 1] = x end
    if set[math.tointeger(tonumber(fields[col])) or -1] then io.stdout:write(line, "\n") end
  end
  ps:close()
  return 0
end

local function cmd_list(argv, first)
  local o, pos = parse(argv, first, { format = "value", f = "format", quiet = "flag", q = "quiet" }, "list")
  if not o then return fail(pos) end
  local rows = {}
  for _, id in ipairs(state.ids(G.root, C)) do
    local st = state.load(G.root, id)
    if st then rows[#rows + 1] = state.report(st, state.status(st, C)) end
  end
  if o.quiet then
    for _, r in ipairs(rows) do io.stdout:write(r.id, "\n") end
  elseif o.format == "json" then
    io.stdout:write(json.encode(json.array(rows)), "\n")
  else
    io.stdout:write(string.format("%-24s %-8s %-10s %-40s %s\n", "ID", "PID", "STATUS", "BUNDLE", "CREATED"))
    for _, r in ipairs(rows) do
      io.stdout:write(string.format("%-24s %-8d %-10s %-40s %s\n", r.id, r.pid, r.status, r.bundle, r.created))
    end
  end
  return 0
end

local function cmd_spec(argv, first)
  local o, pos = parse(argv, first, { bundle = "value", b = "bundle", rootless = "flag" }, "spec")
  if not o then return fail(pos) end
  local path = absolute(o.bundle or ".") .. "/config.json"
  if C.path_kind(path) then return fail("File " .. path .. " exists. Remove it first") end
  local ok, e = state.write_file(path, json.encode(config.default_spec(o.rootless)) .. "\n")
  if not ok then return fail(e) end
  return 0
end

local function cmd_features(argv, first)
  local o, pos = parse(argv, first, {}, "features")
  if not o then return fail(pos) end
  local A = json.array
  io.stdout:write(json.encode({
    ociVersionMin = "1.0.0", ociVersionMax = config.OCI_VERSION, hooks = A {},
    mountOptions = A { "bind", "rbind", "ro", "rw", "nosuid", "nodev", "noexec", "private", "rprivate", "slave",
      "rslave", "relatime", "noatime", "strictatime", "size", "mode" },
    linux = {
      namespaces = A { "cgroup", "ipc", "mount", "network", "pid", "user", "uts" },
      capabilities = A {},
      cgroup = { v1 = true, v2 = true, systemd = false, systemdUser = false },
      seccomp = { enabled = true, actions = A { "SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL",
        "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD" }, operators = A {}, archs = A { "SCMP_ARCH_X86_64" } },
      apparmor = { enabled = true }, selinux = { enabled = true },
    },
    annotations = { ["org.opencontainers.runc.checkpoint.enabled"] = "false",
      ["run.oci.moonjail.version"] = mj.version and tostring(mj.version) or "" },
  }), "\n")
  return 0
end

------------------------------------------------------------------------------------------------
-- exec

local EXEC_FLAGS = { ["console-socket"] = "value", cwd = "value", env = "list", e = "env", tty = "flag", t = "tty",
  user = "value", u = "user", process = "value", p = "process", detach = "flag", d = "detach",
  ["pid-file"] = "value", ["process-label"] = "value", apparmor = "value", ["no-new-privs"] = "flag",
  cap = "list", c = "cap", ["preserve-fds"] = "value", ["additional-gids"] = "list", g = "additional-gids",
  ["ignore-paused"] = "flag", __stop_at_args = true }

local function cmd_exec(argv, first)
  local o, pos = parse(argv, first, EXEC_FLAGS, "exec")
  if not o then return fail(pos) end
  local st, e = loaded(pos[1])
  if not st then return fail(e) end
  local p = { args = {}, env = {}, cwd = nil, terminal = o.tty }
  if o.process then
    local f = io.open(o.process, "r")
    if not f then return fail("exec: cannot read " .. o.process) end
    local pj = json.decode(f:read("a"))
    f:close()
    if type(pj) ~= "table" then return fail("exec: " .. o.process .. " is not a JSON object") end
    p.args, p.env, p.cwd, p.terminal = pj.args or {}, pj.env or {}, pj.cwd, pj.terminal
    if pj.user then p.uid, p.gid = math.tointeger(pj.user.uid or 0), math.tointeger(pj.user.gid or 0) end
  else
    for i = 2, #pos do p.args[#p.args + 1] = pos[i] end
  end
  for _, kv in ipairs(o.env or {}) do p.env[#p.env + 1] = kv end
  p.cwd = o.cwd or p.cwd
  if o.user then
    local u, g = o.user:match("^(%d+):?(%d*)$")
    if not u then return fail("exec: --user must be UID[:GID]") end
    p.uid, p.gid = math.tointeger(tonumber(u)), math.tointeger(tonumber(g ~= "" and g or "0"))
  end
  if #p.args == 0 then return fail("exec: a command is required") end
  if o["console-socket"] and not p.terminal then return fail("exec: --console-socket given without a terminal") end
  if p.terminal and o.detach and not o["console-socket"] then
    return fail("exec: a detached process with a terminal needs --console-socket")
  end
  local status = state.status(st, C)
  if status ~= "running" and status ~= "created" then return fail("cannot exec in a " .. status .. " container") end
  if o.detach then
    -- the engine waits for a host process standing for the command (core/src/oci/exec.c)
    local env = {}
    for _, kv in ipairs(p.env) do env[#env + 1] = tostring(kv) end
    local pid, derr = C.exec_detached(st.id, { argv = p.args, env = env, cwd = p.cwd, uid = p.uid, gid = p.gid,
      console_socket = p.terminal and o["console-socket"] or nil })
    if not pid then return fail(derr) end
    if o["pid-file"] then
      local ok, werr = state.write_file(absolute(o["pid-file"]), tostring(pid))
      if not ok then return fail(werr) end
    end
    return 0
  end
  local sb, oerr = mj.open(st.id)
  if not sb then return fail(oerr) end
  local env = {}
  for _, kv in ipairs(p.env) do
    local k, v = tostring(kv):match("^([^=]+)=(.*)$")
    if k then env[k] = v end
  end
  local user = p.uid and (tostring(p.uid) .. ":" .. tostring(p.gid or 0)) or nil
  local eopts = { env = next(env) and env or nil, workdir = p.cwd, user = user }
  eopts.stream, eopts.forward_signals, eopts.stdin_fd = true, true, 0
  if p.terminal then eopts.tty = true end
  local r, xerr = sb:exec(p.args, eopts)
  sb:close()
  if not r then return fail(xerr) end
  return r.exit_code or 1
end

------------------------------------------------------------------------------------------------

local COMMANDS = { create = cmd_create, start = cmd_start, state = cmd_state, kill = cmd_kill, delete = cmd_delete,
  run = cmd_run, exec = cmd_exec, ps = cmd_ps, pause = function(a, f) return cmd_pause(a, f, false) end,
  resume = function(a, f) return cmd_pause(a, f, true) end, features = cmd_features, spec = cmd_spec,
  list = cmd_list }

local GLOBAL_FLAGS = { root = "value", log = "value", ["log-format"] = "value", debug = "flag",
  ["systemd-cgroup"] = "flag", rootless = "value", criu = "value", help = "flag", h = "help",
  version = "flag", v = "version" }

local USAGE = [[
usage: moonjail oci [GLOBAL OPTIONS] COMMAND [OPTIONS] ID   (or moonjail-runc …, runc's command line)

commands: create start state kill delete run exec ps pause resume features spec list
global options: --root DIR (default ]] .. DEFAULT_ROOT .. [[), --log FILE, --log-format text|json,
  --debug, --systemd-cgroup (refused: moonjail manages cgroupfs itself)
]]

return function(argv, first)
  first = first or 1
  -- the global options stop at the command
  local i = first
  local gargv = {}
  while argv[i] and argv[i]:sub(1, 1) == "-" do
    gargv[#gargv + 1] = argv[i]
    local name = argv[i]:match("^%-%-?([%w-]+)$")
    if name and GLOBAL_FLAGS[name] == "value" and argv[i + 1] then
      gargv[#gargv + 1] = argv[i + 1]
      i = i + 1
    end
    i = i + 1
  end
  local g, bad = parse(gargv, 1, GLOBAL_FLAGS, "moonjail oci")
  if not g then io.stderr:write(bad, "\n"); return 1 end
  load_core()
  G.root = g.root or DEFAULT_ROOT
  G.log, G.debug = g.log, g.debug
  G.log_format = g["log-format"] or "text"
  if G.log_format ~= "text" and G.log_format ~= "json" then return fail("--log-format must be text or json") end
  if g.version then
    io.stdout:write(string.format(VERSION_TEXT, tostring(mj.version)))
    return 0
  end
  local sub = argv[i]
  if g.help or sub == nil or sub == "help" then io.stdout:write(USAGE); return sub == nil and not g.help and 1 or 0 end
  local fn = COMMANDS[sub]
  if not fn then return fail("unknown command '" .. sub .. "'") end
  if g["systemd-cgroup"] then
    local f = io.open("/proc/1/comm", "r")
    local init = f and f:read("l") or "?"
    if f then f:close() end
    if init ~= "systemd" then
      return fail("--systemd-cgroup: pid 1 of this host is " .. init .. ", not systemd; use the cgroupfs manager")
    end
    return fail("--systemd-cgroup is not supported by moonjail yet; use the cgroupfs manager")
  end
  G.root = absolute(G.root)
  if sub ~= "spec" and sub ~= "features" then
    -- parents as runc makes them (containerd passes /run/containerd/runc/NAMESPACE)
    local prefix = ""
    for comp in G.root:gmatch("[^/]+") do
      if prefix ~= "" and not C.path_kind(prefix) then C.mkdir_private(prefix, tonumber("711", 8)) end
      prefix = prefix .. "/" .. comp
    end
    local ok, e = C.mkdir_private(G.root)
    if not ok then return fail(e) end
    C.state_dir(G.root .. "/moonjail")
  end
  log("debug", "moonjail oci " .. table.concat(argv, " ", first))
  return fn(argv, i + 1)
end

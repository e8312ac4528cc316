-- moonjail.sandbox — the methods of persistent sandboxes (Sandbox) and of the processes
-- streamed from them (Process), written over the C primitives of bindings/lua/lsandbox.c and
-- lprocess.c.
--
-- Returns function(core, helpers) -> { create = fn, open = fn }.  Installing it fills
-- core.sandbox_methods and core.process_methods, the __index tables of the userdata types, so
-- every Sandbox (created or opened) has these methods.  A Sandbox is the C userdata itself:
-- `local sb <close> = mj.sandbox{}` frees it, and any method on a closed one raises exactly
-- "attempt to use a closed sandbox".
-- What a sandbox remembers besides the core's own state (labels, annotations, image, policy, its
-- network and writability for per-command narrowing, default timeout/output limit) is stored with
-- named sandboxes as JSON in the core's meta text, so mj.open(name) sees it.
-- Never: pretend a per-command narrowing is enforced when it is not (it becomes a warning), or let
-- a command ask for more than its sandbox allows (PERMISSION_DENIED).
local util = require "moonjail.util"
local json = require "moonjail.json"

return function(core, h)
  local ops, pops = core.sandbox_ops, core.process_ops
  local S, P = core.sandbox_methods, core.process_methods

  local META_VERSION = 1
  local DEFAULT_FILE_MODE = 420 -- 0644

  -- Per-handle state, weak: { id, name, network, writable, labels, annotations, image, policy,
  -- limits, timeout, output_limit }.
  local states = setmetatable({}, { __mode = "k" })
  local audit_mod -- moonjail.audit, loaded when a policy asks for a log
  -- Per-process: { warnings, metadata } added to its result.
  local pstates = setmetatable({}, { __mode = "k" })

  local function err(code, detail) return core.error(code, detail) end
  local function invalid(detail) return nil, err("INVALID_CONFIG", detail) end

  local function argerror(n, fname, msg, level)
    error(string.format("bad argument #%d to '%s' (%s)", n, fname, msg), level + 1)
  end

  -- Raises unless self is an open Sandbox, at the method's caller (level: counted from argerror,
  -- 3 when the method calls check itself).
  local function check(self, fname, level)
    if type(self) ~= "userdata" or not pcall(ops.is_closed, self) then
      argerror(1, fname, "moonjail.Sandbox expected, got " .. type(self), level or 3)
    end
    if ops.is_closed(self) then error("attempt to use a closed sandbox", 0) end
  end

  local function pcheck(self, fname)
    if type(self) ~= "userdata" or not pcall(pops.is_closed, self) then
      argerror(1, fname, "moonjail.Process expected, got " .. type(self), 3)
    end
    if pops.is_closed(self) then error("attempt to use a closed process", 0) end
  end

  --------------------------------------------------------------------------------------------
  -- State

  local function state_of(sb)
    local st = states[sb]
    if st then return st end
    local meta = {}
    local text = ops.meta(sb)
    if text and text ~= "" then meta = json.decode(text) or {} end
    local info = ops.info(sb) or {}
    st = {
      id = info.id, name = info.name,
      network = meta.network or "none", writable = meta.writable ~= false,
      labels = meta.labels or {}, annotations = meta.annotations or {},
      image = meta.image, platform = meta.platform, image_digest = meta.image_digest,
      image_command = meta.image_command, policy = meta.policy, limits = meta.limits or {},
      timeout = meta.timeout, output_limit = meta.output_limit, warnings = meta.warnings or {},
      audit_log = meta.audit_log, repo = meta.repo, named = true, -- only named sandboxes keep metadata
      engine_warnings = meta.engine_warnings, command = meta.command,
    }
    states[sb] = st
    return st
  end

  local function audit(sb, event, fields)
    local st = state_of(sb)
    if not st.audit_log then return end
    fields = fields or {}
    fields.sandbox_id, fields.sandbox = st.id, st.name
    audit_mod = audit_mod or require "moonjail.audit"
    audit_mod.log(st.audit_log, event, fields)
  end

  local function meta_text(st)
    return json.encode({ v = META_VERSION, network = st.network, writable = st.writable,
      labels = st.labels, annotations = st.annotations, image = st.image, policy = st.policy,
      platform = st.platform, image_digest = st.image_digest, image_command = st.image_command,
      limits = st.limits, timeout = st.timeout, output_limit = st.output_limit,
      warnings = json.array(st.warnings), engine_warnings = json.array(st.engine_warnings or {}),
      audit_log = st.audit_log, repo = st.repo, command = st.command })
  end

  -- Working trees of repositories go when the sandbox does: on close of an anonymous sandbox
  -- (explicit, <close> or garbage collection) and on destroy.  A named sandbox keeps them until
  -- it is destroyed, from this process or another (they are listed in its metadata).
  local function discard_repos(st)
    if st and st.repo then
      h.repo().discard(core, st.repo)
      st.repo = nil
    end
  end
  local wrapped_mt = false
  local function wrap_release(sb)
    if wrapped_mt then return end
    wrapped_mt = true
    local mt = debug.getmetatable(sb)
    local release = mt.__gc
    local function release_and_discard(self)
      local st = states[self]
      release(self)
      if st and not st.named then discard_repos(st) end
    end
    mt.__gc, mt.__close = release_and_discard, release_and_discard
  end

  -- A path inside: absolute as given, relative ones against the sandbox's workdir.
  local function inside(sb, path)
    if path:sub(1, 1) == "/" then return path end
    local wd = ops.workdir(sb) or "/"
    return util.clean_path(wd .. "/" .. path)
  end

  --------------------------------------------------------------------------------------------
  -- Creating and opening

  local SANDBOX_OPTIONS = {}
  for k, v in pairs(h.option_types) do SANDBOX_OPTIONS[k] = v end
  -- the command's own options belong to exec
  SANDBOX_OPTIONS.stdin, SANDBOX_OPTIONS.stdin_fd = nil, nil
  SANDBOX_OPTIONS.stream, SANDBOX_OPTIONS.forward_signals = nil, nil
  SANDBOX_OPTIONS.name = { "string" }
  SANDBOX_OPTIONS.cleanup_delay = { "number", "string" }
  SANDBOX_OPTIONS.lifetime = { "number", "string" }

  local mod = {}

  function mod.create(opts, level)
    opts = h.check_opts("sandbox", opts, level + 1, SANDBOX_OPTIONS)
    local spec, e = h.resolve(nil, opts)
    if not spec then return nil, e end
    -- the sandbox's own lifetime: the option, else the policy's (resolve put it in the spec)
    if opts.lifetime ~= nil then
      local d, why = util.parse_duration(opts.lifetime)
      if not d then return invalid("option 'lifetime': " .. why) end
      spec.lifetime = d
    end
    if opts.cleanup_delay ~= nil then
      local d, why = util.parse_duration(opts.cleanup_delay)
      if not d then return invalid("option 'cleanup_delay': " .. why) end
      spec.cleanup_delay = d
    end
    local facts, metadata, warnings = spec.facts, spec.metadata, spec.warnings
    local timeout, output_limit, audit_log = spec.timeout, spec.output_limit, spec.audit_log
    spec.facts, spec.metadata, spec.warnings, spec.argv, spec.audit_log = nil, nil, nil, nil, nil
    spec.timeout, spec.output_limit = nil, nil
    -- an image's lease goes to the supervisor, which holds it as long as the sandbox lives
    local img = spec.image_root
    spec.image_root = nil
    if img then spec.image_lease = img.lease:fd() end
    local prep
    prep, e = h.with_repositories(spec, opts.name)
    if prep == false then
      if img then img.lease:release() end
      return nil, e
    end
    local sb
    sb, e = core.sandbox(spec, opts.name)
    if img then
      if sb then img.lease:detach() else img.lease:release() end
    end
    if not sb then
      if prep then h.repo().discard(core, prep) end
      return nil, e
    end
    wrap_release(sb)
    local info = ops.info(sb) or {}
    local st = {
      id = info.id, name = info.name or opts.name,
      network = facts.network, writable = facts.writable,
      labels = metadata.labels, annotations = metadata.annotations,
      image = facts.image, policy = metadata.policy,
      platform = facts.platform, image_digest = facts.image_digest, image_command = facts.image_command,
      limits = facts.limits, timeout = timeout, output_limit = output_limit,
      warnings = warnings, audit_log = audit_log,
      -- what the engine could not apply at start-up: in info(), not repeated in every result
      engine_warnings = info.warnings or {},
      repo = prep and { dirs = prep.dirs, cow = prep.cow } or nil, named = opts.name ~= nil,
    }
    states[sb] = st
    audit(sb, "sandbox_create", { policy = metadata.policy, labels = metadata.labels, warnings = json.array(warnings) })
    if opts.name ~= nil and prep and prep.dirs[1] then
      -- the working trees now belong to the named sandbox, not to this process
      h.repo().set_owner(prep.dirs[1], "sandbox " .. opts.name .. " " .. tostring(info.id))
    end
    if opts.name ~= nil then
      local ok
      ok, e = ops.set_meta(sb, meta_text(st))
      if not ok then
        ops.destroy(sb)
        discard_repos(st)
        return nil, e
      end
    end
    return sb
  end

  -- What a sandbox made from an image keeps of its config: { entrypoint, cmd } or nil.
  function mod.image_command(sb)
    return state_of(sb).image_command
  end

  function mod.open(name)
    return core.open(name)
  end

  --------------------------------------------------------------------------------------------
  -- Commands

  local EXEC_OPTIONS = {
    env = { "table" }, workdir = { "string" }, user = { "string", "number" }, stdin = { "string" },
    timeout = { "number", "string" }, output_limit = { "number", "string" },
    allow_network = { "boolean" }, allow_write = { "boolean" }, restrict_paths = { "table" },
    tty = { "boolean" }, log = { "boolean", "number", "string" },
    -- for hosts such as the CLI
    stream = { "boolean" }, capture = { "boolean" }, stdin_fd = { "number" }, forward_signals = { "boolean" },
  }
  local SPAWN_OPTIONS = {}
  for k, v in pairs(EXEC_OPTIONS) do SPAWN_OPTIONS[k] = v end
  SPAWN_OPTIONS.stream, SPAWN_OPTIONS.forward_signals, SPAWN_OPTIONS.capture = nil, nil, nil
  local DETACHED_OPTIONS = {}
  for k, v in pairs(SPAWN_OPTIONS) do DETACHED_OPTIONS[k] = v end
  DETACHED_OPTIONS.on_exit = { "string" }
  SPAWN_OPTIONS.log = nil

  -- Builds the command spec for ops.exec/spawn: spec, warnings, metadata or nil, err.
  local function command_spec(sb, argv, opts)
    local st = state_of(sb)
    local spec = { argv = argv }
    local warnings = {}
    for _, w in ipairs(st.warnings) do warnings[#warnings + 1] = w end

    -- per-command narrowing: may only narrow what the sandbox allows
    local networked = st.network ~= nil and st.network ~= "none"
    if opts.allow_network == true and not networked then
      return nil, err("PERMISSION_DENIED",
        "allow_network: the sandbox has no network (network = \"" .. tostring(st.network) .. "\")")
    elseif opts.allow_network == false and networked then
      spec.no_network = true -- Landlock TCP rules; UNSUPPORTED on kernels without them
    end
    if opts.allow_write == true and not st.writable then
      return nil, err("PERMISSION_DENIED", "allow_write: the sandbox is read-only")
    elseif opts.allow_write == false then
      spec.read_only = true -- Landlock: no writes anywhere; refused when the sandbox has no Landlock
    end
    if opts.tty then spec.tty = true end -- a fresh pty inside, never the caller's terminal
    if opts.restrict_paths ~= nil then
      for i, p in ipairs(opts.restrict_paths) do
        if not util.is_clean_abs(p) then
          return invalid(string.format("option 'restrict_paths' entry %d: expected an absolute path", i))
        end
      end
      if #opts.restrict_paths > 64 then return invalid("option 'restrict_paths': at most 64 paths") end
      -- Landlock: the command reaches only beneath these (and what it needs to run)
      spec.restrict_paths = opts.restrict_paths
    end

    if opts.env ~= nil then
      local env = {}
      local problem = util.add_env(env, opts.env)
      if problem then return invalid(problem) end
      spec.env = env
    end
    if opts.workdir ~= nil then spec.workdir = inside(sb, opts.workdir) end
    if opts.user ~= nil then
      -- names resolve in the sandbox's own /etc/passwd and /etc/group
      local passwd, group
      if type(opts.user) == "string" and opts.user:find("%a") then
        passwd = sb:read_file("/etc/passwd")
        group = sb:read_file("/etc/group")
      end
      local uid, gid, code = h.policy().parse_user(opts.user, passwd, group)
      if not uid then
        if code == "NAME" then code = nil end
        return nil, err(code or "INVALID_CONFIG", "option 'user': " .. gid)
      end
      spec.uid, spec.gid = uid, gid
    end
    local ok, timeout, output = util.command_caps(opts, st.timeout, st.output_limit)
    if not ok then return invalid(timeout) end
    spec.timeout, spec.output_limit = timeout, output
    if opts.stdin_fd ~= nil and (math.type(opts.stdin_fd) ~= "integer" or opts.stdin_fd < 0) then
      return invalid("option 'stdin_fd': non-negative integer expected")
    end
    spec.stdin, spec.stdin_fd = opts.stdin, opts.stdin_fd
    spec.tee, spec.forward_signals = opts.stream or false, opts.forward_signals or false
    spec.capture = opts.capture ~= false
    if opts.log ~= nil and opts.log ~= false then -- kept in the sandbox's logs: true, or bytes per file
      if not st.named then return nil, err("INVALID_STATE", "option 'log': only a named sandbox keeps output") end
      local bytes, why = 0, nil
      if opts.log ~= true then bytes, why = util.parse_size(opts.log) end
      if not bytes then return invalid("option 'log': " .. why) end
      spec.log = bytes
    end
    if opts.on_exit ~= nil then
      if opts.on_exit ~= "stop" and opts.on_exit ~= "destroy" then
        return invalid("option 'on_exit': \"stop\" or \"destroy\" expected")
      end
      if not spec.log then return invalid("option 'on_exit' needs 'log'") end
      spec.on_exit = opts.on_exit
    end

    local metadata = { sandbox_id = st.id, sandbox_name = st.name, policy = st.policy,
      labels = st.labels, annotations = st.annotations, image = st.image }
    return spec, warnings, metadata
  end

  local function finish(result, warnings, metadata, timeout)
    result.warnings = result.warnings or {}
    for _, w in ipairs(warnings) do result.warnings[#result.warnings + 1] = w end
    if result.ended_by == "timeout" then result.warnings[#result.warnings + 1] = util.timeout_warning(timeout) end
    result.metadata = metadata
    return result
  end

  -- The checks and the command spec of method fname (exec, spawn, spawn_detached), misuse raised
  -- at the method's caller: argv, spec, warnings, metadata or argv, nil, err.
  local function command_of(self, fname, cmd, opts, allowed)
    check(self, fname, 4)
    local argv = h.check_cmd(fname, cmd, 3)
    return argv, command_spec(self, argv, h.check_opts(fname, opts, 3, allowed))
  end

  --- sb:exec(cmd, opts) -> result | nil, err
  function S:exec(cmd, opts)
    local argv, spec, warnings, metadata = command_of(self, "exec", cmd, opts, EXEC_OPTIONS)
    if not spec then return nil, warnings end
    local result, e = ops.exec(self, spec)
    if not result then
      audit(self, "exec_failed", { command = argv, code = e and e.code, message = e and e.message })
      return nil, e
    end
    result = finish(result, warnings, metadata, spec.timeout)
    audit_mod = audit_mod or require "moonjail.audit"
    audit(self, "exec", audit_mod.result_fields(argv, result))
    if state_of(self).audit_log then
      local denied = ops.denials(self)
      if denied and #denied > 0 then
        local names = {}
        for i, d in ipairs(denied) do names[i] = d.syscall end
        audit(self, "seccomp_denied", { command = argv, syscalls = json.array(names), count = #denied })
      end
    end
    return result
  end

  --- sb:spawn(cmd, opts) -> Process | nil, err
  function S:spawn(cmd, opts)
    local _, spec, warnings, metadata = command_of(self, "spawn", cmd, opts, SPAWN_OPTIONS)
    if not spec then return nil, warnings end
    local p, e = ops.spawn(self, spec)
    if not p then return nil, e end
    pstates[p] = { warnings = warnings, metadata = metadata, timeout = spec.timeout }
    return p
  end

  --- sb:spawn_detached(cmd, opts) -> pid | nil, err: the command outlives this process.
  function S:spawn_detached(cmd, opts)
    local _, spec, e = command_of(self, "spawn_detached", cmd, opts, DETACHED_OPTIONS)
    if not spec then return nil, e end
    return ops.spawn_detached(self, spec)
  end

  --------------------------------------------------------------------------------------------
  -- Files

  local function check_path(fname, n, path)
    if type(path) ~= "string" then argerror(n, fname, "string expected, got " .. type(path), 3) end
    if path == "" or path:find("%z") then argerror(n, fname, "empty path or NUL in path", 3) end
  end

  function S:write_file(path, content, mode)
    check(self, "write_file")
    check_path("write_file", 1, path)
    if type(content) ~= "string" then argerror(2, "write_file", "string expected, got " .. type(content), 2) end
    local m = DEFAULT_FILE_MODE
    if mode ~= nil then
      local why
      m, why = h.policy().parse_mode(mode)
      if not m then argerror(3, "write_file", why, 2) end
    end
    return ops.write_file(self, inside(self, path), content, m)
  end

  function S:read_file(path)
    check(self, "read_file")
    check_path("read_file", 1, path)
    return ops.read_file(self, inside(self, path))
  end

  function S:list_files(path)
    check(self, "list_files")
    if path == nil then path = ops.workdir(self) or "/" end
    check_path("list_files", 1, path)
    return ops.list_files(self, inside(self, path))
  end

  function S:stat(path)
    check(self, "stat")
    check_path("stat", 1, path)
    return ops.stat(self, inside(self, path))
  end

  function S:mkdir(path, mode)
    check(self, "mkdir")
    check_path("mkdir", 1, path)
    local m = 493 -- 0755
    if mode ~= nil then
      local why
      m, why = h.policy().parse_mode(mode)
      if not m then argerror(2, "mkdir", why, 2) end
    end
    return ops.mkdir(self, inside(self, path), m)
  end

  function S:remove(path, recursive)
    check(self, "remove")
    check_path("remove", 1, path)
    return ops.remove(self, inside(self, path), recursive == true)
  end

  --- Host → sandbox (the reference's CopyFiles).
  function S:copy_files(host_src, dest)
    check(self, "copy_files")
    check_path("copy_files", 1, host_src)
    check_path("copy_files", 2, dest)
    return ops.copy_in(self, host_src, inside(self, dest))
  end

  local COPY_OUT_OPTIONS = { max_bytes = { "number", "string" }, max_entries = { "number" } }

  --- Sandbox → host, within a budget: opts.max_bytes of file data (a size; holes are free) and
  --- opts.max_entries files, directories and links (libmoonjail's defaults where not given).
  --- Returns true and what the copy wrote, { bytes =, entries = }.
  function S:copy_out(src, host_dest, opts)
    check(self, "copy_out")
    check_path("copy_out", 1, src)
    check_path("copy_out", 2, host_dest)
    opts = h.check_opts("copy_out", opts, 2, COPY_OUT_OPTIONS)
    local max_bytes, why
    if opts.max_bytes ~= nil then
      max_bytes, why = util.parse_size(opts.max_bytes)
      if not max_bytes then return invalid("option 'max_bytes': " .. why) end
    end
    local max_entries = opts.max_entries
    if max_entries ~= nil and (math.type(max_entries) ~= "integer" or max_entries < 0) then
      return invalid("option 'max_entries': expected an integer >= 0")
    end
    return ops.copy_out(self, inside(self, src), host_dest, max_bytes, max_entries)
  end

  --------------------------------------------------------------------------------------------
  -- Working directory and environment

  function S:workdir()
    check(self, "workdir")
    return ops.workdir(self)
  end

  --- Sets the default working directory of later commands; it must be an existing directory
  -- (FILE_OPERATION_FAILED otherwise, and the old one stays).
  function S:set_workdir(dir)
    check(self, "set_workdir")
    check_path("set_workdir", 1, dir)
    local path = inside(self, dir)
    local st, e = ops.stat(self, path)
    if not st then return nil, e end
    if not st.is_dir then
      return nil, err("FILE_OPERATION_FAILED", "set_workdir " .. path .. ": Not a directory")
    end
    return ops.set_workdir(self, path)
  end

  function S:env()
    check(self, "env")
    return ops.env(self)
  end

  --- Merges tbl into the environment, as the reference's SetEnvironment does; a value `false`
  -- removes the variable.  true | nil, err.
  function S:set_env(tbl)
    check(self, "set_env")
    if type(tbl) ~= "table" then argerror(1, "set_env", "table expected, got " .. type(tbl), 2) end
    for k, v in pairs(tbl) do
      if type(k) ~= "string" or k == "" or k:find("[=%z]") then
        argerror(1, "set_env", "invalid variable name '" .. tostring(k) .. "'", 2)
      end
      if type(v) ~= "string" and type(v) ~= "number" and v ~= false then
        argerror(1, "set_env", "value of '" .. k .. "' must be a string, a number or false", 2)
      end
    end
    for _, k in ipairs(util.sorted_keys(tbl)) do
      local v = tbl[k]
      local ok, e = ops.set_env(self, k, v ~= false and tostring(v) or nil)
      if not ok then return nil, e end
    end
    return true
  end

  --------------------------------------------------------------------------------------------
  -- Inspection

  --- sb:status() -> status [, ended_by]: "running", "paused", "stopped", …, and for a sandbox
  --- that stopped by itself why ("lifetime").
  function S:status()
    check(self, "status")
    local status = ops.status(self)
    if status == "stopped" then
      local raw = ops.info(self)
      if raw and raw.ended_by then return status, raw.ended_by end
    end
    return status
  end

  function S:usage()
    check(self, "usage")
    return ops.usage(self)
  end

  --- System calls the seccomp filter refused since the last call (sandboxes with an audit log).
  function S:denials()
    check(self, "denials")
    return ops.denials(self)
  end

  function S:processes()
    check(self, "processes")
    return ops.processes(self)
  end

  -- The policy's limits as the reference's ResourceLimits, in snake_case.
  local function allocated(limits)
    local r = {}
    local function size(k) return limits[k] ~= nil and util.parse_size(limits[k]) or nil end
    local function dur(k) return limits[k] ~= nil and util.parse_duration(limits[k]) or nil end
    r.memory_limit, r.memory_request, r.disk_limit = size("memory"), size("memory_request"), size("disk")
    r.cpu_limit, r.cpu_request = limits.cpus, limits.cpu_request
    r.process_limit, r.file_limit = limits.pids, limits.nofile
    r.wall_time_limit, r.cpu_time_limit = dur("wall_time"), dur("cpu_time")
    return r
  end

  --- sb:info() -> SandboxInfo (the reference's fields in snake_case, plus moonjail's) | nil, err
  -- The policy's warnings and what the engine could not apply when the sandbox started.
  local function warnings_of(st, raw)
    local all = {}
    for _, w in ipairs(st.warnings or {}) do all[#all + 1] = w end
    for _, w in ipairs(st.engine_warnings or raw.warnings or {}) do all[#all + 1] = w end
    return all
  end

  function S:info()
    check(self, "info")
    local raw, e = ops.info(self)
    if not raw then return nil, e end
    local st = state_of(self)
    return {
      id = raw.id, name = raw.name, type = "moonjail", status = raw.status,
      created_at = raw.created_at, started_at = raw.started_at, runtime = "moonjail",
      image = st.image or "host", platform = st.platform or core.platform(), image_digest = st.image_digest,
      -- "none" has only loopback; "host" shares the host's; outbound with slirp4netns: its fixed address
      ip_address = raw.ip_address, mac_address = nil,
      hostname = raw.hostname, allocated_resources = allocated(st.limits),
      labels = st.labels, annotations = st.annotations,
      -- moonjail's own
      policy = st.policy, network = raw.network or st.network, workdir = ops.workdir(self),
      supervisor_pid = raw.supervisor_pid, uid = raw.uid, gid = raw.gid, rootless = raw.rootless,
      -- false when its supervisor did not answer in time: status is then the last one known
      responding = raw.responding,
      ended_by = raw.ended_by,
      warnings = warnings_of(st, raw),
    }
  end

  --------------------------------------------------------------------------------------------
  -- Life cycle

  function S:pause()
    check(self, "pause")
    return ops.pause(self)
  end

  function S:resume()
    check(self, "resume")
    return ops.resume(self)
  end

  function S:signal(sig)
    check(self, "signal")
    local n, why = util.signal_number(sig)
    if not n then argerror(1, "signal", why, 2) end
    return ops.signal(self, n)
  end

  --- A stopped sandbox takes commands again: true | nil, err (INVALID_STATE when not stopped).
  function S:start()
    check(self, "start")
    return ops.start(self)
  end

  --- The sandbox's own command (docker's container command, set by `moonjail run --name`), which
  --- `moonjail start` runs again: { argv = {…}, remove = bool, pid = n } or nil.
  function S:command()
    check(self, "command")
    return state_of(self).command
  end

  --- Sets it (named sandboxes keep it in their metadata): true | nil, err.
  function S:set_command(c)
    check(self, "set_command")
    if c ~= nil and (type(c) ~= "table" or type(c.argv) ~= "table") then
      argerror(1, "set_command", "{ argv = {…}, remove =, pid = } expected", 2)
    end
    local st = state_of(self)
    st.command = c and { argv = json.array(util.deepcopy(c.argv)), remove = c.remove == true,
      pid = math.tointeger(c.pid) } or nil
    if not st.named then return true end
    return ops.set_meta(self, meta_text(st))
  end

  --- Where the sandbox keeps its commands' output (named ones; nil otherwise).
  function S:log_dir()
    check(self, "log_dir")
    return ops.log_dir(self)
  end

  local logs_mod
  local function logs() logs_mod = logs_mod or require("moonjail.logs")(core); return logs_mod end

  --- How the sandbox's own command (sb:command()) ended, as read_log returns it; nil while it
  --- runs or when there is none.
  function S:command_end()
    check(self, "command_end")
    local c, dir = state_of(self).command, ops.log_dir(self)
    if not c or not c.pid or not dir then return nil end
    return logs().ended(dir, c.pid)
  end

  --- The pids of the commands whose output is kept, newest first.
  function S:logged()
    check(self, "logged")
    local dir = ops.log_dir(self)
    return dir and logs().list(dir) or {}
  end

  --- Passes the kept output of command pid to fn(stream, data) ("stdout"/"stderr"), the last
  --- opts.tail lines when given; with opts.follow, also what it writes until it ends.  Returns
  --- how it ended ({ exit_code, signal, ended_by, end_time } or { error }), false while it runs
  --- (without follow), or nil, err.
  function S:read_log(pid, fn, opts)
    check(self, "read_log")
    if math.type(pid) ~= "integer" then argerror(1, "read_log", "integer pid expected", 2) end
    if type(fn) ~= "function" then argerror(2, "read_log", "function expected", 2) end
    opts = opts or {}
    local dir = ops.log_dir(self)
    if not dir or not logs().exists(dir, pid) then
      return nil, err("INVALID_CONFIG", "no output is kept for process " .. pid .. " of this sandbox")
    end
    local ended, why = logs().show(dir, pid, fn, opts.tail, opts.follow)
    if ended == nil and why then return nil, err("FILE_OPERATION_FAILED", why) end
    return ended or false
  end

  function S:stop(grace)
    check(self, "stop")
    local g = 10
    if grace ~= nil then
      local why
      g, why = util.parse_duration(grace)
      if not g then argerror(1, "stop", why, 2) end
    end
    return ops.stop(self, g)
  end

  --- Releases the handle: an anonymous sandbox is destroyed, a named one stays.
  function S:close()
    check(self, "close")
    audit(self, "sandbox_close")
    local st = state_of(self)
    local r1, r2, r3 = ops.close(self)
    if not st.named then discard_repos(st) end
    return r1, r2, r3
  end

  --- Destroys the sandbox (a named one too) and releases the handle.
  function S:destroy()
    check(self, "destroy")
    audit(self, "sandbox_destroy")
    local st = state_of(self)
    local r1, r2, r3 = ops.destroy(self)
    discard_repos(st)
    return r1, r2, r3
  end

  --- Changes made to the sandbox's root: its container layer (everything written outside the
  --- mounts: /, /etc, /usr/local, …) as array of { path, kind = "added" | "modified" |
  --- "deleted", type } with paths inside, or nil, err.  A read-only root has none.
  function S:diff()
    check(self, "diff")
    return ops.root_diff(self)
  end

  --- Changes made in a copy-on-write repository (the only one, or the one at mount):
  --- array of { path, kind = "added" | "modified" | "deleted", type } or nil, err.
  function S:repo_diff(mount)
    check(self, "repo_diff")
    if mount ~= nil and type(mount) ~= "string" then argerror(1, "repo_diff", "string expected", 2) end
    return h.repo().diff(core, state_of(self).repo, mount)
  end

  --- Writes those changes to the host: a directory, or a tar when dest ends in .tar/.tar.gz/.tgz
  --- (deletions as OCI whiteouts).  true or nil, err.
  function S:export_diff(dest, mount)
    check(self, "export_diff")
    if type(dest) ~= "string" then argerror(1, "export_diff", "string expected, got " .. type(dest), 2) end
    if mount ~= nil and type(mount) ~= "string" then argerror(2, "export_diff", "string expected", 2) end
    return h.repo().export(core, state_of(self).repo, dest, mount)
  end

  --------------------------------------------------------------------------------------------
  -- Process

  local STREAMS = { stdout = true, stderr = true }

  --- p:read([stream [, timeout]]) -> chunk, stream_name | nil (end of output) | nil, err
  function P:read(stream, timeout)
    pcheck(self, "read")
    if stream ~= nil and not STREAMS[stream] then
      argerror(1, "read", "\"stdout\", \"stderr\" or nil expected", 2)
    end
    local t
    if timeout ~= nil then
      local why
      t, why = util.parse_duration(timeout)
      if not t then argerror(2, "read", why, 2) end
    end
    return pops.read(self, stream, t)
  end

  function P:write(data)
    pcheck(self, "write")
    if type(data) ~= "string" then argerror(1, "write", "string expected, got " .. type(data), 2) end
    return pops.write(self, data)
  end

  function P:close_stdin()
    pcheck(self, "close_stdin")
    return pops.close_stdin(self)
  end

  function P:pid()
    pcheck(self, "pid")
    return pops.pid(self)
  end

  --- p:kill() kills the command and everything it started; p:kill(sig) sends sig to it.
  function P:kill(sig)
    pcheck(self, "kill")
    if sig == nil then return pops.kill(self) end
    local n, why = util.signal_number(sig)
    if not n then argerror(1, "kill", why, 2) end
    return pops.kill(self, n)
  end

  local function decorate(self, result)
    local ps = pstates[self]
    if result and ps and not ps.done then
      ps.done = true
      finish(result, ps.warnings, ps.metadata, ps.timeout)
    end
    return result
  end

  --- p:wait([timeout]) -> result | nil, err (TIMEOUT when it passes; the process keeps running)
  function P:wait(timeout)
    pcheck(self, "wait")
    local t = -1
    if timeout ~= nil then
      local why
      t, why = util.parse_duration(timeout)
      if not t then argerror(1, "wait", why, 2) end
    end
    local result, e = pops.wait(self, t)
    if not result then return nil, e end
    return decorate(self, result)
  end

  --- p:poll() -> result when it ended, false while it runs, nil, err
  function P:poll()
    pcheck(self, "poll")
    local result, e = pops.poll(self)
    if result == nil then return nil, e end
    if result == false then return false end
    return decorate(self, result)
  end

  --- Kills the command if it still runs and frees the handle.
  function P:close()
    pcheck(self, "close")
    return pops.close(self)
  end

  return mod
end

-- moonjail.api — the public Lua module, built over the C primitives of lmoonjail.c.
--
-- Returns function(core) -> M.  M.run checks its options (misuse raises), loads the policy,
-- merges the call's options over it, resolves everything into the plain spec core.run takes
-- (see docs/lua-api.md, "The core.run contract"), and reports what it could not enforce.
-- Never: set globals, touch the host beyond stat()ing mount sources, or pretend that a facility
-- that is not built yet is in force.
local util = require "moonjail.util"

local OPTION_TYPES = {
  policy = { "string", "table" },
  image = { "string" },
  platform = { "string" }, -- with image: the platform to take (default: this host's)
  insecure_registries = { "table" }, -- with image: registries a missing image is pulled from over HTTP
  entrypoint = { "table" }, -- with image: replaces its Entrypoint (and drops its Cmd when cmd is empty)
  rootfs = { "string" },
  mounts = { "table" },
  repositories = { "table" },
  env = { "table" },
  workdir = { "string" },
  user = { "string", "number" },
  stdin = { "string" },
  timeout = { "number", "string" },
  output_limit = { "number", "string" },
  limits = { "table" },
  network = { "string", "table" },
  hostname = { "string" },
  labels = { "table" },
  annotations = { "table" },
  -- extras for hosts such as the CLI
  stream = { "boolean" },
  capture = { "boolean" },
  stdin_fd = { "number" },
  tty = { "boolean" },
  forward_signals = { "boolean" },
  capabilities = { "table" },
  overrides = { "table" }, -- a partial policy merged over the chosen one (the CLI's docker flags)
  progress = { "function" }, -- told how repository downloads go (moonjail.progress events)
}

-- Limits that are accepted and validated but have no enforcement yet.
local NOT_ENFORCED_LIMITS = {}

return function(core)
  local M = {}
  local policy -- moonjail.policy, loaded on first use
  local default_limits -- the shipped default policy's limits, loaded once

  local function policy_module()
    policy = policy or require "moonjail.policy"
    return policy
  end

  local function invalid(msg) return nil, core.error("INVALID_CONFIG", msg) end
  local function unsupported(msg) return nil, core.error("UNSUPPORTED", msg) end

  M.error = core.error
  M.codes = core.codes()
  M.version = core.version()
  M.parse_size = util.parse_size
  M.parse_duration = util.parse_duration
  M.doctor = core.doctor

  --- True when v is a moonjail error object.
  function M.is_error(v)
    return type(v) == "table" and getmetatable(v) == core.error_mt
  end

  --- Loads a policy (name, path or table) with its `extends` chain; merged table or nil, err.
  function M.load_policy(ref)
    if type(ref) ~= "string" and type(ref) ~= "table" then
      error("bad argument #1 to 'load_policy' (string or table expected, got " .. type(ref) .. ")", 2)
    end
    return policy_module().load(core, ref, os.getenv("PWD"))
  end

  --- Names of the policies built into this moonjail.
  function M.policies()
    return core.policy_names()
  end

  ----------------------------------------------------------------------------------------------
  -- Argument checks (misuse raises, naming the option).

  local function check_opts(fname, opts, level, types_of)
    types_of = types_of or OPTION_TYPES
    if opts == nil then return {} end
    if type(opts) ~= "table" then
      error(string.format("bad argument #2 to '%s' (table expected, got %s)", fname, type(opts)), level + 1)
    end
    for k, v in pairs(opts) do
      local types = types_of[k]
      if not types then
        local hint = util.suggest(k, types_of)
        error(string.format("bad option '%s' to %s (unknown key%s)", tostring(k), fname,
          hint and ("; did you mean '" .. hint .. "'?") or ""), level + 1)
      end
      local ok = false
      for _, t in ipairs(types) do ok = ok or type(v) == t end
      if not ok then
        error(string.format("bad option '%s' to %s (%s expected, got %s)", k, fname,
          table.concat(types, " or "), type(v)), level + 1)
      end
    end
    if types_of.limits and type(opts.limits) == "table" then
      local known = policy_module().SCHEMA.limits
      for k in pairs(opts.limits) do
        if not known[k] then
          local hint = util.suggest(k, known)
          error(string.format("bad option 'limits.%s' to %s (unknown key%s)", tostring(k), fname,
            hint and ("; did you mean 'limits." .. hint .. "'?") or ""), level + 1)
        end
      end
    end
    if opts.stdin ~= nil and opts.stdin_fd ~= nil then
      error(string.format("bad option 'stdin_fd' to %s (give either 'stdin' or 'stdin_fd')", fname), level + 1)
    end
    if opts.stdin_fd ~= nil and (math.type(opts.stdin_fd) ~= "integer" or opts.stdin_fd < 0) then
      error(string.format("bad option 'stdin_fd' to %s (non-negative integer expected)", fname), level + 1)
    end
    return opts
  end

  -- image: an image's Entrypoint/Cmd may stand in for an empty (or nil) command.
  local function check_cmd(fname, cmd, level, image)
    if image and (cmd == nil or (type(cmd) == "table" and #cmd == 0)) then return {} end
    if type(cmd) == "string" then
      return { "/bin/sh", "-c", cmd }
    elseif type(cmd) == "table" then
      local argv = {}
      for i = 1, #cmd do
        if type(cmd[i]) ~= "string" then
          error(string.format("bad argument #1 to '%s' (element %d of the command is a %s, not a string)",
            fname, i, type(cmd[i])), level + 1)
        end
        argv[i] = cmd[i]
      end
      if #argv == 0 then error(string.format("bad argument #1 to '%s' (empty command)", fname), level + 1) end
      return argv
    end
    error(string.format("bad argument #1 to '%s' (string or table expected, got %s)", fname, type(cmd)), level + 1)
  end

  ----------------------------------------------------------------------------------------------
  -- Resolution: policy + options -> core.run spec.

  local repo -- moonjail.repo, loaded on first use
  local function repo_module()
    repo = repo or require "moonjail.repo"
    return repo
  end

  -- Whether the named sandbox `name` still exists as the one with this id (any one of that name
  -- when id is nil), for the garbage collection of repository working trees.
  local function sandbox_alive(name, id)
    local sb = core.open(name)
    if not sb then return false end
    local info = core.sandbox_ops.info(sb)
    core.sandbox_ops.close(sb)
    return info ~= nil and (id == nil or info.id == id)
  end

  -- Prepares spec.repositories on the host (working trees, archives, git) and folds them into the
  -- spec's mounts, masked paths and environment.  Returns the preparation (to discard once the
  -- sandbox is gone; nil when there is nothing) or false, err.
  local function with_repositories(spec, name)
    local rules, progress = spec.repositories, spec.progress
    spec.repositories, spec.progress = nil, nil
    if not rules or #rules == 0 then return nil end
    local prep, err = repo_module().prepare(core, rules, spec.uid, spec.gid, sandbox_alive, name, progress)
    if not prep then return false, err end
    for _, m in ipairs(prep.mounts) do spec.mounts[#spec.mounts + 1] = m end
    for _, p in ipairs(prep.masked) do spec.masked[#spec.masked + 1] = p end
    for _, p in ipairs(prep.readonly) do spec.readonly[#spec.readonly + 1] = p end
    for k, v in pairs(prep.env) do
      if spec.env[k] == nil then spec.env[k] = v end
    end
    return prep
  end

  local resolve_rest -- below resolve
  local image_run -- moonjail.image_run, loaded when an image is asked for
  local function image_module()
    image_run = image_run or require "moonjail.image_run"
    return image_run
  end

  -- Returns the spec, warnings (array) or nil, err.  With opts.image the spec's image_root is the
  -- image's root (moonjail.image_run): its lease is the caller's to release or hand on.
  local function resolve(argv, opts)
    local P = policy_module()
    local cwd = os.getenv("PWD")
    if opts.image == nil then
      for _, k in ipairs({ "platform", "insecure_registries", "entrypoint" }) do
        if opts[k] ~= nil then return invalid("option '" .. k .. "' goes with 'image'") end
      end
    end

    local pol, err = P.load(core, opts.policy == nil and "default" or opts.policy, cwd)
    if not pol then return nil, err end
    core.trace("policy load, validation")
    local warnings = {}

    -- Options that share a policy key are validated by the policy schema.
    local overlay = {}
    for _, k in ipairs({ "limits", "network", "hostname", "labels", "annotations", "user", "workdir" }) do
      overlay[k] = opts[k]
    end
    -- A network table without a mode (the CLI's -p alone) keeps the policy's mode.
    if type(opts.network) == "table" and opts.network.mode == nil then
      local base = pol.network
      local t = {}
      for k, v in pairs(opts.network) do t[k] = v end
      t.mode = type(base) == "table" and (base.mode or "filtered") or base or "none"
      if type(base) == "table" then
        for k, v in pairs(base) do if t[k] == nil then t[k] = v end end
      end
      overlay.network = t
    end
    if opts.rootfs ~= nil then overlay.filesystem = { root = opts.rootfs } end
    for k, v in pairs(opts.overrides or {}) do
      if type(v) == "table" and type(overlay[k]) == "table" then
        for k2, v2 in pairs(v) do overlay[k][k2] = v2 end
      else
        overlay[k] = v
      end
    end
    local ok
    ok, err = P.load(core, overlay, cwd) -- validation only: the overlay has no `extends`
    if not ok then
      err.message = err.message:gsub("policy: '", "option '", 1)
      return nil, err
    end
    pol = P.merge(pol, overlay)
    local img
    if opts.image ~= nil then
      img, err = image_module().prepare(core, P, opts, pol, cwd)
      if not img then return nil, err end
      local spec, why = resolve_rest(argv, opts, pol, P, cwd, warnings, img)
      if not spec then img.root.lease:release() end
      return spec, why
    end
    return resolve_rest(argv, opts, pol, P, cwd, warnings)
  end

  -- resolve's second half: the policy merged with the call's options -> the spec.
  resolve_rest = function(argv, opts, pol, P, cwd, warnings, img)

    local fs = pol.filesystem or {}
    local limits = pol.limits or {}
    local spec = { argv = argv, warnings = warnings }

    -- file system
    spec.root = fs.root or "host"
    if img then
      spec.root = "host" -- (the image's layers replace it below)
    elseif spec.root ~= "host" and core.path_kind(spec.root) ~= "directory" then
      return invalid(string.format("%s '%s' is not an existing directory",
        opts.rootfs and "option 'rootfs':" or "policy 'filesystem.root':", spec.root))
    end
    spec.readonly_root = fs.readonly_root ~= false
    spec.host_paths = {}
    for _, p in ipairs(fs.host_paths or {}) do
      spec.host_paths[#spec.host_paths + 1] = { path = p, required = false }
    end
    spec.mounts = {}
    for _, t in ipairs(fs.tmpfs or {}) do
      local entry = type(t) == "table" and t or { dst = t }
      spec.mounts[#spec.mounts + 1] = P.normalize_mount({ type = "tmpfs", dst = entry.dst or entry[1],
        size = entry.size, mode = entry.mode })
    end
    local origin = {} -- mount index -> where it came from, for messages
    for i, m in ipairs(fs.mounts or {}) do
      spec.mounts[#spec.mounts + 1] = m
      origin[#spec.mounts] = "policy 'filesystem.mounts' entry " .. i
    end
    if opts.mounts ~= nil then
      local list = opts.mounts
      if not util.is_array(list) and next(list) ~= nil then
        return invalid("option 'mounts' must be an array of mounts, e.g. { { \"/src\", \"/src\", mode = \"rw\" } }")
      end
      for i, m in ipairs(list) do
        local n, why = P.normalize_mount(m, cwd)
        if not n then return invalid(string.format("option 'mounts' entry %d: %s", i, why)) end
        spec.mounts[#spec.mounts + 1] = n
        origin[#spec.mounts] = "option 'mounts' entry " .. i
      end
    end
    for i, m in ipairs(spec.mounts) do
      if m.kind ~= "tmpfs" and not core.path_kind(m.src) then
        return invalid(string.format("%s: source '%s' does not exist", origin[i], m.src))
      end
    end
    spec.masked = fs.masked or {}
    spec.readonly = fs.readonly or {}

    -- repositories: the policy's (normalized when it loaded), then the call's; prepared on the
    -- host only when a sandbox really starts (see with_repositories)
    local repos, used = {}, {}
    if pol.repositories then
      local list, why = repo_module().normalize_list(pol.repositories, cwd)
      if not list then return invalid("policy 'repositories' " .. why) end
      for _, r in ipairs(list) do repos[#repos + 1] = r end
    end
    if opts.repositories ~= nil then
      local list, why = repo_module().normalize_list(opts.repositories, cwd)
      if not list then return invalid("option 'repositories' " .. why) end
      for _, r in ipairs(list) do repos[#repos + 1] = r end
    end
    for _, r in ipairs(repos) do
      if used[r.mount] then return invalid("repositories: mount point '" .. r.mount .. "' is used twice") end
      used[r.mount] = true
    end
    spec.repositories = repos
    spec.progress = opts.progress

    -- identity, naming, network
    local function root_file(rel)
      local f = io.open((spec.root == "host" and "" or spec.root) .. rel, "r")
      if not f then return nil end
      local text = f:read("a")
      f:close()
      return text
    end
    local uerr
    if img then
      spec.uid, spec.gid = 0, 0 -- the image's user below
    else
      spec.uid, spec.gid, uerr = P.parse_user(pol.user == nil and "0:0" or pol.user, root_file("/etc/passwd"),
        root_file("/etc/group"))
      if not spec.uid then return invalid("user: " .. tostring(spec.gid or uerr)) end
    end
    spec.hostname = pol.hostname
    spec.workdir = pol.workdir or "/"
    if pol.lifetime ~= nil then spec.lifetime = util.parse_duration(pol.lifetime) end
    local np = require "moonjail.netpolicy"
    local net = np.mode_of(pol.network)
    spec.network = net
    spec.network_config = np.render(pol.network)
    spec.etc_hosts = np.hosts_lines(pol.network) -- the generated /etc/hosts (a "host" root)
    if spec.network_config then
      local log = (pol.audit or {}).log
      if log and log:sub(1, 1) ~= "/" and cwd then log = cwd .. "/" .. log end
      spec.network_audit_log = log
    end

    -- limits
    local why
    spec.rlimits = {}
    if limits.nofile ~= nil then spec.rlimits.nofile = limits.nofile end
    if limits.nproc ~= nil then spec.rlimits.nproc = limits.nproc end
    if limits.file_size ~= nil then spec.rlimits.fsize = util.parse_size(limits.file_size) end
    if limits.cpu_time ~= nil then
      spec.rlimits.cpu = math.max(1, math.ceil(util.parse_duration(limits.cpu_time)))
    end
    for _, k in ipairs(NOT_ENFORCED_LIMITS) do
      if limits[k] ~= nil then warnings[#warnings + 1] = "limits." .. k .. " is not enforced yet" end
    end
    -- cgroup limits: the ones the user asked for fail closed; the shipped default policy's are
    -- best effort (reported in warnings when this host cannot apply them).
    default_limits = default_limits or (P.load(core, "default", cwd) or {}).limits or {}
    local defaults = default_limits
    local user_limits = opts.limits or {}
    -- `best_effort = { "memory", … }` (or { memory = true }) in a policy turns a limit into a
    -- best-effort one: applied when the host can, reported when it cannot.
    local be = {}
    for k, v in pairs(pol.best_effort or {}) do
      if math.type(k) == "integer" then be[v] = true elseif v then be[k] = true end
    end
    local function required(k)
      if be[k] or be.limits then return false end
      return user_limits[k] ~= nil or limits[k] ~= defaults[k] or opts.policy ~= nil and opts.policy ~= "default"
    end
    local cg = {}
    for _, k in ipairs({ "memory", "memory_request" }) do
      if limits[k] ~= nil then
        cg[k], why = util.parse_size(limits[k])
        if not cg[k] then return invalid("limits." .. k .. ": " .. why) end
      end
    end
    for _, k in ipairs({ "cpus", "cpu_request" }) do
      if limits[k] ~= nil then
        cg[k] = tonumber(limits[k])
        if not cg[k] or cg[k] < 0 then return invalid("limits." .. k .. ": expected a number of cores") end
      end
    end
    if limits.pids ~= nil and limits.pids ~= -1 and limits.pids ~= math.huge then -- -1: unlimited
      cg.pids = math.tointeger(tonumber(limits.pids))
      if not cg.pids or cg.pids < 0 then return invalid("limits.pids: expected a whole number") end
    end
    for _, k in ipairs({ "memory", "cpus", "pids" }) do
      if cg[k] ~= nil then cg[k .. "_required"] = required(k) end
    end
    if limits.io ~= nil then -- block-device bandwidth (blkio / io.max)
      cg.io = {}
      for i, e in ipairs(limits.io) do
        cg.io[i] = { device = e.device, read_bps = e.read_bps and util.parse_size(e.read_bps),
          write_bps = e.write_bps and util.parse_size(e.write_bps), read_iops = e.read_iops, write_iops = e.write_iops }
      end
      cg.io_required = required("io")
    end
    spec.limits = cg
    -- disk: caps the root's container layer and every tmpfs of the sandbox without its own size
    -- (the core applies it), so filling them ends in ENOSPC (ended_by "disk").  tmpfs pages are
    -- charged to the memory cgroup: a disk limit you asked for above the memory limit is refused;
    -- the shipped default's is lowered to half the memory limit by the core (with a warning).
    if limits.disk ~= nil then
      local disk
      disk, why = util.parse_size(limits.disk)
      if not disk then return invalid("limits.disk: " .. why) end
      if cg.memory and disk > cg.memory and required("disk") then
        return unsupported(string.format("limits.disk (%s) is larger than limits.memory (%s): the sandbox's layer "
          .. "and tmpfs are charged to memory, so filling them would end in an OOM kill, not ENOSPC; a disk-image "
          .. "backend for larger disks is not built yet — lower limits.disk or raise limits.memory",
          tostring(limits.disk), tostring(limits.memory)))
      end
      spec.disk, spec.disk_required = disk, required("disk")
    end

    local caps_ok, timeout, output = util.command_caps(opts, limits.wall_time, limits.output)
    if not caps_ok then return invalid(timeout) end
    spec.timeout, spec.output_limit = timeout, output

    -- capabilities
    spec.capabilities = {}
    local drop = {}
    for _, c in ipairs((pol.capabilities or {}).drop or {}) do
      drop[c:upper():gsub("^CAP_", "")] = true
    end
    for _, c in ipairs((pol.capabilities or {}).add or {}) do
      if not drop.ALL and not drop[c:upper():gsub("^CAP_", "")] then spec.capabilities[#spec.capabilities + 1] = c end
    end
    -- LSM confinement: applied at exec when the host has the LSM, else the sandbox does not start.
    spec.apparmor, spec.selinux = pol.apparmor, pol.selinux
    for i, c in ipairs(opts.capabilities or {}) do
      if type(c) ~= "string" then return invalid(string.format("option 'capabilities' entry %d is not a string", i)) end
      spec.capabilities[#spec.capabilities + 1] = c
    end

    -- facilities that exist in policies but not in the engine yet
    local sc = pol.seccomp or {}
    spec.seccomp = { profile = sc.profile or "default", allow = sc.allow or {}, deny = sc.deny or {},
                     log = (pol.audit or {}).log ~= nil }
    local builtin = { default = true, unconfined = true, ["runtime/default"] = true }
    if type(sc.profile) == "string" and not builtin[sc.profile] then
      local imported, ierr = require("moonjail.seccomp_json").load(core, sc.profile, cwd, spec.capabilities)
      if not imported then return nil, ierr end
      spec.seccomp.base = imported.allow
      for _, name in ipairs(imported.deny) do spec.seccomp.deny[#spec.seccomp.deny + 1] = name end
      for _, w in ipairs(imported.warnings) do warnings[#warnings + 1] = w end
    end
    -- Landlock: true = required, "best_effort", false = off.  Writes are granted beneath
    -- filesystem.writable when given, else beneath every rw mount and tmpfs.
    -- The table form adds TCP port rules: { enforce = true | "best_effort", tcp_bind = {…},
    -- tcp_connect = {…} }.
    local ll = pol.landlock
    local tcp_bind, tcp_connect
    if type(ll) == "table" then
      tcp_bind, tcp_connect = ll.tcp_bind, ll.tcp_connect
      ll = ll.enforce == nil and true or ll.enforce
    end
    if ll == nil then ll = false end
    spec.landlock = { mode = ll == true and "required" or ll == "best_effort" and "best_effort" or "off",
                      write = fs.writable or {}, tcp_bind = tcp_bind, tcp_connect = tcp_connect }

    -- environment: pass, then set, then the call's env
    local env = {}
    local penv = pol.env or {}
    for _, name in ipairs(penv.pass or {}) do env[name] = os.getenv(name) end
    for k, v in pairs(penv.set or {}) do env[k] = tostring(v) end
    if opts.env ~= nil then
      local problem = util.add_env(env, opts.env)
      if problem then return invalid(problem) end
    end
    if env.HOME == nil then env.HOME = spec.uid == 0 and "/root" or "/tmp" end
    spec.env = env
    if img then -- the image's root, user, workdir and environment, merged with the policy's and call's
      local ok, ierr = image_module().apply(core, img, spec, P)
      if not ok then return nil, ierr end
      if opts.env ~= nil then util.add_env(spec.env, opts.env) end
      if argv then
        argv, ierr = image_module().command(core, img, argv, opts.entrypoint)
        if not argv then return nil, ierr end
        spec.argv = argv
      end
      spec.image_root = img.root
    end

    -- the command
    spec.stdin = opts.stdin
    spec.stdin_fd = opts.stdin_fd
    spec.tty = opts.tty
    spec.tee = opts.stream or false
    spec.capture = opts.capture ~= false
    spec.forward_signals = opts.forward_signals or false
    spec.audit_log = (pol.audit or {}).log
    spec.metadata = { labels = pol.labels or {}, annotations = pol.annotations or {},
      policy = type(opts.policy) == "string" and opts.policy or (opts.policy and "<table>" or "default") }
    -- what a persistent sandbox remembers about itself (its per-command narrowing checks these)
    local writable = not spec.readonly_root
    for _, m in ipairs(spec.mounts) do writable = writable or m.kind ~= "ro" end
    for _, r in ipairs(repos) do writable = writable or r.mode ~= "ro" end
    spec.facts = { network = net, writable = writable, limits = limits,
      image = img and img.facts.image or (spec.root ~= "host" and spec.root or nil),
      platform = img and img.facts.platform, image_digest = img and img.facts.digest,
      image_command = img and { entrypoint = img.root.config.entrypoint, cmd = img.root.config.cmd } }
    core.trace("resolve options")
    return spec
  end

  --- Resolves cmd and opts into the core.run spec without running anything (for `--dry-run`
  -- style tooling and specs).  Returns the spec or nil, err; misuse raises.
  function M.plan(cmd, opts)
    local argv = check_cmd("plan", cmd, 2)
    opts = check_opts("plan", opts, 2)
    return resolve(argv, opts)
  end

  --- Internal (moonjail run --dump-plan, specs): the plan cmd and opts resolve to, as the core's
  -- text (plandump.c), or nil, err.  Repository rules are left out (they need the host work).
  --- Internal (the CLI): ends a phase of the MOONJAIL_TRACE=timing trace.
  M._trace = core.trace

  function M._dump_plan(cmd, opts)
    opts = check_opts("_dump_plan", opts, 2)
    local argv = check_cmd("_dump_plan", cmd, 2, opts.image ~= nil)
    local spec, err = resolve(argv, opts)
    if not spec then return nil, err end
    local img = spec.image_root
    spec.warnings, spec.metadata, spec.facts, spec.audit_log, spec.repositories = nil, nil, nil, nil, nil
    spec.image_root = nil
    local text
    text, err = core.dump_plan(spec)
    if img then img.lease:release() end
    return text, err
  end

  --- Runs cmd once in a fresh sandbox.  Returns the result table (whatever the command's exit
  -- status) or nil, err when nothing ran.
  function M.run(cmd, opts)
    opts = check_opts("run", opts, 2)
    local argv = check_cmd("run", cmd, 2, opts.image ~= nil)
    local spec, err = resolve(argv, opts)
    if not spec then return nil, err end
    local warnings, metadata, audit_log = spec.warnings, spec.metadata, spec.audit_log
    -- an image's lease: this process holds it while the command runs (nothing outlives a run)
    local img = spec.image_root
    if img then metadata.image, metadata.platform, metadata.image_digest = img.name, img.platform_string, img.digest end
    spec.warnings, spec.metadata, spec.facts, spec.audit_log, spec.image_root = nil, nil, nil, nil, nil
    spec.lifetime = nil -- a one-shot run has its timeout; lifetime is a persistent sandbox's
    local prep
    prep, err = with_repositories(spec)
    if prep == false then
      if img then img.lease:release() end
      return nil, err
    end
    local result
    result, err = core.run(spec)
    if img then img.lease:release() end
    if prep then repo.discard(core, prep) end -- a one-shot run's cow changes go with it
    local audit = audit_log and require "moonjail.audit"
    if not result then
      if audit then audit.log(audit_log, "run_failed", { command = argv, code = err.code, message = err.message }) end
      return nil, err
    end
    result.warnings = result.warnings or {}
    for _, w in ipairs(warnings) do result.warnings[#result.warnings + 1] = w end
    if result.ended_by == "timeout" then result.warnings[#result.warnings + 1] = util.timeout_warning(spec.timeout) end
    result.metadata = metadata
    if audit then
      audit.log(audit_log, "run", audit.result_fields(argv, result))
      if result.denials then
        local names = {}
        for i, d in ipairs(result.denials) do names[i] = d.syscall end
        audit.log(audit_log, "seccomp_denied", { command = argv, syscalls = require("moonjail.json").array(names),
          count = result.denials_total })
      end
    end
    return result
  end

  ----------------------------------------------------------------------------------------------
  -- Persistent sandboxes: scripts/moonjail/sandbox.lua, loaded on first use.

  local sandboxes -- the module table of moonjail.sandbox, once installed
  local function sandbox_module()
    if not sandboxes then
      sandboxes = require("moonjail.sandbox")(core, {
        resolve = resolve, check_opts = check_opts, check_cmd = check_cmd, policy = policy_module,
        with_repositories = with_repositories, repo = repo_module,
        option_types = OPTION_TYPES,
      })
    end
    return sandboxes
  end

  --- Creates a sandbox whose supervisor stays warm between commands (see docs/lua-api.md).
  -- Returns a Sandbox or nil, err; misuse raises.
  function M.sandbox(opts)
    return sandbox_module().create(opts, 2)
  end

  --- Internal (run --name/-d with --image): the argv of cmd in sb as its image's Entrypoint and
  -- Cmd make it (docker's rule; entrypoint, a list, replaces the image's), or nil, err.
  function M._image_command(sb, argv, entrypoint)
    local ic = sandbox_module().image_command(sb)
    local out, code, msg = require("moonjail.image.runconfig").command(ic or {}, argv, entrypoint)
    if not out then return nil, core.error(code, msg) end
    return out
  end

  --- Attaches to the named sandbox; Sandbox or nil, err (SANDBOX_NOT_FOUND).
  function M.open(name)
    if type(name) ~= "string" then
      error("bad argument #1 to 'open' (string expected, got " .. type(name) .. ")", 2)
    end
    return sandbox_module().open(name)
  end

  --- What `moonjail prune` removes, step by step, in order: each step's fn returns a table of
  -- counts or nil, err.  A crash at any point of a sandbox's life leaves only what these remove
  -- (SECURITY.md, "Crash windows").  The image store adds its step here (unused images and
  -- blobs: moonjail.image's prune), after the sandboxes, whose removal releases what they used.
  local prune_steps = {
    -- state and cgroups of dead named sandboxes, half-made and half-removed ones, empty cgroups
    { name = "sandboxes", fn = function() return core.prune_sandboxes() end },
    -- repository working trees (cow layers, unpacked archives) whose owner is gone
    { name = "working_trees", fn = function()
      local repo_mod = repo_module()
      return { removed = repo_mod.collect_garbage(core, repo_mod.work_root(core), sandbox_alive) }
    end },
  }
  M.prune_steps = prune_steps

  --- Removes what dead sandboxes and crashed moonjail processes left for this user.  Returns
  -- { [step] = counts } or nil, err (and the steps done so far).
  function M.prune()
    local report = {}
    for _, step in ipairs(prune_steps) do
      local counts, err = step.fn()
      if not counts then return nil, err, report end
      report[step.name] = counts
    end
    return report
  end

  --- Names of the named sandboxes (sorted); array or nil, err.
  function M.list()
    local names, err = core.list()
    if not names then return nil, err end
    table.sort(names)
    return names
  end

  --- Runs a task recipe (a file path or a table; see docs/recipes.md).  opts: set = { k = "v" }
  -- (parameters), output = dir, quiet = true.  Returns the report table (status "passed" or
  -- "failed") or nil, err when the recipe is invalid or its sandbox cannot start.
  local recipes
  function M.recipe(ref, opts)
    if type(ref) ~= "string" and type(ref) ~= "table" then
      error("bad argument #1 to 'recipe' (path or table expected, got " .. type(ref) .. ")", 2)
    end
    if opts ~= nil and type(opts) ~= "table" then
      error("bad argument #2 to 'recipe' (table expected, got " .. type(opts) .. ")", 2)
    end
    recipes = recipes or require("moonjail.recipe")(M, core)
    return recipes.run(ref, opts)
  end

  --- Parses a signal: a number, "TERM" or "SIGTERM"; number or nil, reason.
  M.signal_number = util.signal_number

  --- As io.type: "sandbox", "closed sandbox", "process", "closed process", or nil.
  function M.type(v)
    if type(v) ~= "userdata" then return nil end
    local ok, closed = pcall(core.sandbox_ops.is_closed, v)
    if ok then return closed and "closed sandbox" or "sandbox" end
    ok, closed = pcall(core.process_ops.is_closed, v)
    if ok then return closed and "closed process" or "process" end
    return nil
  end

  --- Sleeps (seconds, a number); the current time as epoch seconds (float).
  M.sleep = core.sleep
  M.now = core.now
  --- Is host fd a terminal?
  M.isatty = core.isatty

  return M
end

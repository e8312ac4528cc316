-- moonjail.cli_values — what the values of the options of run, create and exec mean: the
-- converters moonjail.cliopts calls by option id, docker's forms included (-v SRC:DST:ro,
-- --tmpfs DST:size=…, --mount type=…, --env-file, --ulimit, --security-opt, --cap-drop).  They
-- fill res.opts (the options of mj.run, mj.sandbox and sb:exec), res.limits and res.overrides
-- (a partial policy merged over the chosen one), and give every value's meaning or a message.
-- Never: drop or reinterpret part of a value silently (a suffix or key it does not know is an
-- error naming it), read anything but the files the user named (--env-file), or start anything.
local util = require "moonjail.util"

local M = {}

-- A host path as given, absolute against $PWD when relative (for values read later elsewhere).
local function absolute(p)
  if p:sub(1, 1) == "/" then return p end
  return util.clean_path((os.getenv("PWD") or ".") .. "/" .. p)
end

local function split(s, sep)
  local parts = {}
  for p in (s .. sep):gmatch("(.-)" .. sep:gsub("%p", "%%%0")) do parts[#parts + 1] = p end
  return parts
end

local function add_mount(res, m) res.opts.mounts[#res.opts.mounts + 1] = m end

-- A policy override at path (a list of keys), merged over what is there.
local function override(res, path, value)
  local t = res.overrides
  for i = 1, #path - 1 do
    t[path[i]] = t[path[i]] or {}
    t = t[path[i]]
  end
  t[path[#path]] = value
end

--- Parses a decimal number (no hex, exponent or spaces): integer when `integer`; nil otherwise.
function M.decimal(v, integer)
  if type(v) ~= "string" then return nil end
  if integer then
    return v:match("^%-?%d+$") and math.tointeger(tonumber(v)) or nil
  end
  if v:match("^%-?%d+%.?%d*$") or v:match("^%-?%.%d+$") then return tonumber(v) end
  return nil
end

------------------------------------------------------------------------------------------------
-- Mounts

-- --ro / --rw SRC[:DST][:ro|rw]
local function bind(mode)
  return function(res, v, name)
    local parts = split(v, ":")
    local src, dst, suffix = parts[1], parts[2], parts[3]
    if #parts > 3 then
      return "option '" .. name .. "': '" .. v .. "' has more than SRC:DST:MODE (a path with ':' cannot be bound)"
    end
    if src == "" then return "option '" .. name .. "' needs SRC[:DST]" end
    if dst == "" then return "option '" .. name .. "': empty destination after ':' in '" .. v .. "'" end
    if suffix ~= nil then
      if suffix ~= "ro" and suffix ~= "rw" then
        return "option '" .. name .. "': unknown suffix ':" .. suffix .. "' in '" .. v .. "' (" .. name
          .. " takes :" .. mode .. "; -v SRC:DST:ro|rw for either)"
      end
      if suffix ~= mode then
        return "option '" .. name .. "': the suffix ':" .. suffix .. "' contradicts " .. name .. " (use --"
          .. suffix .. " " .. src .. ":" .. dst .. ", or -v " .. v .. ")"
      end
    end
    add_mount(res, { src = src, dst = dst, mode = mode })
  end
end
M.ro, M.rw = bind("ro"), bind("rw")

local VOLUME_REFUSED = {
  z = "SELinux relabelling (:z, :Z) is not done: moonjail never changes the labels of host files",
  Z = "SELinux relabelling (:z, :Z) is not done: moonjail never changes the labels of host files",
  nocopy = "there are no volumes to copy into",
  consistent = "consistency options are for docker's file sharing on macOS",
  cached = "consistency options are for docker's file sharing on macOS",
  delegated = "consistency options are for docker's file sharing on macOS",
}
for _, p in ipairs({ "shared", "slave", "private", "rshared", "rslave", "rprivate" }) do
  VOLUME_REFUSED[p] = "mount propagation is always private: nothing mounted in a sandbox reaches the host"
end

-- -v / --volume SRC:DST[:OPTS]
function M.volume(res, v, name)
  local parts = split(v, ":")
  if #parts == 1 then
    return "option '" .. name .. " " .. v .. "': anonymous volumes are not supported (use --tmpfs " .. v
      .. " for scratch space, or -v SRC:" .. v .. " for a host directory)"
  end
  if #parts > 3 then
    return "option '" .. name .. "': '" .. v .. "' has more than SRC:DST:OPTS (a path with ':' cannot be bound)"
  end
  local src, dst, opts = parts[1], parts[2], parts[3]
  if src == "" or dst == "" then return "option '" .. name .. "' needs SRC:DST[:OPTS], got '" .. v .. "'" end
  if not src:find("/", 1, true) and src ~= "." and src ~= ".." then
    return "option '" .. name .. "': '" .. src .. "' is a named volume, which moonjail does not have (give a host "
      .. "path: ./" .. src .. " or /path/" .. src .. ")"
  end
  local mode = "rw"
  if opts ~= nil then
    local seen
    for _, o in ipairs(split(opts, ",")) do
      if o == "ro" or o == "rw" then
        if seen and seen ~= o then return "option '" .. name .. "': both ro and rw in '" .. v .. "'" end
        seen, mode = o, o
      elseif VOLUME_REFUSED[o] then
        return "option '" .. name .. "': ':" .. o .. "' is not supported: " .. VOLUME_REFUSED[o]
      else
        return "option '" .. name .. "': unknown option '" .. o .. "' in '" .. v .. "' (ro or rw)"
      end
    end
  end
  add_mount(res, { src = src, dst = dst, mode = mode })
end

local TMPFS_REFUSED = {
  noexec = "tmpfs mounts are nosuid,nodev; noexec is not applied yet",
  exec = "tmpfs mounts are nosuid,nodev and executable already",
  ro = "an empty read-only tmpfs holds nothing; bind a host directory read-only with --ro",
  suid = "every mount in a sandbox is nosuid",
  dev = "every tmpfs in a sandbox is nodev",
  uid = "a tmpfs belongs to the sandbox's root; its mode decides who may write (mode=1777)",
  gid = "a tmpfs belongs to the sandbox's root; its mode decides who may write (mode=1777)",
  nr_inodes = "the inode count follows the size",
  nr_blocks = "use size=SIZE",
}

-- Applies docker's tmpfs options (a list of "k=v" and flags) to mount m; nil or a message.
local function tmpfs_options(m, list, name, v)
  for _, o in ipairs(list) do
    local k, val = o:match("^([^=]+)=(.*)$")
    k = k or o
    local plain = (k == "rw" or k == "nosuid" or k == "nodev") and not val -- what every tmpfs is
    if k == "size" and val then
      m.size = val
    elseif k == "mode" and val then
      m.mode = val
    elseif TMPFS_REFUSED[k] and not plain then
      return "option '" .. name .. "': '" .. o .. "' is not supported: " .. TMPFS_REFUSED[k]
    elseif not plain then
      return "option '" .. name .. "': unknown tmpfs option '" .. o .. "' in '" .. v .. "' (size=SIZE, mode=OCTAL)"
    end
  end
end

-- --tmpfs DST[:OPTS]
function M.tmpfs(res, v, name)
  local dst, opts = v:match("^([^:]*):(.*)$")
  dst = dst or v
  if dst == "" then return "option '" .. name .. "' needs DST[:OPTS]" end
  local m = { type = "tmpfs", dst = dst }
  if opts ~= nil then
    if opts == "" then return "option '" .. name .. "': empty options after ':' in '" .. v .. "'" end
    local why = tmpfs_options(m, split(opts, ","), name, v)
    if why then return why end
  end
  add_mount(res, m)
end

local TRUE = { ["true"] = true, ["1"] = true }
local FALSE = { ["false"] = true, ["0"] = true }

-- --mount type=bind|tmpfs,src=…,dst=…[,readonly]
function M.mount(res, v, name)
  local kv, flags = {}, {}
  for _, item in ipairs(split(v, ",")) do
    local k, val = item:match("^([^=]+)=(.*)$")
    if k then
      if kv[k] ~= nil then return "option '" .. name .. "': '" .. k .. "' given twice in '" .. v .. "'" end
      kv[k] = val
    elseif item ~= "" then
      flags[item] = true
    end
  end
  local function take(...)
    local found
    for _, k in ipairs({ ... }) do
      if kv[k] ~= nil then
        if found ~= nil then return nil, "option '" .. name .. "': give one of " .. table.concat({ ... }, ", ") end
        found = kv[k]
        kv[k] = nil
      end
    end
    return found
  end
  local typ = kv.type
  kv.type = nil
  if typ == nil then
    return "option '" .. name .. "': type= is needed (bind or tmpfs; moonjail has no volumes)"
  end
  if typ == "volume" or typ == "npipe" or typ == "cluster" or typ == "image" then
    return "option '" .. name .. "': type=" .. typ .. " is not supported (type=bind for a host directory, "
      .. "type=tmpfs for scratch space)"
  end
  if typ ~= "bind" and typ ~= "tmpfs" then
    return "option '" .. name .. "': unknown type '" .. typ .. "' (bind or tmpfs)"
  end
  local src, e1 = take("source", "src")
  if e1 then return e1 end
  local dst, e2 = take("destination", "dst", "target")
  if e2 then return e2 end
  if not dst or dst == "" then return "option '" .. name .. "': dst= (or target=) is needed in '" .. v .. "'" end
  local ro = flags.readonly or flags.ro
  flags.readonly, flags.ro = nil, nil
  local rov = take("readonly", "ro")
  if rov ~= nil then
    if TRUE[rov] then ro = true
    elseif FALSE[rov] then ro = false
    else return "option '" .. name .. "': readonly=" .. rov .. " (true or false)" end
  end
  local m
  if typ == "bind" then
    if not src or src == "" then return "option '" .. name .. "': type=bind needs src= (or source=)" end
    m = { src = src, dst = dst, mode = ro and "ro" or "rw" }
  else
    if src then return "option '" .. name .. "': type=tmpfs takes no src=" end
    if ro then return "option '" .. name .. "': 'readonly' is not supported: " .. TMPFS_REFUSED.ro end
    m = { type = "tmpfs", dst = dst, size = take("tmpfs-size"), mode = take("tmpfs-mode") }
  end
  local k = next(kv) or next(flags)
  if k then
    local why = k:match("^bind%-") and "bind options are not supported: mounts are private and recursive"
      or k:match("^volume%-") and "there are no volumes"
      or k == "consistency" and "consistency options are for docker's file sharing on macOS"
    return "option '" .. name .. "': '" .. k .. "' in '" .. v .. "' is not supported"
      .. (why and (": " .. why) or " (type, src, dst, readonly, tmpfs-size, tmpfs-mode)")
  end
  add_mount(res, m)
end

------------------------------------------------------------------------------------------------
-- Environment

-- Adds K=V (or K: the host's value, skipped when unset) to res.opts.env; nil or a message.
local function set_env(res, v, name)
  local k, val = v:match("^([^=]*)=(.*)$")
  if not k then k, val = v, os.getenv(v) end
  if k == "" then return "option '" .. name .. "' needs K[=V]" end
  if k:find("%s") or k:find("%z") then return "option '" .. name .. "': invalid variable name '" .. k .. "'" end
  if val ~= nil then res.opts.env[k] = val end
end
M.env = set_env

-- --env-file FILE: K=V or K lines, blank lines and # comments skipped (docker's format).
M["env-file"] = function(res, v, name)
  local f, why = io.open(v, "r")
  if not f then return "option '" .. name .. "': cannot read " .. tostring(why) end
  local n = 0
  for line in f:lines() do
    n = n + 1
    line = line:gsub("^%s+", ""):gsub("\r$", "")
    if line ~= "" and line:sub(1, 1) ~= "#" then
      local problem = set_env(res, line, name)
      if problem then
        f:close()
        return problem .. " (" .. v .. ":" .. n .. ")"
      end
    end
  end
  f:close()
end

------------------------------------------------------------------------------------------------
-- Security and limits

-- --cap-drop CAP: the policy's capabilities minus CAP (ALL: all of them); --cap-add adds on top.
M["cap-drop"] = function(res, v)
  local list = res.cap_drop
  list[#list + 1] = v:upper():gsub("^CAP_", "")
end

M["cap-add"] = function(res, v)
  res.opts.capabilities[#res.opts.capabilities + 1] = v
end

-- --security-opt: no-new-privileges, seccomp=FILE|unconfined, apparmor=PROFILE.
M["security-opt"] = function(res, v, name)
  local k, val = v:match("^([^=:]+)[=:](.*)$")
  k = k or v
  if k == "no-new-privileges" then
    if val == nil or TRUE[val] then return end -- always set for every command
    return "option '" .. name .. " " .. v .. "' is not supported: every command runs with no_new_privs"
  elseif k == "seccomp" and val and val ~= "" then
    if val == "unconfined" or val == "default" then
      override(res, { "seccomp", "profile" }, val)
    else
      override(res, { "seccomp", "profile" }, absolute(val))
    end
  elseif k == "apparmor" and val and val ~= "" then
    if val ~= "unconfined" then override(res, { "apparmor" }, val) end
  elseif k == "label" then
    return "option '" .. name .. " " .. v .. "' is not supported: set an SELinux label with a policy's selinux key"
  elseif k == "systempaths" then
    return "option '" .. name .. " " .. v .. "' is not supported: /proc and /sys paths stay masked"
  else
    return "option '" .. name .. "': unknown security option '" .. v
      .. "' (no-new-privileges, seccomp=FILE|unconfined, apparmor=PROFILE)"
  end
end

local ULIMITS = { nofile = "nofile", nproc = "nproc", fsize = "file_size", cpu = "cpu_time" }
local ULIMITS_REFUSED = {
  core = "core dumps stay off", memlock = "memory locking stays at the host's default",
  stack = "the stack limit stays at the host's default", as = "use -m for a memory limit",
  data = "use -m for a memory limit", rss = "use -m for a memory limit", locks = "not settable",
  msgqueue = "not settable", nice = "not settable", rtprio = "real-time scheduling is not available",
  rttime = "real-time scheduling is not available", sigpending = "not settable",
}

-- --ulimit NAME=SOFT[:HARD] (one value sets both; -1 is unlimited).
function M.ulimit(res, v, name)
  local k, soft, hard = v:match("^([%a]+)=([^:]+):?(.*)$")
  if not k then return "option '" .. name .. "' needs NAME=N[:N], got '" .. v .. "'" end
  local key = ULIMITS[k]
  if not key then
    if ULIMITS_REFUSED[k] then return "option '" .. name .. " " .. k .. "' is not supported: " .. ULIMITS_REFUSED[k] end
    return "option '" .. name .. "': unknown limit '" .. k .. "' (nofile, nproc, fsize, cpu)"
  end
  local n = M.decimal(soft, true)
  if not n or (n < 1 and n ~= -1) then return "option '" .. name .. "': '" .. soft .. "' is not a count (or -1)" end
  if hard ~= "" and M.decimal(hard, true) ~= n then
    return "option '" .. name .. " " .. v .. "': soft and hard limits differ; moonjail sets one value for both"
  end
  if key == "cpu_time" then
    if n == -1 then return "option '" .. name .. " cpu=-1': leave it out for no CPU-time limit" end
    res.limits[key] = n
  elseif key == "file_size" then
    if n == -1 then return "option '" .. name .. " fsize=-1': leave it out for no file-size limit" end
    res.limits[key] = n
  else
    res.limits[key] = n
  end
end

-- -m, --cpus, --pids-limit: decimal numbers (no hex or exponents); -1 is unlimited for counts.
function M.memory(res, v, name)
  local _, why = util.parse_size(v)
  if why then return "option '" .. name .. "': " .. why end
  res.limits.memory = v
end

M.cpus = function(res, v, name)
  local n = M.decimal(v)
  if not n or n <= 0 then return "option '" .. name .. "' needs a number of cores > 0, got '" .. v .. "'" end
  res.limits.cpus = n
end

M["pids-limit"] = function(res, v, name)
  local n = M.decimal(v, true)
  if not n or (n < 1 and n ~= -1) then
    return "option '" .. name .. "' needs a whole number > 0 (or -1 for unlimited), got '" .. v .. "'"
  end
  res.limits.pids = n
end

------------------------------------------------------------------------------------------------
-- The rest

local function set_opt(field)
  return function(res, v) res.opts[field] = v end
end
M.policy, M.image, M.workdir, M.user, M.hostname = set_opt("policy"), set_opt("image"), set_opt("workdir"),
  set_opt("user"), set_opt("hostname")
M.entrypoint = function(res, v) res.entrypoint = v end
M.platform = set_opt("platform")
M["insecure-registry"] = function(res, v)
  res.opts.insecure_registries = res.opts.insecure_registries or {}
  table.insert(res.opts.insecure_registries, v)
end
M.name = function(res, v) res.name = v end
M.rootfs = function(res, v, name)
  if v == "" then return "option '" .. name .. "' needs a directory" end
  res.opts.rootfs = absolute(v)
end
M["read-only"] = function(res) override(res, { "filesystem", "readonly_root" }, true) end
M.init = function() end -- moonjail's init is always pid 1

local function checked(field, parse)
  return function(res, v, name)
    local _, why = util[parse](v)
    if why then return "option '" .. name .. "': " .. why end
    res.opts[field] = v
  end
end
M.timeout = checked("timeout", "parse_duration")
M["output-limit"] = checked("output_limit", "parse_size")
M["cleanup-delay"] = checked("cleanup_delay", "parse_duration")
M.lifetime = checked("lifetime", "parse_duration")

local function keyed(field)
  return function(res, v, name)
    local k, val = v:match("^([^=]+)=(.*)$")
    if not k then return "option '" .. name .. "' needs KEY=VALUE" end
    res.opts[field] = res.opts[field] or {}
    res.opts[field][k] = val
  end
end
M.label, M.annotation = keyed("labels"), keyed("annotations")

-- --network MODE (docker's bridge is outbound), -p/--publish, --allow-host: a network table
-- when a port or a rule comes with it (a table without mode keeps the policy's mode).
local function net_table(res)
  local net = res.opts.network
  if type(net) ~= "table" then net = { mode = net }; res.opts.network = net end
  return net
end
M.network = function(res, v, name)
  if not require("moonjail.netpolicy").MODES[v] then
    return "option '" .. name .. "': expected none, host, bridge, outbound or filtered, got '" .. v .. "'"
  end
  if type(res.opts.network) == "table" then res.opts.network.mode = v else res.opts.network = v end
end
M.publish = function(res, v, name)
  local ok, why = require("moonjail.netpolicy").check_publish(v)
  if not ok then return "option '" .. name .. "': " .. why end
  local net = net_table(res)
  net.publish = net.publish or {}
  net.publish[#net.publish + 1] = v
end
M["allow-host"] = function(res, v, name)
  local ok, why = require("moonjail.netpolicy").check_rule(v)
  if not ok then return "option '" .. name .. "' '" .. v .. "': " .. why end
  local net = net_table(res)
  net.mode = net.mode or "filtered"
  net.allow = net.allow or {}
  net.allow[#net.allow + 1] = v
end

M.repo = function(res, v)
  -- SRC[:DST[:ro|rw|cow]]; SRC is a directory, an archive or an http(s) URL
  local url, rest = v:match("^(https?://[^:]+:?%d*/[^:]*)(.*)$")
  local src = url or v:match("^[^:]*")
  rest = url and rest or v:sub(#src + 1)
  local dst, mode = rest:match("^:([^:]*):?(.*)$")
  if src == "" or (rest ~= "" and not dst) then return "--repo needs SRC[:DST[:ro|rw|cow]]" end
  dst = (dst ~= nil and dst ~= "") and dst or nil
  local rule = { mount = dst, mode = (mode ~= nil and mode ~= "") and mode or nil }
  if url then rule.url = src else rule.path = src end
  if not rule.mount then
    if url then return "--repo URL needs a mount point (URL:DST)" end
    rule.mount = absolute(src)
  end
  res.opts.repositories = res.opts.repositories or {}
  res.opts.repositories[#res.opts.repositories + 1] = rule
end

M.exclude = function(res, v)
  local last = res.opts.repositories and res.opts.repositories[#res.opts.repositories]
  if not last then return "--exclude applies to the --repo before it" end
  last.exclude = last.exclude or {}
  last.exclude[#last.exclude + 1] = v
end

-- -h is help in moonjail but the host name in docker's run and create: noted, checked later.
M.help = function(res, _, typed)
  res.help = true
  res.help_typed = typed
end

--- A fresh result table for the parser.
function M.fresh()
  return { opts = { mounts = {}, env = {}, capabilities = {} }, limits = {}, overrides = {}, cap_drop = {} }
end

--- What the options mean together, once all are parsed: the policy overrides of --cap-drop,
--- checks across options.  nil or a message.
function M.finish(res)
  if #res.cap_drop > 0 then
    local added = {}
    for _, c in ipairs(res.opts.capabilities) do added[c:upper():gsub("^CAP_", "")] = c end
    for _, c in ipairs(res.cap_drop) do
      if added[c] then return "--cap-add " .. added[c] .. " and --cap-drop " .. c .. " contradict each other" end
    end
    override(res, { "capabilities", "drop" }, { append = res.cap_drop })
  end
  if next(res.limits) then res.opts.limits = res.limits end
  for _, r in ipairs(res.opts.repositories or {}) do
    if r.url and not res.opts.progress then -- downloads show their progress (moonjail.progress)
      res.opts.progress = require("moonjail.progress").for_cli(res):callback()
    end
  end
  if res.opts.image and not res.opts.progress then -- a missing image is pulled with its progress
    res.opts.progress = require("moonjail.progress").for_cli(res):callback()
  end
  if next(res.overrides) then res.opts.overrides = res.overrides end
end

return M

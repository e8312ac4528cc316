-- moonjail.policy — loads, merges and validates policies.
--
-- A policy is a Lua file that returns a table (see docs/policies.md).  It is treated as code from an
-- untrusted author: loaded as text only, in a Lua state of its own (core.eval_data) with an empty
-- environment, under an instruction, memory and wall-clock budget that also bounds work inside
-- one C call (a gsub, a backtracking find); only plain data comes back, and it is validated key by
-- key.  Errors name the key path and file:line.
-- Never: run a policy with the caller's globals, read a file that is not a policy file (a path
-- must end in ".lua": see policy_path), quote a file's text in an error, follow a policy's
-- `extends` more than MAX_DEPTH deep, or decide anything about how a run is executed
-- (moonjail.api does that).
local util = require "moonjail.util"

local M = {}

local MAX_INSTRUCTIONS = 1000000 -- per policy file
local MAX_MEMORY = 64 * 1024 * 1024 -- all the Lua state of one policy file holds
local MAX_SECONDS = 2            -- wall-clock per policy file
local MAX_SOURCE_BYTES = 1024 * 1024
local MAX_DEPTH = 16             -- extends chain

------------------------------------------------------------------------------------------------
-- Value checkers: each returns true, or nil and a reason.

local function is_string(v) return type(v) == "string" or nil, "expected a string" end
local function is_boolean(v) return type(v) == "boolean" or nil, "expected a boolean" end

local function is_size(v)
  local n, why = util.parse_size(v)
  if not n then return nil, why end
  return true
end

local function is_duration(v)
  local n, why = util.parse_duration(v)
  if not n then return nil, why end
  return true
end

local function is_count(v)
  if math.type(v) == "integer" and v > 0 then return true end
  if v == math.huge or v == -1 then return true end -- unlimited
  return nil, "expected a positive integer (or -1 / math.huge for unlimited)"
end

local function is_positive(v)
  if type(v) == "number" and v > 0 and v < math.huge then return true end
  return nil, "expected a number > 0"
end

local function is_strings(v)
  if type(v) ~= "table" then return nil, "expected an array of strings" end
  for k, x in pairs(v) do
    if math.type(k) ~= "integer" or type(x) ~= "string" then
      return nil, "expected an array of strings"
    end
  end
  return true
end

local function is_abs_paths(v)
  if not is_strings(v) then return nil, "expected an array of absolute paths" end
  for _, p in ipairs(v) do
    if not util.is_clean_abs(p) then return nil, "'" .. p .. "' is not an absolute path" end
  end
  return true
end

local function is_string_map(v)
  if type(v) ~= "table" then return nil, "expected a table of string keys to string values" end
  for k, x in pairs(v) do
    if type(k) ~= "string" or (type(x) ~= "string" and type(x) ~= "number") then
      return nil, "expected a table of string keys to string values"
    end
  end
  return true
end

local function is_env_set(v)
  local ok, why = is_string_map(v)
  if not ok then return nil, why end
  for k in pairs(v) do
    if k == "" or k:find("[=%z]") then return nil, "invalid environment variable name '" .. k .. "'" end
  end
  return true
end

--- Parses "uid[:gid]" or an integer; returns uid, gid or nil, reason.
-- Looks a name up in passwd/group text ("name:x:id:…"); the id, and for passwd the primary gid.
local function lookup(text, name)
  if not text then return nil end
  for line in text:gmatch("[^\n]+") do
    local n, _, id, gid = line:match("^([^:]*):([^:]*):(%d+):?(%d*)")
    if n == name then return math.tointeger(tonumber(id)), math.tointeger(tonumber(gid)) end
  end
  return nil
end

--- "uid:gid", "uid", a number, or names ("builder", "builder:staff", "1000:staff") resolved
--- in the sandbox root's own /etc/passwd and /etc/group (passwd_text, group_text).
function M.parse_user(v, passwd_text, group_text)
  if math.type(v) == "integer" then
    if v < 0 then return nil, "a uid must not be negative" end
    return v, v
  end
  if type(v) ~= "string" then return nil, "expected \"uid:gid\", a user name or a number" end
  local us, gs = v:match("^([^:]+):([^:]+)$")
  if not us then us = v:match("^([^:]+)$") end
  if not us then return nil, "expected \"user[:group]\", got '" .. v .. "'" end
  local u, g
  if us:match("^%d+$") then
    u = math.tointeger(tonumber(us))
    g = u
  elseif us:match("^[%a_][%w_.-]*$") then
    if not passwd_text then return nil, "user name '" .. us .. "' needs the root's /etc/passwd", "NAME" end
    u, g = lookup(passwd_text, us)
    if not u then return nil, "no user '" .. us .. "' in the sandbox's /etc/passwd" end
  else
    return nil, "invalid user name '" .. us .. "'"
  end
  if gs then
    if gs:match("^%d+$") then
      g = math.tointeger(tonumber(gs))
    elseif gs:match("^[%a_][%w_.-]*$") then
      if not group_text then return nil, "group name '" .. gs .. "' needs the root's /etc/group", "NAME" end
      g = lookup(group_text, gs)
      if not g then return nil, "no group '" .. gs .. "' in the sandbox's /etc/group" end
    else
      return nil, "invalid group name '" .. gs .. "'"
    end
  end
  if not u or not g or u > 4294967294 or g > 4294967294 then return nil, "id out of range in '" .. v .. "'" end
  return u, g
end

local function is_user(v)
  local u, why, kind = M.parse_user(v)
  if not u and kind ~= "NAME" then return nil, why end
  return true -- names are resolved against the sandbox's root when it runs
end

local function is_root(v)
  if v == "host" or util.is_clean_abs(v) then return true end
  return nil, "expected \"host\" or an absolute directory"
end

-- best_effort: a list of facility names, or a table of name = true.
local IO_KEYS = { device = true, read_bps = true, write_bps = true, read_iops = true, write_iops = true }
local function is_io(v)
  if type(v) ~= "table" then return nil, "expected an array of { device = \"/dev/…\", read_bps =, … }" end
  for i, e in pairs(v) do
    if math.type(i) ~= "integer" or type(e) ~= "table" then
      return nil, "expected an array of { device = \"/dev/…\", read_bps =, … }"
    end
    for k, x in pairs(e) do
      if not IO_KEYS[k] then
        local hint = util.suggest(k, IO_KEYS)
        return nil, "entry " .. i .. ": unknown key '" .. tostring(k) .. "'"
          .. (hint and (" (did you mean '" .. hint .. "'?)") or "")
      end
      if k == "device" and (type(x) ~= "string" or x:sub(1, 1) ~= "/") then
        return nil, "entry " .. i .. ": device must be an absolute path such as \"/dev/vda\""
      end
      if (k == "read_bps" or k == "write_bps") and not util.parse_size(x) then
        return nil, "entry " .. i .. ": " .. k .. " must be a size per second such as \"50M\""
      end
      if (k == "read_iops" or k == "write_iops") and not (math.type(x) == "integer" and x > 0) then
        return nil, "entry " .. i .. ": " .. k .. " must be a positive integer"
      end
    end
    if e.device == nil then return nil, "entry " .. i .. ": device is missing" end
  end
  return true
end

local function is_best_effort(v)
  if type(v) ~= "table" then return nil, "expected a list of facility names or { name = true }" end
  for k, x in pairs(v) do
    local listed = math.type(k) == "integer" and type(x) == "string"
    local flagged = type(k) == "string" and type(x) == "boolean"
    if not listed and not flagged then return nil, "expected a list of facility names or { name = true }" end
  end
  return true
end

local LANDLOCK_KEYS = { enforce = true, tcp_bind = true, tcp_connect = true }
local function is_landlock(v)
  if type(v) == "boolean" or v == "best_effort" then return true end
  if type(v) ~= "table" then
    return nil, "expected true, false, \"best_effort\" or { enforce =, tcp_bind = {ports}, tcp_connect = {ports} }"
  end
  for k, x in pairs(v) do
    if not LANDLOCK_KEYS[k] then
      local hint = util.suggest(k, LANDLOCK_KEYS)
      return nil, "unknown key '" .. tostring(k) .. "'" .. (hint and (" (did you mean '" .. hint .. "'?)") or "")
    end
    if k == "enforce" and x ~= true and x ~= "best_effort" then
      return nil, "enforce must be true or \"best_effort\" (leave Landlock off with landlock = false)"
    end
    if k ~= "enforce" then
      if type(x) ~= "table" then return nil, k .. " must be an array of TCP ports" end
      for i, p in pairs(x) do
        if math.type(i) ~= "integer" or math.type(p) ~= "integer" or p < 0 or p > 65535 then
          return nil, k .. " must be an array of TCP ports (0-65535)"
        end
      end
      if #x > 64 then return nil, k .. ": at most 64 ports" end
    end
  end
  return true
end

-- The network key's grammar lives with its translation into moonjail-net's configuration.
local function is_network(v) return require("moonjail.netpolicy").check(v) end

--- Parses a file mode: integer or octal string ("0644", "1777").  Returns integer or nil, reason.
function M.parse_mode(v)
  if math.type(v) == "integer" and v >= 0 and v <= 4095 then return v end
  if type(v) == "string" and v:match("^0?[0-7][0-7][0-7][0-7]?$") then
    local n = tonumber(v, 8)
    if n <= 4095 then return n end
  end
  return nil, "expected a file mode (a number or an octal string such as \"0755\")"
end

local MOUNT_KEYS = { [1] = true, [2] = true, src = true, dst = true, mode = true, type = true, size = true }

--- Normalizes one mount entry to { kind = "ro"|"rw"|"tmpfs", src =, dst =, size =, mode = }.
-- Accepts "SRC[:DST[:ro|rw]]", { SRC, DST, mode = "ro"|"rw" }, { src =, dst =, mode = },
-- { type = "tmpfs", dst =, size =, mode = 0755 }.  Bind mounts are read-only unless mode = "rw".
-- base_dir resolves relative sources (nil: relative sources are refused).
-- Returns the entry or nil, reason.  Does not look at the host.
function M.normalize_mount(m, base_dir)
  local e
  if type(m) == "string" then
    local parts = {}
    for p in (m .. ":"):gmatch("([^:]*):") do parts[#parts + 1] = p end
    if #parts > 3 or parts[1] == "" then return nil, "expected \"SRC[:DST[:ro|rw]]\", got '" .. m .. "'" end
    e = { src = parts[1], dst = parts[2] ~= "" and parts[2] or nil, mode = parts[3] }
  elseif type(m) == "table" then
    for k in pairs(m) do
      if not MOUNT_KEYS[k] then
        local hint = util.suggest(k, { src = 1, dst = 1, mode = 1, type = 1, size = 1 })
        return nil, "unknown key '" .. tostring(k) .. "'" .. (hint and (" (did you mean '" .. hint .. "'?)") or "")
      end
    end
    if m.type ~= nil and m.type ~= "bind" and m.type ~= "tmpfs" then
      return nil, "type must be \"bind\" or \"tmpfs\""
    end
    e = { src = m.src or m[1], dst = m.dst or m[2], mode = m.mode, type = m.type, size = m.size }
    if m.type == "tmpfs" and e.dst == nil and m[2] == nil then e.dst, e.src = e.src, nil end
  else
    return nil, "expected a string \"SRC[:DST[:ro|rw]]\" or a table"
  end

  if e.type == "tmpfs" then
    if e.src ~= nil then return nil, "a tmpfs mount takes no source" end
    if not util.is_clean_abs(e.dst) then return nil, "destination must be an absolute path" end
    local size, mode = 0, 0
    if e.size ~= nil then
      local why
      size, why = util.parse_size(e.size)
      if not size then return nil, "size: " .. why end
    end
    if e.mode ~= nil then
      local why
      mode, why = M.parse_mode(e.mode)
      if not mode then return nil, "mode: " .. why end
    end
    return { kind = "tmpfs", dst = e.dst, size = size, mode = mode }
  end

  if e.size ~= nil then return nil, "size applies to tmpfs mounts only" end
  if type(e.src) ~= "string" or e.src == "" then return nil, "a bind mount needs a source path" end
  local src = e.src
  if src:sub(1, 1) ~= "/" then
    if not base_dir then return nil, "source '" .. src .. "' must be an absolute path" end
    src = util.clean_path(base_dir .. "/" .. src)
  end
  local dst = e.dst == nil and src or e.dst
  if type(dst) ~= "string" or not util.is_clean_abs(dst) then
    return nil, "destination '" .. tostring(dst) .. "' must be an absolute path without '..'"
  end
  local mode = e.mode == nil and "ro" or e.mode
  if mode ~= "ro" and mode ~= "rw" then return nil, "mode must be \"ro\" or \"rw\"" end
  return { kind = mode, src = src, dst = dst }
end

local function is_mounts(v)
  if type(v) ~= "table" then return nil, "expected an array of mounts" end
  for i, m in pairs(v) do
    if math.type(i) ~= "integer" then return nil, "expected an array of mounts" end
    local ok, why = M.normalize_mount(m, "/")
    if not ok then return nil, "entry " .. i .. ": " .. why end
  end
  return true
end

local function is_tmpfs_list(v)
  if type(v) ~= "table" then return nil, "expected an array of paths or { dst =, size =, mode = } tables" end
  for i, t in pairs(v) do
    if math.type(i) ~= "integer" then return nil, "expected an array" end
    local entry = type(t) == "table" and t or { dst = t }
    entry = { type = "tmpfs", dst = entry.dst or entry[1], size = entry.size, mode = entry.mode }
    local ok, why = M.normalize_mount(entry)
    if not ok then return nil, "entry " .. i .. ": " .. why end
  end
  return true
end

------------------------------------------------------------------------------------------------
-- The schema: DESIGN.md's pinned keys, plus `description`, `hostname`, `lifetime`, `workdir`,
-- `filesystem.host_paths`, `filesystem.writable` and `limits.nproc` (moonjail extensions).

local SCHEMA = {
  description = is_string,
  extends = is_string,
  limits = {
    memory = is_size, memory_request = is_size, cpus = is_positive, cpu_request = is_positive,
    pids = is_count, nofile = is_count, nproc = is_count, disk = is_size, file_size = is_size,
    wall_time = is_duration, cpu_time = is_duration, output = is_size, io = is_io,
  },
  filesystem = {
    root = is_root, readonly_root = is_boolean, host_paths = is_abs_paths, mounts = is_mounts,
    tmpfs = is_tmpfs_list, masked = is_abs_paths, readonly = is_abs_paths, writable = is_abs_paths,
  },
  user = is_user,
  hostname = is_string,
  lifetime = is_duration,
  workdir = function(v) return util.is_clean_abs(v) or nil, "expected an absolute path" end,
  capabilities = { add = is_strings, drop = is_strings },
  apparmor = is_string,
  selinux = is_string,
  seccomp = { profile = is_string, allow = is_strings, deny = is_strings },
  landlock = is_landlock,
  network = is_network,
  env = { pass = is_strings, set = is_env_set },
  audit = { log = is_string },
  best_effort = is_best_effort,
  labels = is_string_map,
  annotations = is_string_map,
  repositories = function(v) return require("moonjail.repo").check_list(v) end,
}
M.SCHEMA = SCHEMA

-- `key = { append = {…} }` adds to the parent's list instead of replacing it.
local function append_of(v)
  if type(v) == "table" and v.append ~= nil and next(v, next(v)) == nil and next(v) == "append" then
    return v.append
  end
  return nil
end
M.append_of = append_of

------------------------------------------------------------------------------------------------
-- Locating keys in the source text, for file:line in messages.

local function line_of(source, path)
  if not source then return nil end
  local lines = {}
  for line in (source .. "\n"):gmatch("([^\n]*)\n") do lines[#lines + 1] = line end
  local from, found = 1, nil
  for _, key in ipairs(path) do
    if type(key) ~= "string" then break end
    local pat = "%f[%w_]" .. key:gsub("%W", "%%%0") .. "%s*="
    local quoted = "%[%s*[\"']" .. key:gsub("%W", "%%%0") .. "[\"']%s*%]%s*="
    local hit
    for n = from, #lines do
      if lines[n]:find(pat) or lines[n]:find(quoted) then hit = n; break end
    end
    if not hit then break end
    found, from = hit, hit
  end
  return found
end

local function where(layer, path)
  local line = line_of(layer.source, path)
  if layer.file and line then return layer.file .. ":" .. line .. ": " end
  if layer.file then return layer.file .. ": " end
  return ""
end

local function path_name(path)
  local out = {}
  for i, k in ipairs(path) do out[i] = tostring(k) end
  return table.concat(out, ".")
end

local function invalid(core, msg) return nil, core.error("INVALID_CONFIG", msg) end

-- Validates t against schema, collecting every problem (messages with key path and file:line)
-- into `problems`.
local function validate(layer, t, schema, path, problems)
  for _, k in ipairs(util.sorted_keys(t)) do
    local v = t[k]
    local sub = { table.unpack(path) }
    sub[#sub + 1] = k
    local rule = type(k) == "string" and schema[k] or nil
    if rule == nil then
      local hint = util.suggest(k, schema)
      local prefix = #path > 0 and (path_name(path) .. ".") or ""
      problems[#problems + 1] = string.format("%spolicy: unknown key '%s'%s", where(layer, sub), path_name(sub),
        hint and string.format(" (did you mean '%s%s'?)", prefix, hint) or "")
    elseif type(rule) == "table" then
      if type(v) ~= "table" then
        problems[#problems + 1] = string.format("%spolicy: '%s' must be a table", where(layer, sub), path_name(sub))
      else
        validate(layer, v, rule, sub, problems)
      end
    else
      local appended = append_of(v)
      local ok, why = rule(appended or v)
      if appended ~= nil and (type(appended) ~= "table" or (next(appended) ~= nil and not util.is_array(appended))) then
        ok, why = nil, "'append' takes a list"
      end
      if not ok then
        problems[#problems + 1] = string.format("%spolicy: '%s': %s", where(layer, sub), path_name(sub), why)
      end
    end
  end
end

-- Every problem at once: an INVALID_CONFIG error whose message is the first problem (plus how
-- many more) and whose `problems` field lists them all.
local function invalid_all(core, problems)
  local msg = problems[1]
  if #problems > 1 then msg = msg .. string.format(" (and %d more problem%s)", #problems - 1,
    #problems > 2 and "s" or "") end
  local err = core.error("INVALID_CONFIG", msg)
  err.problems = problems
  return nil, err
end

------------------------------------------------------------------------------------------------
-- Loading one layer.

local dirname = util.dirname

--- Whether path names a policy file: it must end in ".lua" (after symlinks are resolved, too),
--- be a regular file and be readable by the caller's real ids.  Anything else is refused before
--- a byte of it is read, so `extends = "/etc/shadow"` learns nothing of the file.  Returns the
--- path, or nil and the reason.
function M.policy_path(core, path)
  if not path:match("%.lua$") then return nil, "not a policy file (a policy path ends in \".lua\")" end
  local kind = core.path_kind(path)
  if kind ~= "file" then return nil, kind and "not a regular file" or "no such file" end
  local real = core.realpath(path)
  if not real or not real:match("%.lua$") then
    return nil, "not a policy file (it resolves to a file whose name does not end in \".lua\")"
  end
  if not core.readable(path) then return nil, "not readable by you" end
  return path
end

local function read_file(core, path)
  local ok, why = M.policy_path(core, path)
  if not ok then return nil, why end
  local f
  f, why = io.open(path, "rb")
  if not f then return nil, why end
  local src = f:read(MAX_SOURCE_BYTES + 1)
  f:close()
  if src and #src > MAX_SOURCE_BYTES then return nil, "larger than 1 MiB" end
  return src or ""
end

-- Resolves a reference to { file =, source =, dir = } (not yet run).
local function locate(core, ref, base_dir)
  if ref == "" or ref:find("%z") then
    return invalid(core, "a policy name or path must not be empty or hold a NUL byte")
  end
  if ref:find("/", 1, true) or ref:match("%.lua$") then
    local path = ref
    if path:sub(1, 1) ~= "/" and base_dir then path = base_dir .. "/" .. path end
    local src, why = read_file(core, path)
    if not src then return invalid(core, string.format("cannot read policy file '%s': %s", path, why)) end
    return { file = path, source = src, dir = dirname(path) }
  end
  local src = core.policy_source(ref)
  if not src then
    local names = core.policy_names()
    local hint = util.suggest(ref, names)
    return invalid(core, string.format("unknown policy '%s'%s (known: %s)", ref,
      hint and (" (did you mean '" .. hint .. "'?)") or "", table.concat(names, ", ")))
  end
  return { file = "policies/" .. ref .. ".lua", source = src, dir = nil, name = ref }
end

-- A syntax error without the token it quotes ("… near 'root'"): an error never echoes a file.
local function without_token(msg)
  return (msg:gsub(" near .*$", ""))
end

-- Runs a located layer's chunk in a state of its own, under the budget; fills layer.value.
local function evaluate(core, layer)
  if layer.source:byte(1) == 27 then
    return invalid(core, layer.file .. ": policy files must be Lua source text, not bytecode")
  end
  local ok, value, kind = core.eval_data(layer.source, "@" .. layer.file,
    { instructions = MAX_INSTRUCTIONS, memory = MAX_MEMORY, seconds = MAX_SECONDS })
  if not ok and kind == "syntax" then return invalid(core, "syntax error in policy " .. without_token(value)) end
  if not ok and kind == "data" then return invalid(core, value) end -- "file: a policy returns data only (…)"
  if not ok then return invalid(core, "error in policy " .. value) end -- "file:line: why"
  if type(value) ~= "table" then
    return invalid(core, layer.file .. ": a policy must return a table (got " .. type(value) .. ")")
  end
  layer.value = value
  return layer
end

------------------------------------------------------------------------------------------------
-- Merging.

--- Merges child over parent: tables with string keys merge recursively, arrays and everything
-- else replace.  Returns a new table; neither argument is modified.
function M.merge(parent, child)
  local out = util.deepcopy(parent)
  for k, v in pairs(child) do
    local p = out[k]
    local appended = append_of(v)
    if appended ~= nil then
      local list = type(p) == "table" and util.is_array(p) and p or {}
      for _, x in ipairs(appended) do list[#list + 1] = util.deepcopy(x) end
      out[k] = list
    elseif type(v) == "table" and not util.is_array(v)
        and (p == nil or type(p) == "table" and not util.is_array(p)) then
      out[k] = M.merge(p or {}, v) -- also into nothing, so nested { append = … } resolve
    elseif type(v) == "table" and type(p) == "table" and next(v) == nil and not util.is_array(p) then
      out[k] = p -- an empty table adds nothing to a map
    else
      out[k] = util.deepcopy(v)
    end
  end
  return out
end

-- Loads ref (name, path or table) and its ancestors; returns the merged policy or nil, err.
local function load_chain(core, ref, base_dir, depth, seen)
  if depth > MAX_DEPTH then
    return invalid(core, "policy 'extends' chain deeper than " .. MAX_DEPTH .. " (a cycle?)")
  end
  local layer, err
  if type(ref) == "table" then
    layer = { value = ref, file = nil, source = nil, dir = base_dir }
  elseif type(ref) == "string" then
    layer, err = locate(core, ref, base_dir)
    if not layer then return nil, err end
    local key = layer.file
    if seen[key] then return invalid(core, "policy 'extends' cycle through " .. key) end
    seen[key] = true
    layer, err = evaluate(core, layer)
    if not layer then return nil, err end
  else
    return invalid(core, "policy must be a name, a path or a table (got " .. type(ref) .. ")")
  end

  local problems = {}
  validate(layer, layer.value, SCHEMA, {}, problems)
  if #problems > 0 then return invalid_all(core, problems) end

  -- Relative bind sources in a policy file resolve against that file's directory.
  local value = util.deepcopy(layer.value)
  local fs = value.filesystem
  if fs and fs.mounts then
    for i, m in ipairs(append_of(fs.mounts) or fs.mounts) do
      local n, why = M.normalize_mount(m, layer.dir)
      if not n then
        return invalid(core, string.format("%spolicy: 'filesystem.mounts' entry %d: %s",
          where(layer, { "filesystem", "mounts" }), i, why))
      end
      (append_of(fs.mounts) or fs.mounts)[i] = n
    end
  end
  if value.repositories then
    local list = append_of(value.repositories) or value.repositories
    local repos, why = require("moonjail.repo").normalize_list(list, layer.dir or base_dir)
    if not repos then
      return invalid(core, string.format("%spolicy: 'repositories' %s", where(layer, { "repositories" }), why))
    end
    -- kept as written (so `policy show` prints a valid policy), with paths made absolute
    for i, r in ipairs(repos) do
      if r.path then list[i].path = r.path end
    end
  end

  local parent_ref = value.extends
  value.extends = nil
  if parent_ref == nil then return M.merge({}, value) end -- resolves { append = … } against nothing
  local parent
  parent, err = load_chain(core, parent_ref, layer.dir, depth + 1, seen)
  if not parent then return nil, err end
  return M.merge(parent, value)
end

--- The name of the shipped policy ref's `extends` chain rests on (ref itself when it names one),
-- or nil when the chain names none (or does not load: M.load reports why).  Images use it to
-- tell what a user's policy sets explicitly from what it inherits (moonjail.image.runconfig).
function M.shipped_base(core, ref, cwd)
  local dir = cwd
  for _ = 1, MAX_DEPTH do
    if type(ref) == "table" then
      ref = ref.extends
    elseif type(ref) == "string" then
      local layer = locate(core, ref, dir)
      if not layer then return nil end
      if layer.name then return layer.name end
      layer = evaluate(core, layer)
      if not layer then return nil end
      dir, ref = layer.dir, layer.value.extends
    else
      return nil
    end
  end
  return nil
end

--- Loads a policy by name (an embedded policies/NAME.lua), path (contains "/" or ends in ".lua")
-- or table, follows `extends`, validates every layer and returns the merged table or nil, err.
-- Mounts in the result are normalized ({ kind, src, dst, size, mode }).  cwd (optional) resolves
-- relative policy paths, and relative mount sources of a table policy.
function M.load(core, ref, cwd)
  return load_chain(core, ref, cwd, 1, {})
end

return M

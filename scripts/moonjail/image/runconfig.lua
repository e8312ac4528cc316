-- moonjail.image.runconfig — what an image's config means for a sandbox, and how it meets a
-- policy and a call's options.  Precedence: the image's config first, then what the user's
-- policy or the call sets explicitly; the shipped policies' host-oriented settings (`root =
-- "host"` with its host_paths, `user`, `workdir`, the PATH and the host variables they pass)
-- never override an image.  A policy value counts as explicit when it differs from the value
-- of the shipped policy the user's chain rests on (or when there is none).  Pure functions.
--
-- from_config(cfg) -> run | nil, code, message: cfg is a decoded image config (manifest.
--   parse_config); run = { env = { "K=V", … } (the image's order), env_map = { K = V }, workdir,
--   user, entrypoint, cmd, labels, stop_signal }.  Hostile values (Env entries that are not
--   KEY=VALUE, a User that is no user name or id, an over-long WorkingDir) are IMAGE errors; a
--   relative WorkingDir is taken from "/" and cleaned ("..": never above "/").
-- merge(run, policy, shipped, call) -> settings | nil, code, message: policy is the user's merged
--   policy, shipped the built-in one it extends (nil: all of policy is explicit), call the
--   call's options (env, workdir, user, rootfs, readonly_root).  settings = { user, workdir,
--   env = { K = V } (what to set), pass = { K, … } (host variables to pass), host_paths = { … }
--   (only the ones the user added), readonly_root, origin = { user = "image" | "policy" |
--   "call" | "default", workdir = …, PATH = … } }.
-- command(run, argv, entrypoint) -> argv | nil, code, message: docker's rule — the entrypoint
--   (the call's, which also drops the image's Cmd, or the image's) followed by argv, or by the
--   image's Cmd when argv is empty.
-- Never: read the host (no os.getenv: the caller passes `pass`), or decide anything about mounts
-- beyond dropping the shipped host binds.
local M = {}

local DEFAULT_USER, DEFAULT_WORKDIR = "0:0", "/"
local MAX_PATH = 4096

local function bad(msg) return nil, "IMAGE", msg end

local function list_copy(t)
  if t == nil then return nil end
  local out = {}
  for i, v in ipairs(t) do out[i] = v end
  return out
end

local function deep_equal(a, b)
  if type(a) ~= "table" or type(b) ~= "table" then return a == b end
  for k, v in pairs(a) do
    if not deep_equal(v, b[k]) then return false end
  end
  for k in pairs(b) do
    if a[k] == nil then return false end
  end
  return true
end

--- "/"-rooted, lexically cleaned: "a/../../b" -> "/b".
function M.clean_path(p)
  local parts = {}
  for comp in p:gmatch("[^/]+") do
    if comp == ".." then
      parts[#parts] = nil
    elseif comp ~= "." then
      parts[#parts + 1] = comp
    end
  end
  return "/" .. table.concat(parts, "/")
end

-- A user as docker's USER takes it: a name or id, optionally ":" a group name or id.
local function user_ok(u)
  local name, group = u:match("^([^:]+):?(.*)$")
  local word = "^[%w_][%w._%-]*%$?$"
  return name ~= nil and #u <= 256 and name:match(word) ~= nil and (group == "" or group:match(word) ~= nil)
end

function M.from_config(cfg)
  local c = type(cfg) == "table" and type(cfg.config) == "table" and cfg.config or {}
  local run = { env = {}, env_map = {} }
  for i, e in ipairs(c.Env or {}) do
    local k, v = e:match("^([^=]+)=(.*)$")
    if not k then return bad("image config: Env entry " .. i .. " is not KEY=VALUE") end
    if run.env_map[k] == nil then run.env[#run.env + 1] = k end
    run.env_map[k] = v
  end
  for i, k in ipairs(run.env) do run.env[i] = k .. "=" .. run.env_map[k] end
  if type(c.WorkingDir) == "string" and c.WorkingDir ~= "" then
    if #c.WorkingDir > MAX_PATH then return bad("image config: WorkingDir is too long") end
    run.workdir = M.clean_path(c.WorkingDir)
  end
  if type(c.User) == "string" and c.User ~= "" then
    if not user_ok(c.User) then return bad("image config: User '" .. c.User:sub(1, 80) .. "' is no user name or id") end
    run.user = c.User
  end
  run.entrypoint = list_copy(c.Entrypoint)
  run.cmd = list_copy(c.Cmd)
  if type(c.Labels) == "table" then
    run.labels = {}
    for k, v in pairs(c.Labels) do
      if type(k) == "string" and type(v) == "string" then run.labels[k] = v end
    end
  end
  if type(c.StopSignal) == "string" and c.StopSignal:match("^[%w+]+$") then run.stop_signal = c.StopSignal end
  return run
end

-- What the policy says at path (a list of keys), and whether the user set it (it differs from
-- the shipped policy's, or there is no shipped one).
local function policy_value(policy, shipped, path)
  local v, s = policy, shipped
  for _, k in ipairs(path) do
    v = type(v) == "table" and v[k] or nil
    s = type(s) == "table" and s[k] or nil
  end
  return v, v ~= nil and (shipped == nil or not deep_equal(v, s))
end

-- The first of call, explicit policy, image, default: value, origin.
local function pick(call_v, policy_v, explicit, image_v, default)
  if call_v ~= nil then return call_v, "call" end
  if policy_v ~= nil and explicit then return policy_v, "policy" end
  if image_v ~= nil then return image_v, "image" end
  return default, "default"
end

function M.merge(run, policy, shipped, call)
  policy, call = policy or {}, call or {}
  if call.rootfs ~= nil then return nil, "INVALID_CONFIG", "give either 'image' or 'rootfs', not both" end
  local fs_root, root_explicit = policy_value(policy, shipped, { "filesystem", "root" })
  if root_explicit and fs_root ~= "host" then
    return nil, "INVALID_CONFIG", "the policy's filesystem.root ('" .. tostring(fs_root)
      .. "') and an image exclude each other"
  end
  local out = { origin = {}, env = {}, pass = {} }
  local user, user_explicit = policy_value(policy, shipped, { "user" })
  out.user, out.origin.user = pick(call.user, user, user_explicit, run.user, DEFAULT_USER)
  local workdir, wd_explicit = policy_value(policy, shipped, { "workdir" })
  out.workdir, out.origin.workdir = pick(call.workdir, workdir, wd_explicit, run.workdir, DEFAULT_WORKDIR)
  local ro, ro_explicit = policy_value(policy, shipped, { "filesystem", "readonly_root" })
  out.readonly_root = pick(call.readonly_root, ro, ro_explicit, nil, false) -- an image root is writable

  -- environment: the image's, the policy's explicit settings over it, the call's over all
  for k, v in pairs(run.env_map or {}) do out.env[k] = v end
  local set = (policy.env and policy.env.set) or {}
  local shipped_set = (shipped and shipped.env and shipped.env.set) or {}
  for k, v in pairs(set) do
    local host_default = shipped ~= nil and shipped_set[k] == v
    if not host_default or out.env[k] == nil then out.env[k] = v end
  end
  local shipped_pass = {}
  for _, k in ipairs((shipped and shipped.env and shipped.env.pass) or {}) do shipped_pass[k] = true end
  for _, k in ipairs((policy.env and policy.env.pass) or {}) do
    -- a host variable the shipped policy passes does not replace the image's own value
    if not (shipped_pass[k] and out.env[k] ~= nil) then out.pass[#out.pass + 1] = k end
  end
  for k, v in pairs(call.env or {}) do out.env[k] = v end
  local image_path = run.env_map and run.env_map.PATH
  if call.env and call.env.PATH then
    out.origin.PATH = "call"
  elseif out.env.PATH == nil then
    out.origin.PATH = "default"
  elseif image_path ~= nil and out.env.PATH == image_path then
    out.origin.PATH = "image"
  else
    out.origin.PATH = "policy"
  end

  -- host binds: the shipped ones are the host root's; only what the user added stays
  local shipped_paths = {}
  for _, p in ipairs((shipped and shipped.filesystem and shipped.filesystem.host_paths) or {}) do
    shipped_paths[p] = true
  end
  out.host_paths = {}
  for _, p in ipairs((policy.filesystem and policy.filesystem.host_paths) or {}) do
    if not shipped_paths[p] then out.host_paths[#out.host_paths + 1] = p end
  end
  return out
end

function M.command(run, argv, entrypoint)
  local out = {}
  local ep = entrypoint
  if ep == nil then ep = run.entrypoint or {} end
  for _, a in ipairs(ep) do out[#out + 1] = a end
  local args = argv
  if args == nil or #args == 0 then args = entrypoint == nil and run.cmd or {} end
  for _, a in ipairs(args or {}) do out[#out + 1] = a end
  if #out == 0 then
    return nil, "INVALID_CONFIG", "no command: the image has no Entrypoint or Cmd, and none was given"
  end
  return out
end

return M

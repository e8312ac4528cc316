-- moonjail.image_run — a sandbox standing on an OCI image (`run --image`, `mj.sandbox{ image =
-- … }`, a recipe's `image`): the image's root from the store (pulled first when it is missing,
-- as `docker run` does), its config merged with the policy and the call (moonjail.image.
-- runconfig: the image's config, then what the user's policy or call sets explicitly; the
-- shipped policies' host settings never override it), and what results folded into the spec
-- that core.run and core.sandbox take.
--
-- prepare(core, P, opts, pol, cwd) -> img | nil, err.  P is moonjail.policy, pol the user's
--   merged policy, opts the call's options (image, platform, insecure_registries, progress,
--   user, workdir, overrides, name).  img = { root (moonjail.image.root's answer: lease, layers,
--   config, name, digest, platform_string), settings (runconfig.merge's), passwd, group (the
--   image's files, or nil), facts = { image, platform, digest } }.  The caller owns img.root.lease.
-- apply(core, img, spec, P) -> true | nil, err: the spec's root, layers, user, workdir, env
--   (HOME from the image's passwd entry of the user, else "/", as docker does).
-- command(core, img, argv, entrypoint) -> argv | nil, err: docker's entrypoint/cmd rule.
-- Never: follow a symlink in an image layer while reading its /etc (a symlinked /etc/passwd is
-- not read), let a layer path reach the core that is not the store's, or keep a lease past a
-- failure (released before an error returns).
local M = {}

local MAX_ETC_BYTES = 4 << 20 -- an image's /etc/passwd or /etc/group larger than this is not read
local MAX_ENV_BYTES = 1 << 20 -- the image's environment, together (execve's own limit is near 2 MiB)
local MAX_ENV_VALUE = 128 << 10 -- one variable (the kernel's MAX_ARG_STRLEN)

local function err(core, code, msg) return nil, core.error(code, msg) end

-- The shipped policy the user's policy rests on (the whole of it when it is a shipped one),
-- or nil when the chain names none: what runconfig.merge compares against.
local function shipped_of(core, P, opts, cwd)
  local name = P.shipped_base(core, opts.policy == nil and "default" or opts.policy, cwd)
  if not name then return nil end
  return P.load(core, name, cwd)
end

-- The text of rel ("etc/passwd") in an image's layers (dirs, LOWEST first), read from the
-- topmost layer that has it — or nil when none does, a whiteout hides it, or a component on the
-- way is a symlink or not what it should be (never followed: the store's layers are host paths).
function M.layer_file(core, dirs, rel)
  local comps = {}
  for c in rel:gmatch("[^/]+") do comps[#comps + 1] = c end
  for i = #dirs, 1, -1 do
    local path, present = dirs[i], true
    for k, c in ipairs(comps) do
      path = path .. "/" .. c
      local kind = core.lstat_type(path)
      if kind == nil then
        present = false
        break
      end
      local want = k == #comps and "file" or "directory"
      if kind ~= want then return nil end -- a symlink, a whiteout (0/0 device) or a file in the way
    end
    if present then
      local f = io.open(path, "rb")
      if not f then return nil end
      local text = f:read(MAX_ETC_BYTES + 1)
      f:close()
      if text and #text > MAX_ETC_BYTES then return nil end
      return text or ""
    end
  end
  return nil
end

-- The image's environment, checked for what execve and C strings cannot carry.
local function check_env(core, name, env_map)
  local total = 0
  for k, v in pairs(env_map or {}) do
    if k:find("%z") or v:find("%z") then
      local shown = k:gsub("%z", "\\0"):sub(1, 60)
      return err(core, "IMAGE", name .. ": image config: Env '" .. shown .. "' holds a NUL byte")
    end
    if #k + #v + 1 > MAX_ENV_VALUE then
      return err(core, "IMAGE", name .. ": image config: Env '" .. k:sub(1, 60) .. "' is longer than "
        .. MAX_ENV_VALUE .. " bytes")
    end
    total = total + #k + #v + 2
  end
  if total > MAX_ENV_BYTES then
    return err(core, "IMAGE", name .. ": image config: Env holds " .. total .. " bytes (more than "
      .. MAX_ENV_BYTES .. ")")
  end
  return true
end

-- The image's record in the store, pulled when it is missing (docker run's default); the
-- image.root options or nil, err.
local function ensure_pulled(core, image, opts)
  local reference = image.reference
  local ref, code, msg = reference.parse(opts.image)
  if not ref then return err(core, code, msg) end
  local rec = image.find(opts.image, { platform = opts.platform })
  if rec then return rec end
  local pulled, perr = image.pull(opts.image, { platform = opts.platform, insecure = opts.insecure_registries,
    progress = opts.progress })
  if not pulled then return nil, perr end
  return pulled
end

function M.prepare(core, P, opts, pol, cwd)
  if opts.rootfs ~= nil then return err(core, "INVALID_CONFIG", "give either 'image' or 'rootfs', not both") end
  local image = require "moonjail.image"
  local runconfig = require "moonjail.image.runconfig"
  local rec, perr = ensure_pulled(core, image, opts)
  if not rec then return nil, perr end
  local root, rerr = image.root(rec, { holder = "sandbox " .. tostring(opts.name or "(anonymous)") })
  if not root then return nil, rerr end
  local function failed(e)
    root.lease:release()
    return nil, e
  end
  local ok, eerr = check_env(core, root.name, root.config.env_map)
  if not ok then return failed(eerr) end
  local shipped = shipped_of(core, P, opts, cwd)
  local overrides = opts.overrides or {}
  -- the call's env goes on top afterwards (util.add_env checks it as without an image)
  local call = { user = opts.user, workdir = opts.workdir,
    readonly_root = (overrides.filesystem or {}).readonly_root }
  local settings, code, msg = runconfig.merge(root.config, pol, shipped, call)
  if not settings then return failed(core.error(code, msg)) end
  return {
    root = root, settings = settings,
    passwd = M.layer_file(core, root.layers, "etc/passwd"), group = M.layer_file(core, root.layers, "etc/group"),
    facts = { image = root.name, platform = root.platform_string, digest = root.digest },
  }
end

function M.apply(core, img, spec, P)
  local layers, s = img.root.layers, img.settings
  spec.root = layers[#layers]
  spec.root_layers = {}
  for i = #layers - 1, 1, -1 do spec.root_layers[#spec.root_layers + 1] = layers[i] end
  spec.readonly_root = s.readonly_root == true
  if spec.readonly_root and #layers > 1 then
    return err(core, "UNSUPPORTED", "a read-only root over an image's " .. #layers .. " layers is not supported yet")
  end
  spec.host_paths = {}
  local warnings = spec.warnings
  for _, p in ipairs(s.host_paths) do
    warnings[#warnings + 1] = "filesystem.host_paths '" .. p .. "' is left out of an image's root (mount it instead)"
  end
  local uid, gid, why = P.parse_user(s.user, img.passwd, img.group)
  if not uid then
    local where = s.origin.user == "image" and (img.root.name .. ": image config: User: ") or "user: "
    return err(core, s.origin.user == "image" and "IMAGE" or "INVALID_CONFIG", where .. tostring(gid or why))
  end
  spec.uid, spec.gid = uid, gid
  spec.workdir = s.workdir
  local env = {}
  for _, k in ipairs(s.pass) do env[k] = os.getenv(k) end
  for k, v in pairs(s.env) do env[k] = tostring(v) end
  if env.HOME == nil then
    local home
    for line in (img.passwd or ""):gmatch("[^\n]+") do
      local _, _, id, _, _, dir = line:match("^([^:]*):([^:]*):(%d+):(%d*):([^:]*):([^:]*)")
      if id and math.tointeger(tonumber(id)) == uid and dir ~= "" then home = dir; break end
    end
    env.HOME = home or "/"
  end
  spec.env = env
  return true
end

function M.command(core, img, argv, entrypoint)
  local out, code, msg = require("moonjail.image.runconfig").command(img.root.config, argv, entrypoint)
  if not out then return err(core, code, msg) end
  return out
end

return M

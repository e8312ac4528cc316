-- moonjail.image.load — images from files into the store: OCI image layout directories
-- (oci-layout, index.json, blobs/) and `docker save` archives (manifest.json naming each image's
-- Config and Layers; docker 25 and later put an OCI layout in the same tar), as a tar (extracted
-- into a staging directory of the store by core/src/unpack.c: no escapes, no devices) or a
-- directory.  Verified as a pull is: every blob a descriptor names must have its size and digest
-- (checked while it is copied into the store), a docker config must hash to its name, every
-- layer must hash to its diff_id once uncompressed (checked while it is unpacked).
--
-- load(image, path, opts) -> { record, … } | nil, err.  image is moonjail.image; opts: store,
--   platform (which image of an index: default the host's), name (for an image the files name
--   none; a name the files give wins), unpack = true, progress = function(event), layer_limits,
--   allow_devices, unpack_parallel, max_size (bytes an archive may extract to: 32 GiB).
--   A record: { name, digest (its manifest's; moonjail writes an OCI manifest for a docker
--   archive), index, platform, platform_string, config = { digest, size, data }, layers,
--   diff_ids, source = "oci-layout" | "docker-archive", store }.
-- Never: read a file outside the directory or archive given (names are cleaned, symbolic links
-- resolved inside it, absolute or escaping ones refused), or record an image whose blobs and
-- layers are not all verified in the store.
local reference = require "moonjail.image.reference"
local manifest = require "moonjail.image.manifest"
local layers = require "moonjail.image.layers"

local M = {}

local DEFAULT_MAX_SIZE = 32 * 1024 * 1024 * 1024
local OPTION_TYPES = { store = "string", platform = "string", name = "string", unpack = "boolean",
  progress = "function", layer_limits = "table", allow_devices = "boolean", unpack_parallel = "number",
  max_size = "number" }

local function mj() return require "moonjail" end
local function core() return require "moonjail.imagecore" end
local function fail(code, msg) return nil, mj().error(code, msg) end

local function split(p)
  local out = {}
  for comp in p:gmatch("[^/]+") do out[#out + 1] = comp end
  return out
end

-- The files of a tree: rel path -> { type, size, target }.
local function tree_of(root)
  local entries, err = core().walk(root)
  if not entries then return nil, err end
  local t = {}
  for _, e in ipairs(entries) do t[e.path] = e end
  return t
end

-- rel, resolved inside the tree: every symbolic link on the way followed by its target within the
-- tree (an absolute target, or one leading above the root, is refused); nil, why.
local function resolve(tree, rel)
  local parts, out, hops, i = split(rel), {}, 0, 1
  while i <= #parts do
    local p = parts[i]
    if p == ".." then
      if #out == 0 then return nil, "'" .. rel .. "' leads outside" end
      out[#out] = nil
    elseif p ~= "." then
      out[#out + 1] = p
      local e = tree[table.concat(out, "/")]
      if e and e.type == "symlink" then
        hops = hops + 1
        if hops > 40 or not e.target or e.target:sub(1, 1) == "/" then
          return nil, "'" .. rel .. "' goes through a symbolic link that leaves the archive"
        end
        out[#out] = nil
        local rest = split(e.target)
        for j = i + 1, #parts do rest[#rest + 1] = parts[j] end
        parts, i = rest, 0
      end
    end
    i = i + 1
  end
  return table.concat(out, "/")
end

-- A regular file of the tree: its path on the host and size, or nil, err.
local function file_of(ctx, rel)
  local r, why = resolve(ctx.tree, rel)
  if not r then return fail("IMAGE", ctx.what .. ": " .. why) end
  local e = ctx.tree[r]
  if not e or e.type ~= "file" then return fail("IMAGE", ctx.what .. ": '" .. rel .. "' is not a file in it") end
  return ctx.root .. "/" .. r, e.size
end

local function read_small(ctx, rel, max)
  local path, size = file_of(ctx, rel)
  if not path then return nil, size end
  if size > max then return fail("IMAGE", ctx.what .. ": '" .. rel .. "' is larger than " .. max .. " bytes") end
  local f, err = io.open(path, "rb")
  if not f then return fail("FILE_OPERATION_FAILED", err) end
  local data = f:read("a")
  f:close()
  return data
end

local function blob_rel(digest) return "blobs/" .. digest:gsub(":", "/", 1) end

-- Puts a blob a descriptor names into the store, checked against its size and digest.
local function put_desc(ctx, desc, kind, index)
  local path, size = file_of(ctx, blob_rel(desc.digest))
  if not path then return nil, size end
  if size ~= desc.size then
    return fail("IMAGE", ctx.what .. ": blob " .. desc.digest .. " is " .. size .. " bytes where its descriptor says "
      .. desc.size)
  end
  local ok, err = ctx.store:put_file(desc.digest, path, desc.size)
  if not ok then return nil, err end
  if ctx.progress then
    ctx.progress{ event = "blob", digest = desc.digest, kind = kind, index = index, done = size, total = size }
  end
  return true
end

-- What both kinds of source end in: the config and layers in the store, unpacked, the
-- manifest (and index) stored, one record per name.
local function record(ctx, im)
  local cfg_bytes, rerr = ctx.store:read(im.doc.config.digest, manifest.LIMITS.config_bytes)
  if not cfg_bytes then return nil, rerr end
  local cfg, code, msg = manifest.parse_config(cfg_bytes, #im.doc.layers)
  if not cfg then return fail(code, ctx.what .. ": " .. msg) end
  local jobs, diff_ids, jmsg = layers.jobs(im.doc, cfg)
  if not jobs then return fail(diff_ids, ctx.what .. ": " .. jmsg) end
  for i, l in ipairs(im.doc.layers) do
    if manifest.LAYER_TYPES[l.media_type] == "tar" and l.digest ~= diff_ids[i] then
      return fail("IMAGE", ctx.what .. ": layer " .. i .. " is " .. l.digest .. ", its diff_id says " .. diff_ids[i])
    end
  end
  if ctx.unpack then
    local ok, uerr = layers.unpack(ctx.store, jobs, ctx.unpack_opts, ctx.progress)
    if not ok then return nil, uerr end
  else
    diff_ids = {}
  end
  local ok, perr = ctx.store:put(im.digest, im.bytes)
  if ok and im.index then ok, perr = ctx.store:put(im.index, im.index_bytes) end
  if not ok then return nil, perr end
  local blobs = { im.digest, im.doc.config.digest }
  if im.index then blobs[#blobs + 1] = im.index end
  for _, l in ipairs(im.doc.layers) do blobs[#blobs + 1] = l.digest end
  local platform = { os = cfg.os, architecture = cfg.architecture,
    variant = type(cfg.variant) == "string" and cfg.variant ~= "" and cfg.variant or nil }
  if im.platform then platform = im.platform end
  platform = reference.platform(reference.platform_string(platform)) or platform -- arm64 is arm64/v8
  local pstring = reference.platform_string(platform)
  local names = #im.names > 0 and im.names
    or { ctx.name or ("localhost/" .. im.doc.config.digest:sub(8, 19) .. ":latest") }
  local out = {}
  for _, n in ipairs(names) do
    local ref, rcode, rmsg = reference.parse(n)
    if not ref then return fail(rcode, ctx.what .. ": " .. rmsg) end
    local sok, serr = ctx.store:set_image{ name = ref.name, platform = pstring, digest = im.digest, index = im.index,
      pulled = mj().now(), blobs = blobs, layers = diff_ids }
    if not sok then return nil, serr end
    out[#out + 1] = { name = ref.name, digest = im.digest, index = im.index, platform = platform,
      platform_string = pstring, config = { digest = im.doc.config.digest, size = im.doc.config.size, data = cfg },
      layers = im.doc.layers, diff_ids = cfg.rootfs.diff_ids, source = ctx.source, store = ctx.store:root() }
  end
  return out
end

-------------------------------------------------------------------------------------------------
-- OCI image layouts

-- The verified bytes of a descriptor's blob, parsed as a manifest or index.
local function read_manifest(ctx, desc)
  local bytes, err = read_small(ctx, blob_rel(desc.digest), manifest.LIMITS.manifest_bytes)
  if not bytes then return nil, err end
  if #bytes ~= desc.size or core().digest(desc.digest:match("^(sha%d+):"), bytes) ~= desc.digest then
    return fail("IMAGE", ctx.what .. ": manifest " .. desc.digest .. " does not match its descriptor")
  end
  local doc, code, msg = manifest.parse(bytes, desc.media_type)
  if not doc then return fail(code, ctx.what .. ": " .. msg) end
  return doc, bytes
end

-- The name an index entry gives its image: containerd's full name, or the OCI ref name (a tag
-- alone names an image of opts.name's repository, or of localhost/<the directory's name>).
local function entry_name(ctx, desc)
  local a = desc.annotations or {}
  local full = a["io.containerd.image.name"]
  if full then return full end
  local tag = a["org.opencontainers.image.ref.name"]
  if not tag then return ctx.name end
  if tag:find("[:/@]") then return tag end
  local repo = ctx.name and reference.parse(ctx.name)
  if repo then return repo.registry .. "/" .. repo.repository .. ":" .. tag end
  local base = (ctx.path:gsub("/+$", ""):match("([^/]+)$") or "image"):lower():gsub("[^a-z0-9._-]", "-")
  return "localhost/" .. base .. ":" .. tag
end

local function load_layout(ctx)
  local marker = read_small(ctx, "oci-layout", 4096)
  if not marker or not marker:find('"imageLayoutVersion"', 1, true) then
    return fail("IMAGE", ctx.what .. ": not an OCI image layout (no oci-layout file)")
  end
  local bytes, err = read_small(ctx, "index.json", manifest.LIMITS.manifest_bytes)
  if not bytes then return nil, err end
  local index, code, msg = manifest.parse(bytes, manifest.MEDIA.oci_index)
  if not index or index.kind ~= "index" then
    return fail(code or "IMAGE", ctx.what .. ": index.json: " .. (msg or "not an index"))
  end
  local out = {}
  for _, entry in ipairs(index.manifests) do
    local doc, mbytes = read_manifest(ctx, entry)
    if not doc then return nil, mbytes end
    local im = { digest = entry.digest, bytes = mbytes, doc = doc, names = {} }
    im.names[1] = entry_name(ctx, entry)
    if doc.kind == "index" then
      local chosen, why = reference.select(doc.manifests, ctx.want)
      if not chosen then return fail("IMAGE", ctx.what .. ": " .. why) end
      local sub, sbytes = read_manifest(ctx, chosen)
      if not sub then return nil, sbytes end
      if sub.kind ~= "manifest" then return fail("IMAGE", ctx.what .. ": an index inside an index") end
      im.index, im.index_bytes, im.digest, im.bytes, im.doc = entry.digest, mbytes, chosen.digest, sbytes, sub
      im.platform = chosen.platform
    end
    if not manifest.CONFIG_TYPES[im.doc.config.media_type] then
      return fail("IMAGE", ctx.what .. ": " .. im.digest .. " is not a container image")
    end
    local ok, perr = put_desc(ctx, im.doc.config, "config", 0)
    for i, l in ipairs(im.doc.layers) do
      if not ok then break end
      if not manifest.LAYER_TYPES[l.media_type] then
        return fail("IMAGE", ctx.what .. ": layer " .. i .. " has unsupported media type " .. l.media_type)
      end
      ok, perr = put_desc(ctx, l, "layer", i)
    end
    if not ok then return nil, perr end
    local recs, rerr = record(ctx, im)
    if not recs then return nil, rerr end
    for _, r in ipairs(recs) do out[#out + 1] = r end
  end
  return out
end

-------------------------------------------------------------------------------------------------
-- docker save archives

local MAGIC = { ["\31\139"] = "application/vnd.oci.image.layer.v1.tar+gzip",
  ["\40\181\47\253"] = "application/vnd.oci.image.layer.v1.tar+zstd" }

-- A layer file's media type, by its first bytes.
local function layer_type(path)
  local f = io.open(path, "rb")
  local head = f and f:read(4) or ""
  if f then f:close() end
  return MAGIC[head:sub(1, 2)] or MAGIC[head] or "application/vnd.oci.image.layer.v1.tar"
end

local function load_docker(ctx)
  local text, err = read_small(ctx, "manifest.json", manifest.LIMITS.manifest_bytes)
  if not text then return nil, err end
  local entries, code, msg = manifest.decode(text, "manifest.json")
  if not entries then return fail(code, ctx.what .. ": " .. msg) end
  local json = require "moonjail.json"
  local out = {}
  for n, e in ipairs(entries) do
    local what = ctx.what .. ": manifest.json entry " .. n
    if type(e) ~= "table" or type(e.Config) ~= "string" or type(e.Layers) ~= "table" then
      return fail("IMAGE", what .. " needs Config and Layers")
    end
    if #e.Layers > manifest.LIMITS.layers then return fail("IMAGE", what .. ": too many layers") end
    local cfg_bytes, cerr = read_small(ctx, e.Config, manifest.LIMITS.config_bytes)
    if not cfg_bytes then return nil, cerr end
    local cfg_digest = core().digest("sha256", cfg_bytes)
    local named = e.Config:match("(%x+)%.json$") or e.Config:match("sha256/(%x+)$")
    if named and #named == 64 and "sha256:" .. named ~= cfg_digest then
      return fail("IMAGE", what .. ": config " .. e.Config .. " does not match its name (its content is "
        .. cfg_digest .. ")")
    end
    local ok, perr = ctx.store:put(cfg_digest, cfg_bytes)
    if not ok then return nil, perr end
    local doc = { kind = "manifest", media_type = manifest.MEDIA.oci_manifest, layers = {},
      config = { media_type = manifest.MEDIA.oci_config, digest = cfg_digest, size = #cfg_bytes } }
    local json_layers = {}
    for i, rel in ipairs(e.Layers) do
      if type(rel) ~= "string" then return fail("IMAGE", what .. ": Layers must be file names") end
      local path, size = file_of(ctx, rel)
      if not path then return nil, size end
      local hex, herr = core().sha256_file(path)
      if not hex then return nil, herr end
      local l = { media_type = layer_type(path), digest = "sha256:" .. hex, size = size }
      ok, perr = ctx.store:put_file(l.digest, path, size)
      if not ok then return nil, perr end
      if ctx.progress then
        ctx.progress{ event = "blob", digest = l.digest, kind = "layer", index = i, done = size, total = size }
      end
      doc.layers[i] = l
      json_layers[i] = { mediaType = l.media_type, digest = l.digest, size = l.size }
    end
    local mbytes = json.encode{ schemaVersion = 2, mediaType = doc.media_type,
      config = { mediaType = doc.config.media_type, digest = cfg_digest, size = #cfg_bytes },
      layers = json.array(json_layers) }
    local names = {}
    for _, t in ipairs(type(e.RepoTags) == "table" and e.RepoTags or {}) do
      if type(t) == "string" then names[#names + 1] = t end
    end
    local im = { digest = core().digest("sha256", mbytes), bytes = mbytes, doc = doc, names = names }
    local recs, rerr = record(ctx, im)
    if not recs then return nil, rerr end
    for _, r in ipairs(recs) do out[#out + 1] = r end
  end
  return out
end

-------------------------------------------------------------------------------------------------

local function check_opts(opts)
  if opts == nil then return {} end
  if type(opts) ~= "table" then error("bad argument #2 to 'load' (table expected)", 3) end
  for k, v in pairs(opts) do
    local want = OPTION_TYPES[k]
    if not want then error("load: unknown option '" .. tostring(k) .. "'", 3) end
    if type(v) ~= want then error("load: option '" .. k .. "' must be a " .. want, 3) end
  end
  return opts
end

local function exists(path)
  local f = io.open(path, "rb")
  if not f then return false end
  local ok = f:read(0) ~= nil
  f:close()
  return ok
end

function M.load(image, path, opts)
  opts = check_opts(opts)
  if type(path) ~= "string" or path == "" then
    error("bad argument #1 to 'load' (a file or directory expected)", 2)
  end
  local C = core()
  local want
  if opts.platform then
    local code, msg
    want, code, msg = reference.platform(opts.platform)
    if not want then return fail(code, msg) end
  else
    want = reference.host_platform(C.machine())
  end
  if opts.name and not reference.parse(opts.name) then
    return fail("INVALID_CONFIG", "load: bad name '" .. opts.name .. "'")
  end
  local store, serr = image.open_store(opts)
  if not store then return nil, serr end
  local ctx = { store = store, path = path, what = "load " .. path, want = want, name = opts.name,
    progress = opts.progress, unpack = opts.unpack ~= false, unpack_opts = layers.options(C, opts) }
  local staging
  local function run()
    local root = path
    if not exists(path .. "/index.json") and not exists(path .. "/manifest.json") then
      if not exists(path) then return fail("INVALID_CONFIG", ctx.what .. ": no such file, or not an image") end
      local s, err = store:stage()
      if not s then return nil, err end
      staging = s
      local max = math.tointeger(opts.max_size or DEFAULT_MAX_SIZE)
      local ok, uerr = C.unpack_archive(path, staging, { max_bytes = max })
      if not ok then return nil, uerr end
      root = staging
    end
    local tree, terr = tree_of(root)
    if not tree then return nil, terr end
    ctx.root, ctx.tree = root, tree
    if tree["manifest.json"] then
      ctx.source = "docker-archive"
      return load_docker(ctx)
    end
    ctx.source = "oci-layout"
    return load_layout(ctx)
  end
  local ok, result, err = pcall(run)
  if staging then store:unstage(staging) end
  store:close()
  if not ok then error(result, 0) end
  return result, err
end

return M

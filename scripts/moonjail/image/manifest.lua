-- moonjail.image.manifest — OCI and Docker v2 manifests, indexes (manifest lists) and image
-- configs, decoded with lua-cjson and validated as the untrusted input they are.
--
-- parse(bytes, content_type) -> doc | nil, code, message: doc.kind is "index" (doc.manifests:
--   descriptors with .platform) or "manifest" (doc.config, doc.layers: descriptors), with
--   doc.media_type and doc.annotations.  Every descriptor is checked (media type, digest, a
--   whole size from 0 to 2^53, urls, annotations, data) and returned in snake_case:
--   { media_type, digest, size, urls, annotations, data, platform, artifact_type }.
-- parse_config(bytes, n_layers) -> config | nil, code, message: the image config table, with the
--   fields later phases read (os, architecture, variant, config.Env/Cmd/Entrypoint/WorkingDir/
--   User, rootfs.diff_ids: one per layer) checked for type, size and embedded NULs.
-- LIMITS: manifest_bytes, config_bytes, layers, index_entries — documents past them are refused.
-- Never: trust a size, count or string the registry sends without a bound, or accept Docker's
-- schema 1 (unsigned content, no digests to verify).
local M = {}

M.MEDIA = {
  oci_index = "application/vnd.oci.image.index.v1+json",
  oci_manifest = "application/vnd.oci.image.manifest.v1+json",
  docker_list = "application/vnd.docker.distribution.manifest.list.v2+json",
  docker_manifest = "application/vnd.docker.distribution.manifest.v2+json",
  oci_config = "application/vnd.oci.image.config.v1+json",
  docker_config = "application/vnd.docker.container.image.v1+json",
}
-- What a manifest request accepts, best first.
M.ACCEPT = table.concat({ M.MEDIA.oci_index, M.MEDIA.docker_list, M.MEDIA.oci_manifest, M.MEDIA.docker_manifest }, ", ")

M.LIMITS = {
  manifest_bytes = 4 * 1024 * 1024, -- containerd's bound for manifests and indexes
  config_bytes = 8 * 1024 * 1024,
  layers = 256,                     -- overlayfs stacks far fewer; more is no image anyone built
  index_entries = 1024,
  annotations = 256,
  urls = 16,
}

local KIND = {
  [M.MEDIA.oci_index] = "index", [M.MEDIA.docker_list] = "index",
  [M.MEDIA.oci_manifest] = "manifest", [M.MEDIA.docker_manifest] = "manifest",
}
local SCHEMA1 = {
  ["application/vnd.docker.distribution.manifest.v1+json"] = true,
  ["application/vnd.docker.distribution.manifest.v1+prettyjws"] = true,
}
M.LAYER_TYPES = {
  ["application/vnd.oci.image.layer.v1.tar"] = "tar",
  ["application/vnd.oci.image.layer.v1.tar+gzip"] = "gzip",
  ["application/vnd.oci.image.layer.v1.tar+zstd"] = "zstd",
  ["application/vnd.oci.image.layer.nondistributable.v1.tar"] = "tar",
  ["application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"] = "gzip",
  ["application/vnd.oci.image.layer.nondistributable.v1.tar+zstd"] = "zstd",
  ["application/vnd.docker.image.rootfs.diff.tar.gzip"] = "gzip",
  ["application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"] = "gzip",
}
M.CONFIG_TYPES = { [M.MEDIA.oci_config] = true, [M.MEDIA.docker_config] = true }
local MAX_SIZE = 2 ^ 53

-- moonjail.json's lua-cjson decoder (64 levels at most, strict numbers), nulls kept.
local json = require "moonjail.json"
local cjson_ok = pcall(json.null)

local function bad(msg) return nil, "IMAGE", msg end

--- Decodes one JSON object; nil, code, message when it is not one.
function M.decode(bytes, what)
  if not cjson_ok then return nil, "UNSUPPORTED", "lua-cjson is not installed (Debian package lua-cjson)" end
  local v, why = json.decode_raw(bytes)
  if v == nil then return bad(what .. " is not valid JSON: " .. tostring(why)) end
  if type(v) ~= "table" then return bad(what .. " is not a JSON object") end
  return v
end

local null = cjson_ok and json.null() or nil
local function absent(v) return v == nil or v == null end

local function is_array(t)
  if type(t) ~= "table" then return false end
  local n = 0
  for k in pairs(t) do
    if math.type(k) ~= "integer" or k < 1 then return false end
    n = n + 1
  end
  return n == #t
end

local function clean_string(s, max)
  return type(s) == "string" and #s <= max and not s:find("\0", 1, true)
end

local function string_map(t, what, max_entries)
  if absent(t) then return nil end
  if type(t) ~= "table" or (next(t) ~= nil and is_array(t)) then return false, what .. " must be an object" end
  local n, out = 0, {}
  for k, v in pairs(t) do
    n = n + 1
    if n > max_entries then return false, what .. ": more than " .. max_entries .. " entries" end
    if not clean_string(k, 1024) or not clean_string(v, 65536) then
      return false, what .. " must map strings to strings"
    end
    out[k] = v
  end
  return out
end

local function whole_size(v)
  if math.type(v) == "float" then v = math.tointeger(v) end
  return math.type(v) == "integer" and v >= 0 and v <= MAX_SIZE and v or nil
end

local function digest_ok(d)
  return type(d) == "string" and ((#d == 71 and d:match("^sha256:[0-9a-f]+$") ~= nil)
    or (#d == 135 and d:match("^sha512:[0-9a-f]+$") ~= nil))
end

--- A descriptor, checked, in snake_case; or nil, message.
function M.descriptor(d, what)
  if type(d) ~= "table" then return nil, what .. " is not an object" end
  if not clean_string(d.mediaType, 255) then return nil, what .. ": missing or bad mediaType" end
  if not digest_ok(d.digest) then return nil, what .. ": bad digest '" .. tostring(d.digest) .. "'" end
  local size = whole_size(d.size)
  if not size then return nil, what .. ": size must be a whole number from 0 to 2^53" end
  local out = { media_type = d.mediaType, digest = d.digest, size = size }
  if not absent(d.urls) then
    if not is_array(d.urls) or #d.urls > M.LIMITS.urls then return nil, what .. ": bad urls" end
    out.urls = {}
    for i, u in ipairs(d.urls) do
      if not clean_string(u, 2048) or not u:match("^[Hh][Tt][Tt][Pp][Ss]?://[^%s]+$") then
        return nil, what .. ": urls may only hold http and https URLs"
      end
      out.urls[i] = u
    end
  end
  local ann, why = string_map(d.annotations, what .. ": annotations", M.LIMITS.annotations)
  if ann == false then return nil, why end
  out.annotations = ann
  if not absent(d.data) then
    if type(d.data) ~= "string" or #d.data > 4 * size / 3 + 4 then return nil, what .. ": bad data" end
    out.data = d.data
  end
  if not absent(d.artifactType) then
    if not clean_string(d.artifactType, 255) then return nil, what .. ": bad artifactType" end
    out.artifact_type = d.artifactType
  end
  if not absent(d.platform) then
    local p = d.platform
    if type(p) ~= "table" or not clean_string(p.os, 64) or not clean_string(p.architecture, 64)
        or not (absent(p.variant) or clean_string(p.variant, 64)) then
      return nil, what .. ": bad platform"
    end
    out.platform = { os = p.os, architecture = p.architecture, variant = not absent(p.variant) and p.variant or nil,
      ["os.version"] = type(p["os.version"]) == "string" and p["os.version"] or nil }
  end
  return out
end

-- The array field of a document (what: "index", "manifest"), each entry a descriptor: checked
-- copies, or nil, message.
local function descriptors(list, what, field, max, label)
  if not is_array(list) then return nil, what .. ": " .. field .. " must be an array" end
  if #list > max then return nil, what .. " with " .. #list .. " " .. field .. " (at most " .. max .. ")" end
  local out = {}
  for i, d in ipairs(list) do
    local desc, why = M.descriptor(d, label .. i)
    if not desc then return nil, why end
    out[i] = desc
  end
  return out
end

local function media_of(doc, content_type)
  local ct = type(content_type) == "string" and content_type:match("^%s*([^;%s]+)") or nil
  local field = not absent(doc.mediaType) and doc.mediaType or nil
  if field ~= nil and type(field) ~= "string" then return nil, "mediaType is not a string" end
  if field and ct and KIND[ct] and KIND[field] and ct ~= field then
    return nil, "the registry sent " .. ct .. " but the document says " .. field
  end
  local mt = field or (ct and KIND[ct] and ct) or nil
  if not mt then
    if is_array(doc.manifests) then mt = M.MEDIA.oci_index
    elseif type(doc.config) == "table" then mt = M.MEDIA.oci_manifest end
  end
  return mt or ct or "unknown"
end

-- M.decode of at most max bytes.
local function decode_bounded(bytes, max, what)
  if #bytes > max then return bad(what .. " of " .. #bytes .. " bytes (at most " .. max .. ")") end
  return M.decode(bytes, what)
end

--- Parses a manifest or index (bytes already verified against their digest).
function M.parse(bytes, content_type)
  local doc, code, msg = decode_bounded(bytes, M.LIMITS.manifest_bytes, "manifest")
  if not doc then return nil, code, msg end
  local mt, why = media_of(doc, content_type)
  if not mt then return bad("manifest: " .. why) end
  if SCHEMA1[mt] or doc.schemaVersion == 1 then
    return nil, "UNSUPPORTED", "Docker schema 1 manifests are not supported (push the image again with a current tool)"
  end
  local kind = KIND[mt]
  if not kind then return bad("unsupported manifest media type '" .. tostring(mt) .. "'") end
  if doc.schemaVersion ~= 2 then return bad("manifest: schemaVersion must be 2") end
  local ann, awhy = string_map(doc.annotations, "manifest annotations", M.LIMITS.annotations)
  if ann == false then return bad(awhy) end
  local out = { kind = kind, media_type = mt, annotations = ann }
  if kind == "index" then
    local list, lwhy = descriptors(doc.manifests, "index", "manifests", M.LIMITS.index_entries, "index entry ")
    if not list then return bad(lwhy) end
    out.manifests = list
    return out
  end
  local config, cwhy = M.descriptor(doc.config, "config")
  if not config then return bad(cwhy) end
  local list, lwhy = descriptors(doc.layers, "manifest", "layers", M.LIMITS.layers, "layer ")
  if not list then return bad(lwhy) end
  out.config, out.layers = config, list
  if not absent(doc.subject) then
    local subject, swhy = M.descriptor(doc.subject, "subject")
    if not subject then return bad(swhy) end
    out.subject = subject
  end
  return out
end

--- Checks what later phases read from the image config; returns the decoded table.
function M.parse_config(bytes, n_layers)
  local cfg, code, msg = decode_bounded(bytes, M.LIMITS.config_bytes, "image config")
  if not cfg then return nil, code, msg end
  if not clean_string(cfg.os, 64) or not clean_string(cfg.architecture, 64) then
    return bad("image config: os and architecture must be strings")
  end
  if not absent(cfg.variant) and not clean_string(cfg.variant, 64) then return bad("image config: bad variant") end
  local c = cfg.config
  if not absent(c) then
    if type(c) ~= "table" then return bad("image config: 'config' must be an object") end
    for _, key in ipairs({ "Env", "Cmd", "Entrypoint" }) do
      local v = c[key]
      if not absent(v) then
        if not is_array(v) or #v > 4096 then return bad("image config: " .. key .. " must be an array of strings") end
        for _, s in ipairs(v) do
          if not clean_string(s, 131072) then
            return bad("image config: " .. key .. " must hold strings without NUL bytes, of at most 128 KiB")
          end
        end
      end
    end
    for _, key in ipairs({ "WorkingDir", "User" }) do
      if not absent(c[key]) and not clean_string(c[key], 4096) then
        return bad("image config: " .. key .. " must be a string without NUL bytes")
      end
    end
  end
  local rootfs = cfg.rootfs
  if type(rootfs) ~= "table" or rootfs.type ~= "layers" or not is_array(rootfs.diff_ids) then
    return bad("image config: rootfs must be {type = \"layers\", diff_ids = [...]}")
  end
  if n_layers and #rootfs.diff_ids ~= n_layers then
    return bad("image config lists " .. #rootfs.diff_ids .. " diff_ids for " .. n_layers .. " layers")
  end
  for _, d in ipairs(rootfs.diff_ids) do
    if not digest_ok(d) then return bad("image config: bad diff_id '" .. tostring(d) .. "'") end
  end
  return cfg
end

M.digest_ok = digest_ok
M.absent = absent

return M

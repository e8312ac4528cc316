-- moonjail.image.layers — the layers of an image, unpacked into the store once per diff-id: the
-- jobs an image's manifest and config make, the options this process unpacks with (root keeps
-- the image's owners and marks opaque directories for both kinds of overlay mount; rootless,
-- every file is the caller's), and the unpack itself (C: store:unpack_layers, on threads).
--
-- jobs(doc, cfg) -> jobs, diff_ids | nil, code, message
-- options(C, opts) -> the unpack options (opts: allow_devices, layer_limits = { max_bytes,
--   max_entries, max_depth, max_ratio }, unpack_parallel)
-- unpack(store, jobs, uopts, progress, total) -> results | nil, err
-- dirs(store, diff_ids, C) -> the layer directories for an overlay, lowest first (an earlier
--   copy of a layer the image lists again is left out: the later one covers all it did) | nil, err
-- Never: decide what an image is (image.lua does) or unpack a blob the store has not verified.
local manifest = require "moonjail.image.manifest"

local M = {}

local function fail(code, msg) return nil, require("moonjail").error(code, msg) end

local LIMIT_KEYS = { max_bytes = true, max_entries = true, max_depth = true, max_ratio = true }

--- The unpack jobs of a parsed manifest and its parsed config (one per distinct diff-id), and
-- every layer's diff-id in the manifest's order.
function M.jobs(doc, cfg)
  local jobs, diff_ids, seen = {}, {}, {}
  local ids = cfg.rootfs.diff_ids
  if #ids ~= #doc.layers then
    return nil, "IMAGE", "the image config lists " .. #ids .. " diff_ids for " .. #doc.layers .. " layers"
  end
  for i, l in ipairs(doc.layers) do
    local compression = manifest.LAYER_TYPES[l.media_type]
    if not compression then
      return nil, "IMAGE", "layer " .. i .. " has unsupported media type " .. tostring(l.media_type)
    end
    local d = ids[i]
    diff_ids[i] = d
    if not seen[d] then
      seen[d] = true
      jobs[#jobs + 1] = { blob = l.digest, diff_id = d, compression = compression }
    end
  end
  return jobs, diff_ids
end

--- "owners" (root: the image's owners kept) or "rootless" (every file the caller's).
function M.flavour(C) return C.euid() == 0 and "owners" or "rootless" end

--- The options of store:unpack_layers for this process.
function M.options(C, opts)
  opts = opts or {}
  local root = C.euid() == 0
  local o = { keep_owners = root, trusted_xattrs = root, allow_devices = root and opts.allow_devices == true,
    parallel = opts.unpack_parallel }
  for k, v in pairs(opts.layer_limits or {}) do
    if not LIMIT_KEYS[k] then error("layer_limits: unknown key '" .. tostring(k) .. "'", 3) end
    o[k] = v
  end
  return o
end

--- Unpacks jobs into the store; progress gets { event = "unpack", index, total, diff_id,
-- digest, present, entries, bytes } as each layer ends (returning false cancels).  The results
-- of store:unpack_layers, or nil, err (the first failure).
function M.unpack(store, jobs, uopts, progress)
  local fn
  if progress then
    fn = function(i, r)
      return progress{ event = "unpack", index = i, total = #jobs, diff_id = jobs[i].diff_id, digest = jobs[i].blob,
        present = r.present, ok = r.ok, entries = r.stats.entries, bytes = r.stats.uncompressed }
    end
  end
  local results, err = store:unpack_layers(jobs, uopts, fn)
  if not results then return nil, err end
  for _, r in ipairs(results) do
    if not r.ok then return nil, r.error end
  end
  return results
end

--- The directories of diff_ids (unpacked in this process's flavour) for an overlay, lowest
-- first, an earlier copy of a repeated layer left out.
function M.dirs(store, diff_ids, C)
  local flavour, last = M.flavour(C), {}
  for i, d in ipairs(diff_ids) do last[d] = i end
  local out = {}
  for i, d in ipairs(diff_ids) do
    if last[d] == i then
      local path, err = store:layer_path(d, flavour)
      if path == nil then return nil, err end
      if not path then return fail("IMAGE", "layer " .. d .. " is not unpacked in the store") end
      out[#out + 1] = path
    end
  end
  return out
end

return M

-- moonjail.image — the control plane of OCI images: pull a reference from a registry into the
-- content-addressed store, unpack its layers and record it; load OCI layouts and `docker save`
-- archives (moonjail.image.load); list, remove and collect; and hand a sandbox what it needs to
-- run an image (root()).  Lua decides (which URL, which credentials, which platform, when to
-- retry); C moves, verifies and unpacks the bytes (moonjail.imagecore, bindings/lua/limage*.c
-- over core/src/image).
--
-- pull(ref, opts) -> record | nil, err.  opts (all optional; unknown keys raise):
--   store = dir (default: default_store()), platform = "linux/arm64/v8" (default: the host's),
--   insecure = { "host:port", … } (registries reached over plain HTTP; every other is HTTPS
--   with certificate checks), ca_file = PEM (trusted instead of the system's CAs),
--   credentials = { username, password } | auth_files = { paths } (see moonjail.image.auth),
--   retries = { attempts = 5, base_delay = 0.5, max_delay = 10, max_retry_after = 60 },
--   timeouts = { connect = 30, stall = 30, request = 120 } (seconds; a blob stalls when it moves
--   under 1 byte/s for `stall` seconds), parallel = 4, progress = function(event),
--   allow_foreign_layers = false, max_size = 32 GiB (config + layers), unpack = true (unpack the
--   layers into the store: moonjail.image.layers), allow_devices = false (root: create the
--   device nodes a layer has), layer_limits = { max_bytes, max_entries, max_depth, max_ratio }
--   (per layer; see core/src/image/layer.h), unpack_parallel = 2.
-- record = { name, registry, repository, tag, digest (the image manifest's), index (the index it
--   was chosen from, or nil), media_type, platform = { os, architecture, variant },
--   platform_string, config = { digest, size, media_type, data (the decoded config) },
--   layers = { { media_type, digest, size, annotations, urls }, … }, diff_ids (one per layer),
--   annotations, store, pulled, downloaded (blob bytes moved by this pull), warnings }.
-- progress events: { event = "manifest", digest, media_type }, { event = "blob", digest, kind =
--   "config" | "layer", index, done, total }, { event = "unpack", index, total, diff_id, digest,
--   present, entries, bytes }; returning false cancels the pull.
-- Errors: INVALID_CONFIG (reference, options), NETWORK (retryable: transport, 408, 429, 5xx —
--   retried with exponential backoff honouring Retry-After before it reaches the caller),
--   PERMISSION_DENIED (401/403), IMAGE (404, digest or size mismatch, hostile or unsupported
--   documents), UNSUPPORTED (schema 1).
-- Never: parse a manifest before its bytes match the digest it was asked by (or the one the
-- registry claims); record an image whose blobs are not all verified in the store.
local reference = require "moonjail.image.reference"
local manifest = require "moonjail.image.manifest"
local auth = require "moonjail.image.auth"
local layers = require "moonjail.image.layers"

local M = {}

M.reference = reference
M.manifest = manifest
M.layers = layers

local C -- moonjail.imagecore, once moonjail is loaded
local function core()
  if not C then
    require "moonjail"
    C = require "moonjail.imagecore"
  end
  return C
end

local function mj() return require "moonjail" end
local function fail(code, msg, opts) return nil, mj().error(code, msg, opts) end

local OPTION_TYPES = {
  store = "string", platform = "string", insecure = "table", ca_file = "string", credentials = "table",
  auth_files = "table", retries = "table", timeouts = "table", parallel = "number", progress = "function",
  allow_foreign_layers = "boolean", max_size = "number", unpack = "boolean", allow_devices = "boolean",
  layer_limits = "table", unpack_parallel = "number",
}
local DEFAULT_MAX_SIZE = 32 * 1024 * 1024 * 1024

M.OPTION_TYPES = OPTION_TYPES

local function check_opts(fname, opts, types)
  if opts == nil then return {} end
  if type(opts) ~= "table" then error("bad argument #2 to '" .. fname .. "' (table expected)", 3) end
  for k, v in pairs(opts) do
    local want = types[k]
    if not want then error(fname .. ": unknown option '" .. tostring(k) .. "'", 3) end
    if type(v) ~= want then error(fname .. ": option '" .. k .. "' must be a " .. want, 3) end
  end
  return opts
end

--- Where the store is unless opts.store says: $MOONJAIL_IMAGE_STORE, /var/lib/moonjail for
-- root, $XDG_DATA_HOME/moonjail (~/.local/share/moonjail) for everyone else.
function M.default_store()
  local env = os.getenv("MOONJAIL_IMAGE_STORE")
  if env and env ~= "" then return env end
  if core().euid() == 0 then return "/var/lib/moonjail" end
  local data = os.getenv("XDG_DATA_HOME")
  if not data or data == "" then data = (os.getenv("HOME") or "/nonexistent") .. "/.local/share" end
  return data .. "/moonjail"
end

--- Opens the store (opts.store or the default); Store userdata or nil, err.
function M.open_store(opts)
  return core().store((opts and opts.store) or M.default_store())
end

-------------------------------------------------------------------------------------------------
-- Retries

-- days_from_civil (Howard Hinnant): a calendar date in UTC to days since 1970-01-01.
local function days_from_civil(y, m, d)
  y = m <= 2 and y - 1 or y
  local era = (y >= 0 and y or y - 399) // 400
  local yoe = y - era * 400
  local doy = (153 * (m + (m > 2 and -3 or 9)) + 2) // 5 + d - 1
  local doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
  return era * 146097 + doe - 719468
end

local MONTHS = { Jan = 1, Feb = 2, Mar = 3, Apr = 4, May = 5, Jun = 6, Jul = 7, Aug = 8, Sep = 9, Oct = 10,
  Nov = 11, Dec = 12 }

--- Seconds to wait from a Retry-After value (delta seconds or an HTTP date), or nil.
function M.retry_after_seconds(v, now)
  if type(v) ~= "string" then return nil end
  if v:match("^%s*%d+%s*$") then return tonumber(v) end
  local d, mon, y, h, mi, s = v:match("^%a+, (%d%d) (%a%a%a) (%d%d%d%d) (%d%d):(%d%d):(%d%d) GMT$")
  if not d or not MONTHS[mon] then return nil end
  local t = days_from_civil(tonumber(y), MONTHS[mon], tonumber(d)) * 86400 + tonumber(h) * 3600 + tonumber(mi) * 60
    + tonumber(s)
  return math.max(0, t - (now or mj().now()))
end

local function retry_policy(opts)
  local r = opts.retries or {}
  return {
    attempts = math.max(1, math.tointeger(r.attempts or 5) or 5),
    base_delay = tonumber(r.base_delay) or 0.5,
    max_delay = tonumber(r.max_delay) or 10,
    max_retry_after = tonumber(r.max_retry_after) or 60,
  }
end

local function delay_for(policy, attempt, retry_after)
  local d = math.min(policy.max_delay, policy.base_delay * 2 ^ (attempt - 1)) * (0.5 + math.random() * 0.5)
  local ra = M.retry_after_seconds(retry_after)
  if ra then d = math.max(d, math.min(ra, policy.max_retry_after)) end
  return d
end

-- fn(attempt) -> result | nil, err, retry_after.  Retries retryable errors with backoff.
local function with_retries(policy, fn)
  for attempt = 1, policy.attempts do
    local r, err, retry_after = fn(attempt)
    if r ~= nil then return r end
    if type(err) ~= "table" or not err.retryable or attempt == policy.attempts then return nil, err end
    mj().sleep(delay_for(policy, attempt, retry_after))
  end
end

-------------------------------------------------------------------------------------------------
-- Manifests

local function algo_of(digest) return digest:match("^(sha%d+):") end

-- GETs a manifest by tag or digest; verifies it, parses it.  expect: the descriptor it was
-- chosen by (digest, size, media_type) or nil.  doc, digest, bytes | nil, err.
local function get_manifest(ctx, ref, expect)
  local url = ctx.base .. "/v2/" .. ctx.ref.repository .. "/manifests/" .. ref
  local resp, err = with_retries(ctx.retry, function()
    local r, e = ctx.session.request{ url = url, headers = { "Accept: " .. manifest.ACCEPT },
      max_body = manifest.LIMITS.manifest_bytes }
    if not r then return nil, e end
    if r.status == 200 then return r end
    return nil, core().status_error(r.status, r.headers["retry-after"], "manifest " .. ctx.ref.repository .. ":" .. ref
      .. " on " .. ctx.ref.host), r.headers["retry-after"]
  end)
  if not resp then return nil, err end
  local body = resp.body
  local want = expect and expect.digest or (manifest.digest_ok(ref) and ref) or nil
  local claimed = resp.headers["docker-content-digest"]
  local digest
  if want then
    if expect and #body ~= expect.size then
      return fail("IMAGE", "manifest " .. want .. ": " .. #body .. " bytes where its descriptor says " .. expect.size)
    end
    digest = want
  elseif claimed and manifest.digest_ok(claimed) then
    digest = claimed
  else
    digest = core().digest("sha256", body)
  end
  local got = core().digest(algo_of(digest), body)
  if got ~= digest then
    return fail("IMAGE", "manifest of " .. ctx.ref.name .. " does not match its digest: expected " .. digest
      .. ", content " .. got)
  end
  local doc, code, msg = manifest.parse(body, resp.headers["content-type"])
  if not doc then return fail(code, msg .. " (" .. ctx.ref.name .. ", " .. digest .. ")") end
  if expect and expect.media_type ~= doc.media_type then
    return fail("IMAGE", "manifest " .. digest .. " is " .. doc.media_type .. " where the index says "
      .. expect.media_type)
  end
  if ctx.progress then ctx.progress{ event = "manifest", digest = digest, media_type = doc.media_type } end
  return doc, digest, body
end

-------------------------------------------------------------------------------------------------
-- Blobs

-- Puts descriptors with embedded data into the store; returns the ones left to download.
local function embedded_data(ctx, descs)
  local rest = {}
  for _, d in ipairs(descs) do
    if d.data then
      local bytes, err = core().base64_decode(d.data)
      if not bytes then return nil, err end
      if #bytes ~= d.size then
        return fail("IMAGE", "blob " .. d.digest .. ": embedded data of " .. #bytes .. " bytes, descriptor says "
          .. d.size)
      end
      local ok, perr = ctx.store:put(d.digest, bytes)
      if not ok then return nil, perr end
    else
      rest[#rest + 1] = d
    end
  end
  return rest
end

-- Downloads descs into the store (in parallel, resumed, verified), retrying what failed for a
-- retryable reason and answering a 401 (an expired token) once.  Bytes moved, or nil, err.
local function fetch_blobs(ctx, descs, kinds)
  local rest, err = embedded_data(ctx, descs)
  if not rest then return nil, err end
  local moved, reauthed = 0, false
  local pending = {}
  for _, d in ipairs(rest) do
    local sources = { ctx.base .. "/v2/" .. ctx.ref.repository .. "/blobs/" .. d.digest }
    if d.urls then
      if not ctx.allow_foreign then
        return fail("IMAGE", "layer " .. d.digest .. " is a foreign layer (it lists urls); pull it with "
          .. "allow_foreign_layers")
      end
      for _, u in ipairs(d.urls) do sources[#sources + 1] = u end
    end
    pending[#pending + 1] = { desc = d, sources = sources, source = 1 }
  end
  for attempt = 1, ctx.retry.attempts do
    if #pending == 0 then break end
    local jobs, auth_line = {}, ctx.session.authorization()
    for i, p in ipairs(pending) do
      local first = p.source == 1
      jobs[i] = { url = p.sources[p.source], digest = p.desc.digest, size = p.desc.size,
        headers = (first and auth_line) and { auth_line } or nil }
    end
    local progress
    if ctx.progress then
      progress = function(i, done, total)
        local d = pending[i].desc
        return ctx.progress{ event = "blob", digest = d.digest, kind = kinds[d.digest], index = i, done = done,
          total = total }
      end
    end
    local results, ferr = ctx.store:fetch(ctx.client, jobs, progress)
    if not results then return nil, ferr end
    local again, last_err, retry_after, challenge = {}, nil, nil, nil
    for i, r in ipairs(results) do
      moved = moved + (r.received or 0)
      local p = pending[i]
      if not r.ok then
        if r.status == 401 and r.www_authenticate and not reauthed and p.source == 1 then
          challenge = r.www_authenticate
          again[#again + 1] = p
        elseif r.status == 404 and p.source < #p.sources then
          p.source = p.source + 1 -- a foreign layer: its next URL
          again[#again + 1] = p
        elseif r.error.retryable then
          again[#again + 1] = p
          last_err = r.error
          if r.retry_after then retry_after = r.retry_after end
        else
          return nil, r.error
        end
      end
    end
    pending = again
    if #pending > 0 then
      if attempt == ctx.retry.attempts then return nil, last_err or results[1].error end
      if challenge then
        reauthed = true
        local ok, cerr = ctx.session.challenge(challenge)
        if not ok then return nil, cerr end
      elseif last_err then
        mj().sleep(delay_for(ctx.retry, attempt, retry_after))
      end
    end
  end
  if #pending > 0 then
    return fail("IMAGE", #pending .. " blob(s) of " .. ctx.ref.name .. " could not be fetched")
  end
  return moved
end

-------------------------------------------------------------------------------------------------
-- Pull

local function platform_of_config(cfg)
  return { os = cfg.os, architecture = cfg.architecture,
    variant = type(cfg.variant) == "string" and cfg.variant ~= "" and cfg.variant or nil }
end

-- Whether an image config's platform fits p (a config that names no variant fits any).
local function config_fits(cfg_platform, p)
  local a = reference.platform(reference.platform_string(cfg_platform))
  local b = reference.platform(reference.platform_string(p))
  if not a or not b or a.os ~= b.os or a.architecture ~= b.architecture then return false end
  return cfg_platform.variant == nil or a.variant == b.variant
end

local function insecure_set(list)
  local set = {}
  for _, h in ipairs(list or {}) do
    if type(h) ~= "string" then error("pull: insecure must list registries as \"host[:port]\" strings", 3) end
    set[h] = true
  end
  return set
end

-- Every check on the image manifest before any blob moves: media types, counts, sizes.
local function check_image(ctx, doc)
  if not manifest.CONFIG_TYPES[doc.config.media_type] then
    return fail("IMAGE", ctx.ref.name .. " is not a container image (config media type "
      .. doc.config.media_type .. ")")
  end
  if doc.config.size > manifest.LIMITS.config_bytes then
    return fail("IMAGE", ctx.ref.name .. ": image config of " .. doc.config.size .. " bytes")
  end
  local total = doc.config.size
  for i, l in ipairs(doc.layers) do
    if not manifest.LAYER_TYPES[l.media_type] then
      return fail("IMAGE", ctx.ref.name .. ": layer " .. i .. " has unsupported media type " .. l.media_type)
    end
    total = total + l.size
  end
  if total > ctx.max_size then
    return fail("IMAGE", ctx.ref.name .. " is " .. total .. " bytes, more than max_size (" .. ctx.max_size .. ")")
  end
  return total
end

local function pull(ctx)
  local ref = ctx.ref
  local doc, digest, body = get_manifest(ctx, ref.digest or ref.tag)
  if not doc then return nil, digest end
  local index_digest, index_body, chosen
  if doc.kind == "index" then
    index_digest, index_body = digest, body
    local entry, why = reference.select(doc.manifests, ctx.want)
    if not entry then return fail("IMAGE", ref.name .. ": " .. why) end
    chosen = entry.platform
    doc, digest, body = get_manifest(ctx, entry.digest, entry)
    if not doc then return nil, digest end
    if doc.kind ~= "manifest" then return fail("IMAGE", ref.name .. ": an index inside an index is not supported") end
  end
  local total, terr = check_image(ctx, doc)
  if not total then return nil, terr end

  local descs, kinds, seen = {}, {}, {}
  for _, d in ipairs({ doc.config, table.unpack(doc.layers) }) do
    if not seen[d.digest] then
      seen[d.digest] = true
      descs[#descs + 1] = d
      kinds[d.digest] = d == doc.config and "config" or "layer"
    end
  end
  local moved, ferr = fetch_blobs(ctx, descs, kinds)
  if not moved then return nil, ferr end

  local cfg_bytes, rerr = ctx.store:read(doc.config.digest, manifest.LIMITS.config_bytes)
  if not cfg_bytes then return nil, rerr end
  local cfg, code, msg = manifest.parse_config(cfg_bytes, #doc.layers)
  if not cfg then return fail(code, ref.name .. ": " .. msg) end

  local warnings = {}
  local platform = chosen and { os = chosen.os, architecture = chosen.architecture, variant = chosen.variant }
    or platform_of_config(cfg)
  if not config_fits(platform_of_config(cfg), platform) then
    warnings[#warnings + 1] = "the image config says " .. reference.platform_string(platform_of_config(cfg))
      .. ", its index " .. reference.platform_string(platform)
  end
  if not chosen and not config_fits(platform, ctx.want) then
    if ctx.platform_asked then
      return fail("IMAGE", ref.name .. " is " .. reference.platform_string(platform) .. ", not "
        .. reference.platform_string(ctx.want))
    end
    warnings[#warnings + 1] = ref.name .. " is " .. reference.platform_string(platform) .. " (this host is "
      .. reference.platform_string(ctx.want) .. ")"
  end

  local diff_ids = {}
  if ctx.unpack then
    local jobs, ids_or_code, jmsg = layers.jobs(doc, cfg)
    if not jobs then return fail(ids_or_code, ref.name .. ": " .. jmsg) end
    local results, uerr = layers.unpack(ctx.store, jobs, ctx.unpack_opts, ctx.progress)
    if not results then return nil, uerr end
    diff_ids = ids_or_code
  end

  local ok, perr = ctx.store:put(digest, body)
  if ok and index_digest then ok, perr = ctx.store:put(index_digest, index_body) end
  if not ok then return nil, perr end
  local blobs = { digest }
  if index_digest then blobs[#blobs + 1] = index_digest end
  for _, d in ipairs(descs) do blobs[#blobs + 1] = d.digest end
  platform = reference.platform(reference.platform_string(platform)) or platform -- arm64 is arm64/v8
  local pstring = reference.platform_string(platform)
  local pulled = mj().now()
  ok, perr = ctx.store:set_image{ name = ref.name, platform = pstring, digest = digest, index = index_digest,
    pulled = pulled, blobs = blobs, layers = diff_ids }
  if not ok then return nil, perr end

  return {
    name = ref.name, registry = ref.registry, repository = ref.repository, tag = ref.tag, digest = digest,
    index = index_digest, media_type = doc.media_type, platform = platform, platform_string = pstring,
    config = { digest = doc.config.digest, size = doc.config.size, media_type = doc.config.media_type, data = cfg },
    layers = doc.layers, diff_ids = cfg.rootfs.diff_ids, annotations = doc.annotations, store = ctx.store:root(),
    pulled = pulled, downloaded = moved, size = total, warnings = warnings,
  }
end

--- Pulls ref into the store; the record (see the top of this file) or nil, err.
function M.pull(ref_string, opts)
  opts = check_opts("pull", opts, OPTION_TYPES)
  local ref, code, msg = reference.parse(ref_string)
  if not ref then return fail(code, msg) end
  local C_ = core()
  local want
  if opts.platform then
    want, code, msg = reference.platform(opts.platform)
    if not want then return fail(code, msg) end
  else
    want = reference.host_platform(C_.machine())
  end
  local insecure = insecure_set(opts.insecure)
  local scheme = insecure[ref.host] and "http" or "https"
  local t = opts.timeouts or {}
  local client, cerr = C_.client{ ca_file = opts.ca_file, parallel = opts.parallel and math.tointeger(opts.parallel),
    connect_timeout = t.connect, stall_timeout = t.stall, request_timeout = t.request }
  if not client then return nil, cerr end
  local store, serr = M.open_store(opts)
  if not store then
    client:close()
    return nil, serr
  end
  local base = scheme .. "://" .. ref.host
  local ctx = {
    ref = ref, want = want, platform_asked = opts.platform ~= nil, base = base, client = client, store = store,
    retry = retry_policy(opts), progress = opts.progress, allow_foreign = opts.allow_foreign_layers == true,
    max_size = opts.max_size or DEFAULT_MAX_SIZE, unpack = opts.unpack ~= false, unpack_opts = layers.options(C_, opts),
    session = auth.session{ client = client, C = C_, base = base, host = ref.host, repository = ref.repository,
      credentials = auth.credentials(ref.registry, opts, C_), insecure = insecure },
  }
  local ok, result, err = pcall(pull, ctx)
  store:close()
  client:close()
  if not ok then error(result, 0) end
  return result, err
end

-------------------------------------------------------------------------------------------------
-- The store's images

local STORE_OPTS = { store = "string", platform = "string" }

--- The image records of the store: array (sorted by name, platform) or nil, err.  Each record
-- also says its size (bytes of its blobs) and in_use (live leases: running sandboxes).
function M.list(opts)
  opts = check_opts("list", opts, STORE_OPTS)
  local store, err = M.open_store(opts)
  if not store then return nil, err end
  local recs, damaged = store:images()
  if recs then
    for _, r in ipairs(recs) do
      r.size = 0
      for _, d in ipairs(r.blobs) do
        local have, size = store:has(d)
        if have then r.size = r.size + size end
      end
      r.in_use = store:in_use(r.digest) or 0
    end
  end
  store:close()
  if not recs then return nil, damaged end
  return recs, damaged
end

--- The record of ref (for opts.platform or the host's), or nil, err (IMAGE when absent).
function M.find(ref_string, opts)
  opts = check_opts("find", opts, STORE_OPTS)
  local ref, code, msg = reference.parse(ref_string)
  if not ref then return fail(code, msg) end
  local want = opts.platform and reference.platform(opts.platform) or reference.host_platform(core().machine())
  if not want then return fail("INVALID_CONFIG", "bad platform '" .. tostring(opts.platform) .. "'") end
  local store, err = M.open_store(opts)
  if not store then return nil, err end
  local rec, gerr = store:image(ref.name, reference.platform_string(want))
  store:close()
  if rec == nil then return nil, gerr end
  if not rec then
    return fail("IMAGE", ref.name .. " (" .. reference.platform_string(want) .. ") is not in the store")
  end
  return rec
end

--- Removes the record of ref (opts.all_platforms: every platform's record of that name);
-- refused (INVALID_STATE) while a sandbox holds a lease on one, and then nothing is removed.
-- true and the removed records, or nil, err.  Blobs and layers stay until prune(); a running sandbox
-- keeps its own by its lease.
function M.remove(ref_string, opts)
  opts = check_opts("remove", opts, { store = "string", platform = "string", all_platforms = "boolean" })
  local recs = {}
  if opts.all_platforms then
    local ref, code, msg = reference.parse(ref_string)
    if not ref then return fail(code, msg) end
    local all, err = M.list{ store = opts.store }
    if not all then return nil, err end
    for _, r in ipairs(all) do
      if r.name == ref.name then recs[#recs + 1] = r end
    end
    if #recs == 0 then return fail("IMAGE", ref.name .. " is not in the store") end
  else
    local rec, err = M.find(ref_string, { store = opts.store, platform = opts.platform })
    if not rec then return nil, err end
    recs[1] = rec
  end
  local store, serr = M.open_store(opts)
  if not store then return nil, serr end
  for _, rec in ipairs(recs) do
    local users, uerr = store:in_use(rec.digest)
    if users == nil or users > 0 then
      store:close()
      if users == nil then return nil, uerr end
      return fail("INVALID_STATE", rec.name .. " (" .. rec.platform .. ") is used by " .. users
        .. " running sandbox(es): stop them first")
    end
  end
  for _, rec in ipairs(recs) do
    local ok, rerr = store:remove_image(rec.name, rec.platform)
    if ok == nil then
      store:close()
      return nil, rerr
    end
  end
  store:close()
  return true, recs
end

--- Collects what no record and no running sandbox needs: blobs, unpacked layers, and what
-- crashed pulls, unpacks and loads left; stats ({ blobs_removed, bytes_removed,
-- partials_removed, leases_removed, kept, layers_removed, layers_kept, unpacks_removed }) or
-- nil, err.  opts: store, wait (for other moonjail processes using the store), partial_max_age
-- (seconds: younger partial downloads stay, to resume).  `moonjail prune` calls this for the
-- image store.
function M.prune(opts)
  opts = check_opts("prune", opts, { store = "string", wait = "boolean", partial_max_age = "number" })
  local store, err = M.open_store(opts)
  if not store then return nil, err end
  local stats, gerr = store:gc{ wait = opts.wait, partial_max_age = opts.partial_max_age }
  store:close()
  return stats, gerr
end

-------------------------------------------------------------------------------------------------
-- The image root provider: what a sandbox needs to run an image

local ROOT_OPTS = { store = "string", platform = "string", holder = "string", layer_limits = "table",
  allow_devices = "boolean", unpack_parallel = "number" }

-- The manifest and config of a record, parsed; doc, cfg or nil, err.
local function read_image(store, rec)
  local body, err = store:read(rec.digest, manifest.LIMITS.manifest_bytes)
  if not body then return nil, err end
  local doc, code, msg = manifest.parse(body)
  if not doc or doc.kind ~= "manifest" then
    return fail(code or "IMAGE", rec.name .. ": " .. (msg or "its record names an index, not an image manifest"))
  end
  local cfg_bytes, cerr = store:read(doc.config.digest, manifest.LIMITS.config_bytes)
  if not cfg_bytes then return nil, cerr end
  local cfg, ccode, cmsg = manifest.parse_config(cfg_bytes, #doc.layers)
  if not cfg then return fail(ccode, rec.name .. ": " .. cmsg) end
  return doc, cfg
end

-- root() with the store open: unpacks what is missing (a record of a pull that did not unpack,
-- or of the other flavour), records the layers, takes the lease.
local function provide(store, rec, opts)
  local C_ = core()
  local doc, cfg = read_image(store, rec)
  if not doc then return nil, cfg end
  local run, rcode, rmsg = require("moonjail.image.runconfig").from_config(cfg)
  if not run then return fail(rcode, rec.name .. ": " .. rmsg) end
  local jobs, diff_ids, jmsg = layers.jobs(doc, cfg)
  if not jobs then return fail(diff_ids, rec.name .. ": " .. jmsg) end
  local dirs = layers.dirs(store, diff_ids, C_)
  if not dirs then
    local ok, uerr = layers.unpack(store, jobs, layers.options(C_, opts))
    if not ok then return nil, uerr end
    dirs, uerr = layers.dirs(store, diff_ids, C_)
    if not dirs then return nil, uerr end
  end
  if #rec.layers ~= #diff_ids then
    rec.layers = diff_ids
    local ok, serr = store:set_image(rec)
    if not ok then return nil, serr end
  end
  local lease, lerr = store:lease(rec, opts.holder)
  if not lease then return nil, lerr end
  return {
    name = rec.name, digest = rec.digest, index = rec.index, platform = reference.platform(rec.platform),
    platform_string = rec.platform, layers = dirs, diff_ids = diff_ids, config = run, image_config = cfg,
    lease = lease, store = store:root(), flavour = layers.flavour(C_),
  }
end

--- The image root provider: what a sandbox needs to run ref (a reference string, or a record
-- from list/find/pull), or nil, err (IMAGE when it is not in the store: pull it first).
-- opts: store, platform (default: the record's, else the host's), holder (one line naming who
-- holds the lease, e.g. "sandbox NAME"), layer_limits, allow_devices, unpack_parallel (for
-- layers not unpacked yet).  The answer: { name, digest (the image manifest's), index,
-- platform = { os, architecture, variant }, platform_string, layers = { dir, … } (the overlay's
-- lower directories, LOWEST first: overlayfs's lowerdir option lists the top one first),
-- diff_ids, config (moonjail.image.runconfig.from_config: env, workdir, user, entrypoint, cmd,
-- labels, stop_signal), image_config (the decoded config), lease (Lease: lease:fd() for the
-- supervisor to inherit, lease:release() once the sandbox is gone; until then prune() keeps every
-- blob and layer and rmi is refused), store, flavour ("owners": files carry the image's owners
-- and need an idmapped mount for the sandbox's id range; "rootless": every file is the
-- caller's, which the sandbox maps to its root) }.
function M.root(ref, opts)
  opts = check_opts("root", opts, ROOT_OPTS)
  local name, pstring
  if type(ref) == "table" then
    name, pstring = ref.name, ref.platform_string or ref.platform
  else
    local r, code, msg = reference.parse(ref)
    if not r then return fail(code, msg) end
    local want = opts.platform and reference.platform(opts.platform) or reference.host_platform(core().machine())
    if not want then return fail("INVALID_CONFIG", "bad platform '" .. tostring(opts.platform) .. "'") end
    name, pstring = r.name, reference.platform_string(want)
  end
  if type(name) ~= "string" or type(pstring) ~= "string" then error("root: a reference or an image record", 2) end
  local store, err = M.open_store(opts)
  if not store then return nil, err end
  local rec, gerr = store:image(name, pstring)
  local ok, result, perr
  if rec then
    ok, result, perr = pcall(provide, store, rec, opts)
  elseif rec == false then
    ok, result, perr = true, fail("IMAGE", name .. " (" .. pstring .. ") is not in the store: moonjail pull " .. name)
  else
    ok, result, perr = true, nil, gerr
  end
  store:close()
  if not ok then error(result, 0) end
  return result, perr
end

--- Loads an OCI image layout directory or a `docker save` archive into the store (every blob
-- verified, layers unpacked, one record per name): see moonjail.image.load.
function M.load(path, opts)
  return require("moonjail.image.load").load(M, path, opts)
end

return M

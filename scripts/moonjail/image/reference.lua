-- moonjail.image.reference — image references and platforms: parsing, Docker Hub's defaults, and
-- which platform of a multi-platform index a host (or --platform) takes.
--
-- parse(s) -> ref | nil, err where ref = { registry, host, repository, tag, digest, name } and
--   name is the canonical "registry/repository[:tag][@digest]".  The grammar is distribution's:
--   [registry[:port]/]path[:tag][@digest]; a first component with "." or ":" (or "localhost")
--   is a registry, otherwise docker.io; Docker Hub's one-component paths get "library/";
--   docker.io is reached at registry-1.docker.io; no tag and no digest means ":latest".
-- platform(s) -> { os, architecture, variant } | nil, err ("linux/arm64/v8", aliases normalised);
-- host_platform(machine) from uname's machine; platform_string(p); select(manifests, want)
--   -> the best index entry for want (variant included), or nil, reason.
-- Never: touch the network or the file system; everything here is pure.
local M = {}

local MAX_NAME = 255

local function invalid(msg)
  return nil, "INVALID_CONFIG", msg
end

-- One path component: [a-z0-9]+ joined by separators ".", "_", "__" or any run of "-".
local function component_ok(c)
  if not c:match("^[a-z0-9]") or not c:match("[a-z0-9]$") then return false end
  local rest = c:gsub("[a-z0-9]+", "x")
  -- after collapsing alphanumerics, only separators between x's remain
  for sep in rest:gmatch("x([^x]+)") do
    if not (sep == "." or sep == "_" or sep == "__" or sep:match("^%-+$")) then return false end
  end
  return true
end

local function registry_ok(r)
  if r:match("^%[[%x:]+%]:?%d*$") then -- [IPv6]:port
    local port = r:match("%]:(%d+)$")
    return not port or tonumber(port) <= 65535
  end
  local host, port = r:match("^([^:]+):(%d+)$")
  host = host or r
  if port and tonumber(port) > 65535 then return false end
  if #host > 253 or not host:match("^[%w][%w%.%-]*$") or host:match("%.%.") then return false end
  return not r:match(":$")
end

--- Parses an image reference.  Returns ref, or nil, code, message.
function M.parse(s)
  if type(s) ~= "string" or s == "" then return invalid("image reference: empty") end
  if #s > 1024 or s:find("[%c%s]") then return invalid("image reference '" .. s:sub(1, 80) .. "' is not valid") end
  local rest, digest = s:match("^(.-)@([^@]+)$")
  rest = rest or s
  if digest and not ((#digest == 71 and digest:match("^sha256:[0-9a-f]+$"))
      or (#digest == 135 and digest:match("^sha512:[0-9a-f]+$"))) then
    return invalid("image reference '" .. s .. "': '" .. digest .. "' is not a digest")
  end
  local registry
  local first, after = rest:match("^([^/]+)/(.+)$")
  if first and (first:find("[.:]") or first == "localhost" or first:match("^%[")) then
    registry, rest = first, after
  end
  local path, tag = rest, nil
  local p, t = rest:match("^(.+):([^:/]+)$")
  if p then path, tag = p, t end
  if tag and not tag:match("^[%w_][%w_.%-]*$") or (tag and #tag > 128) then
    return invalid("image reference '" .. s .. "': bad tag '" .. tostring(tag) .. "'")
  end
  if registry and not registry_ok(registry) then
    return invalid("image reference '" .. s .. "': bad registry '" .. registry .. "'")
  end
  registry = registry or "docker.io"
  if registry == "index.docker.io" then registry = "docker.io" end
  for c in (path .. "/"):gmatch("([^/]*)/") do
    if not component_ok(c) then
      return invalid("image reference '" .. s .. "': '" .. path .. "' is not a repository name "
        .. "(lower-case letters, digits and . _ - separators)")
    end
  end
  if registry == "docker.io" and not path:find("/") then path = "library/" .. path end
  if #registry + 1 + #path > MAX_NAME then return invalid("image reference '" .. s .. "': name too long") end
  if not tag and not digest then tag = "latest" end
  local name = registry .. "/" .. path .. (tag and (":" .. tag) or "") .. (digest and ("@" .. digest) or "")
  return {
    registry = registry,
    host = registry == "docker.io" and "registry-1.docker.io" or registry,
    repository = path,
    tag = tag,
    digest = digest,
    name = name,
  }
end

-------------------------------------------------------------------------------------------------
-- Platforms

local ARCH_ALIASES = {
  x86_64 = { "amd64" }, ["x86-64"] = { "amd64" }, aarch64 = { "arm64" }, armhf = { "arm", "v7" },
  armel = { "arm", "v6" }, i386 = { "386" }, i686 = { "386" },
}

-- Variants a CPU runs, best first (containerd's rules): arm/v7 runs v7, v6, v5 binaries, …
local function compatible_variants(arch, variant)
  if arch == "arm64" then return { "v8", "" } end
  if arch == "arm" then
    local order = { "v8", "v7", "v6", "v5" }
    local out, on = {}, false
    for _, v in ipairs(order) do
      if v == (variant ~= "" and variant or "v7") then on = true end
      if on then out[#out + 1] = v end
    end
    return out
  end
  if arch == "amd64" then
    if variant == "" then return { "", "v1" } end
    local out, on = {}, false
    for _, v in ipairs({ "v4", "v3", "v2", "v1" }) do
      if v == variant then on = true end
      if on then out[#out + 1] = v end
    end
    out[#out + 1] = ""
    return out
  end
  return { variant }
end

-- The variant an index entry means when it names none: arm → v7, arm64 → v8.
local function normal_variant(arch, variant)
  variant = variant or ""
  if variant == "" and arch == "arm" then return "v7" end
  if variant == "" and arch == "arm64" then return "v8" end
  return variant
end

--- "os/arch[/variant]" -> platform table, or nil, code, message.
function M.platform(s)
  if type(s) ~= "string" then return invalid("platform must be a string like linux/arm64/v8") end
  local os_, arch, variant = s:lower():match("^([%w_]+)/([%w_%-]+)/?([%w_.]*)$")
  if not os_ then return invalid("platform '" .. s .. "' is not os/architecture[/variant]") end
  local alias = ARCH_ALIASES[arch]
  if alias then
    arch = alias[1]
    if variant == "" and alias[2] then variant = alias[2] end
  end
  return { os = os_, architecture = arch, variant = normal_variant(arch, variant) ~= "" and
    normal_variant(arch, variant) or nil }
end

--- The host's platform from uname's machine name.
function M.host_platform(machine)
  local m = machine or "x86_64"
  if m:match("^armv(%d)") then
    return { os = "linux", architecture = "arm", variant = "v" .. m:match("^armv(%d)") }
  end
  local p = M.platform("linux/" .. m)
  return p or { os = "linux", architecture = m }
end

function M.platform_string(p)
  return p.os .. "/" .. p.architecture .. ((p.variant and p.variant ~= "") and ("/" .. p.variant) or "")
end

--- The index entry (descriptor table with .platform) that best suits want, or nil, reason.
-- Entries with another os or architecture never match; among compatible variants the closest
-- wins (arm/v7 prefers v7, then v6, then v5); ties go to the first in the index.
function M.select(manifests, want)
  local prefs = compatible_variants(want.architecture, want.variant or "")
  local best, best_rank
  local seen = {}
  for _, d in ipairs(manifests) do
    local p = d.platform
    if type(p) == "table" and type(p.os) == "string" and type(p.architecture) == "string" then
      local arch = (ARCH_ALIASES[p.architecture] or { p.architecture })[1]
      seen[#seen + 1] = M.platform_string({ os = p.os, architecture = p.architecture,
        variant = type(p.variant) == "string" and p.variant or nil })
      if p.os == want.os and arch == want.architecture then
        local v = normal_variant(arch, type(p.variant) == "string" and p.variant or "")
        for rank, pv in ipairs(prefs) do
          if normal_variant(arch, pv) == v and (not best_rank or rank < best_rank) then
            best, best_rank = d, rank
            break
          end
        end
      end
    end
  end
  if best then return best end
  return nil, "no manifest for " .. M.platform_string(want) .. " (the index has: "
    .. (#seen > 0 and table.concat(seen, ", ") or "none") .. ")"
end

return M

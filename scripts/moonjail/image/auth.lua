-- moonjail.image.auth — who we are to a registry: credentials from auth files, the
-- WWW-Authenticate challenge flow (anonymous → 401 → Bearer token or Basic → retry), and a
-- per-repository session that adds the right Authorization header to every request.
--
-- credentials(registry, opts) -> { username, password } | nil: opts.credentials, else the first
--   auth file that has the registry: opts.auth_files, else $XDG_CONFIG_HOME/moonjail/auth.json
--   (~/.config/…), then docker's $DOCKER_CONFIG/config.json (~/.docker/config.json), key
--   "auths" → { auth = base64("user:pass") } or { username, password }.
-- parse_challenge(header) -> { scheme = "bearer" | "basic", realm, service, scope } | nil.
-- session{ client, C, base, host, repository, credentials, insecure } -> session with
--   :request(req) (an answer of any status, or nil, err), :authorization() (the header line or
--   nil) and :challenge(www_authenticate) (answers a 401 seen elsewhere, e.g. on a blob).
-- Never: send credentials or tokens over plain HTTP to a host not named insecure, or to another
-- host than the one that asked (a token is sent to the registry only, Basic credentials to the
-- registry or its token realm only); read an auth file without a size bound.
local M = {}

local AUTH_FILE_MAX = 1024 * 1024
local TOKEN_MAX = 64 * 1024

local function fail(code, msg, opts)
  return nil, require("moonjail").error(code, msg, opts)
end

local function read_file(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local data = f:read(AUTH_FILE_MAX + 1)
  f:close()
  if not data or #data > AUTH_FILE_MAX then return nil end
  return data
end

--- The auth files looked at, in order.
function M.auth_files()
  local home = os.getenv("HOME") or ""
  local xdg = os.getenv("XDG_CONFIG_HOME")
  if not xdg or xdg == "" then xdg = home .. "/.config" end
  local docker = os.getenv("DOCKER_CONFIG")
  if not docker or docker == "" then docker = home .. "/.docker" end
  return { xdg .. "/moonjail/auth.json", docker .. "/config.json" }
end

-- The keys an auths entry may have for registry: docker writes "https://index.docker.io/v1/"
-- for Docker Hub and bare host[:port] or https://host[:port] for the rest.
local function auth_key_matches(key, registry)
  local host = key:gsub("^[Hh][Tt][Tt][Pp][Ss]?://", ""):gsub("/.*$", "")
  if registry == "docker.io" then
    return host == "docker.io" or host == "index.docker.io" or host == "registry-1.docker.io"
  end
  return host == registry
end

--- Credentials for registry, or nil (anonymous).
function M.credentials(registry, opts, C)
  opts = opts or {}
  if type(opts.credentials) == "table" then
    return { username = opts.credentials.username, password = opts.credentials.password }
  end
  local manifest = require "moonjail.image.manifest"
  for _, path in ipairs(opts.auth_files or M.auth_files()) do
    local text = read_file(path)
    local doc = text and manifest.decode(text, path)
    local auths = type(doc) == "table" and doc.auths
    if type(auths) == "table" then
      for key, entry in pairs(auths) do
        if type(key) == "string" and type(entry) == "table" and auth_key_matches(key, registry) then
          if type(entry.username) == "string" and type(entry.password) == "string" then
            return { username = entry.username, password = entry.password }
          end
          if type(entry.auth) == "string" then
            local plain = C.base64_decode(entry.auth)
            local user, pass = (plain or ""):match("^([^:]*):(.*)$")
            if user then return { username = user, password = pass } end
          end
        end
      end
    end
  end
  return nil
end

--- Parses the first challenge of a WWW-Authenticate header.
function M.parse_challenge(header)
  if type(header) ~= "string" then return nil end
  local scheme, rest = header:match("^%s*(%a+)%s*(.*)$")
  if not scheme then return nil end
  local out = { scheme = scheme:lower() }
  local i = 1
  while i <= #rest do
    local key, after = rest:match("^%s*,?%s*([%w_%-]+)%s*=%s*()", i)
    if not key then break end
    local value
    if rest:sub(after, after) == '"' then
      local buf, j = {}, after + 1
      while j <= #rest do
        local ch = rest:sub(j, j)
        if ch == "\\" then
          buf[#buf + 1] = rest:sub(j + 1, j + 1)
          j = j + 2
        elseif ch == '"' then
          break
        else
          buf[#buf + 1] = ch
          j = j + 1
        end
      end
      value, i = table.concat(buf), j + 1
    else
      value = rest:match("^([^,%s]*)", after)
      i = after + #value
    end
    out[key:lower()] = value
  end
  return out
end

local function urlencode(s)
  return (s:gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", c:byte()) end))
end

-- "scheme://host[:port]" of an http(s) URL, lower case, or nil.
local function origin(url)
  local scheme, host = url:match("^(%a+)://([^/?#]+)")
  if not scheme then return nil end
  scheme = scheme:lower()
  host = host:gsub("^.*@", ""):lower()
  if not host:match(":%d+$") then host = host .. (scheme == "https" and ":443" or ":80") end
  return scheme .. "://" .. host, host
end

--- A session with one repository of one registry.
function M.session(args)
  local C, client = args.C, args.client
  local s = { token = nil, basic = nil }
  local registry_origin = origin(args.base)
  local insecure = args.insecure or {}

  local function basic_header()
    local c = args.credentials
    if not c then return nil end
    return "Basic " .. C.base64_encode((c.username or "") .. ":" .. (c.password or ""))
  end

  function s.authorization()
    if s.token then return "Authorization: Bearer " .. s.token end
    if s.basic then return "Authorization: " .. s.basic end
    return nil
  end

  -- A realm we may call (with credentials): https, or http on a host named insecure.
  local function realm_ok(realm)
    local o, hp = origin(realm)
    if not o then return false end
    if o:match("^https://") then return true end
    return o:match("^http://") ~= nil and (insecure[hp] or insecure[hp:gsub(":80$", "")] or false)
  end

  local function fetch_token(ch)
    if not ch.realm or not realm_ok(ch.realm) then
      return fail("PERMISSION_DENIED", "registry " .. args.host .. " names a token realm '" .. tostring(ch.realm)
        .. "' that is not https (or http on a registry named insecure)")
    end
    local scope = ch.scope or ("repository:" .. args.repository .. ":pull")
    local url = ch.realm .. (ch.realm:find("?", 1, true) and "&" or "?")
      .. (ch.service and ("service=" .. urlencode(ch.service) .. "&") or "") .. "scope=" .. urlencode(scope)
    local headers = {}
    local b = basic_header()
    if b then headers[1] = "Authorization: " .. b end
    local resp, err = client:request{ url = url, headers = headers, max_body = TOKEN_MAX * 4 }
    if not resp then return nil, err end
    if resp.status == 401 or resp.status == 403 then
      return fail("PERMISSION_DENIED", "the token server of " .. args.host .. " refused "
        .. (b and "the credentials" or "an anonymous pull") .. " (HTTP " .. resp.status .. ")")
    end
    if resp.status ~= 200 then
      return nil, C.status_error(resp.status, resp.headers["retry-after"], "GET " .. ch.realm)
    end
    local doc = require("moonjail.image.manifest").decode(resp.body, "token response")
    local token = type(doc) == "table" and (doc.token or doc.access_token)
    if type(token) ~= "string" or token == "" or #token > TOKEN_MAX or token:find("[%c%s]") then
      return fail("PERMISSION_DENIED", "the token server of " .. args.host .. " sent no usable token")
    end
    s.token = token
    return true
  end

  --- Answers a challenge (the WWW-Authenticate of a 401); true, or nil, err.
  function s.challenge(header)
    local ch = M.parse_challenge(header)
    if ch and ch.scheme == "bearer" then
      return fetch_token(ch)
    elseif ch and ch.scheme == "basic" then
      local b = basic_header()
      if not b then
        return fail("PERMISSION_DENIED", "registry " .. args.host .. " needs credentials (basic auth): add them to "
          .. M.auth_files()[1])
      end
      s.basic = b
      return true
    end
    return fail("PERMISSION_DENIED", "registry " .. args.host .. " asks for unsupported authentication '"
      .. tostring(header):sub(1, 60) .. "'")
  end

  --- One request to the registry with the session's authorization; answers a 401 once.
  function s.request(req)
    local answered = false
    while true do
      local headers = {}
      for i, h in ipairs(req.headers or {}) do headers[i] = h end
      local auth = s.authorization()
      if auth and origin(req.url) == registry_origin then headers[#headers + 1] = auth end
      local resp, err = client:request{ method = req.method, url = req.url, headers = headers,
        max_body = req.max_body }
      if not resp then return nil, err end
      if resp.status ~= 401 or answered then return resp end
      answered = true
      local ok, cerr = s.challenge(resp.headers["www-authenticate"])
      if not ok then return nil, cerr end
    end
  end

  return s
end

return M

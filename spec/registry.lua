-- spec/registry.lua — real OCI registries on loopback for the image specs, started and stopped by
-- the specs themselves (tests/registry/* does the work):
--
--   local registry = require "spec.registry"
--   if registry.skip_unless_available() then return end
--   local env = registry.new()                 -- one temp dir for everything below
--   local reg = env:start_registry()           -- plain HTTP; {tls = true, htpasswd = "u:p"} or
--                                              -- {token = env:start_token_server{user = "u:p"}}
--   local digest = env:build("amd64", {"--platform", "linux/amd64"})   -- tests/registry/build-image
--   env:push("amd64", reg, "busybox:1")        -- skopeo copy into the registry
--   local proxy = env:start_proxy(reg, "stall", 65536)                 -- tests/registry/fault-proxy
--   reg:blob_gets(), reg:corrupt_blob(digest)  -- the access log; damage a blob in its storage
--   env:stop()                                 -- kills every process it started, removes the dir
--
-- Every server listens on 127.0.0.1 on a free port.  Needs docker-registry, skopeo, umoci,
-- busybox (busybox-static), openssl and python3; skip_unless_available() skips the file (with
-- the reason) where one is missing.  Never: touch anything outside its temp dir, or stop a
-- process it did not start.
local helpers = require "spec.helpers"

local M = {}
local q, sh = helpers.shell_quote, helpers.sh

M.TOOLS = { "docker-registry", "skopeo", "umoci", "busybox", "openssl", "python3" }

local function source_dir()
  local src = os.getenv("MOONJAIL_SOURCE_DIR")
  if src and src ~= "" then return src end
  return sh("pwd")
end

local function scripts() return source_dir() .. "/tests/registry" end

--- Why the image specs cannot run here, or nil.
function M.unavailable()
  for _, t in ipairs(M.TOOLS) do
    if os.execute("command -v " .. t .. " >/dev/null 2>&1") ~= true then
      return "the image specs need " .. t .. " (./bootstrap test installs it)"
    end
  end
  if not helpers.exists(scripts() .. "/start-registry") then return "tests/registry is missing from this tree" end
  return nil
end

--- Skips the spec file when unavailable() says why; true when skipped.
function M.skip_unless_available()
  local why = M.unavailable()
  if why then return helpers.skip_file(why) end
  return false
end

local Env = {}
Env.__index = Env

function M.new()
  require "moonjail" -- so that moonjail.image is found under a plain busted run too
  local dir = helpers.tmpdir("0700")
  return setmetatable({ dir = dir, pids = {}, layout = dir .. "/layout", store = dir .. "/store" }, Env)
end

local function run(cmd)
  local out = sh(cmd .. " 2>&1; echo \"rc=$?\"")
  local rc = tonumber(out:match("rc=(%d+)$"))
  return rc == 0, out:gsub("\n?rc=%d+$", "")
end

local function must(cmd)
  local ok, out = run(cmd)
  assert(ok, "failed: " .. cmd .. "\n" .. out)
  return out
end

-- Starts a long-lived helper detached (its own session); returns its pid.
function Env:spawn(cmd, log)
  local pid = tonumber(sh("setsid " .. cmd .. " </dev/null >" .. q(log) .. " 2>&1 & echo $!"))
  assert(pid, "could not start " .. cmd)
  self.pids[#self.pids + 1] = pid
  return pid
end

local function wait_for_file(path, seconds, what, log)
  local ok = helpers.eventually(seconds, function() return helpers.exists(path) end)
  assert(ok, what .. " did not start: " .. (helpers.read_file(log) or ""))
  return helpers.read_file(path)
end

local Registry = {}
Registry.__index = Registry

--- Starts a registry; opts: tls, htpasswd = "user:pass", token = token server (start_token_server).
function Env:start_registry(opts)
  opts = opts or {}
  local n = #self.pids + 1
  local dir = self.dir .. "/registry" .. n
  local args = { q(scripts() .. "/start-registry"), q(dir) }
  if opts.tls then args[#args + 1] = "--tls" end
  if opts.htpasswd then args[#args + 1] = "--htpasswd " .. q(opts.htpasswd) end
  if opts.token then
    args[#args + 1] = "--token-realm " .. q("http://127.0.0.1:" .. opts.token.port .. "/token")
    args[#args + 1] = "--token-cert " .. q(opts.token.cert)
  end
  local out = must(table.concat(args, " "))
  local port, pid = out:match("(%d+) (%d+)%s*$")
  assert(port, "start-registry said: " .. out)
  self.pids[#self.pids + 1] = tonumber(pid)
  return setmetatable({
    port = tonumber(port), pid = tonumber(pid), dir = dir, host = "127.0.0.1:" .. port,
    log = dir .. "/registry.log", cert = opts.tls and (dir .. "/cert.pem") or nil, tls = opts.tls,
  }, Registry)
end

--- Starts the bearer-token server; opts.user = "user:pass" makes it require those credentials.
function Env:start_token_server(opts)
  opts = opts or {}
  local dir = self.dir .. "/token" .. (#self.pids + 1)
  local cmd = q(scripts() .. "/token-server") .. " --dir " .. q(dir)
  if opts.user then cmd = cmd .. " --user " .. q(opts.user) end
  sh("mkdir -p " .. q(dir))
  local log = dir .. "/server.out"
  local pid = self:spawn(cmd, log)
  local port = tonumber(wait_for_file(dir .. "/token.port", 20, "the token server", log))
  return { port = port, pid = pid, dir = dir, cert = dir .. "/token-cert.pem", log = dir .. "/token.log" }
end

--- Starts the fault proxy in front of reg: mode "stall", "truncate" or "none", after bytes.
function Env:start_proxy(reg, mode, after)
  local dir = self.dir .. "/proxy" .. (#self.pids + 1)
  sh("mkdir -p " .. q(dir))
  local log = dir .. "/proxy.out"
  local pid = self:spawn(q(scripts() .. "/fault-proxy") .. " --dir " .. q(dir) .. " --upstream "
    .. q(reg.host) .. " --mode " .. mode .. " --after " .. math.tointeger(after or 65536), log)
  local port = tonumber(wait_for_file(dir .. "/proxy.port", 10, "the fault proxy", log))
  return { port = port, pid = pid, dir = dir, host = "127.0.0.1:" .. port, log = dir .. "/proxy.log" }
end

--- Builds TAG in the env's OCI layout with tests/registry/build-image; returns its digest.
function Env:build(tag, args)
  local words = { q(scripts() .. "/build-image"), q(self.layout), q(tag) }
  for _, a in ipairs(args or {}) do words[#words + 1] = q(a) end
  return (must(table.concat(words, " ")):match("(sha256:%x+)%s*$"))
end

--- Copies TAG of the layout to reg as NAME (repository:tag); opts.index copies a whole index,
-- opts.creds = "user:pass".
function Env:push(tag, reg, name, opts)
  opts = opts or {}
  local words = { "skopeo --insecure-policy copy --quiet --dest-tls-verify=false" }
  if opts.index then words[#words + 1] = "--all" end
  if opts.creds then words[#words + 1] = "--dest-creds " .. q(opts.creds) end
  words[#words + 1] = q("oci:" .. self.layout .. ":" .. tag)
  words[#words + 1] = q("docker://" .. reg.host .. "/" .. name)
  must(table.concat(words, " "))
end

--- Stops every process the env started and removes its files.
function Env:stop()
  for _, pid in ipairs(self.pids) do
    if helpers.process_alive(pid) then os.execute("kill -TERM " .. pid .. " 2>/dev/null") end
  end
  for _, pid in ipairs(self.pids) do
    if not helpers.eventually(5, function() return not helpers.process_alive(pid) end) then
      os.execute("kill -KILL " .. pid .. " 2>/dev/null")
    end
  end
  self.pids = {}
  os.execute("chmod -R u+w " .. q(self.dir) .. " 2>/dev/null; rm -rf " .. q(self.dir))
end

--- Requests for blobs in the registry's access log: { method, path, status, bytes, digest }.
function Registry:blob_gets()
  local out = {}
  for line in (helpers.read_file(self.log) or ""):gmatch("[^\n]+") do
    local method, path, status, bytes = line:match('"(%u+) ([^ ]+) HTTP/[%d.]+" (%d+) (%d+)')
    if method == "GET" and path:match("/blobs/sha%d+:") then
      out[#out + 1] = { method = method, path = path, status = tonumber(status), bytes = tonumber(bytes),
        digest = path:match("/blobs/(sha%d+:%x+)") }
    end
  end
  return out
end

--- Total body bytes the registry sent for blob GETs.
function Registry:blob_bytes()
  local n = 0
  for _, r in ipairs(self:blob_gets()) do n = n + r.bytes end
  return n
end

--- The file in the registry's storage holding digest's content.
function Registry:blob_file(digest)
  local hex = digest:match(":(%x+)$")
  return self.dir .. "/storage/docker/registry/v2/blobs/sha256/" .. hex:sub(1, 2) .. "/" .. hex .. "/data"
end

--- Flips one byte in the middle of a blob in the registry's storage (its size stays).
function Registry:corrupt_blob(digest)
  local path = self:blob_file(digest)
  local f = assert(io.open(path, "r+b"))
  local size = f:seek("end")
  f:seek("set", size // 2)
  local b = f:read(1)
  f:seek("set", size // 2)
  f:write(string.char((b:byte() + 1) % 256))
  f:close()
end

--- The layers of a manifest digest in the layout (an OCI manifest the builder made).
function Env:manifest_layers(digest)
  local text = helpers.read_file(self.layout .. "/blobs/sha256/" .. digest:match(":(%x+)$"))
  local doc = helpers.json_decode(text)
  local out = {}
  for i, l in ipairs(doc.layers) do out[i] = { digest = l.digest, size = l.size } end
  return out, doc.config
end

M.run = run
return M

-- fuzz/lua/manifest.lua — image manifests, indexes and configs as a registry sends them
-- (moonjail.image.manifest: parse, parse_config).  Findings: raising instead of answering nil,
-- a code and a message.
local C = dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "common.lua")
local M = require "moonjail.image.manifest"

local types = { "application/vnd.oci.image.manifest.v1+json", "application/vnd.oci.image.index.v1+json",
  "application/vnd.docker.distribution.manifest.v2+json", "application/vnd.docker.distribution.manifest.list.v2+json",
  "text/plain", nil }

return function(data)
  local ct = types[(#data % #types) + 1]
  local ok, res, code, msg = pcall(M.parse, data, ct)
  C.check(ok, "parse raised: %s", tostring(res))
  C.check(res ~= nil or (type(code) == "string" and type(msg) == "string"), "parse: no result and no error")
  ok, res, code, msg = pcall(M.parse_config, data, #data % 5)
  C.check(ok, "parse_config raised: %s", tostring(res))
  C.check(res ~= nil or (type(code) == "string" and type(msg) == "string"), "parse_config: no result and no error")
end

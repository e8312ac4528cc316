-- fuzz/lua/image_ref.lua — image references and platforms as a user or a manifest gives them
-- (moonjail.image.reference: parse, platform, select).  Findings: raising instead of answering
-- nil and a reason; a parsed reference that does not parse again to the same result.
local C = dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "common.lua")
local ref = require "moonjail.image.reference"

local call = C.call

return function(data)
  local r, why = call(ref.parse, data)
  C.check(r ~= nil or type(why) == "string", "parse: neither a reference nor a reason")
  local p, pwhy = call(ref.platform, data)
  C.check(p ~= nil or type(pwhy) == "string", "platform: neither a platform nor a reason")
  if p then
    local again = call(ref.platform, ref.platform_string(p))
    C.check(again and ref.platform_string(again) == ref.platform_string(p), "platform %q does not round-trip", data)
    local lines = {}
    for line in data:gmatch("[^\n]+") do
      local os_, arch, variant = line:match("^(.-)/(.-)/?(.*)$")
      lines[#lines + 1] = { platform = { os = os_, architecture = arch, variant = variant } }
    end
    call(ref.select, lines, p)
  end
end

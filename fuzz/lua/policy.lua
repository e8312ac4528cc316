-- fuzz/lua/policy.lua — a policy file as `moonjail policy check FILE` loads it (moonjail.policy:
-- the isolated state, its budgets, extends, validation, merging).  Findings: policy.load raising
-- instead of returning INVALID_CONFIG, taking longer than its budget allows, or an error that
-- quotes the file's text ("near '…'").
local C = dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "common.lua")
local P = require "moonjail.policy"
local core = C.core

return function(data)
  local path = C.write("policy.lua", data)
  local t0 = core.now()
  local ok, res, err = pcall(P.load, core, path)
  C.check(ok, "policy.load raised: %s", tostring(res))
  if res == nil then
    C.check_error(err, { INVALID_CONFIG = true }, "policy.load")
    C.check(not (err.message:find("syntax error", 1, true) and err.message:find(" near ", 1, true)),
      "a syntax error quotes the file: %s", err.message)
  else
    C.check(type(res) == "table", "policy.load returned a %s", type(res))
  end
  C.check(core.now() - t0 < 8, "policy.load took %.1f s", core.now() - t0)
end

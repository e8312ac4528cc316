-- fuzz/lua/recipe.lua — a recipe file as `moonjail recipe FILE` loads it (moonjail.recipe's load:
-- the restricted environment under its budget, two passes over params, the raw copy, validation).
-- No sandbox is started.  Findings: load raising instead of returning INVALID_CONFIG, or taking
-- longer than its budget allows.
local C = dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "common.lua")
local R = require("moonjail.recipe")(C.mj, C.core)
local core = C.core

return function(data)
  local path = C.write("recipe.lua", data)
  local t0 = core.now()
  local ok, rec, err = pcall(R.load, path, { set = { x = "1" } })
  C.check(ok, "recipe load raised: %s", tostring(rec))
  if rec == nil then
    C.check_error(err, { INVALID_CONFIG = true }, "recipe load")
  else
    C.check(type(rec.table) == "table" and getmetatable(rec.table) == nil, "the recipe table kept a metatable")
  end
  C.check(core.now() - t0 < 22, "recipe load took %.1f s", core.now() - t0)
end

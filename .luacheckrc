-- luacheck configuration: `luacheck .` from the source root.
std = "lua54"
max_line_length = 120
color = false -- plain output, so tools reading the summary line see "0 warnings / 0 errors"
exclude_files = { "build*/" }

files["spec/"] = { std = "+busted" }

-- Recipes run in moonjail's restricted environment: `params` and a `moonjail` table are given.
files["examples/recipes/"] = { read_globals = { "params", "moonjail" } }

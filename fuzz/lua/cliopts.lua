-- fuzz/lua/cliopts.lua — the command line as moonjail's one option parser reads it
-- (moonjail.cliopts over moonjail.cli_tables): the input is NUL-separated arguments, the first
-- choosing the command.  Findings: raising instead of answering options or an error.
local C = dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "common.lua")
local cliopts = require "moonjail.cliopts"
local tables = require "moonjail.cli_tables"

local names = { "moonjail" }
for name in pairs(tables.commands) do names[#names + 1] = name end
table.sort(names)

return function(data)
  local argv = {}
  for a in (data .. "\0"):gmatch("([^%z]*)%z") do argv[#argv + 1] = a end
  local name = names[(#(argv[1] or "") % #names) + 1]
  table.remove(argv, 1)
  local ok, got, pos = pcall(cliopts.parse, name, argv, 1)
  C.check(ok, "parse %s raised: %s", name, tostring(got))
  C.check(got ~= nil or (type(pos) == "table" and type(pos.message) == "string"),
    "parse %s: no options, no error", name)
  local hok, help = pcall(cliopts.help, name)
  C.check(hok and type(help) == "string", "help %s raised: %s", name, tostring(help))
  for _, a in ipairs(argv) do
    local sok, err = pcall(cliopts.suggest, name, a)
    C.check(sok, "suggest raised: %s", tostring(err))
  end
end

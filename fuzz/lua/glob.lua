-- fuzz/lua/glob.lua — a repository's include/exclude globs (moonjail.repo.glob) and the paths
-- they are matched against: the first line is the glob, each further line a path (a trailing
-- '/' marks a directory).  Findings: raising, or a match that takes longer than a second.
local C = dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "common.lua")
local repo = require "moonjail.repo"
local now = C.core.now

return function(data)
  local g, rest = data:match("^([^\n]*)\n?(.*)$")
  local ok, m, why = pcall(repo.glob, g)
  C.check(ok, "glob raised: %s", tostring(m))
  if not m then
    C.check(type(why) == "string", "glob: no matcher and no reason")
    return
  end
  for path in rest:gmatch("[^\n]+") do
    local t0 = now()
    local mok, r = pcall(m, (path:gsub("/$", "")), path:sub(-1) == "/")
    C.check(mok, "matching raised: %s", tostring(r))
    C.check(type(r) == "boolean", "matching returned a %s", type(r))
    C.check(now() - t0 < 1, "matching %q against %q took %.1f s", g, path, now() - t0)
  end
end

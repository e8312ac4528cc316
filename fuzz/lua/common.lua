-- fuzz/lua/common.lua — what the Lua drivers share: the moonjail module with its core table
-- (caught on its way to moonjail.api), a private scratch directory, check() and call().
local C = {}

local embedded = package.searchers[2] -- the searcher of the embedded modules (embedded.h)
local api_factory = embedded("moonjail.api")("moonjail.api")
package.loaded["moonjail.api"] = function(core)
  C.core = core
  return api_factory(core)
end
C.mj = require "moonjail"

--- Raises (a finding) unless cond holds.
function C.check(cond, fmt, ...)
  if not cond then error(string.format(fmt, ...), 2) end
end

--- Calls f; raises (a finding) if it raised; returns what it returned.
function C.call(f, ...)
  local r = table.pack(pcall(f, ...))
  C.check(r[1], "raised: %s", tostring(r[2]))
  return table.unpack(r, 2, r.n)
end

C.dir = (os.getenv("TMPDIR") or "/tmp") .. "/mj-fuzz-" .. tostring(os.time()) .. "-" .. tostring(math.random(1e9))
os.execute("mkdir -p '" .. C.dir .. "'")

--- Writes data to a file of the scratch directory; returns its path.
function C.write(name, data)
  local path = C.dir .. "/" .. name
  local f = assert(io.open(path, "wb"))
  f:write(data)
  f:close()
  return path
end

--- Checks that err is a moonjail error of one of the codes.
function C.check_error(err, codes, what)
  C.check(type(err) == "table" and type(err.code) == "string" and type(err.message) == "string",
    "%s failed without a moonjail error: %s", what, tostring(err))
  C.check(codes[err.code], "%s failed with %s: %s", what, err.code, err.message)
end

return C

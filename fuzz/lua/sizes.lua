-- fuzz/lua/sizes.lua — the value parsers of flags and policies: sizes, durations, signals, file
-- modes, users and mount specs (moonjail.util, moonjail.policy).  Findings: raising instead of
-- answering nil and a reason, or a value of the wrong kind (a negative or fractional size…).
local C = dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "common.lua")
local util = require "moonjail.util"
local P = require "moonjail.policy"

local call = C.call

return function(data)
  local n, why = call(util.parse_size, data)
  C.check((math.type(n) == "integer" and n >= 0) or (n == nil and type(why) == "string"),
    "parse_size(%q) gave %s", data, tostring(n))
  local d = call(util.parse_duration, data)
  C.check(d == nil or (type(d) == "number" and d >= 0 and d == d and d < math.huge), "parse_duration(%q) gave %s",
    data, tostring(d))
  call(util.signal_number, data)
  local m = call(P.parse_mode, data)
  C.check(m == nil or (math.type(m) == "integer" and m >= 0 and m <= 4095), "parse_mode(%q) gave %s", data, tostring(m))
  local u, g = call(P.parse_user, data, "root:x:0:0::/root:/bin/sh\nme:x:1000:1000::/:/bin/sh\n",
    "root:x:0:\nstaff:x:50:\n")
  C.check(u == nil or (math.type(u) == "integer" and math.type(g) == "integer" and u >= 0 and g >= 0),
    "parse_user(%q) gave %s, %s", data, tostring(u), tostring(g))
  local mount = call(P.normalize_mount, data, "/base")
  if mount then
    C.check(mount.kind == "ro" or mount.kind == "rw" or mount.kind == "tmpfs", "normalize_mount(%q): kind %s", data,
      tostring(mount.kind))
    C.check(util.is_clean_abs(mount.dst), "normalize_mount(%q): destination %q", data, tostring(mount.dst))
  end
  local nums = {}
  for x in data:gmatch("[^,]+") do nums[#nums + 1] = tonumber(x) or x end
  for _, v in ipairs(nums) do call(util.parse_size, v); call(util.parse_duration, v) end
end

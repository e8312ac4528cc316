-- fuzz/lua/patterns.lua — the bounded pattern matcher (bindings/lua/lmatch.c) against Lua's own
-- string library: find, match, gmatch and gsub must give the same results (and fail alike) on
-- every subject, pattern, init and replacement.  The input: a byte choosing the function and the
-- replacement, a byte for init, a byte for the pattern's length, the pattern, the subject.
-- Inputs the stock matcher could not finish quickly (many quantifiers on a long subject) are
-- skipped.
local C = dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "common.lua")
local B = C.core.string_lib()
local S = string

local function pack(ok, ...) return { ok = ok, n = select("#", ...), ... } end

local function strip(msg) -- an error's position prefix differs between the two: a C function
  return (tostring(msg):gsub("^[^:]*:%d+: ", ""))
end

local function same(a, b, what)
  C.check(a.ok == b.ok, "%s: stock %s, bounded %s (%s / %s)", what, tostring(a.ok), tostring(b.ok),
    tostring(a[1]), tostring(b[1]))
  if not a.ok then
    C.check(strip(a[1]) == strip(b[1]), "%s: errors differ: stock '%s', bounded '%s'", what, tostring(a[1]),
      tostring(b[1]))
    return
  end
  C.check(a.n == b.n, "%s: %d results stock, %d bounded", what, a.n, b.n)
  for i = 1, a.n do
    C.check(a[i] == b[i] and math.type(a[i]) == math.type(b[i]), "%s: result %d: stock %q, bounded %q", what, i,
      tostring(a[i]), tostring(b[i]))
  end
end

local function all(lib, s, p, init)
  local it = lib.gmatch(s, p, init)
  local out = {}
  for _ = 1, 200 do
    local r = table.pack(it())
    if r[1] == nil then break end
    for i = 1, r.n do out[#out + 1] = r[i] end
    out[#out + 1] = "|"
  end
  return table.concat(out, "\0")
end

local repl_table = { a = "A", b = false, ["1"] = 7, [""] = "E" }
local function repl_fn(...) return select("#", ...) .. (...) end

return function(data)
  if #data < 3 then return end
  local sel, init, plen = data:byte(1), data:byte(2) - 128, data:byte(3)
  local p = data:sub(4, 3 + plen % 24)
  local s = data:sub(4 + plen % 24)
  if #s > 200 then s = s:sub(1, 200) end
  local q = select(2, p:gsub("[%*%+%-%?]", ""))
  if (#s + 2) ^ (q + 1) > 2e6 then return end
  local what = string.format("%q on %q", p, s)
  local f = sel % 4
  if f == 0 then
    same(pack(pcall(S.find, s, p, init, sel & 4 ~= 0)), pack(pcall(B.find, s, p, init, sel & 4 ~= 0)), "find " .. what)
  elseif f == 1 then
    same(pack(pcall(S.match, s, p, init)), pack(pcall(B.match, s, p, init)), "match " .. what)
  elseif f == 2 then
    same(pack(pcall(all, S, s, p, init)), pack(pcall(all, B, s, p, init)), "gmatch " .. what)
  else
    local how = (sel >> 2) % 4
    local r = how == 0 and s:sub(1, 8) or how == 1 and repl_table or how == 2 and repl_fn or "<%0%1>"
    local max = (sel >> 4) ~= 0 and (sel >> 4) or nil
    same(pack(pcall(S.gsub, s, p, r, max)), pack(pcall(B.gsub, s, p, r, max)), "gsub " .. what)
  end
end

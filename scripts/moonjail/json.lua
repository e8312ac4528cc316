-- moonjail.json — a small JSON encoder and decoder for what moonjail itself writes: the CLI's
-- --json output and the metadata a named sandbox keeps (labels, annotations, image, policy).
--
-- encode: strings, numbers (integers stay integers; NaN/inf become null), booleans, tables
-- (a sequence, or a table marked with M.array, is an array; anything else an object with sorted
-- keys, so output is stable), nil/functions/userdata become null.
-- decode: strict RFC 8259 text to plain tables (null -> nil inside objects, M.null in arrays is
-- not kept: arrays of nulls shrink), returns value or nil, reason.  Depth-limited.
-- Never: run code from its input or follow references.
local M = {}

local ARRAY = {}
--- Marks t (default: a new table) as a JSON array, so an empty one encodes as [] not {}.
function M.array(t) return setmetatable(t or {}, ARRAY) end

local escapes = { ['"'] = '\\"', ["\\"] = "\\\\", ["\b"] = "\\b", ["\f"] = "\\f", ["\n"] = "\\n",
  ["\r"] = "\\r", ["\t"] = "\\t" }

local function encode_string(s)
  return '"' .. s:gsub('[%c"\\]', function(c)
    return escapes[c] or string.format("\\u%04x", c:byte())
  end) .. '"'
end

local function encode(v)
  local t = type(v)
  if t == "string" then return encode_string(v)
  elseif t == "boolean" then return tostring(v)
  elseif t == "number" then
    if v ~= v or v == math.huge or v == -math.huge then return "null" end
    if math.type(v) == "integer" then return string.format("%d", v) end
    for precision = 14, 17 do -- the shortest text that reads back as the same number
      local s = string.format("%." .. precision .. "g", v)
      if precision == 17 or tonumber(s) == v then return s end
    end
  elseif t == "table" then
    local out = {}
    if getmetatable(v) == ARRAY or (#v > 0 and next(v, #v) == nil) then
      for i = 1, #v do out[i] = encode(v[i]) end
      return "[" .. table.concat(out, ",") .. "]"
    end
    local keys = {}
    for k in pairs(v) do keys[#keys + 1] = tostring(k) end
    table.sort(keys)
    for i, k in ipairs(keys) do
      local x = v[k]
      if x == nil then x = v[tonumber(k)] end
      out[i] = encode_string(k) .. ":" .. encode(x)
    end
    return "{" .. table.concat(out, ",") .. "}"
  end
  return "null"
end
M.encode = encode
M.encode_string = encode_string

local MAX_DEPTH = 64

local function decoder(s)
  local pos = 1
  local function fail(what) error({ json = what .. " at byte " .. pos }, 0) end
  local function skip() pos = s:find("[^ \t\r\n]", pos) or #s + 1 end
  local value

  local function str()
    pos = pos + 1 -- the opening quote
    local parts = {}
    while true do
      local a, b = s:find('^[^"\\%c]+', pos)
      if a then parts[#parts + 1] = s:sub(a, b); pos = b + 1 end
      local c = s:sub(pos, pos)
      if c == '"' then pos = pos + 1; return table.concat(parts) end
      if c ~= "\\" then fail(c == "" and "unterminated string" or "control character in string") end
      local e = s:sub(pos + 1, pos + 1)
      local simple = ({ ['"'] = '"', ["\\"] = "\\", ["/"] = "/", b = "\b", f = "\f", n = "\n", r = "\r",
        t = "\t" })[e]
      if simple then
        parts[#parts + 1] = simple; pos = pos + 2
      elseif e == "u" then
        local hex = s:match("^%x%x%x%x", pos + 2)
        if not hex then fail("bad \\u escape") end
        local cp = tonumber(hex, 16)
        pos = pos + 6
        if cp >= 0xD800 and cp <= 0xDBFF then
          local lo = s:match("^\\u(%x%x%x%x)", pos)
          lo = lo and tonumber(lo, 16)
          if not lo or lo < 0xDC00 or lo > 0xDFFF then fail("lone surrogate") end
          cp = 0x10000 + (cp - 0xD800) * 0x400 + (lo - 0xDC00)
          pos = pos + 6
        end
        parts[#parts + 1] = utf8.char(cp)
      else
        fail("bad escape")
      end
    end
  end

  function value(depth)
    if depth > MAX_DEPTH then fail("nesting too deep") end
    skip()
    local c = s:sub(pos, pos)
    if c == "{" then
      pos = pos + 1
      local obj = {}
      skip()
      if s:sub(pos, pos) == "}" then pos = pos + 1; return obj end
      while true do
        skip()
        if s:sub(pos, pos) ~= '"' then fail("expected a key") end
        local k = str()
        skip()
        if s:sub(pos, pos) ~= ":" then fail("expected ':'") end
        pos = pos + 1
        obj[k] = value(depth + 1)
        skip()
        c = s:sub(pos, pos)
        pos = pos + 1
        if c == "}" then return obj end
        if c ~= "," then fail("expected ',' or '}'") end
      end
    elseif c == "[" then
      pos = pos + 1
      local arr = M.array()
      skip()
      if s:sub(pos, pos) == "]" then pos = pos + 1; return arr end
      while true do
        arr[#arr + 1] = value(depth + 1)
        skip()
        c = s:sub(pos, pos)
        pos = pos + 1
        if c == "]" then return arr end
        if c ~= "," then fail("expected ',' or ']'") end
      end
    elseif c == '"' then
      return str()
    elseif s:find("^true", pos) then pos = pos + 4; return true
    elseif s:find("^false", pos) then pos = pos + 5; return false
    elseif s:find("^null", pos) then pos = pos + 4; return nil
    end
    local num = s:match("^-?%d+%.?%d*[eE]?[-+]?%d*", pos)
    if not num or num == "" or num == "-" then fail("unexpected " .. (c == "" and "end of text" or "'" .. c .. "'")) end
    pos = pos + #num
    local n = math.tointeger(tonumber(num)) or tonumber(num)
    if not n then fail("bad number") end
    return n
  end

  return function()
    local v = value(1)
    skip()
    if pos <= #s then fail("trailing text") end
    return v
  end
end

--- Decodes JSON text; value or nil, reason.
function M.decode(s)
  if type(s) ~= "string" then return nil, "JSON text must be a string" end
  local ok, v = pcall(decoder(s))
  if ok then return v end
  if type(v) == "table" and v.json then return nil, "invalid JSON: " .. v.json end
  error(v, 0)
end

return M

-- moonjail.json — JSON for what moonjail prints and keeps (the CLI's --json output, a named
-- sandbox's metadata, reports, audit records), through the pinned libraries and no codec of its
-- own: lua-cjson decodes (depth-limited, strict numbers) and escapes the large strings of a
-- command's result; Debian's lua-dkjson encodes documents, because lua-cjson 2.1.0 has neither an
-- empty-array marker nor a key order, and moonjail's output promises both.
--
-- encode(v) / write(file, v): a table marked with M.array, or a non-empty sequence, is an array;
-- every other table an object with its keys (as strings) in sorted order; NaN and ±inf become
-- null, as do functions and userdata; floats keep 17 significant digits where 14 would round;
-- whole numbers decode as integers.
-- write() streams: a string longer than 64 KiB is escaped by lua-cjson in 64 KiB slices straight
-- to the file, so printing a result costs the result plus a constant, never a second, escaped
-- copy of its output.
-- decode(s): strict RFC 8259 text (at most 64 levels deep) to plain tables; null inside an object
-- drops the key, inside an array the element (as moonjail's earlier decoder did).  value or nil,
-- reason.
-- Never: run code from its input, follow references, or escape a byte itself.
local M = {}

local ARRAY = { __jsontype = "array" }
local OBJECT_TYPE = "object"
local SLICE = 65536

--- Marks t (default: a new table) as a JSON array, so an empty one encodes as [] not {}.
function M.array(t) return setmetatable(t or {}, ARRAY) end

local cjson_mod, decoder, dkjson
local function cjson()
  if not cjson_mod then
    cjson_mod = require "cjson"
    decoder = cjson_mod.new()
    decoder.decode_max_depth(64)
    decoder.decode_invalid_numbers(false)
    decoder.encode_invalid_numbers(false)
  end
  return cjson_mod
end
local function dk()
  dkjson = dkjson or require "dkjson"
  return dkjson
end

-- The shortest text (14 to 17 significant digits) that reads back as float x.
local function float_text(x)
  for precision = 14, 17 do
    local s = string.format("%." .. precision .. "g", x)
    if precision == 17 or tonumber(s) == x then return s end
  end
end

-- A copy of v that dkjson encodes as promised: arrays and objects marked, object keys sorted,
-- floats exact.  Strings longer than SLICE become placeholders (big[i]) when big is given.
local function shadow(v, big, seen)
  local t = type(v)
  if t == "string" then
    if big and #v > SLICE then
      big[#big + 1] = v
      local marker = "\1mj-json-big:" .. #big .. "\1" -- no encoded value can be this piece
      big[marker] = v
      return setmetatable({}, { __tojson = function() return marker end })
    end
    return v
  elseif t == "number" then
    if v ~= v or v == math.huge or v == -math.huge then return dk().null end
    if math.type(v) == "float" then
      local s = float_text(v)
      return setmetatable({}, { __tojson = function() return s end })
    end
    return v
  elseif t == "boolean" then
    return v
  elseif t ~= "table" then
    return dk().null
  end
  if seen[v] then error("moonjail.json: a table refers to itself", 0) end
  seen[v] = true
  local out
  local n = #v
  if getmetatable(v) == ARRAY or (n > 0 and next(v, n) == nil) then
    out = setmetatable({}, { __jsontype = "array" })
    for i = 1, n do
      local x = shadow(v[i], big, seen)
      out[i] = x == nil and dk().null or x
    end
  else
    local keys, copy = {}, {}
    for k, x in pairs(v) do
      local key = tostring(k)
      keys[#keys + 1] = key
      copy[key] = shadow(x, big, seen)
    end
    table.sort(keys)
    out = setmetatable(copy, { __jsontype = OBJECT_TYPE, __jsonorder = keys })
  end
  seen[v] = nil
  return out
end

--- Encodes v as one line of JSON text.
function M.encode(v)
  local text, why = dk().encode(shadow(v, nil, {}))
  if not text then error("moonjail.json: " .. tostring(why), 2) end
  return text
end

--- Writes v as JSON to file (anything with :write), large strings in slices; returns file.
function M.write(file, v)
  local big = {}
  local buffer = {}
  local ok, why = dk().encode(shadow(v, big, {}), { buffer = buffer })
  if not ok then error("moonjail.json: " .. tostring(why), 2) end
  local c = cjson()
  for _, piece in ipairs(buffer) do
    local s = big[piece]
    if s then
      file:write('"')
      for i = 1, #s, SLICE do
        local e = c.encode(s:sub(i, i + SLICE - 1))
        file:write(e:sub(2, -2)) -- lua-cjson escapes byte by byte: slices join cleanly
        collectgarbage("step", 0) -- slices are garbage at once: never let them pile up
      end
      file:write('"')
    else
      file:write(piece)
    end
  end
  return file
end

-- cjson's decoded value with its nulls removed (see the header) and whole numbers as integers
-- (lua-cjson 2.1.0 reads every number as a float).
local function without_nulls(v, null)
  if type(v) == "number" then return math.tointeger(v) or v end
  if type(v) ~= "table" then return v end
  local n = #v
  if n > 0 and next(v, n) == nil then
    local out = {}
    for i = 1, n do
      if v[i] ~= null then out[#out + 1] = without_nulls(v[i], null) end
    end
    return out
  end
  for k, x in pairs(v) do
    if x == null then v[k] = nil else v[k] = without_nulls(x, null) end
  end
  return v
end

--- Decodes untrusted JSON text as lua-cjson reads it (same depth limit and strict numbers), nulls
--- kept as M.null() and numbers as floats: for validators that must see the document as it is
--- (image manifests).  value or nil, reason.
function M.decode_raw(s)
  if type(s) ~= "string" then return nil, "JSON text must be a string" end
  cjson()
  local ok, v = pcall(decoder.decode, s)
  if not ok then return nil, (tostring(v):gsub("^.-: ", "")) end
  return v
end

--- lua-cjson's null, as decode_raw returns it.
function M.null() return cjson().null end

--- Decodes JSON text; value or nil, reason.
function M.decode(s)
  if type(s) ~= "string" then return nil, "JSON text must be a string" end
  local c = cjson()
  local ok, v = pcall(decoder.decode, s)
  if not ok then return nil, "invalid JSON: " .. tostring(v):gsub("^.-: ", "") end
  if v == c.null then return nil end
  return without_nulls(v, c.null)
end

return M

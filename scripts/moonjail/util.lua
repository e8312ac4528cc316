-- moonjail.util — small pure helpers shared by the API, the policy loader and the CLI:
-- size and duration parsing, "did you mean" suggestions, table copies.
-- Owns no state and touches nothing outside its arguments.
local M = {}

local SIZE_UNITS = { [""] = 1, K = 1024, M = 1024 ^ 2, G = 1024 ^ 3, T = 1024 ^ 4 }

--- Parses a binary size: an integer number of bytes, or "512M", "1.5G", "64KiB", "10B".
-- Returns bytes (integer) or nil, reason.
function M.parse_size(v)
  if math.type(v) == "integer" then
    if v < 0 then return nil, "a size must not be negative" end
    return v
  elseif type(v) == "number" then
    if v ~= v or v < 0 or v == math.huge then return nil, "a size must be a finite number >= 0" end
    return math.floor(v)
  elseif type(v) ~= "string" then
    return nil, "a size must be a number of bytes or a string like \"512M\""
  end
  local num, unit, rest = v:match("^%s*(%d+%.?%d*)%s*([kKmMgGtT]?)(%a*)%s*$")
  if num and (rest == "" or rest == "B" or rest == "b" or rest == "iB" or rest == "ib")
    and not (unit == "" and (rest == "iB" or rest == "ib")) then
    local bytes = math.floor(tonumber(num) * SIZE_UNITS[unit:upper()])
    if bytes >= 2 ^ 63 then return nil, "size too large: '" .. v .. "'" end
    return math.tointeger(bytes)
  end
  return nil, "invalid size '" .. v .. "' (expected e.g. 4096, \"512K\", \"64M\", \"2G\")"
end

local DURATION_UNITS = { ms = 0.001, s = 1, m = 60, h = 3600 }

--- Parses a duration: a number of seconds, or "90s", "1m30s", "2h", "500ms", "1.5".
-- Returns seconds (number) or nil, reason.
function M.parse_duration(v)
  if type(v) == "number" then
    if v ~= v or v < 0 or v == math.huge then return nil, "a duration must be a finite number >= 0" end
    return v
  elseif type(v) ~= "string" then
    return nil, "a duration must be a number of seconds or a string like \"90s\""
  end
  local s = v:match("^%s*(.-)%s*$")
  local plain = s:match("^%d+%.?%d*$")
  if plain then
    local d = tonumber(plain)
    if d == math.huge then return nil, "duration '" .. v .. "' is too long" end
    return d
  end
  local total, pos = 0, 1
  while pos <= #s do
    local num, unit, nxt = s:match("^(%d+%.?%d*)(%a+)()", pos)
    if not num or not DURATION_UNITS[unit] then
      return nil, "invalid duration '" .. v .. "' (expected e.g. 30, \"90s\", \"1m30s\", \"2h\", \"500ms\")"
    end
    -- integers stay integers unless they would wrap (found by fuzzing: "244444444444444449h9h")
    local n, u = tonumber(num), DURATION_UNITS[unit]
    local int = math.type(n) == "integer" and math.type(u) == "integer"
    local part = (int and n > math.maxinteger // u) and n * 1.0 * u or n * u
    if math.type(total) == "integer" and math.type(part) == "integer" and total > math.maxinteger - part then
      total = total * 1.0
    end
    total = total + part
    pos = nxt
  end
  if s == "" then return nil, "invalid duration '" .. v .. "'" end
  if total == math.huge then return nil, "duration '" .. v .. "' is too long" end
  return total
end

-- Levenshtein distance, for suggestions; short strings only.
local function distance(a, b)
  if #a > 40 or #b > 40 then return math.huge end
  local prev = {}
  for j = 0, #b do prev[j] = j end
  for i = 1, #a do
    local cur = { [0] = i }
    for j = 1, #b do
      local cost = a:byte(i) == b:byte(j) and 0 or 1
      cur[j] = math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
    end
    prev = cur
  end
  return prev[#b]
end

--- The closest of candidates (a set or an array of strings) to word, or nil when none is close.
function M.suggest(word, candidates)
  if type(word) ~= "string" then return nil end
  local best, best_d
  local function try(c)
    if type(c) ~= "string" then return end -- (a recipe's or policy's table may hold anything)
    local d = distance(word:lower(), c:lower())
    if d <= math.max(2, #c // 3) and (not best_d or d < best_d or (d == best_d and c < best)) then
      best, best_d = c, d
    end
  end
  for k, v in pairs(candidates) do
    try(type(k) == "string" and k or v)
  end
  return best
end

--- Sorted keys of a table (strings first, then the rest by tostring).
function M.sorted_keys(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys, function(a, b)
    if type(a) == type(b) and (type(a) == "string" or type(a) == "number") then return a < b end
    return tostring(a) < tostring(b)
  end)
  return keys
end

--- True when t is a non-empty sequence 1..n with no other keys.
function M.is_array(t)
  local n = 0
  for _ in pairs(t) do n = n + 1 end
  return n > 0 and n == #t
end

--- Deep copy of plain data (no metatables, no cycles expected).
function M.deepcopy(v)
  if type(v) ~= "table" then return v end
  local out = {}
  for k, x in pairs(v) do out[k] = M.deepcopy(x) end
  return out
end

--- Lexically cleans an absolute path: removes "." components, resolves "..", drops extra "/".
function M.clean_path(p)
  local parts = {}
  for part in p:gmatch("[^/]+") do
    if part == ".." then parts[#parts] = nil
    elseif part ~= "." then parts[#parts + 1] = part end
  end
  return "/" .. table.concat(parts, "/")
end

--- Is p an absolute path without "." or ".." components?
function M.is_clean_abs(p)
  if type(p) ~= "string" or p:sub(1, 1) ~= "/" or p:find("%z") then return false end
  for part in p:gmatch("[^/]+") do
    if part == "." or part == ".." then return false end
  end
  return true
end

-- Linux signal numbers (x86-64 and arm64 agree on these).
local SIGNALS = { HUP = 1, INT = 2, QUIT = 3, ILL = 4, TRAP = 5, ABRT = 6, IOT = 6, BUS = 7, FPE = 8, KILL = 9,
  USR1 = 10, SEGV = 11, USR2 = 12, PIPE = 13, ALRM = 14, TERM = 15, STKFLT = 16, CHLD = 17, CONT = 18,
  STOP = 19, TSTP = 20, TTIN = 21, TTOU = 22, URG = 23, XCPU = 24, XFSZ = 25, VTALRM = 26, PROF = 27,
  WINCH = 28, IO = 29, POLL = 29, PWR = 30, SYS = 31 }
M.SIGNALS = SIGNALS

--- Parses a signal: an integer 0..64, a numeric string, "TERM", "SIGTERM", "term", "RTMIN+3".
-- Returns the number or nil, reason.
function M.signal_number(v)
  local n = math.type(v) == "integer" and v
    or (type(v) == "string" and v:match("^%-?%d+$") and math.tointeger(tonumber(v))) -- decimal only
  if n then
    if n >= 0 and n <= 64 then return n end
    return nil, "signal number out of range: " .. tostring(v)
  end
  if type(v) ~= "string" then return nil, "a signal must be a number or a name such as \"TERM\"" end
  local name = v:upper():gsub("^SIG", "")
  if SIGNALS[name] then return SIGNALS[name] end
  local rt, off = name:match("^RT(M[AI][XN])([+-]?%d*)$")
  if rt then
    off = tonumber(off ~= "" and off or "0")
    local num = (rt == "MIN" and 34 or 64) + off
    if num >= 34 and num <= 64 then return num end
  end
  return nil, "unknown signal '" .. v .. "'"
end

--- A command's wall-clock timeout and output cap: its own option, else the given default.
--- Returns true, timeout, output (either may be nil) or nil, message naming the option.
function M.command_caps(opts, timeout_default, output_default)
  local t, o = opts.timeout, opts.output_limit
  if t == nil then t = timeout_default end
  if o == nil then o = output_default end
  local timeout, output, why
  if t ~= nil then
    timeout, why = M.parse_duration(t)
    if not timeout then return nil, "option 'timeout': " .. why end
  end
  if o ~= nil then
    output, why = M.parse_size(o)
    if not output then return nil, "option 'output_limit': " .. why end
  end
  return true, timeout, output
end

-- Copies a caller's `env` option into dst (values as strings); nil, or a message naming the
-- offending variable when a name is empty or holds "=" or NUL, or a value is not a string/number.
function M.add_env(dst, env)
  for k, v in pairs(env) do
    if type(k) ~= "string" or k == "" or k:find("[=%z]") then
      return "option 'env': invalid variable name '" .. tostring(k) .. "'"
    end
    if type(v) ~= "string" and type(v) ~= "number" then
      return "option 'env': value of '" .. k .. "' must be a string"
    end
    dst[k] = tostring(v)
  end
end

--- The warning a command killed at its wall-clock limit carries (as the OOM killer's does).
function M.timeout_warning(seconds)
  local limit = type(seconds) == "number" and string.format(" (%gs)", seconds) or ""
  return "the command ran past its time limit" .. limit .. " and was killed"
end

--- The directory part of a path: "a/b" -> "a", "/a" -> "/", "a" -> ".".
function M.dirname(path)
  local d = path:match("^(.*)/[^/]*$")
  if d == nil then return "." end
  if d == "" then return "/" end
  return d
end

--- The same error (code, retryable, errno, cause) with `prefix: ` in front of its detail:
--- "Invalid configuration: repositories[1] (/src): …" rather than a prefix before the base text.
function M.prefix_error(core, e, prefix)
  if type(e) ~= "table" or not e.code then return core.error("SANDBOX_INIT_FAILED", prefix .. ": " .. tostring(e)) end
  local base = core.error(e.code).message
  local detail = e.message
  if detail:sub(1, #base + 2) == base .. ": " then detail = detail:sub(#base + 3)
  elseif detail == base then detail = nil end
  return core.error(e.code, prefix .. (detail and (": " .. detail) or ""),
    { retryable = e.retryable == true, errno = math.tointeger(e.errno), cause = e.cause })
end

return M

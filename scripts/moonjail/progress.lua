-- moonjail.progress — how long work shows its progress: repository downloads (moonjail.repo over
-- core.fetch) and image pulls (moonjail.image's events) feed the same reporter.
--
-- Events (tables): { event = "download", url, done, total } from repositories; { event =
-- "manifest", digest, media_type } and { event = "blob", digest, kind, index, done, total } from
-- image pulls (total may be nil when the server does not say).  An item is done when done ==
-- total, or when :finish() is called.
-- Modes: "bar" (a live line per item on a terminal: bytes, rate, ETA), "json" (each event as one
-- line of JSON, with the time), "none".  M.for_cli(flags, stream) picks the CLI's: nothing with
-- -q, JSON with --json, a bar on a terminal, nothing otherwise.
-- Never: write anywhere but the stream it was given, or slow the work down (a bar is redrawn at
-- most every 100 ms).
local M = {}

local REDRAW = 0.1

local function human(n)
  local units = { "B", "KiB", "MiB", "GiB", "TiB" }
  local u = 1
  while n >= 1024 and u < #units do n = n / 1024; u = u + 1 end
  return u == 1 and string.format("%d%s", n, units[u]) or string.format("%.1f%s", n, units[u])
end
M.human = human

local function eta_text(s)
  if not s or s ~= s or s == math.huge or s < 0 then return "--" end
  s = math.floor(s + 0.5)
  if s < 60 then return s .. "s" end
  if s < 3600 then return string.format("%dm%02ds", s // 60, s % 60) end
  return string.format("%dh%02dm", s // 3600, (s % 3600) // 60)
end

-- The label of an event's item, and its key.
local function item_of(e)
  if e.event == "download" then
    local name = tostring(e.url or "?"):gsub("^https?://[^/]*", ""):match("[^/]*$")
    return e.url or "?", "download " .. (name ~= "" and name or tostring(e.url))
  elseif e.event == "blob" then
    local d = tostring(e.digest or "?")
    return d, (e.kind or "blob") .. " " .. (d:match(":(%x+)$") or d):sub(1, 12)
  end
  return nil
end

--- One line of a bar: label, bar, bytes, rate, ETA (width columns at most).
function M.bar_line(label, done, total, rate, width)
  width = width or 80
  local bytes = total and (human(done) .. "/" .. human(total)) or human(done)
  local tail = string.format("  %s  %s/s  ETA %s", bytes, human(rate or 0),
    total and rate and rate > 0 and eta_text((total - done) / rate) or "--")
  if total and done >= total then tail = string.format("  %s  done", human(total)) end
  local barw = math.max(10, width - #tail - 26)
  local bar
  if total and total > 0 then
    local filled = math.min(barw, math.floor(barw * done / total))
    bar = "[" .. string.rep("=", filled) .. (filled < barw and ">" or "") .. string.rep(" ", barw - filled - 1) .. "]"
    if filled >= barw then bar = "[" .. string.rep("=", barw) .. "]" end
  else
    bar = "[" .. string.rep("?", barw) .. "]"
  end
  label = #label > 24 and (label:sub(1, 23) .. "…") or label
  return string.format("%-24s %s%s", label, bar, tail)
end

--- A reporter: mode "bar" | "json" | "none"; out: a file (default io.stderr); now: a clock
--- (default os.clock-free monotonic from the module, for tests); width: columns of a bar.
function M.new(opts)
  opts = opts or {}
  local R = { mode = opts.mode or "none", out = opts.out or io.stderr }
  local now = opts.now or require("moonjail").now
  local width = opts.width or tonumber(os.getenv("COLUMNS") or "") or 80
  local items, order = {}, {}
  local drawn = 0 -- lines of the bar block on the screen
  local last_draw = -math.huge
  local json

  local function draw(force)
    local t = now()
    if not force and t - last_draw < REDRAW then return end
    last_draw = t
    local out = {}
    if drawn > 0 then out[#out + 1] = string.format("\27[%dA", drawn) end
    for _, key in ipairs(order) do
      local it = items[key]
      out[#out + 1] = "\r\27[2K" .. M.bar_line(it.label, it.done, it.total, it.rate, width) .. "\n"
    end
    drawn = #order
    R.out:write(table.concat(out))
    R.out:flush()
  end

  --- Takes one event.
  function R:event(e)
    if self.mode == "none" or type(e) ~= "table" then return end
    if self.mode == "json" then
      json = json or require "moonjail.json"
      local rec = {}
      for k, v in pairs(e) do rec[k] = v end
      rec.time = now()
      self.out:write(json.encode(rec), "\n")
      self.out:flush()
      return
    end
    local key, label = item_of(e)
    if not key then
      if e.event == "manifest" then
        self.out:write("\r\27[2K", "manifest ", tostring(e.digest), "\n")
        drawn = 0 -- the bars start again below it
      end
      return
    end
    local it = items[key]
    local t = now()
    if not it then
      it = { label = label, start = t, done = 0 }
      items[key] = it
      order[#order + 1] = key
    end
    it.done = math.tointeger(e.done) or e.done or it.done
    it.total = math.tointeger(e.total) or e.total
    local elapsed = t - it.start
    it.rate = elapsed > 0.05 and it.done / elapsed or nil
    draw(it.total ~= nil and it.done >= it.total)
  end

  --- Draws the final state (every item as it stands).
  function R:finish()
    if self.mode == "bar" and #order > 0 then draw(true) end
  end

  --- The function form, for options that take one (mj.run's progress, image pulls).
  function R:callback()
    return function(e) self:event(e) end
  end

  return R
end

--- The CLI's reporter for a command's flags (quiet, json) on stream (default io.stderr).
function M.for_cli(flags, stream)
  stream = stream or io.stderr
  local mode = "none"
  if flags.quiet then
    mode = "none"
  elseif flags.json then
    mode = "json"
  elseif require("moonjail").isatty(stream == io.stdout and 1 or 2) then
    mode = "bar"
  end
  return M.new({ mode = mode, out = stream })
end

return M

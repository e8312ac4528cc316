-- spec/unit/progress_spec.lua — moonjail.progress, the reporter of long work (repository downloads
-- now, image pulls later): a live bar with bytes, rate and ETA on a terminal, one JSON event per
-- line with --json, nothing with -q or off a terminal.  A fake clock and an in-memory stream.
local progress = require "moonjail.progress"
local helpers = require "spec.helpers"

local function sink()
  local s = { text = "" }
  function s:write(...) for _, v in ipairs({ ... }) do self.text = self.text .. v end return self end
  function s.flush() end
  return s
end

local function clock()
  local t = 100
  return function() return t end, function(d) t = t + d end
end

describe("progress", function()
  it("draws a bar per item with bytes, rate and ETA, redrawn at most every 100 ms, done at the end", function()
    local out, now, tick = sink(), clock()
    local r = progress.new({ mode = "bar", out = out, now = now, width = 100 })
    local url = "https://example.org/src.tar.gz"
    r:event({ event = "download", url = url, done = 0, total = 4 * 1048576 })
    tick(1)
    r:event({ event = "download", url = url, done = 1048576, total = 4 * 1048576 })
    local mid = out.text
    assert.matches("1%.0MiB/4%.0MiB", mid)
    assert.matches("1%.0MiB/s", mid)
    assert.matches("ETA 3s", mid, 1, true)
    tick(0.01)
    r:event({ event = "download", url = url, done = 2 * 1048576, total = 4 * 1048576 })
    assert.are.equal(mid, out.text) -- within 100 ms: not redrawn
    tick(3)
    r:event({ event = "download", url = url, done = 4 * 1048576, total = 4 * 1048576 })
    assert.matches("4%.0MiB  done\n$", out.text)
    assert.matches("\27[1A", out.text, 1, true) -- drawn over itself
  end)

  it("writes each event as one line of JSON with the time", function()
    local out, now = sink(), clock()
    local r = progress.new({ mode = "json", out = out, now = now })
    r:event({ event = "download", url = "https://example.org/a.tar", done = 10, total = 20 })
    r:event({ event = "download", url = "https://example.org/a.tar", done = 20, total = 20 })
    local lines = helpers.lines(out.text)
    assert.are.equal(2, #lines)
    local e = helpers.json_decode(lines[2])
    assert.are.same({ event = "download", url = "https://example.org/a.tar", done = 20, total = 20, time = 100 }, e)
  end)

  it("says nothing with -q, or off a terminal", function()
    local out = sink()
    local r = progress.for_cli({ quiet = true }, out)
    r:event({ event = "download", url = "u", done = 1, total = 2 })
    r:finish()
    assert.are.equal("none", r.mode)
    assert.are.equal("", out.text)
    assert.are.equal("json", progress.for_cli({ json = true }, out).mode)
    -- ctest's stderr is not a terminal
    assert.are.equal("none", progress.for_cli({}, io.stderr).mode)
  end)
end)

-- spec/integration/output_memory_spec.lua — the output cap caps the CLI's own memory too (issue
-- "Hostile input and faults", item 7): a command printing far past --output-limit grows the CLI
-- by no more than a constant when its output streams, and by a small multiple of the cap with
-- --json (the output held once, escaped and written in slices).  The CLI's peak resident size is
-- read by GNU time (%M, KiB).
local helpers = require "spec.helpers"

if helpers.skip_unless_sandboxes() then return end

local q = helpers.shell_quote
local MiB = 1024

-- Runs `moonjail ARGS` (stdout and stderr to /dev/null); returns its exit status and peak RSS in KiB.
local function peak(args)
  local words = {}
  for _, a in ipairs(args) do words[#words + 1] = q(a) end
  local out = helpers.sh("/usr/bin/time -f 'peak=%M exit=%x' " .. q(helpers.moonjail_bin()) .. " "
    .. table.concat(words, " ") .. " 2>&1 >/dev/null | tail -1")
  local kib, status = out:match("peak=(%d+) exit=(%d+)")
  assert(kib, "no GNU time output: " .. out)
  return tonumber(status), tonumber(kib)
end

describe("the CLI's memory under --output-limit", function()
  teardown(function() helpers.cleanup() end)

  it("stays near constant while the output streams past the cap", function()
    if not helpers.exists("/usr/bin/time") then return pending("GNU time is not installed (package time)") end
    local status, kib = peak({ "run", "--output-limit", "8M", "--", "sh", "-c", "yes | head -c 400M" })
    assert.are_not.equal(0, status) -- the cap ended the command
    assert.is_true(kib < 48 * MiB, string.format("the CLI peaked at %.1f MiB", kib / MiB))
  end)

  it("stays within a small multiple of the cap with --json", function()
    if not helpers.exists("/usr/bin/time") then return pending("GNU time is not installed (package time)") end
    if os.getenv("MOONJAIL_SANITIZED") then
      -- ASan keeps freed memory in quarantine (256 MiB): the peak RSS says nothing of the CLI's use
      return pending("under ASan the peak RSS includes its quarantine of freed memory")
    end
    local status, kib = peak({ "run", "--json", "--output-limit", "16M", "--", "sh", "-c",
      "head -c 400M /dev/zero" }) -- NUL: six bytes escaped
    assert.are_not.equal(0, status)
    -- 16M of output as kept strings, its escaped slices and the interpreter: at most 6x the cap
    assert.is_true(kib < 6 * 16 * MiB, string.format("the CLI peaked at %.1f MiB for a 16 MiB cap", kib / MiB))
  end)
end)

-- spec/unit/skip_spec.lua — how a spec file that cannot run on this host skips itself.
--
-- Covers: helpers.skip_file under ctest (spec/run.lua, one file per process: "SKIP: reason" and
-- exit 77, which ctest counts as skipped) and under a plain `busted --lua=lua5.4` run (a pending
-- test carrying the reason, and the run goes on: other files still run and are counted).
local helpers = require "spec.helpers"

local q = helpers.shell_quote
local root = os.getenv("MOONJAIL_SOURCE_DIR") or "."
local fixture = "spec/fixtures/skipping.lua"

local function sh(cmd)
  local out = helpers.sh("cd " .. q(root) .. " && " .. cmd .. " 2>&1; echo \"status $?\"")
  return out:gsub("\nstatus (%d+)$", ""), tonumber(out:match("status (%d+)$"))
end

describe("helpers.skip_file", function()
  it("exits 77 with the reason under spec/run.lua (ctest's skipped)", function()
    local out, status = sh("MJSPEC_SKIP_REASON='no frobnicator here' " .. q(helpers.moonjail_bin())
                           .. " script spec/run.lua " .. fixture)
    assert.are.equal(77, status, out)
    assert.matches("SKIP: no frobnicator here", out, 1, true)
  end)

  it("runs the file's tests when it does not skip", function()
    local out, status = sh(q(helpers.moonjail_bin()) .. " script spec/run.lua " .. fixture)
    assert.are.equal(0, status, out)
    assert.matches("1 success", out, 1, true)
  end)

  it("records a pending test and goes on under a plain busted run", function()
    if os.execute("command -v busted >/dev/null 2>&1") ~= true then
      return pending("busted (lua-busted) is not installed")
    end
    if not helpers.exists(root .. "/build/moonjail.so") then
      return pending("no ./build/moonjail.so: a plain busted run needs the ./build tree")
    end
    -- two files in one run: the skipping one must not end it
    local out, status = sh("MJSPEC_SKIP_REASON='no frobnicator here' busted --lua=lua5.4 -o TAP "
                           .. "-p '%.lua$' " .. fixture .. " spec/unit/error_spec.lua")
    assert.are.equal(0, status, out)
    assert.matches("ok 1 - # SKIP SKIP: no frobnicator here", out, 1, true)
    assert.matches("ok %d+ .*error", out)
  end)
end)

-- spec/unit/spec_helpers_spec.lua — the suite's own helpers, where a mistake in them shows up
-- only as another test's flake.
--
-- Covers: helpers.unique_number differs between spec processes started at the same moment (the
-- root and rootless lanes of one spec run in parallel; in the ASan build math.random drew the
-- same numbers in both, and each lane counted the other's `sleep N` as its own leftovers).
local helpers = require "spec.helpers"

local q = helpers.shell_quote
local root = os.getenv("MOONJAIL_SOURCE_DIR") or "."

describe("helpers.unique_number", function()
  it("draws different numbers in processes started at the same moment", function()
    local script = helpers.tmpdir("0755") .. "/draw.lua"
    helpers.write_file(script, [[
package.path = "./?.lua;" .. package.path
local helpers = require "spec.helpers"
io.write(helpers.unique_number(), " ", helpers.unique_number(), " ", helpers.unique_number(), "\n")
]])
    local bin = q(helpers.moonjail_bin())
    local out = helpers.sh("cd " .. q(root) .. " && { " .. bin .. " script " .. q(script) .. " & "
      .. bin .. " script " .. q(script) .. "; wait; }")
    local a, b = out:match("^([^\n]+)\n([^\n]+)$")
    assert.is_truthy(a and b, out)
    assert.are_not.equal(a, b)
    for n in (a .. " " .. b):gmatch("%d+") do
      assert.is_true(tonumber(n) >= 20000 and tonumber(n) <= 89999, n)
    end
  end)

  teardown(function() helpers.cleanup() end)
end)

-- spec/run.lua — the busted entry point, run by the moonjail executable itself so the specs test
-- exactly the Lua and the module users run:
--
--   moonjail script spec/run.lua spec/unit/api_spec.lua [busted options]
--
-- It makes the source root's modules requireable (`require "spec.helpers"`), then hands over to
-- busted's runner, which reads the global `arg`.  Exit status: 0 when every test passed, non-zero
-- when any failed or errored (busted exits 1 itself), 77 when the spec file skipped itself
-- (helpers.skip_file exits the process directly here; under a plain `busted` run it records a
-- pending test instead, see .busted).

local function dirname(path)
  return path:match("^(.*)/[^/]*$") or "."
end

-- arg[0] is this file: its directory's parent is the source root.
local root = dirname(dirname(arg and arg[0] or "spec/run.lua"))
package.path = root .. "/?.lua;" .. root .. "/?/init.lua;" .. package.path

-- One file per process: helpers.skip_file may exit 77 (ctest's "skipped") instead of recording a
-- pending test as it does under a plain `busted` run of the whole suite.
package.loaded["spec.single_file"] = true

require("busted.runner")({ standalone = false })

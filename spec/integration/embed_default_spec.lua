-- spec/integration/embed_default_spec.lua — a C host's one call for the default sandbox.
--
-- Covers: mj_config_new_default() builds the same plan as `moonjail run` with no options — the
-- same mounts, generated /etc, layer, filters, limits and environment — compared as the text of
-- the internal plan dump (core/tests/plan_dump.c beside `moonjail run --dump-plan`), for two
-- commands; a change on either side (policies/default.lua or core/src/defaults.c) that the other
-- does not make fails here.  No sandbox is started.
local helpers = require "spec.helpers"

local q = helpers.shell_quote
local build_dir = os.getenv("MOONJAIL_BUILD_DIR") or helpers.moonjail_bin():match("^(.*)/[^/]*$") or "build"
local plan_dump = build_dir .. "/tests/plan_dump"

if not helpers.exists(plan_dump) then
  return helpers.skip_file("no " .. plan_dump .. " in this build")
end

-- The environment both take TERM and LANG from, fixed so that the two agree on it.
local ENV = "env -i PATH=/usr/bin:/bin TERM=xterm LANG=C.UTF-8 "

describe("mj_config_new_default", function()
  it("plans the sandbox `moonjail run` plans with no options", function()
    for _, cmd in ipairs({ { "true" }, { "sh", "-c", "echo hi" } }) do
      local words = {}
      for i, w in ipairs(cmd) do words[i] = q(w) end
      local args = table.concat(words, " ")
      local c = helpers.sh(ENV .. q(plan_dump) .. " " .. args)
      local cli = helpers.sh(ENV .. q(helpers.moonjail_bin()) .. " run --dump-plan -- " .. args)
      assert.is_truthy(c:find("^root host writable"), c)
      assert.are.equal(cli, c)
    end
  end)

  it("differs from it as soon as an option does (the comparison sees the plan)", function()
    local c = helpers.sh(ENV .. q(plan_dump) .. " true")
    local cli = helpers.sh(ENV .. q(helpers.moonjail_bin()) .. " run --dump-plan --hostname other -- true")
    assert.are_not.equal(cli, c)
  end)
end)

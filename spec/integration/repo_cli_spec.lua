-- spec/integration/repo_cli_spec.lua — repositories from the command line.
--
-- Covers: `moonjail run --repo SRC:DST:MODE --exclude GLOB` (an excluded file unreachable, cow
-- writes not reaching the host); `moonjail create NAME --repo …:cow`, `moonjail diff NAME` in
-- docker's A/C/D form and as JSON, `moonjail diff NAME --export DEST.tar`, and `moonjail rm`
-- removing the working tree; usage errors for a malformed --repo and an --exclude without one.
local helpers = require "spec.helpers"

if helpers.skip_unless_sandboxes() then return end

local q = helpers.shell_quote
local NAME = "mjspec-repo-cli-" .. helpers.unique_number()

describe("moonjail --repo", function()
  local dir
  before_each(function()
    dir = helpers.tmpdir()
    helpers.sh("cd " .. q(dir) .. " && echo keep > readme && echo hidden > token.key && mkdir sub && echo s > sub/f")
  end)
  teardown(function()
    helpers.cli({ "rm", "-f", NAME })
    helpers.cleanup()
  end)

  it("mounts a cow repository for one run, with exclusions, leaving the host alone", function()
    local r = helpers.cli({ "run", "--repo", dir .. ":/src:cow", "--exclude", "*.key", "--", "sh", "-c",
      "cat /src/readme; cat /src/token.key; echo changed > /src/readme; cat /src/readme" })
    assert.are.equal(0, r.status, r.stderr)
    assert.are.equal("keep\nchanged\n", r.stdout)
    assert.are.equal("keep\n", helpers.read_file(dir .. "/readme"))
  end)

  it("lists and exports the changes of a named sandbox, and rm removes its working tree", function()
    local r = helpers.cli({ "create", NAME, "--repo", dir .. ":/src:cow" })
    assert.are.equal(0, r.status, r.stderr)
    r = helpers.cli({ "exec", NAME, "sh", "-c", "echo new > /src/new && rm /src/sub/f && echo x >> /src/readme" })
    assert.are.equal(0, r.status, r.stderr)
    r = helpers.cli({ "diff", NAME })
    assert.are.equal(0, r.status, r.stderr)
    assert.are.equal("A /src/new\nC /src/readme\nD /src/sub/f\n", r.stdout)
    r = helpers.cli({ "diff", NAME, "--json" })
    local list = helpers.json_decode(r.stdout)
    assert.are.equal(3, #list)
    assert.are.equal("added", list[1].kind)
    local out = helpers.tmpdir()
    r = helpers.cli({ "diff", NAME, "--export", out .. "/changes.tar" })
    assert.are.equal(0, r.status, r.stderr)
    assert.are.equal("new\nreadme\nsub/.wh.f", helpers.sh("tar tf " .. q(out .. "/changes.tar") .. " | sort"))
    local info = helpers.json_decode(helpers.cli({ "info", NAME, "--json" }).stdout)
    assert.is_table(info)
    r = helpers.cli({ "rm", "-f", NAME })
    assert.are.equal(0, r.status, r.stderr)
    r = helpers.cli({ "diff", NAME })
    assert.are.equal(125, r.status)
    assert.are.equal("keep\n", helpers.read_file(dir .. "/readme"))
  end)

  it("refuses a malformed --repo and an --exclude without one", function()
    local r = helpers.cli({ "run", "--repo", ":/src", "--", "true" })
    assert.are.equal(125, r.status)
    assert.is_truthy(r.stderr:find("--repo needs", 1, true), r.stderr)
    r = helpers.cli({ "run", "--exclude", "*.key", "--", "true" })
    assert.are.equal(125, r.status)
    assert.is_truthy(r.stderr:find("--exclude applies", 1, true), r.stderr)
    r = helpers.cli({ "run", "--repo", dir .. ":/src:copy", "--", "true" })
    assert.are.equal(125, r.status)
    assert.is_truthy(r.stderr:find("mode:", 1, true), r.stderr)
  end)
end)

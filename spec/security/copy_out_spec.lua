-- spec/security/copy_out_spec.lua — what costs a sandbox nothing must not cost the host's disk
-- without bound (SECURITY.md "Resource amplification on the host"; issue 18 items 4 and 9).
--
-- Covers, root and rootless:
--  - a 1 GiB sparse file (a few bytes of data in the middle) copies out as a sparse file: same size
--    and bytes, under 1 MiB allocated on the host (also through `moonjail cp`);
--  - copy_out's budget: `max_bytes` stops a file and a tree of hard links to one file (a sandbox's
--    cheap way to multiply data) with RESOURCE_LIMIT_EXCEEDED naming the budget, and leaves
--    nothing behind; `max_entries` does the same for 1200 empty files; a tree deeper than 256
--    levels is refused the same way; within the budget, copy_out says what it wrote;
--  - a recipe's `output_budget` is shared by its artifacts and its hooks' copy_out: what does not
--    fit is a missing artifact whose warning names the budget; a bad output_budget is
--    INVALID_CONFIG when the recipe loads;
--  - `cp NAME:FIFO` (and copy_out of a FIFO) is an error naming the path, creating nothing, while
--    a FIFO inside a copied tree is left out;
--  - a destination that fails on the host is named in the error, not the source: an existing
--    directory where the file would go, a symlink at the destination.
-- The host files written are in this spec's own temp dirs.
local mj = require "moonjail"
local helpers = require "spec.helpers"

if helpers.skip_unless_sandboxes() then return end

local function q(s) return helpers.shell_quote(s) end

local function sh_ok(sb, cmd)
  local res = assert(sb:exec(cmd))
  assert(res.exit_code == 0, string.format("%q exited %d: %s", cmd, res.exit_code, res.stderr))
  return res.stdout
end

local function assert_error(err, code)
  assert.is_true(mj.is_error(err), "not a moonjail error: " .. tostring(err))
  assert.are.equal(code, err.code, tostring(err))
end

-- Bytes allocated on disk for path (du's idea of it), and its apparent size.
local function allocated(path)
  return tonumber(helpers.sh("du -B1 " .. q(path) .. " | cut -f1")),
         tonumber(helpers.sh("stat -c %s " .. q(path)))
end

local function listing(dir)
  return helpers.sh("ls -A " .. q(dir))
end

describe("copy out of a sandbox", function()
  local sb
  setup(function()
    sb = assert(mj.sandbox({ mounts = { { type = "tmpfs", dst = "/work", size = "64M" } } }))
  end)
  teardown(function()
    if sb then sb:close() end
    helpers.cleanup()
  end)

  it("keeps the holes of a sparse file", function()
    local out = helpers.tmpdir()
    sh_ok(sb, "truncate -s 1G /work/sparse && printf middle | dd of=/work/sparse bs=1 seek=536870912 "
      .. "conv=notrunc 2>/dev/null && printf end >>/work/sparse")
    local ok, used = sb:copy_out("/work/sparse", out .. "/sparse")
    assert(ok, tostring(used))
    local disk, size = allocated(out .. "/sparse")
    assert.are.equal(1024 ^ 3 + 3, size)
    assert.is_true(disk < 1024 * 1024, "the copy takes " .. disk .. " bytes of the host's disk")
    local middle = helpers.sh("dd if=" .. q(out .. "/sparse") .. " bs=1 skip=536870912 count=6 2>/dev/null")
    assert.are.equal("middle", middle)
    assert.are.equal("end", helpers.sh("tail -c 3 " .. q(out .. "/sparse")))
    assert.is_true(used.bytes < 1024 * 1024, "the data written is counted as " .. used.bytes)
    assert.are.equal(1, used.entries)
  end)

  it("stops at its byte budget with RESOURCE_LIMIT_EXCEEDED, leaving nothing", function()
    local out = helpers.tmpdir()
    sh_ok(sb, "head -c 3145728 /dev/zero | tr '\\0' x >/work/big && mkdir -p /work/links && "
      .. "head -c 1048576 /dev/zero | tr '\\0' y >/work/links/0 && "
      .. "for i in $(seq 1 20); do ln /work/links/0 /work/links/$i; done")
    local v, err = sb:copy_out("/work/big", out .. "/big", { max_bytes = "1M" })
    assert.is_nil(v, "copy_out went over its budget")
    assert_error(err, "RESOURCE_LIMIT_EXCEEDED")
    assert.matches("1 MiB", err.message, 1, true)
    assert.matches("/work/big", err.message, 1, true)
    assert.are.equal("", listing(out), "a half-written file was left")
    -- 21 names of one 1 MiB file: bounded too, and the whole tree goes
    v, err = sb:copy_out("/work/links", out .. "/links", { max_bytes = "4M" })
    assert.is_nil(v)
    assert_error(err, "RESOURCE_LIMIT_EXCEEDED")
    assert.matches("nothing of it was left", err.message, 1, true)
    assert.are.equal("", listing(out))
    -- within its budget it says what it wrote
    local ok, used = sb:copy_out("/work/big", out .. "/big", { max_bytes = "3M" })
    assert(ok, tostring(used))
    assert.are.same({ bytes = 3145728, entries = 1 }, used)
  end)

  it("stops at its entry budget and at 256 levels, leaving nothing", function()
    local out = helpers.tmpdir()
    sh_ok(sb, "mkdir /work/many && cd /work/many && seq 1 1200 | xargs touch")
    local v, err = sb:copy_out("/work/many", out .. "/many", { max_entries = 500 })
    assert.is_nil(v, "copy_out went over its entry budget")
    assert_error(err, "RESOURCE_LIMIT_EXCEEDED")
    assert.matches("500 files", err.message, 1, true)
    assert.are.equal("", listing(out))
    local ok, used = sb:copy_out("/work/many", out .. "/many")
    assert(ok, tostring(used))
    assert.are.equal(1201, used.entries)
    sh_ok(sb, "cd /work && mkdir deep && cd deep && for i in $(seq 1 300); do mkdir d && cd d || exit 1; done")
    v, err = sb:copy_out("/work/deep", out .. "/deep")
    assert.is_nil(v, "a tree 300 levels deep was copied")
    assert_error(err, "RESOURCE_LIMIT_EXCEEDED")
    assert.matches("256 directory levels", err.message, 1, true)
    assert.is_false(helpers.exists(out .. "/deep"))
  end)

  it("refuses a FIFO by name, and leaves one inside a tree out", function()
    local out = helpers.tmpdir()
    sh_ok(sb, "mkfifo /work/fifo && mkdir /work/t && mkfifo /work/t/p && echo f >/work/t/f")
    local v, err = sb:copy_out("/work/fifo", out .. "/fifo")
    assert.is_nil(v, "copy_out of a FIFO succeeded")
    assert_error(err, "FILE_OPERATION_FAILED")
    assert.matches("/work/fifo: is a FIFO", err.message, 1, true)
    assert.is_false(helpers.exists(out .. "/fifo"))
    assert(sb:copy_out("/work/t", out .. "/t"))
    assert.are.equal("f", listing(out .. "/t"))
  end)

  it("names the host destination when that is what fails", function()
    local out = helpers.tmpdir()
    sh_ok(sb, "echo x >/work/f")
    assert(os.execute("mkdir " .. q(out .. "/f") .. " && touch " .. q(out .. "/f/keep")))
    local v, err = sb:copy_out("/work/f", out)
    assert.is_nil(v)
    assert.matches("copy to " .. out .. "/f", err.message, 1, true)
    assert.is_nil(err.message:find("copy from", 1, true), err.message)
    assert(os.execute("ln -s " .. q(out .. "/elsewhere") .. " " .. q(out .. "/link")))
    v, err = sb:copy_out("/work/f", out .. "/link")
    assert.is_nil(v, "copy_out wrote through a symlink on the host")
    assert.matches("copy to " .. out .. "/link: is a symbolic link", err.message, 1, true)
    assert.is_false(helpers.exists(out .. "/elsewhere"))
  end)
end)

describe("moonjail cp NAME:PATH", function()
  local state, name
  local function cli(args) return helpers.cli(args, { env = { MOONJAIL_STATE_DIR = state } }) end
  setup(function()
    state = helpers.tmpdir("0700")
    name = string.format("mjspec-cpout-%d", helpers.unique_number())
    local r = cli({ "create", name })
    assert(r.status == 0, r.stderr)
  end)
  teardown(function()
    cli({ "rm", "-f", name })
    helpers.cleanup()
  end)

  it("copies a sparse file sparsely and refuses a FIFO with an error naming it", function()
    local out = helpers.tmpdir()
    local r = cli({ "exec", name, "sh", "-c", "truncate -s 1G /tmp/sparse && mkfifo /tmp/fifo" })
    assert.are.equal(0, r.status, r.stderr)
    r = cli({ "cp", name .. ":/tmp/sparse", out .. "/sparse" })
    assert.are.equal(0, r.status, r.stderr)
    local disk, size = allocated(out .. "/sparse")
    assert.are.equal(1024 ^ 3, size)
    assert.is_true(disk < 1024 * 1024, "the copy takes " .. disk .. " bytes of the host's disk")
    r = cli({ "cp", name .. ":/tmp/fifo", out .. "/fifo" })
    assert.are.equal(125, r.status, "cp of a FIFO: " .. r.stdout .. r.stderr)
    assert.matches("^moonjail: FILE_OPERATION_FAILED: [^\n]*/tmp/fifo: is a FIFO", r.stderr)
    assert.is_false(helpers.exists(out .. "/fifo"))
  end)
end)

describe("a recipe's output budget", function()
  teardown(function() helpers.cleanup() end)

  it("is shared by artifacts and hooks, and what does not fit is a missing artifact naming it", function()
    local dir = helpers.tmpdir()
    helpers.write_file(dir .. "/budget.lua", [[
return {
  output_budget = { bytes = "1M", entries = 10 },
  steps = {
    { name = "make", run = "head -c 400000 /dev/zero >/tmp/a && cp /tmp/a /tmp/b && cp /tmp/a /tmp/c",
      after = function(sb) assert(sb:copy_out("/tmp/a", "hooked")) end },
  },
  artifacts = { "/tmp/b", "/tmp/c" },
}
]])
    local out = dir .. "/out"
    local report = assert(mj.recipe(dir .. "/budget.lua", { output = out, quiet = true }))
    assert.are.equal("passed", report.steps[1].status, tostring(report.steps[1].error))
    assert.is_true(helpers.exists(out .. "/hooked"))
    assert.is_true(helpers.exists(out .. "/b"))
    assert.is_false(helpers.exists(out .. "/c"), "the artifact over the budget was copied")
    assert.are.same({ "/tmp/c" }, report.missing_artifacts)
    assert.are.equal("failed", report.status)
    local warned = false
    for _, w in ipairs(report.warnings) do
      if w:find("/tmp/c", 1, true) and w:find("output budget (output_budget: 1M", 1, true) then warned = true end
    end
    assert.is_true(warned, "no warning names the output budget: " .. table.concat(report.warnings, " | "))
  end)

  it("is checked when the recipe loads", function()
    local dir = helpers.tmpdir()
    for budget, why in pairs({ ['{ bytes = "lots" }'] = "output_budget.bytes: invalid size 'lots'",
                               ["{ files = 3 }"] = "output_budget: unknown key 'files'",
                               ["{ entries = -1 }"] = "output_budget.entries: expected an integer >= 0" }) do
      helpers.write_file(dir .. "/bad.lua", "return { output_budget = " .. budget .. ", steps = { { run = 'true' } } }")
      local v, err = mj.recipe(dir .. "/bad.lua", { output = dir .. "/out", quiet = true })
      assert.is_nil(v, budget)
      assert_error(err, "INVALID_CONFIG")
      assert.matches(why, err.message, 1, true)
    end
  end)
end)

-- spec/integration/recipe_spec.lua — task recipes, through mj.recipe and `moonjail recipe`.
--
-- Covers: the shipped examples really run (build-c: a C project from a cow repository built,
-- tested, its binary exported as an artifact that runs on the host; flaky: a step retried on
-- EX_TEMPFAIL until it passes, a permanent failure not retried, custom retry_on codes; strict:
-- a custom policy extending `strict`); a timeout is retried; retryable errors only; failing
-- steps stop the recipe (later steps "skipped") unless allow_failure; the JSON report (read back
-- with lua-cjson) has every step's status, attempts, exit code, ended_by, duration and usage;
-- --set parameters and their validation; hooks receive the sandbox and cannot write outside the
-- output directory; the restricted environment (no os.execute, io, io.popen, package.loadlib,
-- require, load, debug, string.dump) for the recipe file and its hooks; invalid recipes exit 125
-- naming the file; a failed recipe exits 1; the budgets bound work inside one C call (issue 18:
-- a recipe file that reached 1.5 GB, a hook's single long gsub/find), pcall cannot swallow them,
-- and neither a recipe's metamethods nor its __gc run outside them.
local mj = require "moonjail"
local helpers = require "spec.helpers"

if helpers.skip_unless_sandboxes() then return end

local cjson_ok, cjson = pcall(require, "cjson")
local src = os.getenv("MOONJAIL_SOURCE_DIR") or "."
local examples = src .. "/examples/recipes"

local function decode(text)
  if cjson_ok then return cjson.decode(text) end
  return helpers.json_decode(text)
end

local function recipe_file(dir, name, text)
  return helpers.write_file(dir .. "/" .. name, text)
end

local function step(report, name)
  for _, s in ipairs(report.steps) do
    if s.name == name then return s end
  end
  error("no step " .. name)
end

describe("recipes", function()
  local dir
  before_each(function() dir = helpers.tmpdir() end)
  teardown(function() helpers.cleanup() end)

  it("build a C project from a cow repository and export its binary (examples/recipes/build-c.lua)", function()
    local out = dir .. "/out"
    local report = assert(mj.recipe(examples .. "/build-c.lua", { output = out, quiet = true, set = { who = "spec" } }))
    assert.are.equal("passed", report.status, helpers.read_file(out .. "/report.json"))
    assert.are.equal("hello, spec", helpers.sh(helpers.shell_quote(out .. "/hello") .. " spec"))
    assert.are.equal("ok greeting\n", helpers.read_file(out .. "/test.log"))
    assert.is_truthy(helpers.sh("tar tf " .. helpers.shell_quote(out .. "/changes.tar")):find("build/hello", 1, true))
    -- the host checkout was not touched
    assert.is_false(helpers.exists(examples .. "/hello-c/build"))
    local json = decode(helpers.read_file(out .. "/report.json"))
    assert.are.equal("build-c", json.name)
    assert.are.equal(3, #json.steps)
    for _, s in ipairs(json.steps) do
      assert.are.equal("passed", s.status)
      assert.are.equal(0, s.exit_code)
      assert.are.equal("exit", s.ended_by)
      assert.are.equal(1, s.attempts)
      assert.is_true(s.duration >= 0)
      assert.is_table(s.usage)
    end
    assert.are.equal(2, #json.artifacts)
  end)

  it("retry retryable failures and not permanent ones (examples/recipes/flaky.lua)", function()
    local report = assert(mj.recipe(examples .. "/flaky.lua", { output = dir .. "/out", quiet = true }))
    assert.are.equal("passed", report.status)
    local flaky = step(report, "flaky-network")
    assert.are.equal(3, flaky.attempts)
    assert.are.equal("passed", flaky.status)
    local permanent = step(report, "permanent-failure")
    assert.are.equal(1, permanent.attempts)
    assert.are.equal(2, permanent.exit_code)
    assert.are.equal("allowed_failure", permanent.status)
    local custom = step(report, "custom-retry-code")
    assert.are.equal(2, custom.attempts)
  end)

  it("run under a custom policy that extends strict (examples/recipes/strict.lua)", function()
    local report, err = mj.recipe(examples .. "/strict.lua", { output = dir .. "/out", quiet = true })
    local cgroup_refused = err and err.code == "PERMISSION_DENIED" and err.message:find("cgroup", 1, true)
    if not report and not helpers.is_root() and cgroup_refused then
      -- strict's limits are required: without a delegated cgroup subtree the sandbox must not start
      return
    end
    assert(report, err and tostring(err))
    for _, s in ipairs(report.steps) do assert.are.equal("passed", s.status, s.name) end
    assert.are.equal("passed", report.status)
    assert.are.equal("ok\n", helpers.read_file(dir .. "/out/strict.txt"))
  end)

  it("retry a step that timed out, and stop at a failure", function()
    recipe_file(dir, "r.lua", [[
return {
  output = "out",
  steps = {
    { name = "slow-then-fast", retries = 1, backoff = "0.1s", timeout = "1s",
      run = "if [ -e /tmp/seen ]; then exit 0; fi; touch /tmp/seen; sleep 30" },
    { name = "broken", run = { "sh", "-c", "echo bad >&2; exit 3" }, retries = 2, backoff = "0.1s" },
    { name = "never", run = "true" },
  },
}]])
    local report = assert(mj.recipe(dir .. "/r.lua", { quiet = true }))
    assert.are.equal("failed", report.status)
    local slow = step(report, "slow-then-fast")
    assert.are.equal(2, slow.attempts)
    assert.are.equal("passed", slow.status)
    local broken = step(report, "broken")
    assert.are.equal("failed", broken.status)
    assert.are.equal(1, broken.attempts)
    assert.are.equal(3, broken.exit_code)
    assert.are.equal("skipped", step(report, "never").status)
    assert.is_true(helpers.exists(dir .. "/out/report.json"))
  end)

  it("pass parameters with --set and refuse unknown ones", function()
    recipe_file(dir, "p.lua", [[
return { output = "out", params = { greeting = "hi" },
  steps = { { name = "say", run = { "sh", "-c", "echo " .. params.greeting .. " > /tmp/said" } } },
  artifacts = { "/tmp/said" } }]])
    local r = helpers.cli({ "recipe", dir .. "/p.lua", "--set", "greeting=hello", "-q" })
    assert.are.equal(0, r.status, r.stderr)
    assert.are.equal("hello\n", helpers.read_file(dir .. "/out/said"))
    r = helpers.cli({ "recipe", dir .. "/p.lua" })
    assert.are.equal(0, r.status, r.stderr)
    assert.are.equal("hi\n", helpers.read_file(dir .. "/out/said"))
    assert.is_truthy(r.stdout:find("==> [1/1] say:", 1, true), r.stdout)
    r = helpers.cli({ "recipe", dir .. "/p.lua", "--set", "greting=x" })
    assert.are.equal(125, r.status)
    assert.is_truthy(r.stderr:find("did you mean 'greeting'", 1, true), r.stderr)
    -- (found by fuzzing) a params table with a key that is not a name is refused, not a crash
    recipe_file(dir, "k.lua", 'return { output = "out", params = { {} }, steps = { { run = "true" } } }')
    r = helpers.cli({ "recipe", dir .. "/k.lua", "--set", "x=1" })
    assert.are.equal(125, r.status)
    assert.is_truthy(r.stderr:find("INVALID_CONFIG", 1, true), r.stderr)
    assert.is_truthy(r.stderr:find("a name is a string", 1, true), r.stderr)
  end)

  it("print the report as JSON with --json and exit 1 when a step failed", function()
    recipe_file(dir, "f.lua", 'return { output = "out", steps = { { name = "no", run = "exit 4" } } }')
    local r = helpers.cli({ "recipe", dir .. "/f.lua", "--json" })
    assert.are.equal(1, r.status)
    local report = decode(r.stdout)
    assert.are.equal("failed", report.status)
    assert.are.equal(4, report.steps[1].exit_code)
    assert.are.equal("failed", report.steps[1].status)
  end)

  it("refuse an invalid recipe naming the file and the field", function()
    recipe_file(dir, "bad.lua", 'return { steps = { { name = "x", run = {}, retries = "many", tiemout = 1 } } }')
    local r = helpers.cli({ "recipe", dir .. "/bad.lua" })
    assert.are.equal(125, r.status)
    assert.is_truthy(r.stderr:find(dir .. "/bad.lua", 1, true), r.stderr)
    local report, err = mj.recipe(dir .. "/bad.lua", { quiet = true })
    assert.is_nil(report)
    assert.are.equal("INVALID_CONFIG", err.code)
    local all = table.concat(err.problems, "\n")
    assert.is_truthy(all:find("run: expected", 1, true), all)
    assert.is_truthy(all:find("retries:", 1, true), all)
    assert.is_truthy(all:find("did you mean 'timeout'", 1, true), all)
  end)

  it("run again into their own output directory, and refuse someone else's", function()
    recipe_file(dir, "again.lua", [[
return { output = "out", params = { n = 3 },
  steps = { { name = "twice", run = "echo " .. (params.n * 2) .. " > /tmp/n" } },
  artifacts = { "/tmp/n" } }]])
    for _ = 1, 2 do
      local report = assert(mj.recipe(dir .. "/again.lua", { quiet = true }))
      assert.are.equal("passed", report.status)
      assert.are.equal("6\n", helpers.read_file(dir .. "/out/n"))
    end
    helpers.sh("mkdir " .. helpers.shell_quote(dir .. "/mine"))
    helpers.write_file(dir .. "/mine/precious.txt", "keep")
    local report, err = mj.recipe(dir .. "/again.lua", { quiet = true, output = dir .. "/mine" })
    assert.is_nil(report)
    assert.is_truthy(err.message:find("not empty", 1, true), err.message)
    assert.are.equal("keep", helpers.read_file(dir .. "/mine/precious.txt"))
    local r = helpers.cli({ "recipe", dir .. "/again.lua", "--set", "n=5", "--output=" .. dir .. "/out5", "-q" })
    assert.are.equal(0, r.status, r.stderr)
    assert.are.equal("10\n", helpers.read_file(dir .. "/out5/n"))
    recipe_file(dir, "noparams.lua", 'return { output = "o", steps = { { run = "true" } } }')
    r = helpers.cli({ "recipe", dir .. "/noparams.lua", "--set", "x=1" })
    assert.are.equal(125, r.status)
    assert.is_truthy(r.stderr:find("declares no parameters", 1, true), r.stderr)
  end)

  describe("restricted environment", function()
    local function load_error(body)
      recipe_file(dir, "evil.lua", body)
      local report, err = mj.recipe(dir .. "/evil.lua", { quiet = true })
      assert.is_nil(report, "the recipe loaded")
      return err.message
    end

    it("has no os.execute, io, io.popen, package.loadlib, require, load, dofile or debug", function()
      for _, expr in ipairs({ "os.execute('touch " .. dir .. "/pwned')", "io.popen('id')", "io.open('/etc/passwd')",
          "package.loadlib('/lib/x86_64-linux-gnu/libc.so.6', 'system')", "require('os')", "load('return 1')",
          "dofile('/etc/passwd')", "debug.getregistry()", "string.dump(print)", "os.exit(3)", "os.remove('/x')",
          "collectgarbage()", "loadfile('/etc/passwd')", "coroutine.wrap(function() while true do end end)()" }) do
        local msg = load_error("local x = " .. expr .. "\nreturn { steps = { { run = 'true' } } }")
        assert.is_truthy(msg:find("evil.lua:1:", 1, true), expr .. " -> " .. msg)
      end
      assert.is_false(helpers.exists(dir .. "/pwned"))
    end)

    it("gives no way to the runner's own string library or out through symlinks", function()
      local outside = helpers.tmpdir()
      helpers.sh("ln -s / " .. helpers.shell_quote(dir .. "/root"))
      recipe_file(dir, "sly.lua", [[
local outside = "]] .. outside .. [["
return { output = "out", steps = {
  { name = "patch-string", run = "true", allow_failure = true, before = function()
      getmetatable("").__index.sub = function() return "" end
    end },
  { name = "symlink-out", run = "ln -s " .. outside .. " /tmp/lnk && echo data > /tmp/f", after = function(sb)
      assert(sb:copy_out("/tmp/lnk", "lnk"))            -- a symlink lands in the output directory
      local ok, err = sb:copy_out("/tmp/f", "lnk/written")
      assert(not ok and err.code == "PERMISSION_DENIED", "wrote through a symlink it copied out")
      ok, err = sb:export_diff("lnk/diff.tar")
      assert(not ok and err.code == "PERMISSION_DENIED", "exported through a symlink")
      ok, err = sb:copy_out("/tmp/f", "report.json")
      assert(not ok and err.code == "PERMISSION_DENIED", "overwrote the report")
      ok, err = sb:copy_files("root/etc/hostname", "/tmp/h")
      assert(not ok and err.code == "PERMISSION_DENIED", "read the host through a symlink in the recipe dir")
    end },
} }]])
      local report = assert(mj.recipe(dir .. "/sly.lua", { quiet = true }))
      local patch = step(report, "patch-string")
      assert.are.equal("allowed_failure", patch.status)
      assert.is_truthy(patch.error:find("index", 1, true), patch.error)
      assert.are.equal("passed", step(report, "symlink-out").status, step(report, "symlink-out").error)
      assert.are.equal("", helpers.sh("ls -A " .. helpers.shell_quote(outside)))
      assert.are.equal("file", io.open(dir .. "/out/report.json") and "file")
    end)

    it("ends a hook that loops forever, also inside a coroutine it made, after hook_timeout", function()
      recipe_file(dir, "loop.lua", [[
return { output = "out", steps = {
  { name = "spin", run = "true", hook_timeout = "1s", allow_failure = true, before = function() while true do end end },
  { name = "spin-co", run = "true", hook_timeout = "1s", allow_failure = true,
    after = function() coroutine.wrap(function() while true do end end)() end },
  { name = "fine", run = "true", after = function() local n = 0; for i = 1, 1000 do n = n + i end end },
} }]])
      local t0 = helpers.now()
      local report = assert(mj.recipe(dir .. "/loop.lua", { quiet = true }))
      assert.is_true(helpers.now() - t0 < 30)
      for _, name in ipairs({ "spin", "spin-co" }) do
        local s = step(report, name)
        assert.are.equal("allowed_failure", s.status)
        assert.is_truthy(s.error:find("hook_timeout", 1, true), s.error)
      end
      assert.are.equal("passed", step(report, "fine").status)
    end)

    it("bounds a recipe file's memory inside one C call (INVALID_CONFIG naming file:line and the budget)", function()
      local path = recipe_file(dir, "big.lua", [[
local s = "x"
for i = 1, 20 do s = s .. s end
local big = s:gsub(".", { x = s })
return { output = "out", steps = { { run = "true" } } }
]])
      local t0 = helpers.now()
      local report, err = mj.recipe(path, { quiet = true })
      assert.is_nil(report)
      assert.are.equal("INVALID_CONFIG", err.code)
      assert.matches(path .. ":3: memory limit exceeded (64 MiB)", err.message, 1, true)
      assert.is_true(helpers.now() - t0 < 10, "took " .. (helpers.now() - t0) .. " s")
      -- the process stayed well under what the file asked for (1 TiB)
      local rss = helpers.sh("python3 -c 'import resource,subprocess,sys; subprocess.run(sys.argv[1:], "
        .. "stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL); "
        .. "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)' "
        .. helpers.shell_quote(helpers.moonjail_bin()) .. " recipe " .. helpers.shell_quote(path))
      assert.is_true(tonumber(rss) < 400 * 1024, "peak RSS " .. rss .. " KiB")
    end)

    it("bounds a hook's single long C call: a backtracking find ends at hook_timeout, a gsub at 256 MiB", function()
      recipe_file(dir, "hookc.lua", [[
local function bomb()
  local s = "x"
  for i = 1, 15 do s = s .. s end
  return s:gsub(".", { x = s })
end
return { output = "out", steps = {
  { name = "find", run = "true", hook_timeout = "1s", allow_failure = true,
    before = function() local s = ("a"):rep(4096); return s:find(".-.-.-.-b") end },
  { name = "gsub", run = "true", allow_failure = true, after = function() bomb() end },
  { name = "swallow", run = "true", hook_timeout = "1s", allow_failure = true,
    before = function() local s = ("a"):rep(4096); while true do pcall(string.find, s, ".-.-.-.-b") end end },
  { name = "rep", run = "true", allow_failure = true, before = function() return ("x"):rep(1 << 30) end },
  { name = "fine", run = "true", after = function(sb, r) assert(("a=1"):match("^(%w)=(%d)$") == "a") end },
} }]])
      local t0 = helpers.now()
      local report = assert(mj.recipe(dir .. "/hookc.lua", { quiet = true }))
      assert.is_true(helpers.now() - t0 < 30, "took " .. (helpers.now() - t0) .. " s")
      local find = step(report, "find")
      assert.are.equal("allowed_failure", find.status)
      assert.matches("hookc.lua:8: ran longer than 1s (hook_timeout)", find.error, 1, true)
      assert.matches("memory limit exceeded (256 MiB)", step(report, "gsub").error, 1, true)
      assert.matches("hook_timeout", step(report, "swallow").error, 1, true)
      assert.matches("memory limit exceeded (256 MiB)", step(report, "rep").error, 1, true)
      assert.are.equal("passed", step(report, "fine").status, step(report, "fine").error)
    end)

    it("never runs a recipe's metamethods outside its budget, and refuses __gc", function()
      recipe_file(dir, "meta.lua", [[
local spin = function() while true do end end
return setmetatable({ output = "out", steps = {
  setmetatable({ name = "a", run = "true", allow_failure = true, after = function(sb, r)
    setmetatable(r, { __index = spin, __tostring = spin })
    r.success = nil
    error(setmetatable({}, { __tostring = spin }))
  end }, { __index = spin, __pairs = spin }),
} }, { __index = spin, __pairs = spin, __len = spin })]])
      local t0 = helpers.now()
      local report = assert(mj.recipe(dir .. "/meta.lua", { quiet = true }))
      assert.is_true(helpers.now() - t0 < 30, "took " .. (helpers.now() - t0) .. " s")
      assert.matches("error object is a table value", step(report, "a").error, 1, true)
      local path = recipe_file(dir, "gc.lua", [[
setmetatable({}, { __gc = function() while true do end end })
return { output = "out", steps = { { run = "true" } } }]])
      local r2, err = mj.recipe(path, { quiet = true })
      assert.is_nil(r2)
      assert.matches("cannot set a __gc metamethod", err.message, 1, true)
    end)

    it("keeps hooks restricted too, and confines their host writes to the output directory", function()
      recipe_file(dir, "hooks.lua", [[
return { output = "out", steps = {
  { name = "escape-exec", run = "true", allow_failure = true,
    before = function(sb) os.execute("touch /tmp/pwned-by-hook") end },
  { name = "escape-copy", run = "echo data > /tmp/f", after = function(sb)
      local ok, err = sb:copy_out("/tmp/f", "/tmp/outside-output")
      assert(not ok and err.code == "PERMISSION_DENIED", "copy_out outside the output directory worked")
      ok, err = sb:copy_out("/tmp/f", "../sneaky")
      assert(not ok and err.code == "PERMISSION_DENIED", "copy_out to ../ worked")
      assert(sb:copy_out("/tmp/f", "inside"))
      ok, err = sb:copy_files("/etc/shadow", "/tmp/shadow")
      assert(not ok and err.code == "PERMISSION_DENIED", "copy_files from anywhere on the host worked")
      moonjail.log("hook checks done")
    end },
} }]])
      local report = assert(mj.recipe(dir .. "/hooks.lua", { quiet = true }))
      local exec = step(report, "escape-exec")
      assert.are.equal("allowed_failure", exec.status)
      assert.is_truthy(exec.error:find("execute", 1, true), exec.error)
      assert.is_false(helpers.exists("/tmp/pwned-by-hook"))
      assert.are.equal("passed", step(report, "escape-copy").status, step(report, "escape-copy").error)
      assert.are.equal("data\n", helpers.read_file(dir .. "/out/inside"))
      report = assert(mj.recipe({ output = dir .. "/out2", steps = { { name = "copy", run = "echo data > /tmp/f",
        after = function(sb)
          assert(sb:copy_out("/tmp/f", "inside"))
          local ok, err = sb:copy_out("/tmp/f", "/tmp/outside-output")
          assert(not ok and err.code == "PERMISSION_DENIED")
        end } } }, { quiet = true }))
      assert.are.equal("passed", report.status, step(report, "copy").error)
      assert.are.equal("data\n", helpers.read_file(dir .. "/out2/inside"))
      assert.is_false(helpers.exists("/tmp/outside-output"))
    end)
  end)
end)

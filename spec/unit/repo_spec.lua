-- spec/unit/repo_spec.lua — repository rules and policy merge rules, without a sandbox.
--
-- Covers: the glob language of include/exclude (names at any depth, anchored paths, "**",
-- classes, directory-only globs); every validation error of a repository rule (unknown keys with
-- a suggestion, path/url exclusivity, modes, rw on an archive or ref, bad refs, globs, owners,
-- git identity keys and values, duplicate mount points); repositories in a policy file resolve
-- against the file's directory and report file:line; `{ append = {…} }` adds to a parent's list
-- where a plain list replaces it, also with no parent.
local mj = require "moonjail"
local repo = require "moonjail.repo"
local helpers = require "spec.helpers"

local function matches(glob, path, is_dir)
  local m = assert(repo.glob(glob))
  return m(path, is_dir or false)
end

describe("repository globs", function()
  it("matches many \"**\" in time linear in the path, not exponential (a policy's glob is untrusted)", function()
    local path = string.rep("d/", 60) .. "x"
    local t0 = os.clock()
    assert.is_false(matches(string.rep("**/", 12) .. "z", path))
    assert.is_false(matches("a/" .. string.rep("**/b/", 6) .. "z", path))
    assert.is_true(matches(string.rep("**/", 12) .. "x", path))
    -- (found by fuzzing) stars inside one component: "*a*a*a*a*a*b" against a long name
    assert.is_false(matches(string.rep("*a", 8) .. "*b", string.rep("a", 200)))
    assert.is_true(matches(string.rep("*a", 8) .. "*b", string.rep("a", 200) .. "b"))
    assert.is_true(matches("*****x", "abcx"))
    assert.is_true(os.clock() - t0 < 1, "took " .. (os.clock() - t0) .. " s")
  end)

  it("take a \"]\" first in a class as a member, and refuse \"[!]\" as unclosed (found by fuzzing)", function()
    assert.is_true(matches("[]]x", "]x"))
    assert.is_true(matches("[!]]x", "ax"))
    assert.is_false(matches("[!]]x", "]x"))
    local m, why = repo.glob("*[!]")
    assert.is_nil(m)
    assert.matches("unclosed", why)
  end)

  it("match a name at any depth when the glob has no slash", function()
    assert.is_true(matches("*.key", "id.key"))
    assert.is_true(matches("*.key", "deep/er/id.key"))
    assert.is_false(matches("*.key", "id.key.pub"))
    assert.is_true(matches(".env", "app/.env"))
  end)

  it("anchor globs with a slash at the repository's top", function()
    assert.is_true(matches("secrets/db.txt", "secrets/db.txt"))
    assert.is_false(matches("secrets/db.txt", "app/secrets/db.txt"))
    assert.is_true(matches("/secrets", "secrets", true))
  end)

  it("let ** span directories and * stay within one", function()
    assert.is_true(matches("src/**/*.c", "src/a/b/c.c"))
    assert.is_true(matches("src/**/*.c", "src/c.c"))
    assert.is_false(matches("src/*.c", "src/a/c.c"))
    assert.is_true(matches("**/test_?.py", "x/test_1.py"))
    assert.is_true(matches("[ab]*.txt", "b1.txt"))
    assert.is_false(matches("[!ab]*.txt", "b1.txt"))
  end)

  it("match directories only when the glob ends in a slash", function()
    assert.is_true(matches("build/", "build", true))
    assert.is_false(matches("build/", "build", false))
  end)

  it("refuse globs that could climb out", function()
    assert.is_nil(repo.glob("../x"))
    assert.is_nil(repo.glob("a/./b"))
    assert.is_nil(repo.glob("/"))
    assert.is_nil(repo.glob("[abc"))
  end)
end)

describe("repository rules", function()
  local function bad(rule, pattern)
    local r, why = repo.normalize(rule, "/base")
    assert.is_nil(r, "rule accepted although it should not")
    assert.is_truthy(why:find(pattern), "message '" .. tostring(why) .. "' does not say " .. pattern)
  end

  it("normalize a relative path against the base directory, read-only by default", function()
    local r = assert(repo.normalize({ path = "src/../app", mount = "/src" }, "/base"))
    assert.are.equal("/base/app", r.path)
    assert.are.equal("ro", r.mode)
  end)

  it("recognise archives by name and URLs", function()
    assert.is_true(assert(repo.normalize({ path = "x.tar.gz", mount = "/x" }, "/b")).archive)
    assert.is_true(assert(repo.normalize({ path = "x.zip", mount = "/x" }, "/b")).archive)
    assert.are.equal("http://127.0.0.1:8/x.tgz",
      assert(repo.normalize({ url = "http://127.0.0.1:8/x.tgz", mount = "/x", mode = "cow" })).url)
  end)

  it("report every kind of mistake with the field it is in", function()
    bad({ path = "/a", mount = "/a", mdoe = "ro" }, "unknown key 'mdoe' %(did you mean 'mode'%?%)")
    bad({ mount = "/a" }, "exactly one of 'path' and 'url'")
    bad({ path = "/a", url = "https://x/y.tgz", mount = "/a" }, "exactly one")
    bad({ url = "ftp://x/y.tgz", mount = "/a" }, "^url:")
    bad({ path = "/a", mount = "rel" }, "^mount:")
    bad({ path = "/a", mount = "/" }, "^mount:")
    bad({ path = "/a", mount = "/a", mode = "rwx" }, "^mode:")
    bad({ path = "/a.tar", mount = "/a", mode = "rw" }, "use \"cow\"")
    bad({ url = "https://x/y.tgz", mount = "/a", mode = "rw" }, "use \"cow\"")
    bad({ path = "/a", ref = "main", mount = "/a", mode = "rw" }, "use \"cow\"")
    bad({ path = "/a", ref = "--upload-pack=x", mount = "/a" }, "^ref:")
    bad({ path = "/a", ref = "two words", mount = "/a" }, "^ref:")
    bad({ url = "https://x/y.tgz", ref = "main", mount = "/a" }, "^ref:")
    bad({ path = "/a", mount = "/a", exclude = "*.key" }, "^exclude: expected an array")
    bad({ path = "/a", mount = "/a", include = { "../up" } }, "^include entry 1")
    bad({ path = "/a", mount = "/a", owner = "root" }, "^owner:")
    bad({ path = "/a", mount = "/a", strip_components = -1 }, "^strip_components:")
    bad({ path = "/a.tgz", mount = "/a", sha256 = "abc" }, "^sha256: expected")
    bad({ path = "/a", mount = "/a", sha256 = ("a"):rep(64) }, "only an archive or a URL")
    bad({ path = "/a", mount = "/a", max_bytes = "lots" }, "^max_bytes:")
    bad({ path = "/a", mount = "/a", git = { user_mail = "x" } }, "did you mean 'user_email'")
    bad({ path = "/a", mount = "/a", git = { user_name = "a\nb" } }, "one%-line")
    bad({ path = "/a", mount = "/a", git = { config = { ["nosection"] = "x" } } }, "invalid key 'nosection'")
    bad({ path = "/a", mount = "/a", git = { config = { ["core.editor"] = "vi\n[alias]" } } }, "one%-line")
  end)

  it("refuse a mount point used twice", function()
    local list, why = repo.normalize_list({ { path = "/a", mount = "/m" }, { path = "/b", mount = "/m" } }, "/")
    assert.is_nil(list)
    assert.is_truthy(why:find("entry 2: mount point '/m' is used twice", 1, true))
  end)
end)

describe("policy merge rules", function()
  local dir
  setup(function() dir = helpers.tmpdir() end)
  teardown(function() helpers.cleanup() end)

  it("replace a parent's list, or add to it with { append = … }", function()
    local base = assert(mj.load_policy("default"))
    local replaced = assert(mj.load_policy({ extends = "default", filesystem = { masked = { "/proc/x" } } }))
    assert.are.same({ "/proc/x" }, replaced.filesystem.masked)
    local appended = assert(mj.load_policy({ extends = "default",
      filesystem = { masked = { append = { "/proc/x" } } } }))
    assert.are.equal(#base.filesystem.masked + 1, #appended.filesystem.masked)
    assert.are.equal("/proc/x", appended.filesystem.masked[#appended.filesystem.masked])
    assert.are.same(base.filesystem.host_paths, appended.filesystem.host_paths) -- maps still merge
  end)

  it("apply { append = … } to nothing when there is no parent", function()
    local pol = assert(mj.load_policy({ filesystem = { masked = { append = { "/a" } } } }))
    assert.are.same({ "/a" }, pol.filesystem.masked)
  end)

  it("validate what is appended like the list itself", function()
    local pol, err = mj.load_policy({ extends = "default", filesystem = { masked = { append = { "relative" } } } })
    assert.is_nil(pol)
    assert.is_truthy(err.message:find("filesystem.masked", 1, true))
    pol, err = mj.load_policy({ extends = "default", filesystem = { masked = { append = "/x" } } })
    assert.is_nil(pol)
    assert.is_truthy(err.message:find("append", 1, true))
  end)

  it("resolve a policy's repositories against its own directory", function()
    helpers.write_file(dir .. "/p.lua", 'return { extends = "default",\n  repositories = {\n'
      .. '    { path = "checkout", mount = "/src", mode = "cow" },\n  },\n}\n')
    local pol = assert(mj.load_policy(dir .. "/p.lua"))
    assert.are.equal(dir .. "/checkout", pol.repositories[1].path)
    assert.are.equal("cow", pol.repositories[1].mode)
  end)

  it("name file:line of a bad repository rule in a policy file", function()
    helpers.write_file(dir .. "/bad.lua", 'return {\n  description = "x",\n  repositories = {\n'
      .. '    { path = "/a", mount = "/a", mode = "copy" },\n  },\n}\n')
    local pol, err = mj.load_policy(dir .. "/bad.lua")
    assert.is_nil(pol)
    local expected = dir .. "/bad.lua:3: policy: 'repositories': entry 1: mode:"
    assert.is_truthy(err.message:find(expected, 1, true), err.message)
  end)
end)

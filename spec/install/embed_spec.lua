-- spec/install/embed_spec.lua — moonjail as users install and embed it.
--
-- `cmake --install` of the build under test into a temp prefix, which is then moved elsewhere
-- (the .pc file, the CMake package and the module must not remember where they were installed);
-- everything below uses only that moved prefix:
--  - the install holds the executable, libmoonjail (shared and static), the header, moonjail.pc,
--    the CMake package, the Lua module, the shipped policies and the man page (which renders
--    without groff warnings);
--  - examples/embed/host.c builds with its Makefile through pkg-config, links the prefix's
--    libmoonjail, and runs a command in a persistent sandbox and reads a file back;
--  - the same builds with CMake through find_package(moonjail) and runs;
--  - stock lua5.4 loads the installed moonjail.so from LUA_CPATH and runs a real mj.run;
--  - examples/embed/recipe_host (C embedding Lua) runs hello.recipe.lua through mj.recipe;
--  - the rockspec passes `luarocks lint` and carries the project's version.
-- The examples are copied to a temp dir first, so nothing is written into the source tree.
-- Skipped (exit 77) without a C compiler, cmake, make, pkg-config or lua5.4, in the Asan build
-- (stock lua5.4 cannot load an ASan-instrumented module), or where sandboxes cannot start.
local helpers = require "spec.helpers"

local q = helpers.shell_quote

local function have(tool)
  return os.execute("command -v " .. q(tool) .. " >/dev/null 2>&1") == true
end

if os.getenv("MOONJAIL_SANITIZED") == "1" then
  return helpers.skip_file("the Asan build's moonjail.so cannot be loaded by the stock lua5.4, and its "
                    .. "libmoonjail needs the sanitizer runtimes in every host linked to it")
end
for _, tool in ipairs({ "cc", "cmake", "make", "pkg-config", "lua5.4" }) do
  if not have(tool) then
    return helpers.skip_file(tool .. " is not installed: cannot build against an installed moonjail")
  end
end
if helpers.skip_unless_sandboxes() then return end

local source_dir = os.getenv("MOONJAIL_SOURCE_DIR") or "."
local build_dir = os.getenv("MOONJAIL_BUILD_DIR")
  or helpers.moonjail_bin():match("^(.*)/[^/]*$") or "build"
build_dir = helpers.sh("realpath " .. q(build_dir))

-- Runs a shell command with stdin from /dev/null; returns its exit status and its stdout and
-- stderr together (what a failing assertion shows).
local function run(cmd)
  local log = helpers.sh("mktemp /tmp/mjspec-log.XXXXXXXX")
  local _, how, code = os.execute("(" .. cmd .. ") </dev/null >" .. q(log) .. " 2>&1")
  local output = helpers.read_file(log) or ""
  os.remove(log)
  return how == "signal" and 128 + code or code, output
end

-- The one file under dir called name (find -name), or nil.
local function find_one(dir, name)
  local found = helpers.sh("find " .. q(dir) .. " -name " .. q(name) .. " -print")
  if found == "" or found:find("\n") then return nil end
  return found
end

local function dirname(path)
  return (path:match("^(.*)/[^/]*$"))
end

describe("an installed moonjail", function()
  local prefix    -- the install, moved away from where cmake --install put it
  local libdir    -- where libmoonjail.so and pkgconfig/ are
  local cmod_dir  -- where moonjail.so is
  local examples  -- a copy of examples/embed

  setup(function()
    local work = helpers.tmpdir()
    local status, out = run("cmake --install " .. q(build_dir) .. " --prefix " .. q(work .. "/staged"))
    assert.are.equal(0, status, out)
    status, out = run("mv " .. q(work .. "/staged") .. " " .. q(work .. "/moved"))
    assert.are.equal(0, status, out)
    prefix = work .. "/moved"

    local pc = assert(find_one(prefix, "moonjail.pc"), "no single moonjail.pc under " .. prefix)
    libdir = dirname(dirname(pc))
    local cmod = assert(find_one(prefix, "moonjail.so"), "no single moonjail.so under " .. prefix)
    cmod_dir = dirname(cmod)

    examples = work .. "/embed"
    status, out = run("cp -R " .. q(source_dir .. "/examples/embed") .. " " .. q(examples))
    assert.are.equal(0, status, out)
  end)

  teardown(function()
    helpers.cleanup()
  end)

  -- Environment words for a shell command that must see only the installed prefix.
  local function pkg_env()
    return "PKG_CONFIG_PATH=" .. q(libdir .. "/pkgconfig") .. " "
  end
  local function lua_env()
    return "env -u LUA_CPATH_5_4 -u LUA_PATH_5_4 LUA_CPATH=" .. q(cmod_dir .. "/?.so;;") .. " "
  end

  it("holds the executable, the libraries, the header, pkg-config and CMake files, the module, "
     .. "the policies, the man page and the shell completion scripts", function()
    for _, rel in ipairs({ "bin/moonjail", "include/moonjail/moonjail.h",
                           "share/moonjail/policies/default.lua", "share/man/man1/moonjail.1",
                           "share/bash-completion/completions/moonjail", "share/zsh/site-functions/_moonjail",
                           "share/fish/vendor_completions.d/moonjail.fish" }) do
      assert.is_true(helpers.exists(prefix .. "/" .. rel), rel .. " is not installed")
    end
    for _, name in ipairs({ "libmoonjail.so", "libmoonjail.so.0", "libmoonjail.a",
                            "cmake/moonjail/moonjailConfig.cmake",
                            "cmake/moonjail/moonjailConfigVersion.cmake" }) do
      assert.is_true(helpers.exists(libdir .. "/" .. name), name .. " is not in " .. libdir)
    end
    local status, out = run(q(prefix .. "/bin/moonjail") .. " version")
    assert.are.equal(0, status, out)
    assert.matches("^moonjail %d+%.%d+%.%d+\n$", out)
  end)

  it("writes relocatable pkg-config and CMake files that name neither the prefix nor the build",
     function()
    local files = helpers.lines(helpers.sh("find " .. q(libdir .. "/pkgconfig") .. " "
                                           .. q(libdir .. "/cmake") .. " -type f"))
    assert.is_true(#files >= 4, "pkg-config and CMake files: " .. table.concat(files, " "))
    for _, file in ipairs(files) do
      local text = assert(helpers.read_file(file))
      assert.is_nil(text:find("/staged", 1, true), file .. " remembers the install prefix")
      assert.is_nil(text:find(build_dir, 1, true), file .. " names the build directory")
    end
    local status, out = run(pkg_env() .. "pkg-config --variable=prefix moonjail")
    assert.are.equal(0, status, out)
    local real = helpers.sh("realpath " .. q(out:gsub("\n$", "")))
    assert.are.equal(helpers.sh("realpath " .. q(prefix)), real)
  end)

  it("installs a man page that groff renders without warnings", function()
    if not have("groff") then
      pending("groff is not installed")
      return
    end
    local status, out = run("groff -man -ww -z " .. q(prefix .. "/share/man/man1/moonjail.1"))
    assert.are.equal(0, status, out)
    assert.are.equal("", out)
  end)

  it("builds host.c with the Makefile through pkg-config; it runs a command and reads a file back",
     function()
    local status, out = run("make -B -C " .. q(examples) .. " host " .. pkg_env())
    assert.are.equal(0, status, out)
    -- linked against the prefix's libmoonjail, not some other install
    status, out = run("LD_LIBRARY_PATH=" .. q(libdir) .. " ldd " .. q(examples .. "/host"))
    assert.are.equal(0, status, out)
    assert.truthy(out:find("libmoonjail.so.0 => " .. libdir, 1, true), out)

    status, out = run("LD_LIBRARY_PATH=" .. q(libdir) .. " " .. q(examples .. "/host"))
    assert.are.equal(0, status, out)
    assert.are.equal("exit code: 0\nstdout: embedded\ngreeting: hello\n", out)
  end)

  it("builds the examples with CMake through find_package(moonjail)", function()
    local bdir = helpers.tmpdir()
    local status, out = run("cmake -S " .. q(examples) .. " -B " .. q(bdir)
                            .. " -DCMAKE_PREFIX_PATH=" .. q(prefix) .. " && cmake --build " .. q(bdir))
    assert.are.equal(0, status, out)
    local cache = assert(helpers.read_file(bdir .. "/CMakeCache.txt"))
    assert.are.equal(libdir .. "/cmake/moonjail", cache:match("moonjail_DIR:PATH=([^\n]*)"))

    -- CMake links the imported library by its full path and records its directory as RPATH
    status, out = run(q(bdir .. "/host"))
    assert.are.equal(0, status, out)
    assert.are.equal("exit code: 0\nstdout: embedded\ngreeting: hello\n", out)
  end)

  it("gives stock lua5.4 the installed module, which runs a real sandbox", function()
    local script = helpers.write_file(helpers.tmpdir() .. "/use.lua", [[
local mj = require "moonjail"
print(package.searchpath("moonjail", package.cpath))
print(mj.version)
local r = assert(mj.run({ "sh", "-c", "echo run from $(uname -n)" }, { hostname = "installed" }))
io.write(r.exit_code, " ", r.stdout)
]])
    local status, out = run("cd / && " .. lua_env() .. "lua5.4 " .. q(script))
    assert.are.equal(0, status, out)
    local lines = helpers.lines(out)
    assert.are.equal(cmod_dir .. "/moonjail.so", lines[1])
    assert.matches("^%d+%.%d+%.%d+$", lines[2])
    assert.are.equal("0 run from installed", lines[3])
  end)

  it("runs hello.recipe.lua through recipe_host, a C program embedding Lua", function()
    local status, out = run("make -B -C " .. q(examples) .. " recipe_host")
    assert.are.equal(0, status, out)
    status, out = run("cd " .. q(examples) .. " && " .. lua_env() .. "./recipe_host hello.recipe.lua")
    assert.are.equal(0, status, out)
    assert.truthy(out:find("hello from a recipe", 1, true), out)
    assert.truthy(out:find("status: passed", 1, true), out)
  end)

  it("ships a rockspec that passes luarocks lint and carries the project's version", function()
    local status, out = run(q(prefix .. "/bin/moonjail") .. " version")
    assert.are.equal(0, status, out)
    local version = assert(out:match("^moonjail (%S+)\n$"), out)
    local rockspec = source_dir .. "/moonjail-" .. version .. "-1.rockspec"
    assert.is_true(helpers.exists(rockspec), "no " .. rockspec .. " for version " .. version)
    if not have("luarocks") then
      pending("luarocks is not installed (Debian package luarocks): lint not run")
      return
    end
    status, out = run("luarocks lint " .. q(rockspec))
    assert.are.equal(0, status, out)
  end)
end)

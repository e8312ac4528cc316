-- spec/unit/policy_spec.lua — loading and validating policy files, no sandbox started.
--
-- Covers: the shipped default policy loads by name; a file with a syntax error → nil,
-- INVALID_CONFIG naming file:line; an unknown key → INVALID_CONFIG naming the key path;
-- `extends = "default"` merges onto the parent (also for a table policy); policy files are
-- code and run text-only in an empty environment (no os.execute, io.open, require, load of
-- bytecode) under an instruction limit (an endless loop fails instead of hanging); the budget
-- also bounds work inside one C call — memory through the allocator of the policy's own Lua state,
-- time by a deadline the pattern matcher polls (issue 18: a gsub that grew to 2.1 GB, a
-- backtracking find still running at 30 s); `extends` reads only policy files (".lua", readable)
-- and an error never quotes a file's text.
local mj = require "moonjail"
local helpers = require "spec.helpers"

local dir

local function policy_file(name, text)
  return helpers.write_file(dir .. "/" .. name, text)
end

-- load_policy must fail with INVALID_CONFIG; returns the error.
local function load_fails(what)
  local pol, err = mj.load_policy(what)
  assert.is_nil(pol, "policy loaded although it should not")
  assert.is_truthy(mj.is_error(err), "the failure is not a moonjail error: " .. tostring(err))
  assert.are.equal("INVALID_CONFIG", err.code)
  return err
end

describe("policies", function()
  setup(function()
    dir = helpers.tmpdir()
  end)

  teardown(function()
    helpers.cleanup()
  end)

  it("loads the shipped default policy by name", function()
    local pol, err = mj.load_policy("default")
    assert.is_nil(err)
    assert.are.equal("table", type(pol))
  end)

  it("loads a policy file by path", function()
    local path = policy_file("small.lua", 'return { limits = { pids = 32, memory = "64M" } }\n')
    local pol, err = mj.load_policy(path)
    assert.is_nil(err)
    assert.are.equal("table", type(pol))
    assert.are.equal(32, pol.limits.pids)
  end)

  it("reports a syntax error as INVALID_CONFIG naming file:line", function()
    local path = policy_file("broken.lua", 'return {\n  limits = {\n    pids = 10,,\n  },\n}\n')
    local err = load_fails(path)
    assert.matches("broken.lua:3", err.message, 1, true)
  end)

  it("reports a runtime error of the file as INVALID_CONFIG naming file:line", function()
    local path = policy_file("raises.lua", 'local x = nil\nreturn { limits = x.y }\n')
    local err = load_fails(path)
    assert.matches("raises.lua:2", err.message, 1, true)
  end)

  it("reports a file that does not return a table", function()
    load_fails(policy_file("number.lua", "return 42\n"))
  end)

  it("reports a missing file", function()
    load_fails(dir .. "/does-not-exist.lua")
  end)

  it("reports an unknown top-level key with its name", function()
    local err = load_fails(policy_file("unknown.lua", "return { no_such_key = 1 }\n"))
    assert.matches("no_such_key", err.message, 1, true)
  end)

  it("reports an unknown nested key with its key path", function()
    local err = load_fails(policy_file("nested.lua", 'return { limits = { memroy = "1G" } }\n'))
    assert.matches("limits.memroy", err.message, 1, true)
  end)

  it("reports a value of the wrong type with its key path", function()
    local err = load_fails(policy_file("badtype.lua", 'return { limits = { pids = "many" } }\n'))
    assert.matches("limits.pids", err.message, 1, true)
  end)

  it("reports every problem at once, each with its key path and file:line", function()
    local path = policy_file("many.lua", table.concat({
      "return {",
      '  limits = { memory = "lots" },',
      '  netwrk = "none",',
      '  filesystem = { mount = {} },',
      "}",
    }, "\n") .. "\n")
    local err = load_fails(path)
    assert.are.equal(3, #err.problems, table.concat(err.problems, "\n"))
    local text = table.concat(err.problems, "\n")
    assert.matches(path .. ":2: policy: 'limits.memory'", text, 1, true)
    assert.matches(path .. ":3: policy: unknown key 'netwrk' (did you mean 'network'?)", text, 1, true)
    assert.matches(path .. ":4: policy: unknown key 'filesystem.mount'", text, 1, true)
    assert.matches("(and 2 more problems)", err.message, 1, true)
  end)

  it("validates table policies too", function()
    local err = load_fails({ limits = { memroy = "1G" } })
    assert.matches("limits.memroy", err.message, 1, true)
  end)

  it("merges a policy that extends default onto the default", function()
    local base = assert(mj.load_policy("default"))
    local path = policy_file("child.lua", 'return { extends = "default", limits = { pids = 77 } }\n')
    local pol, err = mj.load_policy(path)
    assert.is_nil(err)
    assert.are.equal(77, pol.limits.pids)
    -- everything the child does not say comes from the parent
    for k, v in pairs(base) do
      if k ~= "limits" and k ~= "extends" then
        assert.are.same(v, pol[k], "key '" .. tostring(k) .. "' was not inherited")
      end
    end
    for k, v in pairs(base.limits or {}) do
      if k ~= "pids" then
        assert.are.same(v, pol.limits[k], "limits." .. tostring(k) .. " was not inherited")
      end
    end
  end)

  it("merges a table policy that extends default", function()
    local base = assert(mj.load_policy("default"))
    local pol, err = mj.load_policy({ extends = "default", limits = { pids = 5 } })
    assert.is_nil(err)
    assert.are.equal(5, pol.limits.pids)
    for k, v in pairs(base) do
      if k ~= "limits" and k ~= "extends" then assert.are.same(v, pol[k]) end
    end
  end)

  it("reports a parent that does not exist", function()
    local err = load_fails(policy_file("orphan.lua",
                                       'return { extends = "no-such-parent-mjspec" }\n'))
    assert.matches("no-such-parent-mjspec", err.message, 1, true)
  end)

  it("reports a policy that extends itself instead of looping", function()
    local path = dir .. "/self.lua"
    policy_file("self.lua", "return { extends = " .. string.format("%q", path) .. " }\n")
    load_fails(path)
  end)
end)

describe("policy files are sandboxed code", function()
  setup(function()
    dir = helpers.tmpdir()
  end)

  teardown(function()
    helpers.cleanup()
  end)

  it("cannot call os.execute", function()
    local marker = dir .. "/executed"
    local path = policy_file("exec.lua", "os.execute('touch " .. marker .. "')\nreturn {}\n")
    load_fails(path)
    assert.is_false(helpers.exists(marker), "the policy ran a host command")
  end)

  it("cannot open files with io.open", function()
    local marker = dir .. "/written"
    local path = policy_file("io.lua", "io.open('" .. marker .. "', 'w')\nreturn {}\n")
    load_fails(path)
    assert.is_false(helpers.exists(marker), "the policy wrote a host file")
  end)

  it("cannot require modules", function()
    load_fails(policy_file("req.lua", "local m = require('moonjail')\nreturn {}\n"))
  end)

  it("cannot reach the globals through load or _G", function()
    load_fails(policy_file("load.lua", "local f = load('return os')\nreturn { x = f().getenv }\n"))
    load_fails(policy_file("g.lua", "return { x = _G.os.getenv('HOME') }\n"))
  end)

  it("is loaded as text only: precompiled bytecode is refused", function()
    local chunk = string.dump(function() return {} end)
    local path = helpers.write_file(dir .. "/bytecode.lua", chunk)
    load_fails(path)
  end)

  it("is stopped by the instruction limit instead of hanging in an endless loop", function()
    local t0 = helpers.now()
    load_fails(policy_file("loop.lua", "while true do end\nreturn {}\n"))
    assert.is_true(helpers.now() - t0 < 5, "the loop ran for more than 5 s")
  end)

  it("bounds memory spent inside one C call: s:gsub(\".\", t) fails at 64 MiB, quickly", function()
    local path = policy_file("gsub.lua", 'local s = "x"\nfor i = 1, 20 do s = s .. s end\n'
      .. 'local t = { x = s }\nreturn { description = s:gsub(".", t) }\n')
    local t0 = helpers.now()
    local err = load_fails(path)
    assert.matches(path .. ":4: memory limit exceeded (64 MiB)", err.message, 1, true)
    assert.is_true(helpers.now() - t0 < 5, "took " .. (helpers.now() - t0) .. " s")
  end)

  it("bounds time spent inside one C call: a backtracking find on 4 KB ends at the deadline", function()
    local path = policy_file("find.lua", 'local s = ""\nfor i = 1, 4096 do s = s .. "a" end\n'
      .. 'return { description = tostring(s:find(".-.-.-.-b")) }\n')
    local t0 = helpers.now()
    local err = load_fails(path)
    assert.matches(path .. ":3: time limit exceeded (2s)", err.message, 1, true)
    assert.is_true(helpers.now() - t0 < 5, "took " .. (helpers.now() - t0) .. " s")
  end)

  it("returns data only: a function in the result is refused", function()
    local err = load_fails(policy_file("fn.lua", "return { description = function() end }\n"))
    assert.matches("fn.lua: a policy returns data only (it returned a function)", err.message, 1, true)
  end)

  it("keeps the pattern functions' results: the bounded matcher is Lua's", function()
    local pol, err = mj.load_policy(policy_file("patterns.lua", [[
local a, b, c = ("key = value"):match("^(%w+)%s*=%s*(%w+)()$")
local parts = ""
for w in ("a,b,,c"):gmatch("([^,]*)") do parts = parts .. "<" .. w .. ">" end
local _, found = ("abc"):find("b", 1, true)
return { description = a .. b .. c .. parts .. (("hello world"):gsub("o", "0")) .. found
  .. ("x(y(z))"):match("%b()") }
]]))
    assert.is_nil(err)
    assert.are.equal("keyvalue12<a><b><><c>hell0 w0rld2(y(z))", pol.description)
  end)

  it("reads only policy files through extends: a path must end in .lua, and nothing is quoted", function()
    local secret = helpers.write_file(dir .. "/secret", "root:s3cr3t-token:19000:0:99999:7:::\n")
    local err = load_fails(policy_file("ext.lua", 'return { extends = "' .. secret .. '" }\n'))
    assert.matches("not a policy file", err.message, 1, true)
    assert.is_falsy(err.message:find("s3cr3t", 1, true), err.message)
    err = load_fails(policy_file("shadow.lua", 'return { extends = "/etc/shadow" }\n'))
    assert.matches("cannot read policy file '/etc/shadow': not a policy file", err.message, 1, true)
    -- a symlink with a .lua name to a file without one is refused too
    helpers.sh("ln -sf " .. helpers.shell_quote(secret) .. " " .. helpers.shell_quote(dir .. "/link.lua"))
    err = load_fails(policy_file("viasym.lua", 'return { extends = "link.lua" }\n'))
    assert.matches("not a policy file", err.message, 1, true)
    assert.is_falsy(err.message:find("s3cr3t", 1, true), err.message)
  end)

  it("names a syntax error's file and line but never quotes the file's text", function()
    local path = policy_file("tok.lua", "return { x = 1 }\nsecret_token_123 here\n")
    local err = load_fails(path)
    assert.matches(path .. ":2:", err.message, 1, true)
    assert.is_falsy(err.message:find("secret_token_123", 1, true), err.message)
    assert.is_falsy(err.message:find("here", 1, true), err.message)
  end)
end)

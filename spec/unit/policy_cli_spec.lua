-- spec/unit/policy_cli_spec.lua — `moonjail policy list|show|check` as a user runs them: a
-- subprocess of the binary.  No sandbox is started.
--
-- Covers: list prints every shipped policy with its description (text and --json); show prints
-- the merged result of an `extends` chain as a standalone policy that `check` accepts and that
-- reads back to the same JSON, with --json parsing; check prints "FILE: ok" or each problem with
-- file:line (unknown key, wrong type, syntax error, runtime error, a problem in a parent,
-- missing file), exits 0 / 125 with the first problem as the one stderr line and the full list
-- on stdout, and --json; policy files stay sandboxed under check (no os/io, instruction limit);
-- usage errors and --help for each subcommand.
local helpers = require "spec.helpers"

local cli = helpers.cli
local SHIPPED = { "build", "default", "interactive", "network", "strict" }

local dir

-- Asserts r is a moonjail error exit: 125 and exactly one stderr line; returns code, message.
local function assert_own_error(r, expected_code)
  assert.are.equal(125, r.status, "stderr: " .. r.stderr)
  local code, msg = r.stderr:match("^moonjail: ([A-Z_]+): ([^\n]+)\n$")
  assert.is_truthy(code, "stderr is not one line 'moonjail: CODE: message': " .. r.stderr)
  if expected_code then assert.are.equal(expected_code, code, r.stderr) end
  return code, msg
end

local function ok(args)
  local r = cli(args)
  assert(r.status == 0, "moonjail " .. table.concat(args, " ") .. " exited " .. tostring(r.status)
         .. ": " .. r.stderr)
  return r.stdout
end

local function policy_file(name, text)
  return helpers.write_file(dir .. "/" .. name, text)
end

describe("moonjail policy", function()
  setup(function() dir = helpers.tmpdir() end)
  teardown(function() helpers.cleanup() end)

  describe("list", function()
    it("prints every shipped policy with its description", function()
      local out = ok({ "policy", "list" })
      local lines = helpers.lines(out)
      assert.matches("^NAME%s+DESCRIPTION$", lines[1])
      for _, name in ipairs(SHIPPED) do
        local desc = out:match("\n" .. name .. " +([^\n]+)")
        assert.is_truthy(desc, name .. " is not listed:\n" .. out)
      end
      assert.matches("filtered network", out:match("\nnetwork +([^\n]+)"), 1, true)
    end)

    it("prints an array of name and description with --json", function()
      local list = helpers.json_decode(ok({ "policy", "list", "--json" }))
      local seen = {}
      for _, p in ipairs(list) do
        assert.are.equal("string", type(p.description))
        assert.is_true(#p.description > 0, p.name .. " has no description")
        seen[p.name] = true
      end
      for _, name in ipairs(SHIPPED) do assert.is_true(seen[name], name .. " missing") end
    end)

    it("refuses arguments and unknown options", function()
      assert_own_error(cli({ "policy", "list", "extra" }), "INVALID_CONFIG")
      assert_own_error(cli({ "policy", "list", "--bogus" }), "INVALID_CONFIG")
    end)
  end)

  describe("show", function()
    it("prints a shipped policy merged with its parent", function()
      local out = ok({ "policy", "show", "strict" })
      assert.matches("return {", out, 1, true)
      assert.matches('memory = "256M"', out, 1, true)    -- strict's own
      assert.matches("landlock = true", out, 1, true)
      assert.matches('"/usr"', out, 1, true)             -- host_paths from default
      assert.not_matches("extends%s*=", out)
    end)

    it("prints JSON with --json, lists as arrays and unlimited as -1", function()
      local pol = helpers.json_decode(ok({ "policy", "show", "--json", "strict" }))
      assert.are.equal("256M", pol.limits.memory)
      assert.are.equal(64, pol.limits.pids)
      assert.are.equal(true, pol.landlock)
      assert.are.equal("none", pol.network)
      assert.are.same({ "ALL" }, pol.capabilities.drop)
      assert.is_nil(pol.extends)
      local f = policy_file("unlimited.lua", 'return { extends = "default", limits = { pids = 1/0 } }\n')
      assert.are.equal(-1, helpers.json_decode(ok({ "policy", "show", f, "--json" })).limits.pids)
      assert.matches("pids = -1", ok({ "policy", "show", f }), 1, true)
    end)

    it("shows the network policy's filtered table", function()
      local pol = helpers.json_decode(ok({ "policy", "show", "network", "--json" }))
      assert.are.equal("filtered", pol.network.mode)
      assert.is_true(#pol.network.allow > 0)
    end)

    it("merges a file's extends chain: maps key by key, lists replaced", function()
      helpers.write_file(dir .. "/data", "")
      local parent = policy_file("parent.lua", [[
return {
  extends = "strict",
  description = "parent",
  limits = { memory = "128M" },
  filesystem = { mounts = { { "data", "/data" } } },
}
]])
      local child = policy_file("child.lua", [[
return {
  extends = "./parent.lua",
  limits = { pids = 16 },
  filesystem = { tmpfs = { "/scratch" } },
}
]])
      assert.is_truthy(parent)
      local pol = helpers.json_decode(ok({ "policy", "show", "--json", child }))
      assert.are.equal("parent", pol.description)
      assert.are.equal("128M", pol.limits.memory) -- the parent's
      assert.are.equal(16, pol.limits.pids)        -- the child's
      assert.are.equal("5m", pol.limits.wall_time) -- strict's
      assert.are.same({ "/scratch" }, pol.filesystem.tmpfs) -- list replaced
      -- relative mount sources resolve against the file that names them
      assert.are.same({ { src = dir .. "/data", dst = "/data", mode = "ro" } }, pol.filesystem.mounts)
    end)

    it("prints a standalone policy that check accepts and that reads back the same", function()
      for _, name in ipairs(SHIPPED) do
        local text = ok({ "policy", "show", name })
        local copy = policy_file(name .. "-shown.lua", text)
        assert.are.equal(copy .. ": ok\n", ok({ "policy", "check", copy }))
        assert.are.same(helpers.json_decode(ok({ "policy", "show", "--json", name })),
          helpers.json_decode(ok({ "policy", "show", "--json", copy })), name)
      end
    end)

    it("keeps a stable key order", function()
      local a = ok({ "policy", "show", "build" })
      assert.are.equal(a, ok({ "policy", "show", "build" }))
      local keys = {}
      for k in a:gmatch("\n  ([%a_]+) = ") do keys[#keys + 1] = k end
      local sorted = { table.unpack(keys) }
      table.sort(sorted)
      assert.are.same(sorted, keys)
    end)

    it("fails with one line for an unknown policy, suggesting the close one", function()
      local _, msg = assert_own_error(cli({ "policy", "show", "strikt" }), "INVALID_CONFIG")
      assert.matches("did you mean 'strict'", msg, 1, true)
      local r = cli({ "policy", "show", "--json", "strikt" })
      assert.are.equal(125, r.status)
      assert.are.equal("INVALID_CONFIG", helpers.json_decode(r.stdout).error.code)
    end)

    it("needs exactly one policy", function()
      assert_own_error(cli({ "policy", "show" }), "INVALID_CONFIG")
      assert_own_error(cli({ "policy", "show", "strict", "build" }), "INVALID_CONFIG")
    end)
  end)

  describe("check", function()
    it("prints FILE: ok and exits 0 for valid files, the shipped ones included", function()
      local files = {}
      for _, name in ipairs(SHIPPED) do files[#files + 1] = "policies/" .. name .. ".lua" end
      local r = cli({ "policy", "check", table.unpack(files) })
      assert.are.equal(0, r.status, r.stderr)
      assert.are.equal("", r.stderr)
      for _, f in ipairs(files) do assert.is_truthy(r.stdout:find(f .. ": ok\n", 1, true), r.stdout) end
    end)

    it("names file:line of an unknown key, with a suggestion", function()
      local f = policy_file("typo.lua", 'return {\n  extends = "default",\n  limits = {\n    memroy = "1G",\n  },\n}\n')
      local r = cli({ "policy", "check", f })
      local _, msg = assert_own_error(r, "INVALID_CONFIG")
      assert.matches(f .. ":4: policy: unknown key 'limits.memroy' (did you mean 'limits.memory'?)", msg, 1, true)
      assert.are.equal(f .. ":4: policy: unknown key 'limits.memroy' (did you mean 'limits.memory'?)\n", r.stdout)
    end)

    it("names file:line of a value of the wrong type", function()
      local f = policy_file("type.lua", 'return {\n  limits = {\n    pids = "many",\n  },\n}\n')
      local r = cli({ "policy", "check", f })
      assert_own_error(r, "INVALID_CONFIG")
      assert.matches("^" .. f:gsub("%p", "%%%0") .. ":3: policy: 'limits.pids': ", r.stdout)
    end)

    it("names file:line of a syntax error and of an error raised by the file", function()
      local syn = policy_file("syntax.lua", "return {\n  limits = {\n    pids = 10,,\n  },\n}\n")
      local rt = policy_file("raises.lua", "local x\nreturn { limits = x.y }\n")
      local r = cli({ "policy", "check", syn, rt })
      assert_own_error(r, "INVALID_CONFIG")
      local lines = helpers.lines(r.stdout)
      assert.are.equal(2, #lines, r.stdout)
      assert.matches(syn .. ":3: syntax error: ", lines[1], 1, true)
      assert.matches(rt .. ":2: error: ", lines[2], 1, true)
    end)

    it("lists every file's result on stdout and the first problem on stderr", function()
      local good = policy_file("good.lua", 'return { extends = "strict", limits = { wall_time = "15m" } }\n')
      local bad1 = policy_file("bad1.lua", "return { nosuch = 1 }\n")
      local bad2 = policy_file("bad2.lua", 'return { network = "everywhere" }\n')
      local missing = dir .. "/missing.lua"
      local r = cli({ "policy", "check", good, bad1, bad2, missing })
      local _, msg = assert_own_error(r, "INVALID_CONFIG")
      assert.matches(bad1 .. ":1:", msg, 1, true)
      local lines = helpers.lines(r.stdout)
      assert.are.equal(4, #lines, r.stdout)
      assert.are.equal(good .. ": ok", lines[1])
      assert.matches(bad1 .. ":1: policy: unknown key 'nosuch'", lines[2], 1, true)
      assert.matches(bad2 .. ":1: policy: 'network': ", lines[3], 1, true)
      assert.matches(missing .. ": cannot read policy file", lines[4], 1, true)
    end)

    it("names the parent's file:line for a problem in a policy it extends", function()
      local sub = dir .. "/sub"
      os.execute("mkdir -p " .. helpers.shell_quote(sub))
      local parent = policy_file("base.lua", 'return {\n  extends = "default",\n  user = "x:y:z",\n}\n')
      local child = helpers.write_file(sub .. "/child.lua", 'return { extends = "../base.lua" }\n')
      local r = cli({ "policy", "check", child })
      assert_own_error(r, "INVALID_CONFIG")
      -- "CHILD: PARENT:3: policy: 'user': …" — the problem is in the parent, found via the child
      assert.matches("^" .. child:gsub("%p", "%%%0") .. ": ", r.stdout)
      assert.matches("base.lua:3: policy: 'user'", r.stdout, 1, true)
      assert.is_truthy(parent)
    end)

    it("checks a relative path against the current directory", function()
      policy_file("rel.lua", 'return { extends = "build" }\n')
      local out = helpers.sh("cd " .. helpers.shell_quote(dir) .. " && "
        .. helpers.shell_quote(helpers.moonjail_bin()) .. " policy check rel.lua")
      assert.are.equal("rel.lua: ok", out)
    end)

    it("loads policy files sandboxed: no os, no io, an instruction limit", function()
      local marker = dir .. "/ran"
      local f_os = policy_file("os.lua", 'os.execute("touch ' .. marker .. '")\nreturn {}\n')
      local f_io = policy_file("io.lua", 'io.open("' .. marker .. '", "w")\nreturn {}\n')
      local f_loop = policy_file("loop.lua", "while true do end\n")
      local r = cli({ "policy", "check", f_os, f_io, f_loop })
      assert_own_error(r, "INVALID_CONFIG")
      local lines = helpers.lines(r.stdout)
      assert.matches(f_os .. ":1: error: attempt to index a nil value (global 'os')", lines[1], 1, true)
      assert.matches(f_io .. ":1: error: attempt to index a nil value (global 'io')", lines[2], 1, true)
      assert.matches(f_loop .. ":1: error: instruction limit exceeded", lines[3], 1, true)
      assert.is_false(helpers.exists(marker), "a policy file reached the host")
    end)

    it("prints the results as JSON with --json", function()
      local good = policy_file("j-good.lua", 'return { extends = "default" }\n')
      local bad = policy_file("j-bad.lua", 'return {\n  limits = { memory = "lots" },\n}\n')
      local r = cli({ "policy", "check", "--json", good, bad })
      assert_own_error(r, "INVALID_CONFIG")
      local res = helpers.json_decode(r.stdout)
      assert.is_false(res.ok)
      assert.are.equal(2, #res.files)
      assert.are.same({ file = good, ok = true, problems = {} }, res.files[1])
      local b = res.files[2]
      assert.are.equal(bad, b.file)
      assert.is_false(b.ok)
      assert.are.equal(1, #b.problems)
      assert.are.equal(bad, b.problems[1].file)
      assert.are.equal(2, b.problems[1].line)
      assert.matches("limits.memory", b.problems[1].message, 1, true)
      local all_ok = helpers.json_decode(ok({ "policy", "check", "--json", good }))
      assert.is_true(all_ok.ok)
    end)

    it("needs at least one file", function()
      assert_own_error(cli({ "policy", "check" }), "INVALID_CONFIG")
    end)
  end)

  describe("help and usage", function()
    it("prints help for the command and each subcommand", function()
      assert.matches("Usage: moonjail policy COMMAND", ok({ "policy", "--help" }), 1, true)
      assert.matches("Usage: moonjail policy COMMAND", ok({ "policy" }), 1, true)
      assert.matches("Usage: moonjail policy COMMAND", ok({ "help", "policy" }), 1, true)
      assert.matches("Usage: moonjail policy list", ok({ "policy", "list", "--help" }), 1, true)
      assert.matches("Usage: moonjail policy show", ok({ "policy", "show", "-h" }), 1, true)
      assert.matches("Usage: moonjail policy check", ok({ "policy", "check", "--help" }), 1, true)
    end)

    it("is listed as implemented in the main help", function()
      local main = ok({ "--help" })
      assert.matches("policy list|show|check", main, 1, true)
      assert.not_matches("Not implemented yet:[^\n]*policy", main)
    end)

    it("refuses an unknown subcommand with a suggestion", function()
      local _, msg = assert_own_error(cli({ "policy", "shwo" }), "INVALID_CONFIG")
      assert.matches("did you mean 'show'", msg, 1, true)
    end)
  end)
end)

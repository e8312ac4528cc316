-- spec/unit/cliopts_spec.lua — the command line's one option parser (moonjail.cliopts) and its
-- tables (moonjail.cli_tables), without starting anything.
--
-- Covers: `--opt VALUE`, `--opt=VALUE`, `-o VALUE`, docker's (pflag's) `-oVALUE`, `-o=VALUE` and
-- a cluster ending in a letter that takes a value (`-de K=V`, `-deK=V`); a value that looks like
-- an option (taken), one that is an option of the command (refused, unless given inline); "--"
-- ending the options; "-" as an argument; clustered one-letter flags (`-it`) and an unknown letter
-- in a cluster; repeating options and the last one winning otherwise; the three ways positionals
-- mix with options (stop, interleave, passthrough); unknown options with a "did you mean"
-- suggestion (also for a long name typed with one dash), docker flags refused with their reason,
-- missing values, values given to flags; converters and their messages; the partial result
-- returned with an error; long aliases; --help text generated from the tables (placement at the
-- column, wrapping, hidden options); and that the tables are plain data a C reader or a
-- completion generator can walk (no functions, every option named by a command exists, no name
-- taken twice in a command, every refused flag unknown to its command).
local cliopts = require "moonjail.cliopts"
local tables = require "moonjail.cli_tables"

-- A small table of its own, for what the real one does not use yet (aliases).
local toy = cliopts.new({
  refused = { interleave = { ["--privileged"] = "never", ["-P"] = "no ports" } },
  options = {
    help = { long = "help", short = "h", help = "Show this help" },
    all = { long = "all", short = "a", help = "All of them" },
    quiet = { long = "quiet", short = "q", help = "Say less" },
    name = { long = "name", short = "n", value = "NAME", type = "string", help = "A name" },
    tag = { long = "tag", value = "T", type = "string", repeats = true, help = "A tag;\nrepeatable" },
    network = { long = "network", aliases = { "net" }, value = "MODE", type = "network", help = "none | host" },
    secret = { long = "secret", value = "S", type = "string", hidden = true, help = "not listed" },
    ["a-very-long-option"] = { long = "a-very-long-option", value = "VALUE", type = "string", help = "Wraps" },
  },
  commands = {
    interleave = { args = "interleave", options = { "all", "quiet", "name", "tag", "network", "secret", "help" },
      column = 20, help = "Usage: toy\n\nOptions:\n" },
    stop = { args = "stop", options = { "all", "name", "help" }, help = "Usage: stop\n" },
    pass = { args = "passthrough", options = { "help" }, help = "Usage: pass\n" },
    wrap = { args = "interleave", options = { { "a-very-long-option", help = "Its own text" }, "help" },
      column = 14, help = "" },
  },
})

describe("cliopts.parse", function()
  it("takes a value as --opt VALUE, --opt=VALUE and -o VALUE", function()
    assert.are.equal("x", toy.parse("interleave", { "--name", "x" }).name)
    assert.are.equal("x", toy.parse("interleave", { "--name=x" }).name)
    assert.are.equal("", toy.parse("interleave", { "--name=" }).name)
    assert.are.equal("a=b", toy.parse("interleave", { "--name=a=b" }).name)
    assert.are.equal("x", toy.parse("interleave", { "-n", "x" }).name)
  end)

  it("takes the next argument as the value whatever it looks like, unless it is an option", function()
    assert.are.equal("-x", toy.parse("interleave", { "--name", "-x" }).name)
    assert.are.equal("--", toy.parse("interleave", { "-n", "--" }).name)
    assert.are.equal("-1", toy.parse("interleave", { "-n", "-1" }).name)
    for _, opt in ipairs({ "--all", "-a", "-aq", "--tag=x", "--net" }) do
      local res, err = toy.parse("interleave", { "--name", opt })
      assert.is_nil(res, opt)
      assert.are.equal("interleave: option '--name' needs a value, and '" .. opt .. "' is an option of "
        .. "'moonjail interleave' (write --name=" .. opt .. " if it is the value)", err.message)
    end
    assert.are.equal("--all", toy.parse("interleave", { "--name=--all" }).name)
    assert.are.equal("--all", toy.parse("interleave", { "-n=--all" }).name)
  end)

  it("takes docker's forms of one-letter options with a value", function()
    assert.are.equal("x", toy.parse("interleave", { "-nx" }).name)
    assert.are.equal("K=V", toy.parse("interleave", { "-nK=V" }).name)
    assert.are.equal("K", toy.parse("interleave", { "-n=K" }).name)
    local res = toy.parse("interleave", { "-an", "x" })
    assert.is_true(res.all)
    assert.are.equal("x", res.name)
    res = toy.parse("interleave", { "-qanx" })
    assert.is_true(res.quiet and res.all)
    assert.are.equal("x", res.name)
  end)

  it("starts at argv[first]", function()
    local res, pos = toy.parse("interleave", { "interleave", "-a", "x" }, 2)
    assert.is_true(res.all)
    assert.are.same({ "x" }, pos)
  end)

  it("ends the options at --", function()
    local res, pos = toy.parse("interleave", { "-a", "--", "-q", "--name", "x" })
    assert.is_true(res.all)
    assert.is_nil(res.quiet)
    assert.are.same({ "-q", "--name", "x" }, pos)
  end)

  it("takes '-' and '' as arguments", function()
    local _, pos = toy.parse("interleave", { "-", "", "-a" })
    assert.are.same({ "-", "" }, pos)
  end)

  it("clusters one-letter flags", function()
    local res = toy.parse("interleave", { "-aq" })
    assert.is_true(res.all)
    assert.is_true(res.quiet)
    res = toy.parse("interleave", { "-qah" })
    assert.is_true(res.help)
  end)

  it("refuses a cluster with an unknown letter, naming the letter", function()
    local res, err = toy.parse("interleave", { "-ax" })
    assert.is_nil(res)
    assert.are.equal("-ax", err.option)
    assert.are.equal("interleave: unknown option '-x' in '-ax' (see 'moonjail interleave --help')", err.message)
    res, err = toy.parse("interleave", { "-xquiet" })
    assert.is_nil(res)
    assert.are.equal("interleave: unknown option '-xquiet'; did you mean '--quiet'? (see 'moonjail interleave "
      .. "--help')", err.message)
  end)

  it("appends each value of a repeating option, and keeps the last of any other", function()
    local res = toy.parse("interleave", { "--tag", "a", "--tag=b", "-n", "1", "--name", "2" })
    assert.are.same({ "a", "b" }, res.tag)
    assert.are.equal("2", res.name)
  end)

  it("knows an option by its long aliases", function()
    assert.are.equal("none", toy.parse("interleave", { "--net", "none" }).network)
    assert.are.equal("host", toy.parse("interleave", { "--net=host" }).network)
  end)

  it("parses hidden options", function()
    assert.are.equal("s", toy.parse("interleave", { "--secret", "s" }).secret)
  end)

  describe("positionals", function()
    it("interleave: options anywhere until --", function()
      local res, pos = toy.parse("interleave", { "a", "-q", "b", "--", "-a" })
      assert.is_true(res.quiet)
      assert.is_nil(res.all)
      assert.are.same({ "a", "b", "-a" }, pos)
    end)

    it("stop: the first positional ends the options", function()
      local res, pos = toy.parse("stop", { "-a", "cmd", "-n", "x", "--", "y" })
      assert.is_true(res.all)
      assert.is_nil(res.name)
      assert.are.same({ "cmd", "-n", "x", "--", "y" }, pos)
    end)

    it("passthrough: only an option spelled exactly is one", function()
      local res, pos = toy.parse("pass", { "--help", "x" })
      assert.is_true(res.help)
      assert.are.same({ "x" }, pos)
      res, pos = toy.parse("pass", { "--bogus", "--help" })
      assert.is_nil(res.help)
      assert.are.same({ "--bogus", "--help" }, pos)
      res, pos = toy.parse("pass", { "--help=1" })
      assert.is_nil(res.help)
      assert.are.same({ "--help=1" }, pos)
      res, pos = toy.parse("pass", { "--", "--help" })
      assert.is_nil(res.help)
      assert.are.same({ "--help" }, pos)
    end)
  end)

  describe("errors", function()
    it("names an unknown option and suggests the closest long one", function()
      local res, err, partial = toy.parse("interleave", { "-a", "--qiuet" })
      assert.is_nil(res)
      assert.are.equal(
        "interleave: unknown option '--qiuet'; did you mean '--quiet'? (see 'moonjail interleave --help')",
        err.message)
      assert.are.equal("--qiuet", err.option)
      assert.are.equal("--quiet", toy.suggest("interleave", err.option))
      assert.is_true(partial.all) -- what was parsed before the error (e.g. --json, to report as JSON)
      res, err = toy.parse("interleave", { "--nme=x" })
      assert.is_nil(res)
      assert.are.equal("--nme=x", err.option)
      assert.are.equal("--name", toy.suggest("interleave", err.option))
      res, err = toy.parse("interleave", { "--zzzzzz" })
      assert.is_nil(res)
      assert.is_nil(toy.suggest("interleave", err.option))
    end)

    it("suggests for a long name typed with one dash", function()
      local _, err = toy.parse("interleave", { "-quiet" })
      assert.are.equal("--quiet", toy.suggest("interleave", err.option))
    end)

    it("refuses a docker flag the tables list with its reason", function()
      local res, err = toy.parse("interleave", { "--privileged" })
      assert.is_nil(res)
      assert.are.equal("interleave: option '--privileged' is not supported: never", err.message)
      res, err = toy.parse("interleave", { "--privileged=true" })
      assert.is_nil(res)
      assert.are.equal("interleave: option '--privileged' is not supported: never", err.message)
      res, err = toy.parse("interleave", { "-P" })
      assert.is_nil(res)
      assert.are.equal("interleave: option '-P' is not supported: no ports", err.message)
      res, err = toy.parse("interleave", { "-aP" })
      assert.is_nil(res)
      assert.are.equal("interleave: option '-P' is not supported: no ports", err.message)
    end)

    it("never suggests a hidden option", function()
      local _, err = toy.parse("interleave", { "--secrit" })
      assert.is_nil(toy.suggest("interleave", err.option))
    end)

    it("suggests for the real commands too", function()
      local _, err = cliopts.parse("run", { "--polcy", "x", "true" })
      assert.are.equal("--policy", cliopts.suggest("run", err.option))
      assert.are.equal("--policy", cliopts.suggest("run", "--polciy"))
      assert.is_nil(cliopts.suggest("run", "-x"))
    end)

    it("refuses a missing value", function()
      local res, err = toy.parse("interleave", { "--name" })
      assert.is_nil(res)
      assert.are.equal("interleave: option '--name' needs a value", err.message)
      res, err = toy.parse("interleave", { "-a", "-n" })
      assert.is_nil(res)
      assert.are.equal("interleave: option '-n' needs a value", err.message)
    end)

    it("refuses a value given to a flag", function()
      local res, err = toy.parse("interleave", { "--all=yes" })
      assert.is_nil(res)
      assert.are.equal("interleave: option '--all' takes no value", err.message)
    end)
  end)

  describe("converters", function()
    it("get the value, the name as typed and the option, and may refuse it", function()
      local seen = {}
      local convert = {
        name = function(res, v, typed, opt)
          seen[#seen + 1] = typed .. " " .. opt.long
          if v == "bad" then return typed .. " is bad" end
          res.names = (res.names or "") .. v
        end,
        all = function(res, v, typed) res.all_typed = typed; assert(v == nil) end,
      }
      local res = toy.parse("interleave", { "-n", "a", "--name=b", "-qa" }, 1, convert, { names = ">" })
      assert.are.equal(">ab", res.names)
      assert.is_nil(res.name)
      assert.are.equal("-a", res.all_typed) -- in a cluster, the letter
      assert.are.same({ "-n name", "--name name" }, seen)
      local _, err = toy.parse("interleave", { "--name", "bad" }, 1, convert)
      assert.are.equal("interleave: --name is bad", err.message)
    end)
  end)
end)

describe("cliopts.help", function()
  it("lists the visible options at the command's column, wrapping what does not fit", function()
    assert.are.equal(table.concat({
      "Usage: toy\n\nOptions:\n",
      "  -a, --all         All of them\n",
      "  -q, --quiet       Say less\n",
      "  -n, --name NAME   A name\n",
      "      --tag T       A tag;\n",
      "                    repeatable\n",
      "      --network MODE\n",
      "                    none | host\n",
      "  -h, --help        Show this help\n",
    }), toy.help("interleave"))
    assert.are.equal("      --a-very-long-option VALUE\n              Its own text\n  -h, --help  Show this help\n",
      toy.help("wrap"))
    assert.are.equal("Usage: stop\n", toy.help("stop"))
  end)

  it("writes the real commands' option lists", function()
    local run = cliopts.help("run")
    assert.matches("\n  -e, --env K[=V]         Set an environment variable", run, 1, true)
    assert.matches("\n      --repo SRC[:DST][:MODE]\n                          Mount a repository", run, 1, true)
    assert.matches("\n      --image IMAGE", run, 1, true)
    assert.matches("\n  -e, --env K[=V]         Default environment of its commands", cliopts.help("create"), 1, true)
    assert.matches("\n  -a, --all     Show all sandboxes", cliopts.help("ps"), 1, true)
  end)
end)

describe("cli_tables", function()
  local function plain(v, path)
    local t = type(v)
    if t == "table" then
      assert.is_nil(getmetatable(v), path .. " has a metatable")
      for k, x in pairs(v) do
        assert.is_true(type(k) == "string" or math.type(k) == "integer", path .. ": key " .. tostring(k))
        plain(x, path .. "." .. tostring(k))
      end
    else
      assert.is_true(t == "string" or t == "number" or t == "boolean", path .. " is a " .. t)
    end
  end

  it("are plain data", function()
    plain(tables, "cli_tables")
  end)

  local TYPES = {}
  for w in ([[string policy host_path sandbox_path bind volume tmpfs mount repo glob env kv user network publish
    net_rule duration size number integer capability signal security_opt ulimit sandbox_name]]):gmatch("%S+") do
    TYPES[w] = true
  end

  it("describe every option fully", function()
    for id, o in pairs(tables.options) do
      assert.are.equal("string", type(o.long), id)
      assert.is_truthy(o.long:match("^%l[%l%d-]*$"), id)
      assert.is_true(o.short == nil or (#o.short == 1 and o.short:match("%a") ~= nil), id)
      assert.are.equal("string", type(o.help), id)
      if o.value then
        assert.is_true(TYPES[o.type], id .. ": type " .. tostring(o.type))
      else
        assert.is_nil(o.type, id)
        assert.is_nil(o.repeats, id)
      end
    end
  end)

  it("give each command known options, each name once, and a way to mix positionals", function()
    local ARGS = { stop = true, interleave = true, passthrough = true }
    local all = { moonjail = tables.main }
    for name, c in pairs(tables.commands) do all[name] = c end
    for name, c in pairs(all) do
      assert.is_true(ARGS[c.args], name)
      assert.are.equal("string", type(c.help), name)
      local seen = {}
      for _, e in ipairs(cliopts.options_of(name)) do
        local names = { "--" .. e.opt.long, e.opt.short and ("-" .. e.opt.short) or nil }
        for _, a in ipairs(e.opt.aliases or {}) do table.insert(names, 1, "--" .. a) end
        for _, n in ipairs(names) do
          assert.is_nil(seen[n], name .. ": " .. n .. " twice")
          seen[n] = true
        end
      end
      assert.is_true(seen["--help"], name .. " has no --help")
    end
  end)

  it("refuse only flags their command does not take, each with a reason", function()
    for name, list in pairs(tables.refused) do
      assert.is_table(tables.commands[name], name)
      for flag, why in pairs(list) do
        assert.is_truthy(flag:match("^%-%a$") or flag:match("^%-%-%l[%l%d-]+$"), name .. ": " .. flag)
        assert.is_nil(cliopts.match(name, flag), name .. " takes " .. flag)
        assert.are.equal("string", type(why))
        assert.is_true(#why > 5, name .. " " .. flag)
        local _, err = cliopts.parse(name, { flag .. (flag:sub(2, 2) == "-" and "=1" or "") })
        assert.are.equal(name .. ": option '" .. flag .. "' is not supported: " .. why, err.message)
      end
    end
    for name, c in pairs(tables.commands) do
      if c.refuses then assert.is_table(tables.refused[c.refuses], name) end
    end
  end)

  it("say what each command's operands are, for completion", function()
    local KINDS = { sandbox = true, command = true, file = true, cp_path = true, policy = true, command_name = true,
      shell = true, ["…"] = true }
    for name, c in pairs(tables.commands) do
      for i, k in ipairs(c.operands or {}) do
        assert.is_true(KINDS[k], name .. ": operand " .. tostring(k))
        if k == "…" then assert.are.equal(#c.operands, i, name) end
      end
    end
  end)

  it("name the commands of each subcommand", function()
    for _, sub in ipairs(tables.commands.policy.subcommands) do
      assert.is_table(tables.commands["policy " .. sub], sub)
    end
  end)

  it("say which commands take an option", function()
    assert.are.same({ "create", "exec", "run" }, cliopts.commands_of("env"))
    assert.are.same({ "diff" }, cliopts.commands_of("diff-mount"))
  end)

  it("make -h/--help the help option", function()
    assert.is_true(cliopts.is_help("-h"))
    assert.is_true(cliopts.is_help("--help"))
    assert.is_false(cliopts.is_help("--help=1"))
    assert.is_false(cliopts.is_help(nil))
    assert.are.equal("version", cliopts.match("moonjail", "--version"))
  end)
end)

-- spec/unit/cli_docs_spec.lua — the help and docs/cli.md cannot drift from the parser: a walk over
-- every command the main help lists and every option each command's --help, the main help's
-- synopses, and docs/cli.md's synopses and option tables name, each checked against the tables
-- the parser reads (moonjail.cli_tables through moonjail.cliopts).  No sandbox is started.
local helpers = require "spec.helpers"
local tables = require "moonjail.cli_tables"
local cliopts = require "moonjail.cliopts"

local function moonjail(args)
  local r = helpers.cli(args)
  assert(r.status == 0, "moonjail " .. table.concat(args, " ") .. " exited " .. r.status .. ": " .. r.stderr)
  return r.stdout
end

-- The command `word` names (an alias such as inspect resolved), or nil.
local function command_of(word)
  if tables.commands[word] then return word end
  for name, c in pairs(tables.commands) do
    for _, a in ipairs(c.aliases or {}) do if a == word then return name end end
  end
end

-- The options named in `text`: --long (up to '=' or a space) and -x (one letter, alone).
local function options_in(text)
  local out = {}
  for o in text:gmatch("%f[%w%-](%-%-%a[%w-]*)") do out[#out + 1] = o end
  for o in text:gmatch("%f[%w%-](%-%a)%f[^%w]") do out[#out + 1] = o end
  return out
end

-- Asserts that each option in `text` is an option of one of `cmds`, or one the tables refuse with
-- a reason (docker's, shown as refused); returns how many were checked.
local function check_options(where, cmds, text)
  local n = 0
  for _, o in ipairs(options_in(text)) do
    local ok = false
    for _, c in ipairs(cmds) do
      local refused = tables.refused[tables.commands[c].refuses or c] or {}
      ok = ok or cliopts.match(c, o) ~= nil or refused[o] ~= nil
    end
    assert(ok, where .. ": " .. o .. " is no option of " .. table.concat(cmds, "/") .. " in: " .. text)
    n = n + 1
  end
  return n
end

local function source_dir()
  return os.getenv("MOONJAIL_SOURCE_DIR") or "."
end

describe("the help", function()
  it("lists every command, and each listed command parses with the options its synopsis shows", function()
    local main = moonjail({ "--help" })
    local listed, checked = {}, 0
    for line in main:match("Commands:\n(.-)\n\nRun 'moonjail COMMAND"):gmatch("[^\n]+") do
      local synopsis = line:match("^  (.-)%s%s%s+%u") or line:match("^  (%S.*)$")
      -- "pause NAME... / resume NAME...": each part is a command with its synopsis
      for part in (synopsis .. " / "):gmatch("(.-) / ") do
        local word = part:match("^(%S+)")
        local cmd = command_of(word)
        assert(cmd, "the main help lists '" .. word .. "', which is no command")
        listed[cmd] = true
        local sub = part:match("^policy (%a+)|")
        checked = checked + check_options("main help", { sub and "policy " .. sub or cmd }, part)
      end
    end
    for name in pairs(tables.commands) do
      if not name:find(" ") then assert(listed[name], "the main help does not list '" .. name .. "'") end
    end
    assert.is_true(checked >= 10, "only " .. checked .. " options in the main help's synopses")
  end)

  it("of each command shows only options that command parses, and every visible one", function()
    for name in pairs(tables.commands) do
      local words = {}
      for w in name:gmatch("%S+") do words[#words + 1] = w end
      words[#words + 1] = "--help"
      local text = moonjail(words)
      local shown = {}
      for line in (text:match("\nOptions[^\n]*:\n(.*)$") or ""):gmatch("[^\n]+") do
        local short, long = line:match("^  (%-%a), (%-%-[%w-]+)")
        long = long or line:match("^      (%-%-[%w-]+)")
        if long then
          assert(cliopts.match(name, long), name .. " --help shows " .. long .. ", which it does not parse")
          shown[long] = true
        end
        if short then assert(cliopts.match(name, short), name .. " --help shows " .. short) end
      end
      -- a help without an Options list names its options in the usage line
      local usage = not text:find("\nOptions[^\n]*:\n") and text:match("^Usage: ([^\n]*)")
      for _, e in ipairs(cliopts.options_of(name)) do
        if not e.opt.hidden and not (usage and e.id == "help") then
          local long = "--" .. e.opt.long
          local seen = shown[long] or (usage and (usage:find(long, 1, true)
            or (e.opt.short and usage:find("-" .. e.opt.short, 1, true))))
          assert(seen, name .. " --help does not show " .. long)
        end
      end
    end
  end)
end)

describe("docs/cli.md", function()
  local text = helpers.read_file(source_dir() .. "/docs/cli.md")

  it("names only commands that exist, each command the help lists", function()
    assert.is_truthy(text, "docs/cli.md not found under " .. source_dir())
    local headed = {}
    for heading in text:gmatch("\n##+ moonjail ([^\n]+)") do
      for word in heading:gmatch("[%a]+") do
        local cmd = command_of(word)
        assert(cmd, "docs/cli.md has a section for '" .. word .. "', which is no command")
        headed[cmd] = true
      end
    end
    for name in pairs(tables.commands) do
      if not name:find(" ") then assert(headed[name], "docs/cli.md has no section for '" .. name .. "'") end
    end
  end)

  it("shows synopses and option tables that parse", function()
    local cmds, checked = nil, 0
    for line in text:gmatch("[^\n]*") do
      local heading = line:match("^##+ moonjail (.+)$")
      if heading then
        cmds = {}
        for word in heading:gmatch("%a+") do cmds[#cmds + 1] = command_of(word) end
      elseif line:match("^##+ ") then
        cmds = nil
      end
      -- a synopsis anywhere: `moonjail CMD [OPTIONS…]` in code or in a code span
      for syn in (line .. "`"):gmatch("moonjail (%l[^`]*)") do
        local word, rest = syn:match("^(%l+)(.*)$")
        local cmd = command_of(word)
        if cmd and word ~= "script" and not rest:find("%-%-%s") and not rest:find("<") then
          local sub = cmd == "policy" and rest:match("^ (%l+)")
          if sub and tables.commands["policy " .. sub] then cmd = "policy " .. sub end
          -- what follows the command's own arguments is the sandboxed command's
          local own = rest:match("^(.-)%s+CMD") or rest:match("^(.-)%s+sh%s") or rest
          if not own:find("|%s*$") then checked = checked + check_options("docs/cli.md", { cmd }, own) end
        end
      end
      -- a row of an option table: its first cell names options of the section's commands
      local cell = line:match("^| (`%-[^|]+) |")
      if cell and cmds and #cmds > 0 then
        checked = checked + check_options("docs/cli.md", cmds, cell)
      end
    end
    assert.is_true(checked >= 60, "only " .. checked .. " options checked")
  end)
end)

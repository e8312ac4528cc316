-- moonjail.cliopts — the one option parser of the command line, driven by the tables of
-- moonjail.cli_tables: argv -> options and positional arguments, --help text, "did you mean".
-- It knows no command and gives no value a meaning: a caller's converters do, by option id.
-- Never: print, exit, load the engine, or keep a second list of options beside the tables.
--
-- Forms (every command): `--opt VALUE`, `--opt=VALUE`, `-o VALUE`; one-letter flags clustered
-- (`-it` is `-i -t`; a letter that takes a value cannot be clustered); `--` ends the options;
-- "-" alone is an argument.  A value is the next argument whatever it looks like (`-e -x`).
-- A "passthrough" command (script, help) takes only options spelled exactly as declared.
local M = {}

-- The result field of option `opt`: its long name with "-" as "_".
local function key_of(opt) return (opt.long:gsub("-", "_")) end

--- A parser over `tables` (moonjail.cli_tables' shape); the module itself is one over the real tables.
function M.new(tables)
  local P = { tables = tables }
  local indexes = {} -- command name -> { ["--long"] = id, ["-s"] = id }

  local function command(name)
    local cmd = name == "moonjail" and tables.main or tables.commands[name]
    if not cmd then error("cliopts: no command '" .. tostring(name) .. "'", 3) end
    return cmd
  end

  -- The entries of command `name`'s option list as { id =, opt =, help = }, in order.
  function P.options_of(name)
    local out = {}
    for _, e in ipairs(command(name).options) do
      local id = type(e) == "table" and e[1] or e
      local opt = tables.options[id]
      if not opt then error("cliopts: command '" .. name .. "' names no option '" .. tostring(id) .. "'", 2) end
      out[#out + 1] = { id = id, opt = opt, help = type(e) == "table" and e.help or opt.help }
    end
    return out
  end

  local function index(name)
    local ix = indexes[name]
    if ix then return ix end
    ix = {}
    for _, e in ipairs(P.options_of(name)) do
      ix["--" .. e.opt.long] = e.id
      for _, a in ipairs(e.opt.aliases or {}) do ix["--" .. a] = e.id end
      if e.opt.short then ix["-" .. e.opt.short] = e.id end
    end
    indexes[name] = ix
    return ix
  end

  --- The option id that `word` names exactly ("-h", "--help") for command `name`, or nil.
  function P.match(name, word)
    return index(name)[word]
  end

  --- Is `word` the help option (-h, --help)?
  function P.is_help(word)
    local h = tables.options.help
    return word == "--" .. h.long or word == "-" .. h.short
  end

  --- The visible long option of command `name` closest to `word` ("--polcy" -> "--policy"), or nil.
  function P.suggest(name, word)
    if type(word) ~= "string" or word:sub(1, 2) ~= "--" then return nil end
    local names = {}
    for _, e in ipairs(P.options_of(name)) do
      if not e.opt.hidden then names[#names + 1] = "--" .. e.opt.long end
    end
    return require("moonjail.util").suggest(word:match("^[^=]*"), names)
  end

  --- The commands that take option `id`, sorted.
  function P.commands_of(id)
    local out = {}
    for name in pairs(tables.commands) do
      for _, e in ipairs(P.options_of(name)) do
        if e.id == id then out[#out + 1] = name; break end
      end
    end
    table.sort(out)
    return out
  end

  --- Command `name`'s --help: its text, then its options when the table gives a column.
  function P.help(name)
    local cmd = command(name)
    if not cmd.column then return cmd.help end
    local col, out = cmd.column, { cmd.help }
    for _, e in ipairs(P.options_of(name)) do
      if not e.opt.hidden then
        local o = e.opt
        local head = (o.short and ("  -" .. o.short .. ", ") or "      ") .. "--" .. o.long
          .. (o.value and (" " .. o.value) or "")
        local first = true
        for line in (e.help .. "\n"):gmatch("(.-)\n") do
          if first and #head < col then
            out[#out + 1] = head .. string.rep(" ", col - #head) .. line .. "\n"
          else
            if first then out[#out + 1] = head .. "\n" end
            out[#out + 1] = string.rep(" ", col) .. line .. "\n"
          end
          first = false
        end
      end
    end
    return table.concat(out)
  end

  --- Parses the options of command `name` in argv[first..].
  -- convert[id](res, value, name_as_typed, opt) handles option id itself: it stores what it
  -- makes of the value in res and returns nil, or a message (prefixed with "NAME: " here).
  -- Without one, a flag stores res[key] = true, a value res[key] = value (repeating options:
  -- appended to the list res[key]).  `res` is the table to fill (default: a new one).
  -- Returns res, positionals (in order; everything after "--" or after the options stopped
  -- included) or nil, err, res (as filled so far); err = { message =, option = the argument
  -- refused } (for an unknown option, P.suggest(name, err.option) is the "did you mean").
  function P.parse(name, argv, first, convert, res)
    local cmd, ix = command(name), index(name)
    local mode = cmd.args or "interleave"
    res = res or {}
    local pos = {}

    local function fail(msg, option)
      return nil, { message = name .. ": " .. msg, option = option }, res
    end

    -- Applies one occurrence of option id, typed as `typed`; nil or a message.
    local function apply(id, value, typed)
      local opt = tables.options[id]
      local conv = convert and convert[id]
      if conv then return conv(res, value, typed, opt) end
      local key = key_of(opt)
      if not opt.value then
        res[key] = true
      elseif opt.repeats then
        res[key] = res[key] or {}
        table.insert(res[key], value)
      else
        res[key] = value
      end
    end

    local i = first or 1
    while i <= #argv do
      local a = argv[i]
      if a == "--" then i = i + 1; break end
      local dashed = a:sub(1, 1) == "-" and a ~= "-"
      if not dashed or (mode == "passthrough" and not ix[a]) then
        if mode ~= "interleave" then break end
        pos[#pos + 1] = a
        goto continue
      end
      do
        local typed, inline = a:match("^(%-%-[^=]+)=(.*)$")
        typed = typed or a
        local id = ix[typed]
        if not id then
          -- clustered one-letter flags: -it = -i -t
          local cluster = a:match("^%-(%a%a+)$")
          local ids = {}
          for c in (cluster or ""):gmatch(".") do
            local cid = ix["-" .. c]
            if not cid or tables.options[cid].value then ids = nil; break end
            ids[#ids + 1] = cid
          end
          if not cluster or not ids then
            return fail("unknown option '" .. a .. "' (see 'moonjail " .. name .. " --help')", a)
          end
          for k, cid in ipairs(ids) do
            local why = apply(cid, nil, "-" .. cluster:sub(k, k))
            if why then return fail(why, a) end
          end
          goto continue
        end
        local value
        if tables.options[id].value then
          if inline then
            value = inline
          else
            i = i + 1
            value = argv[i]
            if value == nil then return fail("option '" .. typed .. "' needs a value", typed) end
          end
        elseif inline then
          return fail("option '" .. typed .. "' takes no value", typed)
        end
        local why = apply(id, value, typed)
        if why then return fail(why, typed) end
      end
      ::continue::
      i = i + 1
    end
    for j = i, #argv do pos[#pos + 1] = argv[j] end
    return res, pos
  end

  return P
end

local default = M.new(require "moonjail.cli_tables")
default.new = M.new
return default

-- moonjail.cliopts — the one option parser of the command line, driven by the tables of
-- moonjail.cli_tables: argv -> options and positional arguments, --help text, "did you mean".
-- It knows no command and gives no value a meaning: a caller's converters do, by option id.
-- Never: print, exit, load the engine, or keep a second list of options beside the tables.
--
-- Forms (every command), docker's (pflag's) rules: `--opt VALUE`, `--opt=VALUE`, `-o VALUE`,
-- `-oVALUE`, `-o=VALUE`; one-letter flags cluster (`-it` is `-i -t`), and the first letter of a
-- cluster that takes a value takes the rest of the cluster, or the next argument (`-de K=V`,
-- `-deK=V`); `--` ends the options; "-" alone is an argument.  A value is the next argument
-- whatever it looks like (`-e -x`), except an option of the same command: `-e --rm` is refused
-- (`-e=--rm` gives that value), so an option is never swallowed silently.  A single-value option
-- given twice keeps the last (as docker does); a repeating one keeps every value.
-- An unknown option is refused with the closest known one ("did you mean"), or with its reason
-- when the tables list it as a docker option that moonjail refuses (tables.refused).
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
  -- A long name typed with one dash ("-polcy") is compared as "--polcy".
  function P.suggest(name, word)
    if type(word) ~= "string" then return nil end
    if word:match("^%-[^-]") and #word > 2 then word = "-" .. word end
    if word:sub(1, 2) ~= "--" then return nil end
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

  -- The reason moonjail refuses option `word` (as typed, "--x=v" or "-x…") of command `name`, with
  -- the name it is listed under; or nil.
  local function refused(name, word)
    local list = tables.refused and tables.refused[(command(name).refuses or name)]
    if not list then return nil end
    local long = word:match("^(%-%-[^=]+)")
    if long then return list[long], long end
    local short = word:match("^(%-%a)")
    if short then return list[short], short end
  end
  P.refused = refused

  --- The message for an unknown option `word` of command `name`: its reason when moonjail refuses
  -- it, else the closest known option.
  -- `within`: the cluster the letter `word` came from ("-ax" for "-x").
  function P.unknown_message(name, word, within)
    local why, listed = refused(name, word)
    if why then return "option '" .. listed .. "' is not supported: " .. why end
    local hint = P.suggest(name, word)
    return "unknown option '" .. word .. "'" .. (within and (" in '" .. within .. "'") or "")
      .. (hint and ("; did you mean '" .. hint .. "'?") or "")
      .. " (see 'moonjail " .. (name == "moonjail" and "" or (name .. " ")) .. "--help')"
  end

  --- Parses the options of command `name` in argv[first..].
  -- convert[id](res, value, name_as_typed, opt) handles option id itself: it stores what it
  -- makes of the value in res and returns nil, or a message (prefixed with "NAME: " here).
  -- Without one, a flag stores res[key] = true, a value res[key] = value (repeating options:
  -- appended to the list res[key]).  `res` is the table to fill (default: a new one).
  -- Returns res, positionals (in order; everything after "--" or after the options stopped
  -- included) or nil, err, res (as filled so far); err = { message =, option = the argument
  -- refused }.
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

    -- Is `word` an option of this command (so not a value)?
    local function is_option(word)
      if word:sub(1, 1) ~= "-" or word == "-" or word == "--" then return false end
      if ix[word] or ix[word:match("^(%-%-[^=]+)=") or ""] then return true end
      return word:match("^%-%a") ~= nil and ix["-" .. word:sub(2, 2)] ~= nil
    end

    -- The value of option `typed` that was not given inline: the next argument; nil, message.
    local i = first or 1
    local function next_value(typed)
      local v = argv[i + 1]
      if v == nil then return nil, "option '" .. typed .. "' needs a value" end
      if is_option(v) then
        return nil, "option '" .. typed .. "' needs a value, and '" .. v .. "' is an option of 'moonjail " .. name
          .. "' (write " .. typed .. "=" .. v .. " if it is the value)"
      end
      i = i + 1
      return v
    end

    while i <= #argv do
      local a = argv[i]
      if a == "--" then i = i + 1; break end
      local dashed = a:sub(1, 1) == "-" and a ~= "-"
      if not dashed or (mode == "passthrough" and not ix[a]) then
        if mode ~= "interleave" then break end
        pos[#pos + 1] = a
        goto continue
      end
      if a:sub(1, 2) == "--" or ix[a] then
        local typed, inline = a:match("^(%-%-[^=]+)=(.*)$")
        typed = typed or a
        local id = ix[typed]
        if not id then return fail(P.unknown_message(name, a), a) end
        local value
        if tables.options[id].value then
          if inline then
            value = inline
          else
            local why
            value, why = next_value(typed)
            if not value then return fail(why, typed) end
          end
        elseif inline then
          return fail("option '" .. typed .. "' takes no value", typed)
        end
        local why = apply(id, value, typed)
        if why then return fail(why, typed) end
      else
        -- one-letter options: -abc, -eVALUE, -e=VALUE, -de VALUE
        local k = 2
        while k <= #a do
          local c = a:sub(k, k)
          local id = c:match("%a") and ix["-" .. c]
          if not id then
            if k == 2 then return fail(P.unknown_message(name, a), a) end
            return fail(P.unknown_message(name, "-" .. c, a), a)
          end
          local typed = "-" .. c
          local value
          if tables.options[id].value then
            local rest = a:sub(k + 1)
            if rest ~= "" then
              value = rest:sub(1, 1) == "=" and rest:sub(2) or rest
            else
              local why
              value, why = next_value(typed)
              if not value then return fail(why, typed) end
            end
            k = #a
          end
          local why = apply(id, value, typed)
          if why then return fail(why, a) end
          k = k + 1
        end
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

-- moonjail.cli_policy — `moonjail policy list|show|check`.  Loaded by moonjail.cli only when
-- `policy` runs.
--
-- Returns function(shared) -> run(argv, first) -> status.
-- shared: moonjail (fn -> module), report_error, usage_error, oneline, options (moonjail.cliopts
-- over the command's table, help and usage errors printed).
-- Policies are loaded only through the module's loader (mj.load_policy): text only, empty
-- environment, instruction and memory budget — this file never runs a policy itself.
-- Never: start a sandbox, look at the host beyond reading the policy files, or print more than
-- one error line on stderr per command.
return function(shared)
  local moonjail, report_error, usage_error = shared.moonjail, shared.report_error, shared.usage_error
  local oneline, options = shared.oneline, shared.options
  local cliopts = require "moonjail.cliopts"
  local util = require "moonjail.util"
  local json -- moonjail.json, on first use
  local function json_module() json = json or require "moonjail.json"; return json end

  ----------------------------------------------------------------------------------------------
  -- The merged policy as a standalone policy.

  -- "64M" for 67108864; bytes when no binary unit divides it.
  local function size_text(n)
    for _, u in ipairs({ { "T", 1024 ^ 4 }, { "G", 1024 ^ 3 }, { "M", 1024 ^ 2 }, { "K", 1024 } }) do
      if n >= u[2] and n % u[2] == 0 then return string.format("%d%s", n // u[2], u[1]) end
    end
    return n
  end

  -- The loader hands mounts back normalized ({ kind, src, dst, size, mode }); turn them into
  -- the policy syntax again so that `show` prints something `check` accepts.
  local function mount_entry(m)
    if m.kind == "tmpfs" then
      return { type = "tmpfs", dst = m.dst, size = (m.size or 0) > 0 and size_text(m.size) or nil,
        mode = (m.mode or 0) > 0 and string.format("0%o", m.mode) or nil }
    end
    return { src = m.src, dst = m.dst, mode = m.kind }
  end

  local function standalone(pol)
    local out = util.deepcopy(pol)
    local fs = out.filesystem
    if fs and fs.mounts then
      for i, m in ipairs(fs.mounts) do
        if type(m) == "table" and m.kind then fs.mounts[i] = mount_entry(m) end
      end
    end
    return out
  end

  local KEYWORDS = {}
  for w in ([[and break do else elseif end false for function goto if in local nil not or repeat
    return then true until while]]):gmatch("%a+") do KEYWORDS[w] = true end

  local function lua_key(k)
    if type(k) == "string" and k:match("^[%a_][%w_]*$") and not KEYWORDS[k] then return k end
    if type(k) == "string" then return "[" .. string.format("%q", k) .. "]" end
    return "[" .. tostring(k) .. "]"
  end

  local function lua_scalar(v)
    if type(v) == "string" then return (string.format("%q", v):gsub("\\\n", "\\n")) end
    -- only counts can be infinite; policy files cannot reach `math`, so write it as -1 (the
    -- other spelling of unlimited)
    if v == math.huge then return "-1" end
    if math.type(v) == "float" then
      local s = string.format("%.14g", v)
      if tonumber(s) ~= v then s = string.format("%.17g", v) end
      if not s:find("[.eEn]") then s = s .. ".0" end
      return s
    end
    return tostring(v)
  end

  -- Lua source for v at the given indent; short lists of scalars stay on one line.
  local function lua_text(v, indent)
    if type(v) ~= "table" then return lua_scalar(v) end
    if next(v) == nil then return "{}" end
    local pad = indent .. "  "
    if util.is_array(v) then
      local flat, parts = true, {}
      for i, x in ipairs(v) do
        if type(x) == "table" then flat = false end
        parts[i] = lua_text(x, pad)
      end
      local line = "{ " .. table.concat(parts, ", ") .. " }"
      if flat and #line + #pad <= 100 then return line end
      if flat then -- a long list of scalars: as many per line as fit in 100 columns
        local rows, row = {}, nil
        for _, p in ipairs(parts) do
          if row and #pad + #row + #p + 2 <= 100 then row = row .. " " .. p .. ","
          else rows[#rows + 1] = row; row = p .. "," end
        end
        rows[#rows + 1] = row
        return "{\n" .. pad .. table.concat(rows, "\n" .. pad) .. "\n" .. indent .. "}"
      end
      if not flat then
        -- small tables inside a list (mounts, tmpfs entries) read best on one line each
        local short = true
        for _, p in ipairs(parts) do short = short and not p:find("\n") end
        if short then return "{\n" .. pad .. table.concat(parts, ",\n" .. pad) .. ",\n" .. indent .. "}" end
      end
      return "{\n" .. pad .. table.concat(parts, ",\n" .. pad) .. ",\n" .. indent .. "}"
    end
    local lines, seq = {}, #v
    for i = 1, seq do lines[#lines + 1] = lua_text(v[i], pad) end
    for _, k in ipairs(util.sorted_keys(v)) do
      if not (math.type(k) == "integer" and k >= 1 and k <= seq) then
        lines[#lines + 1] = lua_key(k) .. " = " .. lua_text(v[k], pad)
      end
    end
    local one = "{ " .. table.concat(lines, ", ") .. " }"
    if #one + #pad <= 100 and not one:find("\n") and indent ~= "" then return one end
    return "{\n" .. pad .. table.concat(lines, ",\n" .. pad) .. ",\n" .. indent .. "}"
  end

  -- Maps whose empty value is {} in JSON; every other empty table is a list ([]).
  local MAPS = { labels = true, annotations = true, set = true }

  -- A copy fit for moonjail.json: lists marked as arrays, unlimited counts as -1.
  local function json_value(v, key)
    if v == math.huge then return -1 end
    if type(v) ~= "table" then return v end
    local out = {}
    for k, x in pairs(v) do out[k] = json_value(x, k) end
    if util.is_array(v) or (next(v) == nil and not MAPS[key]) then return json_module().array(out) end
    return out
  end

  ----------------------------------------------------------------------------------------------
  -- The subcommands.

  local function cmd_list(argv, first)
    local flags, rest = options("policy list", argv, first)
    if not flags then return rest end
    if #rest > 0 then
      return report_error(usage_error("policy list: unexpected argument '" .. rest[1] .. "'"), flags.json)
    end
    local mj = moonjail()
    local rows, first_err = {}, nil
    for _, name in ipairs(mj.policies()) do
      local pol, err = mj.load_policy(name)
      local desc = pol and pol.description or ""
      if not pol then
        first_err = first_err or err
        desc = "(invalid: " .. oneline(err.message) .. ")"
      end
      rows[#rows + 1] = { name = name, description = desc }
    end
    if flags.json then
      io.stdout:write(json_module().encode(json_module().array(rows)), "\n")
    else
      local width = 4
      for _, r in ipairs(rows) do width = math.max(width, #r.name) end
      io.stdout:write(string.format("%-" .. width .. "s  %s\n", "NAME", "DESCRIPTION"))
      for _, r in ipairs(rows) do
        io.stdout:write(string.format("%-" .. width .. "s  %s\n", r.name, r.description))
      end
    end
    if first_err then return report_error(first_err) end
    return 0
  end

  local function cmd_show(argv, first)
    local flags, rest = options("policy show", argv, first)
    if not flags then return rest end
    if #rest ~= 1 then
      return report_error(usage_error("policy show: expected one NAME or FILE (usage: moonjail policy show "
        .. "[--json] NAME|FILE)"), flags.json)
    end
    local pol, err = moonjail().load_policy(rest[1])
    if not pol then return report_error(err, flags.json) end
    pol = standalone(pol)
    if flags.json then
      io.stdout:write(json_module().encode(json_value(pol)), "\n")
    else
      io.stdout:write("-- moonjail policy show ", rest[1], " (with the policies it builds on merged in)\n",
        "return ", lua_text(pol, ""), "\n")
    end
    return 0
  end

  -- The loader's message without the error's category prefix, its location moved to the front
  -- ("file:line: syntax error: …" rather than "syntax error in policy file:line: …"), and that
  -- file and line.
  local function problem_of(err)
    local msg = oneline(err.message):gsub("^Invalid configuration: ", "")
    local file, line, rest = msg:match("^syntax error in policy (.-):(%d+): (.*)$")
    if file then
      msg = file .. ":" .. line .. ": syntax error: " .. rest
    else
      file, line, rest = msg:match("^error in policy (.-):(%d+): (.*)$")
      if file then
        msg = file .. ":" .. line .. ": error: " .. rest
      else
        file, line = msg:match("^(.-):(%d+): policy: ")
      end
    end
    return { message = msg, file = file, line = line and math.tointeger(tonumber(line)) }
  end

  local function cmd_check(argv, first)
    local flags, files = options("policy check", argv, first)
    if not flags then return files end
    if #files == 0 then
      return report_error(usage_error("policy check: missing FILE (usage: moonjail policy check [--json] FILE...)"))
    end
    local mj = moonjail()
    local results, first_err = {}, nil
    local cwd = os.getenv("PWD") or "."
    for _, file in ipairs(files) do
      local resolved = file:sub(1, 1) == "/" and file or (cwd .. "/" .. file)
      local pol, err = mj.load_policy(file)
      local r = { file = file, ok = pol ~= nil, problems = {} }
      if not pol then
        first_err = first_err or err
        if err.problems then -- every problem the validator found, each with its file:line
          for i, m in ipairs(err.problems) do
            r.problems[i] = problem_of({ message = m })
          end
        else
          r.problems[1] = problem_of(err)
        end
      end
      results[#results + 1] = r
      if not flags.json then
        if r.ok then io.stdout:write(file, ": ok\n") end
        for _, p in ipairs(r.problems) do
          -- a problem in FILE itself reads as the compiler's "file:line: message"; one found
          -- elsewhere (a parent it extends, a file it cannot read) is prefixed with FILE
          local located = p.message:sub(1, #resolved + 1) == resolved .. ":"
          io.stdout:write(located and "" or (file .. ": "), p.message, "\n")
        end
      end
    end
    if flags.json then
      for _, r in ipairs(results) do r.problems = json_module().array(r.problems) end
      io.stdout:write(json_module().encode({ ok = first_err == nil, files = json_module().array(results) }), "\n")
    end
    if first_err then return report_error(first_err) end
    return 0
  end

  local SUBCOMMANDS = { list = cmd_list, show = cmd_show, check = cmd_check }

  return function(argv, first)
    local sub = argv[first]
    if sub == nil or cliopts.is_help(sub) then io.stdout:write(cliopts.help("policy")); return 0 end
    local fn = SUBCOMMANDS[sub]
    if not fn then
      local hint = util.suggest(sub, SUBCOMMANDS)
      return report_error(usage_error("policy: unknown command '" .. sub .. "'"
        .. (hint and (" (did you mean '" .. hint .. "'?)") or "") .. " (see 'moonjail policy --help')"))
    end
    return fn(argv, first + 1)
  end
end

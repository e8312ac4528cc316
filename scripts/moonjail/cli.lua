-- moonjail.cli — the `moonjail` command line.  Returns main(argv) -> exit status.
--
-- argv[1..n] are the arguments after the program name.  Exit status (DESIGN.md): the command's
-- own; 128+N when killed by signal N; 124 on timeout; 125 for moonjail's own errors (one line
-- "moonjail: CODE: message" on stderr); 126 not executable; 127 not found.
-- Every command's options are parsed by moonjail.cliopts from the tables of moonjail.cli_tables
-- (--help included); what the values of run, create and exec mean is here (SANDBOX_OPTIONS).
-- Never: print anything but that one line for an error, or load modules a subcommand does not need.

local EXIT_ERROR, EXIT_NOEXEC, EXIT_NOTFOUND, EXIT_TIMEOUT = 125, 126, 127, 124
local ENOENT, EACCES, ENOEXEC = 2, 13, 8

local mj -- require "moonjail", on first use
local function moonjail()
  mj = mj or require "moonjail"
  return mj
end

------------------------------------------------------------------------------------------------
-- JSON output through moonjail.json (loaded only by commands that print JSON): arrays are
-- marked explicitly, so an empty `warnings` stays `[]`.
local json_mod
local function json_module() json_mod = json_mod or require "moonjail.json"; return json_mod end
local function array(t) return json_module().array(t) end
local function json_encode(v) return json_module().encode(v) end

------------------------------------------------------------------------------------------------
-- Errors.

local function oneline(s) return (tostring(s):gsub("[\r\n]+", " ")) end

-- Builds an error object; usage errors carry their message literally.
local function usage_error(msg)
  return moonjail().error("INVALID_CONFIG", nil, { literal = msg })
end

-- Prints err as the one line (and as JSON on stdout when json); returns the exit status.
local function report_error(err, json)
  local code = type(err) == "table" and err.code or "SANDBOX_INIT_FAILED"
  local message = type(err) == "table" and err.message or tostring(err)
  if json then
    io.stdout:write(json_encode({ error = { code = code, message = message,
      retryable = type(err) == "table" and err.retryable or false } }), "\n")
  end
  io.stderr:write("moonjail: ", code, ": ", oneline(message), "\n")
  if code == "COMMAND_EXECUTION_FAILED" and type(err) == "table" then
    if err.errno == ENOENT then return EXIT_NOTFOUND end
    if err.errno == EACCES or err.errno == ENOEXEC then return EXIT_NOEXEC end
  end
  return EXIT_ERROR
end

------------------------------------------------------------------------------------------------
-- Options: moonjail.cliopts over moonjail.cli_tables, for every command.

local cliopts = require "moonjail.cliopts"

local NOT_YET = {}
for name in ([[prune]]):gmatch("%S+") do NOT_YET[name] = true end

-- The image commands live in moonjail.cli_image, loaded when one runs.
local IMAGE_COMMANDS = { pull = true, images = true, rmi = true, load = true }

-- The commands of named sandboxes live in moonjail.cli_sandbox, loaded when one runs.
local SANDBOX_COMMANDS = {}
for name in ([[create exec cp ps info stats top diff pause resume stop kill rm]]):gmatch("%S+") do
  SANDBOX_COMMANDS[name] = true
end

-- Parses the options of command `name` (argv[first..]) with cliopts; prints its help when asked.
-- Returns res, positionals, or nil, exit status once the error (as JSON too when --json came
-- before it) or the help is printed.
local function options(name, argv, first, convert, res)
  local got, pos, partial = cliopts.parse(name, argv, first, convert, res)
  if not got then return nil, report_error(usage_error(pos.message), partial.json) end
  if got.help then io.stdout:write(cliopts.help(name)); return nil, 0 end
  return got, pos
end

-- The converters of the options that describe a sandbox and its commands (run, create, exec),
-- by option id: they build res.opts (the options of mj.run, mj.sandbox, sb:exec) and res.limits
-- in the order given.  Each returns nil or a message.
local function set_opt(res, v, _, opt) res.opts[opt.long] = v end
local function bind(mode)
  return function(res, v, name)
    local src, dst = v:match("^([^:]*):(.*)$")
    src = src or v
    if src == "" then return name .. " needs SRC[:DST]" end
    res.opts.mounts[#res.opts.mounts + 1] = { src = src, dst = (dst ~= nil and dst ~= "") and dst or nil, mode = mode }
  end
end
local function checked(field, parse)
  return function(res, v, name)
    local _, why = moonjail()[parse](v)
    if why then return "option '" .. name .. "': " .. why end
    res.opts[field] = v
  end
end
local function limit(field, integer)
  return function(res, v, name)
    if integer == nil then res.limits[field] = v; return end
    local n = tonumber(v)
    if not n or (integer and math.type(n) ~= "integer") then
      return "option '" .. name .. "' needs a number, got '" .. v .. "'"
    end
    res.limits[field] = n
  end
end
local function keyed(field)
  return function(res, v, name)
    local k, val = v:match("^([^=]+)=(.*)$")
    if not k then return name .. " needs KEY=VALUE" end
    res.opts[field] = res.opts[field] or {}
    res.opts[field][k] = val
  end
end

local SANDBOX_OPTIONS = {
  policy = set_opt, image = set_opt, workdir = set_opt, user = set_opt, hostname = set_opt,
  ro = bind("ro"), rw = bind("rw"),
  tmpfs = function(res, v) res.opts.mounts[#res.opts.mounts + 1] = { type = "tmpfs", dst = v } end,
  repo = function(res, v)
    -- SRC[:DST[:ro|rw|cow]]; SRC is a directory, an archive or an http(s) URL
    local url, rest = v:match("^(https?://[^:]+:?%d*/[^:]*)(.*)$")
    local src = url or v:match("^[^:]*")
    rest = url and rest or v:sub(#src + 1)
    local dst, mode = rest:match("^:([^:]*):?(.*)$")
    if src == "" or (rest ~= "" and not dst) then return "--repo needs SRC[:DST[:ro|rw|cow]]" end
    dst = (dst ~= nil and dst ~= "") and dst or nil
    local rule = { mount = dst, mode = (mode ~= nil and mode ~= "") and mode or nil }
    if url then rule.url = src else rule.path = src end
    if not rule.mount then
      if url then return "--repo URL needs a mount point (URL:DST)" end
      rule.mount = require("moonjail.util").clean_path(src:sub(1, 1) == "/" and src
        or ((os.getenv("PWD") or "") .. "/" .. src))
    end
    res.opts.repositories = res.opts.repositories or {}
    res.opts.repositories[#res.opts.repositories + 1] = rule
  end,
  exclude = function(res, v)
    local last = res.opts.repositories and res.opts.repositories[#res.opts.repositories]
    if not last then return "--exclude applies to the --repo before it" end
    last.exclude = last.exclude or {}
    last.exclude[#last.exclude + 1] = v
  end,
  env = function(res, v, name)
    local k, val = v:match("^([^=]*)=(.*)$")
    if not k then k, val = v, os.getenv(v) end
    if k == "" then return name .. " needs K[=V]" end
    if val ~= nil then res.opts.env[k] = val end
  end,
  ["cap-add"] = function(res, v) res.opts.capabilities[#res.opts.capabilities + 1] = v end,
  timeout = checked("timeout", "parse_duration"),
  ["output-limit"] = checked("output_limit", "parse_size"),
  ["cleanup-delay"] = checked("cleanup_delay", "parse_duration"),
  memory = limit("memory"), cpus = limit("cpus", false), ["pids-limit"] = limit("pids", true),
  label = keyed("labels"), annotation = keyed("annotations"),
  network = function(res, v, name)
    if not require("moonjail.netpolicy").MODES[v] then
      return name .. ": expected none, host, bridge, outbound or filtered, got '" .. v .. "'"
    end
    if type(res.opts.network) == "table" then res.opts.network.mode = v else res.opts.network = v end
  end,
  publish = function(res, v, name)
    local ok, why = require("moonjail.netpolicy").check_publish(v)
    if not ok then return name .. ": " .. why end
    local net = res.opts.network
    if type(net) ~= "table" then net = { mode = net }; res.opts.network = net end
    net.publish = net.publish or {}
    net.publish[#net.publish + 1] = v
  end,
  ["allow-host"] = function(res, v, name)
    local ok, why = require("moonjail.netpolicy").check_rule(v)
    if not ok then return name .. " '" .. v .. "': " .. why end
    local net = res.opts.network
    if type(net) ~= "table" then net = { mode = net }; res.opts.network = net end
    net.mode = net.mode or "filtered"
    net.allow = net.allow or {}
    net.allow[#net.allow + 1] = v
  end,
}

-- Parses the options of run, create or exec: res (flags; res.opts, the sandbox's or command's
-- options), positionals, or nil, status.
local function sandbox_options(name, argv, first)
  local res, pos = options(name, argv, first, SANDBOX_OPTIONS,
    { opts = { mounts = {}, env = {}, capabilities = {} }, limits = {} })
  if not res then return nil, pos end
  if next(res.limits) then res.opts.limits = res.limits end
  return res, pos
end

local function status_of(r)
  if r.ended_by == "timeout" then return EXIT_TIMEOUT end
  if (r.signal or 0) > 0 then return 128 + r.signal end
  return r.exit_code or EXIT_ERROR
end

-- Prints warnings (a list, may be nil) on stderr, unless quiet.
local function print_warnings(list, quiet)
  if quiet then return end
  for _, w in ipairs(list or {}) do io.stderr:write("moonjail: warning: ", oneline(w), "\n") end
end

-- Reports what a run or an exec came to — ok, result, err of pcall(mj.run or sb.exec, …) — as
-- flags.json and flags.quiet ask (its output was streamed unless --json); returns the exit status.
local function command_status(flags, ok, result, err)
  if not ok then -- misuse raised: still moonjail's own error
    return report_error(usage_error(oneline(result)), flags.json)
  end
  if not result then return report_error(err, flags.json) end
  if flags.json then
    local out = {}
    for k, v in pairs(result) do out[k] = v end
    out.warnings = array(result.warnings)
    io.stdout:write(json_encode(out), "\n")
  else
    io.stdout:flush()
    print_warnings(result.warnings, flags.quiet)
    if not flags.quiet and result.ended_by == "output_limit" then
      io.stderr:write("moonjail: warning: output limit reached; the command was stopped\n")
    end
  end
  return status_of(result)
end

local function cmd_run(argv, first)
  local flags, cmd = sandbox_options("run", argv, first)
  if not flags then return cmd end
  if #cmd == 0 then
    return report_error(usage_error("run: missing command (usage: moonjail run [OPTIONS] [--] CMD [ARG...])"),
      flags.json)
  end
  local opts = flags.opts
  opts.stream = not flags.json
  opts.forward_signals = true
  if flags.interactive then opts.stdin_fd = 0 end
  if flags.tty then opts.tty = true end -- a fresh pty inside, relayed; never this terminal

  return command_status(flags, pcall(moonjail().run, cmd, opts))
end

------------------------------------------------------------------------------------------------
-- script, recipe, version, doctor

local function cmd_script(argv, first)
  local o, pos = options("script", argv, first)
  if not o then return pos end
  local file = pos[1]
  if file == nil then
    return report_error(usage_error("script: missing FILE (usage: moonjail script FILE [ARGS...])"))
  end
  local args = { [0] = file, table.unpack(pos, 2) }
  local chunk, why = loadfile(file, "t")
  if not chunk then
    io.stderr:write("moonjail: ", oneline(why), "\n")
    return 1
  end
  rawset(_G, "arg", args)
  local function handler(e)
    if type(e) ~= "string" then e = tostring(e) end
    -- the frames below the script's own (this CLI, the host) say nothing to its author
    local tb = debug.traceback(e, 2)
    return (tb:gsub("\n%s*%[C%]: in function 'xpcall'.*$", ""))
  end
  local ok, ret = xpcall(chunk, handler, table.unpack(args, 1, #args))
  if not ok then
    io.stderr:write("moonjail: ", tostring(ret), "\n")
    return 1
  end
  if math.type(ret) == "integer" then return ret end
  return 0
end

local RECIPE_OPTIONS = {
  set = function(res, v)
    local k, val = v:match("^([^=]+)=(.*)$")
    if not k then return "--set expects KEY=VALUE" end
    res.set[k] = val
  end,
  output = function(res, v)
    if v == "" then return "--output expects a directory" end
    res.output = v
  end,
}

local function cmd_recipe(argv, first)
  local o, pos = options("recipe", argv, first, RECIPE_OPTIONS, { set = {} })
  if not o then return pos end
  if #pos > 1 then
    return report_error(usage_error("recipe: only one FILE (usage: moonjail recipe FILE [--set K=V])"), o.json)
  end
  local file, output = pos[1], o.output
  if not file then return report_error(usage_error("recipe: missing FILE (usage: moonjail recipe FILE)"), o.json) end
  if output and output:sub(1, 1) ~= "/" then output = (os.getenv("PWD") or ".") .. "/" .. output end
  local ok, report, err = pcall(moonjail().recipe, file, { set = o.set, quiet = o.quiet or o.json or false,
    output = output })
  if not ok then return report_error(usage_error(oneline(report)), o.json) end
  if not report then return report_error(err, o.json) end
  if o.json then io.stdout:write(json_encode(report), "\n") end
  return report.status == "passed" and 0 or 1
end

-- version and doctor take no argument: one is refused as an option would be.
local function no_arguments(name, argv, first)
  local o, pos = options(name, argv, first)
  if o and #pos > 0 then return nil, report_error(usage_error(name .. ": unknown option '" .. pos[1] .. "'")) end
  return o, pos
end

local function cmd_version(argv, first)
  local o, status = no_arguments("version", argv, first)
  if not o then return status end
  local v = moonjail().version
  if o.json then io.stdout:write(json_encode({ version = v }), "\n")
  else io.stdout:write("moonjail ", v, "\n") end
  return 0
end

local function cmd_doctor(argv, first)
  local o, status = no_arguments("doctor", argv, first)
  if not o then return status end
  local checks = moonjail().doctor()
  local usable = true
  for _, c in ipairs(checks) do
    if c.status == "missing" and (c.name == "user_namespaces" or c.name == "namespaces") then usable = false end
  end
  if o.json then
    io.stdout:write(json_encode({ checks = checks, usable = usable }), "\n")
  else
    for _, c in ipairs(checks) do
      local mark = c.status == "ok" and "ok     " or c.status == "missing" and "MISSING" or "       "
      io.stdout:write(string.format("%s %-20s %s\n", mark, c.name, c.detail))
      if c.fix then io.stdout:write(string.format("        %-20s fix: %s\n", "", c.fix)) end
    end
    io.stdout:write(usable and "sandboxes can start on this host\n" or "sandboxes cannot start on this host\n")
  end
  return usable and 0 or 1
end

------------------------------------------------------------------------------------------------
-- The commands in other files, help, and the dispatch.

-- What the commands in moonjail.cli_sandbox and moonjail.cli_policy use from here.
local shared = { moonjail = moonjail, report_error = report_error, usage_error = usage_error, oneline = oneline,
  options = options, sandbox_options = sandbox_options, command_status = command_status,
  print_warnings = print_warnings }

local image_cli -- moonjail.cli_image, once loaded
local function image_commands()
  image_cli = image_cli or require("moonjail.cli_image")(shared)
  return image_cli
end

local sandbox_cli -- moonjail.cli_sandbox, once loaded
local function sandbox_commands()
  sandbox_cli = sandbox_cli or require("moonjail.cli_sandbox")(shared)
  return sandbox_cli
end

-- `policy list|show|check` lives in moonjail.cli_policy, loaded when it runs.
local policy_cli
local function cmd_policy(argv, first)
  policy_cli = policy_cli or require("moonjail.cli_policy")(shared)
  return policy_cli(argv, first)
end

-- Prints the help of `topic` (a command; nil: the command list).
local function help_of(topic)
  if topic == nil or cliopts.is_help(topic) then io.stdout:write(cliopts.help("moonjail")); return 0 end
  if cliopts.tables.commands[topic] and not topic:find(" ", 1, true) then
    io.stdout:write(cliopts.help(topic))
    return 0
  end
  if NOT_YET[topic] then io.stdout:write("moonjail ", topic, ": not implemented yet\n"); return 0 end
  return report_error(usage_error("help: unknown command '" .. topic .. "'"))
end

local function cmd_help(argv, first)
  local o, pos = options("help", argv, first)
  if not o then return pos end
  return help_of(pos[1])
end

local COMMANDS = { run = cmd_run, script = cmd_script, version = cmd_version, help = cmd_help, doctor = cmd_doctor,
  policy = cmd_policy, recipe = cmd_recipe }

return function(argv)
  argv = argv or {}
  local sub = argv[1]
  local top = sub == nil and "help" or cliopts.match("moonjail", sub)
  if top == "help" then return help_of(nil) end
  if top == "version" then return cmd_version(argv, 2) end
  local fn = COMMANDS[sub]
  if not fn and SANDBOX_COMMANDS[sub] then fn = sandbox_commands()[sub] end
  if not fn and IMAGE_COMMANDS[sub] then fn = image_commands()[sub] end
  if fn then return fn(argv, 2) end
  if NOT_YET[sub] then
    if cliopts.is_help(argv[2]) then return help_of(sub) end
    return report_error(moonjail().error("UNSUPPORTED", nil,
      { literal = "command '" .. sub .. "' is not implemented yet" }))
  end
  if sub:sub(1, 1) == "-" then return report_error(usage_error("unknown option '" .. sub .. "'")) end
  return report_error(usage_error("unknown command '" .. sub .. "'"))
end

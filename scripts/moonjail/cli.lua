-- moonjail.cli — the `moonjail` command line.  Returns main(argv) -> exit status.
--
-- argv[1..n] are the arguments after the program name.  Exit status (DESIGN.md): the command's
-- own; 128+N when killed by signal N; 124 on timeout; 125 for moonjail's own errors (one line
-- "moonjail: CODE: message" on stderr); 126 not executable; 127 not found.
-- Every command's options are parsed by moonjail.cliopts from the tables of moonjail.cli_tables
-- (--help included); what the values of run, create and exec mean is in moonjail.cli_values.
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
local sandbox_commands -- the commands of moonjail.cli_sandbox, loaded on first use (below)

local NOT_YET = {}

-- The image commands live in moonjail.cli_image, loaded when one runs.
local IMAGE_COMMANDS = { pull = true, images = true, rmi = true, load = true }

-- The commands of named sandboxes live in moonjail.cli_sandbox, loaded when one runs.
local SANDBOX_COMMANDS = {}
for name in ([[create exec cp ps info stats top diff pause resume stop kill rm logs start restart]]):gmatch("%S+") do
  SANDBOX_COMMANDS[name] = true
end

-- Parses the options of command `name` (argv[first..]) with cliopts; prints its help when asked.
-- Returns res, positionals, or nil, exit status once the error (as JSON too when --json came
-- before it) or the help is printed.
-- lone_h: docker reads -h as the host name in this command, so -h with anything else is refused.
local function options(name, argv, first, convert, res, lone_h)
  local got, pos, partial = cliopts.parse(name, argv, first, convert, res)
  if not got then return nil, report_error(usage_error(pos.message), partial.json) end
  if got.help then
    if lone_h and got.help_typed == "-h" and #argv - (first or 1) > 0 then
      return nil, report_error(usage_error(name .. ": -h is moonjail's help; for the host name write --hostname NAME"),
        got.json)
    end
    io.stdout:write(cliopts.help(name))
    return nil, 0
  end
  return got, pos
end

-- What the values of run, create and exec mean: moonjail.cli_values (loaded when one runs).
local values_mod
local function values() values_mod = values_mod or require "moonjail.cli_values"; return values_mod end

-- Commands whose -h docker reads as --hostname: there it must come alone.
local HOSTNAME_H = { run = true, create = true }

-- Parses the options of run, create or exec: res (flags; res.opts, the sandbox's or command's
-- options), positionals, or nil, status.
local function sandbox_options(name, argv, first)
  local v = values()
  local res, pos = options(name, argv, first, v, v.fresh(), HOSTNAME_H[name])
  if not res then return nil, pos end
  local why = v.finish(res)
  if why then return nil, report_error(usage_error(name .. ": " .. why), res.json) end
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
    -- streamed, large strings in slices: the output is held once as Lua strings, never escaped whole
    json_module().write(io.stdout, out):write("\n")
  else
    io.stdout:flush()
    print_warnings(result.warnings, flags.quiet)
    if not flags.quiet and result.ended_by == "output_limit" then
      io.stderr:write("moonjail: warning: output limit reached; the command was stopped\n")
    end
  end
  return status_of(result)
end

local isatty_fn -- core.isatty through the module, on first use
local function isatty(fd)
  isatty_fn = isatty_fn or moonjail().isatty
  return isatty_fn(fd)
end

--- Checks -i/-t/-d/--json of run and exec against each other and the terminal; nil or a message.
local function check_terminal(name, flags)
  if flags.detach and (flags.interactive or flags.tty) then
    return "-d cannot be combined with -i or -t: a detached command's stdin is empty and its output goes to "
      .. "'moonjail logs'" .. (name == "run" and "; for a shell to come back to, 'moonjail create NAME' and "
      .. "'moonjail exec -it NAME sh'" or "")
  end
  if flags.detach and flags.json then return "-d cannot be combined with --json" end
  if flags.tty and flags.json then
    return "-t cannot be combined with --json: a terminal's output is relayed, not captured"
  end
  if flags.interactive and flags.tty and not isatty(0) then
    return "the input device is not a TTY (drop -t to pipe input in with -i)"
  end
end

local function cmd_run(argv, first)
  local flags, cmd = sandbox_options("run", argv, first)
  if not flags then return cmd end
  local why = check_terminal("run", flags)
  if why then return report_error(usage_error("run: " .. why), flags.json) end
  if flags.entrypoint then
    if not flags.opts.image then
      return report_error(usage_error("run: --entrypoint replaces an image's ENTRYPOINT and needs --image; without "
        .. "an image, put the program first in the command"), flags.json)
    end
    flags.opts.entrypoint = { flags.entrypoint }
  end
  if #cmd == 0 and not flags.opts.image then -- an image's Entrypoint/Cmd may stand in for it
    return report_error(usage_error("run: missing command (usage: moonjail run [OPTIONS] [--] CMD [ARG...])"),
      flags.json)
  end
  if flags.name or flags.detach then return sandbox_commands().run_named(flags, cmd) end
  local opts = flags.opts
  opts.stream = not flags.json
  opts.capture = flags.json or false -- streamed output is not kept (memory: the cap, never the output)
  opts.forward_signals = true
  if flags.interactive then opts.stdin_fd = 0 end
  if flags.tty then opts.tty = true end -- a pty of the sandbox's own, relayed; never this terminal
  if flags.dump_plan then -- hidden, for tests: what the sandbox would be built from
    local text, err = moonjail()._dump_plan(cmd, opts)
    if not text then return report_error(err, flags.json) end
    io.stdout:write(text)
    return 0
  end

  moonjail()._trace("cli: options, moonjail module")
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
  print_warnings = print_warnings, check_terminal = check_terminal, values = values }

local image_cli -- moonjail.cli_image, once loaded
local function image_commands()
  image_cli = image_cli or require("moonjail.cli_image")(shared)
  return image_cli
end

local sandbox_cli -- moonjail.cli_sandbox, once loaded
function sandbox_commands()
  sandbox_cli = sandbox_cli or require("moonjail.cli_sandbox")(shared)
  return sandbox_cli
end

-- `policy list|show|check` lives in moonjail.cli_policy, loaded when it runs.
local policy_cli
local function cmd_policy(argv, first)
  policy_cli = policy_cli or require("moonjail.cli_policy")(shared)
  return policy_cli(argv, first)
end

-- `moonjail prune [--json] [-q]`: what dead sandboxes and crashed moonjail processes left, removed
-- (mj.prune, step by step: the image store adds its step to mj.prune_steps); one line per step.
local function cmd_prune(argv, first)
  local o, pos = options("prune", argv, first)
  if not o then return pos end
  if #pos > 0 then return report_error(usage_error("prune: unexpected argument '" .. pos[1] .. "'"), o.json) end
  local report, err = moonjail().prune()
  if not report then return report_error(err, o.json) end
  if o.json then
    io.stdout:write(json_encode(report), "\n")
  elseif not o.quiet then
    for _, step in ipairs(moonjail().prune_steps) do
      local counts, parts = report[step.name] or {}, {}
      local keys = {}
      for k in pairs(counts) do keys[#keys + 1] = k end
      table.sort(keys)
      for _, k in ipairs(keys) do parts[#parts + 1] = k .. " " .. tostring(counts[k]) end
      io.stdout:write(step.name, ": ", table.concat(parts, ", "), "\n")
    end
  end
  return 0
end

-- The command an alias names ("inspect" -> "info"), else name itself.
local ALIASES = {}
for name, c in pairs(cliopts.tables.commands) do
  for _, a in ipairs(c.aliases or {}) do ALIASES[a] = name end
end
local function canonical(name) return ALIASES[name] or name end

-- The message for an unknown command: docker's that moonjail refuses, with the reason, or the
-- closest command ("did you mean").
local function unknown_command(word)
  local why = (cliopts.tables.refused_commands or {})[word]
  if why then return "command '" .. word .. "' is not supported: " .. why end
  local names = {}
  for name in pairs(cliopts.tables.commands) do
    if not name:find(" ", 1, true) then names[#names + 1] = name end
  end
  for a in pairs(ALIASES) do names[#names + 1] = a end
  for n in pairs(NOT_YET) do names[#names + 1] = n end
  local hint = require("moonjail.util").suggest(word, names)
  return "unknown command '" .. word .. "'" .. (hint and ("; did you mean '" .. hint .. "'?") or "")
    .. " (see 'moonjail help')"
end

-- Prints the help of `topic` (a command; nil: the command list).
local function help_of(topic)
  if topic == nil or cliopts.is_help(topic) then io.stdout:write(cliopts.help("moonjail")); return 0 end
  topic = canonical(topic)
  if cliopts.tables.commands[topic] and not topic:find(" ", 1, true) then
    io.stdout:write(cliopts.help(topic))
    return 0
  end
  if NOT_YET[topic] then io.stdout:write("moonjail ", topic, ": not implemented yet\n"); return 0 end
  return report_error(usage_error("help: " .. unknown_command(topic)))
end

local function cmd_help(argv, first)
  local o, pos = options("help", argv, first)
  if not o then return pos end
  return help_of(pos[1])
end

-- `completion bash|zsh|fish` lives in moonjail.cli_completion, loaded when it runs.
local function cmd_completion(argv, first)
  return require("moonjail.cli_completion")(shared)(argv, first)
end

local COMMANDS = { run = cmd_run, script = cmd_script, version = cmd_version, help = cmd_help, doctor = cmd_doctor,
  policy = cmd_policy, recipe = cmd_recipe, prune = cmd_prune, completion = cmd_completion }

return function(argv)
  argv = argv or {}
  -- as `moonjail-runc` (a link), the whole command line is runc's (moonjail.oci.cli)
  if type(argv[0]) == "string" and argv[0]:match("[^/]*$") == "moonjail-runc" then
    return require("moonjail.oci.cli")(argv, 1)
  end
  local sub = argv[1]
  if sub == "oci" then return require("moonjail.oci.cli")(argv, 2) end
  local top = sub == nil and "help" or cliopts.match("moonjail", sub)
  if top == "help" then return help_of(nil) end
  if top == "version" then return cmd_version(argv, 2) end
  sub = canonical(sub)
  local fn = COMMANDS[sub]
  if not fn and SANDBOX_COMMANDS[sub] then fn = sandbox_commands()[sub] end
  if not fn and IMAGE_COMMANDS[sub] then fn = image_commands()[sub] end
  if fn then return fn(argv, 2) end
  if NOT_YET[sub] then
    if cliopts.is_help(argv[2]) then return help_of(sub) end
    return report_error(moonjail().error("UNSUPPORTED", nil,
      { literal = "command '" .. sub .. "' is not implemented yet" }))
  end
  if sub:sub(1, 1) == "-" then return report_error(usage_error(cliopts.unknown_message("moonjail", sub))) end
  return report_error(usage_error(unknown_command(sub)))
end

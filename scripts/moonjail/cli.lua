-- moonjail.cli — the `moonjail` command line.  Returns main(argv) -> exit status.
--
-- argv[1..n] are the arguments after the program name.  Exit status (DESIGN.md): the command's
-- own; 128+N when killed by signal N; 124 on timeout; 125 for moonjail's own errors (one line
-- "moonjail: CODE: message" on stderr); 126 not executable; 127 not found.
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
-- Help.

local HELP = {
  main = [[
Usage: moonjail COMMAND [OPTIONS]

Run commands in isolated Linux sandboxes described by Lua policies.

Commands:
  run [OPTIONS] [--] CMD [ARG...]   Run a command in a fresh sandbox
  create NAME [OPTIONS]             Create a named sandbox that stays warm
  exec [OPTIONS] NAME CMD [ARG...]  Run a command in a named sandbox
  cp SRC DEST                       Copy files between the host and a sandbox (NAME:PATH)
  ps [-a] [--json]                  List named sandboxes
  info NAME                         Show a sandbox's details
  stats [NAME...]                   Show live resource usage
  top NAME                          Show the processes in a sandbox
  diff NAME [--export DEST]         List (or export) the changes in a sandbox's cow repository
  pause NAME... / resume NAME...    Freeze / thaw a sandbox's processes
  stop [-t SECS] NAME...            Stop everything in a sandbox (files stay)
  kill [-s SIG] NAME...             Signal every process in a sandbox
  rm [-f] NAME...                   Remove sandboxes
  script FILE [ARGS...]             Run a Lua script with `require "moonjail"` available
  recipe FILE [--set K=V] [--json]  Run a task recipe: steps in a sandbox, artifacts, a report
  version [--json]                  Show the version
  help [COMMAND]                    Show help for moonjail or a command

  doctor [--json]                   Show what this host can enforce, and how to fix what it cannot
  policy list|show|check            List, show (merged) and validate policies

Not implemented yet: pull, load, images, rmi, prune.

Run 'moonjail COMMAND --help' for more on a command.
]],
  run = [[
Usage: moonjail run [OPTIONS] [--] CMD [ARG...]

Run CMD in a fresh sandbox built from a policy (default: "default"), stream its output, and
exit with its status (128+N if killed by signal N, 124 on timeout, 125 moonjail error,
126 not executable, 127 not found).  Options stop at the first non-option or "--".

Options:
      --policy P          Policy name, or path to a policy .lua file
      --ro SRC[:DST]      Bind a host path read-only (DST defaults to SRC)
      --rw SRC[:DST]      Bind a host path read-write
      --tmpfs DST         Mount an empty tmpfs at DST
      --repo SRC[:DST][:MODE]
                          Mount a repository: a directory, a tar/zip archive or an http(s)
                          URL, at DST (default SRC), MODE ro (default), rw or cow
      --exclude GLOB      Make paths of the --repo before it unreachable ("*.key", "secrets/")
  -e, --env K[=V]         Set an environment variable (bare K passes the host's value)
  -w, --workdir DIR       Working directory inside the sandbox
  -u, --user USER[:GROUP] User (and group) inside: ids or names from the root's passwd
      --hostname H        Host name inside the sandbox
      --network MODE      none | host
      --timeout DURATION  Kill the command after this long ("30", "90s", "1m30s", "2h")
      --output-limit SIZE Cap captured stdout+stderr ("16M")
  -m, --memory SIZE       Memory limit (cgroup; fails closed if it cannot apply)
      --cpus N            CPU limit in cores (cgroup; fails closed)
      --pids-limit N      Process limit (cgroup; fails closed)
      --cap-add CAP       Keep a capability (inside the sandbox's user namespace)
  -i, --interactive       Relay this terminal's stdin to the command
  -t, --tty               Run on a new pseudo-terminal relayed to yours (raw mode, window size
                          follows); your own terminal is never passed in
      --json              Print the result as JSON instead of streaming output
  -q, --quiet             Do not print warnings
  -h, --help              Show this help
]],
  script = [[
Usage: moonjail script FILE [ARGS...]

Run FILE as a Lua 5.4 script.  `require "moonjail"` gives the Lua API (see docs/lua-api.md);
the global `arg` holds FILE at arg[0] and ARGS at arg[1..].  Exits 0 when the script returns
normally (or with the integer it returns), 1 with a traceback when it raises.
]],
  recipe = [[
Usage: moonjail recipe FILE [--set KEY=VALUE]... [--output DIR] [--json] [-q]

Run the task recipe FILE (a Lua file returning { steps = …, artifacts = … }; see
docs/recipes.md): create its sandbox, run each step with a header and its live output, retry
what is retryable, copy the artifacts into the recipe's output directory and write
report.json there.  Exits 0 when every step passed and every artifact was found, 1 when not,
125 when the recipe is invalid or its sandbox cannot start.

Options:
      --set KEY=VALUE     Set a recipe parameter (the recipe reads params.KEY)
      --output DIR        Output directory (default: the recipe's `output`, else "out" beside it)
      --json              Print only the report, as JSON
  -q, --quiet             No headers and no step output
  -h, --help              Show this help
]],
  version = [[
Usage: moonjail version [--json]

Print moonjail's version.
]],
  help = [[
Usage: moonjail help [COMMAND]
]],
  doctor = [[
Usage: moonjail doctor [--json]

Probe what this host can enforce — user namespaces (and what restricts them), cgroups and their
controllers, seccomp, Landlock's ABI, LSMs, overlayfs, openat2, pidfd, the new mount API — and say
how to fix each missing piece.  Exits 0 when sandboxes can start here, 1 otherwise.
]],
}

local NOT_YET = {}
for name in ([[pull load images rmi prune]]):gmatch("%S+") do NOT_YET[name] = true end

-- The commands of named sandboxes live in moonjail.cli_sandbox, loaded when one runs.
local SANDBOX_COMMANDS = {}
for name in ([[create exec cp ps info stats top diff pause resume stop kill rm]]):gmatch("%S+") do
  SANDBOX_COMMANDS[name] = true
end

local function is_help(a) return a == "-h" or a == "--help" end

------------------------------------------------------------------------------------------------
-- run

-- Option table: name -> { takes_value, field }.
local RUN_OPTIONS = {
  ["--policy"] = { true, "policy" }, ["--image"] = { true, "image" },
  ["--ro"] = { true, "ro" }, ["--rw"] = { true, "rw" }, ["--tmpfs"] = { true, "tmpfs" },
  ["-e"] = { true, "env" }, ["--env"] = { true, "env" },
  ["-w"] = { true, "workdir" }, ["--workdir"] = { true, "workdir" },
  ["-u"] = { true, "user" }, ["--user"] = { true, "user" },
  ["--hostname"] = { true, "hostname" }, ["--network"] = { true, "network" },
  ["--timeout"] = { true, "timeout" }, ["--output-limit"] = { true, "output_limit" },
  ["-m"] = { true, "memory" }, ["--memory"] = { true, "memory" },
  ["--cpus"] = { true, "cpus" }, ["--pids-limit"] = { true, "pids" },
  ["--cap-add"] = { true, "cap_add" },
  ["--repo"] = { true, "repo" }, ["--exclude"] = { true, "exclude" },
  ["-i"] = { false, "interactive" }, ["--interactive"] = { false, "interactive" },
  ["-t"] = { false, "tty" }, ["--tty"] = { false, "tty" },
  ["--json"] = { false, "json" }, ["-q"] = { false, "quiet" }, ["--quiet"] = { false, "quiet" },
  ["-h"] = { false, "help" }, ["--help"] = { false, "help" },
}

-- Parses the options of command `cmd` from argv[first..] with the option table `options`.
-- Stops at "--"; at the first positional argument too unless `interleave`, where positionals are
-- collected and options may follow them.  Returns flags, opts, positionals (everything after the
-- stop included) or nil, err, json.
local function parse_options(argv, first, cmd, options, interleave)
  local flags = {}
  local opts = { mounts = {}, env = {}, capabilities = {} }
  local limits = {}
  local positionals = {}
  local i = first
  while i <= #argv do
    local a = argv[i]
    if a == "--" then i = i + 1; break end
    if a:sub(1, 1) ~= "-" or a == "-" then
      if not interleave then break end
      positionals[#positionals + 1] = a
      i = i + 1
      goto continue
    end
    local name, inline = a:match("^(%-%-[^=]+)=(.*)$")
    name = name or a
    local spec = options[name]
    -- docker's bundled short flags: -it = -i -t (flags without values only)
    if not spec and a:match("^%-%a%a+$") then
      local all = true
      for c in a:sub(2):gmatch(".") do
        local o = options["-" .. c]
        all = all and o ~= nil and not o[1]
      end
      if all then
        for c in a:sub(2):gmatch(".") do flags[options["-" .. c][2]] = true end
        i = i + 1
        goto continue
      end
    end
    if not spec then
      return nil, usage_error(cmd .. ": unknown option '" .. a .. "' (see 'moonjail " .. cmd .. " --help')"),
        flags.json
    end
    local value
    if spec[1] then
      if inline then
        value = inline
      else
        i = i + 1
        value = argv[i]
        if value == nil then
          return nil, usage_error(cmd .. ": option '" .. name .. "' needs a value"), flags.json
        end
      end
    elseif inline then
      return nil, usage_error(cmd .. ": option '" .. name .. "' takes no value"), flags.json
    end
    local field = spec[2]
    if field == "ro" or field == "rw" then
      local src, dst = value:match("^([^:]*):(.*)$")
      src = src or value
      if src == "" then return nil, usage_error(cmd .. ": " .. name .. " needs SRC[:DST]"), flags.json end
      opts.mounts[#opts.mounts + 1] = { src = src, dst = (dst ~= nil and dst ~= "") and dst or nil, mode = field }
    elseif field == "tmpfs" then
      opts.mounts[#opts.mounts + 1] = { type = "tmpfs", dst = value }
    elseif field == "repo" then
      -- SRC[:DST[:ro|rw|cow]]; SRC is a directory, an archive or an http(s) URL
      local url, rest = value:match("^(https?://[^:]+:?%d*/[^:]*)(.*)$")
      local src = url or value:match("^[^:]*")
      rest = url and rest or value:sub(#src + 1)
      local dst, mode = rest:match("^:([^:]*):?(.*)$")
      if src == "" or (rest ~= "" and not dst) then
        return nil, usage_error(cmd .. ": --repo needs SRC[:DST[:ro|rw|cow]]"), flags.json
      end
      dst = (dst ~= nil and dst ~= "") and dst or nil
      local rule = { mount = dst, mode = (mode ~= nil and mode ~= "") and mode or nil }
      if url then rule.url = src else rule.path = src end
      if not rule.mount then
        if url then return nil, usage_error(cmd .. ": --repo URL needs a mount point (URL:DST)"), flags.json end
        rule.mount = require("moonjail.util").clean_path(src:sub(1, 1) == "/" and src
          or ((os.getenv("PWD") or "") .. "/" .. src))
      end
      opts.repositories = opts.repositories or {}
      opts.repositories[#opts.repositories + 1] = rule
    elseif field == "exclude" then
      local last = opts.repositories and opts.repositories[#opts.repositories]
      if not last then return nil, usage_error(cmd .. ": --exclude applies to the --repo before it"), flags.json end
      last.exclude = last.exclude or {}
      last.exclude[#last.exclude + 1] = value
    elseif field == "env" then
      local k, v = value:match("^([^=]*)=(.*)$")
      if not k then k, v = value, os.getenv(value) end
      if k == "" then return nil, usage_error(cmd .. ": " .. name .. " needs K[=V]"), flags.json end
      if v ~= nil then opts.env[k] = v end
    elseif field == "cap_add" then
      opts.capabilities[#opts.capabilities + 1] = value
    elseif field == "timeout" then
      local _, why = moonjail().parse_duration(value)
      if why then return nil, usage_error(cmd .. ": option '--timeout': " .. why), flags.json end
      opts.timeout = value
    elseif field == "output_limit" then
      local _, why = moonjail().parse_size(value)
      if why then return nil, usage_error(cmd .. ": option '--output-limit': " .. why), flags.json end
      opts.output_limit = value
    elseif field == "memory" then
      limits.memory = value
    elseif field == "cpus" or field == "pids" then
      local n = tonumber(value)
      if not n or (field == "pids" and math.type(n) ~= "integer") then
        return nil, usage_error(cmd .. ": option '" .. name .. "' needs a number, got '" .. value .. "'"), flags.json
      end
      limits[field] = n
    elseif field == "labels" or field == "annotations" then
      local k, v = value:match("^([^=]+)=(.*)$")
      if not k then return nil, usage_error(cmd .. ": " .. name .. " needs KEY=VALUE"), flags.json end
      opts[field] = opts[field] or {}
      opts[field][k] = v
    elseif field == "cleanup_delay" then
      local _, why = moonjail().parse_duration(value)
      if why then return nil, usage_error(cmd .. ": option '" .. name .. "': " .. why), flags.json end
      opts.cleanup_delay = value
    elseif field == "network" then
      opts.network = value == "filtered" and { mode = "filtered" } or value
    elseif spec[1] then
      opts[field] = value
    else
      flags[field] = true
    end
    i = i + 1
    ::continue::
  end
  if next(limits) then opts.limits = limits end
  for j = i, #argv do positionals[#positionals + 1] = argv[j] end
  return flags, opts, positionals
end

-- Parses run's arguments; returns flags, opts, argv or nil, err, json.
local function parse_run(argv, first)
  return parse_options(argv, first, "run", RUN_OPTIONS, false)
end

local function status_of(r)
  if r.ended_by == "timeout" then return EXIT_TIMEOUT end
  if (r.signal or 0) > 0 then return 128 + r.signal end
  return r.exit_code or EXIT_ERROR
end

local function cmd_run(argv, first)
  local flags, opts, cmd = parse_run(argv, first)
  if not flags then return report_error(opts, cmd) end
  if flags.help then io.stdout:write(HELP.run); return 0 end
  if #cmd == 0 then
    return report_error(usage_error("run: missing command (usage: moonjail run [OPTIONS] [--] CMD [ARG...])"),
      flags.json)
  end
  opts.stream = not flags.json
  opts.forward_signals = true
  if flags.interactive then opts.stdin_fd = 0 end
  if flags.tty then opts.tty = true end -- a fresh pty inside, relayed; never this terminal

  local ok, result, err = pcall(moonjail().run, cmd, opts)
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
    if not flags.quiet then
      for _, w in ipairs(result.warnings or {}) do io.stderr:write("moonjail: warning: ", oneline(w), "\n") end
      if result.ended_by == "output_limit" then
        io.stderr:write("moonjail: warning: output limit reached; the command was stopped\n")
      end
    end
  end
  return status_of(result)
end

------------------------------------------------------------------------------------------------
-- script, version

local function cmd_script(argv, first)
  local i = first
  if is_help(argv[i]) then io.stdout:write(HELP.script); return 0 end
  if argv[i] == "--" then i = i + 1 end
  local file = argv[i]
  if file == nil then
    return report_error(usage_error("script: missing FILE (usage: moonjail script FILE [ARGS...])"))
  end
  local args = { [0] = file }
  for j = i + 1, #argv do args[#args + 1] = argv[j] end
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

local function cmd_recipe(argv, first)
  local file, set, json, quiet, output = nil, {}, false, false, nil
  local i = first
  while i <= #argv do
    local a = argv[i]
    if is_help(a) then io.stdout:write(HELP.recipe); return 0
    elseif a == "--json" then json = true
    elseif a == "-q" or a == "--quiet" then quiet = true
    elseif a == "--set" or a:match("^%-%-set=") then
      local kv = a == "--set" and argv[i + 1] or a:match("^%-%-set=(.*)$")
      if a == "--set" then i = i + 1 end
      local k, v = (kv or ""):match("^([^=]+)=(.*)$")
      if not k then return report_error(usage_error("recipe: --set expects KEY=VALUE"), json) end
      set[k] = v
    elseif a == "--output" or a:match("^%-%-output=") then
      output = a == "--output" and argv[i + 1] or a:match("^%-%-output=(.*)$")
      if a == "--output" then i = i + 1 end
      if not output or output == "" then
        return report_error(usage_error("recipe: --output expects a directory"), json)
      end
    elseif a:sub(1, 1) == "-" and a ~= "-" then
      return report_error(usage_error("recipe: unknown option '" .. a .. "'"), json)
    elseif file then
      return report_error(usage_error("recipe: only one FILE (usage: moonjail recipe FILE [--set K=V])"), json)
    else
      file = a
    end
    i = i + 1
  end
  if not file then return report_error(usage_error("recipe: missing FILE (usage: moonjail recipe FILE)"), json) end
  if output and output:sub(1, 1) ~= "/" then output = (os.getenv("PWD") or ".") .. "/" .. output end
  local ok, report, err = pcall(moonjail().recipe, file, { set = set, quiet = quiet or json, output = output })
  if not ok then return report_error(usage_error(oneline(report)), json) end
  if not report then return report_error(err, json) end
  if json then io.stdout:write(json_encode(report), "\n") end
  return report.status == "passed" and 0 or 1
end

local function cmd_version(argv, first)
  local json = false
  for i = first, #argv do
    if is_help(argv[i]) then io.stdout:write(HELP.version); return 0 end
    if argv[i] == "--json" then json = true
    else return report_error(usage_error("version: unknown option '" .. argv[i] .. "'")) end
  end
  local v = moonjail().version
  if json then io.stdout:write(json_encode({ version = v }), "\n")
  else io.stdout:write("moonjail ", v, "\n") end
  return 0
end

local function cmd_doctor(argv, first)
  local json = false
  for i = first, #argv do
    if is_help(argv[i]) then io.stdout:write(HELP.doctor); return 0 end
    if argv[i] == "--json" then json = true
    else return report_error(usage_error("doctor: unknown option '" .. argv[i] .. "'")) end
  end
  local checks = moonjail().doctor()
  local usable = true
  for _, c in ipairs(checks) do
    if c.status == "missing" and (c.name == "user_namespaces" or c.name == "namespaces") then usable = false end
  end
  if json then
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

local sandbox_cli -- moonjail.cli_sandbox, once loaded
local function sandbox_commands()
  if not sandbox_cli then
    sandbox_cli = require("moonjail.cli_sandbox")({
      moonjail = moonjail, report_error = report_error, usage_error = usage_error,
      parse_options = parse_options, RUN_OPTIONS = RUN_OPTIONS, status_of = status_of,
      oneline = oneline,
    })
  end
  return sandbox_cli
end

-- `policy list|show|check` lives in moonjail.cli_policy, loaded when it runs.
local policy_cli
local function policy_commands()
  policy_cli = policy_cli or require("moonjail.cli_policy")({
    moonjail = moonjail, report_error = report_error, usage_error = usage_error, oneline = oneline,
  })
  return policy_cli
end
local function cmd_policy(argv, first) return policy_commands().run(argv, first) end

local function cmd_help(argv, first)
  local topic = argv[first]
  if topic == nil or is_help(topic) then io.stdout:write(HELP.main); return 0 end
  if HELP[topic] then io.stdout:write(HELP[topic]); return 0 end
  if SANDBOX_COMMANDS[topic] then io.stdout:write(sandbox_commands().help[topic]); return 0 end
  if topic == "policy" then io.stdout:write(policy_commands().help); return 0 end
  if NOT_YET[topic] then io.stdout:write("moonjail ", topic, ": not implemented yet\n"); return 0 end
  return report_error(usage_error("help: unknown command '" .. topic .. "'"))
end

local COMMANDS = { run = cmd_run, script = cmd_script, version = cmd_version, help = cmd_help, doctor = cmd_doctor,
  policy = cmd_policy, recipe = cmd_recipe }

return function(argv)
  argv = argv or {}
  local sub = argv[1]
  if sub == nil or is_help(sub) then io.stdout:write(HELP.main); return 0 end
  if sub == "--version" then return cmd_version(argv, 2) end
  local fn = COMMANDS[sub]
  if not fn and SANDBOX_COMMANDS[sub] then fn = sandbox_commands().commands[sub] end
  if fn then
    -- `moonjail CMD --help` everywhere, but a run's own command may take --help.
    if sub ~= "run" and sub ~= "script" and sub ~= "exec" and is_help(argv[2]) then return cmd_help({ sub }, 1) end
    return fn(argv, 2)
  end
  if NOT_YET[sub] then
    if is_help(argv[2]) then return cmd_help({ sub }, 1) end
    return report_error(moonjail().error("UNSUPPORTED", nil,
      { literal = "command '" .. sub .. "' is not implemented yet" }))
  end
  if sub:sub(1, 1) == "-" then return report_error(usage_error("unknown option '" .. sub .. "'")) end
  return report_error(usage_error("unknown command '" .. sub .. "'"))
end

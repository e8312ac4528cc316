-- moonjail.cli_tables — the command line as data: every option, and for every command the options
-- it takes, how its arguments mix with them and its help text.  moonjail.cliopts parses argv and
-- writes `--help` from these tables; shell completion and a C fast path for `exec` are to read the
-- same tables, so there is never a second hand-kept list of options.
-- Never: hold anything but strings, numbers, booleans and tables of them (no functions, no
-- requires, no metatables: a reader must know every option's shape without running Lua code), or
-- decide what a value means (moonjail.cli's converters do, by option id).
--
-- options[id] (the id is the long name unless two commands give one name different meanings):
--   long     the long name without "--"; the parser stores under it with "-" turned to "_"
--            (`--pids-limit N` -> res.pids_limit) unless the command converts the value itself
--   short    a one-letter alias ("e" for -e), or absent
--   aliases  other long names meaning the same, or absent
--   value    the placeholder shown in help ("K[=V]"); present exactly when the option takes a
--            value: `--opt VALUE`, `--opt=VALUE` or `-o VALUE`.  Absent: a flag, which may be
--            clustered with other one-letter flags (`-it`)
--   type     what the value is, for help, completion and other readers: string, policy,
--            host_path, sandbox_path, bind (SRC[:DST]), volume (SRC:DST[:OPTS]), tmpfs
--            (DST[:OPTS]), mount (docker's --mount K=V list), repo, glob, env (K[=V]), kv (K=V),
--            user, network, publish ([HOST_IP:]HOST_PORT:PORT[/tcp]), net_rule (an
--            allow rule), duration, size, number, integer, capability, signal, security_opt,
--            ulimit, sandbox_name
--   repeats  true when every occurrence adds one (else the last one given wins)
--   hidden   true when parsed but not listed in --help
--   help     its line(s) for --help ("\n" between lines); a command may give its own
--
-- main: `moonjail` itself (--help, --version before any command); the parser calls it "moonjail".
-- commands[name] ("policy list" for a subcommand):
--   args     how positional arguments mix with options: "stop" (options end at the first
--            positional: the command to run follows), "interleave" (options anywhere, until
--            "--"), "passthrough" (only an option spelled exactly as declared is one; the first
--            other argument starts the rest, passed on untouched); "--" always ends the options
--   options  the option ids it takes, in --help order; an entry { id, help = "…" } gives that
--            option's help text for this command
--   summary  one line saying what it does (completion descriptions)
--   help     the help text up to its option list
--   column   when present, --help lists the options after `help`, their text at this column
--   subcommands  the words that may follow (a command made of subcommands)
--   aliases  other names of the command ("inspect" for info)
--   operands what its positional arguments are, for completion: a list of sandbox, command,
--            file, cp_path, policy, command_name, shell; "…" after the last: it repeats
--   refuses  whose list in `refused` applies (default: its own name)
--
-- refused[command]["--flag" or "-f"] = why moonjail does not take that docker flag and what to
-- use instead: the parser answers exactly that instead of "unknown option".
local M = {}

M.options = {
  help = { long = "help", short = "h", help = "Show this help" },
  version = { long = "version", help = "Show the version" },
  json = { long = "json", help = "Print the result as JSON instead of streaming output" },
  quiet = { long = "quiet", short = "q", help = "Do not print warnings" },

  -- what a sandbox is made of (run, create)
  policy = { long = "policy", value = "P", type = "policy", help = "Policy name, or path to a policy .lua file" },
  ["dump-plan"] = { long = "dump-plan", hidden = true,
    help = "Print the plan the sandbox would be built from, and run nothing (for tests)" },
  image = { long = "image", value = "IMAGE", type = "string",
    help = "Run in an OCI image (pulled when not in the image store): its\n"
      .. "layers under the sandbox's own writable layer, its Env, WorkingDir,\nUser, Entrypoint and Cmd" },
  ro = { long = "ro", value = "SRC[:DST][:ro]", type = "bind", repeats = true,
    help = "Bind a host path read-only (DST defaults to SRC)" },
  rw = { long = "rw", value = "SRC[:DST][:rw]", type = "bind", repeats = true, help = "Bind a host path read-write" },
  tmpfs = { long = "tmpfs", value = "DST[:OPTS]", type = "tmpfs", repeats = true,
    help = "Mount an empty tmpfs at DST; OPTS (docker's, comma-separated):\n"
      .. "size=SIZE, mode=OCTAL, rw, nosuid, nodev" },
  repo = { long = "repo", value = "SRC[:DST][:MODE]", type = "repo", repeats = true,
    help = "Mount a repository: a directory, a tar/zip archive or an http(s)\n"
      .. "URL, at DST (default SRC), MODE ro (default), rw or cow" },
  exclude = { long = "exclude", value = "GLOB", type = "glob", repeats = true,
    help = 'Make paths of the --repo before it unreachable ("*.key", "secrets/")' },
  hostname = { long = "hostname", value = "H", type = "string", help = "Host name inside the sandbox" },
  network = { long = "network", aliases = { "net" }, value = "MODE", type = "network",
    help = "none (default) | host | bridge (= outbound: NAT'd, none of the host's\n"
      .. "own services) | filtered (only --allow-host rules)" },
  publish = { long = "publish", short = "p", value = "[IP:]HPORT:PORT", type = "publish", repeats = true,
    help = "Publish the sandbox's TCP PORT on the host's HPORT (127.0.0.1\nunless IP is given)" },
  ["allow-host"] = { long = "allow-host", value = "RULE", type = "net_rule", repeats = true,
    help = "Filtered network: allow NAME[:PORTS], *.DOMAIN or CIDR[:PORTS]\n(a name alone: ports 80 and 443)" },
  memory = { long = "memory", short = "m", value = "SIZE", type = "size",
    help = "Memory limit (cgroup; fails closed if it cannot apply)" },
  cpus = { long = "cpus", value = "N", type = "number", help = "CPU limit in cores (cgroup; fails closed)" },
  ["pids-limit"] = { long = "pids-limit", value = "N", type = "integer",
    help = "Process limit (cgroup; fails closed)" },
  ["cap-add"] = { long = "cap-add", value = "CAP", type = "capability", repeats = true,
    help = "Keep a capability (inside the sandbox's user namespace)" },
  label = { long = "label", short = "l", value = "K=V", type = "kv", repeats = true,
    help = "Set a label (shown by info, ps --json)" },
  annotation = { long = "annotation", value = "K=V", type = "kv", repeats = true, help = "Set an annotation" },
  ["cleanup-delay"] = { long = "cleanup-delay", value = "D", type = "duration",
    help = "Keep the sandbox inspectable this long after it is removed" },
  lifetime = { long = "lifetime", value = "D", type = "duration",
    help = "Stop the sandbox by itself this long after it started" },

  -- how a command runs (run, exec; create's defaults)
  env = { long = "env", short = "e", value = "K[=V]", type = "env", repeats = true,
    help = "Set an environment variable (bare K passes the host's value)" },
  workdir = { long = "workdir", short = "w", value = "DIR", type = "sandbox_path",
    help = "Working directory inside the sandbox" },
  user = { long = "user", short = "u", value = "USER[:GROUP]", type = "user",
    help = "User (and group) inside: ids or names from the root's passwd" },
  timeout = { long = "timeout", value = "DURATION", type = "duration",
    help = 'Kill the command after this long ("30", "90s", "1m30s", "2h")' },
  ["output-limit"] = { long = "output-limit", value = "SIZE", type = "size",
    help = 'Cap captured stdout+stderr ("16M")' },
  interactive = { long = "interactive", short = "i", help = "Relay this terminal's stdin to the command" },
  tty = { long = "tty", short = "t", help = "Run on a new pseudo-terminal relayed to yours (raw mode, window size\n"
    .. "follows); your own terminal is never passed in" },
  detach = { long = "detach", short = "d",
    help = "Start CMD in the background, print its pid (inside the sandbox);\n"
      .. "'moonjail logs NAME PID' shows its output" },

  -- the other commands
  all = { long = "all", short = "a", help = "Show all sandboxes (default: running and paused ones)" },
  ["no-stream"] = { long = "no-stream", help = "Print one sample and exit" },
  ["diff-mount"] = { long = "mount", value = "DST", type = "sandbox_path",
    help = "The copy-on-write repository mounted at DST, when the sandbox has several" },
  export = { long = "export", value = "DEST", type = "host_path",
    help = "Write the changes to DEST: a directory, or a tar (.tar, .tar.gz, .tgz)" },
  time = { long = "time", short = "t", value = "SECS", type = "duration",
    help = "Seconds before SIGKILL (default 10)" },
  signal = { long = "signal", short = "s", value = "SIGNAL", type = "signal",
    help = "The signal (default KILL): a name such as TERM or SIGTERM, or a number" },
  force = { long = "force", short = "f", help = "Kill everything in a running or paused sandbox first" },
  set = { long = "set", value = "KEY=VALUE", type = "kv", repeats = true,
    help = "Set a recipe parameter (the recipe reads params.KEY)" },
  -- docker's habits (run, create, exec)
  volume = { long = "volume", short = "v", value = "SRC:DST[:OPTS]", type = "volume", repeats = true,
    help = "Bind a host path at DST (docker's -v); OPTS: ro, rw (default)" },
  mount = { long = "mount", value = "SPEC", type = "mount", repeats = true,
    help = "docker's --mount: type=bind,src=SRC,dst=DST[,readonly] or\n"
      .. "type=tmpfs,dst=DST[,tmpfs-size=SIZE][,tmpfs-mode=MODE]" },
  ["read-only"] = { long = "read-only", help = "Keep the root read-only: writes to / fail (EROFS)" },
  ["cap-drop"] = { long = "cap-drop", value = "CAP", type = "capability", repeats = true,
    help = "Drop a capability the policy keeps (ALL: every one)" },
  ["security-opt"] = { long = "security-opt", value = "OPT", type = "security_opt", repeats = true,
    help = "no-new-privileges (always on), seccomp=FILE|unconfined,\napparmor=PROFILE" },
  ulimit = { long = "ulimit", value = "NAME=N[:N]", type = "ulimit", repeats = true,
    help = "nofile, nproc, fsize (bytes) or cpu (seconds); -1 = unlimited" },
  ["env-file"] = { long = "env-file", value = "FILE", type = "host_path", repeats = true,
    help = "Read variables from FILE: K=V or K lines; # starts a comment" },
  init = { long = "init", help = "Accepted for docker: moonjail always runs an init as pid 1" },
  rootfs = { long = "rootfs", value = "DIR", type = "host_path",
    help = "A directory to use as the root instead of the host's paths" },
  entrypoint = { long = "entrypoint", value = "CMD", type = "string",
    help = "With --image: run CMD with the command line as its arguments" },
  rm = { long = "rm", help = "Remove the sandbox when the command ends (as every run\nwithout --name is)" },
  name = { long = "name", value = "NAME", type = "sandbox_name",
    help = "Keep the sandbox as NAME: it stays, stopped, after the command\n"
      .. "ends (for logs, cp, start; --rm removes it)" },

  -- logs, start, restart, completion
  follow = { long = "follow", short = "f", help = "Keep printing what the command writes until it ends" },
  tail = { long = "tail", short = "n", value = "N", type = "integer",
    help = "Only the last N lines (\"all\": every line, the default)" },
  attach = { long = "attach", short = "a",
    help = "Print the command's output until it ends, and exit with its\nstatus" },
  output = { long = "output", value = "DIR", type = "host_path",
    help = 'Output directory (default: the recipe\'s `output`, else "out" beside it)' },

  -- images (pull, images, rmi, load)
  platform = { long = "platform", value = "OS/ARCH[/VARIANT]", type = "string",
    help = "The platform to take from a multi-platform image (default:\n"
      .. 'this host\'s), e.g. "linux/arm64" or "linux/arm/v7"' },
  ["insecure-registry"] = { long = "insecure-registry", value = "HOST[:PORT]", type = "string", repeats = true,
    help = "Reach this registry over plain HTTP (every other one is HTTPS with\ncertificate checks)" },
  ["all-platforms"] = { long = "all-platforms",
    help = "Every platform's image of that name (the default without --platform)" },
  ["image-name"] = { long = "name", value = "NAME", type = "string",
    help = "The name for an image the files do not name (a tag alone names an\nimage of NAME's repository)" },
}

M.main = {
  args = "passthrough",
  options = { "help", "version" },
  help = [[
Usage: moonjail COMMAND [OPTIONS]

Run commands in isolated Linux sandboxes described by Lua policies.

Commands:
  run [OPTIONS] [--] CMD [ARG...]   Run a command in a fresh sandbox (--name/-d: keep it)
  create NAME [OPTIONS]             Create a named sandbox that stays warm
  exec [OPTIONS] NAME [--] CMD...   Run a command in a named sandbox
  cp SRC DEST                       Copy files between the host and a sandbox (NAME:PATH)
  ps [-a] [-q] [--json]             List named sandboxes
  info [--json] NAME                Show a sandbox's details (also: inspect)
  logs [-f] [--tail N] NAME [PID]   Show the output of a sandbox's detached commands
  stats [NAME...]                   Show live resource usage
  top [--json] NAME                 Show the processes in a sandbox
  diff NAME [--export DEST]         List (or export) the changes in a sandbox's cow repository
  pause NAME... / resume NAME...    Freeze / thaw a sandbox's processes
  stop [-t SECS] NAME...            Stop everything in a sandbox (files stay)
  start [-a] NAME... / restart      Start a stopped sandbox again (and its command)
  kill [-s SIG] NAME...             Signal every process in a sandbox
  rm [-f] NAME...                   Remove sandboxes
  prune [--json]                    Remove what dead sandboxes and crashes left
  script FILE [ARGS...]             Run a Lua script with `require "moonjail"` available
  recipe FILE [--set K=V] [--json]  Run a task recipe: steps in a sandbox, artifacts, a report
  version [--json]                  Show the version
  help [COMMAND]                    Show help for moonjail or a command

  doctor [--json]                   Show what this host can enforce, and how to fix what it cannot
  policy list|show|check            List, show (merged) and validate policies
  completion bash|zsh|fish          Print a shell completion script

  pull [OPTIONS] REF                Pull an image from a registry into the image store
  images [--json]                   List the images in the store
  rmi [OPTIONS] REF...              Remove images from the store (refused while in use)
  load [OPTIONS] FILE|DIR           Load an OCI layout or a 'docker save' archive

Run 'moonjail COMMAND --help' for more on a command.
]],
}

local C = {}
M.commands = C

C.run = {
  summary = "Run a command in a fresh sandbox",
  args = "stop",
  operands = { "command" },
  options = { "policy", "image", "platform", "insecure-registry", "rootfs", "ro", "rw", "volume", "tmpfs", "mount",
    "repo", "exclude", "read-only", "env", "env-file", "workdir", "user", "hostname", "network", "publish",
    "allow-host", "timeout", "output-limit", "memory", "cpus",
    "pids-limit", "ulimit", "cap-add", "cap-drop", "security-opt", "label", "annotation", "interactive", "tty",
    { "name", help = "Keep the sandbox as NAME: it stays, stopped, after the command\n"
      .. "ends (logs, cp, start, rm); --rm removes it then" },
    { "detach", help = "Run CMD in the background and print the sandbox's name (named\n"
      .. "after --name, or generated); 'moonjail logs NAME' shows its output" },
    "rm", "entrypoint", "init", "json", "quiet", "dump-plan", "help" },
  column = 26,
  help = [[
Usage: moonjail run [OPTIONS] [--] CMD [ARG...]

Run CMD in a fresh sandbox built from a policy (default: "default"), stream its output, and
exit with its status (128+N if killed by signal N, 124 on timeout, 125 moonjail error,
126 not executable, 127 not found).  Options stop at the first non-option or "--".
Without --name or -d the sandbox goes when the command ends.

Options:
]],
}

C.create = {
  summary = "Create a named sandbox that stays warm",
  args = "interleave",
  refuses = "run",
  options = { "policy", "image", "platform", "insecure-registry", "rootfs", "ro", "rw", "volume", "tmpfs",
    "mount", { "repo", help = "Mount a repository (directory, archive or http(s) URL), MODE ro\n"
      .. "(default), rw or cow; see its changes with 'moonjail diff NAME'" },
    { "exclude", help = "Make paths of the --repo before it unreachable" },
    "read-only",
    { "env", help = "Default environment of its commands (bare K passes the host's value)" },
    "env-file",
    { "workdir", help = "Default working directory of its commands" },
    { "user", help = "User (and group) its commands run as (ids or names)" },
    "hostname", "network", "publish", "allow-host",
    { "timeout", help = "Default wall-clock limit of each command" },
    { "output-limit", help = "Default cap on each command's captured output" },
    "memory", "cpus", "pids-limit", "ulimit", "cap-add", "cap-drop", "security-opt", "label", "annotation",
    "cleanup-delay", "lifetime", { "name", help = "The sandbox's name (instead of NAME)" }, "init",
    { "json", help = "Print the sandbox's info as JSON instead of its name" },
    "quiet", "help" },
  column = 26,
  help = [[
Usage: moonjail create NAME [OPTIONS]

Create a named sandbox whose supervisor stays warm, and print its name.  It outlives this
command until 'moonjail rm'.  Run commands in it with 'moonjail exec NAME CMD...'.
Options (as for 'moonjail run'; they may come before or after NAME):
]],
}

C.exec = {
  summary = "Run a command in a named sandbox",
  args = "stop",
  operands = { "sandbox", "command" },
  options = { "interactive", "tty", "detach", "env", "env-file",
    { "workdir", help = "Working directory (default: the sandbox's)" },
    { "user", help = "User (and group) inside (ids or names)" },
    { "timeout", help = "Kill the command after this long" },
    { "output-limit", help = "Cap captured stdout+stderr" },
    "json", "quiet", "help" },
  column = 26,
  help = [[
Usage: moonjail exec [OPTIONS] NAME [--] CMD [ARG...]

Run CMD in the named sandbox, stream its output, forward SIGINT, SIGTERM, SIGHUP, SIGQUIT,
SIGUSR1, SIGUSR2 and SIGWINCH to it, and exit with its status (128+N if killed by signal N,
124 on timeout, 125 moonjail error, 126 not executable, 127 not found).

Options:
]],
}

C.cp = {
  summary = "Copy files between the host and a sandbox",
  args = "interleave",
  operands = { "cp_path", "cp_path" },
  options = { "help" },
  help = [[
Usage: moonjail cp SRC DEST

Copy files between the host and a named sandbox.  Exactly one of SRC and DEST is NAME:PATH
(a relative PATH is relative to the sandbox's working directory); the other is a host path
(write ./a:b for a host path with a colon).  Directories are copied recursively; when DEST is
an existing directory, SRC is copied into it.  Modes are kept; files copied in belong to the
sandbox's user.
]],
}

C.ps = {
  summary = "List named sandboxes",
  args = "interleave",
  options = { "all", { "quiet", help = "Print names only" },
    { "json", help = "Print an array of their info objects as JSON" }, "help" },
  column = 16,
  help = [[
Usage: moonjail ps [OPTIONS]

List named sandboxes: name, status, age, processes.

Options:
]],
}

C.info = {
  summary = "Show a sandbox's details",
  args = "interleave",
  aliases = { "inspect" },
  operands = { "sandbox" },
  options = { "json", "help" },
  help = [[
Usage: moonjail info [--json] NAME     (also: moonjail inspect)

Show what moonjail knows about a named sandbox: id, status, times, image, platform, hostname,
allocated resources, labels, annotations, policy, network, working directory.
]],
}

C.stats = {
  summary = "Show live resource usage",
  args = "interleave",
  operands = { "sandbox", "…" },
  options = { { "all", help = "Include stopped sandboxes" }, "no-stream",
    { "json", help = "Print one sample as a JSON array and exit" }, "help" },
  column = 18,
  help = [[
Usage: moonjail stats [OPTIONS] [NAME...]

Show the resource usage of named sandboxes (default: all running ones), refreshed every second
until interrupted.  CPU % is over the last interval (with --no-stream and --json: over the
sandbox's life).

Options:
]],
}

C.top = {
  summary = "Show the processes in a sandbox",
  args = "interleave",
  operands = { "sandbox" },
  options = { "json", "help" },
  help = [[
Usage: moonjail top [--json] NAME

Show the processes running inside a named sandbox (pids as the sandbox sees them).
]],
}

C.diff = {
  summary = "List or export the changes in a cow repository",
  args = "interleave",
  operands = { "sandbox" },
  options = { "diff-mount", "export", "json", "help" },
  help = [[
Usage: moonjail diff NAME [--mount DST] [--export DEST] [--json]

List what the commands changed in the named sandbox — in its root (the copy-on-write container
layer: /, /etc, /usr/local, ...) and in its copy-on-write repositories — one path per line: A
added, C changed, D deleted (as 'docker diff').  --mount lists one repository only (needed when
the sandbox has several).  --export writes the changes to DEST instead: a directory, or a tar
when DEST ends in .tar, .tar.gz or .tgz (deletions as OCI whiteouts, .wh.NAME).
]],
}

C.pause = {
  summary = "Freeze a sandbox's processes",
  args = "interleave",
  operands = { "sandbox", "…" },
  options = { "help" },
  help = [[
Usage: moonjail pause NAME...

Freeze every process in the sandboxes (file operations still work).
]],
}

C.resume = {
  summary = "Thaw a paused sandbox",
  args = "interleave",
  operands = { "sandbox", "…" },
  options = { "help" },
  help = [[
Usage: moonjail resume NAME...

Thaw paused sandboxes.
]],
}

C.stop = {
  summary = "Stop everything in a sandbox",
  args = "interleave",
  operands = { "sandbox", "…" },
  options = { "time", "help" },
  help = [[
Usage: moonjail stop [-t SECS] NAME...

Send SIGTERM to every process in the sandboxes, then SIGKILL after SECS (default 10).  A
stopped sandbox keeps its files (cp, info work) but refuses commands; remove it with rm.
]],
}

C.kill = {
  summary = "Signal every process in a sandbox",
  args = "interleave",
  operands = { "sandbox", "…" },
  options = { "signal", "help" },
  help = [[
Usage: moonjail kill [-s SIGNAL] NAME...

Send SIGNAL (default KILL; a name like TERM or SIGTERM, or a number) to every process in the
sandboxes except their supervisor.
]],
}

C.rm = {
  summary = "Remove sandboxes",
  args = "interleave",
  operands = { "sandbox", "…" },
  options = { "force", "help" },
  help = [[
Usage: moonjail rm [-f] NAME...

Remove stopped sandboxes.  A running or paused one is refused (INVALID_STATE) unless -f is given,
which kills everything in it first.
]],
}

C.logs = {
  summary = "Show the output of a sandbox's detached commands",
  args = "interleave",
  operands = { "sandbox" },
  options = { "follow", "tail", "help" },
  column = 18,
  help = [[
Usage: moonjail logs [-f] [--tail N] NAME [PID]

Print what a sandbox's detached command wrote, stdout to stdout and stderr to stderr: the
command of 'moonjail run --name NAME -d' (or without -d), or with PID the one 'moonjail exec -d'
started.  The output is kept in the sandbox's state, both streams in the order written: the
latest 1 to 2 MiB (older output rotates out), until the sandbox is removed.  After 'start' or
'restart' it shows the command's latest run.

Options:
]],
}

C.start = {
  summary = "Start a stopped sandbox again",
  args = "interleave",
  operands = { "sandbox", "…" },
  options = { "attach", "help" },
  column = 18,
  help = [[
Usage: moonjail start [-a] NAME...

Start stopped sandboxes again: commands are accepted, and a sandbox made by 'moonjail run
--name' runs its command again in the background (its output goes to 'moonjail logs').  Prints
each NAME (with -a: the command's output instead, and exits with its status).

Options:
]],
}

C.restart = {
  summary = "Stop and start a sandbox",
  args = "interleave",
  operands = { "sandbox", "…" },
  options = { "time", "help" },
  column = 18,
  help = [[
Usage: moonjail restart [-t SECS] NAME...

Stop each sandbox (SIGTERM, then SIGKILL after SECS, default 10) if it runs, then start it again
as 'moonjail start' does.  Prints each NAME.

Options:
]],
}

C.completion = {
  summary = "Print a shell completion script",
  args = "interleave",
  operands = { "shell" },
  options = { "help" },
  help = [[
Usage: moonjail completion bash|zsh|fish

Print a completion script for the shell, made from the same tables the option parser reads.
  bash:  source <(moonjail completion bash)      (or install it as
         /usr/share/bash-completion/completions/moonjail; 'cmake --install' does)
  zsh:   moonjail completion zsh > "${fpath[1]}/_moonjail"
  fish:  moonjail completion fish > ~/.config/fish/completions/moonjail.fish
]],
}

C.script = {
  summary = "Run a Lua script with the moonjail module",
  args = "passthrough",
  operands = { "file" },
  options = { "help" },
  help = [[
Usage: moonjail script FILE [ARGS...]

Run FILE as a Lua 5.4 script.  `require "moonjail"` gives the Lua API (see docs/lua-api.md);
the global `arg` holds FILE at arg[0] and ARGS at arg[1..].  Exits 0 when the script returns
normally (or with the integer it returns), 1 with a traceback when it raises.
]],
}

C.recipe = {
  summary = "Run a task recipe",
  args = "interleave",
  operands = { "file" },
  options = { "set", "output", { "json", help = "Print only the report, as JSON" },
    { "quiet", help = "No headers and no step output" }, "help" },
  column = 26,
  help = [[
Usage: moonjail recipe FILE [--set KEY=VALUE]... [--output DIR] [--json] [-q]

Run the task recipe FILE (a Lua file returning { steps = …, artifacts = … }; see
docs/recipes.md): create its sandbox, run each step with a header and its live output, retry
what is retryable, copy the artifacts into the recipe's output directory and write
report.json there.  Exits 0 when every step passed and every artifact was found, 1 when not,
125 when the recipe is invalid or its sandbox cannot start.

Options:
]],
}

C.pull = {
  args = "interleave",
  options = { "platform", "insecure-registry",
    { "quiet", help = "No progress on stderr; print only the image's name and digest" },
    { "json", help = "Print the image's record as JSON instead of progress lines" }, "help" },
  column = 34,
  help = [[
Usage: moonjail pull [OPTIONS] REF

Pull the image REF ([REGISTRY[:PORT]/]REPOSITORY[:TAG][@DIGEST]; Docker Hub's defaults) into
the image store (/var/lib/moonjail as root, $XDG_DATA_HOME/moonjail otherwise,
$MOONJAIL_IMAGE_STORE to choose): every manifest and blob verified against its digest, the
layers unpacked once for every sandbox to share.  What the store already has is not fetched
again.  Credentials come from $XDG_CONFIG_HOME/moonjail/auth.json or docker's config.json.
One line per layer on stderr; the name and digest on stdout.

Options:
]],
}

C.images = {
  args = "interleave",
  options = { { "quiet", help = "Print the names only" },
    { "json", help = "Print an array of the image records as JSON" }, "help" },
  column = 16,
  help = [[
Usage: moonjail images [OPTIONS]

List the images in the image store: repository, tag, platform, digest, when it was pulled,
size (of its blobs) and how many running sandboxes use it.

Options:
]],
}

C.rmi = {
  args = "interleave",
  options = { { "platform", help = "Remove only this platform's image of the name" }, "all-platforms",
    { "json", help = "Print the removed records as JSON" }, "help" },
  column = 28,
  help = [[
Usage: moonjail rmi [OPTIONS] REF...

Remove the images REF from the image store (every platform's, unless --platform).  Refused
(INVALID_STATE) while a running sandbox uses one; a sandbox never loses its image.  The blobs
and unpacked layers stay until nothing needs them and the store is pruned.

Options:
]],
}

C.load = {
  args = "interleave",
  options = { "platform", "image-name",
    { "quiet", help = "No progress on stderr" },
    { "json", help = "Print the loaded records as JSON" }, "help" },
  column = 26,
  help = [[
Usage: moonjail load [OPTIONS] FILE|DIR

Load images into the image store from an OCI image layout (a directory, or a tar of one) or a
'docker save' archive: every blob is verified as a pull verifies it, the layers are unpacked,
and each name the files give is recorded.

Options:
]],
}

C.version = {
  summary = "Show the version",
  args = "interleave",
  options = { "json", "help" },
  help = [[
Usage: moonjail version [--json]

Print moonjail's version.
]],
}

C.help = {
  summary = "Show help for moonjail or a command",
  args = "passthrough",
  operands = { "command_name" },
  options = { "help" },
  help = [[
Usage: moonjail help [COMMAND]
]],
}

C.doctor = {
  summary = "Show what this host can enforce",
  args = "interleave",
  options = { "json", "help" },
  help = [[
Usage: moonjail doctor [--json]

Probe what this host can enforce — user namespaces (and what restricts them), cgroups and their
controllers, seccomp, Landlock's ABI, LSMs, overlayfs, openat2, pidfd, the new mount API — and say
how to fix each missing piece.  Exits 0 when sandboxes can start here, 1 otherwise.
]],
}

C.prune = {
  args = "interleave",
  options = { { "json", help = 'Print { "sandboxes": {…}, "working_trees": {…} }: what each step removed' },
    { "quiet", help = "Print nothing but errors" }, "help" },
  column = 16,
  help = [[
Usage: moonjail prune [OPTIONS]

Remove what dead sandboxes and crashed moonjail processes left on this host for you: the state
and cgroups of named sandboxes whose supervisor is gone (the "failed" ones of 'ps -a'), sandboxes
whose creation or removal was cut short (never listed), cgroups no process is in, and repository
working trees whose owner is gone.  Running, paused and stopped sandboxes are left alone.

Options:
]],
}

C.policy = {
  summary = "List, show and validate policies",
  args = "passthrough",
  options = { "help" },
  subcommands = { "list", "show", "check" },
  help = [[
Usage: moonjail policy COMMAND

Inspect and validate policies (see docs/policies.md).

Commands:
  list [--json]               The built-in policies and what each is for
  show [--json] NAME|FILE     The policy after resolving `extends`, as a standalone policy
  check [--json] FILE...      Validate policy files; 'FILE: ok' or each problem with file:line

A reference with a '/' or ending in '.lua' is a file (relative to the current directory);
anything else names a built-in policy.  Run 'moonjail policy COMMAND --help' for more.
]],
}

C["policy list"] = {
  summary = "The built-in policies",
  args = "interleave",
  options = { { "json", help = 'Print an array of { "name", "description" } objects' }, "help" },
  column = 16,
  help = [[
Usage: moonjail policy list [--json]

List the policies built into moonjail, with their descriptions.

Options:
]],
}

C["policy show"] = {
  summary = "A policy with its extends chain merged",
  args = "interleave",
  operands = { "policy" },
  options = { { "json", help = "Print the merged policy as a JSON object (unlimited counts as -1)" }, "help" },
  column = 16,
  help = [[
Usage: moonjail policy show [--json] NAME|FILE

Print the policy NAME (built in) or FILE with its `extends` chain merged in: tables merged key
by key, lists replaced.  The text is itself a standalone policy (no `extends`, mount sources
resolved to absolute paths, unlimited counts as -1), keys in sorted order.  Nothing is started
and the host is not probed: mount sources, user names and cgroup limits are checked when a
sandbox starts.

Options:
]],
}

C["policy check"] = {
  summary = "Validate policy files",
  args = "interleave",
  operands = { "file", "…" },
  options = { { "json", help = 'Print { "ok": bool, "files": [ { "file", "ok", "problems": [ { "message",\n'
    .. '"file", "line" } ] } ] }' }, "help" },
  column = 16,
  help = [[
Usage: moonjail policy check [--json] FILE...

Load and validate each policy file (and the policies it extends) as 'moonjail run' would: text
only, in an empty environment, under an instruction limit.  Prints 'FILE: ok', or each problem
with file:line.  Exits 0 when every file is valid, else 125 with the first problem as the usual
'moonjail: INVALID_CONFIG: ...' line on stderr.  The loader stops at the first problem in each
file.  Nothing is started and the host is not probed.

Options:
]],
}

-- docker's flags that moonjail does not take, with the reason and the moonjail way.
local run_refused = {
  ["--add-host"] = "/etc/hosts entries are not configurable yet (a policy's network.dns.hosts, with the "
    .. "filtered network)",
  ["--attach"] = "run always relays stdout and stderr; add -i for stdin",
  ["-a"] = "run always relays stdout and stderr; add -i for stdin",
  ["--blkio-weight"] = "no relative I/O weights; a policy's limits.io caps bandwidth and IOPS",
  ["--blkio-weight-device"] = "no relative I/O weights; a policy's limits.io caps bandwidth and IOPS",
  ["--cgroup-parent"] = "sandboxes live under the caller's own cgroup (<own>/moonjail/<id>)",
  ["--cgroupns"] = "a sandbox always has its own cgroup namespace; moonjail never shares the host's",
  ["--cidfile"] = "there is no container id file; use --name and 'moonjail info NAME'",
  ["--cpu-period"] = "use --cpus N (the CFS period is the kernel's default)",
  ["--cpu-quota"] = "use --cpus N",
  ["--cpu-rt-period"] = "real-time scheduling is not available in sandboxes",
  ["--cpu-rt-runtime"] = "real-time scheduling is not available in sandboxes",
  ["--cpu-shares"] = "no relative CPU weights; use --cpus N (a policy's limits.cpu_request for a reservation)",
  ["-c"] = "no relative CPU weights (docker's --cpu-shares); use --cpus N",
  ["--cpuset-cpus"] = "sandboxes are not pinned to CPUs; use --cpus N",
  ["--cpuset-mems"] = "sandboxes are not pinned to memory nodes",
  ["--detach-keys"] = "there is no attach/detach key sequence; use -d and 'moonjail logs -f'",
  ["--device"] = "no host devices in sandboxes: /dev holds only null, zero, full, random, urandom, tty and its own pts",
  ["--device-cgroup-rule"] = "no host devices in sandboxes",
  ["--device-read-bps"] = "use a policy's limits.io = { { device =, read_bps = } }",
  ["--device-read-iops"] = "use a policy's limits.io = { { device =, read_iops = } }",
  ["--device-write-bps"] = "use a policy's limits.io = { { device =, write_bps = } }",
  ["--device-write-iops"] = "use a policy's limits.io = { { device =, write_iops = } }",
  ["--disable-content-trust"] = "images are verified by digest always; there is nothing to skip",
  ["--dns"] = "DNS servers are set by the filtered network's policy (network.dns.servers)",
  ["--dns-option"] = "DNS options are set by the filtered network's policy (network.dns)",
  ["--dns-search"] = "DNS search domains are set by the filtered network's policy (network.dns.search)",
  ["--domainname"] = "only the host name is set (--hostname)",
  ["--expose"] = "ports are not exposed; publish one with -p [IP:]HPORT:PORT",
  ["--gpus"] = "no host devices in sandboxes",
  ["--group-add"] = "commands run with one group: --user USER:GROUP",
  ["--health-cmd"] = "moonjail has no health checks; run one with 'moonjail exec'",
  ["--health-interval"] = "moonjail has no health checks",
  ["--health-retries"] = "moonjail has no health checks",
  ["--health-start-interval"] = "moonjail has no health checks",
  ["--health-start-period"] = "moonjail has no health checks",
  ["--health-timeout"] = "moonjail has no health checks",
  ["--no-healthcheck"] = "moonjail has no health checks",
  ["--io-maxbandwidth"] = "Windows only; a policy's limits.io caps bandwidth",
  ["--io-maxiops"] = "Windows only; a policy's limits.io caps IOPS",
  ["--ip"] = "no addresses to choose: the network engine (pasta or slirp4netns) assigns the sandbox's",
  ["--ip6"] = "no addresses to choose: the network engine (pasta or slirp4netns) assigns the sandbox's",
  ["--ipc"] = "a sandbox always has its own IPC namespace; moonjail never shares the host's",
  ["--isolation"] = "moonjail is the isolation: namespaces, seccomp, Landlock, cgroups",
  ["--kernel-memory"] = "kernel memory is counted in the memory limit (-m)",
  ["--label-file"] = "give labels with -l K=V",
  ["--link"] = "sandboxes do not see each other; there are no links",
  ["--link-local-ip"] = "no addresses to choose: the network engine (pasta or slirp4netns) assigns the sandbox's",
  ["--log-driver"] = "output of detached commands is kept in the sandbox's state: 'moonjail logs'",
  ["--log-opt"] = "output of detached commands is kept in the sandbox's state: 'moonjail logs'",
  ["--mac-address"] = "no addresses to choose: the network engine (pasta or slirp4netns) assigns the sandbox's",
  ["--memory-reservation"] = "use a policy's limits.memory_request",
  ["--memory-swap"] = "swap follows the host; -m limits memory",
  ["--memory-swappiness"] = "swap follows the host; -m limits memory",
  ["--network-alias"] = "sandboxes do not see each other; there are no aliases",
  ["--oom-kill-disable"] = "the OOM killer always ends a command over its memory limit (exit 137)",
  ["--oom-score-adj"] = "commands run at OOM score 0, moonjail's own processes below them",
  ["--pid"] = "a sandbox always has its own pid namespace; moonjail never shares the host's",
  ["--privileged"] = "a sandbox never gets host privileges: its root is mapped to an unprivileged id; "
    .. "keep one capability inside its user namespace with --cap-add CAP",
  ["--publish-all"] = "nothing is exposed to publish all of: publish each port with -p [IP:]HPORT:PORT",
  ["-P"] = "nothing is exposed to publish all of: publish each port with -p [IP:]HPORT:PORT",
  ["--pull"] = "an image missing from the store is pulled (docker's --pull missing); 'moonjail pull REF' pulls "
    .. "again",
  ["--restart"] = "moonjail has no daemon to restart commands; use 'moonjail start NAME' (or a service manager)",
  ["--runtime"] = "moonjail is the runtime",
  ["--shm-size"] = "use --tmpfs /dev/shm:size=SIZE",
  ["--sig-proxy"] = "signals are always forwarded to the command",
  ["--stop-signal"] = "'moonjail stop' sends SIGTERM, then SIGKILL; use 'moonjail kill -s SIG NAME' for another",
  ["--stop-timeout"] = "give the grace period to 'moonjail stop -t SECS'",
  ["--storage-opt"] = "the writable layer's size is the policy's limits.disk",
  ["--sysctl"] = "kernel parameters are the host's; sandboxes cannot change them",
  ["--userns"] = "a sandbox always has its own user namespace, mapped to unprivileged host ids",
  ["--uts"] = "a sandbox always has its own UTS namespace; moonjail never shares the host's",
  ["--volume-driver"] = "there are no volumes; bind host directories with -v SRC:DST",
  ["--volumes-from"] = "there are no volumes; bind host directories with -v SRC:DST",
  ["--cpu-count"] = "use --cpus N",
  ["--cpu-percent"] = "use --cpus N",
}

M.refused = {
  run = run_refused,
  exec = {
    ["--privileged"] = "commands never get host privileges; the sandbox's capabilities apply (create --cap-add)",
    ["--detach-keys"] = "there is no attach/detach key sequence; use -d and 'moonjail logs -f NAME PID'",
  },
  ps = {
    ["--filter"] = "print everything with --json and filter it (jq)",
    ["-f"] = "print everything with --json and filter it (jq)",
    ["--format"] = "use --json",
    ["--last"] = "use --json",
    ["-n"] = "use --json",
    ["--latest"] = "use --json",
    ["-l"] = "use --json",
    ["--no-trunc"] = "nothing is truncated",
    ["--size"] = "sizes are in 'moonjail stats' (disk_usage with --json)",
    ["-s"] = "sizes are in 'moonjail stats' (disk_usage with --json)",
  },
  info = {
    ["--format"] = "use --json",
    ["-f"] = "use --json",
    ["--size"] = "sizes are in 'moonjail stats' (disk_usage with --json)",
    ["-s"] = "sizes are in 'moonjail stats' (disk_usage with --json)",
    ["--type"] = "only sandboxes can be inspected",
  },
  logs = {
    ["--since"] = "the kept output has no timestamps; use --tail N",
    ["--until"] = "the kept output has no timestamps; use --tail N",
    ["--timestamps"] = "the kept output has no timestamps",
    ["-t"] = "the kept output has no timestamps (docker's --timestamps)",
    ["--details"] = "there are no log details to add",
  },
  stats = {
    ["--format"] = "use --json",
    ["--no-trunc"] = "nothing is truncated",
  },
  rm = {
    ["--volumes"] = "there are no volumes; what a sandbox wrote goes with it",
    ["-v"] = "there are no volumes; what a sandbox wrote goes with it",
    ["--link"] = "there are no links",
    ["-l"] = "there are no links",
  },
  cp = {
    ["--archive"] = "modes are always kept; files copied in belong to the sandbox's user",
    ["-a"] = "modes are always kept; files copied in belong to the sandbox's user",
    ["--follow-link"] = "symlinks are copied as links and never followed out of the sandbox",
    ["-L"] = "symlinks are copied as links and never followed out of the sandbox",
    ["--quiet"] = "cp prints nothing but errors",
    ["-q"] = "cp prints nothing but errors",
  },
  stop = {
    ["--signal"] = "'moonjail stop' sends SIGTERM, then SIGKILL; use 'moonjail kill -s SIG NAME' for another",
    ["-s"] = "'moonjail stop' sends SIGTERM, then SIGKILL; use 'moonjail kill -s SIG NAME' for another",
  },
  start = {
    ["--interactive"] = "a restarted command runs in the background; use 'moonjail exec -it NAME CMD'",
    ["-i"] = "a restarted command runs in the background; use 'moonjail exec -it NAME CMD'",
    ["--detach-keys"] = "there is no attach/detach key sequence",
  },
  restart = {
    ["--signal"] = "'moonjail restart' sends SIGTERM, then SIGKILL",
    ["-s"] = "'moonjail restart' sends SIGTERM, then SIGKILL",
  },
}

-- docker's commands that moonjail does not have, with the reason and the moonjail way.
M.refused_commands = {
  attach = "use 'moonjail logs -f NAME' for a detached command's output, 'moonjail exec -it NAME sh' for a shell",
  wait = "use 'moonjail start -a NAME' or 'moonjail logs -f NAME' (which ends with the command)",
  build = "moonjail does not build images; a recipe runs build steps in a sandbox ('moonjail recipe FILE')",
  builder = "moonjail does not build images",
  buildx = "moonjail does not build images",
  commit = "a sandbox's changes are not turned into images; 'moonjail diff NAME --export DEST' writes a cow "
    .. "repository's changes",
  export = "use 'moonjail cp NAME:/ DEST' for a sandbox's files",
  import = "use --rootfs DIR for a directory as the root",
  history = "images are not implemented yet",
  save = "images are not implemented yet",
  search = "images are not implemented yet",
  push = "images are not implemented yet",
  tag = "images are not implemented yet",
  login = "images are not implemented yet",
  logout = "images are not implemented yet",
  manifest = "images are not implemented yet",
  trust = "images are not implemented yet",
  image = "images are not implemented yet",
  container = "the container commands are moonjail's own: 'moonjail help'",
  network = "sandboxes have no networks to manage: --network none|host|bridge|outbound|filtered",
  volume = "there are no volumes; bind host directories with -v SRC:DST",
  port = "a sandbox's published ports are its policy's network.publish and its -p options",
  rename = "a sandbox keeps the name it was created with",
  update = "a sandbox's limits are set when it is created",
  events = "moonjail has no daemon to report events; a policy's audit.log records them",
  system = "see 'moonjail doctor' for the host, 'moonjail ps -a' and 'moonjail rm' for sandboxes",
  context = "moonjail runs on this host only",
  compose = "moonjail runs one sandbox at a time; a recipe runs steps ('moonjail recipe FILE')",
  swarm = "moonjail runs on this host only", node = "moonjail runs on this host only",
  service = "moonjail runs on this host only", stack = "moonjail runs on this host only",
  secret = "give secrets as files (--ro) or variables (-e, --env-file)",
  config = "give configuration as files (--ro) or variables (-e, --env-file)",
  plugin = "moonjail has no plugins",
  checkpoint = "sandboxes cannot be checkpointed",
}

return M

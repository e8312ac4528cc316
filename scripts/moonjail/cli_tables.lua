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
--            host_path, sandbox_path, bind (SRC[:DST]), repo, glob, env (K[=V]), kv (K=V), user,
--            network, publish ([HOST_IP:]HOST_PORT:PORT[/tcp]), net_rule (an allow rule), duration,
--            size, number, integer, capability, signal
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
--   help     the help text up to its option list
--   column   when present, --help lists the options after `help`, their text at this column
--   subcommands  the words that may follow (a command made of subcommands)
local M = {}

M.options = {
  help = { long = "help", short = "h", help = "Show this help" },
  version = { long = "version", help = "Show the version" },
  json = { long = "json", help = "Print the result as JSON instead of streaming output" },
  quiet = { long = "quiet", short = "q", help = "Do not print warnings" },

  -- what a sandbox is made of (run, create)
  policy = { long = "policy", value = "P", type = "policy", help = "Policy name, or path to a policy .lua file" },
  image = { long = "image", value = "IMAGE", type = "string", hidden = true,
    help = "An OCI image (not implemented yet: UNSUPPORTED)" },
  ro = { long = "ro", value = "SRC[:DST]", type = "bind", repeats = true,
    help = "Bind a host path read-only (DST defaults to SRC)" },
  rw = { long = "rw", value = "SRC[:DST]", type = "bind", repeats = true, help = "Bind a host path read-write" },
  tmpfs = { long = "tmpfs", value = "DST", type = "sandbox_path", repeats = true,
    help = "Mount an empty tmpfs at DST" },
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
  detach = { long = "detach", short = "d", help = "Start CMD in the background, print its pid (inside the sandbox)" },

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

  pull [OPTIONS] REF                Pull an image from a registry into the image store
  images [--json]                   List the images in the store
  rmi [OPTIONS] REF...              Remove images from the store (refused while in use)
  load [OPTIONS] FILE|DIR           Load an OCI layout or a 'docker save' archive

Not implemented yet: prune.

Run 'moonjail COMMAND --help' for more on a command.
]],
}

local C = {}
M.commands = C

C.run = {
  args = "stop",
  options = { "policy", "image", "ro", "rw", "tmpfs", "repo", "exclude", "env", "workdir", "user", "hostname",
    "network", "publish", "allow-host", "timeout", "output-limit", "memory", "cpus", "pids-limit", "cap-add",
    "interactive", "tty", "json",
    "quiet", "help" },
  column = 26,
  help = [[
Usage: moonjail run [OPTIONS] [--] CMD [ARG...]

Run CMD in a fresh sandbox built from a policy (default: "default"), stream its output, and
exit with its status (128+N if killed by signal N, 124 on timeout, 125 moonjail error,
126 not executable, 127 not found).  Options stop at the first non-option or "--".

Options:
]],
}

C.create = {
  args = "interleave",
  options = { "policy", "image", "ro", "rw", "tmpfs",
    { "repo", help = "Mount a repository (directory, archive or http(s) URL), MODE ro\n"
      .. "(default), rw or cow; see its changes with 'moonjail diff NAME'" },
    { "exclude", help = "Make paths of the --repo before it unreachable" },
    { "env", help = "Default environment of its commands (bare K passes the host's value)" },
    { "workdir", help = "Default working directory of its commands" },
    { "user", help = "User (and group) its commands run as (ids or names)" },
    "hostname", "network", "publish", "allow-host",
    { "timeout", help = "Default wall-clock limit of each command" },
    { "output-limit", help = "Default cap on each command's captured output" },
    "memory", "cpus", "pids-limit", "cap-add", "label", "annotation", "cleanup-delay",
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
  args = "stop",
  options = { "interactive", "tty", "detach", "env",
    { "workdir", help = "Working directory (default: the sandbox's)" },
    { "user", help = "User (and group) inside (ids or names)" },
    { "timeout", help = "Kill the command after this long" },
    { "output-limit", help = "Cap captured stdout+stderr" },
    "json", "quiet", "help" },
  column = 26,
  help = [[
Usage: moonjail exec [OPTIONS] NAME CMD [ARG...]

Run CMD in the named sandbox, stream its output, forward SIGINT, SIGTERM, SIGHUP, SIGQUIT,
SIGUSR1, SIGUSR2 and SIGWINCH to it, and exit with its status (128+N if killed by signal N,
124 on timeout, 125 moonjail error, 126 not executable, 127 not found).

Options:
]],
}

C.cp = {
  args = "interleave",
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
  args = "interleave",
  options = { "json", "help" },
  help = [[
Usage: moonjail info [--json] NAME

Show what moonjail knows about a named sandbox: id, status, times, image, platform, hostname,
allocated resources, labels, annotations, policy, network, working directory.
]],
}

C.stats = {
  args = "interleave",
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
  args = "interleave",
  options = { "json", "help" },
  help = [[
Usage: moonjail top [--json] NAME

Show the processes running inside a named sandbox (pids as the sandbox sees them).
]],
}

C.diff = {
  args = "interleave",
  options = { "diff-mount", "export", "json", "help" },
  help = [[
Usage: moonjail diff NAME [--mount DST] [--export DEST] [--json]

List what the commands changed in a copy-on-write repository of the named sandbox, one path
per line: A added, C changed, D deleted (as 'docker diff').  --mount picks the repository when
the sandbox has several.  --export writes the changes to DEST instead: a directory, or a tar
when DEST ends in .tar, .tar.gz or .tgz (deletions as OCI whiteouts, .wh.NAME).
]],
}

C.pause = {
  args = "interleave",
  options = { "help" },
  help = [[
Usage: moonjail pause NAME...

Freeze every process in the sandboxes (file operations still work).
]],
}

C.resume = {
  args = "interleave",
  options = { "help" },
  help = [[
Usage: moonjail resume NAME...

Thaw paused sandboxes.
]],
}

C.stop = {
  args = "interleave",
  options = { "time", "help" },
  help = [[
Usage: moonjail stop [-t SECS] NAME...

Send SIGTERM to every process in the sandboxes, then SIGKILL after SECS (default 10).  A
stopped sandbox keeps its files (cp, info work) but refuses commands; remove it with rm.
]],
}

C.kill = {
  args = "interleave",
  options = { "signal", "help" },
  help = [[
Usage: moonjail kill [-s SIGNAL] NAME...

Send SIGNAL (default KILL; a name like TERM or SIGTERM, or a number) to every process in the
sandboxes except their supervisor.
]],
}

C.rm = {
  args = "interleave",
  options = { "force", "help" },
  help = [[
Usage: moonjail rm [-f] NAME...

Remove stopped sandboxes.  A running or paused one is refused (INVALID_STATE) unless -f is given,
which kills everything in it first.
]],
}

C.script = {
  args = "passthrough",
  options = { "help" },
  help = [[
Usage: moonjail script FILE [ARGS...]

Run FILE as a Lua 5.4 script.  `require "moonjail"` gives the Lua API (see docs/lua-api.md);
the global `arg` holds FILE at arg[0] and ARGS at arg[1..].  Exits 0 when the script returns
normally (or with the integer it returns), 1 with a traceback when it raises.
]],
}

C.recipe = {
  args = "interleave",
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
  args = "interleave",
  options = { "json", "help" },
  help = [[
Usage: moonjail version [--json]

Print moonjail's version.
]],
}

C.help = {
  args = "passthrough",
  options = { "help" },
  help = [[
Usage: moonjail help [COMMAND]
]],
}

C.doctor = {
  args = "interleave",
  options = { "json", "help" },
  help = [[
Usage: moonjail doctor [--json]

Probe what this host can enforce — user namespaces (and what restricts them), cgroups and their
controllers, seccomp, Landlock's ABI, LSMs, overlayfs, openat2, pidfd, the new mount API — and say
how to fix each missing piece.  Exits 0 when sandboxes can start here, 1 otherwise.
]],
}

C.policy = {
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
  args = "interleave",
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
  args = "interleave",
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

return M

-- spec/integration/terminal_spec.lua — `run -t`/`exec -t` as a user at a terminal sees them: the
-- CLI runs inside a real pseudo-terminal (a private tmux server), keys are typed into it, its
-- window is resized.
--
-- Covers: the command's terminal is the sandbox's own (`tty` prints /dev/pts/0, ps shows pts/0,
-- the command's user owns it); Ctrl-C typed reaches the command as SIGINT through the sandbox's
-- line discipline; a window resize reaches the command (stty size before and after); exit codes
-- pass through; the user's terminal is restored afterwards; `-it` with a pipe for stdin fails at
-- once with docker's words, `-t` with a pipe still runs; exec -t in a named sandbox.
local helpers = require "spec.helpers"

if helpers.skip_unless_sandboxes() then return end

local q = helpers.shell_quote
local have_tmux = os.execute("command -v tmux >/dev/null 2>&1")

local state_dir
local socket = "mjspec-" .. helpers.unique_number()
local dir
local session = 0

local function tmux(args)
  return helpers.sh("tmux -L " .. q(socket) .. " -f /dev/null " .. args .. " 2>&1")
end

-- Starts `moonjail ARGS` in a new tmux window of 80x24; returns the session name and the file that
-- gets "EXIT=<status>" when it ends.
local function start(args)
  session = session + 1
  local name = "s" .. session
  local exit_file = dir .. "/" .. name .. ".exit"
  local words = {}
  for _, a in ipairs(args) do words[#words + 1] = q(a) end
  local cmd = string.format("MOONJAIL_STATE_DIR=%s %s %s; echo EXIT=$? > %s; sleep 60", q(state_dir),
    q(helpers.moonjail_bin()), table.concat(words, " "), q(exit_file))
  tmux("new-session -d -s " .. name .. " -x 80 -y 24 " .. q(cmd))
  return name, exit_file
end

local function screen(name) return tmux("capture-pane -p -t " .. name) end

local function wait_for(name, pattern, seconds)
  local ok = helpers.eventually(seconds or 10, function() return screen(name):find(pattern) ~= nil end)
  assert(ok, "the terminal never showed " .. pattern .. ":\n" .. screen(name))
end

local function exit_status(exit_file)
  local st
  assert(helpers.eventually(10, function()
    st = (helpers.read_file(exit_file) or ""):match("EXIT=(%d+)")
    return st ~= nil
  end), "moonjail did not end")
  return tonumber(st)
end

describe("a command on a terminal, typed at", function()
  setup(function()
    state_dir = helpers.tmpdir("0700")
    dir = helpers.tmpdir()
  end)
  teardown(function()
    if have_tmux then tmux("kill-server") end
    helpers.cleanup()
  end)

  local function need_tmux()
    if not have_tmux then pending("tmux is not installed (Debian package tmux)") end
    return have_tmux
  end

  it("has the sandbox's own /dev/pts/0, which ps shows and its user owns", function()
    if not need_tmux() then return end
    local s, exit_file = start({ "run", "-it", "-u", "1000:1000", "--", "sh", "-c",
      "tty; ps -o tty= -p $$; stat -c 'owner=%u' $(tty); echo done" })
    wait_for(s, "done")
    local text = screen(s)
    assert.matches("/dev/pts/0", text, 1, true)
    assert.matches("pts/0", text, 1, true)
    assert.matches("owner=1000", text, 1, true)
    assert.are.equal(0, exit_status(exit_file))
  end)

  it("passes Ctrl-C to the command as SIGINT and its exit status back", function()
    if not need_tmux() then return end
    local s, exit_file = start({ "run", "-it", "--", "sh", "-c",
      "trap 'echo got-int; exit 3' INT; echo ready; while :; do sleep 0.1; done" })
    wait_for(s, "ready")
    tmux("send-keys -t " .. s .. " C-c")
    wait_for(s, "got%-int")
    assert.are.equal(3, exit_status(exit_file))
  end)

  it("passes a window resize to the command", function()
    if not need_tmux() then return end
    local s, exit_file = start({ "run", "-it", "--", "sh", "-c", "stty size; echo ready; read x; stty size; exit 5" })
    wait_for(s, "24 80")
    wait_for(s, "ready")
    tmux("resize-window -t " .. s .. " -x 100 -y 30")
    helpers.sleep(0.3)
    tmux("send-keys -t " .. s .. " Enter")
    wait_for(s, "30 100")
    assert.are.equal(5, exit_status(exit_file))
  end)

  it("gives the user's terminal back as it was", function()
    if not need_tmux() then return end
    local s, exit_file = start({ "run", "-it", "--", "true" })
    assert.are.equal(0, exit_status(exit_file))
    -- `sleep 60` runs in the pane now: the terminal's modes are what moonjail left
    local tty = tmux("display -p -t " .. s .. " '#{pane_tty}'"):match("%S+")
    assert.matches("[^-]icanon", " " .. helpers.sh("stty -a -F " .. q(tty)))
  end)

  it("runs exec -t in a named sandbox on its own terminal", function()
    if not need_tmux() then return end
    local name = "mjspec-term-" .. helpers.unique_number()
    local r = helpers.cli({ "create", name }, { env = { MOONJAIL_STATE_DIR = state_dir } })
    assert.are.equal(0, r.status, r.stderr)
    local s, exit_file = start({ "exec", "-it", name, "sh", "-c", "tty; exit 4" })
    wait_for(s, "/dev/pts/%d")
    assert.are.equal(4, exit_status(exit_file))
    helpers.cli({ "rm", "-f", name }, { env = { MOONJAIL_STATE_DIR = state_dir } })
  end)
end)

describe("a terminal without a terminal", function()
  teardown(function() helpers.cleanup() end)

  it("refuses -it at once when stdin is a pipe, with docker's words", function()
    local r = helpers.cli({ "run", "-it", "--", "cat" }, { stdin = "x\n" })
    assert.are.equal(125, r.status)
    assert.matches("the input device is not a TTY", r.stderr, 1, true)
    assert.is_true(r.duration < 2, string.format("took %.2f s", r.duration))
  end)

  it("still runs -t alone with a pipe for stdin: the command has a terminal, stdin is not relayed", function()
    local r = helpers.cli({ "run", "-t", "--", "sh", "-c", "tty; test -t 0 && echo on-a-tty" }, { stdin = "x\n" })
    assert.are.equal(0, r.status, r.stderr)
    assert.matches("^/dev/pts/0\r?\non%-a%-tty\r?\n$", r.stdout)
  end)
end)

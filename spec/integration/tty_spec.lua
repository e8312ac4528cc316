-- spec/integration/tty_spec.lua — commands on a pseudo-terminal (`exec -t`, `tty = true`).
--
-- Covers (SECURITY.md, terminal injection): the command gets a *fresh* pty from the core, never
-- the caller's terminal; it is the command's controlling terminal; typed input reaches it.
-- TIOCSTI on a pty of the sandbox's own is refused by the seccomp guard (spec/security/seccomp_spec.lua).
local mj = require "moonjail"
local helpers = require "spec.helpers"

if helpers.skip_unless_sandboxes() then return end

describe("a command on a pseudo-terminal", function()
  local sb
  before_each(function() sb = assert(mj.sandbox({})) end)
  after_each(function() if mj.type(sb) == "sandbox" then sb:close() end end)

  it("sees a terminal on stdin and stdout and has it as its controlling terminal", function()
    local script = "test -t 0 && test -t 1 && echo on-a-tty; exec 3</dev/tty && echo ctty"
    local res = assert(sb:exec({ "sh", "-c", script }, { tty = true }))
    assert.are.equal(0, res.exit_code, res.stdout)
    assert.matches("on-a-tty", res.stdout, 1, true)
    assert.matches("ctty", res.stdout, 1, true)
  end)

  it("receives typed input through the terminal", function()
    local res = assert(sb:exec({ "sh", "-c", "read x; echo got=$x" }, { tty = true, stdin = "hello\n" }))
    assert.matches("got=hello", res.stdout, 1, true)
  end)

  it("works for one-shot runs too", function()
    local res = assert(mj.run({ "sh", "-c", "test -t 0 && echo on-a-tty; read x; echo got=$x" },
      { tty = true, stdin = "typed\n" }))
    assert.matches("on-a-tty", res.stdout, 1, true)
    assert.matches("got=typed", res.stdout, 1, true)
  end)

  it("is not given the caller's terminal: without tty the command has none", function()
    local res = assert(sb:exec({ "sh", "-c", "test -t 0 || echo no-tty-0; test -t 1 || echo no-tty-1" }))
    assert.are.equal("no-tty-0\nno-tty-1\n", res.stdout)
  end)
end)

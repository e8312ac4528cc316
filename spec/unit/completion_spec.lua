-- spec/unit/completion_spec.lua — `moonjail completion bash|zsh|fish` as a shell loads it:
-- bash registers it (`complete -p moonjail`) and completes subcommands, options, policy names,
-- option values and sandbox names (from `moonjail ps -aq`, here a stub on PATH); zsh and fish
-- parse it when they are installed; the scripts built for `cmake --install` are the same text.
-- No sandbox is started.
local helpers = require "spec.helpers"

local q = helpers.shell_quote

local function moonjail(args)
  local r = helpers.cli(args)
  assert(r.status == 0, "moonjail " .. table.concat(args, " ") .. ": " .. r.stderr)
  return r.stdout
end

local dir, script
-- Completes the words `line` (a command line ending where the cursor is) in bash; returns the
-- candidates, sorted.
local function complete(line)
  local words = {}
  for w in line:gmatch("%S+") do words[#words + 1] = w end
  if line:sub(-1) == " " then words[#words + 1] = "" end
  local quoted = {}
  for _, w in ipairs(words) do quoted[#quoted + 1] = q(w) end
  local prog = string.format([[
PATH=%s:$PATH
source %s
COMP_WORDS=(%s); COMP_CWORD=%d; COMP_LINE=%s; COMP_POINT=${#COMP_LINE}
_moonjail moonjail "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
printf '%%s\n' "${COMPREPLY[@]}" | sort
]], q(dir), q(script), table.concat(quoted, " "), #words - 1, q(line))
  local out = helpers.sh("cd " .. q(dir) .. " && bash -c " .. q(prog) .. " 2>&1")
  return helpers.lines(out)
end

local function has(list, v)
  for _, x in ipairs(list) do if x == v then return true end end
  return false
end

describe("shell completion", function()
  setup(function()
    dir = helpers.tmpdir()
    script = helpers.write_file(dir .. "/moonjail.bash", moonjail({ "completion", "bash" }))
    -- the completion asks `moonjail ps -aq` for sandbox names: a stub answers
    helpers.write_file(dir .. "/moonjail", "#!/bin/sh\n[ \"$1 $2\" = 'ps -aq' ] && printf 'box1\\nbox2\\n'\n", "0755")
  end)
  teardown(function() helpers.cleanup() end)

  it("loads in bash and registers itself", function()
    local out = helpers.sh("bash -c " .. q("source " .. q(script) .. " && complete -p moonjail") .. " 2>&1")
    assert.matches("^complete .*%-F _moonjail .*moonjail\n?$", out)
  end)

  it("completes subcommands, including the docker names moonjail has", function()
    assert.are.same({ "exec" }, complete("moonjail ex"))
    assert.are.same({ "recipe", "restart", "resume", "rm", "rmi", "run" }, complete("moonjail r"))
    assert.are.same({ "inspect" }, complete("moonjail insp"))
    assert.is_true(has(complete("moonjail "), "logs"))
    assert.is_true(has(complete("moonjail "), "completion"))
  end)

  it("completes options, policy names and other values", function()
    assert.are.same({ "--policy" }, complete("moonjail run --pol"))
    assert.are.same({ "strict" }, complete("moonjail run --policy st"))
    assert.are.same({ "build" }, complete("moonjail create x --policy bu"))
    assert.are.same({ "strict" }, complete("moonjail policy show st"))
    assert.are.same({ "show" }, complete("moonjail policy sh"))
    assert.are.same({ "host", "none" }, complete("moonjail run --network "))
    assert.are.same({ "NET_ADMIN", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_RAW" },
      complete("moonjail run --cap-add NET"))
    assert.are.same({ "--follow", "--tail" }, (function()
      local l = complete("moonjail logs --")
      local r = {}
      for _, x in ipairs(l) do if x ~= "--help" then r[#r + 1] = x end end
      return r
    end)())
    assert.are.same({ "bash" }, complete("moonjail completion ba"))
  end)

  it("completes sandbox names where a command takes one", function()
    assert.are.same({ "box1", "box2" }, complete("moonjail exec "))
    assert.are.same({ "box1", "box2" }, complete("moonjail logs -f b"))
    assert.are.same({ "box2" }, complete("moonjail rm box2"))
    assert.are.same({ "box1:", "box2:" }, complete("moonjail cp bo"))
  end)

  it("leaves the command's own arguments to the shell after run's options end", function()
    local l = complete("moonjail run -- ech")
    assert.is_true(has(l, "echo"), table.concat(l, " "))
  end)

  it("parses in zsh and fish where they are installed", function()
    for _, shell in ipairs({ "zsh", "fish" }) do
      if os.execute("command -v " .. shell .. " >/dev/null 2>&1") then
        local f = helpers.write_file(dir .. "/c." .. shell, moonjail({ "completion", shell }))
        local check = shell == "zsh" and "zsh -n " or "fish --no-execute "
        local ok = os.execute(check .. q(f))
        assert.is_true(ok == true or ok == 0, shell .. " cannot parse its completion script")
      end
    end
    local r = helpers.cli({ "completion", "tcsh" })
    assert.are.equal(125, r.status)
    assert.matches("tcsh", r.stderr, 1, true)
  end)

  it("is installed as generated: the build's scripts are the command's output", function()
    -- the build directory: ctest names it; under plain busted it is the binary's own directory
    local build = os.getenv("MOONJAIL_BUILD_DIR") or helpers.moonjail_bin():match("^(.*)/[^/]*$")
    if not build or not helpers.exists(build .. "/completion/moonjail") then
      return pending("the build's completion scripts are not there (" .. tostring(build) .. "/completion)")
    end
    assert.are.equal(moonjail({ "completion", "bash" }), helpers.read_file(build .. "/completion/moonjail"))
    assert.are.equal(moonjail({ "completion", "zsh" }), helpers.read_file(build .. "/completion/_moonjail"))
    assert.are.equal(moonjail({ "completion", "fish" }), helpers.read_file(build .. "/completion/moonjail.fish"))
  end)
end)

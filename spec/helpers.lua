-- spec/helpers.lua — shared helpers for the busted suite (unit, integration, security).
--
-- Covers: skipping a whole spec file on a host that cannot run it (exit 77 under ctest,
-- counted as skipped; a pending test under a plain busted run), finding the moonjail binary
-- that runs the specs, running the CLI as a subprocess with captured stdout/stderr/status, temp
-- dirs with cleanup, small file helpers, host facts (root? user namespaces?) and counting live
-- host processes by their command line.
--
-- Must never: touch anything outside the temp dirs it creates (cleanup only removes those), or
-- write to host files that matter.  Everything here runs on the host, never inside a sandbox.
local M = {}

-- Quotes one word for /bin/sh.
function M.shell_quote(s)
  s = tostring(s)
  if s:match("^[%w%-%./_=:,+@%%]+$") then return s end
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

-- Runs a host shell command and returns its stdout (trailing newline removed).
function M.sh(cmd)
  local p = assert(io.popen(cmd, "r"))
  local out = p:read("a")
  p:close()
  return (out:gsub("\n$", ""))
end

-- Skips the rest of a spec file on a host that cannot run it, saying why.  Only for hosts that
-- lack what the file tests (a kernel feature, a tool); never to hide a failure.  Call it as
--     if cond then return helpers.skip_file(reason) end
-- Under ctest, spec/run.lua runs one file per process: it prints "SKIP: <reason>" and exits 77,
-- which ctest counts as skipped.  Under a plain `busted` run of the whole suite it records one
-- pending test carrying the reason and returns true, so the file returns and the run goes on.
function M.skip_file(reason)
  if package.loaded["spec.single_file"] then
    io.stdout:write("SKIP: ", reason, "\n")
    io.stdout:flush()
    os.exit(77)
  end
  require("busted").pending("SKIP: " .. reason)
  return true
end

-- -------------------------------------------------------------- host facts

local cached_uid
-- The host uid of the process running the specs.
function M.uid()
  if not cached_uid then cached_uid = tonumber(M.sh("id -u")) end
  return cached_uid
end

function M.is_root()
  return M.uid() == 0
end

local cached_userns
-- Whether this user may create a user namespace here (what every sandbox needs).
function M.userns_available()
  if cached_userns == nil then
    cached_userns = os.execute("unshare -U true >/dev/null 2>&1") == true
  end
  return cached_userns
end

-- Skips the file (see skip_file) unless sandboxes can start on this host; true when skipped:
--     if helpers.skip_unless_sandboxes() then return end
function M.skip_unless_sandboxes()
  if not M.userns_available() then
    return M.skip_file("user namespaces are not available to uid " .. M.uid()
                       .. " on this host (unshare -U fails)")
  end
  return false
end

-- Wall-clock time in seconds with sub-second precision (Lua's os.time has whole seconds).
function M.now()
  return tonumber(M.sh("date +%s.%N"))
end

-- Sleeps for a fraction of a second.
function M.sleep(seconds)
  os.execute("sleep " .. string.format("%.3f", seconds))
end

-- -------------------------------------------------------------- the binary

local function exists(path)
  local f = io.open(path, "r")
  if f then f:close() return true end
  return false
end

local cached_bin
-- The moonjail binary running these specs: $MOONJAIL_BIN, else the executable of this very
-- process (specs run inside `moonjail script`, so the parent of a popen'ed shell is moonjail),
-- else what arg[] names, else ./build/moonjail (made absolute).
function M.moonjail_bin()
  if cached_bin then return cached_bin end
  local env = os.getenv("MOONJAIL_BIN")
  if env and env ~= "" then
    cached_bin = env
    return env
  end
  local exe = M.sh("readlink /proc/$PPID/exe 2>/dev/null")
  if exe:match("moonjail[^/]*$") and exists(exe) then
    cached_bin = exe
    return exe
  end
  if arg then
    for i = -1, -3, -1 do
      local a = arg[i]
      if type(a) == "string" and a:match("moonjail$") and exists(a) then
        cached_bin = a
        return a
      end
    end
  end
  -- a plain `busted` run from the source root (.busted): the build directory's binary, as an
  -- absolute path so that specs which change directory still find it
  cached_bin = exists("./build/moonjail") and M.sh("realpath ./build/moonjail") or "./build/moonjail"
  return cached_bin
end

-- -------------------------------------------------------------- files and temp dirs

function M.read_file(path)
  local f, err = io.open(path, "rb")
  if not f then return nil, err end
  local data = f:read("a")
  f:close()
  return data
end

-- Writes content to path; mode (an octal string such as "0755") is applied with chmod.
function M.write_file(path, content, mode)
  local f = assert(io.open(path, "wb"))
  assert(f:write(content))
  f:close()
  if mode then M.chmod(path, mode) end
  return path
end

function M.chmod(path, mode)
  assert(os.execute("chmod " .. mode .. " " .. M.shell_quote(path)), "chmod failed: " .. path)
end

function M.exists(path)
  return exists(path)
end

local temp_dirs = {}

local function make_tmpdir(mode)
  local dir = M.sh("mktemp -d /tmp/mjspec.XXXXXXXX")
  assert(dir:match("^/tmp/mjspec%.[%w]+$"), "mktemp failed")
  M.chmod(dir, mode)
  return dir
end

-- A new empty directory under /tmp (mode 0755 unless told, so the sandbox's mapped ids can
-- enter it when it is mounted).  Removed by cleanup().
function M.tmpdir(mode)
  local dir = make_tmpdir(mode or "0755")
  temp_dirs[#temp_dirs + 1] = dir
  return dir
end

-- Removes every directory tmpdir() made (only those).
function M.cleanup()
  for i = #temp_dirs, 1, -1 do
    local dir = temp_dirs[i]
    if dir:match("^/tmp/mjspec%.[%w]+$") then
      os.execute("rm -rf " .. M.shell_quote(dir))
    end
    temp_dirs[i] = nil
  end
end

-- -------------------------------------------------------------- the CLI as a subprocess

-- Runs `moonjail ARGS...` and returns {status=, how=, stdout=, stderr=, duration=}.
-- args: an array of words (quoted here) or a string (passed to the shell as is).
-- opts: stdin (string fed to the CLI; default /dev/null), env (table of extra environment).
-- status is the exit status, or 128+N when the CLI itself died of signal N (how = "signal").
function M.cli(args, opts)
  opts = opts or {}
  local words = { M.shell_quote(M.moonjail_bin()) }
  if type(args) == "table" then
    for _, a in ipairs(args) do words[#words + 1] = M.shell_quote(a) end
  else
    words[#words + 1] = args
  end
  local io_dir = make_tmpdir("0700") -- removed below, whatever happens to the CLI
  local out_path, err_path = io_dir .. "/stdout", io_dir .. "/stderr"
  local in_path = "/dev/null"
  if opts.stdin then
    in_path = M.write_file(io_dir .. "/stdin", opts.stdin)
  end
  local prefix = ""
  if opts.env then
    local keys = {}
    for k in pairs(opts.env) do keys[#keys + 1] = k end
    table.sort(keys)
    for _, k in ipairs(keys) do
      prefix = prefix .. k .. "=" .. M.shell_quote(opts.env[k]) .. " "
    end
  end
  local cmd = string.format("%sexec %s <%s >%s 2>%s", prefix, table.concat(words, " "),
                            M.shell_quote(in_path), M.shell_quote(out_path),
                            M.shell_quote(err_path))
  local t0 = M.now()
  local _, how, code = os.execute(cmd)
  local t1 = M.now()
  local r = {
    how = how,
    status = how == "signal" and 128 + code or code,
    stdout = M.read_file(out_path) or "",
    stderr = M.read_file(err_path) or "",
    duration = t1 - t0,
    command = cmd,
  }
  os.execute("rm -rf " .. M.shell_quote(io_dir))
  return r
end

-- Retries check() every 50 ms for up to `seconds`; returns its last value.
function M.eventually(seconds, check)
  local deadline = M.now() + seconds
  local v = check()
  while not v and M.now() < deadline do
    M.sleep(0.05)
    v = check()
  end
  return v
end

-- -------------------------------------------------------------- host processes

local function proc_state(pid)
  local stat = M.read_file("/proc/" .. pid .. "/stat")
  if not stat then return nil end
  return stat:match("%) (%a)")
end

-- Host processes whose command line (argv joined by spaces) contains pattern (plain text),
-- counting only live ones: init reaps lazily here, so zombies ("Z") and dead ("X") tasks are
-- left out.  Returns the count and the list of pids.
function M.count_processes(pattern)
  local pids = {}
  local p = assert(io.popen("ls /proc"))
  for name in p:lines() do
    if name:match("^%d+$") then
      local cmdline = M.read_file("/proc/" .. name .. "/cmdline")
      if cmdline and cmdline ~= "" then
        cmdline = cmdline:gsub("%z$", ""):gsub("%z", " ")
        if cmdline:find(pattern, 1, true) then
          local state = proc_state(name)
          if state and state ~= "Z" and state ~= "X" then pids[#pids + 1] = tonumber(name) end
        end
      end
    end
  end
  p:close()
  return #pids, pids
end

-- Whether the host process pid is alive (exists and is not a zombie).
function M.process_alive(pid)
  local state = proc_state(pid)
  return state ~= nil and state ~= "Z" and state ~= "X"
end

-- Starts `sleep SECONDS` on the host, detached from the specs' stdio; returns its pid.
function M.start_host_sleep(seconds)
  local pid = M.sh("sleep " .. math.tointeger(seconds) .. " </dev/null >/dev/null 2>&1 & echo $!")
  return assert(tonumber(pid), "could not start a host canary")
end

-- A number unlikely to collide with other runs of the suite (root and rootless run in
-- parallel), for unique command lines such as `sleep 48213`.
--
-- From the kernel's random source, not math.random: the root and rootless lanes of one spec
-- start together, and Lua seeds math.random from the time in seconds and the address of its
-- state, which an ASan build allocates at the same address in every process (no ASLR in its
-- heap) — both lanes then drew the same "unique" numbers, and each counted the other's processes
-- as its own leftovers.
function M.unique_number()
  local f = assert(io.open("/dev/urandom", "rb"))
  local bytes = f:read(4)
  f:close()
  return 20000 + string.unpack("<I4", bytes) % 70000
end

-- -------------------------------------------------------------- misc

-- Decodes JSON with lua-cjson, or dkjson when cjson is not on the path.
function M.json_decode(text)
  local ok, cjson = pcall(require, "cjson")
  if ok then return cjson.decode(text) end
  local dkjson = require "dkjson"
  local value, _, err = dkjson.decode(text)
  if err then error(err) end
  return value
end

-- Splits text into lines (without the newlines).
function M.lines(text)
  local t = {}
  for line in (text or ""):gmatch("[^\n]+") do t[#t + 1] = line end
  return t
end

-- The value of "Key:" in a /proc/<pid>/status text, trimmed.
function M.status_field(status_text, key)
  return status_text:match("\n" .. key .. ":%s*([^\n]*)") or status_text:match("^" .. key
    .. ":%s*([^\n]*)")
end

return M

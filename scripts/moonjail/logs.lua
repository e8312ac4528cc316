-- moonjail.logs — reading the output a named sandbox keeps of its detached commands (written by
-- the core's logfile.c; the format is in moonjail.h at mj_sandbox_log_dir): `<pid>.log.1` then
-- `<pid>.log`, records of a stream byte ('o', 'e'; 'r' ends a rotated file), a 4-byte
-- little-endian length and the bytes; `<pid>.exit` once the command ended; `<pid>.writer` the
-- host process writing it.
-- Returns function(core) -> M.  Never: write or remove anything, or hold more than what the log
-- keeps (twice its cap).
local SLEEP = 0.1

return function(core)
  local M = {}

  -- Parses records from text (a file's bytes from its start or a position); calls fn(stream,
  -- data) for each whole one; returns the bytes consumed and whether a rotation mark was seen.
  local function parse(text, fn)
    local pos, rotated = 1, false
    while pos + 4 <= #text do
      local stream, len = string.unpack("<c1I4", text, pos)
      if pos + 5 + len - 1 > #text then break end -- the writer is mid-record
      if stream == "r" then
        rotated = true
        pos = pos + 5
        break
      end
      fn(stream == "e" and "stderr" or "stdout", text:sub(pos + 5, pos + 4 + len))
      pos = pos + 5 + len
    end
    return pos - 1, rotated
  end

  local function read_all(path)
    local f = io.open(path, "rb")
    if not f then return nil end
    local text = f:read("a")
    f:close()
    return text
  end

  --- The end of command `pid`'s log: a table of its `.exit` (exit_code, signal, ended_by,
  --- end_time as numbers where they are; error), or nil while it runs.
  function M.ended(dir, pid)
    local text = read_all(dir .. "/" .. pid .. ".exit")
    if not text then return nil end
    local out = {}
    for k, v in text:gmatch("([%w_]+)=([^\n]*)") do out[k] = math.tointeger(tonumber(v)) or tonumber(v) or v end
    return out
  end

  --- Is the host process that writes `pid`'s log still there?
  function M.writing(dir, pid)
    local text = read_all(dir .. "/" .. pid .. ".writer") or ""
    local wpid, start = text:match("^(%d+) (%d+)")
    if not wpid then return false end
    local _, now = core.process_start(math.tointeger(tonumber(wpid)))
    return now == start
  end

  --- Does command pid have a log in dir?
  function M.exists(dir, pid)
    local f = io.open(dir .. "/" .. pid .. ".log", "rb")
    if f then f:close() end
    return f ~= nil
  end

  --- The pids with a log in dir, newest writer first.
  function M.list(dir)
    local names = core.list_dir(dir) or {}
    local pids = {}
    for _, n in ipairs(names) do
      local pid = n:match("^(%d+)%.log$")
      if pid then pids[#pids + 1] = math.tointeger(tonumber(pid)) end
    end
    table.sort(pids, function(a, b) return a > b end)
    return pids
  end

  -- The records that hold the last `tail` lines of the output (the first one cut to where that
  -- line starts); all of them when tail is nil.
  local function last_lines(records, tail)
    if not tail then return records end
    local found, skip_last = 0, true -- a final "\n" ends the last line, it starts none
    for i = #records, 1, -1 do
      local data = records[i][2]
      for j = #data, 1, -1 do
        if data:byte(j) == 10 and not skip_last then
          found = found + 1
          if found == tail then
            local out = { { records[i][1], data:sub(j + 1) } }
            for k = i + 1, #records do out[#out + 1] = records[k] end
            return out
          end
        end
        skip_last = false
      end
    end
    return tail > 0 and records or {}
  end

  --- Prints command pid's kept output: fn(stream, data) per record (the last `tail` lines when
  --- tail is a number).  With follow, waits for more until the command ended (or its writer is
  --- gone) and returns its end (M.ended), else returns M.ended now.
  function M.show(dir, pid, fn, tail, follow)
    local base = dir .. "/" .. pid
    local records = {}
    local function keep(stream, data) records[#records + 1] = { stream, data } end
    local old = read_all(base .. ".log.1")
    if old then parse(old, keep) end
    local f = io.open(base .. ".log", "rb")
    if not f then return nil, "no output is kept for " .. pid end
    local pending = ""
    local function drain(into)
      local chunk = f:read(65536)
      while chunk do
        pending = pending .. chunk
        local used, rotated = parse(pending, into)
        pending = pending:sub(used + 1)
        if rotated then
          f:close()
          f = assert(io.open(base .. ".log", "rb"))
          pending = ""
        end
        chunk = f:read(65536)
      end
    end
    drain(keep)
    for _, r in ipairs(last_lines(records, tail)) do fn(r[1], r[2]) end
    records = nil
    local done = M.ended(dir, pid)
    while follow and not done do
      core.sleep(SLEEP)
      done = M.ended(dir, pid) or (not M.writing(dir, pid) and { error = "the writer of this log is gone" })
      drain(fn) -- what came before the end, too
    end
    f:close()
    return done
  end

  return M
end

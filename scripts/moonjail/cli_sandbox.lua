-- moonjail.cli_sandbox — the CLI commands of named, persistent sandboxes: create, exec, cp, ps,
-- info, stats, top, pause, resume, stop, kill, rm, logs, start, restart, and `run --name`/`-d`
-- (a named sandbox whose command runs in it, docker's container).  Loaded by moonjail.cli only
-- when one of them runs.
--
-- Returns function(shared) -> { name = fn(argv, first) -> status }.
-- shared: moonjail (fn -> module), report_error, usage_error, oneline, options and
-- sandbox_options (moonjail.cliopts over the command's table, help and usage errors printed),
-- command_status (reports a run's or exec's result, gives the exit status), print_warnings.
-- Never: print more than the one error line per failure, or pass the caller's terminal into a
-- sandbox (exec -t runs the command on a fresh pty that the core relays).
return function(shared)
  local moonjail, report_error, usage_error = shared.moonjail, shared.report_error, shared.usage_error
  local oneline, options = shared.oneline, shared.options
  local json -- moonjail.json, on first use
  local function encode(v)
    json = json or require "moonjail.json"
    return json.encode(v)
  end
  local function array(t)
    json = json or require "moonjail.json"
    return json.array(t)
  end

  -- Opens NAME; the sandbox or nil after reporting (returns status too).
  local function open(name, json_out)
    local sb, err = moonjail().open(name)
    if not sb then return nil, report_error(err, json_out) end
    return sb
  end

  local function fail(err, json_out) return report_error(err, json_out) end

  -- The options of command `cmd` (info, top, diff: one NAME) and that sandbox, opened; or nil,
  -- exit status once the help or the error is printed.
  local function open_one(cmd, argv, first)
    local flags, pos = options(cmd, argv, first)
    if not flags then return nil, pos end
    if #pos ~= 1 then return nil, fail(usage_error(cmd .. ": expected one NAME"), flags.json) end
    local sb, status = open(pos[1], flags.json)
    if not sb then return nil, status end
    return flags, sb
  end

  local function ago(t)
    if type(t) ~= "number" or t <= 0 then return "-" end
    local d = math.floor(os.time() - t)
    if d < 1 then return "Less than a second ago" end
    if d < 60 then return string.format("%d seconds ago", d) end
    if d < 3600 then return string.format("%d minutes ago", d // 60) end
    if d < 86400 then return string.format("%d hours ago", d // 3600) end
    return string.format("%d days ago", d // 86400)
  end

  local function human(n)
    if type(n) ~= "number" then return "-" end
    local units = { "B", "KiB", "MiB", "GiB", "TiB" }
    local u = 1
    while n >= 1024 and u < #units do n = n / 1024; u = u + 1 end
    return u == 1 and string.format("%d%s", n, units[u]) or string.format("%.3g%s", n, units[u])
  end

  local function duration(s)
    if type(s) ~= "number" then return "-" end
    local m = math.floor(s / 60)
    return string.format("%d:%05.2f", m, s - m * 60)
  end

  -- How a command's end reads in a line: "exit 0", "signal 9", "timeout", …
  local function end_text(e)
    if not e then return nil end
    if e.error then return "error: " .. tostring(e.error) end
    if e.ended_by == "exit" then return "exit " .. tostring(e.exit_code) end
    if e.ended_by == "signal" then return "signal " .. tostring(e.signal) end
    return tostring(e.ended_by)
  end

  local function table_print(headers, rows)
    local widths = {}
    for i, hd in ipairs(headers) do widths[i] = #hd end
    for _, r in ipairs(rows) do
      for i, c in ipairs(r) do widths[i] = math.max(widths[i], #tostring(c)) end
    end
    local out = {}
    local function line(cells)
      local parts = {}
      for i, c in ipairs(cells) do
        parts[i] = i == #cells and tostring(c) or string.format("%-" .. widths[i] .. "s", tostring(c))
      end
      out[#out + 1] = table.concat(parts, "   ")
    end
    line(headers)
    for _, r in ipairs(rows) do line(r) end
    return table.concat(out, "\n") .. "\n"
  end


  --------------------------------------------------------------------------------------------
  -- create

  local function cmd_create(argv, first)
    local flags, pos = shared.sandbox_options("create", argv, first)
    if not flags then return pos end
    local opts = flags.opts
    if flags.name and #pos == 0 then pos[1] = flags.name end
    if #pos ~= 1 or (flags.name and flags.name ~= pos[1]) then
      return fail(usage_error("create: expected exactly one NAME (usage: moonjail create NAME [OPTIONS])"), flags.json)
    end
    opts.name = pos[1]
    if next(opts.mounts) == nil then opts.mounts = nil end
    if next(opts.env) == nil then opts.env = nil end
    if next(opts.capabilities) == nil then opts.capabilities = nil end
    moonjail()._trace("cli: options, moonjail module")
    local ok, sb, err = pcall(moonjail().sandbox, opts)
    if not ok then return fail(usage_error(oneline(sb)), flags.json) end
    if not sb then return fail(err, flags.json) end
    local info = sb:info() or { name = opts.name }
    if flags.json then
      io.stdout:write(encode(info), "\n")
    else
      io.stdout:write(info.name or opts.name, "\n")
      shared.print_warnings(info.warnings, flags.quiet)
    end
    sb:close()
    return 0
  end

  --------------------------------------------------------------------------------------------
  -- exec

  local function cmd_exec(argv, first)
    local flags, pos = shared.sandbox_options("exec", argv, first)
    if not flags then return pos end
    local opts = flags.opts
    local name = table.remove(pos, 1)
    if pos[1] == "--" then table.remove(pos, 1) end -- `exec NAME -- CMD`, as `run -- CMD`
    if name == nil or #pos == 0 then
      return fail(usage_error("exec: expected NAME and CMD (usage: moonjail exec [OPTIONS] NAME [--] CMD [ARG...])"),
        flags.json)
    end
    local why = shared.check_terminal("exec", flags)
    if why then return fail(usage_error("exec: " .. why), flags.json) end
    local eopts = { workdir = opts.workdir, user = opts.user, timeout = opts.timeout,
      output_limit = opts.output_limit }
    if next(opts.env) then eopts.env = opts.env end
    moonjail()._trace("cli: options, moonjail module")
    local sb, status = open(name, flags.json)
    if not sb then return status end
    moonjail()._trace("cli: open sandbox")

    if flags.detach then
      eopts.log = true -- 'moonjail logs NAME PID'
      local ok, pid, err = pcall(sb.spawn_detached, sb, pos, eopts)
      sb:close()
      if not ok then return fail(usage_error(oneline(pid))) end
      if not pid then return fail(err) end
      io.stdout:write(tostring(pid), "\n")
      return 0
    end

    eopts.stream = not flags.json
    eopts.capture = flags.json or false -- streamed output is not kept
    eopts.forward_signals = true
    if flags.interactive then eopts.stdin_fd = 0 end
    if flags.tty then eopts.tty = true end
    local ok, result, err = pcall(sb.exec, sb, pos, eopts)
    sb:close()
    return shared.command_status(flags, ok, result, err)
  end

  --------------------------------------------------------------------------------------------
  -- cp

  -- "NAME:PATH" -> name, path; nil for a host path (absolute, ./relative, or no colon before a '/').
  local function split_ref(s)
    if s:sub(1, 1) == "/" or s:sub(1, 1) == "." then return nil end
    local name, path = s:match("^([^/:]+):(.*)$")
    if not name then return nil end
    return name, path ~= "" and path or "."
  end

  local function cmd_cp(argv, first)
    local flags, pos = options("cp", argv, first)
    if not flags then return pos end
    if #pos ~= 2 then return fail(usage_error("cp: expected SRC and DEST (usage: moonjail cp SRC DEST)")) end
    local src, dst = pos[1], pos[2]
    if src == "-" or dst == "-" then
      return fail(moonjail().error("UNSUPPORTED", "cp: '-' (tar streams on stdin/stdout) is not supported"))
    end
    local sname, spath = split_ref(src)
    local dname, dpath = split_ref(dst)
    if (sname ~= nil) == (dname ~= nil) then
      return fail(usage_error("cp: exactly one of SRC and DEST must be NAME:PATH"))
    end
    local sb, status = open(sname or dname)
    if not sb then return status end
    local ok, err
    if sname then
      ok, err = sb:copy_out(spath, dst)
    else
      ok, err = sb:copy_files(src, dpath)
    end
    sb:close()
    if not ok then return fail(err) end
    return 0
  end

  --------------------------------------------------------------------------------------------
  -- ps, info, top

  local LIVE = { running = true, paused = true, starting = true, creating = true, stopping = true }

  -- Opens every named sandbox: array of { name, sb } (callers close them).
  local function open_all()
    local names, err = moonjail().list()
    if not names then return nil, err end
    local out = {}
    for _, name in ipairs(names) do
      local sb = moonjail().open(name) -- one removed since list() is skipped
      if sb then out[#out + 1] = { name = name, sb = sb } end
    end
    return out
  end

  local function cmd_ps(argv, first)
    local flags, pos = options("ps", argv, first)
    if not flags then return pos end
    if #pos > 0 then return fail(usage_error("ps: unexpected argument '" .. pos[1] .. "'"), flags.json) end
    if flags.quiet and flags.json then
      return fail(usage_error("ps: -q and --json cannot be combined (-q prints the names, --json everything)"), true)
    end
    local all, err = open_all()
    if not all then return fail(err, flags.json) end
    local rows, infos = {}, array()
    for _, e in ipairs(all) do
      local info = e.sb:info()
      if info and (flags.all or LIVE[info.status]) then
        -- one that does not answer in time is listed as such (status: the last one known)
        local usage = info.responding ~= false and e.sb:usage() or nil
        info.process_count = usage and usage.process_count or nil
        infos[#infos + 1] = info
        local ended = info.status == "stopped" and end_text(e.sb:command_end())
        local status = info.responding == false and "unresponsive"
          or (ended and (info.status .. " (" .. ended .. ")") or info.status)
        rows[#rows + 1] = { e.name, status, ago(info.created_at),
          usage and tostring(usage.process_count) or "-", info.policy or "-" }
      end
      e.sb:close()
    end
    if flags.json then
      io.stdout:write(encode(infos), "\n")
    elseif flags.quiet then
      for _, r in ipairs(rows) do io.stdout:write(r[1], "\n") end
    else
      io.stdout:write(table_print({ "NAME", "STATUS", "CREATED", "PROCESSES", "POLICY" }, rows))
    end
    return 0
  end

  local function flatten(prefix, v, out)
    if type(v) == "table" then
      for _, k in ipairs(require("moonjail.util").sorted_keys(v)) do
        flatten(prefix == "" and tostring(k) or (prefix .. "." .. tostring(k)), v[k], out)
      end
    else
      out[#out + 1] = { prefix, v }
    end
    return out
  end

  local TIME_FIELDS = { created_at = true, started_at = true }

  local function cmd_info(argv, first)
    local flags, sb = open_one("info", argv, first)
    if not flags then return sb end
    local info, err = sb:info()
    sb:close()
    if not info then return fail(err, flags.json) end
    if flags.json then
      io.stdout:write(encode(info), "\n")
      return 0
    end
    for _, kv in ipairs(flatten("", info, {})) do
      local k, v = kv[1], kv[2]
      if TIME_FIELDS[k] and type(v) == "number" and v > 0 then
        v = os.date("!%Y-%m-%dT%H:%M:%SZ", math.floor(v))
      end
      io.stdout:write(k, ": ", tostring(v), "\n")
    end
    return 0
  end

  -- `moonjail diff NAME [--mount DST] [--export DEST] [--json]`: the changes in the sandbox's root
  -- (its container layer) and its cow repositories, or in the one at --mount (A added, C changed,
  -- D deleted, as `docker diff`); or a cow repository's written out with --export.
  local function cmd_diff(argv, first)
    local flags, sb = open_one("diff", argv, first)
    if not flags then return sb end
    local ok, err
    if flags.export then
      local dest = flags.export
      if dest:sub(1, 1) ~= "/" then dest = (os.getenv("PWD") or ".") .. "/" .. dest end
      ok, err = sb:export_diff(dest, flags.mount)
      sb:close()
      if not ok then return fail(err, flags.json) end
      if flags.json then io.stdout:write(encode({ exported = dest }), "\n") end
      return 0
    end
    local list
    if flags.mount then
      list, err = sb:repo_diff(flags.mount)
    else
      -- the root's changes, then the cow repository's (none is fine, several need --mount)
      local root, repo
      root, err = sb:diff()
      if not root and err.code == "INVALID_STATE" then root, err = {}, nil end
      if root then
        repo, err = sb:repo_diff()
        if not repo and err.code == "INVALID_STATE" then repo, err = {}, nil end
      end
      if root and repo then
        list = root
        for _, d in ipairs(repo) do list[#list + 1] = d end
        table.sort(list, function(a, b) return a.path < b.path end)
      end
    end
    sb:close()
    if not list then return fail(err, flags.json) end
    if flags.json then
      io.stdout:write(encode(array(list)), "\n")
      return 0
    end
    local letter = { added = "A", modified = "C", deleted = "D" }
    for _, d in ipairs(list) do io.stdout:write(letter[d.kind] or "?", " ", d.path, "\n") end
    return 0
  end

  local function cmd_top(argv, first)
    local flags, sb = open_one("top", argv, first)
    if not flags then return sb end
    local procs, err = sb:processes()
    sb:close()
    if not procs then return fail(err, flags.json) end
    if flags.json then
      io.stdout:write(encode(array(procs)), "\n")
      return 0
    end
    local rows = {}
    for _, p in ipairs(procs) do
      rows[#rows + 1] = { p.pid, p.ppid, p.uid, p.state, duration(p.cpu_time), human(p.rss), p.command }
    end
    io.stdout:write(table_print({ "PID", "PPID", "UID", "STAT", "TIME", "RSS", "COMMAND" }, rows))
    return 0
  end

  --------------------------------------------------------------------------------------------
  -- stats

  local function cmd_stats(argv, first)
    local flags, pos = options("stats", argv, first)
    if not flags then return pos end
    local handles = {}
    if #pos > 0 then
      for _, name in ipairs(pos) do
        local sb, status = open(name, flags.json)
        if not sb then
          for _, e in ipairs(handles) do e.sb:close() end
          return status
        end
        handles[#handles + 1] = { name = name, sb = sb }
      end
    else
      local all, err = open_all()
      if not all then return fail(err, flags.json) end
      for _, e in ipairs(all) do
        if flags.all or LIVE[e.sb:status()] then handles[#handles + 1] = e else e.sb:close() end
      end
    end

    local once = flags.no_stream or flags.json
    local prev = {}
    local first_frame = true
    while true do
      local rows, samples = {}, array()
      for _, e in ipairs(handles) do
        local u = e.sb:usage()
        if u then
          u.name = e.name
          local cpu = u.cpu_usage
          local p = prev[e.name]
          if p and u.timestamp > p.timestamp then
            cpu = (u.cpu_time - p.cpu_time) / (u.timestamp - p.timestamp) * 100
          end
          prev[e.name] = u
          samples[#samples + 1] = u
          rows[#rows + 1] = { e.name, string.format("%.2f%%", cpu or 0), human(u.memory_usage),
            string.format("%.2f%%", u.memory_percent or 0),
            human(u.network_in) .. " / " .. human(u.network_out),
            tostring(u.disk_reads) .. " / " .. tostring(u.disk_writes), tostring(u.process_count) }
        end
      end
      if flags.json then
        io.stdout:write(encode(samples), "\n")
      else
        if not once then io.stdout:write(first_frame and "\27[2J\27[H" or "\27[H\27[J") end
        io.stdout:write(table_print({ "NAME", "CPU %", "MEM USAGE", "MEM %", "NET I/O", "READS / WRITES",
          "PIDS" }, rows))
      end
      io.stdout:flush()
      first_frame = false
      if once then break end
      moonjail().sleep(1)
    end
    for _, e in ipairs(handles) do e.sb:close() end
    return 0
  end

  --------------------------------------------------------------------------------------------
  -- pause, resume, stop, kill, rm: act on each NAME, print it on success

  -- Opens each NAME in turn, calls act(sb, name) and closes it.  act answers a number (that exit
  -- status, nothing printed), another true value (NAME is printed) or nil and an error.  Returns
  -- the status of the last failure, or 0.
  local function each_name(pos, act)
    local status = 0
    for _, name in ipairs(pos) do
      local sb, st = open(name)
      if not sb then
        status = st
      else
        local r, err = act(sb, name)
        if moonjail().type(sb) == "sandbox" then sb:close() end
        if not r then
          status = fail(err)
        elseif type(r) == "number" then
          status = r
        else
          io.stdout:write(name, "\n")
        end
      end
    end
    return status
  end

  local function each(cmd, argv, first, needs, act)
    local flags, pos = options(cmd, argv, first)
    if not flags then return pos end
    if #pos == 0 then return fail(usage_error(cmd .. ": expected at least one NAME")) end
    if needs then
      local ok, err = needs(flags)
      if not ok then return fail(err) end
    end
    return each_name(pos, function(sb, name) return act(sb, flags, name) end)
  end

  local function cmd_pause(argv, first)
    return each("pause", argv, first, nil, function(sb) return sb:pause() end)
  end

  local function cmd_resume(argv, first)
    return each("resume", argv, first, nil, function(sb) return sb:resume() end)
  end

  local function cmd_stop(argv, first)
    local grace
    return each("stop", argv, first, function(flags)
      if flags.time == nil then grace = 10; return true end
      grace = shared.values().decimal(flags.time)
      if not grace or grace < 0 then
        local why
        grace, why = moonjail().parse_duration(flags.time)
        if not grace then return nil, usage_error("stop: option '-t': " .. why) end
      end
      return true
    end, function(sb) return sb:stop(grace) end)
  end

  local function cmd_kill(argv, first)
    local sig
    return each("kill", argv, first, function(flags)
      local why
      sig, why = moonjail().signal_number(flags.signal or "KILL")
      if not sig then return nil, usage_error("kill: option '-s': " .. why) end
      return true
    end, function(sb) return sb:signal(sig) end)
  end

  local function cmd_rm(argv, first)
    return each("rm", argv, first, nil, function(sb, flags, name)
      if not flags.force then
        local status = sb:status()
        if LIVE[status] then
          return nil, moonjail().error("INVALID_STATE", "sandbox '" .. name .. "' is " .. status
            .. "; stop it first or use 'moonjail rm -f'")
        end
      end
      return sb:destroy()
    end)
  end

  --------------------------------------------------------------------------------------------
  -- run --name / -d: a named sandbox that runs its command, and stays (stopped) when it ends

  -- A name for `run -d` without --name: "mj-" and 8 hex digits.
  local function generated_name()
    local f = io.open("/dev/urandom", "rb")
    local bytes = f and f:read(4) or tostring(os.time())
    if f then f:close() end
    return "mj-" .. (bytes:gsub(".", function(c) return string.format("%02x", c:byte()) end)):sub(1, 8)
  end

  local function status_of_end(e)
    if not e or e.error then return 125 end
    return math.tointeger(e.exit_code) or 125
  end

  -- Prints a record of kept output to our stdout or stderr.
  local function print_record(stream, data)
    local out = stream == "stderr" and io.stderr or io.stdout
    out:write(data)
    out:flush()
  end

  -- Starts sb's own command in the background, output kept, its end stopping (or removing) the
  -- sandbox; records its pid.  pid or nil, err.
  local function start_command(sb, c)
    local pid, err = sb:spawn_detached(c.argv, { log = true, on_exit = c.remove and "destroy" or "stop" })
    if not pid then return nil, err end
    sb:set_command({ argv = c.argv, remove = c.remove, pid = pid })
    return pid
  end

  local function run_named(flags, argv)
    local opts = flags.opts
    local name = flags.name or generated_name()
    local sopts = {}
    for k, v in pairs(opts) do sopts[k] = v end
    sopts.name = name
    if next(sopts.mounts) == nil then sopts.mounts = nil end
    if next(sopts.env) == nil then sopts.env = nil end
    if next(sopts.capabilities) == nil then sopts.capabilities = nil end
    local ok, sb, err = pcall(moonjail().sandbox, sopts)
    if not ok then return fail(usage_error(oneline(sb)), flags.json) end
    if not sb then return fail(err, flags.json) end
    if opts.image then -- the image's Entrypoint and Cmd, as a one-shot run takes them
      argv, err = moonjail()._image_command(sb, argv, opts.entrypoint)
      if not argv then
        sb:destroy()
        return fail(err, flags.json)
      end
    end
    local c = { argv = argv, remove = flags.rm or false }
    sb:set_command(c)
    if flags.detach then
      local pid
      pid, err = start_command(sb, c)
      if not pid then
        if c.remove then sb:destroy() else sb:stop(0); sb:close() end
        return fail(err)
      end
      sb:close()
      io.stdout:write(name, "\n")
      return 0
    end
    -- in the foreground: as `run` (stdio, terminal, signals), its output kept as well
    local eopts = { log = true, stream = not flags.json, capture = flags.json or false, forward_signals = true }
    if flags.interactive then eopts.stdin_fd = 0 end
    if flags.tty then eopts.tty = true end
    local result
    ok, result, err = pcall(sb.exec, sb, argv, eopts)
    if ok and result then sb:set_command({ argv = argv, remove = c.remove, pid = result.process_id }) end
    if c.remove then sb:destroy() else sb:stop(1); sb:close() end
    return shared.command_status(flags, ok, result, err)
  end

  --------------------------------------------------------------------------------------------
  -- logs

  local LOGS_OPTIONS = {
    tail = function(res, v, name)
      if v == "all" then return end
      local n = shared.values().decimal(v, true)
      if not n or n < 0 then return "option '" .. name .. "' needs a number of lines or 'all', got '" .. v .. "'" end
      res.tail = n
    end,
  }

  -- The pid whose output `logs NAME` shows: the sandbox's own command's, else the only (or the
  -- newest) detached command's; nil, err when there is none.
  local function default_pid(sb, name)
    local c = sb:command()
    if c and c.pid then return c.pid end
    local pids = sb:logged()
    if #pids == 0 then
      return nil, moonjail().error("INVALID_CONFIG", "sandbox '" .. name .. "' keeps no output: its commands "
        .. "run with 'moonjail exec -d' or 'moonjail run --name' are kept")
    end
    return pids[1]
  end

  local function cmd_logs(argv, first)
    local flags, pos = options("logs", argv, first, LOGS_OPTIONS)
    if not flags then return pos end
    if #pos < 1 or #pos > 2 then return fail(usage_error("logs: expected NAME [PID]")) end
    local pid
    if pos[2] then
      pid = shared.values().decimal(pos[2], true)
      if not pid or pid < 1 then return fail(usage_error("logs: '" .. pos[2] .. "' is not a pid")) end
    end
    local sb, status = open(pos[1])
    if not sb then return status end
    local err
    if not pid then
      pid, err = default_pid(sb, pos[1])
      if not pid then sb:close(); return fail(err) end
    end
    local ended
    ended, err = sb:read_log(pid, print_record, { tail = flags.tail, follow = flags.follow })
    sb:close()
    if ended == nil then return fail(err) end
    return 0
  end

  --------------------------------------------------------------------------------------------
  -- start, restart

  -- Starts one stopped sandbox and its own command; with attach, follows its output to the end.
  local function start_one(sb, name, attach)
    local st = sb:status()
    if st == "stopped" then
      local ok, err = sb:start()
      if not ok then return nil, err end
    elseif st ~= "running" then
      return nil, moonjail().error("INVALID_STATE", "cannot start: sandbox '" .. name .. "' is " .. st)
    end
    local c = sb:command()
    if not c or (st == "running" and c.pid and not attach) then return true end
    local pid = c.pid
    if st == "stopped" then
      local err
      pid, err = start_command(sb, c)
      if not pid then return nil, err end
    end
    if attach then return sb:read_log(pid, print_record, { follow = true }) end
    return true
  end

  local function cmd_start(argv, first)
    local flags, pos = options("start", argv, first)
    if not flags then return pos end
    if #pos == 0 then return fail(usage_error("start: expected at least one NAME")) end
    if flags.attach and #pos > 1 then return fail(usage_error("start: -a takes one NAME")) end
    return each_name(pos, function(sb, name)
      local r, err = start_one(sb, name, flags.attach)
      if not r or not flags.attach then return r, err end
      return type(r) == "table" and status_of_end(r) or 0
    end)
  end

  local function cmd_restart(argv, first)
    local flags, pos = options("restart", argv, first)
    if not flags then return pos end
    if #pos == 0 then return fail(usage_error("restart: expected at least one NAME")) end
    local grace = 10
    if flags.time then
      grace = shared.values().decimal(flags.time) or moonjail().parse_duration(flags.time)
      if not grace or grace < 0 then
        return fail(usage_error("restart: option '-t': invalid '" .. flags.time .. "'"))
      end
    end
    return each_name(pos, function(sb, name)
      if LIVE[sb:status()] then
        local ok, err = sb:stop(grace)
        if not ok then return nil, err end
      end
      return start_one(sb, name, false)
    end)
  end

  return {
    run_named = run_named, logs = cmd_logs, start = cmd_start, restart = cmd_restart,
    create = cmd_create, exec = cmd_exec, cp = cmd_cp, ps = cmd_ps, info = cmd_info, stats = cmd_stats,
    top = cmd_top, diff = cmd_diff, pause = cmd_pause, resume = cmd_resume, stop = cmd_stop, kill = cmd_kill,
    rm = cmd_rm,
  }
end

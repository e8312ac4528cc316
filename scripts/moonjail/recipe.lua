-- moonjail.recipe — task recipes: run these steps in that sandbox, collect these artifacts, retry
-- what is retryable, and report every step.
--
-- A recipe is a Lua file that returns a table (docs/recipes.md): { name, description, policy,
-- image (and platform) | rootfs, repositories, env, workdir, output = "out", params = { key = default },
-- steps = { { name, run, env, workdir, timeout, retries, retry_on, backoff, allow_failure,
-- before = function(sb) end, after = function(sb, result) end }, … }, artifacts = { globs } }.
-- Returns function(mj, core) -> M with M.load(path_or_table, opts) and M.run(path_or_table, opts).
-- The recipe file and its hooks run in a restricted environment: safe standard libraries, the
-- recipe's `params`, and a `moonjail` table without anything that reaches the host; the sandbox
-- a hook receives can copy files out only into the recipe's output directory.  They run under a
-- budget (core.limited: memory through the allocator, a deadline and, while loading, an
-- instruction count — bounding work inside one C call such as a gsub too), and what the file
-- returns is copied raw (core.plain), so none of its metamethods runs outside that budget.
-- Never: give recipe code io, os.execute, load/require/package/debug or a __gc metamethod, read
-- a recipe's values through their metamethods, or write on the host outside `output`.
local util = require "moonjail.util"
local json = require "moonjail.json"

local RECIPE_KEYS = { name = true, description = true, policy = true, image = true, platform = true, rootfs = true,
  repositories = true, env = true, workdir = true, output = true, params = true, steps = true, artifacts = true,
  limits = true, network = true, hostname = true, labels = true, annotations = true, user = true,
  output_budget = true }
local STEP_KEYS = { name = true, run = true, env = true, workdir = true, timeout = true, retries = true,
  retry_on = true, backoff = true, allow_failure = true, before = true, after = true, user = true, stdin = true,
  output_limit = true, hook_timeout = true }
local MAX_INSTRUCTIONS = 5000000 -- loading the recipe file
local LOAD_TIMEOUT = 10           -- seconds loading a recipe file may take
local LOAD_MEMORY = 64 * 1024 * 1024  -- bytes loading a recipe file may add to the Lua heap
local HOOK_TIMEOUT = 300          -- seconds of Lua a hook may run (time in sandbox calls included)
local HOOK_MEMORY = 256 * 1024 * 1024 -- bytes a hook may add (its sandbox calls' results included)
local MAX_SOURCE_BYTES = 1024 * 1024
local EX_TEMPFAIL = 75
local MAX_BACKOFF = 30
-- What a recipe may write into its output directory (artifacts, copy_out, export_diff) when its
-- output_budget does not say: libmoonjail's budget of one copy out (MJ_COPY_OUT_*).
local OUTPUT_BUDGET = { bytes = 8 * 1024 ^ 3, entries = 200000 }

return function(mj, core)
  local M = {}

  local function err(code, msg) return core.error(code, msg) end
  local function invalid(msg) return nil, err("INVALID_CONFIG", msg) end

  ----------------------------------------------------------------------------------------------
  -- The restricted environment.

  local function copy_lib(lib, except)
    local t = {}
    for k, v in pairs(lib) do
      if not (except and except[k]) then t[k] = v end
    end
    return t
  end

  -- setmetatable for recipe code: a __gc metamethod would run whenever the collector decides,
  -- outside every budget (and with hooks off), so it is refused.
  local function safe_setmetatable(t, mt)
    if type(mt) == "table" and rawget(mt, "__gc") ~= nil then
      error("recipes cannot set a __gc metamethod", 2)
    end
    return setmetatable(t, mt)
  end

  local function sandbox_env(params, output_dir, log)
    local env = {
      assert = assert, error = error, ipairs = ipairs, next = next, pairs = pairs, pcall = pcall,
      select = select, tonumber = tonumber, tostring = tostring, type = type, xpcall = xpcall,
      rawequal = rawequal, rawlen = rawlen, rawget = rawget, rawset = rawset,
      setmetatable = safe_setmetatable,
      -- a string's metatable leads to the real string library the runner itself uses
      getmetatable = function(v)
        if type(v) == "string" then return nil end
        return getmetatable(v)
      end,
      -- find, match, gmatch and gsub that poll the budget while they backtrack
      string = copy_lib(core.string_lib(), { dump = true }), table = copy_lib(table), math = copy_lib(math),
      utf8 = copy_lib(utf8),
      coroutine = copy_lib(coroutine), -- coroutines recipe code makes inherit its budget
      os = { time = os.time, clock = os.clock, date = os.date, difftime = os.difftime },
      params = params,
      print = function(...)
        local parts = {}
        for i = 1, select("#", ...) do parts[i] = tostring((select(i, ...))) end
        log(table.concat(parts, "\t"))
      end,
    }
    env.moonjail = {
      version = mj.version, sleep = mj.sleep, now = mj.now, signal_number = mj.signal_number,
      json = { encode = json.encode, decode = json.decode, array = json.array },
      output_dir = output_dir, log = log,
    }
    env._G = env
    return env
  end

  -- Runs fn under the budget of loading a recipe file: ok, value or false, message.
  local function run_limited(fn)
    local ok, res, kind, where = core.limited(fn,
      { instructions = MAX_INSTRUCTIONS, seconds = LOAD_TIMEOUT, memory = LOAD_MEMORY })
    if ok then return true, res end
    if kind == "instructions" then
      return false, string.format("%sinstruction limit exceeded while loading the recipe (%d)", where, MAX_INSTRUCTIONS)
    elseif kind == "time" then
      return false, string.format("%sran longer than %gs (the limit on loading a recipe)", where, LOAD_TIMEOUT)
    end
    return false, res -- its own error, or "file:line: memory limit exceeded (64 MiB)"
  end

  -- Runs a hook like pcall, under its budget: `limit` seconds (hook_timeout; checked between
  -- instructions and inside pattern matching: a single long call into the sandbox, such as
  -- sb:exec, is bounded by its own timeout) and HOOK_MEMORY.  Returns true, or false and a
  -- message (an error value that is not a string is never converted through its metamethods).
  local function call_hook(limit, fn, ...)
    local ok, res, kind, where = core.limited(fn, { seconds = limit, memory = HOOK_MEMORY }, ...)
    if ok then return true end
    if kind == "yield" then return false, "hooks must not yield" end
    if kind == "time" then return false, string.format("%sran longer than %gs (hook_timeout)", where, limit) end
    return false, res
  end

  ----------------------------------------------------------------------------------------------
  -- Loading and validation.

  local dirname = util.dirname

  local function absolute(path)
    if path:sub(1, 1) == "/" then return util.clean_path(path) end
    local cwd = os.getenv("PWD") or "."
    return util.clean_path(cwd .. "/" .. path)
  end

  local function check_argv(run)
    if type(run) == "string" then return run ~= "" end
    if type(run) ~= "table" or #run == 0 then return false end
    for k, v in pairs(run) do
      if math.type(k) ~= "integer" or type(v) ~= "string" then return false end
    end
    return true
  end

  local function unknown(where, k, keys)
    local hint = util.suggest(k, keys)
    return string.format("%s: unknown key '%s'%s", where, tostring(k),
      hint and (" (did you mean '" .. hint .. "'?)") or "")
  end

  -- Validates the recipe table: a list of problems (empty when fine).
  local function validate(r, file)
    local p = {}
    local function add(fmt, ...) p[#p + 1] = file .. ": " .. string.format(fmt, ...) end
    for k in pairs(r) do
      if not RECIPE_KEYS[k] then p[#p + 1] = file .. ": " .. unknown("recipe", k, RECIPE_KEYS) end
    end
    if r.name ~= nil and type(r.name) ~= "string" then add("name: expected a string") end
    if r.output ~= nil and (type(r.output) ~= "string" or r.output == "") then
      add("output: expected a directory path")
    end
    if r.image ~= nil and (type(r.image) ~= "string" or r.image == "") then
      add("image: expected an image reference")
    end
    if r.image ~= nil and r.rootfs ~= nil then add("image and rootfs: give one of them") end
    if r.platform ~= nil and (type(r.platform) ~= "string" or r.image == nil) then
      add("platform: expected \"os/arch[/variant]\" beside an image")
    end
    if r.rootfs ~= nil and type(r.rootfs) ~= "string" then add("rootfs: expected a directory path") end
    if r.env ~= nil and type(r.env) ~= "table" then add("env: expected a table of NAME = value") end
    if r.workdir ~= nil and (type(r.workdir) ~= "string" or r.workdir:sub(1, 1) ~= "/") then
      add("workdir: expected an absolute path inside the sandbox")
    end
    if r.repositories ~= nil and type(r.repositories) ~= "table" then
      add("repositories: expected an array of rules")
    end
    if r.params ~= nil and type(r.params) ~= "table" then add("params: expected { name = default }") end
    for k in pairs(type(r.params) == "table" and r.params or {}) do
      if type(k) ~= "string" then add("params: expected { name = default } (a name is a string, not %s)", type(k)) end
    end
    if r.artifacts ~= nil then
      if type(r.artifacts) ~= "table" then add("artifacts: expected an array of absolute paths or globs") end
      for i, a in ipairs(type(r.artifacts) == "table" and r.artifacts or {}) do
        if type(a) ~= "string" or a:sub(1, 1) ~= "/" or a:find("/%.%.?/") or a:find("/%.%.?$") then
          add("artifacts[%d]: expected an absolute path or glob inside the sandbox, got %s", i, tostring(a))
        end
      end
    end
    if r.output_budget ~= nil then
      if type(r.output_budget) ~= "table" then add("output_budget: expected { bytes = size, entries = count }") end
      for k, v in pairs(type(r.output_budget) == "table" and r.output_budget or {}) do
        if k == "bytes" then
          local _, why = util.parse_size(v)
          if why then add("output_budget.bytes: %s", why) end
        elseif k == "entries" then
          if math.type(v) ~= "integer" or v < 0 then add("output_budget.entries: expected an integer >= 0") end
        else
          add("%s", unknown("output_budget", k, OUTPUT_BUDGET))
        end
      end
    end
    if type(r.steps) ~= "table" or #r.steps == 0 then
      add("steps: expected a non-empty array of steps")
      return p
    end
    for i, s in ipairs(r.steps) do
      local at = string.format("steps[%d]", i)
      if type(s) ~= "table" then
        add("%s: expected a table { name =, run = }", at)
      else
        if type(s.name) == "string" then at = at .. " (" .. s.name .. ")" end
        for k in pairs(s) do
          if not STEP_KEYS[k] then p[#p + 1] = file .. ": " .. unknown(at, k, STEP_KEYS) end
        end
        if not check_argv(s.run) then add("%s: run: expected an argv array of strings or a shell string", at) end
        if s.name ~= nil and type(s.name) ~= "string" then add("%s: name: expected a string", at) end
        if s.retries ~= nil and not (math.type(s.retries) == "integer" and s.retries >= 0 and s.retries <= 100) then
          add("%s: retries: expected a whole number from 0 to 100", at)
        end
        if s.retry_on ~= nil then
          local ok = type(s.retry_on) == "table"
          for _, c in ipairs(ok and s.retry_on or {}) do
            if not (math.type(c) == "integer" and c >= 0 and c <= 255) then ok = false end
          end
          if not ok then add("%s: retry_on: expected an array of exit codes (0-255)", at) end
        end
        for _, k in ipairs({ "timeout", "backoff", "hook_timeout" }) do
          if s[k] ~= nil then
            local d, why = util.parse_duration(s[k])
            if not d then add("%s: %s: %s", at, k, why) end
          end
        end
        if s.allow_failure ~= nil and type(s.allow_failure) ~= "boolean" then
          add("%s: allow_failure: expected a boolean", at)
        end
        for _, k in ipairs({ "before", "after" }) do
          if s[k] ~= nil and type(s[k]) ~= "function" then add("%s: %s: expected a function", at, k) end
        end
        if s.env ~= nil and type(s.env) ~= "table" then add("%s: env: expected a table", at) end
        if s.workdir ~= nil and (type(s.workdir) ~= "string" or s.workdir:sub(1, 1) ~= "/") then
          add("%s: workdir: expected an absolute path inside the sandbox", at)
        end
      end
    end
    return p
  end

  --- Loads a recipe (a path, or a table) with params (string map from --set); returns the recipe
  --- { table = …, dir = …, file = …, params = …, output = absolute dir } or nil, err.
  function M.load(ref, opts)
    opts = opts or {}
    local set = opts.set or {}
    for k, v in pairs(set) do
      if type(k) ~= "string" or not k:match("^[%a_][%w_]*$") then
        return invalid("--set: invalid name '" .. tostring(k) .. "'")
      end
      if type(v) ~= "string" then return invalid("--set " .. k .. ": value must be a string") end
    end
    local params = util.deepcopy(set)
    local logs = {}
    local function log(msg) logs[#logs + 1] = msg end
    local file, dir, r
    if type(ref) == "table" then
      file, dir, r = "<table>", absolute(os.getenv("PWD") or "."), ref
    elseif type(ref) == "string" then
      file = absolute(ref)
      dir = dirname(file)
      if core.path_kind(file) ~= "file" then return invalid("recipe '" .. ref .. "': no such file") end
      local f, why = io.open(file, "rb")
      if not f then return invalid("recipe '" .. ref .. "': " .. tostring(why)) end
      local src = f:read(MAX_SOURCE_BYTES + 1) or ""
      f:close()
      if #src > MAX_SOURCE_BYTES then return invalid(file .. ": larger than 1 MiB") end
      if src:byte(1) == 27 then return invalid(file .. ": recipes must be Lua source text, not bytecode") end
      -- Two passes: the first learns the defaults the recipe declares in `params` (unset ones
      -- read as "" meanwhile), the second runs with defaults and --set values merged.
      local function evaluate(p)
        local env = sandbox_env(p, nil, log)
        local chunk, lwhy = load(src, "@" .. file, "t", env)
        if not chunk then return invalid("syntax error in recipe " .. lwhy) end
        local ok, value = run_limited(chunk)
        if not ok then return invalid("error in recipe " .. tostring(value)) end
        if type(value) ~= "table" then
          return invalid(file .. ": a recipe must return a table (got " .. type(value) .. ")")
        end
        value = core.plain(value) -- read from here on without running any of its metamethods
        value.__env = env
        return value
      end
      -- "0" works as a string and, coerced, as a number
      local first, e1 = evaluate(setmetatable(util.deepcopy(set), { __index = function() return "0" end }))
      if not first then return nil, e1 end
      if type(first.params) == "table" then
        for k, v in pairs(first.params) do
          if params[k] == nil and (type(v) == "string" or type(v) == "number" or type(v) == "boolean") then
            params[k] = tostring(v)
          end
        end
      end
      logs = {}
      r, e1 = evaluate(params)
      if not r then return nil, e1 end
    else
      error("bad argument #1 to 'recipe' (path or table expected, got " .. type(ref) .. ")", 3)
    end
    local env = r.__env or sandbox_env(params, nil, log) -- a table recipe's hooks keep their own
    r.__env = nil
    local problems = validate(r, file)
    if r.params == nil and next(set) ~= nil then
      local k = next(set)
      problems[#problems + 1] = string.format("%s: --set %s: the recipe declares no parameters (add params = "
        .. "{ %s = default } to it)", file, k, k)
    end
    if type(r.params) == "table" then
      for k in pairs(set) do
        if r.params[k] == nil then
          local hint = util.suggest(k, r.params)
          problems[#problems + 1] = string.format("%s: --set %s: the recipe has no parameter '%s'%s", file, k, k,
            hint and (" (did you mean '" .. hint .. "'?)") or "")
        end
      end
      for k, v in pairs(r.params) do
        if params[k] == nil then params[k] = tostring(v) end
      end
    end
    if #problems > 0 then
      local more = #problems > 1 and string.format(" (and %d more)", #problems - 1) or ""
      local e = err("INVALID_CONFIG", problems[1] .. more)
      e.problems = problems
      return nil, e
    end
    local output = opts.output or r.output or "out"
    if output:sub(1, 1) ~= "/" then output = dir .. "/" .. output end
    output = util.clean_path(output)
    if output == "/" or output == dir then
      return invalid(file .. ": output must be a directory of its own, not '" .. output .. "'")
    end
    return { table = r, file = file, dir = dir, params = params, output = output, env = env, logs = logs }
  end

  ----------------------------------------------------------------------------------------------
  -- Running.

  local function mkdir_p(path)
    local cur = ""
    for comp in path:gmatch("[^/]+") do
      cur = cur .. "/" .. comp
      if core.path_kind(cur) ~= "directory" then
        local ok, why = core.mkdir_private(cur, 493)
        if not ok then return nil, why end
      end
    end
    return true
  end

  -- The output directory at the start of a run: created when missing; an earlier run's (it has
  -- a report.json) is emptied; anything else that is not empty is refused, so a recipe never
  -- mixes its files with someone else's or deletes them.
  local function prepare_output(output)
    local kind = core.lstat_type(output)
    if kind == nil then return mkdir_p(output) end
    if kind ~= "directory" then return nil, "exists and is not a directory" end
    if core.lstat_type(output .. "/report.json") == "file" then
      local ok, e = core.remove_tree(output)
      if not ok then return nil, e.message end
      return mkdir_p(output)
    end
    local entries, e = core.walk(output)
    if not entries then return nil, e.message end
    if #entries > 0 then
      return nil, "is not empty and holds no report.json of an earlier run (a recipe writes only to a fresh "
        .. "directory or its own): empty it or choose another output"
    end
    return true
  end

  local function beneath(path, root)
    return path == root or path:sub(1, #root + 1) == root .. "/"
  end

  -- The host path a hook names for writing, or nil, reason.  Relative names are beneath the
  -- output directory; the path must stay beneath it once every symlink on the way is resolved
  -- (a hook can copy a symlink out of the sandbox, and must not write through it later), must
  -- not be a symlink itself, and must not be the report.
  local function host_dest(rec, dest)
    if type(dest) ~= "string" or dest == "" then return nil, "expected a path" end
    local p = util.clean_path(dest:sub(1, 1) == "/" and dest or (rec.output .. "/" .. dest))
    if not beneath(p, rec.output) or p == rec.output then return nil, "is outside the recipe's output directory" end
    local parent = p:match("^(.*)/[^/]+$")
    local real = core.realpath(parent)
    if not real or not beneath(real, rec.output_real) then
      return nil, "is outside the recipe's output directory (or its directory does not exist)"
    end
    p = real .. "/" .. p:match("([^/]+)$")
    if core.lstat_type(p) == "symlink" then return nil, "is a symbolic link" end
    if p == rec.output_real .. "/report.json" then return nil, "is reserved for the recipe's report" end
    return p
  end

  -- The output budget: what is left of it in rec.budget, spent by every copy into the output
  -- directory; going over it is RESOURCE_LIMIT_EXCEEDED naming the budget.
  local function over_budget(rec, detail)
    return err("RESOURCE_LIMIT_EXCEEDED", string.format("the recipe's output budget (output_budget: %s, %d entries) "
      .. "is spent: %s", rec.budget_text, rec.budget_given.entries, detail))
  end

  -- sb:copy_out within what is left of the budget.
  local function copy_out(sb, rec, src, dest)
    local ok, used = sb:copy_out(src, dest, { max_bytes = rec.budget.bytes, max_entries = rec.budget.entries })
    if not ok then
      local e = used
      if e.code == "RESOURCE_LIMIT_EXCEEDED" then return nil, over_budget(rec, e.message) end
      return nil, e
    end
    rec.budget.bytes = rec.budget.bytes - used.bytes
    rec.budget.entries = rec.budget.entries - used.entries
    return ok, used
  end

  -- Charges a file written into the output directory (an exported diff) to the budget, removing
  -- it when it does not fit.
  local function spend_file(rec, path, what)
    local f = io.open(path, "rb")
    local size = f and f:seek("end") or 0
    if f then f:close() end
    if size > rec.budget.bytes or rec.budget.entries < 1 then
      os.remove(path)
      return nil, over_budget(rec, string.format("%s %s: %d bytes; removed", what, path, size))
    end
    rec.budget.bytes = rec.budget.bytes - size
    rec.budget.entries = rec.budget.entries - 1
    return true
  end

  -- The sandbox as recipe hooks see it: every method of Sandbox, except that host paths are
  -- confined — copy_out/export_diff write beneath the output directory, copy_files reads beneath
  -- the recipe's directory or the output directory.
  local HOOK_METHODS = { "exec", "spawn", "write_file", "read_file", "list_files", "stat", "mkdir", "remove",
    "workdir", "set_workdir", "env", "set_env", "usage", "info", "status", "repo_diff", "pause", "resume", "signal" }
  local function hook_view(sb, rec)
    local view = {}
    for _, m in ipairs(HOOK_METHODS) do
      view[m] = function(_, ...) return sb[m](sb, ...) end
    end
    local function confined(fname, dest)
      local p, why = host_dest(rec, dest)
      if not p then
        return nil, err("PERMISSION_DENIED", string.format("%s: '%s' %s (%s)", fname, tostring(dest), why,
          rec.output))
      end
      return p
    end
    function view.copy_out(_, src, dest)
      local p, e = confined("copy_out", dest)
      if not p then return nil, e end
      return copy_out(sb, rec, src, p)
    end
    function view.export_diff(_, dest, mount)
      local p, e = confined("export_diff", dest)
      if not p then return nil, e end
      if core.lstat_type(p) == "file" then os.remove(p) end -- a tar of an earlier call is replaced
      local ok, xerr = sb:export_diff(p, mount)
      if not ok then return nil, xerr end
      return spend_file(rec, p, "export_diff")
    end
    function view.copy_files(_, src, dest)
      local p = type(src) == "string" and util.clean_path(src:sub(1, 1) == "/" and src or (rec.dir .. "/" .. src))
      -- judged by where it really is, symlinks resolved
      local resolved = p and core.realpath(p)
      if p and not resolved then
        return nil, err("FILE_OPERATION_FAILED", "copy_files: '" .. tostring(src) .. "' does not exist")
      end
      p = resolved
      local dir_real = core.realpath(rec.dir)
      local ok = p and ((dir_real and dir_real ~= "/" and beneath(p, dir_real)) or beneath(p, rec.output_real))
      if not ok then
        return nil, err("PERMISSION_DENIED", "copy_files: '" .. tostring(src) .. "' is outside the recipe's directory")
      end
      return sb:copy_files(p, dest)
    end
    return setmetatable(view, { __name = "moonjail.RecipeSandbox", __metatable = false })
  end

  -- One line for a step header: a shell string's first line, an argv joined, at most 100 bytes.
  local function describe(run)
    local text = type(run) == "string" and run or table.concat(run, " ")
    local first = text:match("^%s*([^\n]*)")
    if first ~= text:match("^%s*(.-)%s*$") then first = first .. " …" end
    if #first > 100 then first = first:sub(1, 97) .. "..." end
    return first
  end

  local function should_retry(step, result, e)
    if e then return e.retryable == true, e.message end
    if result.ended_by == "timeout" then return true, "timed out" end
    local codes = step.retry_on or { EX_TEMPFAIL }
    for _, c in ipairs(codes) do
      if result.exit_code == c and result.ended_by == "exit" then return true, "exit code " .. c end
    end
    return false
  end

  -- A glob component as a Lua pattern: * and ? are wildcards, everything else is literal.
  local function glob_pattern(comp)
    local escaped = comp:gsub("[%^%$%(%)%%%.%[%]%+%-]", "%%%0")
    return "^" .. escaped:gsub("%*", "[^/]*"):gsub("%?", "[^/]") .. "$"
  end

  -- Expands an artifact glob inside the sandbox: array of inside paths.
  local function expand(sb, pattern)
    local paths = { "" }
    for comp in pattern:gmatch("[^/]+") do
      local next_paths = {}
      for _, base in ipairs(paths) do
        if comp:find("[%*%?]") then
          local list = sb:list_files(base == "" and "/" or base)
          for _, fi in ipairs(list or {}) do
            if fi.name:find(glob_pattern(comp)) and fi.name ~= "." and fi.name ~= ".." then
              next_paths[#next_paths + 1] = base .. "/" .. fi.name
            end
          end
        else
          next_paths[#next_paths + 1] = base .. "/" .. comp
        end
      end
      paths = next_paths
    end
    local out = {}
    for _, p in ipairs(paths) do
      if sb:stat(p) then out[#out + 1] = p end
    end
    table.sort(out)
    return out
  end

  local function usage_of(result)
    local u = result and result.resource_usage
    if not u then return nil end
    return { cpu_time = u.cpu_time, memory_peak = u.memory_peak or u.memory_bytes, pids = u.pids,
      block_read_bytes = u.block_read_bytes, block_write_bytes = u.block_write_bytes }
  end

  -- Copies every file the artifact globs match into the output directory (by name; the first
  -- of two with one name wins), notes what is missing, and the sandbox's usage.
  local function collect_artifacts(sb, r, rec, report)
    local taken = { ["report.json"] = "the recipe's report" }
    for _, pattern in ipairs(r.artifacts or {}) do
      local found = expand(sb, pattern)
      if #found == 0 then report.missing_artifacts[#report.missing_artifacts + 1] = pattern end
      for _, p in ipairs(found) do
        local base = p:match("([^/]+)$")
        if taken[base] and taken[base] ~= p then
          report.warnings[#report.warnings + 1] = "artifact " .. p .. " has the same name as " .. taken[base]
            .. "; kept the first"
        elseif not taken[base] then -- (the same file matched by two patterns is copied once)
          taken[base] = p
          local dest = rec.output_real .. "/" .. base
          local ok, e = copy_out(sb, rec, p, dest)
          if ok then
            report.artifacts[#report.artifacts + 1] = { path = p, file = dest }
          else
            report.missing_artifacts[#report.missing_artifacts + 1] = p
            report.warnings[#report.warnings + 1] = "artifact " .. p .. ": " .. e.message
          end
        end
      end
    end
    report.usage = sb:usage()
  end

  --- Runs a recipe.  opts: set = { name = "value" }, output = dir (overrides the recipe's),
  --- quiet = true (no live output), out = function(text) (where headers go; default stdout).
  --- Returns the report (status "passed" or "failed") or nil, err when the recipe could not
  --- start (invalid, or its sandbox could not be created).
  function M.run(ref, opts)
    opts = opts or {}
    local rec, e = M.load(ref, opts)
    if not rec then return nil, e end
    local r = rec.table
    local say = opts.out or function(text) io.stdout:write(text); io.stdout:flush() end
    if opts.quiet then say = function() end end
    for _, l in ipairs(rec.logs) do say(l .. "\n") end
    rec.env.moonjail.output_dir = rec.output
    rec.env.moonjail.log = function(msg) say(tostring(msg) .. "\n") end
    rec.env.print = function(...)
      local parts = {}
      for i = 1, select("#", ...) do parts[i] = tostring((select(i, ...))) end
      say(table.concat(parts, "\t") .. "\n")
    end

    local ok, why = prepare_output(rec.output)
    if not ok then return nil, err("FILE_OPERATION_FAILED", "recipe output " .. rec.output .. ": " .. tostring(why)) end
    rec.output_real = core.realpath(rec.output)
    local b = r.output_budget or {}
    rec.budget_given = { bytes = b.bytes and util.parse_size(b.bytes) or OUTPUT_BUDGET.bytes,
      entries = b.entries or OUTPUT_BUDGET.entries }
    rec.budget = { bytes = rec.budget_given.bytes, entries = rec.budget_given.entries }
    rec.budget_text = type(b.bytes) == "string" and b.bytes
      or b.bytes and (b.bytes .. " bytes") or "8G (the default)"

    local started = mj.now()
    local report = { name = r.name or rec.file:match("([^/]+)$"):gsub("%.lua$", ""), file = rec.file,
      output = rec.output, params = rec.params, steps = json.array(), artifacts = json.array(),
      missing_artifacts = json.array(), warnings = json.array(), start_time = started }

    -- the sandbox: relative paths resolve against the recipe's directory
    local sbopts = { policy = r.policy, rootfs = r.rootfs, image = r.image, platform = r.platform, env = r.env,
      workdir = r.workdir, limits = r.limits,
      network = r.network, hostname = r.hostname, labels = r.labels, annotations = r.annotations, user = r.user }
    if type(sbopts.policy) == "string" and (sbopts.policy:find("/", 1, true) or sbopts.policy:match("%.lua$"))
        and sbopts.policy:sub(1, 1) ~= "/" then
      sbopts.policy = rec.dir .. "/" .. sbopts.policy
    end
    if sbopts.rootfs and sbopts.rootfs:sub(1, 1) ~= "/" then sbopts.rootfs = rec.dir .. "/" .. sbopts.rootfs end
    if r.repositories then
      local repos, rerr = require("moonjail.repo").normalize_list(r.repositories, rec.dir)
      if not repos then return invalid(rec.file .. ": repositories " .. rerr) end
      -- already normalized: hand them over as rules the API accepts again
      sbopts.repositories = {}
      for i, x in ipairs(repos) do
        sbopts.repositories[i] = { path = x.path, url = x.url, mount = x.mount, mode = x.mode, include = x.include,
          exclude = x.exclude, ref = x.ref, strip_components = x.strip_components, max_bytes = x.max_bytes,
          sha256 = x.sha256,
          git = x.git, owner = x.owner_uid and (x.owner_uid .. ":" .. x.owner_gid) or nil }
      end
    end
    local sb
    sb, e = mj.sandbox(sbopts)
    if not sb then return nil, util.prefix_error(core, e, rec.file .. ": sandbox") end
    for _, w in ipairs(sb:info().warnings or {}) do report.warnings[#report.warnings + 1] = w end
    local view = hook_view(sb, rec)

    local failed = false
    for i, step in ipairs(r.steps) do
      local name = step.name or ("step " .. i)
      local entry = { name = name, index = i, command = describe(step.run), attempts = 0, status = "skipped" }
      report.steps[#report.steps + 1] = entry
      if failed then goto next_step end
      say(string.format("==> [%d/%d] %s: %s\n", i, #r.steps, name, entry.command))
      do
        local t0 = mj.now()
        local hook_ok, hook_err = true, nil
        local limit = step.hook_timeout and util.parse_duration(step.hook_timeout) or HOOK_TIMEOUT
        if step.before then hook_ok, hook_err = call_hook(limit, step.before, view) end
        local result, rerr
        if hook_ok then
          local retries = step.retries or 0
          local delay = math.min(step.backoff and util.parse_duration(step.backoff) or 1, MAX_BACKOFF)
          for attempt = 1, retries + 1 do
            entry.attempts = attempt
            result, rerr = sb:exec(step.run, { env = step.env, workdir = step.workdir, timeout = step.timeout,
              user = step.user, stdin = step.stdin, output_limit = step.output_limit, stream = not opts.quiet })
            local again, reason = should_retry(step, result, rerr)
            if result and result.success then break end
            if not again or attempt > retries then break end
            say(string.format("==> [%d/%d] %s: attempt %d failed (%s); retrying in %gs\n", i, #r.steps, name, attempt,
              reason, delay))
            mj.sleep(delay)
            delay = math.min(delay * 2, MAX_BACKOFF)
          end
        end
        if result then
          entry.exit_code, entry.ended_by, entry.signal = result.exit_code, result.ended_by, result.signal
          entry.usage = usage_of(result)
          entry.success = result.success
        end
        if not hook_ok then
          entry.error = "before hook: " .. tostring(hook_err)
        elseif rerr then
          entry.error = rerr.code .. ": " .. rerr.message
          entry.retryable = rerr.retryable
        end
        if hook_ok and step.after then
          local aok, aerr = call_hook(limit, step.after, view, util.deepcopy(result))
          if not aok then entry.error = "after hook: " .. tostring(aerr) end
        end
        local passed = result and result.success and not entry.error
        entry.duration = mj.now() - t0
        if passed then
          entry.status = "passed"
        elseif step.allow_failure then
          entry.status = "allowed_failure"
        else
          entry.status = "failed"
          failed = true
        end
        local how = ""
        if entry.exit_code then
          local by = entry.ended_by ~= "exit" and (", " .. tostring(entry.ended_by)) or ""
          how = " (exit " .. entry.exit_code .. by .. ")"
        end
        say(string.format("==> [%d/%d] %s: %s%s in %.2fs%s\n", i, #r.steps, name, entry.status, how,
          entry.duration, entry.error and (": " .. entry.error) or ""))
      end
      ::next_step::
    end

    -- artifacts, also after a failure (logs are most wanted then)
    local collected, cerr_all = pcall(collect_artifacts, sb, r, rec, report)
    sb:close()
    if not collected then
      report.warnings[#report.warnings + 1] = "collecting artifacts failed: " .. tostring(cerr_all)
      report.missing_artifacts[#report.missing_artifacts + 1] = "(artifact collection failed)"
    end
    for _, m in ipairs(report.missing_artifacts) do say("==> missing artifact: " .. m .. "\n") end
    for _, w in ipairs(report.warnings) do say("==> warning: " .. tostring(w):gsub("\n", " ") .. "\n") end

    report.end_time = mj.now()
    report.duration = report.end_time - started
    report.status = (failed or #report.missing_artifacts > 0) and "failed" or "passed"
    local report_path = rec.output_real .. "/report.json"
    if core.lstat_type(report_path) == "symlink" then os.remove(report_path) end -- never written through
    local f = io.open(report_path, "wb")
    if f then
      f:write(json.encode(report), "\n")
      f:close()
    else
      report.warnings[#report.warnings + 1] = "could not write " .. rec.output .. "/report.json"
    end
    say(string.format("==> %s: %s in %.2fs (%d step%s, %d artifact%s) — report: %s/report.json\n", report.name,
      report.status, report.duration, #report.steps, #report.steps == 1 and "" or "s", #report.artifacts,
      #report.artifacts == 1 and "" or "s", rec.output))
    return report
  end

  return M
end

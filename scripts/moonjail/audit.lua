-- moonjail.audit — the audit log: one JSON object per line (JSON Lines), appended to the file a
-- policy names in `audit = { log = "/path" }`.  Events: sandbox life cycle (create, close,
-- destroy), every command with its result (exit code, ended_by, duration, usage), limit hits and
-- kill reasons, and warnings about what was not enforced.  Writes go only to that one file,
-- opened in append mode per event (so concurrent writers interleave whole lines).
-- Denied system calls ("seccomp_denied": the syscall names and how many) come from seccomp user
-- notification: answered EPERM by the sandbox's supervisor, or by a one-shot run's init.
local json = require "moonjail.json"

local M = {}

local function now()
  return os.time()
end

--- Appends one event to path; never raises (an audit failure must not kill the command), but
--- returns nil, message when the log cannot be written.
function M.log(path, event, fields)
  if type(path) ~= "string" or path == "" then return true end
  local rec = { time = now(), event = event }
  for k, v in pairs(fields or {}) do rec[k] = v end
  local ok, line = pcall(json.encode, rec)
  if not ok then return nil, "audit: cannot encode event: " .. tostring(line) end
  local f, err = io.open(path, "a")
  if not f then return nil, "audit: cannot open " .. path .. ": " .. tostring(err) end
  f:write(line, "\n")
  f:close()
  return true
end

--- The fields worth keeping from a command result.
function M.result_fields(argv, result)
  local usage = result.resource_usage or {}
  return {
    command = argv, exit_code = result.exit_code, signal = result.signal, ended_by = result.ended_by,
    success = result.success, duration = result.duration, start_time = result.start_time,
    end_time = result.end_time, cpu_time = usage.cpu_time, memory_peak = usage.memory_peak,
    limit_hit = result.ended_by ~= "exit" and result.ended_by ~= "signal" and result.ended_by or nil,
    warnings = json.array(result.warnings or {}),
  }
end

return M

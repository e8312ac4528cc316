-- moonjail.seccomp_json — imports a Docker / OCI seccomp profile (JSON) as moonjail's allow-list.
--
-- moonjail only runs allow-lists: a profile whose defaultAction allows is refused.  Rules with the
-- action SCMP_ACT_ALLOW become the allowed names; SCMP_ACT_ERRNO / KILL rules become denials.
-- Conditions are honoured conservatively: an allow rule with argument filters is kept only for
-- the calls moonjail checks itself (clone, personality, ioctl); others are dropped (denied) with a
-- warning, never widened.  includes/excludes on capabilities follow the policy's capabilities;
-- arches must include this machine's.  Names this libseccomp does not know are skipped (they
-- return ENOSYS, like every syscall newer than the profile).
local json = require "moonjail.json"
local util = require "moonjail.util"

local M = {}

local OWN_CHECKS = { clone = true, personality = true, ioctl = true }
local ARCH_NAMES = { SCMP_ARCH_X86_64 = true, amd64 = true, x86_64 = true }

local function err(core, code, msg) return nil, core.error(code, msg) end

local function caps_set(caps)
  local set = {}
  for _, c in ipairs(caps or {}) do set[(c:upper():gsub("^CAP_", ""))] = true end
  return set
end

local function applies(rule, caps)
  for _, key in ipairs({ "includes", "excludes" }) do
    local cond = rule[key]
    if cond ~= nil then
      if type(cond) ~= "table" then return nil, key .. " must be an object" end
      for _, c in ipairs(cond.caps or {}) do
        local has = caps[(tostring(c):upper():gsub("^CAP_", ""))] == true
        if key == "includes" and not has then return false end
        if key == "excludes" and has then return false end
      end
      if cond.arches ~= nil then
        local any = false
        for _, a in ipairs(cond.arches) do any = any or ARCH_NAMES[a] == true end
        if key == "includes" and not any then return false end
        if key == "excludes" and any then return false end
      end
    end
  end
  return true
end

--- Loads path (relative paths against cwd) → { allow = {names}, deny = {names}, warnings = {} }.
function M.load(core, path, cwd, capabilities)
  if path:sub(1, 1) ~= "/" then path = util.clean_path((cwd or ".") .. "/" .. path) end
  local f, oerr = io.open(path, "r")
  if not f then
    return err(core, "INVALID_CONFIG", "seccomp.profile: cannot read " .. path .. ": " .. tostring(oerr))
  end
  local text = f:read(4 * 1024 * 1024)
  f:close()
  local ok, doc = pcall(json.decode, text or "")
  if not ok or type(doc) ~= "table" then
    return err(core, "INVALID_CONFIG", "seccomp.profile: " .. path .. " is not valid JSON: " .. tostring(doc))
  end
  local default = doc.defaultAction
  if type(default) ~= "string" then
    return err(core, "INVALID_CONFIG", "seccomp.profile: " .. path .. ": defaultAction is missing")
  end
  if default == "SCMP_ACT_ALLOW" or default == "SCMP_ACT_LOG" then
    return err(core, "UNSUPPORTED", "seccomp.profile: " .. path .. ": defaultAction " .. default
      .. " makes a deny-list; moonjail only runs allow-lists (default EPERM)")
  end
  local caps = caps_set(capabilities)
  local out = { allow = {}, deny = {}, warnings = {} }
  local seen, dropped, unknown = {}, {}, 0
  for i, rule in ipairs(doc.syscalls or {}) do
    if type(rule) ~= "table" then
      return err(core, "INVALID_CONFIG", "seccomp.profile: " .. path .. ": syscalls[" .. i .. "] is not an object")
    end
    local use, why = applies(rule, caps)
    if use == nil then
      return err(core, "INVALID_CONFIG", "seccomp.profile: " .. path .. ": syscalls[" .. i .. "]: " .. why)
    end
    local names = rule.names or (rule.name and { rule.name }) or {}
    local conditional = type(rule.args) == "table" and #rule.args > 0
    if use then
      for _, name in ipairs(names) do
        if type(name) ~= "string" then
          return err(core, "INVALID_CONFIG", "seccomp.profile: " .. path .. ": syscalls[" .. i .. "] has a bad name")
        end
        if not core.syscall_known(name) then
          unknown = unknown + 1
        elseif rule.action == "SCMP_ACT_ALLOW" then
          if conditional and not OWN_CHECKS[name] then
            dropped[#dropped + 1] = name
          elseif not seen[name] then
            seen[name] = true
            out.allow[#out.allow + 1] = name
          end
        elseif type(rule.action) == "string" and not conditional then
          out.deny[#out.deny + 1] = name
        end
      end
    end
  end
  if #dropped > 0 then
    out.warnings[#out.warnings + 1] = "seccomp.profile: allow rules with argument conditions are not imported, "
      .. "these stay denied: " .. table.concat(dropped, ", ")
  end
  if unknown > 0 then
    out.warnings[#out.warnings + 1] = string.format("seccomp.profile: %d names unknown to this libseccomp "
      .. "return ENOSYS", unknown)
  end
  return out
end

return M

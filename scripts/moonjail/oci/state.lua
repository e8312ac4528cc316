-- moonjail.oci.state — what the runtime keeps of a container between its commands, and its
-- runtime-spec status.
--
-- Under the runtime's --root, each container has a directory ROOT/ID (owner-only) holding
-- state.json (id, the supervisor's host pid and start time, bundle, created, annotations) and,
-- when the bundle brought one, its seccomp profile.  The container's sandbox itself lives under
-- ROOT/moonjail (moonjail's state directory for this root).  Status: the supervisor's pid gone
-- (or another process's by now) is "stopped"; else the supervisor says whether the main process
-- was handed over ("created"), let go ("running") or frozen ("paused").
-- Never: signals or changes a container (the commands do).
local json = require "moonjail.json"

local M = {}

-- runtime-spec ids are free-form; moonjail's sandbox names are [A-Za-z0-9][A-Za-z0-9_.-]{0,63},
-- which covers what podman, containerd and CRI-O use (64 hex digits, names).
function M.valid_id(id)
  return type(id) == "string" and #id <= 64 and id:match("^[%w][%w_.-]*$") ~= nil
end

function M.dir(root, id) return root .. "/" .. id end

-- RFC 3339 with nanoseconds, UTC, as runc writes `created`.
function M.timestamp(now)
  local secs = math.floor(now)
  return os.date("!%Y-%m-%dT%H:%M:%S", secs) .. string.format(".%09dZ", math.floor((now - secs) * 1e9))
end

-- Writes text to path through a temporary file renamed over it (readers never see half).
function M.write_file(path, text)
  local tmp = path .. ".tmp"
  local f, e = io.open(tmp, "w")
  if not f then return nil, e end
  f:write(text)
  f:close()
  local ok, why = os.rename(tmp, path)
  if not ok then os.remove(tmp); return nil, why end
  return true
end

function M.save(root, st)
  return M.write_file(M.dir(root, st.id) .. "/state.json", json.encode(st) .. "\n")
end

-- The saved state of id, or nil, message ("container ID does not exist").
function M.load(root, id)
  if not M.valid_id(id) then return nil, "container " .. tostring(id) .. " does not exist" end
  local f = io.open(M.dir(root, id) .. "/state.json", "r")
  if not f then return nil, "container " .. id .. " does not exist" end
  local text = f:read("a")
  f:close()
  local st = json.decode(text)
  if type(st) ~= "table" or st.id ~= id then return nil, "container " .. id .. ": state.json is damaged" end
  return st
end

-- Ids of the containers under root, sorted.
function M.ids(root, C)
  local names = C.list_dir(root) or {}
  local ids = {}
  for _, n in ipairs(names) do
    if M.valid_id(n) and C.path_kind(M.dir(root, n) .. "/state.json") == "file" then ids[#ids + 1] = n end
  end
  table.sort(ids)
  return ids
end

-- Whether the supervisor recorded in st still runs (the same process: its start time matches).
function M.alive(st, C)
  if not st.pid or st.pid <= 0 then return false end
  local pid, start = C.process_start(st.pid)
  return pid ~= nil and start == st.starttime
end

-- "creating" | "created" | "running" | "paused" | "stopped"
function M.status(st, C)
  if not M.alive(st, C) then return "stopped" end
  local s = C.main_state(st.id)
  if not s then return M.alive(st, C) and "running" or "stopped" end
  if s.paused then return "paused" end
  if s.started then return "running" end
  if s.created then return "created" end
  return "creating"
end

-- The runtime-spec state of a container (runc's extra fields rootfs, created and owner too).
function M.report(st, status)
  return {
    ociVersion = st.ociVersion, id = st.id, status = status,
    pid = status == "stopped" and 0 or st.pid,
    bundle = st.bundle, rootfs = st.rootfs, created = st.created, owner = "",
    annotations = st.annotations or {},
  }
end

-- Host pids of the container's processes: those in the supervisor's cgroup and its work
-- sibling (moonjail's <id>/sup and <id>/work), supervisor first.
function M.host_pids(st, C)
  if not M.alive(st, C) then return {} end
  local f = io.open("/proc/" .. st.pid .. "/cgroup", "r")
  if not f then return {} end
  local text = f:read("a")
  f:close()
  local files = {}
  for line in text:gmatch("[^\n]+") do
    local ctrl, path = line:match("^%d+:([^:]*):(.*)$")
    if path and path:match("/sup$") then
      local base = path:sub(1, -5)
      local mounts = ctrl == "" and { "/sys/fs/cgroup/unified", "/sys/fs/cgroup" } or {}
      for c in ctrl:gmatch("[^,]+") do
        if c:match("^name=") then c = c:sub(6) end
        mounts[#mounts + 1] = "/sys/fs/cgroup/" .. c
      end
      for _, m in ipairs(mounts) do
        files[#files + 1] = m .. base .. "/sup/cgroup.procs"
        files[#files + 1] = m .. base .. "/work/cgroup.procs"
      end
    end
  end
  local seen, pids = {}, {}
  local function add(pid)
    if not seen[pid] then seen[pid] = true; pids[#pids + 1] = pid end
  end
  add(st.pid)
  for _, path in ipairs(files) do
    local g = io.open(path, "r")
    if g then
      for p in g:lines() do
        local n = math.tointeger(tonumber(p))
        if n then add(n) end
      end
      g:close()
    end
  end
  return pids
end

return M

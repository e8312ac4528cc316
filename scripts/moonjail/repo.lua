-- moonjail.repo — repository mounting rules: which checkout goes where, read-only, read-write or
-- copy-on-write, which files are unreachable, and the git identity the sandbox sees.
--
-- A rule (docs/repositories.md): { path = "." | url = "https://…/x.tar.gz" | path = "x.tar.gz" |
-- url = "git://…/repo.git", branch = "main", mount = "/src", mode = "ro" | "rw" | "cow" (or
-- permissions = "read" | "write" | "write-through"), include = {globs}, exclude = {globs},
-- owner = "1000:1000", ref = "main", strip_components = 1, git = { user_name, user_email,
-- signing_key, config = {…} } }.
-- prepare() turns rules into plain mounts, masked paths and environment for the core; the C
-- primitives (core.walk, core.unpack, core.fetch, core.git_archive, core.overlay_diff/export)
-- move the bytes.  Never: write to a rule's host path except through a "rw" mount, follow a
-- symlink of a repository on the host, or leave a working tree behind after discard().
local util = require "moonjail.util"

local M = {}

local RULE_KEYS = { path = true, url = true, mount = true, mode = true, include = true, exclude = true,
  owner = true, ref = true, git = true, strip_components = true, max_bytes = true, sha256 = true,
  branch = true, permissions = true }
-- permissions, the reference's word for what a sandbox may do to a repository, as a mode
local PERMISSIONS = { read = "ro", write = "cow", ["write-through"] = "rw" }
local GIT_KEYS = { user_name = true, user_email = true, signing_key = true, config = true }
local MODES = { ro = true, rw = true, cow = true }
local ARCHIVE_SUFFIXES = { "%.tar$", "%.tar%.gz$", "%.tgz$", "%.tar%.xz$", "%.txz$", "%.tar%.bz2$", "%.tar%.zst$",
  "%.zip$" }
M.MAX_MASKS = 4096
M.GIT_DIR = "/run/moonjail/git"

local function is_archive_name(p)
  for _, pat in ipairs(ARCHIVE_SUFFIXES) do
    if p:find(pat) then return true end
  end
  return false
end

local function is_globs(v)
  if type(v) ~= "table" then return false end
  for k, g in pairs(v) do
    if math.type(k) ~= "integer" or type(g) ~= "string" or g == "" then return false end
  end
  return true
end

------------------------------------------------------------------------------------------------
-- Globs.  "*" and "?" stay within one path component, "[abc]" is a class, "**" matches any
-- number of components.  A glob without "/" matches the name at any depth (as in .gitignore);
-- one with "/" is anchored at the repository's top ("/" in front is allowed).  A trailing "/"
-- matches directories only.  Matching a directory covers everything beneath it.

-- A component compiled to tokens: "*", "?", a one-character Lua class "^[…]$", or a literal
-- character (a table { ch }).
local function component_tokens(c)
  local out = {}
  local i = 1
  while i <= #c do
    local ch = c:sub(i, i)
    if ch == "*" then
      if out[#out] ~= "*" then out[#out + 1] = "*" end -- "**" inside a component is "*"
    elseif ch == "?" then
      out[#out + 1] = "?"
    elseif ch == "[" then
      local close = c:find("]", i + 2, true)
      if not close then return nil, "unclosed '[' in glob" end
      local body = c:sub(i + 1, close - 1):gsub("^!", "^"):gsub("%%", "%%%%")
      out[#out + 1] = "^[" .. body .. "]$"
      i = close
    else
      out[#out + 1] = { ch }
    end
    i = i + 1
  end
  return out
end

local function one(tok, ch)
  if tok == "?" then return true end
  if type(tok) == "table" then return tok[1] == ch end
  return ch:find(tok) ~= nil
end

-- Matches a name against a component's tokens: a "*" retried only from the last one seen, so
-- the cost is name x tokens whatever the glob (no backtracking explosion on "*a*a*a*b").
local function match_component(toks, name)
  local si, ti, star, mark = 1, 1, nil, 0
  while si <= #name do
    local t = toks[ti]
    if t == "*" then
      star, mark, ti = ti, si, ti + 1
    elseif t ~= nil and one(t, name:sub(si, si)) then
      si, ti = si + 1, ti + 1
    elseif star then
      mark = mark + 1
      si, ti = mark, star + 1
    else
      return false
    end
  end
  while toks[ti] == "*" do ti = ti + 1 end
  return ti > #toks
end

--- Compiles a glob; returns a matcher function(path, is_dir) -> bool, or nil, reason.
function M.glob(g)
  if type(g) ~= "string" or g == "" then return nil, "expected a non-empty glob" end
  local dir_only = g:sub(-1) == "/"
  local body = g:gsub("/+$", "")
  local anchored = body:find("/", 1, true) ~= nil
  body = body:gsub("^/+", "")
  if body == "" then return nil, "a glob must name something below the repository's top" end
  local comps = {}
  for c in body:gmatch("[^/]+") do
    if c == "." or c == ".." then return nil, "'.' and '..' have no place in a glob" end
    if c == "**" then
      if comps[#comps] ~= "**" then comps[#comps + 1] = "**" end -- "**/**" is "**"
    else
      local toks, why = component_tokens(c)
      if not toks then return nil, why end
      comps[#comps + 1] = toks
    end
  end
  if not anchored and comps[1] ~= "**" then table.insert(comps, 1, "**") end
  -- Each (part, component) pair is decided once (failed remembers the pairs that did not
  -- match), so several "**" cost parts x components, not parts ^ stars.
  local function match(parts, pi, ci, failed)
    local key = pi * (#comps + 2) + ci
    if failed[key] then return false end
    local ok
    if ci > #comps then
      ok = pi > #parts
    elseif comps[ci] == "**" then
      ok = false
      for k = pi, #parts + 1 do
        if match(parts, k, ci + 1, failed) then ok = true; break end
      end
    else
      ok = pi <= #parts and match_component(comps[ci], parts[pi]) and match(parts, pi + 1, ci + 1, failed)
    end
    if not ok then failed[key] = true end
    return ok
  end
  return function(path, is_dir)
    if dir_only and not is_dir then return false end
    local parts = {}
    for c in path:gmatch("[^/]+") do parts[#parts + 1] = c end
    return match(parts, 1, 1, {})
  end
end

local function compile_globs(list)
  local out = {}
  for i, g in ipairs(list or {}) do
    local m, why = M.glob(g)
    if not m then return nil, string.format("entry %d ('%s'): %s", i, g, why) end
    out[#out + 1] = m
  end
  return out
end

local function any(matchers, path, is_dir)
  for _, m in ipairs(matchers) do
    if m(path, is_dir) then return true end
  end
  return false
end

------------------------------------------------------------------------------------------------
-- Validation and normalization (no host access).

local function git_config_key(k)
  return type(k) == "string"
    and (k:match("^[%a][%w-]*%.[%a][%w-]*$") or k:match("^[%a][%w-]*%.[^%c\"\\]+%.[%a][%w-]*$"))
end

local function check_value(v)
  return (type(v) == "string" or type(v) == "number" or type(v) == "boolean") and not tostring(v):find("[%c]")
end

--- Checks one rule; returns the normalized copy or nil, reason.  base_dir resolves relative paths
-- (nil: they are refused).
function M.normalize(rule, base_dir)
  if type(rule) ~= "table" then return nil, "expected a table { path = …, mount = …, mode = … }" end
  for k in pairs(rule) do
    if not RULE_KEYS[k] then
      local hint = util.suggest(k, RULE_KEYS)
      return nil, "unknown key '" .. tostring(k) .. "'" .. (hint and (" (did you mean '" .. hint .. "'?)") or "")
    end
  end
  local r = {}
  if (rule.path == nil) == (rule.url == nil) then return nil, "give exactly one of 'path' and 'url'" end
  if rule.url ~= nil then
    if type(rule.url) ~= "string" or not (rule.url:match("^https?://[^%s]+$") or rule.url:match("^git://[^%s]+$")) then
      return nil, "url: expected an http:// or https:// URL of a tar or zip archive, or a git:// or http(s) URL "
        .. "of a git repository"
    end
    r.url = rule.url
    -- a git repository: git://, a URL ending in .git, or one given a branch
    r.git_remote = (rule.url:match("^git://") or rule.url:match("%.git/?$") or rule.branch ~= nil) and true or nil
  else
    if type(rule.path) ~= "string" or rule.path == "" then return nil, "path: expected a host path" end
    local p = rule.path
    if p:sub(1, 1) ~= "/" then
      if not base_dir then return nil, "path: '" .. p .. "' is relative and there is no directory to resolve it" end
      p = base_dir .. "/" .. p
    end
    r.path = util.clean_path(p)
    if not util.is_clean_abs(r.path) then return nil, "path: '" .. rule.path .. "' is not a clean path" end
    r.archive = is_archive_name(r.path) or nil
  end
  if type(rule.mount) ~= "string" or not util.is_clean_abs(rule.mount) or rule.mount == "/" then
    return nil, "mount: expected an absolute path inside the sandbox (not '/'), got "
      .. string.format("%q", tostring(rule.mount))
  end
  r.mount = rule.mount
  if rule.permissions ~= nil then
    local m = PERMISSIONS[rule.permissions]
    if not m then
      return nil, "permissions: expected \"read\", \"write\" (changes kept in the sandbox) or \"write-through\" "
        .. "(changes reach the host directory), got '" .. tostring(rule.permissions) .. "'"
    end
    if rule.mode ~= nil and rule.mode ~= m then
      return nil, "permissions: '" .. rule.permissions .. "' is mode \"" .. m .. "\", but mode says \""
        .. tostring(rule.mode) .. "\""
    end
    r.permissions = rule.permissions
  end
  r.mode = rule.mode or (rule.permissions and PERMISSIONS[rule.permissions]) or "ro"
  if not MODES[r.mode] then
    return nil, "mode: expected \"ro\", \"rw\" or \"cow\", got '" .. tostring(rule.mode) .. "'"
  end
  if rule.ref ~= nil then
    if type(rule.ref) ~= "string" or rule.ref == "" or rule.ref:sub(1, 1) == "-" or rule.ref:find("[%s%c]") then
      return nil, "ref: expected a git ref such as \"main\" or a commit id"
    end
    if not r.path or r.archive then
      return nil, "ref: needs 'path' to be a local git repository (a remote one takes 'branch')"
    end
    r.ref = rule.ref
  end
  if rule.branch ~= nil then
    local b = rule.branch
    if type(b) ~= "string" or b == "" or b:sub(1, 1) == "-" or b:find("[%s%c]") then
      return nil, "branch: expected a branch, tag or commit of the remote repository, such as \"main\""
    end
    if not r.url then return nil, "branch: needs 'url' to be a remote git repository (a local one takes 'ref')" end
    r.branch = rule.branch
  end
  if r.git_remote and (r.sha256 or rule.sha256 ~= nil or rule.strip_components ~= nil) then
    return nil, "url: a git repository takes 'branch', not 'sha256' or 'strip_components'"
  end
  if r.mode == "rw" and (r.url or r.archive or r.ref) then
    return nil, "mode: \"rw\" writes through to a host directory; an archive, URL or git ref has none — use \"cow\""
  end
  for _, k in ipairs({ "include", "exclude" }) do
    if rule[k] ~= nil then
      if not is_globs(rule[k]) then return nil, k .. ": expected an array of globs such as \"*.key\"" end
      local ok, why = compile_globs(rule[k])
      if not ok then return nil, k .. " " .. why end
      r[k] = util.deepcopy(rule[k])
    end
  end
  if rule.owner ~= nil then
    local s = tostring(rule.owner)
    local u, g = s:match("^(%d+):(%d+)$")
    if not u then u = s:match("^(%d+)$"); g = u end
    if not u or (type(rule.owner) ~= "string" and math.type(rule.owner) ~= "integer") then
      return nil, "owner: expected numeric \"uid:gid\" (ids inside the sandbox)"
    end
    r.owner_uid, r.owner_gid = math.tointeger(tonumber(u)), math.tointeger(tonumber(g))
    if r.owner_uid > 4294967294 or r.owner_gid > 4294967294 then return nil, "owner: id out of range" end
  end
  if rule.sha256 ~= nil then
    if type(rule.sha256) ~= "string" or not rule.sha256:lower():match("^" .. ("%x"):rep(64) .. "$") then
      return nil, "sha256: expected the 64 hex digits of the archive's SHA-256"
    end
    if not (r.url or r.archive) then return nil, "sha256: only an archive or a URL has a checksum to verify" end
    r.sha256 = rule.sha256:lower()
  end
  if rule.strip_components ~= nil then
    if math.type(rule.strip_components) ~= "integer" or rule.strip_components < 0 then
      return nil, "strip_components: expected a whole number >= 0"
    end
    r.strip_components = rule.strip_components
  end
  if rule.max_bytes ~= nil then
    local n, why = util.parse_size(rule.max_bytes)
    if not n then return nil, "max_bytes: " .. why end
    r.max_bytes = n
  end
  if rule.git ~= nil then
    if type(rule.git) ~= "table" then return nil, "git: expected { user_name =, user_email =, config = {…} }" end
    for k, v in pairs(rule.git) do
      if not GIT_KEYS[k] then
        local hint = util.suggest(k, GIT_KEYS)
        return nil, "git: unknown key '" .. tostring(k) .. "'" .. (hint and (" (did you mean '" .. hint .. "'?)") or "")
      end
      if k == "config" then
        if type(v) ~= "table" then return nil, "git.config: expected { [\"section.key\"] = value }" end
        for ck, cv in pairs(v) do
          if not git_config_key(ck) then return nil, "git.config: invalid key '" .. tostring(ck) .. "'" end
          if not check_value(cv) then return nil, "git.config['" .. ck .. "']: expected a one-line value" end
        end
      elseif not check_value(v) or type(v) ~= "string" then
        return nil, "git." .. k .. ": expected a one-line string"
      end
    end
    r.git = util.deepcopy(rule.git)
  end
  return r
end

--- Normalizes a list of rules; returns the list or nil, reason (naming the entry).
function M.normalize_list(list, base_dir)
  if type(list) ~= "table" then return nil, "expected an array of repository rules" end
  local out, seen = {}, {}
  for i, rule in pairs(list) do
    if math.type(i) ~= "integer" then return nil, "expected an array of repository rules" end
    local r, why = M.normalize(rule, base_dir)
    if not r then return nil, "entry " .. i .. ": " .. why end
    if seen[r.mount] then return nil, "entry " .. i .. ": mount point '" .. r.mount .. "' is used twice" end
    seen[r.mount] = true
    out[i] = r
  end
  return out
end

--- Schema checker for policies (relative paths are checked for shape only).
function M.check_list(v)
  local ok, why = M.normalize_list(v, "/")
  if not ok then return nil, why end
  return true
end

------------------------------------------------------------------------------------------------
-- Preparing: host side, before the sandbox starts.

local function fail(core, code, msg) return nil, core.error(code, msg) end

--- Where working trees (cow layers, unpacked archives) live: $MOONJAIL_WORK_DIR, else
--- /var/tmp/moonjail as root, $TMPDIR/moonjail-UID (or /var/tmp/…) rootless.
function M.work_root(core)
  local dir = os.getenv("MOONJAIL_WORK_DIR")
  if dir == nil or dir == "" then
    local uid = core.euid()
    if uid == 0 then
      dir = "/var/tmp/moonjail"
    else
      dir = (os.getenv("TMPDIR") or "/var/tmp"):gsub("/+$", "") .. "/moonjail-" .. uid
    end
  end
  return dir
end

-- Which entries of the tree at src become unreachable inside: returns an array of relative
-- paths (topmost only) or nil, reason.
local function masks_for(core, src, rule)
  if not rule.include and not rule.exclude then return {} end
  local inc = compile_globs(rule.include or {})
  local exc = compile_globs(rule.exclude or {})
  local entries, err = core.walk(src)
  if not entries then return nil, err end
  local children = { [""] = {} }
  for _, e in ipairs(entries) do
    local parent = e.path:match("^(.*)/[^/]*$") or ""
    children[parent] = children[parent] or {}
    table.insert(children[parent], e)
    if e.type == "dir" then children[e.path] = children[e.path] or {} end
  end
  local masks = {}
  -- returns whether anything under dir stays visible; collects masks
  local function visit(dir, inside_included, out)
    local kept = false
    for _, e in ipairs(children[dir] or {}) do
      local is_dir = e.type == "dir"
      if any(exc, e.path, is_dir) then
        if e.type ~= "symlink" then out[#out + 1] = e.path end -- a symlink leads only where its target does
      elseif #inc == 0 or inside_included or any(inc, e.path, is_dir) then
        kept = true
        if is_dir then visit(e.path, true, out) end
      elseif is_dir then
        local sub = {}
        if visit(e.path, false, sub) then
          kept = true
          for _, p in ipairs(sub) do out[#out + 1] = p end
        else
          out[#out + 1] = e.path
        end
      elseif e.type ~= "symlink" then
        out[#out + 1] = e.path
      end
    end
    return kept
  end
  visit("", false, masks)
  -- Hard links: an inode that is hidden under one name is hidden under all of them.
  local hidden_inodes, hidden = {}, {}
  for _, p in ipairs(masks) do hidden[p] = true end
  local function is_hidden(path)
    while path do
      if hidden[path] then return true end
      path = path:match("^(.*)/[^/]*$")
    end
    return false
  end
  for _, e in ipairs(entries) do
    if e.type == "file" and e.nlink > 1 and is_hidden(e.path) then hidden_inodes[e.dev .. ":" .. e.ino] = true end
  end
  if next(hidden_inodes) then
    for _, e in ipairs(entries) do
      if e.type == "file" and hidden_inodes[e.dev .. ":" .. e.ino] and not is_hidden(e.path) then
        masks[#masks + 1] = e.path
      end
    end
  end
  if #masks > M.MAX_MASKS then
    return nil, string.format("%d paths would be hidden (more than %d): narrow the include/exclude globs, e.g. "
      .. "exclude a directory instead of the files in it", #masks, M.MAX_MASKS)
  end
  return masks
end

local function quote_git(v)
  return '"' .. tostring(v):gsub("\\", "\\\\"):gsub('"', '\\"') .. '"'
end

local function git_sections(git)
  local lines = {}
  if git.user_name or git.user_email or git.signing_key then
    lines[#lines + 1] = "[user]"
    if git.user_name then lines[#lines + 1] = "\tname = " .. quote_git(git.user_name) end
    if git.user_email then lines[#lines + 1] = "\temail = " .. quote_git(git.user_email) end
    if git.signing_key then lines[#lines + 1] = "\tsigningkey = " .. quote_git(git.signing_key) end
  end
  for _, k in ipairs(util.sorted_keys(git.config or {})) do
    local section, sub, key = k:match("^([%a][%w-]*)%.(.+)%.([%a][%w-]*)$")
    if not section then section, key = k:match("^([%a][%w-]*)%.([%a][%w-]*)$") end
    local v = git.config[k]
    if type(v) == "boolean" then v = v and "true" or "false" end
    lines[#lines + 1] = sub and string.format("[%s %s]", section, quote_git(sub)) or ("[" .. section .. "]")
    lines[#lines + 1] = "\t" .. key .. " = " .. quote_git(v)
  end
  return lines
end

local function write_file(path, text)
  local f, why = io.open(path, "wb")
  if not f then return nil, why end
  f:write(text)
  f:close()
  return true
end

------------------------------------------------------------------------------------------------
-- Working trees left behind.  Each one names its owner in OWNER_FILE: "process PID START" (the
-- process that prepared it, START telling it from a later one with the same pid), followed by
-- the name of the named sandbox it is for, if any; or "sandbox NAME ID" (a named sandbox, which
-- outlives that process, once it is made).  Its directory's name, repo-PID-START-XXXXXX, names
-- the preparing process too, so a tree is never without an owner, even when its preparer died
-- before writing the file.  A tree whose owner is gone — crashed, killed, or a named sandbox
-- removed — is removed by the next prepare() and by `moonjail prune`; old trees named
-- repo-XXXXXX without an owner file are left alone.

local OWNER_FILE = "owner"

function M.set_owner(base, text)
  local f = io.open(base .. "/" .. OWNER_FILE, "wb")
  if not f then return false end
  f:write(text, "\n")
  f:close()
  return true
end

--- Removes the working trees under root whose owner is gone.  sandbox_alive(name, id) says
--- whether a named sandbox still exists (nil: named ones are kept).  Returns how many went.
function M.collect_garbage(core, root, sandbox_alive)
  local names = core.list_dir(root)
  local removed = 0
  for _, name in ipairs(names or {}) do
    if name:match("^repo%-[%w%-]+$") then
      local dir = root .. "/" .. name
      local f = core.lstat_type(dir .. "/" .. OWNER_FILE) == "file" and io.open(dir .. "/" .. OWNER_FILE, "rb")
      local text = f and f:read(256) or ""
      if f then f:close() end
      local gone = false
      local pid, start, for_name = text:match("^process (%d+) (%d+) ?(%S*)")
      if not pid and text == "" then pid, start = name:match("^repo%-(%d+)%-(%d+)%-") end
      local sname, sid = text:match("^sandbox (%S+) (%x+)")
      if pid then
        local _, now = core.process_start(math.tointeger(tonumber(pid)))
        -- its preparer is gone; a named sandbox it was for may hold it still (made, not yet told)
        gone = now ~= start and not (for_name and for_name ~= "" and sandbox_alive and sandbox_alive(for_name))
      elseif sname and sandbox_alive then
        gone = not sandbox_alive(sname, sid)
      end
      if gone and core.remove_tree(dir) then removed = removed + 1 end
    end
  end
  return removed
end

--- Prepares rules (normalized) for a sandbox whose user is uid:gid.  Returns
--- { mounts = {core mount specs}, masked = {inside paths}, readonly = {inside paths}, env = {…},
--- cow = {…}, dirs = {…} }
--- or nil, err; on failure everything made so far is removed.  sandbox_name: the named sandbox
--- they are for (its trees survive their preparer once it exists).  progress (optional) is told
--- how downloads go: { event = "download", url, done, total } (moonjail.progress).
function M.prepare(core, rules, uid, gid, sandbox_alive, sandbox_name, progress)
  local prep = { mounts = {}, masked = {}, readonly = {}, env = {}, cow = {}, dirs = {} }
  if not rules or #rules == 0 then return prep end
  local ok, perr = pcall(function()
    local root = M.work_root(core)
    local made, why = core.mkdir_private(root, 457) -- 0711
    if not made then error(core.error("SANDBOX_INIT_FAILED", "repositories: " .. why), 0) end
    M.collect_garbage(core, root, sandbox_alive)
    local base
    local pid, start = core.process_start()
    base, why = core.mkdtemp(root .. "/repo-" .. pid .. "-" .. start .. "-")
    if not base then error(core.error("SANDBOX_INIT_FAILED", "repositories: " .. tostring(why)), 0) end
    prep.dirs[#prep.dirs + 1] = base
    M.set_owner(base, "process " .. pid .. " " .. start .. (sandbox_name and (" " .. sandbox_name) or ""))
    assert(core.chmod(base, 493)) -- 0755: the sandbox's mapped ids traverse it to reach unpacked trees
    made, why = core.mkdir_private(base .. "/git", 493)
    if not made then error(core.error("SANDBOX_INIT_FAILED", "repositories: " .. why), 0) end
    local gitconf = { "# written by moonjail for this sandbox" }
    for i, r in ipairs(rules) do
      local what = string.format("repositories[%d] (%s)", i, r.mount)
      local src, owned = r.path, false
      local function check(res, e)
        if not res then
          if type(e) == "table" then error(util.prefix_error(core, e, what), 0) end
          error(core.error("INVALID_CONFIG", what .. ": " .. tostring(e)), 0)
        end
        return res
      end
      if r.url or r.archive or r.ref then
        local tree = base .. "/src" .. i
        check(core.mkdir_private(tree, 493))
        if r.ref then
          if core.path_kind(r.path) ~= "directory" then
            error(core.error("INVALID_CONFIG", what .. ": path '" .. r.path .. "' is not a directory"), 0)
          end
          check(core.git_archive(r.path, r.ref, tree))
        elseif r.git_remote then
          -- a bare mirror in moonjail's cache, fetched again; nothing the remote supplies runs
          check(core.git_clone(r.url, r.branch or "HEAD", root .. "/git-cache", tree))
        else
          local archive = r.path
          if r.url then
            archive = base .. "/download" .. i
            local told -- download events for moonjail.progress, the URL without user:password@
            if progress then
              local shown = r.url:gsub("^(https?://)[^/@]*@", "%1")
              told = function(done, total) progress({ event = "download", url = shown, done = done, total = total }) end
            end
            check(core.fetch(r.url, archive, r.max_bytes, told))
          elseif core.path_kind(archive) ~= "file" then
            error(core.error("INVALID_CONFIG", what .. ": archive '" .. archive .. "' does not exist"), 0)
          end
          if r.sha256 then
            local sum = check(core.sha256_file(archive))
            if sum ~= r.sha256 then
              error(core.error("INVALID_CONFIG", string.format("%s: sha256 of %s is %s, the rule expects %s", what,
                r.url or archive, sum, r.sha256)), 0)
            end
          end
          check(core.unpack(archive, tree, { strip_components = r.strip_components, max_bytes = r.max_bytes }))
          if r.url then os.remove(archive) end -- unpacked: the download has done its work
        end
        src, owned = tree, true
      elseif core.path_kind(src) ~= "directory" then
        error(core.error("INVALID_CONFIG", what .. ": path '" .. src .. "' is not an existing directory"), 0)
      end
      local m = { kind = r.mode, src = src, dst = r.mount }
      if r.owner_uid then
        m.owner_uid, m.owner_gid = r.owner_uid, r.owner_gid
      elseif owned then
        m.owner_uid, m.owner_gid = uid, gid -- a tree moonjail unpacked belongs to the sandbox's user
      end
      if r.mode == "cow" then
        local layer = base .. "/cow" .. i
        check(core.mkdir_private(layer, 457)) -- 0711: a sandbox that mounts its own overlay reaches upper and work
        check(core.mkdir_private(layer .. "/upper", 493))
        check(core.mkdir_private(layer .. "/work", 448))
        m.upper, m.work = layer .. "/upper", layer .. "/work"
        prep.cow[#prep.cow + 1] = { mount = r.mount, upper = m.upper, lower = src }
      end
      prep.mounts[#prep.mounts + 1] = m
      -- A read-write checkout must not become a way to run code on the host: git runs hooks
      -- and config-named programs (core.fsmonitor, filters) for whoever uses the repository
      -- next, so its config, hooks, info and submodule dirs (modules) stay read-only inside.
      if r.mode == "rw" and core.path_kind(src .. "/.git") == "directory" then
        for _, p in ipairs({ "config", "hooks", "info", "modules" }) do
          if core.path_kind(src .. "/.git/" .. p) then prep.readonly[#prep.readonly + 1] = r.mount .. "/.git/" .. p end
        end
      end
      local masks, merr = masks_for(core, src, r)
      if not masks then check(nil, merr) end
      for _, p in ipairs(masks) do prep.masked[#prep.masked + 1] = r.mount .. "/" .. p end
      gitconf[#gitconf + 1] = "[safe]"
      gitconf[#gitconf + 1] = "\tdirectory = " .. quote_git(r.mount)
      if r.git then
        local name = "repo" .. i .. ".gitconfig"
        check(write_file(base .. "/git/" .. name, table.concat(git_sections(r.git), "\n") .. "\n"))
        gitconf[#gitconf + 1] = string.format("[includeIf %s]", quote_git("gitdir:" .. r.mount .. "/"))
        gitconf[#gitconf + 1] = "\tpath = " .. quote_git(M.GIT_DIR .. "/" .. name)
      end
    end
    assert(write_file(base .. "/git/config", table.concat(gitconf, "\n") .. "\n"))
    prep.mounts[#prep.mounts + 1] = { kind = "ro", src = base .. "/git", dst = M.GIT_DIR }
    prep.env.GIT_CONFIG_GLOBAL = M.GIT_DIR .. "/config"
  end)
  if not ok then
    M.discard(core, prep)
    if type(perr) == "table" then return nil, perr end
    return fail(core, "SANDBOX_INIT_FAILED", "repositories: " .. tostring(perr))
  end
  return prep
end

local function find_cow(core, prep, mount)
  local cows = prep and prep.cow or {}
  if mount == nil then
    if #cows == 1 then return cows[1] end
    if #cows == 0 then return fail(core, "INVALID_STATE", "this sandbox has no copy-on-write repository") end
    return fail(core, "INVALID_CONFIG", "this sandbox has several copy-on-write repositories: name the mount point")
  end
  for _, c in ipairs(cows) do
    if c.mount == mount then return c end
  end
  return fail(core, "INVALID_CONFIG", "no copy-on-write repository is mounted at '" .. tostring(mount) .. "'")
end

--- The changes made in a cow repository: array of { path = "/src/…", kind = "added" | "modified" |
--- "deleted", type = … }, or nil, err.
function M.diff(core, prep, mount)
  local c, err = find_cow(core, prep, mount)
  if not c then return nil, err end
  local list
  list, err = core.overlay_diff(c.upper, c.lower)
  if not list then return nil, err end
  for _, e in ipairs(list) do e.path = c.mount .. "/" .. e.path end
  return list
end

--- Writes the changes out: dest ending in .tar/.tar.gz/.tgz is a tar, else a new directory;
--- deletions as OCI whiteouts (".wh.NAME").  true or nil, err.
function M.export(core, prep, dest, mount)
  if type(dest) ~= "string" or dest == "" then
    return fail(core, "INVALID_CONFIG", "export_diff: expected a host path")
  end
  local c, err = find_cow(core, prep, mount)
  if not c then return nil, err end
  return core.overlay_export(c.upper, c.lower, dest)
end

--- Removes every working tree of prep (idempotent).
function M.discard(core, prep)
  if not prep then return true end
  local first_err
  for i = #prep.dirs, 1, -1 do
    local ok, err = core.remove_tree(prep.dirs[i])
    if not ok and not first_err then first_err = err end
  end
  prep.dirs, prep.cow = {}, {}
  if first_err then return nil, first_err end
  return true
end

return M

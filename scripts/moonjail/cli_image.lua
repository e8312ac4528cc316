-- moonjail.cli_image — `moonjail pull`, `images`, `rmi` and `load`.  Loaded by moonjail.cli only
-- when one of them runs.
--
-- Returns function(shared) -> { pull, images, rmi, load } (each run(argv, first) -> status).
-- shared: moonjail (fn -> module), report_error, usage_error, oneline, options (moonjail.cliopts
-- over the command's table, help and usage errors printed), print_warnings.
-- Progress: one line per manifest, blob and unpacked layer on stderr, from the events of
-- moonjail.image (the progress display of the CLI takes the same events); none with -q or --json.
-- Never: decide anything about images (moonjail.image does), or print more than one error line
-- on stderr per command.
return function(shared)
  local moonjail, report_error, usage_error = shared.moonjail, shared.report_error, shared.usage_error
  local options, print_warnings = shared.options, shared.print_warnings
  local json -- moonjail.json, on first use
  local function json_module() json = json or require "moonjail.json"; return json end
  local function image() moonjail(); return require "moonjail.image" end

  local function size_text(n)
    for _, u in ipairs({ { "GB", 1e9 }, { "MB", 1e6 }, { "kB", 1e3 } }) do
      if n >= u[2] then return string.format("%.1f %s", n / u[2], u[1]) end
    end
    return string.format("%d B", n)
  end

  local function short(digest) return digest and digest:match("^sha%d+:(" .. string.rep("%x", 12) .. ")") or "" end

  local function ago(t)
    local d = math.max(0, moonjail().now() - t)
    for _, u in ipairs({ { "days", 86400 }, { "hours", 3600 }, { "minutes", 60 } }) do
      if d >= 2 * u[2] then return string.format("%d %s ago", d // u[2], u[1]) end
    end
    return "just now"
  end

  -- The line-per-event progress of a pull or a load, on stderr.
  local function progress_lines(what)
    local kinds = {}
    return function(e)
      if e.event == "manifest" then
        io.stderr:write(what, ": manifest ", short(e.digest), " (", e.media_type, ")\n")
      elseif e.event == "blob" and e.total and e.done == e.total and not kinds[e.digest] then
        kinds[e.digest] = true
        io.stderr:write(what, ": ", e.kind == "config" and "config" or "layer", " ", short(e.digest), " ",
          size_text(e.total), "\n")
      elseif e.event == "unpack" then
        io.stderr:write(what, ": layer ", short(e.diff_id), e.present and " already unpacked\n"
          or string.format(" unpacked (%d/%d, %d entries)\n", e.index, e.total, e.entries or 0))
      end
      return true
    end
  end

  -- The JSON form of a record (its config as decoded).
  local function record_json(r)
    local J = json_module()
    return { name = r.name, platform = r.platform_string or r.platform, digest = r.digest, index = r.index,
      config = r.config, layers = r.layers and J.array(r.layers) or nil,
      diff_ids = r.diff_ids and J.array(r.diff_ids) or nil, pulled = r.pulled, size = r.size,
      downloaded = r.downloaded, warnings = J.array(r.warnings or {}), source = r.source }
  end

  local function one_ref(name, o, pos, usage)
    if #pos ~= 1 then return nil, report_error(usage_error(name .. ": " .. usage), o.json) end
    return pos[1]
  end

  ----------------------------------------------------------------------------------------------

  local function cmd_pull(argv, first)
    local o, pos = options("pull", argv, first)
    if not o then return pos end
    local ref, status = one_ref("pull", o, pos, "one image reference (usage: moonjail pull [OPTIONS] REF)")
    if not ref then return status end
    local quiet = o.quiet or o.json
    local ok, rec, err = pcall(image().pull, ref, { platform = o.platform, insecure = o.insecure_registry,
      progress = not quiet and progress_lines(ref) or nil })
    if not ok then return report_error(usage_error(shared.oneline(rec)), o.json) end
    if not rec then return report_error(err, o.json) end
    if o.json then
      io.stdout:write(json_module().encode(record_json(rec)), "\n")
    else
      print_warnings(rec.warnings, o.quiet)
      io.stdout:write(rec.name, "@", rec.digest, " ", rec.platform_string, "\n")
    end
    return 0
  end

  local function cmd_images(argv, first)
    local o, pos = options("images", argv, first)
    if not o then return pos end
    if #pos > 0 then return report_error(usage_error("images: takes no argument"), o.json) end
    local recs, damaged = image().list()
    if not recs then return report_error(damaged, o.json) end
    if o.json then
      local out = {}
      for i, r in ipairs(recs) do
        out[i] = { name = r.name, platform = r.platform, digest = r.digest, index = r.index, pulled = r.pulled,
          size = r.size, in_use = r.in_use, layers = json_module().array(r.layers),
          blobs = json_module().array(r.blobs) }
      end
      io.stdout:write(json_module().encode(json_module().array(out)), "\n")
      return 0
    end
    if o.quiet then
      for _, r in ipairs(recs) do io.stdout:write(r.name, "\n") end
      return 0
    end
    local rows = { { "REPOSITORY", "TAG", "PLATFORM", "DIGEST", "PULLED", "SIZE", "IN USE" } }
    for _, r in ipairs(recs) do
      local ref = image().reference.parse(r.name)
      local repo = ref and ((ref.registry == "docker.io" and ref.repository:gsub("^library/", "") or
        (ref.registry .. "/" .. ref.repository))) or r.name
      rows[#rows + 1] = { repo, ref and (ref.tag or (ref.digest and "<digest>")) or "", r.platform, short(r.digest),
        ago(r.pulled), size_text(r.size or 0), tostring(r.in_use or 0) }
    end
    local widths = {}
    for _, row in ipairs(rows) do
      for i, c in ipairs(row) do widths[i] = math.max(widths[i] or 0, #c) end
    end
    for _, row in ipairs(rows) do
      local cells = {}
      for i, c in ipairs(row) do cells[i] = i < #row and (c .. string.rep(" ", widths[i] - #c)) or c end
      io.stdout:write(table.concat(cells, "   "), "\n")
    end
    if (damaged or 0) > 0 then
      print_warnings({ damaged .. " damaged image record(s) in the store were skipped" }, o.quiet)
    end
    return 0
  end

  local function cmd_rmi(argv, first)
    local o, pos = options("rmi", argv, first)
    if not o then return pos end
    if #pos == 0 then
      return report_error(usage_error("rmi: missing REF (usage: moonjail rmi [OPTIONS] REF...)"), o.json)
    end
    if o.platform and o.all_platforms then
      return report_error(usage_error("rmi: give --platform or --all-platforms, not both"), o.json)
    end
    local removed, status = {}, 0
    for _, ref in ipairs(pos) do
      local ok, done, recs = pcall(image().remove, ref, { platform = o.platform, all_platforms = o.platform == nil })
      if not ok then return report_error(usage_error(shared.oneline(done)), o.json) end
      if not done then
        status = report_error(recs, o.json)
      else
        for _, r in ipairs(recs) do
          removed[#removed + 1] = r
          if not o.json then io.stdout:write("Removed: ", r.name, " (", r.platform, ") ", r.digest, "\n") end
        end
      end
    end
    if o.json and status == 0 then
      local out = {}
      for i, r in ipairs(removed) do out[i] = { name = r.name, platform = r.platform, digest = r.digest } end
      io.stdout:write(json_module().encode(json_module().array(out)), "\n")
    end
    return status
  end

  local function cmd_load(argv, first)
    local o, pos = options("load", argv, first)
    if not o then return pos end
    local path, status = one_ref("load", o, pos, "one FILE or DIR (usage: moonjail load [OPTIONS] FILE|DIR)")
    if not path then return status end
    local quiet = o.quiet or o.json
    local ok, recs, err = pcall(image().load, path, { platform = o.platform, name = o.name,
      progress = not quiet and progress_lines("load") or nil })
    if not ok then return report_error(usage_error(shared.oneline(recs)), o.json) end
    if not recs then return report_error(err, o.json) end
    if o.json then
      local out = {}
      for i, r in ipairs(recs) do out[i] = record_json(r) end
      io.stdout:write(json_module().encode(json_module().array(out)), "\n")
    else
      for _, r in ipairs(recs) do
        io.stdout:write("Loaded image: ", r.name, "@", r.digest, " ", r.platform_string, "\n")
      end
    end
    return 0
  end

  return { pull = cmd_pull, images = cmd_images, rmi = cmd_rmi, load = cmd_load }
end

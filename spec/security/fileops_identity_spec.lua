-- spec/security/fileops_identity_spec.lua — the host's operations on a sandbox's files see exactly
-- what its commands see (SECURITY.md "Confused deputy on the host side"; issue 18 item 1).
--
-- read_file, list_files, stat, copy_out (and so `moonjail cp NAME:PATH` and recipe artifacts),
-- write_file, mkdir, remove and copy_files run as the sandbox's user: its ids, none of the host
-- caller's supplementary groups, no capability its commands lack, and its Landlock rules.
-- Covers, root and rootless:
--  - for every file of a host directory mounted read-only (root lane: a 0600 root-only file, a
--    file readable only by group root, one readable only by a supplementary group, a 0700 root
--    directory and a file in it; rootless: a 0000 file and directory of the caller's own), a
--    command's `cat`/`ls`/`stat` and the host's read_file/list_files/stat/copy_out agree, and what
--    a command cannot read is PERMISSION_DENIED with nothing written on the host;
--  - `moonjail create b --ro DIR:/data -u 1000` + `moonjail cp b:/data/secret .` is refused as
--    `exec b cat /data/secret` is (also when the CLI runs with a supplementary group owning a
--    file), and a file of the sandbox's root inside that user 1000 cannot read stays unread,
--    while user 1000's own file copies out;
--  - a recipe hook's `sb:read_file` of a root-only file mounted by its policy fails, the next
--    step prints nothing of it, and the file as an artifact is missing;
--  - with `landlock = true, filesystem.writable = { "/tmp" }`, write_file, mkdir, copy_files and
--    remove beneath a read-write mount that is not writable for commands fail with
--    PERMISSION_DENIED and leave the host directory alone, while /tmp works.
-- The host files written are in this spec's own temp dirs.
local mj = require "moonjail"
local helpers = require "spec.helpers"

if helpers.skip_unless_sandboxes() then return end

local ROOT = helpers.is_root()
local SECRET = "root-only secret " .. helpers.unique_number() .. "\n"
local SUPP_GID = 4242 -- a group the host caller joins for one CLI call (root lane)

local function q(s) return helpers.shell_quote(s) end

local function assert_error(err, code)
  assert.is_true(mj.is_error(err), "not a moonjail error: " .. tostring(err))
  assert.are.equal(code, err.code, tostring(err))
end

-- A host directory to mount read-only at /data: name -> { kind, readable by the sandbox's user? }.
local fixtures = {} -- this file's fixture dirs: only these get their permissions back for cleanup
local function fixture_dir()
  local dir = helpers.tmpdir("0755")
  fixtures[#fixtures + 1] = dir
  helpers.write_file(dir .. "/open", "open to all\n", "0644")
  local files = { open = { kind = "file", readable = true } }
  if ROOT then
    helpers.write_file(dir .. "/secret", SECRET, "0600")         -- root:root
    helpers.write_file(dir .. "/grp", SECRET, "0040")            -- nobody:root, group root only
    helpers.write_file(dir .. "/sgrp", SECRET, "0040")           -- nobody:4242
    assert(os.execute("chown 65534:0 " .. q(dir .. "/grp") .. " && chown 65534:" .. SUPP_GID .. " "
      .. q(dir .. "/sgrp")))
    assert(os.execute("mkdir -m 0700 " .. q(dir .. "/privdir")))
    helpers.write_file(dir .. "/privdir/inner", SECRET, "0644")
    files.secret = { kind = "file", readable = false }
    files.grp = { kind = "file", readable = false }
    files.sgrp = { kind = "file", readable = false }
    files.privdir = { kind = "dir", readable = false }
    files["privdir/inner"] = { kind = "file", readable = false }
  else
    -- the caller's own, but without permission bits: a command without capabilities cannot
    helpers.write_file(dir .. "/secret", SECRET, "0000")
    assert(os.execute("mkdir -m 0000 " .. q(dir .. "/privdir")))
    files.secret = { kind = "file", readable = false }
    files.privdir = { kind = "dir", readable = false }
  end
  return dir, files
end

describe("host-side file operations act as the sandbox's user", function()
  teardown(function()
    -- Its own dirs only: a glob over /tmp/mjspec.* changed the modes of the files of specs that
    -- run beside this one (fileops_spec saw its host canaries turn 0766).
    for _, dir in ipairs(fixtures) do os.execute("chmod -R u+rwx " .. q(dir) .. " 2>/dev/null") end
    helpers.cleanup()
  end)

  it("read_file, list_files, stat and copy_out agree with a command on every file", function()
    local dir, files = fixture_dir()
    local out = helpers.tmpdir("0777")
    local sb <close> = assert(mj.sandbox({ mounts = { { src = dir, dst = "/data", mode = "ro" } } }))
    for name, f in pairs(files) do
      local path = "/data/" .. name
      local cmd = f.kind == "dir" and { "ls", path } or { "cat", path }
      local res = assert(sb:exec(cmd))
      assert.are.equal(f.readable, res.exit_code == 0, path .. ": the fixture is not what this spec means: "
        .. res.stderr)
      if f.kind == "file" then
        local data, err = sb:read_file(path)
        if f.readable then
          assert.is_truthy(data, path .. ": " .. tostring(err))
        else
          assert.is_nil(data, "read_file read " .. path .. ", which a command of the sandbox cannot")
          assert_error(err, "PERMISSION_DENIED")
        end
      else
        local list, err = sb:list_files(path)
        assert.are.equal(f.readable, list ~= nil, "list_files " .. path .. ": " .. tostring(err))
        if not f.readable then assert_error(err, "PERMISSION_DENIED") end
      end
      local copied, err = sb:copy_out(path, out .. "/" .. name:gsub("/", "_"))
      assert.are.equal(f.readable, copied ~= nil, "copy_out " .. path .. ": " .. tostring(err))
      if not f.readable then
        assert_error(err, "PERMISSION_DENIED")
        assert.is_false(helpers.exists(out .. "/" .. name:gsub("/", "_")), "copy_out of " .. path .. " left a file")
      end
    end
    if ROOT then
      -- stat needs search permission on the directory, as `stat` inside does
      assert.are_not.equal(0, assert(sb:exec({ "stat", "/data/privdir/inner" })).exit_code)
      local fi, err = sb:stat("/data/privdir/inner")
      assert.is_nil(fi, "stat went through a directory the sandbox's user cannot search")
      assert_error(err, "PERMISSION_DENIED")
    end
    assert.is_nil(helpers.sh("cat " .. q(out) .. "/* 2>/dev/null"):find(SECRET, 1, true), "a secret reached the host")
  end)

  it("refuses `moonjail cp NAME:PATH` of what `exec NAME cat PATH` cannot read (-u 1000)", function()
    if not ROOT then
      pending("root lane: a rootless caller cannot read another user's files to begin with")
      return
    end
    local dir = fixture_dir()
    local state = helpers.tmpdir("0700")
    local env = { MOONJAIL_STATE_DIR = state }
    local name = string.format("mjspec-ident-%d", helpers.unique_number())
    local function cli(args) return helpers.cli(args, { env = env }) end
    local r = cli({ "create", name, "--ro", dir .. ":/data", "-u", "1000" })
    assert.are.equal(0, r.status, r.stderr)
    local ok, fail = pcall(function()
      local out = helpers.tmpdir("0777")
      r = cli({ "exec", name, "cat", "/data/secret" })
      assert.are_not.equal(0, r.status, "the fixture is readable inside")
      r = cli({ "cp", name .. ":/data/secret", out .. "/secret" })
      assert.are.equal(125, r.status, "cp copied a file its sandbox cannot read: " .. r.stdout .. r.stderr)
      assert.matches("^moonjail: PERMISSION_DENIED: [^\n]*/data/secret", r.stderr)
      assert.is_false(helpers.exists(out .. "/secret"))
      -- a supplementary group of the caller is not the sandbox's
      local cmd = string.format("MOONJAIL_STATE_DIR=%s setpriv --groups %d %s cp %s %s >/dev/null 2>&1", q(state),
        SUPP_GID, q(helpers.moonjail_bin()), q(name .. ":/data/sgrp"), q(out .. "/sgrp"))
      assert.is_falsy(os.execute(cmd), "cp read a file through the caller's supplementary group")
      assert.is_false(helpers.exists(out .. "/sgrp"))
      -- the sandbox's user (1000), not its root inside
      r = cli({ "exec", "-u", "0", name, "sh", "-c", "echo r >/tmp/rootonly && chmod 600 /tmp/rootonly" })
      assert.are.equal(0, r.status, r.stderr)
      r = cli({ "exec", name, "sh", "-c", "echo mine >/tmp/mine && chmod 600 /tmp/mine" })
      assert.are.equal(0, r.status, r.stderr)
      r = cli({ "cp", name .. ":/tmp/rootonly", out .. "/rootonly" })
      assert.are.equal(125, r.status, "cp read a 0600 file of root inside as user 1000")
      assert.is_false(helpers.exists(out .. "/rootonly"))
      r = cli({ "cp", name .. ":/tmp/mine", out .. "/mine" })
      assert.are.equal(0, r.status, r.stderr)
      assert.are.equal("mine\n", helpers.read_file(out .. "/mine"))
      r = cli({ "cp", name .. ":/data/open", out .. "/open" })
      assert.are.equal(0, r.status, r.stderr)
    end)
    cli({ "rm", "-f", name })
    assert(ok, fail)
  end)

  it("keeps a root-only file mounted by a recipe's policy from its hooks and its artifacts", function()
    local dir = fixture_dir()
    local rdir = helpers.tmpdir()
    local file = rdir .. "/loot.lua"
    helpers.write_file(file, string.format([[
return {
  name = "loot",
  policy = { extends = "default", filesystem = { mounts = { { %q, "/hostrt", mode = "ro" } } } },
  steps = {
    { name = "grab", run = "true", before = function(sb)
        local s = sb:read_file("/hostrt/secret")
        if s then sb:write_file("/tmp/loot", s) end
      end },
    { name = "show", run = "test ! -e /tmp/loot" }, -- passes only when nothing was taken
    { name = "copy", run = "true", after = function(sb) sb:copy_out("/hostrt/secret", "copied") end },
  },
  artifacts = { "/hostrt/secret" },
}
]], dir))
    local out = rdir .. "/out"
    local report = assert(mj.recipe(file, { output = out, quiet = true }))
    assert.are.equal("show", report.steps[2].name)
    assert.are.equal(0, report.steps[2].exit_code, "a hook's read_file handed the host's secret to the next step")
    assert.is_nil((helpers.read_file(out .. "/report.json") or ""):find(SECRET, 1, true))
    assert.is_false(helpers.exists(out .. "/copied"), "a hook's copy_out copied the secret out")
    assert.is_false(helpers.exists(out .. "/secret"), "the secret was collected as an artifact")
    assert.are.equal("failed", report.status)
    assert.are.same({ "/hostrt/secret" }, report.missing_artifacts)
  end)

  it("applies the sandbox's Landlock rules to writes from the host", function()
    local dir = helpers.tmpdir("0777")
    helpers.write_file(dir .. "/existing", "hello\n", "0666")
    local host = helpers.tmpdir()
    helpers.write_file(host .. "/f", "from the host\n", "0644")
    local policy = { extends = "default", landlock = true, filesystem = { writable = { "/tmp" } } }
    local sb, err = mj.sandbox({ policy = policy,
      mounts = { { src = dir, dst = "/data", mode = "rw" } } })
    if not sb and err.code == "UNSUPPORTED" then
      pending("no Landlock on this kernel: " .. tostring(err))
      return
    end
    assert(sb, tostring(err))
    local res = assert(sb:exec("echo x >/data/new"))
    assert.are_not.equal(0, res.exit_code, "the fixture is writable for commands")
    local function denied(what, v, e)
      assert.is_nil(v, what .. " went through where a command's write is refused")
      assert_error(e, "PERMISSION_DENIED")
    end
    denied("write_file", sb:write_file("/data/new", "x"))
    denied("write_file over an existing file", sb:write_file("/data/existing", "x"))
    denied("mkdir", sb:mkdir("/data/sub"))
    denied("copy_files", sb:copy_files(host .. "/f", "/data/copied"))
    denied("remove", sb:remove("/data/existing"))
    assert.are.equal("existing", helpers.sh("ls -A " .. q(dir)))
    assert.are.equal("hello\n", helpers.read_file(dir .. "/existing"))
    -- reading there and writing beneath /tmp still work
    assert.are.equal("hello\n", assert(sb:read_file("/data/existing")))
    assert(sb:write_file("/tmp/ok", "ok"))
    assert(sb:copy_files(host .. "/f", "/tmp/f"))
    assert.are.equal("ok", assert(sb:exec("cat /tmp/ok")).stdout)
    sb:close()
  end)
end)

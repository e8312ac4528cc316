-- spec/security/fileops_spec.lua — host safety of a sandbox's file operations against hostile input.
--
-- The host side of read_file, write_file, list_files, copy_out and copy_files works on paths the
-- sandbox controls (CVE-2018-15664 docker cp symlink race, CVE-2021-30465 and CVE-2024-45310
-- runc symlink escapes, the planted-FIFO host hang).  Covers: a missing file
-- (FILE_OPERATION_FAILED, errno ENOENT); writes into a read-only mount fail without touching the
-- host file; paths with `..` climbing above the root (`../../etc/passwd`, `/../../etc/shadow`)
-- resolve inside the sandbox; symlinks planted inside (absolute, relative with many `..`, to a
-- directory, dangling) used by read_file/write_file/copy_out/list_files/copy_files never reveal
-- or change a host canary (content and mtime compared before and after) nor /etc/shadow; a FIFO
-- planted where the host reads or writes answers an error promptly (< 2 s) instead of hanging;
-- a 0-length write and a 20 MiB round trip; exec of a missing binary (COMMAND_EXECUTION_FAILED,
-- errno ENOENT).  Writes only ever target canaries in this spec's own temp dirs, never /etc;
-- a delayed reader and writer inside unblock a host that would hang on a FIFO.
local mj = require "moonjail"
local helpers = require "spec.helpers"

if helpers.skip_unless_sandboxes() then return end

local ENOENT = 2
local N = helpers.unique_number()

local function ok(v, err)
  if v == nil or v == false then error("operation failed: " .. tostring(err), 2) end
  return v
end

local function sh_ok(sb, cmd)
  local res, err = sb:exec(cmd)
  assert(res, "exec failed: " .. tostring(err))
  assert(res.exit_code == 0, string.format("%q exited %d: %s", cmd, res.exit_code, res.stderr))
  return res.stdout
end

local function assert_error(err, code)
  assert.is_true(mj.is_error(err), "not a moonjail error: " .. tostring(err))
  assert.are.equal(code, err.code, tostring(err))
  local base = tostring(mj.error(code))
  assert.are.equal(base .. ": ", tostring(err):sub(1, #base + 2), tostring(err))
end

-- Everything about the files under dirs: path, type, size, mode, mtime, and a checksum.
local function host_snapshot(dirs)
  local quoted = {}
  for i, d in ipairs(dirs) do quoted[i] = helpers.shell_quote(d) end
  local list = helpers.sh("find " .. table.concat(quoted, " ") .. " -printf '%p %y %s %m %T@ %l\\n' | sort")
  local sums = helpers.sh("find " .. table.concat(quoted, " ") .. " -type f -exec md5sum {} + | sort")
  return list .. "\n" .. sums
end

local function file_mtime(path)
  return helpers.sh("stat -c %Y.%y " .. helpers.shell_quote(path) .. " 2>/dev/null")
end

-- The host's /etc/shadow, when this user can read it (root); nil otherwise.
local function host_shadow()
  return helpers.read_file("/etc/shadow")
end

-- Runs fn, returns its results and the seconds it took.
local function timed(fn)
  local t0 = helpers.now()
  local a, b = fn()
  return a, b, helpers.now() - t0
end

describe("sandbox file operations", function()
  local sb, canary_dir, ro_dir, dot_dir, out_dir, snapshot, shadow_mtime

  setup(function()
    canary_dir = helpers.tmpdir()
    helpers.write_file(canary_dir .. "/canary", "host canary\n", "0666")
    helpers.write_file(canary_dir .. "/target", "host target\n", "0666")
    helpers.chmod(canary_dir, "0777") -- a broken sandbox could write here: that is what we detect
    ro_dir = helpers.tmpdir()
    helpers.write_file(ro_dir .. "/data", "read-only data\n", "0666")
    helpers.chmod(ro_dir, "0777")
    dot_dir = helpers.tmpdir()
    helpers.write_file(dot_dir .. "/secret", "host secret\n", "0644")
    out_dir = helpers.tmpdir("0777")
    snapshot = host_snapshot({ canary_dir, ro_dir, dot_dir })
    shadow_mtime = file_mtime("/etc/shadow")
    local err
    sb, err = mj.sandbox({ mounts = {
      { src = ro_dir, dst = "/mnt/ro", mode = "ro" },
      { type = "tmpfs", dst = "/work" },
    } })
    assert(sb, "mj.sandbox failed: " .. tostring(err))
  end)

  teardown(function()
    if sb and mj.type(sb) == "sandbox" then sb:close() end
    helpers.cleanup()
  end)

  it("reports a missing file as FILE_OPERATION_FAILED with errno ENOENT", function()
    local v, err = sb:read_file("/work/mjspec-missing")
    assert.is_nil(v)
    assert_error(err, "FILE_OPERATION_FAILED")
    assert.are.equal(ENOENT, err.errno)
    assert.is_false(err.retryable)
  end)

  it("refuses to write into a read-only mount, leaving the host file alone", function()
    local v, err = sb:write_file("/mnt/ro/data", "pwned")
    assert.is_nil(v, "write_file into a read-only mount succeeded")
    assert_error(err, "FILE_OPERATION_FAILED")
    v, err = sb:write_file("/mnt/ro/new", "pwned")
    assert.is_nil(v, "write_file created a file in a read-only mount")
    assert_error(err, "FILE_OPERATION_FAILED")
    v = sb:copy_files(canary_dir .. "/target", "/mnt/ro/copied")
    assert.is_nil(v, "copy_files wrote into a read-only mount")
    assert.are.equal("read-only data\n", helpers.read_file(ro_dir .. "/data"))
    assert.is_false(helpers.exists(ro_dir .. "/new"))
    assert.is_false(helpers.exists(ro_dir .. "/copied"))
  end)

  it("resolves paths climbing above the root with .. inside the sandbox", function()
    -- dot_dir exists on the host, not inside (/tmp is the sandbox's own tmpfs)
    for _, path in ipairs({ dot_dir .. "/secret", "/../../.." .. dot_dir .. "/secret",
                            "../../../../../.." .. dot_dir .. "/secret" }) do
      local v = sb:read_file(path)
      assert.are_not.equal("host secret\n", v, path .. " read the host's file")
      assert.is_nil(v, path .. " read something")
    end
    -- the same path made inside is what they reach
    sh_ok(sb, "mkdir -p " .. dot_dir .. " && echo inside >" .. dot_dir .. "/secret")
    assert.are.equal("inside\n", ok(sb:read_file("/../../.." .. dot_dir .. "/secret")))
    assert.are.equal("inside\n", ok(sb:read_file("../../../../../.." .. dot_dir .. "/secret")))
    ok(sb:write_file("/../../.." .. dot_dir .. "/written", "inside only"))
    assert.is_false(helpers.exists(dot_dir .. "/written"), "a .. path wrote on the host")
    assert.are.equal("inside only", sh_ok(sb, "cat " .. dot_dir .. "/written"))
    -- ../../etc/passwd is the sandbox's /etc/passwd
    assert.are.equal(sh_ok(sb, "cat /etc/passwd"), ok(sb:read_file("../../etc/passwd")))
    -- /../../etc/shadow: unreadable inside, so unreadable here, whatever the host process may read
    local shadow = host_shadow()
    local v = sb:read_file("/../../etc/shadow")
    if shadow then assert.are_not.equal(shadow, v, "read_file revealed the host's /etc/shadow") end
    assert.is_nil(v, "read_file read /etc/shadow, which the sandbox cannot read")
    local list = sb:list_files("/../../..")
    assert.is_truthy(list)
    local names = {}
    for _, fi in ipairs(list) do names[fi.name] = true end
    assert.is_true(names.work and names.mnt, "/../../.. is not the sandbox's root")
    assert.is_nil(names.root, "/../../.. lists the host's root")
  end)

  describe("through symlinks planted inside", function()
    local c = canary_dir -- set in setup below, these are the names inside
    setup(function()
      c = canary_dir
      sh_ok(sb, table.concat({
        "ln -s /etc/shadow /tmp/mjx" .. N,
        "ln -s ../../../../etc /tmp/mje" .. N,
        "ln -s " .. c .. "/canary /work/abs",
        "ln -s ../../../../../../../.." .. c .. "/canary /work/rel",
        "ln -s " .. c .. " /work/dirlink",
        "ln -s " .. c .. "/mjspec-new /work/dangling",
        "ln -s /proc/1/root" .. c .. "/canary /work/magic",
      }, " && "))
    end)

    it("read_file never reveals the host file", function()
      for _, path in ipairs({ "/work/abs", "/work/rel", "/work/dirlink/canary", "/work/magic" }) do
        local v, err = sb:read_file(path)
        assert.are_not.equal("host canary\n", v, path .. " revealed the host canary")
        assert.is_nil(v, path .. " read something")
        assert_error(err, "FILE_OPERATION_FAILED")
      end
      local shadow = host_shadow()
      for _, path in ipairs({ "/tmp/mjx" .. N, "/tmp/mje" .. N .. "/shadow" }) do
        local v = sb:read_file(path)
        if shadow then assert.are_not.equal(shadow, v, path .. " revealed the host's /etc/shadow") end
        assert.is_nil(v, path .. " read /etc/shadow, which the sandbox cannot read")
      end
    end)

    it("write_file never changes or creates a host file", function()
      for _, path in ipairs({ "/work/abs", "/work/rel", "/work/dirlink/canary", "/work/dirlink/mjspec-new",
                              "/work/dangling", "/work/magic" }) do
        sb:write_file(path, "pwned through " .. path)
      end
      assert.are.equal("host canary\n", helpers.read_file(c .. "/canary"))
      assert.is_false(helpers.exists(c .. "/mjspec-new"), "a write through a symlink created a host file")
      assert.are.equal(snapshot, host_snapshot({ canary_dir, ro_dir, dot_dir }))
    end)

    it("copy_files into a symlinked path never writes on the host", function()
      local src = helpers.tmpdir()
      helpers.write_file(src .. "/payload", "payload\n", "0644")
      sb:copy_files(src .. "/payload", "/work/dirlink/")
      sb:copy_files(src .. "/payload", "/work/dirlink/payload")
      sb:copy_files(src .. "/payload", "/work/abs")
      sb:copy_files(src .. "/payload", "/work/dangling")
      assert.is_false(helpers.exists(c .. "/payload"), "copy_files wrote through a symlink onto the host")
      assert.is_false(helpers.exists(c .. "/mjspec-new"))
      assert.are.equal(snapshot, host_snapshot({ canary_dir, ro_dir, dot_dir }))
    end)

    it("copy_out never copies the host file's content", function()
      for i, path in ipairs({ "/work/abs", "/work/rel", "/work/dirlink/canary", "/work/magic", "/tmp/mjx" .. N }) do
        local dest = out_dir .. "/single" .. i
        sb:copy_out(path, dest)
        -- a symlink copied as a symlink is fine; a regular file must not hold the host's data
        if helpers.sh("test -L " .. dest .. " && echo link") ~= "link" and helpers.exists(dest) then
          local data = helpers.read_file(dest)
          assert.are_not.equal("host canary\n", data, "copy_out of " .. path .. " copied the host canary")
          local shadow = host_shadow()
          if shadow then assert.are_not.equal(shadow, data, "copy_out of " .. path .. " copied /etc/shadow") end
        end
      end
      sb:copy_out("/work", out_dir .. "/tree")
      local leaked = helpers.sh("grep -rl 'host canary' " .. out_dir .. " 2>/dev/null")
      assert.are.equal("", leaked, "copy_out wrote the host canary into: " .. leaked)
    end)

    it("list_files never lists the host directory", function()
      local list = sb:list_files("/work/dirlink")
      for _, fi in ipairs(list or {}) do
        assert.is_false(fi.name == "canary" or fi.name == "target", "list_files listed the host directory")
      end
      local etc = ok(sb:list_files("/tmp/mje" .. N))
      local names = {}
      for _, fi in ipairs(etc) do names[#names + 1] = fi.name end
      table.sort(names)
      local inside = helpers.lines(sh_ok(sb, "ls -A /etc | LC_ALL=C sort"))
      table.sort(inside)
      assert.are.same(inside, names)
    end)
  end)

  it("answers promptly, with an error, where a FIFO is planted", function()
    -- each FIFO gets a delayed reader and writer inside, so a host that blocks on it wakes up
    -- after 4 s instead of hanging the suite
    sh_ok(sb, "mkfifo /work/f1 /work/f2 /work/f3 /work/f4")
    for k = 1, 4 do
      sh_ok(sb, string.format("(sleep 4; cat /work/f%d >/dev/null) >/dev/null 2>&1 & "
                              .. "(sleep 4; echo late >/work/f%d) >/dev/null 2>&1 &", k, k))
    end
    local v, err, t = timed(function() return sb:read_file("/work/f1") end)
    assert.is_true(t < 2, string.format("read_file on a FIFO took %.2f s", t))
    assert.is_nil(v)
    assert_error(err, "FILE_OPERATION_FAILED")
    v, err, t = timed(function() return sb:write_file("/work/f2", "x") end)
    assert.is_true(t < 2, string.format("write_file on a FIFO took %.2f s", t))
    assert.is_nil(v, "write_file wrote into a FIFO")
    assert_error(err, "FILE_OPERATION_FAILED")
    local dest = out_dir .. "/fifo-out"
    v, err, t = timed(function() return sb:copy_out("/work/f3", dest) end)
    assert.is_true(t < 2, string.format("copy_out of a FIFO took %.2f s", t))
    assert.are_not.equal("late\n", helpers.read_file(dest))
    if v == nil then assert_error(err, "FILE_OPERATION_FAILED") end
    local list
    list, err, t = timed(function() return sb:list_files("/work/f4") end)
    assert.is_true(t < 2, string.format("list_files of a FIFO took %.2f s", t))
    assert.are.equal("p", ok(list, err)[1].permissions:sub(1, 1))
  end)

  it("writes and reads back an empty file", function()
    ok(sb:write_file("/work/empty", ""))
    assert.are.equal("", ok(sb:read_file("/work/empty")))
    assert.are.equal(0, ok(sb:list_files("/work/empty"))[1].size)
    assert.are.equal("0\n", sh_ok(sb, "stat -c %s /work/empty"))
  end)

  it("writes and reads back 20 MiB exactly", function()
    local parts = {}
    for i = 1, 5120 do parts[i] = string.format("%08d", i) .. string.rep(string.char(i % 256), 4088) end
    local data = table.concat(parts)
    assert.are.equal(20 * 1024 * 1024, #data)
    ok(sb:write_file("/work/big", data))
    local back = ok(sb:read_file("/work/big"))
    assert.are.equal(#data, #back)
    assert.is_true(back == data, "the 20 MiB read back differ from what was written")
    local host_copy = helpers.write_file(out_dir .. "/big", data)
    local want = helpers.sh("md5sum <" .. host_copy):match("^%x+")
    assert.are.equal(want .. "\n", sh_ok(sb, "md5sum </work/big | cut -d' ' -f1"))
    os.remove(host_copy)
  end)

  it("reports exec of a missing binary as COMMAND_EXECUTION_FAILED with errno ENOENT", function()
    local res, err = sb:exec({ "/nonexistent/mjspec" })
    assert.is_nil(res)
    assert_error(err, "COMMAND_EXECUTION_FAILED")
    assert.are.equal(ENOENT, err.errno)
  end)

  it("changed nothing on the host", function()
    assert.are.equal(snapshot, host_snapshot({ canary_dir, ro_dir, dot_dir }))
    assert.are.equal(shadow_mtime, file_mtime("/etc/shadow"))
    for _, name in ipairs({ "/tmp/mjx" .. N, "/tmp/mje" .. N, "/mnt/ro/data", "/work/abs", "/work/dirlink" }) do
      assert.is_false(helpers.exists(name), name .. " appeared on the host")
    end
  end)
end)

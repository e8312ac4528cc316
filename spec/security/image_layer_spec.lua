-- spec/security/image_layer_spec.lua — hostile image layers against the unpacker
-- (core/src/image/layer.c through store:unpack_layers), SECURITY.md's "Images and repositories".
--
-- The corpus is made here, entry by entry, with tests/registry/make-layer: '../' names, absolute
-- names, a symlink then a write through it, an entry named '.' that is a symlink, a symlinked
-- parent that a later layer would write through, a hard link to /etc/shadow and to a host canary
-- (absolute, '../', and not in the layer), a whiteout of '../../x', a 1 GB zero bomb, a million
-- entries, a path deeper than the depth budget, a character device 0/0, overlay xattrs, a layer
-- whose content is not its diff_id, a broken gzip.  Each is refused (IMAGE, or
-- RESOURCE_LIMIT_EXCEEDED naming the budget) with the host untouched: the canaries in this spec's
-- own temp dir keep their content, mtime and link count, nothing appears outside, and the store
-- holds no layer and no staging directory afterwards.  Devices are skipped (created only as root
-- with allow_devices), setuid bits dropped rootless, trusted.*/overlay xattrs never restored.
-- Runs as root and in the rootless lane; writes only under its temp dirs.
local helpers = require "spec.helpers"

local q = helpers.shell_quote

if os.execute("command -v python3 >/dev/null 2>&1") ~= true then
  return helpers.skip_file("the layer specs need python3 (tests/registry/make-layer)")
end

require "moonjail"
local C = require "moonjail.imagecore"
local json = require "moonjail.json"

local function make_layer_script()
  local src = os.getenv("MOONJAIL_SOURCE_DIR")
  if not src or src == "" then src = helpers.sh("pwd") end
  return src .. "/tests/registry/make-layer"
end

describe("hostile image layers", function()
  local dir, host, store, n
  local is_root = C.euid() == 0

  setup(function()
    dir = helpers.tmpdir("0700")
    host = dir .. "/host"
    helpers.sh("mkdir -p " .. q(host .. "/outside") .. " && printf canary > " .. q(host .. "/secret")
      .. " && touch -d @1600000000 " .. q(host .. "/secret"))
    store = assert(C.store(dir .. "/store"))
    n = 0
  end)

  teardown(function()
    if store then store:close() end
    helpers.cleanup()
  end)

  -- A layer of entries; returns { path, diff_id, blob, size }.
  local function layer(entries, ext, opts)
    n = n + 1
    local path = dir .. "/layer" .. n .. (ext or ".tar.gz")
    local spec = json.encode({ entries = json.array(entries), ["end"] = not (opts and opts.no_end) })
    local out = helpers.sh("printf '%s' " .. q(spec) .. " | " .. q(make_layer_script()) .. " " .. q(path))
    local diff_id, blob, size = out:match("(sha256:%x+) (sha256:%x+) (%d+)")
    assert(diff_id, "make-layer said: " .. out)
    return { path = path, diff_id = diff_id, blob = blob, size = tonumber(size),
      compression = ext == ".tar" and "tar" or ext == ".tar.zst" and "zstd" or "gzip" }
  end

  local function unpack(l, opts)
    assert(store:put_file(l.blob, l.path, l.size))
    local res, err = store:unpack_layers({ { blob = l.blob, diff_id = l.diff_id, compression = l.compression } },
      opts or { keep_owners = is_root, trusted_xattrs = is_root })
    assert(res, err and tostring(err))
    return res[1]
  end

  local function ls(sub)
    local out = helpers.sh("ls -A " .. q(dir .. "/store/" .. sub) .. " 2>/dev/null")
    local names = {}
    for name in out:gmatch("[^\n]+") do names[#names + 1] = name end
    return names
  end

  -- What the host looks like: the canary's content, mtime and links, and what is in host/.
  local function host_state()
    return helpers.sh("stat -c '%s %Y %h' " .. q(host .. "/secret") .. " && cat " .. q(host .. "/secret")
      .. " && find " .. q(host) .. " | sort && stat -c %h /etc/shadow 2>/dev/null; true")
  end

  local function assert_refused(l, code, pattern, opts)
    local before = host_state()
    local r = unpack(l, opts)
    assert.is_false(r.ok, "unpacked: " .. tostring(r.path))
    assert.equal(code, r.error.code, tostring(r.error))
    if pattern then assert.matches(pattern, r.error.message) end
    assert.equal(before, host_state())
    assert.is_false(store:layer_path(l.diff_id, is_root and "owners" or "rootless"))
    for _, name in ipairs(ls("layers")) do
      assert.is_nil(name:match("^%.unpack%-"), "a staging directory was left: " .. name)
    end
    return r.error
  end

  local up = string.rep("../", 24)

  it("refuses '../' names", function()
    assert_refused(layer{ { name = "ok" }, { name = up .. host:sub(2) .. "/escape", data = "x" } }, "IMAGE",
      "'%.%.' component")
    assert_refused(layer{ { name = "a/../../escape", data = "x" } }, "IMAGE", "'%.%.' component")
  end)

  it("refuses absolute names (but takes '/' as the layer's root)", function()
    assert_refused(layer{ { name = host .. "/abs", data = "x" } }, "IMAGE", "absolute path")
    local r = unpack(layer{ { name = "/", type = "dir" }, { name = "etc/hostname", data = "x" } })
    assert.is_true(r.ok, r.error and tostring(r.error))
  end)

  it("never writes through a symlink the layer made", function()
    assert_refused(layer{ { name = "evil", type = "symlink", link = host .. "/outside" },
      { name = "evil/pwned", data = "x" } }, "IMAGE", "symbolic link")
    assert_refused(layer{ { name = "rel", type = "symlink", link = up .. host:sub(2) },
      { name = "rel/secret", data = "overwritten" } }, "IMAGE", "symbolic link")
    -- a directory entry replaces the symlink (tar's rule): what follows lands in the layer
    local before = host_state()
    local r = unpack(layer{ { name = "d", type = "symlink", link = "/etc" }, { name = "d/", type = "dir" },
      { name = "d/shadow", data = "x" } })
    assert.is_true(r.ok, r.error and tostring(r.error))
    assert.equal("x", helpers.read_file(r.path .. "/d/shadow"))
    assert.equal(before, host_state())
  end)

  it("refuses an entry named '.' that is a symlink", function()
    assert_refused(layer{ { name = ".", type = "symlink", link = host .. "/outside" }, { name = "x", data = "x" } },
      "IMAGE", "layer's root")
    assert_refused(layer{ { name = "./", type = "symlink", link = host } }, "IMAGE", "layer's root")
  end)

  it("keeps a later layer inside its own directory whatever an earlier one linked", function()
    local l1 = layer{ { name = "etc", type = "symlink", link = host .. "/outside" },
      { name = "usr", type = "symlink", link = "/usr" } }
    local l2 = layer{ { name = "etc/", type = "dir" }, { name = "etc/passwd", data = "root:x:0:0\n" },
      { name = "usr/pwned", data = "x" } }
    local before = host_state()
    assert.is_true(unpack(l1).ok)
    local r2 = unpack(l2)
    assert.is_true(r2.ok, r2.error and tostring(r2.error))
    assert.equal(before, host_state())
    assert.equal("root:x:0:0\n", helpers.read_file(r2.path .. "/etc/passwd"))
    assert.equal("x", helpers.read_file(r2.path .. "/usr/pwned"))
    assert.is_false(helpers.exists("/usr/pwned"))
  end)

  it("refuses hard links to what the layer has not made", function()
    assert_refused(layer{ { name = "shadow", type = "hardlink", link = "/etc/shadow" } }, "IMAGE", "absolute path")
    assert_refused(layer{ { name = "s", type = "hardlink", link = up .. "etc/shadow" } }, "IMAGE", "'%.%.'")
    assert_refused(layer{ { name = "s", type = "hardlink", link = "etc/shadow" } }, "IMAGE", "not in the layer")
    assert_refused(layer{ { name = "s", type = "hardlink", link = host .. "/secret" } }, "IMAGE")
    assert_refused(layer{ { name = "l", type = "symlink", link = host }, { name = "s", type = "hardlink",
      link = "l/secret" } }, "IMAGE", "symbolic link")
    local r = unpack(layer{ { name = "a", data = "same" }, { name = "b", type = "hardlink", link = "a" } })
    assert.is_true(r.ok)
    assert.equal("2", helpers.sh("stat -c %h " .. q(r.path .. "/b")))
  end)

  it("refuses a whiteout of '../../x' and keeps whiteouts inside the layer", function()
    assert_refused(layer{ { name = "../../.wh.secret" } }, "IMAGE", "'%.%.'")
    assert_refused(layer{ { name = "a/.wh.." } }, "IMAGE", "whiteout")
    local r = unpack(layer{ { name = "etc/.wh.secret" }, { name = ".wh.secret" } })
    assert.is_true(r.ok, r.error and tostring(r.error))
    assert.equal("character special file 0,0", helpers.sh("stat -c '%F %t,%T' " .. q(r.path .. "/etc/secret")))
    assert.equal(2, r.stats.whiteouts)
  end)

  it("refuses a 1 GB zero bomb before it is unpacked, and stores no zeros when allowed", function()
    local bomb = layer{ { name = "zero", zeros = 1024 * 1024 * 1024 } }
    assert.is_true(bomb.size < 8 * 1024 * 1024)
    assert_refused(bomb, "RESOURCE_LIMIT_EXCEEDED", "max_ratio")
    assert_refused(bomb, "RESOURCE_LIMIT_EXCEEDED", "max_bytes",
      { keep_owners = is_root, max_bytes = 256 * 1024 * 1024, max_ratio = 4294967295 })
    local r = unpack(bomb, { keep_owners = is_root, max_ratio = 4294967295 })
    assert.is_true(r.ok, r.error and tostring(r.error))
    assert.equal("1073741824", helpers.sh("stat -c %s " .. q(r.path .. "/zero")))
    assert.is_true(tonumber(helpers.sh("du -k " .. q(r.path .. "/zero") .. " | cut -f1")) < 1024)
  end)

  it("refuses a million entries", function()
    local million = layer{ { name = "d/", type = "dir", ["repeat"] = 1000001 } }
    assert_refused(million, "RESOURCE_LIMIT_EXCEEDED", "more than 1000000 entries %(max_entries%)",
      { keep_owners = is_root, max_ratio = 4294967295 })
  end)

  it("refuses paths deeper than the depth budget", function()
    assert_refused(layer{ { name = string.rep("d/", 200) .. "f", data = "x" } }, "IMAGE", "max_depth")
  end)

  it("skips devices unless root allows them, and refuses a device that reads as a whiteout", function()
    assert_refused(layer{ { name = "w", type = "char", major = 0, minor = 0 } }, "IMAGE", "whiteout")
    local l = layer{ { name = "dev/sda", type = "block", major = 8, minor = 0 },
      { name = "dev/null", type = "char", major = 1, minor = 3 }, { name = "dev/fifo", type = "fifo" } }
    local r = unpack(l)
    assert.is_true(r.ok, r.error and tostring(r.error))
    assert.equal(2, r.stats.devices_skipped)
    assert.is_false(helpers.exists(r.path .. "/dev/sda"))
    assert.equal("fifo", helpers.sh("stat -c %F " .. q(r.path .. "/dev/fifo")))
    if is_root then
      local l2 = layer{ { name = "dev/null", type = "char", major = 1, minor = 3 } }
      local r2 = unpack(l2, { keep_owners = true, allow_devices = true })
      assert.is_true(r2.ok, r2.error and tostring(r2.error))
      assert.equal("character special file 1,3", helpers.sh("stat -c '%F %t,%T' " .. q(r2.path .. "/dev/null")))
    end
  end)

  it("restores user xattrs only, and setuid bits only as root", function()
    local r = unpack(layer{ { name = "f", data = "x", mode = 2541, xattrs = { ["user.ok"] = "1",
      ["trusted.overlay.redirect"] = "/etc", ["user.overlay.opaque"] = "y", ["security.selinux"] = "x" } } })
    assert.is_true(r.ok, r.error and tostring(r.error))
    local names = helpers.sh("python3 -c 'import os,sys; print(\" \".join(sorted(os.listxattr(sys.argv[1]))))' "
      .. q(r.path .. "/f"))
    assert.equal("user.ok", names)
    assert.equal(3, r.stats.xattrs_skipped)
    assert.equal(is_root and "4755" or "755", helpers.sh("stat -c %a " .. q(r.path .. "/f")))
  end)

  it("refuses a layer that is not its diff_id, or a broken gzip stream", function()
    local l = layer{ { name = "f", data = "x" } }
    local wrong = layer{ { name = "f", data = "y" } }
    l.diff_id = wrong.diff_id
    assert_refused(l, "IMAGE", "does not match its diff_id")
    local bad = dir .. "/bad.gz"
    helpers.write_file(bad, "\31\139\8\0\0\0\0\0\0\3" .. string.rep("not deflate data ", 64))
    local bytes = helpers.read_file(bad)
    assert_refused({ path = bad, blob = C.digest("sha256", bytes), size = #bytes, diff_id = l.diff_id,
      compression = "gzip" }, "IMAGE", "decompress")
  end)

  it("reads a layer whose tar ends without its end blocks, as Go's tar does", function()
    local r = unpack(layer({ { name = "a/", type = "dir" }, { name = "a/f", data = "short" } }, ".tar.gz",
      { no_end = true }))
    assert.is_true(r.ok, r.error and tostring(r.error))
    assert.equal("short", helpers.read_file(r.path .. "/a/f"))
  end)

  it("unpacks zstd and plain layers too", function()
    for _, ext in ipairs({ ".tar.zst", ".tar" }) do
      local r = unpack(layer({ { name = "bin/", type = "dir" }, { name = "bin/x", data = ext } }, ext))
      assert.is_true(r.ok, r.error and tostring(r.error))
      assert.equal(ext, helpers.read_file(r.path .. "/bin/x"))
    end
  end)
end)

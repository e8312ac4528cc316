-- spec/integration/image_unpack_spec.lua — images loaded and unpacked into the store, and what a
-- sandbox would get from them (moonjail.image's load, root, remove and prune; no registry).
--
-- Covers: load of an OCI layout built with umoci from busybox-static (tests/registry/build-image)
-- and of a `docker save` archive of it (skopeo copy … docker-archive:…): records, the unpacked
-- tree (busybox, its applet symlinks, /etc files) and its owners (the image's as root, the
-- caller's rootless); an image made here layer by layer (tests/registry/make-layer) whose
-- second layer deletes a file (.wh.) and empties a directory (.wh..wh..opq): the layer
-- directories hold a 0/0 whiteout and the opaque xattr(s), and an overlay of them (mounted in a
-- private mount namespace: by root without userxattr, rootless in a user namespace with
-- userxattr) shows the deletions and the image's owners; as root, the same overlay over idmapped
-- lower layers (tests/registry/idmapped-overlay, as idmap.c builds a cow mount) shows the owners
-- shifted by the sandbox's range (what the sandbox will see);
-- root() (layers lowest first, the config's Env/Cmd/WorkingDir/User, a lease) and rmi refused
-- while the lease lives; prune removing unused layers and crashed unpacks; two processes
-- loading one image unpack each layer once.  Runs as root and rootless.
local helpers = require "spec.helpers"
local registry = require "spec.registry"

local q = helpers.shell_quote

for _, t in ipairs({ "umoci", "skopeo", "busybox", "python3", "unshare" }) do
  if os.execute("command -v " .. t .. " >/dev/null 2>&1") ~= true then
    return helpers.skip_file("the unpack specs need " .. t .. " (./bootstrap test installs it)")
  end
end

require "moonjail"
local image = require "moonjail.image"
local C = require "moonjail.imagecore"
local json = require "moonjail.json"

local function source_dir()
  local src = os.getenv("MOONJAIL_SOURCE_DIR")
  if src and src ~= "" then return src end
  return helpers.sh("pwd")
end

describe("image unpack", function()
  local env, store, digest, layout
  local is_root = C.euid() == 0
  local flavour = is_root and "owners" or "rootless"
  local uid = tonumber(helpers.sh("id -u"))

  setup(function()
    env = registry.new()
    store = env.store
    layout = env.layout
    digest = env:build("busy", { "--env", "GREETING=hello", "--env", "PATH=/bin", "--cmd", "sh", "--cmd=-c",
      "--cmd", "echo hi", "--workdir", "/home", "--user", "65534:65534" })
  end)

  teardown(function()
    if env then env:stop() end
  end)

  local function load(path, opts)
    opts = opts or {}
    opts.store = store
    local recs, err = image.load(path, opts)
    assert(recs, err and tostring(err))
    return recs
  end

  local function layer_dirs(rec)
    local s = assert(image.open_store{ store = store })
    local out = {}
    for i, d in ipairs(rec.diff_ids) do out[i] = assert(s:layer_path(d, flavour)) end
    s:close()
    return out
  end

  -- Puts an image made of layer descriptions into the layout as TAG (an OCI manifest).
  local function crafted(tag, layers)
    local mk = source_dir() .. "/tests/registry/make-layer"
    local descs, diff_ids = {}, {}
    for i, entries in ipairs(layers) do
      local path = env.dir .. "/" .. tag .. i .. ".tar.gz"
      local spec = json.encode({ entries = json.array(entries) })
      local out = helpers.sh("printf '%s' " .. q(spec) .. " | " .. q(mk) .. " " .. q(path))
      local diff_id, blob, size = out:match("(sha256:%x+) (sha256:%x+) (%d+)")
      helpers.sh("cp " .. q(path) .. " " .. q(layout .. "/blobs/sha256/" .. blob:sub(8)))
      descs[i] = { mediaType = "application/vnd.oci.image.layer.v1.tar+gzip", digest = blob, size = tonumber(size) }
      diff_ids[i] = diff_id
    end
    local function put(text)
      local d = C.digest("sha256", text)
      helpers.write_file(layout .. "/blobs/sha256/" .. d:sub(8), text)
      return d
    end
    local cfg = json.encode({ architecture = "amd64", os = "linux", config = { Cmd = json.array({ "sh" }) },
      rootfs = { type = "layers", diff_ids = json.array(diff_ids) } })
    local cfg_digest = put(cfg)
    local man = json.encode({ schemaVersion = 2, mediaType = "application/vnd.oci.image.manifest.v1+json",
      config = { mediaType = "application/vnd.oci.image.config.v1+json", digest = cfg_digest, size = #cfg },
      layers = json.array(descs) })
    local man_digest = put(man)
    local index = helpers.json_decode(helpers.read_file(layout .. "/index.json"))
    local kept = {}
    for _, m in ipairs(index.manifests) do
      if not (m.annotations and m.annotations["org.opencontainers.image.ref.name"] == tag) then kept[#kept + 1] = m end
    end
    kept[#kept + 1] = { mediaType = "application/vnd.oci.image.manifest.v1+json", digest = man_digest, size = #man,
      annotations = { ["org.opencontainers.image.ref.name"] = tag } }
    index.manifests = json.array(kept)
    helpers.write_file(layout .. "/index.json", json.encode(index))
    return man_digest
  end

  local function stat(path, fmt) return helpers.sh("stat -c " .. q(fmt) .. " " .. q(path)) end

  -- Runs cmd with an overlay of dirs (top first) mounted at $M in a private mount namespace.
  local function in_overlay(dirs_top_first, cmd, lower_prefix)
    local mnt = helpers.sh("mktemp -d " .. q(env.dir .. "/mnt.XXXXXX"))
    local opts = "lowerdir=" .. table.concat(dirs_top_first, ":") .. (is_root and "" or ",userxattr")
    local script = (lower_prefix or "") .. "mount -t overlay overlay -o " .. q(opts) .. " " .. q(mnt)
      .. " && M=" .. q(mnt) .. " && " .. cmd
    local ns = is_root and "unshare -m" or "unshare -Urm"
    return helpers.sh(ns .. " sh -c " .. q(script) .. " 2>&1")
  end

  it("loads an OCI layout and unpacks its layers into the store", function()
    local recs = load(layout, { name = "example.test/busy:ignored" })
    local rec
    for _, r in ipairs(recs) do
      if r.name == "example.test/busy:busy" then rec = r end
    end
    assert.truthy(rec, "no record for the tag busy")
    assert.equal(digest, rec.digest)
    assert.equal("oci-layout", rec.source)
    local dir = layer_dirs(rec)[1]
    assert.equal("regular file", stat(dir .. "/bin/busybox", "%F"))
    assert.equal("busybox", helpers.sh("readlink " .. q(dir .. "/bin/sh")))
    assert.matches("moonjail test image", helpers.read_file(dir .. "/etc/os-release"))
    assert.equal(is_root and "0:0" or (uid .. ":" .. helpers.sh("id -g")), stat(dir .. "/etc/os-release", "%u:%g"))
    assert.equal("755", stat(dir, "%a"))
  end)

  it("loads a docker save archive of it, verified, into the same layers", function()
    local archive = env.dir .. "/busy.tar"
    helpers.sh("skopeo --insecure-policy copy --quiet " .. q("oci:" .. layout .. ":busy") .. " "
      .. q("docker-archive:" .. archive .. ":example.test/saved:1"))
    local rec = load(archive)[1]
    assert.equal("example.test/saved:1", rec.name)
    assert.equal("docker-archive", rec.source)
    local from_layout = image.find("example.test/busy:busy", { store = store })
    local found = image.find("example.test/saved:1", { store = store })
    assert.same(from_layout.layers, found.layers)
    assert.same({}, (function()
      local left = {}
      for n in helpers.sh("ls -A " .. q(store .. "/layers")):gmatch("[^\n]+") do
        if n:match("^%.unpack") then left[#left + 1] = n end
      end
      return left
    end)())
    -- a config whose content is not its name is refused
    local bad = env.dir .. "/bad"
    helpers.sh("mkdir " .. q(bad) .. " && tar -xf " .. q(archive) .. " -C " .. q(bad))
    local cfg = helpers.sh("ls " .. q(bad) .. " | grep '\\.json$' | grep -v manifest")
    helpers.sh("chmod u+w " .. q(bad .. "/" .. cfg) .. " && printf ' ' >> " .. q(bad .. "/" .. cfg))
    local recs, err = image.load(bad, { store = store })
    assert.is_nil(recs)
    assert.equal("IMAGE", err.code)
    assert.matches("does not match its name", err.message)
  end)

  it("turns whiteouts and opaque directories into what overlayfs reads", function()
    crafted("wh", {
      { { name = "etc/", type = "dir" }, { name = "etc/passwd", data = "root:x:0:0::/:/bin/sh\n" },
        { name = "home/u/", type = "dir", uid = 1000, gid = 1000, mode = 448 },
        { name = "home/u/f", data = "mine", uid = 1000, gid = 1000 },
        { name = "d/", type = "dir" }, { name = "d/a", data = "a" }, { name = "gone", data = "g" },
        { name = "keep", data = "k" } },
      { { name = ".wh.gone" }, { name = "d/", type = "dir" }, { name = "d/.wh..wh..opq" }, { name = "d/b", data = "b" },
        { name = "home/u/g", data = "added", uid = 1000, gid = 1000 } },
    })
    local rec = load(layout, { name = "example.test/wh:x" })
    for _, r in ipairs(rec) do
      if r.name:match("/wh:wh$") then rec = r end
    end
    local dirs = layer_dirs(rec)
    assert.equal(2, #dirs)
    assert.equal("character special file 0,0", stat(dirs[2] .. "/gone", "%F %t,%T"))
    local xattrs = helpers.sh("python3 -c 'import os,sys; print(\" \".join(sorted(os.listxattr(sys.argv[1]))))' "
      .. q(dirs[2] .. "/d"))
    assert.equal(is_root and "trusted.overlay.opaque user.overlay.opaque" or "user.overlay.opaque", xattrs)
    assert.equal(is_root and "1000:1000" or (uid .. ":" .. helpers.sh("id -g")), stat(dirs[1] .. "/home/u/f", "%u:%g"))
    assert.equal("700", stat(dirs[1] .. "/home/u", "%a"))

    local out = in_overlay({ dirs[2], dirs[1] }, 'ls -A "$M" "$M/d"; stat -c "%u %n" "$M/home/u/f" "$M/home/u/g"')
    assert.matches("\nd\netc\nhome\nkeep\n", out)
    assert.not_matches("gone", out)
    assert.matches(":\nb\n", out) -- d holds only b
    if is_root then
      assert.matches("1000 [^\n]*/home/u/f", out)
      -- what a root-started sandbox will see: the lower layers idmapped to its id range
      local mnt = env.dir .. "/idmapped"
      helpers.sh("mkdir -p " .. q(mnt))
      local idmapped = helpers.sh(q(source_dir() .. "/tests/registry/idmapped-overlay") .. " 100000 65536 " .. q(mnt)
        .. " " .. q(dirs[2]) .. " " .. q(dirs[1]) .. " -- 'stat -c \"%u %n\" \"$M/home/u/f\" \"$M/etc/passwd\"' 2>&1")
      assert.matches("101000 [^\n]*/home/u/f\n100000 [^\n]*/etc/passwd", idmapped)
    else
      assert.matches("0 [^\n]*/home/u/f", out) -- the caller, which the user namespace maps to its root
    end
  end)

  it("gives a sandbox the layers, the config and a lease; rmi waits for the lease", function()
    local root, err = image.root("example.test/busy:busy", { store = store, holder = "spec" })
    assert(root, err and tostring(err))
    assert.equal(digest, root.digest)
    assert.equal("linux/amd64", root.platform_string)
    assert.equal(1, #root.layers)
    assert.equal(flavour, root.flavour)
    assert.same({ "GREETING=hello", "PATH=/bin" }, root.config.env)
    assert.same({ "sh", "-c", "echo hi" }, root.config.cmd)
    assert.equal("/home", root.config.workdir)
    assert.equal("65534:65534", root.config.user)
    local ok, rerr = image.remove("example.test/busy:busy", { store = store })
    assert.is_nil(ok)
    assert.equal("INVALID_STATE", rerr.code)
    local stats = assert(image.prune{ store = store })
    assert.is_true(helpers.exists(root.layers[1] .. "/bin/busybox"), "prune removed a leased layer")
    assert.is_true(stats.layers_kept >= 1)
    root.lease:release()
    assert.is_true(image.remove("example.test/busy:busy", { store = store }))
  end)

  it("prunes unused layers and what crashed unpacks left", function()
    for _, r in ipairs(assert(image.list{ store = store })) do
      assert.is_true(image.remove(r.name, { store = store, all_platforms = true }))
    end
    local junk = store .. "/layers/.unpack-" .. string.rep("ab", 16)
    helpers.sh("mkdir -p " .. q(junk .. "/root/x") .. " && touch " .. q(store .. "/locks/layer-sha256-"
      .. string.rep("cd", 32) .. ".lock"))
    local stats = assert(image.prune{ store = store })
    assert.is_true(stats.layers_removed >= 2)
    assert.equal(1, stats.unpacks_removed)
    assert.equal("", helpers.sh("ls -A " .. q(store .. "/layers")))
    assert.equal("", helpers.sh("ls -A " .. q(store .. "/locks")))
  end)

  it("unpacks each layer once when two processes load one image", function()
    local script = env.dir .. "/load.lua"
    helpers.write_file(script, ([[
      require "moonjail"
      local recs, err = require("moonjail.image").load(%q, { store = %q, name = "example.test/twice:x" })
      if not recs then io.stderr:write(tostring(err), "\n") os.exit(1) end
      print("loaded " .. #recs)
    ]]):format(layout, store))
    local bin = q(helpers.moonjail_bin())
    local out = helpers.sh("(" .. bin .. " script " .. q(script) .. " & " .. bin .. " script " .. q(script)
      .. " & wait) 2>&1")
    local _, times = out:gsub("loaded", "")
    assert.equal(2, times, out)
    local names = {}
    for n in helpers.sh("ls -A " .. q(store .. "/layers")):gmatch("[^\n]+") do names[#names + 1] = n end
    for _, n in ipairs(names) do assert.is_nil(n:match("^%.unpack"), n) end
    local want = {}
    for _, r in ipairs(assert(image.list{ store = store })) do
      for _, d in ipairs(r.layers) do want[d] = true end
    end
    local n = 0
    for _ in pairs(want) do n = n + 1 end
    assert.equal(n, #names)
  end)
end)

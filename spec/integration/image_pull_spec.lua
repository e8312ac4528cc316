-- spec/integration/image_pull_spec.lua — pulling real images from a real registry on loopback
-- (Debian's docker-registry, images built with umoci from busybox-static and pushed with
-- skopeo: spec/registry.lua), into a store in a temp dir.  No root needed.
--
-- Covers: the right manifest of a multi-platform index for the host and for --platform, variant
-- included (arm/v7, arm/v6, arm64 → v8), and an IMAGE error naming what the index has when
-- nothing fits; pull by digest (of an image and of an index); a second pull moves zero blob bytes
-- (the registry's access log); a blob damaged in the registry's storage is an IMAGE error that
-- leaves no partial file, no blob and no record in the store; through a fault proxy, a stall
-- and a truncation mid-blob are retryable NETWORK errors (the stall after the stall timeout) that
-- keep the partial file, and the next pull resumes it (a Range request answered 206) and moves
-- only the rest; a 429 is waited out for as long as its Retry-After says; with retries a single
-- pull recovers by itself; a config embedded in its descriptor (`data`) is used without a fetch
-- and refused when it does not match its digest; a foreign layer (`urls`) is refused unless
-- allowed, and then fetched from its URL when the registry lacks it; two concurrent pulls of one
-- image store each blob once (each layer fetched once from the registry); the record, list and
-- prune of the store.
local helpers = require "spec.helpers"
local registry = require "spec.registry"

if registry.skip_unless_available() then return end

local image = require "moonjail.image"

describe("image pull #registry", function()
  local env, reg, digests

  setup(function()
    env = registry.new()
    reg = env:start_registry()
    digests = {}
    for _, p in ipairs({ { "amd64", "linux/amd64" }, { "arm64", "linux/arm64/v8" }, { "armv7", "linux/arm/v7" },
      { "armv6", "linux/arm/v6" } }) do
      digests[p[1]] = env:build(p[1], { "--platform", p[2] })
    end
    digests.multi = env:build("multi", { "--index", "amd64=linux/amd64", "--index", "arm64=linux/arm64/v8",
      "--index", "armv7=linux/arm/v7", "--index", "armv6=linux/arm/v6" })
    env:push("multi", reg, "multi:latest", { index = true })
  end)

  teardown(function()
    if env then env:stop() end
  end)

  local function pull(ref, opts)
    opts = opts or {}
    opts.store = opts.store or env.store
    opts.insecure = opts.insecure or { reg.host }
    return image.pull(ref, opts)
  end

  local function must_pull(ref, opts)
    local rec, err = pull(ref, opts)
    assert(rec, err and tostring(err))
    return rec
  end

  local function ls(sub)
    local out = helpers.sh("ls -A " .. helpers.shell_quote(env.store .. "/" .. sub) .. " 2>/dev/null")
    local names = {}
    for n in out:gmatch("[^\n]+") do names[#names + 1] = n end
    return names
  end

  describe("of a multi-platform index", function()
    it("takes the host's platform by default", function()
      local rec = must_pull(reg.host .. "/multi:latest")
      assert.equal(digests.amd64, rec.digest)
      assert.equal(digests.multi, rec.index)
      assert.equal("linux/amd64", rec.platform_string)
      assert.equal("amd64", rec.config.data.architecture)
      assert.equal(1, #rec.layers)
    end)

    it("takes the variant asked for, and the closest compatible one", function()
      assert.equal(digests.armv7, must_pull(reg.host .. "/multi:latest", { platform = "linux/arm/v7" }).digest)
      assert.equal(digests.armv6, must_pull(reg.host .. "/multi:latest", { platform = "linux/arm/v6" }).digest)
      local arm64 = must_pull(reg.host .. "/multi:latest", { platform = "linux/arm64" })
      assert.equal(digests.arm64, arm64.digest)
      assert.equal("linux/arm64/v8", arm64.platform_string)
      -- an armv8 CPU in 32-bit mode runs v7 binaries: the closest the index has
      assert.equal(digests.armv7, must_pull(reg.host .. "/multi:latest", { platform = "linux/arm/v8" }).digest)
    end)

    it("says what the index has when no platform fits", function()
      local rec, err = pull(reg.host .. "/multi:latest", { platform = "linux/arm/v5" })
      assert.is_nil(rec)
      assert.equal("IMAGE", err.code)
      assert.matches("no manifest for linux/arm/v5", err.message, 1, true)
      assert.matches("linux/arm/v7", err.message, 1, true)
      rec, err = pull(reg.host .. "/multi:latest", { platform = "linux/s390x" })
      assert.is_nil(rec)
      assert.equal("IMAGE", err.code)
    end)

    it("keeps one record per platform", function()
      local recs = assert(image.list{ store = env.store })
      local platforms = {}
      for _, r in ipairs(recs) do
        if r.name == reg.host .. "/multi:latest" then platforms[#platforms + 1] = r.platform end
      end
      table.sort(platforms)
      assert.same({ "linux/amd64", "linux/arm/v6", "linux/arm/v7", "linux/arm64/v8" }, platforms)
    end)
  end)

  describe("by digest", function()
    it("pulls exactly the manifest named", function()
      local rec = must_pull(reg.host .. "/multi@" .. digests.arm64, { platform = "linux/arm64" })
      assert.equal(digests.arm64, rec.digest)
      assert.is_nil(rec.index)
      assert.equal(reg.host .. "/multi@" .. digests.arm64, rec.name)
    end)

    it("pulls an index by its digest and still selects the platform", function()
      local rec = must_pull(reg.host .. "/multi@" .. digests.multi, { platform = "linux/arm/v7" })
      assert.equal(digests.armv7, rec.digest)
      assert.equal(digests.multi, rec.index)
    end)

    it("refuses a digest the registry does not have as IMAGE", function()
      local rec, err = pull(reg.host .. "/multi@sha256:" .. string.rep("ab", 32))
      assert.is_nil(rec)
      assert.equal("IMAGE", err.code)
      assert.is_false(err.retryable)
    end)
  end)

  it("moves zero blob bytes on a second pull", function()
    must_pull(reg.host .. "/multi:latest")
    local before = #reg:blob_gets()
    local rec = must_pull(reg.host .. "/multi:latest")
    assert.equal(0, rec.downloaded)
    assert.equal(before, #reg:blob_gets())
  end)

  it("detects a blob damaged in the registry's storage and leaves nothing half-written", function()
    local d = env:build("damaged", { "--file", "/etc/unique=" .. helpers.unique_number() .. os.time() })
    env:push("damaged", reg, "damaged:1")
    local layers = env:manifest_layers(d)
    local victim = layers[#layers].digest
    reg:corrupt_blob(victim)
    local rec, err = pull(reg.host .. "/damaged:1", { retries = { attempts = 2, base_delay = 0.05 } })
    assert.is_nil(rec)
    assert.equal("IMAGE", err.code)
    assert.matches("does not match its digest", err.message, 1, true)
    assert.is_false(err.retryable)
    local hex = victim:match(":(%x+)$")
    for _, name in ipairs(ls("blobs/sha256")) do assert.not_equal(hex, name) end
    assert.same({}, ls("ingest"))
    local _, ferr = image.find(reg.host .. "/damaged:1", { store = env.store })
    assert.equal("IMAGE", ferr.code)
  end)

  describe("through a fault proxy", function()
    local AFTER = 300000

    -- Builds and pushes an image with a 1 MiB incompressible layer, puts a proxy with the fault
    -- in front of the registry and pulls through it without retries.
    local function faulty_pull(mode)
      env:build(mode, { "--fill", "1:1", "--file", "/etc/unique=" .. mode .. os.time() })
      env:push(mode, reg, mode .. ":1")
      local proxy = env:start_proxy(reg, mode, AFTER)
      local ref = proxy.host .. "/" .. mode .. ":1"
      local started = helpers.now()
      local rec, err = pull(ref, { insecure = { proxy.host }, timeouts = { stall = 2 }, retries = { attempts = 1 } })
      return proxy, ref, rec, err, helpers.now() - started
    end

    -- The next pull resumes the broken blob: one Range request from AFTER, answered 206, and
    -- only the rest of that blob crosses the network.
    local function assert_resumes(proxy, ref, mode)
      assert.equal(1, #ls("ingest"))
      local broken = helpers.read_file(proxy.log):match("/blobs/(sha256:%x+) %- 200 " .. AFTER .. " " .. mode)
      assert.is_not_nil(broken, helpers.read_file(proxy.log))
      local rec = must_pull(ref, { insecure = { proxy.host } })
      local log = helpers.read_file(proxy.log)
      assert.matches("/blobs/" .. broken .. " bytes=" .. AFTER .. "%- 206", log)
      local size
      for _, l in ipairs(rec.layers) do
        if l.digest == broken then size = l.size end
      end
      assert.equal(size - AFTER, rec.downloaded)
      local answered = false
      for _, r in ipairs(reg:blob_gets()) do
        answered = answered or (r.digest == broken and r.status == 206 and r.bytes == size - AFTER)
      end
      assert.is_true(answered, "the registry's access log shows no 206 for " .. broken)
      assert.same({}, ls("ingest"))
    end

    it("reports a stall mid-blob as a retryable NETWORK error after the stall timeout, then resumes", function()
      local proxy, ref, rec, err, took = faulty_pull("stall")
      assert.is_nil(rec)
      assert.equal("NETWORK", err.code)
      assert.is_true(err.retryable)
      assert.is_true(took >= 2 and took < 30, "took " .. took .. " s")
      assert_resumes(proxy, ref, "stall")
    end)

    it("reports a truncated blob as a retryable NETWORK error, then resumes", function()
      local proxy, ref, rec, err = faulty_pull("truncate")
      assert.is_nil(rec)
      assert.equal("NETWORK", err.code)
      assert.is_true(err.retryable)
      assert_resumes(proxy, ref, "truncate")
    end)

    it("waits as long as a 429's Retry-After asks, then goes on", function()
      local d = env:build("busy", { "--file", "/etc/unique=busy" })
      env:push("busy", reg, "busy:1")
      local proxy = env:start_proxy(reg, "busy")
      local started = helpers.now()
      local rec, err = pull(proxy.host .. "/busy:1", { insecure = { proxy.host },
        retries = { attempts = 3, base_delay = 0.01 } })
      assert(rec, err and tostring(err))
      assert.equal(d, rec.digest)
      assert.is_true(helpers.now() - started >= 1, "did not wait for Retry-After")
      assert.matches(" 429 0 busy", helpers.read_file(proxy.log))
      rec, err = pull(proxy.host .. "/busy:1", { insecure = { proxy.host }, retries = { attempts = 1 } })
      assert.truthy(rec, err and tostring(err))
    end)

    it("recovers within one pull when retries are allowed", function()
      local d = env:build("retry", { "--fill", "1:1", "--file", "/etc/unique=retry" .. os.time() })
      env:push("retry", reg, "retry:1")
      local proxy = env:start_proxy(reg, "truncate", AFTER)
      local rec, err = pull(proxy.host .. "/retry:1", { insecure = { proxy.host },
        retries = { attempts = 3, base_delay = 0.05 } })
      assert(rec, err and tostring(err))
      assert.equal(d, rec.digest)
      assert.matches("bytes=" .. AFTER .. "%- 206", helpers.read_file(proxy.log))
    end)
  end)

  describe("descriptors with data and urls", function()
    it("use a config embedded in its descriptor without fetching it", function()
      env:build("embed-src", {})
      local d = env:build("embedded", { "--from", "embed-src", "--config-data", "good" })
      env:push("embedded", reg, "embedded:1")
      local _, config = env:manifest_layers(d)
      local before = #reg:blob_gets()
      local rec = must_pull(reg.host .. "/embedded:1")
      assert.equal(config.digest, rec.config.digest)
      assert.equal("amd64", rec.config.data.architecture)
      for i, r in ipairs(reg:blob_gets()) do
        if i > before then assert.not_equal(config.digest, r.digest) end
      end
    end)

    it("refuse embedded data that does not match its digest", function()
      env:build("bad-src", {})
      local d = env:build("bad-data", { "--from", "bad-src", "--config-data", "bad" })
      env:push("bad-data", reg, "bad-data:1")
      local rec, err = pull(reg.host .. "/bad-data:1")
      assert.is_nil(rec)
      assert.equal("IMAGE", err.code)
      local _, config = env:manifest_layers(d)
      local store = assert(image.open_store{ store = env.store })
      assert.is_false(store:has(config.digest))
      store:close()
    end)

    it("refuse a foreign layer unless allowed, then fetch it from its URL", function()
      env:build("foreign-src", { "--file", "/etc/foreign=yes" })
      env:push("foreign-src", reg, "foreignsrc:1")
      local d = env:build("foreign", { "--from", "foreign-src", "--foreign-last-layer",
        "http://" .. reg.host .. "/v2/foreignsrc/blobs/" })
      env:push("foreign", reg, "foreign:1")
      local rec, err = pull(reg.host .. "/foreign:1")
      assert.is_nil(rec)
      assert.equal("IMAGE", err.code)
      assert.matches("foreign layer", err.message, 1, true)
      rec, err = pull(reg.host .. "/foreign:1", { allow_foreign_layers = true })
      assert(rec, err and tostring(err))
      local layers = env:manifest_layers(d)
      local foreign = layers[#layers].digest
      local from_url = false
      for _, r in ipairs(reg:blob_gets()) do
        from_url = from_url or (r.path == "/v2/foreignsrc/blobs/" .. foreign and r.status == 200)
      end
      assert.is_true(from_url)
    end)
  end)

  it("stores each blob once when two processes pull one image at the same time", function()
    local d = env:build("twice", { "--fill", "2:4", "--fill", "2:4", "--file", "/etc/unique=twice" .. os.time() })
    env:push("twice", reg, "twice:1")
    local script = env.dir .. "/pull.lua"
    helpers.write_file(script, ([[
      require "moonjail"
      local rec, err = require("moonjail.image").pull(%q, { store = %q, insecure = { %q } })
      if not rec then io.stderr:write(tostring(err), "\n") os.exit(1) end
      print("downloaded " .. rec.downloaded)
    ]]):format(reg.host .. "/twice:1", env.store, reg.host))
    local bin = helpers.shell_quote(helpers.moonjail_bin())
    local out = helpers.sh("(" .. bin .. " script " .. script .. " & " .. bin .. " script " .. script
      .. " & wait) 2>&1; echo done")
    local _, times = out:gsub("downloaded", "")
    assert.equal(2, times, out)
    local counts = {}
    for _, r in ipairs(reg:blob_gets()) do
      if r.path:match("/twice/") then counts[r.digest] = (counts[r.digest] or 0) + 1 end
    end
    -- every blob of the image crossed the network exactly once (builds share no layers)
    local layers, config = env:manifest_layers(d)
    local store = assert(image.open_store{ store = env.store })
    for _, b in ipairs({ config, table.unpack(layers) }) do
      assert.equal(1, counts[b.digest], b.digest .. " was fetched " .. tostring(counts[b.digest]) .. " times\n" .. out)
      assert.is_true(store:has(b.digest))
    end
    store:close()
    assert.truthy(image.find(reg.host .. "/twice:1", { store = env.store }))
    assert.same({}, ls("ingest"))
  end)

  it("removes a record and collects only the blobs nothing else needs", function()
    local v6_layers, v6_config = env:manifest_layers(digests.armv6)
    local v7_layers = env:manifest_layers(digests.armv7)
    assert.is_true(image.remove(reg.host .. "/multi:latest", { store = env.store, platform = "linux/arm/v6" }))
    local stats = assert(image.prune{ store = env.store })
    assert.is_true(stats.blobs_removed >= 3)
    local store = assert(image.open_store{ store = env.store })
    assert.is_false(store:has(digests.armv6))
    assert.is_false(store:has(v6_config.digest))
    assert.is_false(store:has(v6_layers[1].digest))
    assert.is_true(store:has(digests.multi)) -- the index: other records still name it
    assert.is_true(store:has(v7_layers[1].digest))
    store:close()
    assert.truthy(image.find(reg.host .. "/multi:latest", { store = env.store, platform = "linux/arm/v7" }))
    local _, err = image.find(reg.host .. "/multi:latest", { store = env.store, platform = "linux/arm/v6" })
    assert.equal("IMAGE", err.code)
  end)
end)

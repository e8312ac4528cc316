-- spec/integration/image_cli_spec.lua — the image commands of the CLI against a real registry on
-- loopback (spec/registry.lua), with the store in a temp dir ($MOONJAIL_IMAGE_STORE).
--
-- Covers: `moonjail pull --insecure-registry HOST REF` (one line per layer on stderr, name and
-- digest on stdout; --json prints the record; --platform takes another entry of an index; a
-- second pull fetches nothing), `images` (table, -q, --json with size and in_use), `rmi` (every
-- platform of a name, or --platform; refused while an image is leased), `load` of an OCI layout
-- and of a docker-save archive, and the errors: an unknown image is IMAGE with exit 125 and one
-- line, a registry not named insecure is not spoken to over plain HTTP.  Runs as root and rootless.
local helpers = require "spec.helpers"
local registry = require "spec.registry"

if registry.skip_unless_available() then return end

local image = require "moonjail.image"

describe("image commands #registry", function()
  local env, reg, store, digests

  setup(function()
    env = registry.new()
    reg = env:start_registry()
    store = env.store
    digests = {
      amd64 = env:build("amd64", { "--platform", "linux/amd64", "--fill", "1:3" }),
      arm64 = env:build("arm64", { "--platform", "linux/arm64/v8" }),
    }
    digests.multi = env:build("multi", { "--index", "amd64=linux/amd64", "--index", "arm64=linux/arm64/v8" })
    env:push("multi", reg, "multi:1", { index = true })
  end)

  teardown(function()
    if env then env:stop() end
  end)

  local function cli(args)
    return helpers.cli(args, { env = { MOONJAIL_IMAGE_STORE = store } })
  end

  it("pulls with one line per layer, and fetches nothing the second time", function()
    local r = cli({ "pull", "--insecure-registry", reg.host, reg.host .. "/multi:1" })
    assert.equal(0, r.status, r.stderr)
    assert.equal(reg.host .. "/multi:1@" .. digests.amd64 .. " linux/amd64\n", r.stdout)
    assert.matches("manifest", r.stderr)
    assert.matches("layer %x+ 1%.1 MB\n", r.stderr)
    assert.matches("layer %x+ unpacked %(1/2, %d+ entries%)", r.stderr)
    local before = reg:blob_bytes()
    r = cli({ "pull", "-q", "--insecure-registry", reg.host, reg.host .. "/multi:1" })
    assert.equal(0, r.status, r.stderr)
    assert.equal("", r.stderr)
    assert.equal(before, reg:blob_bytes())
  end)

  it("pulls another platform and prints the record with --json", function()
    local r = cli({ "pull", "--json", "--platform", "linux/arm64", "--insecure-registry", reg.host,
      reg.host .. "/multi:1" })
    assert.equal(0, r.status, r.stderr)
    local rec = helpers.json_decode(r.stdout)
    assert.equal(digests.arm64, rec.digest)
    assert.equal(digests.multi, rec.index)
    assert.equal("linux/arm64/v8", rec.platform)
    assert.equal(1, #rec.diff_ids)
    assert.equal("", r.stderr)
  end)

  it("lists the store's images", function()
    local r = cli({ "images" })
    assert.equal(0, r.status, r.stderr)
    local lines = helpers.lines(r.stdout)
    assert.matches("^REPOSITORY +TAG +PLATFORM +DIGEST +PULLED +SIZE +IN USE$", lines[1])
    local host = reg.host:gsub("%.", "%%.")
    assert.matches("^" .. host .. "/multi +1 +linux/amd64 +" .. digests.amd64:sub(8, 19), lines[2])
    r = cli({ "images", "-q" })
    assert.equal(reg.host .. "/multi:1\n" .. reg.host .. "/multi:1\n", r.stdout)
    r = cli({ "images", "--json" })
    local list = helpers.json_decode(r.stdout)
    assert.equal(2, #list)
    for _, e in ipairs(list) do
      assert.is_true(e.size > 0)
      assert.equal(0, e.in_use)
      assert.equal(#e.layers > 0, true)
    end
  end)

  it("refuses rmi while a sandbox holds the image, then removes every platform", function()
    local root = assert(image.root(reg.host .. "/multi:1", { store = store, holder = "spec" }))
    local r = cli({ "rmi", reg.host .. "/multi:1" })
    assert.equal(125, r.status)
    assert.matches("^moonjail: INVALID_STATE: [^\n]*running sandbox", r.stderr)
    assert.equal(2, #assert(image.list{ store = store }), "a refused rmi removed something")
    r = cli({ "rmi", "--platform", "linux/arm64", reg.host .. "/multi:1" })
    assert.equal(0, r.status, r.stderr)
    assert.matches("Removed: [^\n]*linux/arm64/v8", r.stdout)
    root.lease:release()
    r = cli({ "rmi", "--json", reg.host .. "/multi:1" })
    assert.equal(0, r.status, r.stderr)
    assert.equal(digests.amd64, helpers.json_decode(r.stdout)[1].digest)
    assert.same({}, assert(image.list{ store = store }))
  end)

  it("loads an OCI layout and a docker-save archive", function()
    local r = cli({ "load", "--name", "example.test/app:ignored", env.layout })
    assert.equal(0, r.status, r.stderr)
    assert.matches("Loaded image: example%.test/app:amd64@" .. digests.amd64 .. " linux/amd64\n", r.stdout)
    local archive = env.dir .. "/saved.tar"
    helpers.sh("skopeo --insecure-policy copy --quiet " .. helpers.shell_quote("oci:" .. env.layout .. ":arm64") .. " "
      .. helpers.shell_quote("docker-archive:" .. archive .. ":example.test/saved:v1"))
    r = cli({ "load", "--json", archive })
    assert.equal(0, r.status, r.stderr)
    local recs = helpers.json_decode(r.stdout)
    assert.equal("example.test/saved:v1", recs[1].name)
    assert.equal("linux/arm64/v8", recs[1].platform)
    assert.equal("docker-archive", recs[1].source)
  end)

  it("says what went wrong in one line", function()
    local r = cli({ "pull", "--insecure-registry", reg.host, reg.host .. "/nothing:here" })
    assert.equal(125, r.status)
    assert.matches("^moonjail: IMAGE: [^\n]*\n$", r.stderr)
    -- not named insecure: HTTPS, which a plain-HTTP registry cannot answer
    r = cli({ "pull", reg.host .. "/multi:1" })
    assert.equal(125, r.status)
    assert.matches("^moonjail: NETWORK: [^\n]*https://", r.stderr)
    r = cli({ "pull" })
    assert.equal(125, r.status)
    assert.matches("^moonjail: INVALID_CONFIG: pull: one image reference", r.stderr)
    r = cli({ "rmi", "example.test/none:1" })
    assert.equal(125, r.status)
    assert.matches("^moonjail: IMAGE: [^\n]*not in the store", r.stderr)
  end)
end)

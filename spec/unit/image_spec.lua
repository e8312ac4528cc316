-- spec/unit/image_spec.lua — the image control plane without a registry (moonjail.image and
-- moonjail.image.*): pure parsing and decisions.
--
-- Covers: references (Docker Hub defaults, library/, registries with ports and IPv6, tags,
-- digests, what is refused); platforms (aliases, default variants, the host's) and the choice
-- in a multi-platform index, variant included; manifests, indexes and configs as untrusted
-- input (schema 1, oversized documents, absurd layer counts, bad digests and sizes, media type
-- disagreements, foreign URLs, embedded NULs, deep nesting, diff_ids); WWW-Authenticate
-- challenges; credentials from auth files; Retry-After; misuse of pull.
local mj = require "moonjail"
local helpers = require "spec.helpers"
local image = require "moonjail.image"
local reference = require "moonjail.image.reference"
local manifest = require "moonjail.image.manifest"
local auth = require "moonjail.image.auth"
local C = require "moonjail.imagecore"

local D1 = "sha256:" .. string.rep("a", 64)
local D2 = "sha256:" .. string.rep("b", 64)
local D3 = "sha256:" .. string.rep("c", 64)

describe("image references", function()
  it("apply Docker Hub's defaults", function()
    local r = assert(reference.parse("busybox"))
    assert.equal("docker.io", r.registry)
    assert.equal("registry-1.docker.io", r.host)
    assert.equal("library/busybox", r.repository)
    assert.equal("latest", r.tag)
    assert.equal("docker.io/library/busybox:latest", r.name)
    assert.equal("docker.io/user/app:1.2", assert(reference.parse("user/app:1.2")).name)
    assert.equal("docker.io/library/x:latest", assert(reference.parse("index.docker.io/library/x")).name)
  end)

  it("take registries with ports, IPv6 and localhost, tags and digests", function()
    local r = assert(reference.parse("127.0.0.1:5000/team/app:v1@" .. D1))
    assert.equal("127.0.0.1:5000", r.host)
    assert.equal("team/app", r.repository)
    assert.equal("v1", r.tag)
    assert.equal(D1, r.digest)
    r = assert(reference.parse("localhost/app@" .. D1))
    assert.equal("localhost", r.registry)
    assert.is_nil(r.tag)
    assert.equal("localhost/app@" .. D1, r.name)
    assert.equal("[::1]:5000", assert(reference.parse("[::1]:5000/app")).registry)
    assert.equal("registry.example.com/a/b.c/d_e--f:latest",
      assert(reference.parse("registry.example.com/a/b.c/d_e--f")).name)
  end)

  it("refuse what is not a reference, as INVALID_CONFIG", function()
    for _, bad in ipairs({ "", "Upper/case", "a//b", "a/b:", "app@sha256:abc", "app@md5:" .. string.rep("a", 32),
      "a b", "-app", "app-", "a..b", "host:99999/app", "app:" .. string.rep("t", 129), "app:-x",
      string.rep("a", 300), "app\n", "app@" .. D1:upper() }) do
      local r, code = reference.parse(bad)
      assert.is_nil(r, bad)
      assert.equal("INVALID_CONFIG", code)
    end
  end)
end)

describe("image platforms", function()
  it("normalise aliases and default variants", function()
    assert.same({ os = "linux", architecture = "arm64", variant = "v8" }, reference.platform("linux/arm64"))
    assert.same({ os = "linux", architecture = "arm64", variant = "v8" }, reference.platform("linux/aarch64"))
    assert.same({ os = "linux", architecture = "arm", variant = "v7" }, reference.platform("linux/arm"))
    assert.same({ os = "linux", architecture = "arm", variant = "v6" }, reference.platform("linux/armel"))
    assert.same({ os = "linux", architecture = "amd64" }, reference.platform("linux/x86_64"))
    assert.is_nil(reference.platform("amd64"))
    assert.equal("linux/arm/v7", reference.platform_string(reference.host_platform("armv7l")))
    assert.equal("linux/amd64", reference.platform_string(reference.host_platform("x86_64")))
    assert.equal("linux/arm64/v8", reference.platform_string(reference.host_platform("aarch64")))
  end)

  local index = {
    { digest = "unknown", platform = { os = "unknown", architecture = "unknown" } },
    { digest = "amd64", platform = { os = "linux", architecture = "amd64" } },
    { digest = "arm-v6", platform = { os = "linux", architecture = "arm", variant = "v6" } },
    { digest = "arm", platform = { os = "linux", architecture = "arm" } },
    { digest = "arm64", platform = { os = "linux", architecture = "arm64" } },
    { digest = "s390x", platform = { os = "linux", architecture = "s390x" } },
    { digest = "windows", platform = { os = "windows", architecture = "amd64" } },
  }
  local function pick(p)
    local d, why = reference.select(index, assert(reference.platform(p)))
    return d and d.digest, why
  end

  it("pick the closest compatible entry of an index", function()
    assert.equal("amd64", pick("linux/amd64"))
    assert.equal("arm", pick("linux/arm/v7"))     -- "arm" without a variant means v7
    assert.equal("arm-v6", pick("linux/arm/v6"))
    assert.equal("arm", pick("linux/arm/v8"))     -- 32-bit on ARMv8 runs v7
    assert.equal("arm64", pick("linux/arm64/v8")) -- arm64 without a variant means v8
    assert.equal("s390x", pick("linux/s390x"))
  end)

  it("say what the index has when nothing fits", function()
    local d, why = pick("linux/arm/v5")
    assert.is_nil(d)
    assert.matches("no manifest for linux/arm/v5", why, 1, true)
    assert.matches("linux/arm/v6", why, 1, true)
    assert.is_nil(pick("linux/ppc64le"))
  end)
end)

local function manifest_json(layers, extra)
  local parts = {}
  for i, l in ipairs(layers) do
    parts[i] = l
  end
  return '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",'
    .. '"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"' .. D1 .. '","size":10},'
    .. '"layers":[' .. table.concat(parts, ",") .. ']' .. (extra or "") .. '}'
end

local function layer(fields)
  return '{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"' .. (fields.digest or D2)
    .. '","size":' .. (fields.size or "100") .. (fields.extra or "") .. '}'
end

describe("image manifests", function()
  it("parse an OCI manifest and an index", function()
    local doc = assert(manifest.parse(manifest_json({ layer{ extra = ',"annotations":{"a":"b"}' } },
      ',"annotations":{"org.opencontainers.image.created":"now"}')))
    assert.equal("manifest", doc.kind)
    assert.equal(D1, doc.config.digest)
    assert.equal(100, doc.layers[1].size)
    assert.equal("integer", math.type(doc.layers[1].size))
    assert.equal("b", doc.layers[1].annotations.a)
    assert.equal("now", doc.annotations["org.opencontainers.image.created"])
    doc = assert(manifest.parse('{"schemaVersion":2,"manifests":[{"mediaType":"'
      .. manifest.MEDIA.oci_manifest .. '","digest":"' .. D3 .. '","size":5,"platform":{"os":"linux",'
      .. '"architecture":"arm","variant":"v7"}}]}', manifest.MEDIA.oci_index))
    assert.equal("index", doc.kind)
    assert.equal("v7", doc.manifests[1].platform.variant)
  end)

  local function refused(bytes, content_type, code, pattern)
    local doc, c, msg = manifest.parse(bytes, content_type)
    assert.is_nil(doc, bytes:sub(1, 100))
    assert.equal(code or "IMAGE", c)
    if pattern then assert.matches(pattern, msg) end
  end

  it("refuse Docker schema 1", function()
    refused('{"schemaVersion":1,"name":"x","fsLayers":[]}', nil, "UNSUPPORTED")
    refused('{"schemaVersion":1}', "application/vnd.docker.distribution.manifest.v1+prettyjws", "UNSUPPORTED")
  end)

  it("refuse oversized documents and absurd layer counts", function()
    refused(string.rep(" ", manifest.LIMITS.manifest_bytes + 1), nil, "IMAGE", "at most")
    local many = {}
    for i = 1, manifest.LIMITS.layers + 1 do many[i] = layer{} end
    refused(manifest_json(many), nil, "IMAGE", "layers")
  end)

  it("refuse bad digests and sizes", function()
    refused(manifest_json({ layer{ digest = D2:upper():gsub("SHA", "sha") } }))
    refused(manifest_json({ layer{ digest = "sha256:abc" } }))
    refused(manifest_json({ layer{ size = "-1" } }))
    refused(manifest_json({ layer{ size = "1.5" } }))
    refused(manifest_json({ layer{ size = "1e300" } }))
    refused(manifest_json({ layer{ size = '"100"' } }))
    refused(manifest_json({ layer{ size = "18014398509481984" } })) -- 2^54
  end)

  it("refuse foreign URLs that are not http(s), bad annotations and oversized data", function()
    refused(manifest_json({ layer{ extra = ',"urls":["file:///etc/shadow"]' } }))
    refused(manifest_json({ layer{ extra = ',"annotations":{"a":1}' } }))
    refused(manifest_json({ layer{ size = "3", extra = ',"data":"' .. string.rep("QUFB", 10) .. '"' } }))
    assert.truthy(manifest.parse(manifest_json({ layer{ extra = ',"urls":["https://example.com/x"]' } })))
  end)

  it("refuse a media type the registry and the document disagree on, and non-JSON", function()
    refused(manifest_json({}), manifest.MEDIA.docker_manifest, "IMAGE", "says")
    refused("not json")
    refused("[1,2]")
    refused(string.rep("[", 10000) .. string.rep("]", 10000))
  end)

  it("check what later phases read from the config", function()
    local ok = '{"os":"linux","architecture":"amd64","config":{"Env":["A=1"],"Cmd":null},'
      .. '"rootfs":{"type":"layers","diff_ids":["' .. D1 .. '"]}}'
    assert.truthy(manifest.parse_config(ok, 1))
    local doc, code = manifest.parse_config(ok, 2)
    assert.is_nil(doc)
    assert.equal("IMAGE", code)
    assert.is_nil(manifest.parse_config(ok:gsub('"A=1"', '"A=\\u0000x"'), 1))
    assert.is_nil(manifest.parse_config(ok:gsub('%["A=1"%]', '"A=1"'), 1))
    assert.is_nil(manifest.parse_config('{"os":"linux","architecture":"amd64"}', 0))
  end)
end)

describe("registry auth", function()
  it("parses challenges", function()
    local ch = auth.parse_challenge('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",'
      .. 'scope="repository:library/busybox:pull"')
    assert.same({ scheme = "bearer", realm = "https://auth.docker.io/token", service = "registry.docker.io",
      scope = "repository:library/busybox:pull" }, ch)
    assert.same({ scheme = "basic", realm = 'a "quoted" realm' },
      auth.parse_challenge('Basic realm="a \\"quoted\\" realm"'))
    assert.same({ scheme = "bearer", realm = "x", error = "invalid_token" },
      auth.parse_challenge("Bearer realm=x, error=invalid_token"))
    assert.is_nil(auth.parse_challenge(nil))
  end)

  it("finds credentials in auth files, Docker Hub's key included", function()
    local dir = helpers.tmpdir()
    local file = dir .. "/config.json"
    helpers.write_file(file, '{"auths":{"https://index.docker.io/v1/":{"auth":"' .. C.base64_encode("hub:pw")
      .. '"},'
      .. '"reg.example:5000":{"username":"u","password":"p:q"}}}')
    assert.same({ username = "hub", password = "pw" }, auth.credentials("docker.io", { auth_files = { file } }, C))
    assert.same({ username = "u", password = "p:q" },
      auth.credentials("reg.example:5000", { auth_files = { file } }, C))
    assert.is_nil(auth.credentials("other.example", { auth_files = { file, dir .. "/missing.json" } }, C))
    assert.same({ username = "x", password = "y" },
      auth.credentials("docker.io", { credentials = { username = "x", password = "y" }, auth_files = { file } }, C))
    helpers.cleanup()
  end)
end)

describe("image pulls", function()
  it("read Retry-After as seconds or as an HTTP date", function()
    assert.equal(120, image.retry_after_seconds("120"))
    assert.equal(30, image.retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT", 1445412480 - 30))
    assert.equal(0, image.retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT", 1445412480 + 30))
    assert.is_nil(image.retry_after_seconds("soon"))
  end)

  it("refuse a bad reference or platform as INVALID_CONFIG and raise on misuse", function()
    local rec, err = image.pull("Not A Reference", { store = "/nonexistent" })
    assert.is_nil(rec)
    assert.equal("INVALID_CONFIG", err.code)
    assert.is_true(mj.is_error(err))
    rec, err = image.pull("busybox", { store = "/nonexistent", platform = "amd64" })
    assert.is_nil(rec)
    assert.equal("INVALID_CONFIG", err.code)
    assert.has_error(function() image.pull("busybox", { colour = "blue" }) end, "pull: unknown option 'colour'")
    assert.has_error(function() image.pull("busybox", { parallel = "4" }) end)
  end)

  it("keep the store where the environment says", function()
    assert.is_string(image.default_store())
    assert.matches("moonjail$", image.default_store())
  end)
end)

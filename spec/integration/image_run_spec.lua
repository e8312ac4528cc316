-- spec/integration/image_run_spec.lua — sandboxes from OCI images (issue 14): `run --image`, `create
-- --image`, mj.sandbox{ image = … } and a recipe's `image`, against a real registry on loopback
-- (spec/registry.lua) with images built in the test from busybox-static, the store in a temp dir.
--
-- Covers: a missing image is pulled on demand; `busybox sh -c 'cat /etc/os-release; id; pwd;
-- env'` shows the image's config (Env, WorkingDir, User, resolved in the image's own
-- /etc/passwd, which a later layer replaces); Entrypoint/Cmd and --entrypoint; what the call
-- sets wins over the image, the shipped policy's user/workdir/PATH do not; writes land in the
-- container layer and leave the store's layers byte for byte as they were; rmi of an image a
-- sandbox uses is refused and the sandbox keeps working (and rmi works once it is gone);
-- SandboxInfo's image, platform and digest; files show their image owners (root: the image's
-- 0:0 through idmapped lowers; rootless: every file is the caller's, which the sandbox maps to
-- its user — so 0:0 for a sandbox running as 0); hostile configs — a User naming no user, a
-- WorkingDir through a symlink that points out of the root, Env with NUL bytes or megabytes —
-- are typed errors with the host untouched.  Runs as root and rootless.
local helpers = require "spec.helpers"
local registry = require "spec.registry"

if registry.skip_unless_available() then return end
if helpers.skip_unless_sandboxes() then return end

local q, sh = helpers.shell_quote, helpers.sh

describe("sandboxes from images #registry", function()
  local env, reg, store, canary, digest

  local PASSWD = "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\n"
    .. "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"

  setup(function()
    env = registry.new()
    reg = env:start_registry()
    store = env.store
    canary = env.dir .. "/host-canary"
    sh("mkdir -p " .. q(canary) .. " && echo untouched > " .. q(canary .. "/file"))
    digest = env:build("app", { "--env", "FOO=from-image", "--env", "PATH=/bin:/usr/bin", "--workdir", "/srv/app",
      "--user", "app", "--cmd=sh", "--cmd=-c", "--cmd=echo from-cmd", "--file", "/etc/passwd=" .. PASSWD,
      "--file", "/srv/app/hello=hi" })
    env:push("app", reg, "app:1")
    env:build("ghost", { "--user", "ghost" })
    env:push("ghost", reg, "ghost:1")
    env:build("escape", { "--symlink", "/escape=../../../../../../../.." .. canary, "--workdir", "/escape" })
    env:push("escape", reg, "escape:1")
    env:build("nul", { "--config-json", 'Env=["A=x\\u0000y"]' })
    env:push("nul", reg, "nul:1")
    local big = {}
    for i = 1, 20 do big[i] = string.format('"BIG%d=%s"', i, string.rep("x", 100000)) end
    helpers.write_file(env.dir .. "/big.json", "[" .. table.concat(big, ",") .. "]")
    env:build("big", { "--config-json", "Env=@" .. env.dir .. "/big.json" })
    env:push("big", reg, "big:1")
  end)

  teardown(function()
    if env then
      helpers.cli({ "rm", "-f", "imgbox" })
      env:stop()
    end
  end)

  local function cli(args)
    return helpers.cli(args, { env = { MOONJAIL_IMAGE_STORE = store } })
  end
  local function run(args)
    local full = { "run", "--insecure-registry", reg.host }
    for _, a in ipairs(args) do full[#full + 1] = a end
    return cli(full)
  end
  local function ref(name) return reg.host .. "/" .. name end

  -- Every file under the store's unpacked layers: path, type, mode, owner, size and content hash.
  local function layers_fingerprint()
    return sh("cd " .. q(store .. "/layers") .. " && find . -path './.unpack-*' -prune -o "
      .. "-printf '%p %y %m %U:%G %s\\n' | sort | sha256sum && find . -type f ! -path './.unpack-*' -print0"
      .. " | sort -z | xargs -0 sha256sum | sha256sum")
  end

  it("pulls a missing image and runs busybox with the image's Env, WorkingDir and User", function()
    local r = run({ "--image", ref("app:1"), "--", "sh", "-c", "cat /etc/os-release; id; pwd; env" })
    assert.equal(0, r.status, r.stderr)
    assert.matches('NAME="moonjail test image"', r.stdout, 1, true)
    assert.matches("uid=1000(app) gid=1000", r.stdout, 1, true) -- the later layer's /etc/passwd
    assert.matches("\n/srv/app\n", r.stdout, 1, true)
    assert.matches("\nFOO=from-image\n", r.stdout, 1, true)
    assert.matches("\nPATH=/bin:/usr/bin\n", r.stdout, 1, true) -- not the shipped policy's PATH
    assert.matches("\nHOME=/home/app\n", r.stdout, 1, true)
    local list = helpers.json_decode(cli({ "images", "--json" }).stdout)
    assert.equal(1, #list)
    assert.equal(digest, list[1].digest)
  end)

  it("runs the image's Cmd without a command, and --entrypoint in front of the arguments", function()
    local r = run({ "--image", ref("app:1") })
    assert.equal(0, r.status, r.stderr)
    assert.equal("from-cmd\n", r.stdout)
    r = run({ "--image", ref("app:1"), "--entrypoint", "/bin/echo", "--", "a", "b" })
    assert.equal(0, r.status, r.stderr)
    assert.equal("a b\n", r.stdout)
  end)

  it("lets the call's user, workdir and env win over the image's", function()
    local r = run({ "--image", ref("app:1"), "--user", "0", "-w", "/tmp", "-e", "FOO=mine", "--", "sh", "-c",
      "id -u; pwd; echo $FOO" })
    assert.equal(0, r.status, r.stderr)
    assert.equal("0\n/tmp\nmine\n", r.stdout)
  end)

  it("writes into the container layer and leaves the store's layers as they were", function()
    local before = layers_fingerprint()
    local r = run({ "--image", ref("app:1"), "--user", "0", "--", "sh", "-c",
      "echo changed > /srv/app/hello && echo new > /bin/new && rm /etc/os-release && cat /srv/app/hello"
      .. " && ls /etc/os-release 2>/dev/null; echo rc=$?" })
    assert.equal(0, r.status, r.stderr)
    assert.equal("changed\nrc=1\n", r.stdout)
    assert.equal(before, layers_fingerprint())
    r = run({ "--image", ref("app:1"), "--", "sh", "-c", "cat /srv/app/hello; ls /bin/new 2>/dev/null;"
      .. " head -1 /etc/os-release" })
    assert.equal("hi", r.stdout:sub(1, 2))
    assert.matches('NAME="moonjail test image"', r.stdout, 1, true)
  end)

  it("caps the container layer with limits.disk (a policy of the user's beside the image)", function()
    local policy = env.dir .. "/small-disk.lua"
    helpers.write_file(policy, 'return { extends = "default", limits = { disk = "2M" } }\n')
    local r = run({ "--json", "--policy", policy, "--image", ref("app:1"), "--user", "0", "--", "sh", "-c",
      "set -e; head -c 8000000 /dev/zero > /fill" })
    local res = helpers.json_decode(r.stdout)
    assert.equal("disk", res.ended_by, r.stdout .. r.stderr)
  end)

  it("shows files with their image owners", function()
    local r = run({ "--image", ref("app:1"), "--user", "0", "--", "sh", "-c", "ls -ln /bin/busybox /srv/app/hello" })
    assert.equal(0, r.status, r.stderr)
    -- root: the image's 0:0 through idmapped lowers; rootless: the caller's files, mapped to the
    -- sandbox's user, 0 here
    for line in r.stdout:gmatch("[^\n]+") do assert.matches("^%S+%s+%d+%s+0%s+0%s", line) end
  end)

  it("refuses rmi while a sandbox uses the image, which keeps working", function()
    -- as 0: root owns /srv/app in the image (and a rootless sandbox maps one user only)
    local r = cli({ "create", "--insecure-registry", reg.host, "--image", ref("app:1"), "--user", "0", "imgbox" })
    assert.equal(0, r.status, r.stderr)
    r = cli({ "exec", "imgbox", "sh", "-c", "id -un; pwd; echo kept > /srv/app/note" })
    assert.equal(0, r.status, r.stderr)
    assert.equal("root\n/srv/app\n", r.stdout)
    local info = helpers.json_decode(cli({ "inspect", "--json", "imgbox" }).stdout)
    info = info[1] or info
    assert.equal(ref("app:1"), info.image)
    assert.equal(digest, info.image_digest)
    assert.matches("^linux/", info.platform)
    r = cli({ "rmi", ref("app:1") })
    assert.equal(125, r.status)
    assert.matches("INVALID_STATE", r.stderr, 1, true)
    assert.equal(1, math.tointeger(helpers.json_decode(cli({ "images", "--json" }).stdout)[1].in_use))
    r = cli({ "prune" })
    assert.equal(0, r.status, r.stderr)
    r = cli({ "exec", "imgbox", "cat", "/srv/app/note", "/srv/app/hello" })
    assert.equal(0, r.status, r.stderr)
    assert.equal("kept\nhi", r.stdout)
    assert.equal(0, cli({ "rm", "-f", "imgbox" }).status)
    assert.is_true(helpers.eventually(5, function()
      return helpers.json_decode(cli({ "images", "--json" }).stdout)[1].in_use == 0
    end))
    r = cli({ "rmi", ref("app:1") })
    assert.equal(0, r.status, r.stderr)
  end)

  it("takes an image in mj.sandbox{} and a recipe, and says so in info()", function()
    local script = env.dir .. "/sb.lua"
    helpers.write_file(script, string.format([[
      local mj = require "moonjail"
      local sb = assert(mj.sandbox{ image = %q, insecure_registries = { %q } })
      local r = assert(sb:exec{ "sh", "-c", "id -un; pwd; echo $FOO" })
      local info = sb:info()
      io.write(r.stdout, info.image, " ", info.image_digest, "\n")
      sb:destroy()
      local rep = assert(mj.recipe({ image = %q, steps = { { run = "cat /srv/app/hello" } } }, { quiet = true }))
      io.write(rep.status, "\n")
    ]], ref("app:1"), reg.host, ref("app:1")))
    local r = cli({ "script", script })
    assert.equal(0, r.status, r.stderr)
    local lines = helpers.lines(r.stdout)
    assert.same({ "app", "/srv/app", "from-image" }, { lines[1], lines[2], lines[3] })
    assert.equal(ref("app:1") .. " " .. digest, lines[4])
    assert.equal("passed", lines[5])
  end)

  it("refuses a User that names no user in the image", function()
    local r = run({ "--image", ref("ghost:1"), "--", "true" })
    assert.equal(125, r.status)
    assert.matches("IMAGE", r.stderr, 1, true)
    assert.matches("no user 'ghost'", r.stderr, 1, true)
  end)

  it("keeps a WorkingDir through a symlink out of the root inside the sandbox", function()
    local r = run({ "--image", ref("escape:1"), "--user", "0", "--", "sh", "-c", "echo pwned > x; pwd" })
    assert.not_equal(0, r.status)
    assert.matches("working directory '/escape'", r.stderr, 1, true)
    assert.equal("untouched\n", helpers.read_file(canary .. "/file"))
    assert.equal("file", sh("ls " .. q(canary)))
  end)

  it("refuses Env with NUL bytes or megabytes of it", function()
    local r = run({ "--image", ref("nul:1"), "--", "true" })
    assert.equal(125, r.status)
    assert.matches("IMAGE", r.stderr, 1, true)
    assert.matches("NUL", r.stderr, 1, true)
    r = run({ "--image", ref("big:1"), "--", "true" })
    assert.equal(125, r.status)
    assert.matches("IMAGE", r.stderr, 1, true)
    assert.matches("Env holds %d+ bytes", r.stderr)
  end)
end)

-- spec/oci/podman_spec.lua — podman (as root) running containers with moonjail as its OCI
-- runtime (`--runtime build/moonjail-runc`), beside runc as the reference, on a busybox image
-- from a loopback registry this spec starts (spec/registry.lua).
--
-- podman's storage and run state are private to the spec (--root/--runroot in a temp dir, the
-- vfs driver), so it neither sees nor leaves anything of the host's podman.  The host notes
-- (/work/shared/HOST-NOTES.md) apply: pid 1 is not systemd (--cgroup-manager cgroupfs
-- --events-backend file), root lacks CAP_SYS_RESOURCE (explicit --ulimit).  Skipped, with the
-- reason, where podman, conmon or the registry tools are missing or the caller is not root.
local helpers = require "spec.helpers"
local registry = require "spec.registry"

if not helpers.is_root() then return helpers.skip_file("podman runs containers as root in these specs") end
if helpers.skip_unless_sandboxes() then return end
for _, tool in ipairs({ "podman", "conmon" }) do
  if os.execute("command -v " .. tool .. " >/dev/null 2>&1") ~= true then
    return helpers.skip_file("the podman specs need " .. tool .. " (./bootstrap test installs it)")
  end
end
if registry.skip_unless_available() then return end

local q = helpers.shell_quote

local function build_dir()
  local d = os.getenv("MOONJAIL_BUILD_DIR")
  if d and d ~= "" then return d end
  return (helpers.moonjail_bin():gsub("/[^/]*$", ""))
end

describe("podman with --runtime moonjail-runc", function()
  local env, image, work, podman
  local runtimes = {}

  -- podman …: status, stdout, stderr
  local function run_podman(runtime, args)
    local out, err = work .. "/out", work .. "/err"
    local words = { podman }
    if runtime then words[#words + 1] = "--runtime " .. q(runtime) end
    for _, a in ipairs(args) do words[#words + 1] = q(a) end
    local _, how, code = os.execute(table.concat(words, " ") .. " </dev/null >" .. q(out) .. " 2>" .. q(err))
    return how == "signal" and 128 + code or code, helpers.read_file(out) or "", helpers.read_file(err) or ""
  end

  local RUN = { "run", "--rm", "--network", "none", "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=4096:4096" }
  local function run_args(extra, cmd)
    local a = {}
    for _, w in ipairs(RUN) do a[#a + 1] = w end
    for _, w in ipairs(extra or {}) do a[#a + 1] = w end
    a[#a + 1] = image
    for _, w in ipairs(cmd) do a[#a + 1] = w end
    return a
  end

  setup(function()
    env = registry.new()
    work = env.dir
    local reg = env:start_registry()
    env:build("bb")
    env:push("bb", reg, "busybox:1")
    image = reg.host .. "/busybox:1"
    podman = table.concat({ "podman", "--root", q(work .. "/storage"), "--runroot", q(work .. "/run"),
      "--storage-driver", "vfs", "--cgroup-manager", "cgroupfs", "--events-backend", "file",
      "--tmpdir", q(work .. "/tmp") }, " ")
    local s, _, err = run_podman(nil, { "pull", "-q", "--tls-verify=false", image })
    assert(s == 0, "podman pull failed: " .. err)
    runtimes.moonjail = build_dir() .. "/moonjail-runc"
    if os.execute("command -v runc >/dev/null 2>&1") == true then runtimes.runc = "runc" end
  end)

  teardown(function()
    if podman then
      run_podman(nil, { "rm", "--all", "--force" })
      run_podman(nil, { "rmi", "--all", "--force" })
    end
    if env then env:stop() end
  end)

  local function both(fn)
    local seen = {}
    for _, name in ipairs({ "moonjail", "runc" }) do
      if runtimes[name] then seen[name] = { fn(runtimes[name]) } end
    end
    return seen
  end

  it("run --rm: the command's output and exit status, as with runc", function()
    local seen = both(function(rt)
      return run_podman(rt, run_args({}, { "sh", "-c", "echo hello from podman; exit 3" }))
    end)
    local s, out, err = table.unpack(seen.moonjail)
    assert.are.equal(3, s, "podman said: " .. err)
    assert.matches("^hello from", out)
    if seen.runc then assert.are.equal(seen.runc[1], s) end
  end)

  it("run --rm: the container's root is not host root", function()
    local s, out, err = run_podman(runtimes.moonjail, run_args({}, { "cat", "/proc/self/uid_map" }))
    assert.are.equal(0, s, err)
    local host = tonumber(out:match("^%s*0%s+(%d+)"))
    assert.is_truthy(host and host > 0, "uid_map: " .. out)
  end)

  it("run --rm --pids-limit is enforced", function()
    local s, out, err = run_podman(runtimes.moonjail, run_args({ "--pids-limit", "6" }, { "sh", "-c",
      "for i in 1 2 3 4 5 6 7 8 9 10; do sleep 5 & done; echo all-forked" }))
    assert.are_not.equal(0, s, err)
    assert.is_nil(out:find("all-forked", 1, true))
    assert.matches("can't fork", err)
  end)

  it("run --rm --memory is enforced", function()
    local s, _, err = run_podman(runtimes.moonjail, run_args({ "--memory", "32m" }, { "sh", "-c",
      "a=$(head -c 100000000 /dev/zero | tr '\\0' a); echo survived" }))
    assert.are_not.equal(0, s, "the container survived: " .. err)
  end)

  it("run -d, logs, exec, stop, rm", function()
    local s, out, err = run_podman(runtimes.moonjail, { "run", "-d", "--network", "none", "--ulimit",
      "nofile=1024:1024", "--ulimit", "nproc=4096:4096", image, "sh", "-c", "echo up; sleep 600" })
    assert.are.equal(0, s, err)
    local id = out:match("%x+")
    assert.is_truthy(helpers.eventually(10, function()
      local _, logs = run_podman(runtimes.moonjail, { "logs", id })
      return logs == "up\n"
    end))
    local _
    -- exec: a process beside the main one, its output and exit status
    local xout
    s, xout, err = run_podman(runtimes.moonjail, { "exec", id, "sh", "-c", "echo in exec; exit 5" })
    assert.are.equal(5, s, err)
    assert.are.equal("in exec\n", xout)
    s, xout, err = run_podman(runtimes.moonjail,
      { "exec", "-w", "/bin", "-e", "X=y", id, "sh", "-c", "echo $X $(pwd)" })
    assert.are.equal(0, s, err)
    assert.are.equal("y /bin\n", xout)
    s, _, err = run_podman(runtimes.moonjail, { "stop", "-t", "2", id })
    assert.are.equal(0, s, err)
    s, _, err = run_podman(runtimes.moonjail, { "rm", id })
    assert.are.equal(0, s, err)
    -- nothing of the container is left in moonjail's runtime directories
    local base = "/run/moonjail-runc/"
    assert.are.equal("", helpers.sh("ls -d " .. base .. id .. "* " .. base .. "mnt/" .. id .. "* 2>/dev/null"))
  end)
end)

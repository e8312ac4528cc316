-- spec/oci/containerd_spec.lua — containerd (started by the spec, private root, state and socket)
-- running a busybox image from a loopback registry with moonjail-runc as the runc shim's binary
-- (`ctr run --runc-binary`), beside runc itself.  Skipped, with the reason, where containerd,
-- ctr or the registry tools are missing or the caller is not root.
local helpers = require "spec.helpers"
local registry = require "spec.registry"

if not helpers.is_root() then return helpers.skip_file("containerd runs containers as root in these specs") end
if helpers.skip_unless_sandboxes() then return end
for _, tool in ipairs({ "containerd", "ctr", "containerd-shim-runc-v2" }) do
  if os.execute("command -v " .. tool .. " >/dev/null 2>&1") ~= true then
    return helpers.skip_file("the containerd specs need " .. tool .. " (./bootstrap test installs containerd)")
  end
end
if registry.skip_unless_available() then return end

local q = helpers.shell_quote

local function build_dir()
  local d = os.getenv("MOONJAIL_BUILD_DIR")
  if d and d ~= "" then return d end
  return (helpers.moonjail_bin():gsub("/[^/]*$", ""))
end

describe("containerd with moonjail-runc as the runc shim's binary", function()
  local env, image, ctr, pid

  local function run_ctr(args)
    local out, err = env.dir .. "/ctr.out", env.dir .. "/ctr.err"
    local words = { ctr }
    for _, a in ipairs(args) do words[#words + 1] = q(a) end
    local _, how, code = os.execute("timeout 120 " .. table.concat(words, " ") .. " </dev/null >" .. q(out) .. " 2>"
      .. q(err))
    return how == "signal" and 128 + code or code, helpers.read_file(out) or "", helpers.read_file(err) or ""
  end

  setup(function()
    env = registry.new()
    local reg = env:start_registry()
    env:build("bb")
    env:push("bb", reg, "busybox:1")
    image = reg.host .. "/busybox:1"
    local d = env.dir .. "/containerd"
    os.execute("mkdir -p " .. q(d))
    pid = env:spawn(table.concat({ "containerd", "--root", q(d .. "/root"), "--state", q(d .. "/state"),
      "--address", q(d .. "/sock") }, " "), d .. "/log")
    ctr = "ctr --address " .. q(d .. "/sock")
    assert(helpers.eventually(20, function() return os.execute("test -S " .. q(d .. "/sock")) == true end),
      "containerd did not start: " .. (helpers.read_file(d .. "/log") or ""):sub(-400))
    local s, _, err = run_ctr({ "image", "pull", "--plain-http", image })
    assert(s == 0, "ctr image pull failed: " .. err)
  end)

  teardown(function()
    if env then env:stop() end -- containerd is one of its processes
  end)

  it("ctr run --rm: output and exit status as with runc", function()
    local seen = {}
    local runtimes = { moonjail = build_dir() .. "/moonjail-runc" }
    if os.execute("command -v runc >/dev/null 2>&1") == true then runtimes.runc = "runc" end
    for name, bin in pairs(runtimes) do
      local id = "mjspec-" .. name .. "-" .. helpers.unique_number()
      seen[name] = { run_ctr({ "run", "--rm", "--runc-binary", bin, image, id, "sh", "-c",
        "echo hello from containerd; exit 4" }) }
    end
    local s, out, err = table.unpack(seen.moonjail)
    assert.are.equal(4, s, err)
    assert.are.equal("hello from containerd\n", out)
    if seen.runc then assert.are.equal(seen.runc[1], s) end
    local _, tasks = run_ctr({ "task", "ls", "-q" })
    assert.are.equal("", tasks)
  end)

  it("ctr run --rm: the container's root is not host root", function()
    local s, out, err = run_ctr({ "run", "--rm", "--runc-binary", build_dir() .. "/moonjail-runc", image,
      "mjspec-uid-" .. helpers.unique_number(), "cat", "/proc/self/uid_map" })
    assert.are.equal(0, s, err)
    local host = tonumber(out:match("^%s*0%s+(%d+)"))
    assert.is_truthy(host and host > 0, "uid_map: " .. out)
    assert.is_truthy(pid)
  end)

  it("ctr task exec: output and exit status of a process in a running task", function()
    local id = "mjspec-exec-" .. helpers.unique_number()
    local s, _, err = run_ctr({ "run", "-d", "--runc-binary", build_dir() .. "/moonjail-runc", image, id,
      "sleep", "600" })
    assert.are.equal(0, s, err)
    local out
    s, out, err = run_ctr({ "task", "exec", "--exec-id", "e1", id, "sh", "-c", "echo in the task; exit 6" })
    local s2, out2, err2 = run_ctr({ "task", "exec", "--exec-id", "e2", id, "cat", "/proc/self/uid_map" })
    run_ctr({ "task", "kill", "-s", "KILL", id })
    helpers.eventually(10, function() return run_ctr({ "task", "rm", id }) == 0 end)
    run_ctr({ "container", "rm", id })
    assert.are.equal(6, s, err)
    assert.are.equal("in the task\n", out)
    assert.are.equal(0, s2, err2)
    assert.is_truthy((tonumber(out2:match("^%s*0%s+(%d+)")) or 0) > 0, "uid_map: " .. out2)
    local _, tasks = run_ctr({ "task", "ls", "-q" })
    assert.are.equal("", tasks)
  end)
end)

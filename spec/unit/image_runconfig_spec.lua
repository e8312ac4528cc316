-- spec/unit/image_runconfig_spec.lua — what an image's config means for a sandbox and how it meets
-- policies and a call's options (moonjail.image.runconfig): the image's config first, then what
-- the user's policy or call sets explicitly; the shipped policies' host-oriented settings (root
-- = "host" with its host_paths, user, workdir, PATH and the host variables they pass) never
-- override an image.  Hostile Env/User/WorkingDir values are refused or cleaned.
local mj = require "moonjail"
local runconfig = require "moonjail.image.runconfig"

local function cfg(c) return { os = "linux", architecture = "amd64", config = c } end

describe("image run config", function()
  it("reads Env, WorkingDir, User, Entrypoint, Cmd, Labels and StopSignal", function()
    local run = assert(runconfig.from_config(cfg{ Env = { "PATH=/usr/bin:/bin", "A=1=2", "A=3" },
      WorkingDir = "/srv/app/", User = "app:staff", Entrypoint = { "/entry" }, Cmd = { "serve", "-v" },
      Labels = { ["org.example"] = "x" }, StopSignal = "SIGQUIT" }))
    assert.same({ "PATH=/usr/bin:/bin", "A=3" }, run.env)
    assert.same({ PATH = "/usr/bin:/bin", A = "3" }, run.env_map)
    assert.equal("/srv/app", run.workdir)
    assert.equal("app:staff", run.user)
    assert.same({ "/entry" }, run.entrypoint)
    assert.same({ "serve", "-v" }, run.cmd)
    assert.same({ ["org.example"] = "x" }, run.labels)
    assert.equal("SIGQUIT", run.stop_signal)
    local empty = assert(runconfig.from_config({ os = "linux", architecture = "amd64" }))
    assert.same({}, empty.env)
    assert.is_nil(empty.workdir)
    assert.is_nil(empty.user)
  end)

  it("refuses or cleans hostile values", function()
    local _, code, msg = runconfig.from_config(cfg{ Env = { "NOEQUALS" } })
    assert.equal("IMAGE", code)
    assert.matches("Env entry 1", msg)
    _, code = runconfig.from_config(cfg{ Env = { "=x" } })
    assert.equal("IMAGE", code)
    for _, u in ipairs({ "root; rm -rf /", "a b", "../x", "x:y:z", string.rep("u", 300) }) do
      _, code, msg = runconfig.from_config(cfg{ User = u })
      assert.equal("IMAGE", code, u)
      assert.matches("User", msg)
    end
    assert.equal("1000", runconfig.from_config(cfg{ User = "1000" }).user)
    assert.equal("/etc", runconfig.from_config(cfg{ WorkingDir = "../../../etc" }).workdir)
    assert.equal("/", runconfig.from_config(cfg{ WorkingDir = "/a/../../.." }).workdir)
    _, code = runconfig.from_config(cfg{ WorkingDir = "/" .. string.rep("d", 5000) })
    assert.equal("IMAGE", code)
  end)

  describe("merged with policies", function()
    local shipped, run

    setup(function()
      shipped = assert(mj.load_policy("default"))
      run = assert(runconfig.from_config(cfg{ Env = { "PATH=/opt/bin", "LANG=C.UTF-8", "APP=1" },
        WorkingDir = "/srv", User = "65534" }))
    end)

    it("lets the image's config win over the shipped policy's host-oriented settings", function()
      local s = assert(runconfig.merge(run, shipped, shipped, {}))
      assert.equal("65534", s.user)
      assert.equal("/srv", s.workdir)
      assert.equal("/opt/bin", s.env.PATH)
      assert.equal("C.UTF-8", s.env.LANG)
      assert.equal("1", s.env.APP)
      assert.same({ "TERM" }, s.pass) -- LANG: the image sets it, the host's does not replace it
      assert.same({}, s.host_paths)
      assert.is_false(s.readonly_root)
      assert.same({ user = "image", workdir = "image", PATH = "image" }, s.origin)
    end)

    it("takes the shipped defaults only where the image says nothing", function()
      local bare = assert(runconfig.from_config(cfg{}))
      local s = assert(runconfig.merge(bare, shipped, shipped, {}))
      assert.equal("0:0", s.user)
      assert.equal("/", s.workdir)
      assert.equal(shipped.env.set.PATH, s.env.PATH)
      assert.same({ user = "default", workdir = "default", PATH = "policy" }, s.origin)
    end)

    it("lets what the user's policy sets explicitly win over the image", function()
      local mine = assert(mj.load_policy({ extends = "default", user = "1000:1000", workdir = "/work",
        env = { set = { PATH = "/mine/bin", EXTRA = "e" }, pass = { "TERM", "LANG", "HOME_TOKEN" } },
        filesystem = { readonly_root = false, host_paths = { "/usr", "/opt/tools" } } }))
      local s = assert(runconfig.merge(run, mine, shipped, {}))
      assert.equal("1000:1000", s.user)
      assert.equal("/work", s.workdir)
      assert.equal("/mine/bin", s.env.PATH)
      assert.equal("e", s.env.EXTRA)
      assert.same({ "/opt/tools" }, s.host_paths)
      assert.same({ "TERM", "HOME_TOKEN" }, s.pass)
      assert.same({ user = "policy", workdir = "policy", PATH = "policy" }, s.origin)
    end)

    it("lets the call win over everything", function()
      local s = assert(runconfig.merge(run, shipped, shipped, { user = "7", workdir = "/tmp",
        env = { PATH = "/call", APP = "2" }, readonly_root = true }))
      assert.equal("7", s.user)
      assert.equal("/tmp", s.workdir)
      assert.equal("/call", s.env.PATH)
      assert.equal("2", s.env.APP)
      assert.is_true(s.readonly_root)
      assert.same({ user = "call", workdir = "call", PATH = "call" }, s.origin)
    end)

    it("treats a policy with no shipped parent as explicit throughout", function()
      local s = assert(runconfig.merge(run, { user = "5:5", env = { set = { PATH = "/p" } } }, nil, {}))
      assert.equal("5:5", s.user)
      assert.equal("/p", s.env.PATH)
      assert.equal("/srv", s.workdir)
    end)

    it("refuses an image together with a rootfs", function()
      local _, code = runconfig.merge(run, shipped, shipped, { rootfs = "/srv/root" })
      assert.equal("INVALID_CONFIG", code)
      local own = assert(mj.load_policy({ extends = "default", filesystem = { root = "/" } }))
      _, code = runconfig.merge(run, own, shipped, {})
      assert.equal("INVALID_CONFIG", code)
    end)
  end)

  it("builds the command as docker does", function()
    local run = { entrypoint = { "/entry", "-x" }, cmd = { "serve" } }
    assert.same({ "/entry", "-x", "serve" }, runconfig.command(run, nil))
    assert.same({ "/entry", "-x", "sh" }, runconfig.command(run, { "sh" }))
    assert.same({ "sh" }, runconfig.command(run, { "sh" }, {}))
    assert.same({ "/other" }, runconfig.command(run, {}, { "/other" })) -- a new entrypoint drops Cmd
    assert.same({ "serve" }, runconfig.command({ cmd = { "serve" } }, {}))
    local _, code = runconfig.command({}, {})
    assert.equal("INVALID_CONFIG", code)
  end)
end)

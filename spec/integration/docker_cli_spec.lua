-- spec/integration/docker_cli_spec.lua — a docker user's habits on moonjail's command line
-- (issue "A docker or bubblewrap user's first hour"): each docker-style invocation below either
-- works with its effect asserted, or fails at once with exit 125 and one line that names what was
-- typed and says why and the moonjail way.  Never a silent difference.
--
-- Covers: -v/--volume SRC:DST[:ro|rw] (and the suffixes refused: z, Z, propagation, a named or an
-- anonymous volume), --ro/--rw with :ro/:rw (a contradicting or unknown suffix, an empty DST),
-- --tmpfs DST:size=…,mode=… (noexec refused), --mount type=bind|tmpfs, --read-only, --cap-add,
-- --cap-drop, --security-opt no-new-privileges|seccomp=unconfined|apparmor=…, --ulimit, --env-file,
-- -eK=V / -e=K / -de K=V, --init, --net/--network, --rootfs, --entrypoint (only with --image),
-- --rm, --pids-limit -1, -h with arguments, a value that is an option (-e --rm), hex numbers,
-- exec NAME -- CMD, inspect, unknown options and commands with "did you mean", every other flag
-- of `docker run --help` and `docker exec --help` refused with its reason, docker's commands
-- moonjail lacks.  Named runs (--name, -d, logs, start) are logs_spec.lua's.
local helpers = require "spec.helpers"

if helpers.skip_unless_sandboxes() then return end

local tables = require "moonjail.cli_tables"
local q = helpers.shell_quote

local state_dir
local function cli(args, opts)
  opts = opts or {}
  opts.env = opts.env or {}
  opts.env.MOONJAIL_STATE_DIR = state_dir
  return helpers.cli(args, opts)
end

local function run_ok(args, opts)
  local r = cli(args, opts)
  assert(r.status == 0, "moonjail " .. table.concat(args, " ") .. " exited " .. r.status .. ": " .. r.stderr)
  return r.stdout
end

-- Asserts a refusal: 125, one line naming `names` (plain texts); returns the message.
local function refused(r, ...)
  assert.are.equal(125, r.status, "stdout: " .. r.stdout .. " stderr: " .. r.stderr)
  local msg = r.stderr:match("^moonjail: [A-Z_]+: ([^\n]+)\n$")
  assert.is_truthy(msg, "not one 'moonjail: CODE: message' line: " .. r.stderr)
  for _, n in ipairs({ ... }) do assert.matches(n, msg, 1, true) end
  return msg
end

local dir
describe("docker's run flags", function()
  setup(function()
    state_dir = helpers.tmpdir("0700")
  end)
  before_each(function()
    dir = helpers.tmpdir()
    helpers.write_file(dir .. "/f", "hello\n")
    helpers.chmod(dir, "0777")
  end)
  teardown(function() helpers.cleanup() end)

  describe("-v, --volume SRC:DST[:OPTS]", function()
    it("binds read-write by default, read-only with :ro", function()
      assert.are.equal("hello\nwrote\n", run_ok({ "run", "-v", dir .. ":/data", "--", "sh", "-c",
        "cat /data/f && echo x > /data/new && echo wrote" }))
      assert.are.equal("x\n", helpers.read_file(dir .. "/new"))
      local r = cli({ "run", "--volume", dir .. ":/data:ro", "--", "sh", "-c", "cat /data/f; echo y > /data/f2" })
      assert.are_not.equal(0, r.status)
      assert.are.equal("hello\n", r.stdout)
      assert.matches("Read%-only file system", r.stderr)
      assert.is_false(helpers.exists(dir .. "/f2"))
      assert.are.equal("hello\n", run_ok({ "run", "-v", dir .. ":/data:rw", "--", "cat", "/data/f" }))
    end)

    it("refuses what it cannot do, naming it: z/Z, propagation, named and anonymous volumes, a ':' too many",
      function()
      refused(cli({ "run", "-v", dir .. ":/data:z", "true" }), ":z", "SELinux")
      refused(cli({ "run", "-v", dir .. ":/data:ro,Z", "true" }), ":Z")
      refused(cli({ "run", "-v", dir .. ":/data:rshared", "true" }), "rshared", "propagation")
      refused(cli({ "run", "-v", "myvol:/data", "true" }), "myvol", "named volume")
      refused(cli({ "run", "-v", "/data", "true" }), "/data", "anonymous", "--tmpfs")
      refused(cli({ "run", "-v", dir .. ":/a:b:ro", "true" }), dir .. ":/a:b:ro")
      refused(cli({ "run", "-v", dir .. ":/data:ro,rw", "true" }), "ro and rw")
      refused(cli({ "run", "-v", dir .. ":/data:bogus", "true" }), "bogus")
    end)
  end)

  describe("--ro and --rw with docker's suffixes", function()
    it("take :ro and :rw where they agree with the flag", function()
      assert.are.equal("hello\n", run_ok({ "run", "--ro", dir .. ":/data:ro", "--", "cat", "/data/f" }))
      run_ok({ "run", "--rw", dir .. ":/data:rw", "--", "sh", "-c", "echo z > /data/z" })
      assert.are.equal("z\n", helpers.read_file(dir .. "/z"))
    end)

    it("refuse a contradicting or unknown suffix and an empty destination, never folding them into a path",
      function()
      refused(cli({ "run", "--rw", dir .. ":/x:ro", "true" }), "':ro' contradicts --rw")
      refused(cli({ "run", "--ro", dir .. ":/x:rw", "true" }), "':rw' contradicts --ro")
      refused(cli({ "run", "--ro", dir .. ":/data:noexec", "true" }), ":noexec")
      refused(cli({ "run", "--ro", dir .. ":", "true" }), "empty destination", dir .. ":")
    end)
  end)

  describe("--tmpfs DST[:OPTS]", function()
    it("mounts a tmpfs with docker's size= and mode=", function()
      local out = run_ok({ "run", "--tmpfs", "/scratch:size=2m,mode=0700,nosuid", "--", "sh", "-c",
        "stat -c %a /scratch; df -k /scratch | tail -1" })
      local lines = helpers.lines(out)
      assert.are.equal("700", lines[1])
      assert.matches("^%S+%s+2048%s", lines[2])
    end)

    it("refuses options it does not apply", function()
      refused(cli({ "run", "--tmpfs", "/s:noexec", "true" }), "noexec")
      refused(cli({ "run", "--tmpfs", "/s:uid=1000", "true" }), "uid=1000")
      refused(cli({ "run", "--tmpfs", "/s:bogus=1", "true" }), "bogus=1")
    end)
  end)

  describe("--mount", function()
    it("binds (readonly) and mounts tmpfs", function()
      local r = cli({ "run", "--mount", "type=bind,source=" .. dir .. ",target=/m,readonly", "--", "sh", "-c",
        "cat /m/f; touch /m/t" })
      assert.are.equal(1, r.status)
      assert.are.equal("hello\n", r.stdout)
      assert.matches("Read%-only file system", r.stderr)
      run_ok({ "run", "--mount", "type=bind,src=" .. dir .. ",dst=/m", "--", "touch", "/m/t" })
      assert.is_true(helpers.exists(dir .. "/t"))
      assert.matches("%s1024%s", run_ok({ "run", "--mount", "type=tmpfs,dst=/t,tmpfs-size=1m", "--", "sh", "-c",
        "df -k /t | tail -1" }))
    end)

    it("refuses volumes, a missing type and keys it does not know", function()
      refused(cli({ "run", "--mount", "type=volume,src=v,dst=/v", "true" }), "type=volume")
      refused(cli({ "run", "--mount", "src=" .. dir .. ",dst=/v", "true" }), "type=")
      refused(cli({ "run", "--mount", "type=bind,src=" .. dir .. ",dst=/v,bind-propagation=shared", "true" }),
        "bind-propagation")
    end)
  end)

  it("--read-only keeps the root read-only even under a policy with a writable root", function()
    local pol = helpers.write_file(dir .. "/rw-root.lua",
      'return { extends = "default", filesystem = { readonly_root = false } }')
    assert.are.equal("wrote\n", run_ok({ "run", "--policy", pol, "--", "sh", "-c", "touch /mjspec && echo wrote" }))
    local r = cli({ "run", "--policy", pol, "--read-only", "--", "sh", "-c", "touch /mjspec" })
    assert.are.equal(1, r.status)
    assert.matches("Read%-only file system", r.stderr)
  end)

  it("--cap-add keeps a capability; --cap-drop takes away one the policy keeps", function()
    local function capeff(out) return tonumber(out:match("CapEff:%s*(%x+)"), 16) end
    local NET_RAW = 1 << 13
    assert.are.equal(NET_RAW, capeff(run_ok({ "run", "--cap-add", "NET_RAW", "--", "grep", "CapEff",
      "/proc/self/status" })))
    local pol = helpers.write_file(dir .. "/caps.lua",
      'return { extends = "default", capabilities = { add = { "NET_RAW", "CHOWN" } } }')
    assert.are.equal(NET_RAW | 1, capeff(run_ok({ "run", "--policy", pol, "--", "grep", "CapEff",
      "/proc/self/status" })))
    assert.are.equal(1, capeff(run_ok({ "run", "--policy", pol, "--cap-drop", "NET_RAW", "--", "grep", "CapEff",
      "/proc/self/status" })))
    assert.are.equal(NET_RAW, capeff(run_ok({ "run", "--policy", pol, "--cap-drop", "ALL", "--cap-add", "CAP_NET_RAW",
      "--", "grep", "CapEff", "/proc/self/status" })))
    refused(cli({ "run", "--cap-add", "NET_RAW", "--cap-drop", "NET_RAW", "true" }), "contradict")
  end)

  it("--security-opt: no-new-privileges (always on), seccomp=unconfined, apparmor=…; others refused", function()
    assert.matches("NoNewPrivs:%s*1", run_ok({ "run", "--security-opt", "no-new-privileges", "--", "grep",
      "NoNewPrivs", "/proc/self/status" }))
    assert.matches("Seccomp:%s*2", run_ok({ "run", "--", "grep", "Seccomp:", "/proc/self/status" }))
    assert.matches("Seccomp:%s*0", run_ok({ "run", "--security-opt", "seccomp=unconfined", "--", "grep", "Seccomp:",
      "/proc/self/status" }))
    -- seccomp=FILE reaches the policy's seccomp.profile: an allow-by-default profile is refused there
    local allow_all = helpers.write_file(dir .. "/allow-all.json", '{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[]}')
    refused(cli({ "run", "--security-opt", "seccomp=" .. allow_all, "true" }), "allow")
    if helpers.exists("/usr/share/containers/seccomp.json") then -- podman's own profile (Debian's containers-common)
      assert.are.equal("ok\n", run_ok({ "run", "--security-opt", "seccomp=/usr/share/containers/seccomp.json", "--",
        "echo", "ok" }))
    end
    local r = cli({ "run", "--security-opt", "apparmor=mjspec-profile", "true" })
    if not helpers.exists("/sys/kernel/security/apparmor") then
      refused(r, "AppArmor", "mjspec-profile") -- it reached the policy's apparmor key, which fails closed
    end
    refused(cli({ "run", "--security-opt", "no-new-privileges:false", "true" }), "no_new_privs")
    refused(cli({ "run", "--security-opt", "label=type:x", "true" }), "label=type:x", "selinux")
    refused(cli({ "run", "--security-opt", "bogus", "true" }), "bogus")
  end)

  it("--ulimit sets nofile, nproc, fsize and cpu; one value for soft and hard", function()
    assert.are.equal("100\n", run_ok({ "run", "--ulimit", "nofile=100", "--", "sh", "-c", "ulimit -n" }))
    assert.are.equal("100\n", run_ok({ "run", "--ulimit", "nofile=100:100", "--", "sh", "-c", "ulimit -n" }))
    assert.are.equal("7\n", run_ok({ "run", "--ulimit", "cpu=7", "--", "sh", "-c", "ulimit -t" }))
    refused(cli({ "run", "--ulimit", "nofile=100:200", "true" }), "nofile=100:200", "differ")
    refused(cli({ "run", "--ulimit", "core=0", "true" }), "core")
    refused(cli({ "run", "--ulimit", "nofile=0x10", "true" }), "0x10")
  end)

  it("-e in docker's forms, and --env-file", function()
    local env = helpers.write_file(dir .. "/env", "# a comment\nA=1\n\n  B=two words\nMJSPEC_PASS\n")
    assert.are.equal("1|two words|passed|V|K2v\n", run_ok({ "run", "--env-file", env, "-eK=V", "-e=K2=K2v", "--",
      "sh", "-c", 'echo "$A|$B|$MJSPEC_PASS|$K|$K2"' }, { env = { MJSPEC_PASS = "passed" } }))
    refused(cli({ "run", "--env-file", dir .. "/missing", "true" }), "--env-file", "missing")
  end)

  it("--init is accepted: moonjail's own init is pid 1", function()
    assert.are.equal("moonjail-init\n", run_ok({ "run", "--init", "--", "cat", "/proc/1/comm" }))
  end)

  it("--net and --network choose the network", function()
    assert.are.equal("lo\n", run_ok({ "run", "--net=none", "--", "sh", "-c",
      "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '" }))
    assert.are.equal("lo\n", run_ok({ "run", "--network", "none", "--", "sh", "-c",
      "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '" }))
  end)

  it("--rootfs DIR runs on that directory as the root", function()
    if not helpers.exists("/bin/busybox") then return pending("no /bin/busybox to build a root from") end
    local root = helpers.tmpdir()
    helpers.sh("cd " .. q(root) .. " && mkdir -p bin proc dev tmp && cp /bin/busybox bin/ && echo mine > marker"
      .. " && chmod -R a+rX .")
    assert.are.equal("mine\n", run_ok({ "run", "--rootfs", root, "--", "/bin/busybox", "cat", "/marker" }))
  end)

  it("--entrypoint needs --image", function()
    refused(cli({ "run", "--entrypoint", "/bin/sh", "--", "-c", "true" }), "--entrypoint", "--image")
    -- with --image it is taken (image_run_spec runs it); here the image's reference is what fails
    refused(cli({ "run", "--image", "Not A Reference", "--entrypoint", "/bin/sh", "--", "-c", "true" }),
      "Not A Reference")
  end)

  it("--rm leaves nothing behind (as every run without --name)", function()
    assert.are.equal("x\n", run_ok({ "run", "--rm", "--", "echo", "x" }))
    assert.are.equal("", run_ok({ "ps", "-aq" }))
  end)

  it("--timeout ends the command with 124 and one line saying so", function()
    local r = cli({ "run", "--timeout", "300ms", "--", "sleep", "5" })
    assert.are.equal(124, r.status)
    assert.are.equal("moonjail: warning: the command ran past its time limit (0.3s) and was killed\n", r.stderr)
  end)

  it("--pids-limit -1 is unlimited; numbers are decimal", function()
    local r = cli({ "run", "--pids-limit", "-1", "--", "true" })
    assert.are.equal(0, r.status, r.stderr)
    refused(cli({ "run", "--cpus", "0x10", "true" }), "0x10")
    refused(cli({ "run", "--pids-limit", "0x10", "true" }), "0x10")
    refused(cli({ "run", "--cpus", "1e3", "true" }), "1e3")
  end)

  it("refuses docker's -h HOST (moonjail's -h is help) and an option taken as a value", function()
    refused(cli({ "run", "-h", "myhost", "true" }), "--hostname")
    refused(cli({ "run", "-e", "--rm", "true" }), "'-e'", "'--rm'", "-e=--rm")
    assert.are.equal("--rm\n", run_ok({ "run", "-e=X=--rm", "--", "sh", "-c", "echo $X" }))
  end)

  it("suggests what was meant for an unknown option or command", function()
    refused(cli({ "run", "--polcy", "x", "true" }), "--polcy", "did you mean '--policy'")
    refused(cli({ "exce", "box", "true" }), "exce", "did you mean 'exec'")
    refused(cli({ "inspekt", "box" }), "did you mean 'inspect'")
    refused(cli({ "ps", "--al" }), "did you mean '--all'")
  end)

  -- docker run --help (Docker 24-25): every long flag; short ones below.
  local DOCKER_RUN = [[add-host annotation attach blkio-weight blkio-weight-device cap-add cap-drop cgroup-parent
    cgroupns cidfile cpu-count cpu-percent cpu-period cpu-quota cpu-rt-period cpu-rt-runtime cpu-shares cpus
    cpuset-cpus cpuset-mems detach detach-keys device device-cgroup-rule device-read-bps device-read-iops
    device-write-bps device-write-iops disable-content-trust dns dns-option dns-search domainname entrypoint env
    env-file expose gpus group-add health-cmd health-interval health-retries health-start-interval
    health-start-period health-timeout help hostname init interactive io-maxbandwidth io-maxiops ip ip6 ipc
    isolation kernel-memory label label-file link link-local-ip log-driver log-opt mac-address memory
    memory-reservation memory-swap memory-swappiness mount name network network-alias no-healthcheck
    oom-kill-disable oom-score-adj pid pids-limit platform privileged publish publish-all pull quiet read-only
    restart rm runtime security-opt shm-size sig-proxy stop-signal stop-timeout storage-opt sysctl tmpfs tty
    ulimit user userns uts volume volume-driver volumes-from workdir]]
  local DOCKER_RUN_SHORT = "a c d e h i l m p P q t u v w"

  it("answers every other flag of docker run with exit 125, the flag and the moonjail way", function()
    local cliopts = require "moonjail.cliopts"
    local seen = 0
    for flag in DOCKER_RUN:gmatch("%S+") do
      local f = "--" .. flag
      if not cliopts.match("run", f) then
        seen = seen + 1
        local r = cli({ "run", f .. "=1", "--", "true" })
        local msg = refused(r, f, "not supported: ")
        assert.are.equal(tables.refused.run[f], msg:match("not supported: (.*)$"), f)
      end
    end
    for letter in DOCKER_RUN_SHORT:gmatch("%S") do
      local f = "-" .. letter
      if not cliopts.match("run", f) then
        seen = seen + 1
        refused(cli({ "run", f, "x", "true" }), f, "not supported: ")
      end
    end
    assert.is_true(seen > 60, "only " .. seen .. " docker flags checked")
    -- create takes run's docker refusals too
    refused(cli({ "create", "box", "--privileged" }), "--privileged", "--cap-add")
  end)

  it("answers docker exec's flags that moonjail lacks, and docker's commands it has not", function()
    refused(cli({ "exec", "--privileged", "box", "true" }), "--privileged")
    refused(cli({ "exec", "--detach-keys", "ctrl-x", "box", "true" }), "--detach-keys")
    refused(cli({ "wait", "box" }), "'wait'", "logs -f")
    refused(cli({ "attach", "box" }), "'attach'", "logs -f")
    refused(cli({ "volume", "ls" }), "volumes")
    refused(cli({ "ps", "--format", "{{.Names}}" }), "--format", "--json")
    refused(cli({ "logs", "--since", "1m", "box" }), "--since")
    refused(cli({ "rm", "-v", "box" }), "-v", "volumes")
  end)
end)

describe("docker's habits with named sandboxes", function()
  local name
  setup(function()
    state_dir = state_dir or helpers.tmpdir("0700")
    name = "mjspec-docker-" .. helpers.unique_number()
    run_ok({ "create", name })
  end)
  teardown(function()
    cli({ "rm", "-f", name })
    helpers.cleanup()
  end)

  it("exec NAME -- CMD runs CMD", function()
    assert.are.equal("x\n", run_ok({ "exec", name, "--", "echo", "x" }))
    assert.are.equal("-n\n", run_ok({ "exec", name, "--", "sh", "-c", "echo -- -n" }):gsub("^%-%- ", ""))
  end)

  it("inspect is info", function()
    assert.are.same(helpers.json_decode(run_ok({ "info", "--json", name })).id,
      helpers.json_decode(run_ok({ "inspect", "--json", name })).id)
  end)

  it("exec -de K=V: a cluster ending in a letter that takes a value", function()
    local pid = run_ok({ "exec", "-de", "K=clustered", name, "sh", "-c", "echo $K" }):match("^(%d+)\n$")
    assert.is_truthy(pid)
    assert.are.equal("clustered\n", run_ok({ "logs", "-f", name, pid }))
  end)

  it("exec -d refuses -t and -i with the reason; ps refuses -q with --json", function()
    refused(cli({ "exec", "-d", "-t", name, "true" }), "-d", "-t")
    refused(cli({ "exec", "-dit", name, "true" }), "-d")
    refused(cli({ "ps", "--json", "-q" }), "-q", "--json")
  end)
end)

-- spec/security/seccomp_spec.lua — the kernel attack surface a command can reach.
--
-- Covers (SECURITY.md, "Kernel attack surface (seccomp)" and "Terminal injection"), root and
-- rootless, with a static probe (spec/fixtures/syscall_probe.c) that makes the raw calls:
--  - the default allow-list filter and no_new_privs are on every command (run and exec);
--  - namespace creation (clone with CLONE_NEW* flags, unshare, setns) → EPERM; clone3 → ENOSYS
--    so libc falls back to clone, whose flags the filter can see; calls newer than the profile
--    → ENOSYS;
--  - the old and new mount API (mount, umount2, chroot, pivot_root, fsopen/fsconfig/fsmount/
--    fspick — CVE-2022-0185 —, open_tree, move_mount), keyctl/add_key/request_key, bpf,
--    userfaultfd, io_uring_*, perf_event_open, ptrace, process_vm_readv/writev,
--    open_by_handle_at (the "shocker" escape), pidfd_getfd, kexec_*, module loading, personality
--    flags beyond Docker's list → EPERM;
--  - TIOCSTI/TIOCLINUX refused, also with high bits set in the request (CVE-2017-5226,
--    CVE-2023-28100, CVE-2019-10063), even on a pty that is the caller's own controlling tty;
--  - x32 (nr | 0x40000000) system calls kill the process with SIGSYS (i386 int 0x80: in
--    seccomp_i386_spec.lua, which only runs where the host takes i386 system calls);
--  - the same attempts with `profile = "unconfined"` reach the kernel (EBADF, ENOTTY, a real fd,
--    success…), which proves the refusals above are the filter's, not a missing capability's;
--  - policy keys: `allow` and `deny` by name take effect, unknown names and keys are
--    INVALID_CONFIG naming the key, a `deny` list is never silently dropped.
-- Every attempt is harmless even where nothing refuses it (see the probe's header).
local mj = require "moonjail"
local helpers = require "spec.helpers"
local probe = require "spec.fixtures.probe"

if helpers.skip_unless_sandboxes() then return end
if not probe.compiler() then return helpers.skip_file(probe.NO_COMPILER) end
probe.build()
teardown(function() helpers.cleanup() end)

local EPERM, ENOSYS, EBADF, ENOTTY = probe.EPERM, probe.ENOSYS, probe.EBADF, probe.ENOTTY

local function policy(seccomp)
  return { extends = "default", seccomp = seccomp }
end

-- Asserts that every named attempt was refused with `errno` (and returned -1).
local function assert_refused(t, names, errno)
  for _, name in ipairs(names) do
    local r = t[name]
    assert.is_truthy(r, name .. ": the probe printed no line for it")
    assert.are.equal(-1, r.ret, probe.describe(t, name) .. " — it went through")
    assert.are.equal(errno, r.errno, probe.describe(t, name) .. " — expected errno " .. errno)
  end
end

describe("the default seccomp filter", function()
  it("is loaded, with no_new_privs, on every command of run and exec", function()
    local res = assert(mj.run("grep -E '^(Seccomp|NoNewPrivs):' /proc/self/status"))
    assert.matches("Seccomp:%s+2", res.stdout)
    assert.matches("NoNewPrivs:%s+1", res.stdout)
    local sb <close> = assert(mj.sandbox({}))
    local r2 = assert(sb:exec("grep -E '^(Seccomp|NoNewPrivs):' /proc/self/status"))
    assert.matches("Seccomp:%s+2", r2.stdout)
    assert.matches("NoNewPrivs:%s+1", r2.stdout)
  end)

  it("lets ordinary system calls through (fork, clone without namespace flags, ioctl)", function()
    local t, res = probe.run({ "getpid", "fork", "clone_plain", "uname", "personality_query",
                               "ioctl_tcgets_null" })
    assert.are.equal(0, res.exit_code, res.stderr)
    assert.is_true(t.getpid.ret > 0, probe.describe(t, "getpid"))
    assert.is_true(t.fork.ret > 0, probe.describe(t, "fork"))
    assert.is_true(t.clone_plain.ret > 0, probe.describe(t, "clone_plain"))
    assert.are.equal(0, t.uname.ret, probe.describe(t, "uname"))
    assert.is_true(t.personality_query.ret >= 0, probe.describe(t, "personality_query"))
    -- TCGETS on /dev/null reaches the kernel, which says "not a tty"
    assert_refused(t, { "ioctl_tcgets_null" }, ENOTTY)
  end)

  it("refuses namespace creation with EPERM: clone with CLONE_NEW* flags, unshare, setns", function()
    local t = probe.run({ "clone_newuser", "clone_newns", "clone_newpid", "clone_newnet",
                          "unshare_user", "unshare_ns", "unshare_net", "setns" })
    assert_refused(t, { "clone_newuser", "clone_newns", "clone_newpid", "clone_newnet",
                        "unshare_user", "unshare_ns", "unshare_net", "setns" }, EPERM)
  end)

  it("answers clone3 with ENOSYS, so that libc falls back to clone", function()
    local t = probe.run({ "clone3" })
    assert_refused(t, { "clone3" }, ENOSYS)
  end)

  it("answers a system call newer than the profile (listmount) with ENOSYS", function()
    local t = probe.run({ "newer_syscall" })
    assert_refused(t, { "newer_syscall" }, ENOSYS)
  end)

  it("refuses the old and the new mount API with EPERM (CVE-2022-0185)", function()
    local names = { "mount", "umount2", "chroot", "pivot_root", "fsopen", "fsconfig", "fsmount",
                    "fspick", "open_tree", "move_mount" }
    assert_refused(probe.run(names), names, EPERM)
  end)

  it("refuses keyrings, bpf, userfaultfd, io_uring and perf_event_open with EPERM", function()
    local names = { "keyctl", "add_key", "request_key", "bpf", "userfaultfd", "io_uring_setup",
                    "io_uring_enter", "io_uring_register", "perf_event_open" }
    assert_refused(probe.run(names), names, EPERM)
  end)

  it("refuses ptrace and process_vm_readv/writev with EPERM", function()
    local names = { "ptrace", "process_vm_readv", "process_vm_writev" }
    assert_refused(probe.run(names), names, EPERM)
  end)

  it("refuses open_by_handle_at (the shocker escape) and pidfd_getfd with EPERM", function()
    local names = { "open_by_handle_at", "pidfd_getfd" }
    assert_refused(probe.run(names), names, EPERM)
  end)

  it("refuses kexec and kernel module loading with EPERM", function()
    local names = { "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module" }
    assert_refused(probe.run(names), names, EPERM)
  end)

  it("refuses personality flags outside Docker's list (READ_IMPLIES_EXEC) with EPERM", function()
    local t = probe.run({ "personality_query", "personality_read_implies_exec" })
    assert.is_true(t.personality_query.ret >= 0, probe.describe(t, "personality_query"))
    assert_refused(t, { "personality_read_implies_exec" }, EPERM)
  end)

  it("refuses TIOCSTI and TIOCLINUX, also with high bits set in the request "
     .. "(CVE-2017-5226, CVE-2019-10063)", function()
    local names = { "ioctl_tiocsti_null", "ioctl_tiocsti_null_hi", "ioctl_tiocsti_null_hi1",
                    "ioctl_tioclinux_null", "ioctl_tioclinux_null_hi" }
    assert_refused(probe.run(names), names, EPERM)
  end)

  it("refuses TIOCSTI into the caller's own controlling pty, high bits or not "
     .. "(CVE-2023-28100)", function()
    local t = probe.run({ "pty_tiocsti", "pty_tiocsti_hi" })
    assert_refused(t, { "pty_tiocsti", "pty_tiocsti_hi" }, EPERM)
  end)

  it("kills the process with SIGSYS on an x32 system call (nr | 0x40000000)", function()
    local t, res = probe.run({ "getpid", "x32_getpid" })
    assert.is_truthy(t.getpid, "the probe did not run: " .. res.stdout .. res.stderr)
    assert.is_nil(t.x32_getpid, "the x32 call returned: " .. probe.describe(t, "x32_getpid"))
    assert.are.equal(probe.SIGSYS, res.signal)
    assert.are.equal("signal", res.ended_by)
    assert.are.equal(128 + probe.SIGSYS, res.exit_code)
  end)
end)

describe("profile = 'unconfined'", function()
  it("lets the same attempts reach the kernel, so the refusals above are the filter's", function()
    local t, res = probe.run({ "setns", "pidfd_getfd", "open_tree", "process_vm_readv", "clone3",
                               "ioctl_tiocsti_null", "ioctl_tiocsti_null_hi", "pty_tiocsti",
                               "pty_tiocsti_hi" },
                             { policy = policy({ profile = "unconfined" }) })
    assert.are.equal(0, res.exit_code, res.stderr)
    assert_refused(t, { "setns", "pidfd_getfd" }, EBADF)
    assert.is_true(t.open_tree.ret >= 0, probe.describe(t, "open_tree"))
    assert.are.equal(0, t.process_vm_readv.ret, probe.describe(t, "process_vm_readv"))
    assert.are_not.equal(ENOSYS, t.clone3.errno, probe.describe(t, "clone3"))
    if t.ioctl_tiocsti_null.errno == EPERM then
      -- the engine keeps its TIOCSTI guard even here: then it must hold for the high bits too
      assert_refused(t, { "ioctl_tiocsti_null_hi", "pty_tiocsti", "pty_tiocsti_hi" }, EPERM)
      return
    end
    assert_refused(t, { "ioctl_tiocsti_null", "ioctl_tiocsti_null_hi" }, ENOTTY)
    -- the kernel ignores the high bits: without the filter both injections go through when the
    -- host still allows TIOCSTI at all
    if helpers.read_file("/proc/sys/dev/tty/legacy_tiocsti") == "1\n" then
      assert.are.equal(0, t.pty_tiocsti.ret, probe.describe(t, "pty_tiocsti"))
      assert.are.equal(0, t.pty_tiocsti_hi.ret, probe.describe(t, "pty_tiocsti_hi"))
    end
  end)

  it("lets an x32 call reach the kernel instead of killing the process", function()
    local t, res = probe.run({ "x32_getpid" }, { policy = policy({ profile = "unconfined" }) })
    assert.are.equal(0, res.signal)
    assert.is_truthy(t.x32_getpid, res.stdout)
  end)
end)

describe("policy seccomp keys", function()
  it("allow = { name } lets that call through and keeps refusing the others", function()
    local t = probe.run({ "keyctl", "add_key" }, { policy = policy({ allow = { "keyctl" } }) })
    assert.is_true(t.keyctl.ret >= 0, probe.describe(t, "keyctl"))
    assert_refused(t, { "add_key" }, EPERM)
  end)

  it("deny = { name } refuses an otherwise allowed call with EPERM", function()
    local t = probe.run({ "uname", "getpid" }, { policy = policy({ deny = { "uname" } }) })
    assert_refused(t, { "uname" }, EPERM)
    assert.is_true(t.getpid.ret > 0, probe.describe(t, "getpid"))
    local res = assert(mj.run({ "uname", "-r" }, { policy = policy({ deny = { "uname" } }) }))
    assert.are_not.equal(0, res.exit_code, "uname(1) worked with uname denied")
  end)

  it("rejects an unknown system call name as INVALID_CONFIG naming the key", function()
    for _, case in ipairs({ { key = "allow", sc = { allow = { "mjspec_no_such_call" } } },
                            { key = "deny", sc = { deny = { "mjspec_no_such_call" } } } }) do
      local res, err = mj.run("true", { policy = policy(case.sc) })
      assert.is_nil(res)
      assert.are.equal("INVALID_CONFIG", err.code)
      assert.matches("seccomp." .. case.key, err.message, 1, true)
      assert.matches("mjspec_no_such_call", err.message, 1, true)
      local sb, err2 = mj.sandbox({ policy = policy(case.sc) })
      assert.is_nil(sb)
      assert.are.equal("INVALID_CONFIG", err2.code)
      assert.matches("seccomp." .. case.key, err2.message, 1, true)
    end
  end)

  it("rejects an unknown key in the seccomp table as INVALID_CONFIG naming it", function()
    local res, err = mj.run("true", { policy = policy({ alow = { "keyctl" } }) })
    assert.is_nil(res)
    assert.are.equal("INVALID_CONFIG", err.code)
    assert.matches("seccomp.alow", err.message, 1, true)
  end)

  it("rejects a profile it does not know, naming seccomp.profile, and runs nothing", function()
    local res, err = mj.run("true", { policy = policy({ profile = "mjspec-no-such-profile" }) })
    assert.is_nil(res)
    assert.is_truthy(err.code == "INVALID_CONFIG" or err.code == "UNSUPPORTED", err.code)
    assert.matches("seccomp.profile", err.message, 1, true)
  end)

  it("never drops a deny list silently: with profile 'unconfined' it is enforced or refused", function()
    local pol = policy({ profile = "unconfined", deny = { "uname" } })
    local ok, res, err = pcall(mj.run, { "/probe", "uname" }, { policy = pol, mounts = { probe.mount() } })
    assert.is_true(ok, tostring(res))
    if res then
      local t = probe.parse(res.stdout)
      assert_refused(t, { "uname" }, EPERM)
    else
      assert.are.equal("INVALID_CONFIG", err.code)
      assert.matches("seccomp", err.message, 1, true)
    end
  end)
end)

describe("the supervisor's own filter", function()
  -- The supervisor and its spawner live outside the commands' pid namespace (the commands see only
  -- their own init as pid 1): their filters are read from the host's /proc.
  local function host_stat(pid)
    local status = helpers.read_file("/proc/" .. pid .. "/status") or ""
    return status:match("Name:%s*(%S+)"), tonumber(status:match("Seccomp_filters:%s*(%d+)"))
  end

  it("is one more than its commands' and its spawner's: narrowed after the spawner is forked", function()
    local sb = assert(mj.sandbox({}))
    local sup = assert(sb:info()).supervisor_pid
    local n = helpers.unique_number()
    local p = assert(sb:spawn({ "sleep", tostring(n) }))
    local _, sleeps = helpers.count_processes("sleep " .. n)
    local children = helpers.read_file("/proc/" .. sup .. "/task/" .. sup .. "/children") or ""
    local filters, report = {}, {}
    local name, count = host_stat(sup)
    filters.supervisor = count
    report[#report + 1] = string.format("%d %s %s", sup, tostring(name), tostring(count))
    for pid in children:gmatch("%d+") do
      name, count = host_stat(pid)
      filters[name == "moonjail-spawn" and "spawner" or "reaper"] = count
      report[#report + 1] = string.format("%s %s %s", pid, tostring(name), tostring(count))
    end
    _, count = host_stat(sleeps[1] or 0)
    filters.command = count
    report[#report + 1] = "command " .. tostring(count)
    p:kill()
    p:wait(5)
    sb:close()
    report = table.concat(report, "\n")
    assert.is_number(filters.supervisor, report)
    assert.is_number(filters.spawner, report)
    assert.is_number(filters.reaper, report)
    assert.are.equal(filters.spawner + 1, filters.supervisor, report)
    assert.are.equal(filters.spawner, filters.command, report)
    assert.is_true(filters.reaper >= 1, report)
  end)
end)

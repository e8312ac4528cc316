-- spec/security/seccomp_i386_spec.lua — i386 system calls (int 0x80) from a 64-bit command.
--
-- Covers (SECURITY.md, "Kernel attack surface (seccomp)"): a foreign-arch system call made with
-- `int 0x80` kills the command with SIGSYS before the kernel acts on it, root and rootless.
-- Kernels differ here: some machines of our kind take i386 system calls, others kill any
-- process that tries with SIGSEGV before seccomp sees it.  The file first runs the same probe
-- unconfined on the host (spec/host.lua) and skips itself, saying why, where the host has no
-- i386 entry point; where it has one, moonjail must contain it.
-- Every attempt is harmless even where nothing refuses it (getpid).
local mj = require "moonjail"
local helpers = require "spec.helpers"
local probe = require "spec.fixtures.probe"
local host = require "spec.host"

if helpers.skip_unless_sandboxes() then return end
if not probe.compiler() then return helpers.skip_file(probe.NO_COMPILER) end
local lacking = host.lacks("i386_syscalls")
if lacking then return helpers.skip_file(lacking) end
teardown(function() helpers.cleanup() end)

describe("an i386 system call (int 0x80)", function()
  it("reaches the kernel unconfined on this host, so the refusal below is the filter's", function()
    local t, status = host.run_unconfined({ "int80_getpid" })
    assert.are.equal(0, status)
    assert.is_true(t.int80_getpid.ret > 0, probe.describe(t, "int80_getpid"))
  end)

  it("kills the command with SIGSYS in a sandbox", function()
    local t, res = probe.run({ "getpid", "int80_getpid" })
    assert.is_truthy(t.getpid, "the probe did not run: " .. res.stdout .. res.stderr)
    assert.is_nil(t.int80_getpid, "the int 0x80 call returned: " .. probe.describe(t, "int80_getpid"))
    assert.are.equal(probe.SIGSYS, res.signal)
    assert.are.equal("signal", res.ended_by)
    assert.are.equal(128 + probe.SIGSYS, res.exit_code)
  end)

  it("is also refused with the policy's own allow-list extended (allow cannot reach i386)", function()
    local pol = { extends = "default", seccomp = { allow = { "getpid" } } }
    local t, res = probe.run({ "int80_getpid" }, { policy = pol })
    assert.is_nil(t.int80_getpid, "the int 0x80 call returned: " .. probe.describe(t, "int80_getpid"))
    assert.are.equal(probe.SIGSYS, res.signal)
  end)
end)

-- mj is required so that a broken module fails this file rather than skipping it.
assert(mj.run)

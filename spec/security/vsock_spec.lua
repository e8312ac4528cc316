-- spec/security/vsock_spec.lua — AF_VSOCK sockets are refused in every sandbox (issue 15):
-- vsock reaches the hypervisor without going through the sandbox's network namespace, so no
-- network mode can contain it; the workload seccomp filter refuses socket(AF_VSOCK, …) with
-- EAFNOSUPPORT (comparing the domain's low 32 bits, as the kernel reads an int).
-- The host is probed first: where the host itself has no vsock the refusal proves nothing and
-- the spec says so.
local mj = require "moonjail"
local helpers = require "spec.helpers"

if helpers.skip_unless_sandboxes() then return end
local PY = "/usr/bin/python3"
if not helpers.exists(PY) then return helpers.skip_file("no /usr/bin/python3") end

local PROBE = "import socket\ntry:\n    socket.socket(40, socket.SOCK_STREAM)\n    print('OPEN')\n"
  .. "except OSError as e:\n    print('REFUSED', e.errno)\n"

describe("AF_VSOCK", function()
  it("is refused in every network mode (socket(AF_VSOCK) -> EAFNOSUPPORT)", function()
    if not helpers.sh(PY .. " -c " .. helpers.shell_quote(PROBE)):match("^OPEN") then
      return pending("this host cannot open AF_VSOCK sockets itself: nothing to refuse")
    end
    for _, net in ipairs({ "none", "host" }) do
      local res = assert(mj.run({ PY, "-c", PROBE }, { network = net }))
      assert.equals("REFUSED 97", (res.stdout:gsub("%s+$", "")), net .. ": " .. res.stdout .. res.stderr)
    end
  end)
end)

-- spec/integration/network_spec.lua — the network modes wired into sandboxes (issue 15, phase 2):
-- moonjail-net started for outbound and filtered sandboxes and for published ports.
--
-- Covers, with real traffic on this machine only: `none` cannot reach a server on the host's
-- loopback; `outbound` (pasta, else slirp4netns) reaches a test host in another network namespace
-- but not the host's loopback services; `filtered` lets an allowed name through and refuses a
-- denied name (DNS) and a direct IP (Host check), each with an audit entry; a published port
-- serves a sandbox's HTTP server to the host; usage counts the bytes moonjail-net carried;
-- info reports the mode; the sandbox's resolv.conf names the stub; a sandbox whose helper cannot
-- start does not start; and `moonjail run --network none|bridge` from the CLI.
-- The test host (a network namespace joined to the host by a veth pair, an HTTP server in it)
-- needs root to create: those cases are pending with the reason in the rootless lane.
local mj = require "moonjail"
local helpers = require "spec.helpers"

if helpers.skip_unless_sandboxes() then return end

local function engine_available()
  for _, name in ipairs({ "pasta", "slirp4netns" }) do
    for dir in (os.getenv("PATH") or "/usr/bin:/bin"):gmatch("[^:]+") do
      if dir:sub(1, 1) == "/" and helpers.exists(dir .. "/" .. name) then return name end
    end
  end
  return nil
end
local ENGINE = engine_available()
-- Rootless, both engines need /dev/net/tun (mode 0666 on most hosts, 0600 on some).
local NO_TUN
if ENGINE and not helpers.is_root() and not io.open("/dev/net/tun", "r+") then
  NO_TUN = "rootless outbound needs /dev/net/tun, which this user cannot open here"
  ENGINE = nil
end
local PY = "/usr/bin/python3"
if not helpers.exists(PY) then return helpers.skip_file("no /usr/bin/python3 (the specs' client and server)") end

-- A client inside the sandbox: GET url (optionally with a Host header); prints the status or
-- "ERR <exception class>".
local CLIENT = [[
import sys, urllib.request
url = sys.argv[1]
req = urllib.request.Request(url)
if len(sys.argv) > 2: req.add_header("Host", sys.argv[2])
try:
    with urllib.request.urlopen(req, timeout=5) as r:
        print("OK", r.status, r.read().decode(errors="replace").strip()[:60])
except Exception as e:
    print("ERR", type(e).__name__, str(e)[:80])
]]

local function fetch(opts, url, host)
  local args = { PY, "-c", CLIENT, url }
  if host then args[#args + 1] = host end
  local res, err = mj.run(args, opts)
  assert(res, "mj.run failed: " .. tostring(err))
  return res.stdout .. res.stderr
end

-- A one-line HTTP server on the host: answers `text` to every GET.
local function host_server(bind, text)
  local port = 20000 + helpers.unique_number() % 20000
  local dir = helpers.tmpdir()
  helpers.write_file(dir .. "/index.html", text)
  local pidfile = dir .. "/pid"
  os.execute(string.format("cd %s && (%s -m http.server %d --bind %s >/dev/null 2>&1 & echo $! > %s)",
    helpers.shell_quote(dir), PY, port, bind, helpers.shell_quote(pidfile)))
  local pid = tonumber(helpers.read_file(pidfile))
  assert(helpers.eventually(5, function()
    return os.execute(string.format("curl -s -o /dev/null --max-time 1 http://%s:%d/", bind, port))
  end), "the host server did not come up")
  return port, pid
end

local servers = {}
local netns -- the test host, when root made one
local TEST_ADDR, HOST_SIDE

local function make_test_host()
  if not helpers.is_root() then return nil, "test hosts in network namespaces need root" end
  local n = helpers.unique_number() % 200 + 20
  local name = "mjnt" .. n
  local a, b = "10.213." .. n .. ".1", "10.213." .. n .. ".2"
  local script = table.concat({
    "set -e",
    "ip netns add " .. name,
    "ip link add " .. name .. "a type veth peer name " .. name .. "b netns " .. name,
    "ip addr add " .. a .. "/30 dev " .. name .. "a",
    "ip link set " .. name .. "a up",
    "ip netns exec " .. name .. " ip link set lo up",
    "ip netns exec " .. name .. " ip addr add " .. b .. "/30 dev " .. name .. "b",
    "ip netns exec " .. name .. " ip link set " .. name .. "b up",
  }, "\n")
  if not os.execute(script) then
    os.execute("ip netns del " .. name .. " 2>/dev/null; ip link del " .. name .. "a 2>/dev/null")
    return nil, "could not create the test network namespace"
  end
  local dir = helpers.tmpdir()
  helpers.write_file(dir .. "/index.html", "test-host")
  os.execute(string.format("cd %s && ip netns exec %s %s -m http.server 80 --bind %s >/dev/null 2>&1 &",
    helpers.shell_quote(dir), name, PY, b))
  assert(helpers.eventually(5, function()
    return os.execute(string.format("curl -s -o /dev/null --max-time 1 http://%s/", b))
  end), "the test host's server did not come up")
  TEST_ADDR, HOST_SIDE = b, a
  return name
end

local why_no_test_host
setup(function()
  netns, why_no_test_host = make_test_host()
end)

teardown(function()
  for _, pid in ipairs(servers) do os.execute("kill " .. pid .. " 2>/dev/null") end
  if netns then
    os.execute("ip netns pids " .. netns .. " | xargs -r kill -9 2>/dev/null")
    os.execute("ip netns del " .. netns .. " 2>/dev/null; ip link del " .. netns .. "a 2>/dev/null")
  end
  helpers.cleanup()
end)

describe("network = \"none\"", function()
  it("cannot reach a server on the host's loopback", function()
    local port, pid = host_server("127.0.0.1", "host-loopback")
    servers[#servers + 1] = pid
    local out = fetch({ network = "none" }, "http://127.0.0.1:" .. port .. "/")
    assert.matches("^ERR", out)
    assert.not_matches("host%-loopback", out)
  end)
end)

describe("network = \"outbound\"", function()
  it("fails closed with what is missing where rootless has no /dev/net/tun", function()
    if not NO_TUN then return end
    local res, err = mj.run({ "true" }, { network = "outbound" })
    assert.is_nil(res)
    assert.equals("UNSUPPORTED", err.code)
    assert.matches("/dev/net/tun", err.message, 1, true)
  end)

  it("does not reach the host's loopback services", function()
    if not ENGINE then return pending(NO_TUN or "neither pasta nor slirp4netns is installed (Debian: passt)") end
    local port, pid = host_server("127.0.0.1", "host-loopback")
    servers[#servers + 1] = pid
    local out = fetch({ network = "outbound" }, "http://127.0.0.1:" .. port .. "/")
    assert.not_matches("host%-loopback", out)
    -- nor through the gateway address the engine would map to the host by default
    for _, gw in ipairs({ "192.0.2.1", "10.0.2.2" }) do
      out = fetch({ network = "outbound" }, "http://" .. gw .. ":" .. port .. "/")
      assert.not_matches("host%-loopback", out)
    end
  end)

  it("reaches a test host in another network namespace, and names its DNS server in resolv.conf", function()
    if not ENGINE then return pending(NO_TUN or "neither pasta nor slirp4netns is installed (Debian: passt)") end
    if not netns then return pending(why_no_test_host) end
    local out = fetch({ network = "outbound" }, "http://" .. TEST_ADDR .. "/")
    assert.matches("^OK 200 test%-host", out)
    local res = assert(mj.run({ "cat", "/etc/resolv.conf" }, { network = "bridge" }))
    assert.matches("nameserver 1[0-9.]+", res.stdout)
  end)

  it("counts the bytes moonjail-net carried in usage, and info names the mode", function()
    if not ENGINE then return pending(NO_TUN or "neither pasta nor slirp4netns is installed (Debian: passt)") end
    if not netns then return pending(why_no_test_host) end
    local sb <close> = assert(mj.sandbox({ network = "outbound" }))
    local r = assert(sb:exec({ PY, "-c", CLIENT, "http://" .. TEST_ADDR .. "/" }))
    assert.matches("^OK 200", r.stdout)
    local u = assert(sb:usage())
    assert.is_true(u.network_in > 0 and u.network_out > 0,
      "network_in " .. tostring(u.network_in) .. " network_out " .. tostring(u.network_out))
    assert.equals("outbound", assert(sb:info()).network)
  end)
end)

describe("network = { mode = \"filtered\" }", function()
  local function policy(log)
    return {
      extends = "default",
      audit = { log = log },
      network = {
        mode = "filtered",
        allow = { "allowed.test" },
        deny = { "denied.test" },
        -- a static entry for the allowed name only: the stub answers it without an upstream
        dns = { hosts = { ["allowed.test"] = TEST_ADDR } },
      },
    }
  end

  local function audit_lines(log, event)
    local out = {}
    for line in (helpers.read_file(log) or ""):gmatch("[^\n]+") do
      local rec = helpers.json_decode(line)
      if rec and rec.event == event then out[#out + 1] = rec end
    end
    return out
  end

  it("lets an allowed name through, refuses a denied name and a direct IP, each in the audit log", function()
    if not netns then return pending(why_no_test_host) end
    local log = helpers.tmpdir() .. "/audit.log"
    local opts = { policy = policy(log) }
    local resolv = assert(mj.run({ "cat", "/etc/resolv.conf" }, opts))
    assert.matches("nameserver 127%.0%.0%.53", resolv.stdout)
    -- a file of the generated /etc (container_layer_spec), not a bind over it
    local mounts = assert(mj.run({ "grep", "-c", " /etc/resolv.conf ", "/proc/self/mountinfo" }, opts))
    assert.equals("0\n", mounts.stdout)
    -- a root of its own (no generated /etc) gets the same file bound read-only
    local own_root = { policy = policy(log), rootfs = "/" }
    resolv = assert(mj.run({ "cat", "/etc/resolv.conf" }, own_root))
    assert.matches("nameserver 127%.0%.0%.53", resolv.stdout)

    assert.matches("^OK 200 test%-host", fetch(opts, "http://allowed.test/"))

    local denied = fetch(opts, "http://denied.test/")
    assert.matches("^ERR", denied)
    local dns = audit_lines(log, "network_dns")
    local seen
    for _, rec in ipairs(dns) do
      if rec.name and rec.name:match("^denied%.test") and rec.verdict == "deny" then seen = rec end
    end
    assert.is_truthy(seen, "no network_dns deny record for denied.test in " .. (helpers.read_file(log) or ""))

    -- the address is approved (allowed.test resolves to it) but the Host names no allowed name
    local direct = fetch(opts, "http://" .. TEST_ADDR .. "/")
    assert.not_matches("^OK", direct)
    local refused
    for _, rec in ipairs(audit_lines(log, "network_connect")) do
      if rec.verdict == "deny" and rec.address == TEST_ADDR then refused = rec end
    end
    assert.is_truthy(refused,
      "no network_connect deny record for " .. TEST_ADDR .. " in " .. (helpers.read_file(log) or ""))
  end)

  -- A client that ignores HTTP_PROXY and any library: getaddrinfo, connect(), a raw request.
  local RAW = [[
import socket, sys
name, port = sys.argv[1], int(sys.argv[2])
try:
    ai = socket.getaddrinfo(name, port, socket.AF_INET, socket.SOCK_STREAM)[0]
    s = socket.socket(ai[0], ai[1])
    s.settimeout(5)
    s.connect(ai[4])
    s.sendall(("GET / HTTP/1.0\r\nHost: %s\r\n\r\n" % name).encode())
    print("OK", s.recv(200).decode(errors="replace").splitlines()[0])
except Exception as e:
    print("ERR", type(e).__name__, str(e)[:80])
]]

  it("lets a raw connect() to an allowed name through, and refuses it on a port no rule lists", function()
    if not netns then return pending(why_no_test_host) end
    local log = helpers.tmpdir() .. "/audit.log"
    local opts = { policy = policy(log) }
    local ok = assert(mj.run({ PY, "-c", RAW, "allowed.test", "80" }, opts))
    assert.matches("^OK HTTP/1%.[01] 200", ok.stdout, nil, ok.stdout .. ok.stderr)
    local other = assert(mj.run({ PY, "-c", RAW, "allowed.test", "8080" }, opts))
    assert.matches("^ERR", other.stdout)
    local denied = assert(mj.run({ PY, "-c", RAW, "denied.test", "80" }, opts))
    assert.matches("^ERR", denied.stdout)
  end)

  it("refuses an address no rule approved at once (no route)", function()
    if not netns then return pending(why_no_test_host) end
    local out = fetch({ network = { mode = "filtered", allow = { "allowed.test" } } }, "http://" .. HOST_SIDE .. "/")
    assert.matches("^ERR", out)
  end)
end)

describe("network.dns.hosts", function()
  local HOSTS = { ["db.test"] = "192.0.2.7", ["v6.test"] = "2001:db8::7" }
  local LOOKUP = { "getent", "hosts", "db.test", "v6.test" }

  it("are lines of the generated /etc/hosts, whatever the mode", function()
    for _, mode in ipairs({ "none", "filtered" }) do
      local res = assert(mj.run(LOOKUP, { network = { mode = mode, dns = { hosts = HOSTS } } }))
      assert.equals(0, res.exit_code, mode .. ": " .. res.stderr)
      assert.matches("192%.0%.2%.7%s+db%.test", res.stdout, nil, mode)
      assert.matches("2001:db8::7%s+v6%.test", res.stdout, nil, mode)
    end
    local res = assert(mj.run({ "cat", "/etc/hosts" }, { network = "none" }))
    assert.not_matches("db%.test", res.stdout)
  end)
end)

describe("published ports", function()
  it("serve a sandbox's HTTP server to the host", function()
    local port = 20000 + helpers.unique_number() % 20000
    local sb <close> = assert(mj.sandbox({ network = { mode = "none", publish = { port .. ":8000" } } }))
    local dir = "/tmp"
    local p = assert(sb:spawn({ "sh", "-c", "cd " .. dir .. " && echo sandbox-served > index.html && exec " .. PY
      .. " -m http.server 8000 --bind 127.0.0.1" }))
    local got = helpers.eventually(10, function()
      local body = helpers.sh(string.format("curl -s --max-time 1 http://127.0.0.1:%d/index.html", port))
      return body:match("sandbox%-served")
    end)
    p:kill(9)
    assert.is_truthy(got, "the published port did not serve the sandbox's server")
  end)
end)

describe("the network policy key", function()
  it("names the field of a bad rule", function()
    local res, err = mj.run({ "true" }, { network = { mode = "filtered", allow = { "example.com:99999" } } })
    assert.is_nil(res)
    assert.equals("INVALID_CONFIG", err.code)
    assert.matches("allow entry 1", err.message)
  end)

  it("refuses allow rules outside mode \"filtered\"", function()
    local res, err = mj.run({ "true" }, { network = { mode = "outbound", allow = { "example.com" } } })
    assert.is_nil(res)
    assert.matches("filtered", err.message)
  end)

  it("does not start a sandbox whose helper cannot be found (fail closed)", function()
    local out = helpers.cli({ "run", "--network", "filtered", "--", "true" },
      { env = { MOONJAIL_NET_HELPER = "/nonexistent/moonjail-net" } })
    assert.equals(125, out.status)
    assert.matches("UNSUPPORTED", out.stderr)
    assert.matches("MOONJAIL_NET_HELPER", out.stderr)
  end)
end)

describe("moonjail run --network", function()
  it("none: only loopback", function()
    local out = helpers.cli({ "run", "--network", "none", "--", "cat", "/proc/net/dev" })
    assert.equals(0, out.status, out.stderr)
    assert.matches("lo:", out.stdout)
    assert.not_matches("eth0", out.stdout)
  end)

  it("bridge: outbound through the engine, to a test host", function()
    if not ENGINE then return pending(NO_TUN or "neither pasta nor slirp4netns is installed (Debian: passt)") end
    if not netns then return pending(why_no_test_host) end
    local out = helpers.cli({ "run", "--network", "bridge", "--", PY, "-c", CLIENT, "http://" .. TEST_ADDR .. "/" })
    assert.equals(0, out.status, out.stderr)
    assert.matches("^OK 200 test%-host", out.stdout)
  end)

  it("create --network bridge: the helper and its engine live with the sandbox and go with rm", function()
    if not ENGINE then return pending(NO_TUN or "neither pasta nor slirp4netns is installed (Debian: passt)") end
    local name = "mjnet" .. helpers.unique_number()
    local out = helpers.cli({ "create", name, "--network", "bridge", "--json" })
    assert.equals(0, out.status, out.stderr)
    local info = helpers.json_decode(out.stdout)
    assert.equals("outbound", info.network)
    -- the helper (and its agent) and the engine name the sandbox's namespace on their command line
    local marker = string.format("/proc/%d/ns/net", math.tointeger(info.supervisor_pid))
    local n = helpers.count_processes(marker)
    local ex = helpers.cli({ "exec", name, "cat", "/etc/resolv.conf" })
    local rm = helpers.cli({ "rm", "-f", name })
    assert.is_true(n >= 2, "expected moonjail-net and its engine, found " .. n)
    assert.equals(0, ex.status, ex.stderr)
    assert.matches("nameserver ", ex.stdout)
    assert.equals(0, rm.status, rm.stderr)
    assert.is_truthy(helpers.eventually(5, function() return helpers.count_processes(marker) == 0 end),
      "moonjail-net or its engine outlived the sandbox")
  end)

  it("rm -f after the supervisor was killed ends what is left of the helper (its engine) too", function()
    if not ENGINE then return pending(NO_TUN or "neither pasta nor slirp4netns is installed (Debian: passt)") end
    local name = "mjnetk" .. helpers.unique_number()
    local out = helpers.cli({ "create", name, "--network", "bridge", "--json" })
    assert.equals(0, out.status, out.stderr)
    local pid = math.tointeger(helpers.json_decode(out.stdout).supervisor_pid)
    local marker = string.format("/proc/%d/ns/net", pid)
    os.execute("kill -9 " .. pid)
    -- the helper follows its sandbox by itself; the engine, in the sandbox's user namespace, may not
    helpers.eventually(3, function() return helpers.count_processes("moonjail-net run --config-fd") == 0 end)
    local rm = helpers.cli({ "rm", "-f", name })
    assert.equals(0, rm.status, rm.stderr)
    assert.is_truthy(helpers.eventually(5, function() return helpers.count_processes(marker) == 0 end),
      "the helper's engine outlived rm -f of a crashed sandbox")
  end)

  it("--allow-host CIDR:PORT (filtered implied) reaches exactly that address and port", function()
    if not netns then return pending(why_no_test_host) end
    local out = helpers.cli({ "run", "--allow-host", TEST_ADDR .. "/32:80", "--", PY, "-c", CLIENT,
      "http://" .. TEST_ADDR .. "/" })
    assert.equals(0, out.status, out.stderr)
    assert.matches("^OK 200 test%-host", out.stdout)
    out = helpers.cli({ "run", "--allow-host", TEST_ADDR .. "/32:80", "--", PY, "-c", CLIENT,
      "http://" .. HOST_SIDE .. "/" })
    assert.matches("^ERR", out.stdout)
  end)

  it("refuses a bad -p or --allow-host with a usage error naming it", function()
    local out = helpers.cli({ "run", "-p", "99999:80", "--", "true" })
    assert.equals(125, out.status)
    assert.matches("99999:80", out.stderr, 1, true)
    out = helpers.cli({ "run", "--allow-host", "10.0.0.1/8", "--", "true" })
    assert.equals(125, out.status)
    assert.matches("host bits", out.stderr)
  end)

  it("refuses an unknown mode with a usage error", function()
    local out = helpers.cli({ "run", "--network", "bogus", "--", "true" })
    assert.equals(125, out.status)
    assert.matches("bogus", out.stderr)
  end)
end)

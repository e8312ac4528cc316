-- spec/unit/netpolicy_spec.lua — the policy's `network` key: moonjail-net's rule grammar as the
-- Lua validator reads it (docs/networking.md "The rule grammar"), its messages naming the field,
-- and the configuration text it renders for the helper.  Pure Lua: no sandbox, no helper.
local np = require "moonjail.netpolicy"

describe("moonjail.netpolicy rules", function()
  it("accepts names, wildcards, CIDRs and bracketed IPv6 with ports", function()
    for _, r in ipairs({ "pypi.org", "pypi.org:443", "*.pythonhosted.org:443", "10.0.0.0/8:5432",
      "192.0.2.7", "[2001:db8::1]:443", "2001:db8::/32", "[::ffff:192.0.2.1]:80", "example.com.:80-90,443",
      "a_b.example.com" }) do
      assert.is_true(np.check_rule(r), r)
    end
  end)

  it("refuses what the helper refuses, saying why", function()
    local cases = {
      ["*"] = "bare", ["example.com:0"] = "port", ["example.com:65536"] = "port",
      ["example.com:080"] = "port", ["example.com:90-80"] = "backwards", ["10.0.0.1/8"] = "host bits",
      ["10.0.0.0/33"] = "prefix", ["2001:db8::1:443"] = nil, ["ex ample.com"] = "host name",
      [("a"):rep(64) .. ".com"] = "host name", ["256.1.1.1"] = "IPv4",
    }
    for rule, why in pairs(cases) do
      local ok, msg = np.check_rule(rule)
      if why then
        assert.is_nil(ok, rule)
        assert.matches(why, msg, 1, true)
      end
    end
  end)

  it("checks published ports: [HOST_IP:]HOST_PORT:PORT[/tcp], no UDP yet", function()
    assert.is_true(np.check_publish("8080:80"))
    assert.is_true(np.check_publish("0.0.0.0:8080:80/tcp"))
    assert.is_true(np.check_publish("[::1]:8080:80"))
    assert.matches("UDP", select(2, np.check_publish("8080:80/udp")))
    assert.is_nil(np.check_publish("8080"))
    assert.is_nil(np.check_publish("1.2.3:8080:80"))
  end)
end)

describe("moonjail.netpolicy values", function()
  it("takes the mode strings, bridge as outbound's alias", function()
    for _, m in ipairs({ "none", "host", "outbound", "bridge", "filtered" }) do assert.is_true(np.check(m)) end
    assert.equals("outbound", np.mode_of("bridge"))
    assert.equals("filtered", np.mode_of({ allow = { "x.org" } }))
    assert.is_nil(np.check("everywhere"))
  end)

  it("names the field of a problem", function()
    local function why(v) return select(2, np.check(v)) end
    assert.matches("allow entry 2", why({ allow = { "a.org", "10.0.0.1/8" } }))
    assert.matches("dns.servers entry 1", why({ mode = "outbound", dns = { servers = { "nope" } } }))
    assert.matches("unknown key 'dns.serverz'", why({ dns = { serverz = {} } }))
    assert.matches("bandwidth.egress", why({ bandwidth = { egress = "lots" } }))
    assert.matches("proxy.http", why({ proxy = { http = "no port" } }))
    assert.matches("filtered", why({ mode = "outbound", allow = { "a.org" } }))
    assert.matches("host", why({ mode = "host", publish = { "80:80" } }))
    assert.matches("did you mean 'allow'", why({ alow = {} }))
  end)

  it("renders the helper's configuration", function()
    local text = np.render({ mode = "filtered", allow = { "pypi.org:443" }, deny = { "bad.org" },
      publish = { "8080:80" }, dns = { servers = { "192.0.2.53" }, search = { "corp.example" },
      hosts = { ["db.local"] = "10.0.0.5" } }, bandwidth = { ingress = "1M" },
      proxy = { http = "proxy:3128", no_proxy = ".corp.example,10.0.0.0/8" } })
    assert.equals(table.concat({ "allow pypi.org:443", "deny bad.org", "publish 8080:80", "dns-server 192.0.2.53",
      "dns-search corp.example", "dns-host db.local 10.0.0.5", "bandwidth-ingress 1048576", "proxy-http proxy:3128",
      "no-proxy .corp.example", "no-proxy 10.0.0.0/8", "" }, "\n"), text)
    assert.is_nil(np.render("host"))
    assert.is_nil(np.render("none"))
    assert.equals("", np.render("outbound"))
    assert.equals("publish 8080:80\n", np.render({ mode = "none", publish = { "8080:80" } }))
    -- dns.hosts reach the stub in filtered mode only (the helper refuses dns-host elsewhere)
    assert.equals("", np.render({ mode = "outbound", dns = { hosts = { ["db.local"] = "10.0.0.5" } } }))
  end)

  it("gives dns.hosts to the generated /etc/hosts in every mode, sorted by name", function()
    local hosts = { ["db.local"] = "10.0.0.5", ["a.local"] = "fd00::1" }
    local want = { "fd00::1 a.local", "10.0.0.5 db.local" }
    assert.same(want, np.hosts_lines({ mode = "outbound", dns = { hosts = hosts } }))
    assert.same(want, np.hosts_lines({ mode = "filtered", dns = { hosts = hosts } }))
    assert.is_nil(np.hosts_lines("none"))
    assert.is_nil(np.hosts_lines({ mode = "filtered", allow = { "a.org" } }))
  end)
end)

-- moonjail.netpolicy — the policy's `network` key: its validation (the same grammar moonjail-net
-- parses, docs/networking.md "The rule grammar", so a policy fails at `policy check`, naming the
-- field, rather than at start) and its translation into the helper's configuration text.
-- Never: touch the host, resolve names, or decide anything the helper decides at run time.
local util = require "moonjail.util"

local M = {}

local TABLE_KEYS = { mode = true, allow = true, deny = true, publish = true, dns = true, bandwidth = true,
  proxy = true, engine = true }
local DNS_KEYS = { servers = true, search = true, hosts = true }
local BANDWIDTH_KEYS = { ingress = true, egress = true }
local PROXY_KEYS = { http = true, https = true, no_proxy = true }
local MODES = { none = "none", host = "host", outbound = "outbound", bridge = "outbound", filtered = "filtered" }
M.MODES = MODES

local function unknown(k, keys, where)
  local hint = util.suggest(k, keys)
  return "unknown key '" .. (where and (where .. ".") or "") .. tostring(k) .. "'"
    .. (hint and (" (did you mean '" .. hint .. "'?)") or "")
end

------------------------------------------------------------------------------------------------
-- Addresses, names, ports

local function ipv4(s)
  local a, b, c, d = s:match("^(%d+)%.(%d+)%.(%d+)%.(%d+)$")
  if not a then return nil end
  local out = {}
  for _, o in ipairs({ a, b, c, d }) do
    if #o > 1 and o:sub(1, 1) == "0" then return nil end
    local n = tonumber(o)
    if n > 255 then return nil end
    out[#out + 1] = n
  end
  return out -- 4 bytes
end

-- 16 bytes of an IPv6 address (with an embedded IPv4 tail), or nil.
local function ipv6(s)
  if not s:find(":", 1, true) or s:find("[^%x:%.]") then return nil end
  local head, tail = s:match("^(.-)::(.*)$")
  if head and tail:find("::", 1, true) then return nil end
  local function groups(part)
    local g = {}
    if part == "" then return g end
    for x in (part .. ":"):gmatch("([^:]*):") do g[#g + 1] = x end
    return g
  end
  local left, right
  if head then left, right = groups(head), groups(tail) else left, right = groups(s), {} end
  local words = {}
  local function add(list, last_may_be_v4)
    for i, x in ipairs(list) do
      if last_may_be_v4 and i == #list and x:find(".", 1, true) then
        local v4 = ipv4(x)
        if not v4 then return false end
        words[#words + 1] = v4[1] * 256 + v4[2]
        words[#words + 1] = v4[3] * 256 + v4[4]
      else
        if #x < 1 or #x > 4 or x:find("[^%x]") then return false end
        words[#words + 1] = tonumber(x, 16)
      end
    end
    return true
  end
  if not add(left, not head) then return nil end
  local nleft = #words
  if head then
    if not add(right, true) then return nil end
    local nright = #words - nleft
    if nleft + nright > 7 then return nil end
    local r = {}
    for i = nleft + 1, #words do r[#r + 1] = words[i] end
    for i = #words, nleft + 1, -1 do words[i] = nil end
    for _ = 1, 8 - nleft - nright do words[#words + 1] = 0 end
    for _, w in ipairs(r) do words[#words + 1] = w end
  end
  if #words ~= 8 then return nil end
  local bytes = {}
  for _, w in ipairs(words) do bytes[#bytes + 1] = w // 256; bytes[#bytes + 1] = w % 256 end
  return bytes
end

local function host_bits_clear(bytes, len)
  for i = 1, #bytes do
    local keep = math.max(0, math.min(8, len - (i - 1) * 8))
    local mask = (0xff << (8 - keep)) & 0xff
    if bytes[i] & ~mask & 0xff ~= 0 then return false end
  end
  return true
end

local function prefix_len(s, max)
  if not s:match("^%d+$") or (#s > 1 and s:sub(1, 1) == "0") then return nil end
  local n = tonumber(s)
  return n <= max and n or nil
end

-- "A[/LEN]" of one family: nil, why when bad; true when fine.
local function check_cidr(text, parse, max, what)
  local addr, len = text:match("^([^/]+)/(.*)$")
  addr = addr or text
  local bytes = parse(addr)
  if not bytes then return nil, "'" .. addr .. "' is not an " .. what .. " address" end
  if len then
    local n = prefix_len(len, max)
    if not n then return nil, "prefix length '" .. len .. "' must be 0-" .. max end
    if not host_bits_clear(bytes, n) then
      return nil, "'" .. text .. "' has host bits set (write the network address, e.g. 10.0.0.0/8)"
    end
  end
  return true
end

local function check_name(s)
  if s:sub(-1) == "." then s = s:sub(1, -2) end
  if s == "" or #s > 253 then return nil, "a host name has 1-253 characters" end
  for label in (s .. "."):gmatch("([^.]*)%.") do
    if #label < 1 or #label > 63 or label:find("[^%w_%-]") then
      return nil, "'" .. s .. "' is not a host name (labels of 1-63 letters, digits, '-' or '_')"
    end
  end
  return true
end

local function port_number(s)
  if not s:match("^[1-9]%d*$") or #s > 5 then return nil end
  local n = tonumber(s)
  return n <= 65535 and n or nil
end

-- "P[,P-Q…]": the ports (a set), or nil, why.
local function check_ports(s, ports)
  if s == "" then return nil, "empty port list" end
  for range in (s .. ","):gmatch("([^,]*),") do
    local a, b = range:match("^([^%-]+)%-(.+)$")
    a = a or range
    local pa, pb = port_number(a), b and port_number(b)
    if not pa or (b and not pb) then return nil, "'" .. range .. "' is not a port or range (1-65535)" end
    if pb and pb < pa then return nil, "range '" .. range .. "' runs backwards" end
    for p = pa, math.min(pb or pa, pa + 65535) do ports[p] = true end
  end
  return true
end

--- Checks one allow/deny rule.  ports (a set) collects the ports it names.  Returns true or nil, why.
function M.check_rule(rule, ports)
  if type(rule) ~= "string" or rule == "" then return nil, "expected a rule string" end
  ports = ports or {}
  local body, plist
  local v6, rest = rule:match("^%[([^%]]*)%](.*)$")
  if v6 then
    if rest ~= "" then
      plist = rest:match("^:(.*)$")
      if not plist then return nil, "expected '[V6]:PORTS'" end
    end
    local ok, why = check_cidr(v6, ipv6, 128, "IPv6")
    if not ok then return nil, why end
  elseif select(2, rule:gsub(":", "")) > 1 then -- a bare IPv6 address or prefix, no port
    local ok, why = check_cidr(rule, ipv6, 128, "IPv6")
    if not ok then return nil, why .. " (an IPv6 address with a port needs brackets: [V6]:PORT)" end
  else
    body, plist = rule:match("^([^:]*):(.*)$")
    body = body or rule
    if body == "*" or body == "" then return nil, "a bare '*' or an empty host matches everything: name a domain" end
    if body:match("^[%d./]+$") then
      local ok, why = check_cidr(body, ipv4, 32, "IPv4")
      if not ok then return nil, why end
    else
      local name = body:match("^%*%.(.+)$") or body
      local ok, why = check_name(name)
      if not ok then return nil, why end
    end
  end
  if plist then
    local ok, why = check_ports(plist, ports)
    if not ok then return nil, why end
  else
    ports[80], ports[443] = true, true
  end
  return true
end

-- "[HOST_IP:]HOST_PORT:PORT[/tcp]": true or nil, why.
function M.check_publish(p)
  if type(p) ~= "string" then return nil, "expected \"[HOST_IP:]HOST_PORT:PORT[/tcp]\"" end
  local spec, proto = p:match("^(.-)/(%a+)$")
  spec = spec or p
  if proto == "udp" then return nil, "'" .. p .. "': UDP ports cannot be published yet (only /tcp)" end
  if proto and proto ~= "tcp" then return nil, "'" .. p .. "': the protocol must be tcp" end
  local ip, hp, cp = spec:match("^%[(.+)%]:(%d+):(%d+)$")
  if not ip then ip, hp, cp = spec:match("^(.+):(%d+):(%d+)$") end
  if not hp then hp, cp = spec:match("^(%d+):(%d+)$") end
  if not hp then return nil, "'" .. p .. "': expected [HOST_IP:]HOST_PORT:PORT[/tcp]" end
  if ip and not ipv4(ip) and not ipv6(ip) then return nil, "'" .. p .. "': '" .. ip .. "' is not an IP address" end
  if not port_number(hp) or not port_number(cp) then return nil, "'" .. p .. "': ports are 1-65535" end
  return true
end

local function check_server(s)
  if type(s) ~= "string" then return nil, "expected an address string" end
  local v6, port = s:match("^%[(.+)%]:(%d+)$")
  if v6 then
    if not ipv6(v6) or not port_number(port) then return nil, "'" .. s .. "' is not [V6]:PORT" end
    return true
  end
  local a, p = s:match("^([%d.]+):(%d+)$")
  if a then
    if not ipv4(a) or not port_number(p) then return nil, "'" .. s .. "' is not ADDR:PORT" end
    return true
  end
  if ipv4(s) or ipv6(s) then return true end
  return nil, "'" .. s .. "' is not an IP address (ADDR, ADDR:PORT or [V6]:PORT)"
end

local function check_proxy(s)
  if type(s) ~= "string" then return nil, "expected \"[http://][USER:PASSWORD@]HOST:PORT\"" end
  local rest = s:gsub("^http://", "")
  rest = rest:gsub("^[^@]*@", "")
  local host, port = rest:match("^(.+):(%d+)/?$")
  if not host or not port_number(port) or host:find("[%s/]") then
    return nil, "'" .. s .. "' is not [http://][USER:PASSWORD@]HOST:PORT"
  end
  return true
end

local function list_of(v, field, check)
  if type(v) ~= "table" then return nil, field .. ": expected an array" end
  for i, x in pairs(v) do
    if math.type(i) ~= "integer" then return nil, field .. ": expected an array" end
    local ok, why = check(x)
    if not ok then return nil, field .. " entry " .. i .. ": " .. why end
  end
  return true
end

local function no_proxy_list(v)
  if type(v) == "string" then
    local t = {}
    for e in v:gmatch("[^,%s]+") do t[#t + 1] = e end
    return t
  end
  return v
end

--- Validates a `network` value: true, or nil and the reason naming the field.
function M.check(v)
  if type(v) == "string" then
    if MODES[v] then return true end
    return nil, "expected \"none\", \"host\", \"outbound\" (alias \"bridge\"), \"filtered\" or a table"
  end
  if type(v) ~= "table" then
    return nil, "expected \"none\", \"host\", \"outbound\" or { mode = \"outbound\" | \"filtered\", ... }"
  end
  for k in pairs(v) do
    if not TABLE_KEYS[k] then return nil, unknown(k, TABLE_KEYS) end
  end
  local mode = v.mode == nil and "filtered" or MODES[v.mode]
  if v.mode ~= nil and not mode then
    return nil, "mode must be \"outbound\" (alias \"bridge\"), \"filtered\", \"none\" or \"host\""
  end
  local others = false
  for k in pairs(v) do others = others or k ~= "mode" end
  if mode == "host" and others then
    return nil, "mode \"host\" shares the host's network: allow, deny, publish, dns, bandwidth and proxy do not apply"
  end
  if mode ~= "filtered" and (v.allow ~= nil or v.deny ~= nil) then
    return nil, "allow and deny apply in mode \"filtered\" only (mode is \"" .. mode .. "\")"
  end
  local ports = {}
  for _, field in ipairs({ "allow", "deny" }) do
    if v[field] ~= nil then
      local ok, why = list_of(v[field], field, function(r)
        return M.check_rule(r, field == "allow" and ports or {})
      end)
      if not ok then return nil, why end
    end
  end
  local n = 0
  for _ in pairs(ports) do n = n + 1 end
  if n > 256 then return nil, "allow: at most 256 distinct ports over all rules (" .. n .. " named)" end
  if v.publish ~= nil then
    local ok, why = list_of(v.publish, "publish", M.check_publish)
    if not ok then return nil, why end
  end
  if v.engine ~= nil and v.engine ~= "auto" and v.engine ~= "pasta" and v.engine ~= "slirp4netns" then
    return nil, "engine must be \"auto\", \"pasta\" or \"slirp4netns\""
  end
  if v.dns ~= nil then
    if type(v.dns) ~= "table" then return nil, "dns: expected { servers =, search =, hosts = }" end
    for k in pairs(v.dns) do
      if not DNS_KEYS[k] then return nil, unknown(k, DNS_KEYS, "dns") end
    end
    local d = v.dns
    local ok, why = true, nil
    if d.servers ~= nil then ok, why = list_of(d.servers, "dns.servers", check_server) end
    if ok and d.servers ~= nil and #d.servers > 8 then ok, why = nil, "dns.servers: at most 8" end
    if ok and d.search ~= nil then ok, why = list_of(d.search, "dns.search", check_name) end
    if ok and d.search ~= nil and #d.search > 6 then ok, why = nil, "dns.search: at most 6 domains" end
    if not ok then return nil, why end
    if d.hosts ~= nil then
      if type(d.hosts) ~= "table" then return nil, "dns.hosts: expected { [\"name\"] = \"ip\" }" end
      for name, ip in pairs(d.hosts) do
        if type(name) ~= "string" or not check_name(name) then
          return nil, "dns.hosts: '" .. tostring(name) .. "' is not a host name"
        end
        if type(ip) ~= "string" or not (ipv4(ip) or ipv6(ip)) then
          return nil, "dns.hosts['" .. name .. "']: '" .. tostring(ip) .. "' is not an IP address"
        end
      end
    end
  end
  if v.bandwidth ~= nil then
    if type(v.bandwidth) ~= "table" then return nil, "bandwidth: expected { ingress = \"10M\", egress = \"10M\" }" end
    for k, x in pairs(v.bandwidth) do
      if not BANDWIDTH_KEYS[k] then return nil, unknown(k, BANDWIDTH_KEYS, "bandwidth") end
      local bytes, why = util.parse_size(x)
      if not bytes then return nil, "bandwidth." .. k .. ": " .. tostring(why) end
      if bytes < 1024 then return nil, "bandwidth." .. k .. ": at least 1K (bytes per second)" end
    end
  end
  if v.proxy ~= nil then
    if type(v.proxy) ~= "table" then return nil, "proxy: expected { http =, https =, no_proxy = }" end
    for k, x in pairs(v.proxy) do
      if not PROXY_KEYS[k] then return nil, unknown(k, PROXY_KEYS, "proxy") end
      if k == "no_proxy" then
        local list = no_proxy_list(x)
        if type(list) ~= "table" then return nil, "proxy.no_proxy: expected a string or an array of strings" end
        for i, e in ipairs(list) do
          if type(e) ~= "string" or e:find("%s") or e == "" then
            return nil, "proxy.no_proxy entry " .. i .. ": expected NAME, .SUFFIX, *.SUFFIX, CIDR or *"
          end
        end
      else
        local ok, why = check_proxy(x)
        if not ok then return nil, "proxy." .. k .. ": " .. why end
      end
    end
  end
  return true
end

--- The mode of a (valid) network value: "none", "host", "outbound" or "filtered".
function M.mode_of(v)
  if v == nil then return "none" end
  if type(v) == "string" then return MODES[v] end
  return v.mode == nil and "filtered" or MODES[v.mode]
end

local function sorted_keys(t)
  local keys = {}
  for k in pairs(t or {}) do keys[#keys + 1] = k end
  table.sort(keys)
  return keys
end

--- The lines of the generated /etc/hosts a (valid) network value adds: "ADDRESS NAME" for each of
-- dns.hosts, sorted by name; nil when there are none.
function M.hosts_lines(v)
  local hosts = type(v) == "table" and v.dns and v.dns.hosts
  if not hosts or next(hosts) == nil then return nil end
  local out = {}
  for _, name in ipairs(sorted_keys(hosts)) do out[#out + 1] = hosts[name] .. " " .. name end
  return out
end

--- The helper's configuration text for a (valid) network value, or nil when the mode needs no
-- helper ("host", or "none" without published ports).  The `mode` and `sandbox` lines are
-- moonjail's own (core adds them).
function M.render(v)
  local mode = M.mode_of(v)
  if mode == "host" then return nil end
  if type(v) ~= "table" then v = {} end
  if mode == "none" and (v.publish == nil or #v.publish == 0) then return nil end
  local out = {}
  local function line(...) out[#out + 1] = table.concat({ ... }, " ") end
  for _, r in ipairs(v.allow or {}) do line("allow", r) end
  for _, r in ipairs(v.deny or {}) do line("deny", r) end
  for _, p in ipairs(v.publish or {}) do line("publish", p) end
  local d = v.dns or {}
  for _, s in ipairs(d.servers or {}) do line("dns-server", s) end
  for _, s in ipairs(d.search or {}) do line("dns-search", s) end
  -- the stub answers dns.hosts (and moonjail-net approves their addresses) in filtered mode only;
  -- every mode has them in the generated /etc/hosts (M.hosts_lines)
  if mode == "filtered" then
    for _, name in ipairs(sorted_keys(d.hosts)) do line("dns-host", name, d.hosts[name]) end
  end
  local bw = v.bandwidth or {}
  if bw.ingress then line("bandwidth-ingress", tostring(util.parse_size(bw.ingress))) end
  if bw.egress then line("bandwidth-egress", tostring(util.parse_size(bw.egress))) end
  local px = v.proxy or {}
  if px.http then line("proxy-http", px.http) end
  if px.https then line("proxy-https", px.https) end
  for _, e in ipairs(no_proxy_list(px.no_proxy) or {}) do line("no-proxy", e) end
  if v.engine then line("engine", v.engine) end
  return table.concat(out, "\n") .. (#out > 0 and "\n" or "")
end

return M

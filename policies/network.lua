-- network: egress only to listed hosts (the `filtered` mode, docs/networking.md).
--
-- The sandbox gets its own network namespace whose only way out is moonjail-net: a DNS stub that
-- answers only the names allowed below (everything else is REFUSED and never forwarded), and a
-- decision for every connection against the address the stub resolved for an allowed name, with
-- the TLS SNI or HTTP Host checked on 443 and 80.  Clients need not honour HTTP_PROXY.  Private,
-- loopback, link-local and metadata addresses are refused unless a CIDR rule names them.
-- Needs the helper moonjail-net (installed with moonjail); a sandbox whose helper cannot start
-- does not start.
return {
  extends = "default",
  description = "Egress only to listed package indexes and GitHub (filtered network)",

  network = {
    mode = "filtered",
    -- "host:port" or "*.domain"; everything not listed is refused.
    allow = {
      "pypi.org:443",
      "files.pythonhosted.org:443",
      "registry.npmjs.org:443",
      "github.com:443",
      "*.githubusercontent.com:443",
    },
    -- Refused even when `allow` matches (wins over allow).
    deny = {},
  },

  -- Everything else is `default`: read-only host paths, /tmp, Landlock best effort, no caps.
}

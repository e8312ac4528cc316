-- network: a TEMPLATE for filtered egress.  NOT USABLE YET.
--
-- Filtered networking (a new network namespace whose only way out is moonjail's egress proxy,
-- which allows just the listed hosts and ports, resolves names itself and refuses private and
-- link-local addresses) is not implemented yet.  Running with this policy therefore fails
-- before anything starts:
--   moonjail: UNSUPPORTED: network mode 'filtered' is not implemented yet (use "none" or "host")
-- It never falls back to "host" or "none" silently.  `moonjail policy check` and
-- `moonjail policy show` work on it, so you can write and validate your own allow list now.
return {
  extends = "default",
  description = "Template: egress only to listed hosts (filtered networking is NOT implemented; runs fail)",

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

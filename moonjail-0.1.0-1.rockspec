-- moonjail-0.1.0-1.rockspec — moonjail as a LuaRocks package: the `moonjail` Lua module (a C
-- module with the engine linked in), the `moonjail` executable, and libmoonjail for C hosts.
--
--   luarocks --lua-version 5.4 make            from a clone (builds with CMake, then installs)
--   luarocks lint moonjail-0.1.0-1.rockspec    checks this file
rockspec_format = "3.0"
package = "moonjail"
version = "0.1.0-1"

source = {
  -- Where release tags are fetched from by `luarocks install`; `luarocks make` uses the clone.
  url = "git+https://github.com/moonjail/moonjail.git",
  tag = "v0.1.0",
}

description = {
  summary = "Run untrusted commands in isolated Linux sandboxes described by Lua policies",
  detailed = [[
moonjail runs untrusted commands (build steps, test suites, generated code) in Linux sandboxes
with their own user, mount, pid, network, IPC, UTS and cgroup namespaces, a root file system
of read-only host paths, no capabilities, a seccomp allow-list, Landlock, rlimits, cgroup limits
and wall-clock timeouts.  Policies and recipes are plain Lua files.  `require "moonjail"` gives
one-shot runs (mj.run), persistent sandboxes (mj.sandbox) and their file operations.
]],
  license = "MIT",
  labels = { "sandbox", "security", "linux", "namespaces", "seccomp" },
}

supported_platforms = { "linux" }

dependencies = {
  "lua >= 5.4, < 5.5",
  -- JSON (scripts/moonjail/json.lua): lua-cjson decodes, dkjson encodes (empty arrays, key order);
  -- the versions Debian 12 ships, which moonjail is tested with.
  "lua-cjson == 2.1.0",
  "dkjson == 2.6",
}

-- The C libraries libmoonjail links (Debian: libseccomp-dev libcap-dev libcurl4-openssl-dev
-- libarchive-dev libssl-dev); CMake finds them itself, through pkg-config.  curl's header is
-- checked by library only: Debian keeps curl/curl.h in a multiarch include directory that
-- LuaRocks does not search.
external_dependencies = {
  LIBSECCOMP = { header = "seccomp.h", library = "seccomp" },
  LIBCAP = { header = "sys/capability.h", library = "cap" },
  LIBCURL = { library = "curl" },
  LIBARCHIVE = { header = "archive.h", library = "archive" },
  OPENSSL = { header = "openssl/evp.h", library = "crypto" },
}

build = {
  type = "cmake",
  variables = {
    CMAKE_BUILD_TYPE = "Release",
    CMAKE_INSTALL_PREFIX = "$(PREFIX)",
    -- moonjail.so goes where LuaRocks deploys C modules from.
    MJ_LUA_CMOD_DIR = "$(LIBDIR)",
    -- libmoonjail, moonjail.pc and the CMake package stay in the rock's own tree: everything
    -- under $(PREFIX)/lib would be deployed as a Lua module.
    CMAKE_INSTALL_LIBDIR = "clib",
  },
}

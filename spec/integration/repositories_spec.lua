-- spec/integration/repositories_spec.lua — repository mounting rules in real sandboxes.
--
-- Covers: ro (visible, unwritable), rw (writes land in the host checkout), cow (the host checkout
-- never changes; sb:repo_diff() lists added, modified and deleted paths, unchanged copy-ups
-- are not reported; sb:export_diff() writes a directory or a tar with OCI whiteouts; closing
-- the sandbox removes the working tree); exclusion that cannot be bypassed — through a
-- relative or absolute symlink, "..", a hard link, a directory glob, in ro and cow mode, nor by
-- linking or renaming inside; include lists; tar.gz archives served by a loopback HTTP server
-- (with strip_components, and a 404 that is a NETWORK error, not retryable); a branch of a
-- local git repository (and an unknown ref as INVALID_CONFIG); the git identity and config seen
-- by git inside, with commits working in a cow checkout; owners (root: idmapped; rootless:
-- UNSUPPORTED for another uid); repositories given by a policy file.
local mj = require "moonjail"
local helpers = require "spec.helpers"

if helpers.skip_unless_sandboxes() then return end

local SECRET = "TOP-SECRET-7f3a9"
local sh, q = helpers.sh, helpers.shell_quote

local made = {}
local function sandbox(opts)
  local sb, err = mj.sandbox(opts)
  assert(sb, err and tostring(err))
  made[#made + 1] = sb
  return sb
end

local function run(sb, cmd)
  local r, err = sb:exec(cmd)
  assert(r, err and tostring(err))
  return r
end

-- A checkout with a secret in several guises.
local function make_checkout()
  local dir = helpers.tmpdir()
  sh(table.concat({
    "cd " .. q(dir),
    "mkdir -p src sub private deep/er",
    "echo 'int main(void){return 0;}' > src/main.c",
    "echo 'all:' > Makefile",
    "echo " .. SECRET .. " > secret.txt",
    "echo " .. SECRET .. " > sub/id.key",
    "echo " .. SECRET .. " > private/notes",
    "echo " .. SECRET .. " > deep/er/db.key",
    "ln -s secret.txt link",
    "ln -s ../secret.txt sub/uplink",
    "ln -s " .. q(dir .. "/secret.txt") .. " abslink",
    "ln secret.txt hardlink",
    "ln sub/id.key src/innocent.txt",
    "echo keep > readme",
  }, " && "))
  return dir
end

local EXCLUDE = { "secret.txt", "*.key", "private/" }

-- Every way the command can think of to read the secret; returns what it printed.
local BYPASS = table.concat({
  "cat /src/secret.txt /src/link /src/sub/uplink /src/abslink /src/hardlink /src/src/innocent.txt",
  "cat /src/sub/../secret.txt /src/./secret.txt /src/sub/id.key /src/deep/er/db.key",
  "ls -a /src/private; cat /src/private/notes",
  "grep -r " .. SECRET .. " /src",
  "ln /src/secret.txt /src/stolen && cat /src/stolen",
  "mv /src/secret.txt /src/moved && cat /src/moved",
  "rm -f /src/secret.txt; cat /src/secret.txt",
}, "; ") .. "; true"

describe("repositories", function()
  teardown(function()
    for _, sb in ipairs(made) do
      if mj.type(sb) == "sandbox" then sb:close() end
    end
    helpers.cleanup()
  end)

  it("mounts a checkout read-only", function()
    local dir = make_checkout()
    local sb = sandbox({ repositories = { { path = dir, mount = "/src" } } })
    assert.are.equal("keep\n", run(sb, "cat /src/readme").stdout)
    local r = run(sb, "echo x > /src/readme")
    assert.is_false(r.success)
    assert.are.equal("keep\n", helpers.read_file(dir .. "/readme"))
  end)

  it("mounts a checkout below a directory only its owner may enter (as root: /root/…)", function()
    local outer = helpers.tmpdir("0700")
    local dir = outer .. "/checkout"
    helpers.sh("mkdir " .. q(dir) .. " && echo inside > " .. q(dir .. "/readme"))
    for _, mode in ipairs({ "ro", "cow" }) do
      local sb = sandbox({ repositories = { { path = dir, mount = "/src", mode = mode } } })
      assert.are.equal("inside\n", run(sb, "cat /src/readme").stdout)
      assert.is_false(run(sb, "cat " .. q(dir .. "/readme") .. " 2>/dev/null").success) -- the host path is not there
    end
  end)

  it("writes through to the host checkout in rw mode", function()
    local dir = make_checkout()
    -- host root's own files are never mapped into a sandbox: give the checkout to a user
    if helpers.is_root() then sh("chown -R 1000:1000 " .. q(dir)) end
    local sb = sandbox({ repositories = { { path = dir, mount = "/src", mode = "rw" } } })
    local r = run(sb, "echo changed > /src/readme && echo new > /src/new.txt")
    assert.is_true(r.success, r.stderr)
    assert.are.equal("changed\n", helpers.read_file(dir .. "/readme"))
    assert.are.equal("new\n", helpers.read_file(dir .. "/new.txt"))
  end)

  it("keeps .git/config and .git/hooks of a rw checkout read-only (no code planted for the host)", function()
    local dir = make_checkout()
    sh("git -C " .. q(dir) .. " init -q")
    if helpers.is_root() then sh("chown -R 1000:1000 " .. q(dir)) end
    local sb = sandbox({ repositories = { { path = dir, mount = "/src", mode = "rw" } } })
    local r = run(sb, "printf '[core]\\n\\tfsmonitor = touch /tmp/pwned\\n' >> /src/.git/config; "
      .. "echo 'touch /tmp/pwned' > /src/.git/hooks/pre-commit; echo ok > /src/.git/description; "
      .. "echo fine > /src/readme")
    assert.is_nil(helpers.read_file(dir .. "/.git/config"):find("fsmonitor", 1, true))
    assert.is_false(helpers.exists(dir .. "/.git/hooks/pre-commit"))
    assert.are.equal("fine\n", helpers.read_file(dir .. "/readme"), r.combined)
    assert.are.equal("ok\n", helpers.read_file(dir .. "/.git/description"))
  end)

  it("keeps the host checkout unchanged in cow mode, lists the diff and exports it", function()
    local dir = make_checkout()
    local before = sh("cd " .. q(dir) .. " && find . -printf '%p %s %m\\n' | sort | md5sum")
    local sb = sandbox({ repositories = { { path = dir, mount = "/src", mode = "cow" } } })
    local r = run(sb, "echo changed > /src/readme && echo new > /src/src/new.c && rm /src/Makefile"
      .. " && mkdir /src/build && echo o > /src/build/main.o && chmod 0600 /src/src/main.c"
      .. " && cat /src/src/main.c >/dev/null && touch -a /src/sub/uplink")
    assert.is_true(r.success, r.stderr)
    assert.are.equal(before, sh("cd " .. q(dir) .. " && find . -printf '%p %s %m\\n' | sort | md5sum"))
    assert.are.equal("changed\n", run(sb, "cat /src/readme").stdout)

    local diff = assert(sb:repo_diff())
    local kinds = {}
    for _, d in ipairs(diff) do kinds[d.path] = d.kind end
    assert.are.equal("modified", kinds["/src/readme"])
    assert.are.equal("added", kinds["/src/src/new.c"])
    assert.are.equal("deleted", kinds["/src/Makefile"])
    assert.are.equal("added", kinds["/src/build"])
    assert.are.equal("added", kinds["/src/build/main.o"])
    assert.are.equal("modified", kinds["/src/src/main.c"]) -- its mode changed
    assert.is_nil(kinds["/src/sub/uplink"])

    local out = helpers.tmpdir()
    assert(sb:export_diff(out .. "/dir"))
    assert.are.equal("changed\n", helpers.read_file(out .. "/dir/readme"))
    assert.are.equal("new\n", helpers.read_file(out .. "/dir/src/new.c"))
    assert.is_true(helpers.exists(out .. "/dir/.wh.Makefile"))
    assert.is_nil(helpers.read_file(out .. "/dir/secret.txt"))
    assert(sb:export_diff(out .. "/diff.tar.gz"))
    local listing = sh("tar tzf " .. q(out .. "/diff.tar.gz") .. " | sort")
    assert.is_truthy(listing:find("readme", 1, true))
    assert.is_truthy(listing:find(".wh.Makefile", 1, true))
    assert.is_truthy(listing:find("build/main.o", 1, true))

    -- closing removes the working tree
    local trees = sh("ls -d " .. q(os.getenv("MOONJAIL_WORK_DIR") or (helpers.is_root() and "/var/tmp/moonjail"
      or ((os.getenv("TMPDIR") or "/var/tmp") .. "/moonjail-" .. helpers.uid()))) .. "/repo-* 2>/dev/null | wc -l")
    sb:close()
    local after = sh("ls -d " .. q(os.getenv("MOONJAIL_WORK_DIR") or (helpers.is_root() and "/var/tmp/moonjail"
      or ((os.getenv("TMPDIR") or "/var/tmp") .. "/moonjail-" .. helpers.uid()))) .. "/repo-* 2>/dev/null | wc -l")
    assert.are.equal(tonumber(trees) - 1, tonumber(after))
  end)

  for _, mode in ipairs({ "ro", "cow" }) do
    it("makes excluded paths unreachable in " .. mode .. " mode, whatever the path to them", function()
      local dir = make_checkout()
      local sb = sandbox({ repositories = { { path = dir, mount = "/src", mode = mode, exclude = EXCLUDE } } })
      local r = run(sb, BYPASS)
      assert.is_nil(r.combined:find(SECRET, 1, true), "the secret leaked:\n" .. r.combined)
      -- what is not excluded is still there
      assert.are.equal("keep\n", run(sb, "cat /src/readme").stdout)
      assert.is_true(run(sb, "test -f /src/src/main.c").success)
      -- and the host's files are untouched
      assert.are.equal(SECRET .. "\n", helpers.read_file(dir .. "/secret.txt"))
    end)
  end

  it("shows only what an include list names", function()
    local dir = make_checkout()
    local sb = sandbox({ repositories = { { path = dir, mount = "/src", include = { "*.c", "readme" },
      exclude = { "*.key" } } } })
    assert.is_true(run(sb, "test -s /src/src/main.c && test -s /src/readme").success)
    local r = run(sb, "cat /src/Makefile /src/secret.txt /src/private/notes /src/hardlink 2>/dev/null; true")
    assert.is_nil(r.stdout:find(SECRET, 1, true))
    assert.is_nil(r.stdout:find("all:", 1, true))
  end)

  describe("from archives", function()
    local server_pid, port, root
    setup(function()
      if os.execute("command -v python3 >/dev/null") ~= true then return end
      root = helpers.tmpdir()
      sh("cd " .. q(root) .. " && mkdir -p proj-1.0/lib && echo archived > proj-1.0/lib/file.txt"
        .. " && echo " .. SECRET .. " > proj-1.0/token.key && tar czf proj.tar.gz proj-1.0")
      local portfile = root .. "/port"
      server_pid = sh("python3 -c 'import http.server,sys,os; os.chdir(sys.argv[1]);"
        .. " s=http.server.ThreadingHTTPServer((\"127.0.0.1\",0),http.server.SimpleHTTPRequestHandler);"
        .. " open(sys.argv[2],\"w\").write(str(s.server_address[1])); s.serve_forever()' "
        .. q(root) .. " " .. q(portfile) .. " >/dev/null 2>&1 & echo $!")
      port = helpers.eventually(10, function() return tonumber(helpers.read_file(portfile) or "") end)
    end)
    teardown(function()
      if server_pid then os.execute("kill " .. server_pid .. " 2>/dev/null") end
    end)

    it("fetches a tar.gz over HTTP, unpacks it and mounts it copy-on-write", function()
      assert(port, "the loopback HTTP server (python3) did not start")
      local sb = sandbox({ repositories = { { url = "http://127.0.0.1:" .. port .. "/proj.tar.gz", mount = "/src",
        mode = "cow", strip_components = 1, exclude = { "*.key" } } } })
      assert.are.equal("archived\n", run(sb, "cat /src/lib/file.txt").stdout)
      assert.is_nil(run(sb, "cat /src/token.key; true").stdout:find(SECRET, 1, true))
      assert.is_true(run(sb, "echo more >> /src/lib/file.txt").success)
      local diff = assert(sb:repo_diff())
      assert.are.equal("/src/lib/file.txt", diff[1].path)
      -- the unpacked tree belongs to the sandbox's user
      assert.are.equal(tostring(sb:info().uid or 0), run(sb, "stat -c %u /src/lib/file.txt").stdout:gsub("%s+$", ""))
    end)

    it("verifies a sha256 given with the rule before unpacking", function()
      assert(port, "the loopback HTTP server (python3) did not start")
      local sum = sh("sha256sum " .. q(root .. "/proj.tar.gz") .. " | cut -d' ' -f1")
      local url = "http://127.0.0.1:" .. port .. "/proj.tar.gz"
      local sb = sandbox({ repositories = { { url = url, mount = "/src", strip_components = 1, sha256 = sum } } })
      assert.are.equal("archived\n", run(sb, "cat /src/lib/file.txt").stdout)
      local wrong = ("0"):rep(64)
      local none, err = mj.sandbox({ repositories = { { url = url, mount = "/src", sha256 = wrong } } })
      assert.is_nil(none)
      assert.are.equal("INVALID_CONFIG", err.code)
      assert.is_truthy(err.message:find("sha256 of " .. url .. " is " .. sum, 1, true), err.message)
      none, err = mj.sandbox({ repositories = { { path = root .. "/proj.tar.gz", mount = "/src", sha256 = wrong } } })
      assert.is_nil(none)
      assert.is_truthy(err.message:find("the rule expects " .. wrong, 1, true), err.message)
    end)

    it("mounts a local archive read-only", function()
      local sb = sandbox({ repositories = { { path = root .. "/proj.tar.gz", mount = "/src", strip_components = 1 } } })
      assert.are.equal("archived\n", run(sb, "cat /src/lib/file.txt").stdout)
      assert.is_false(run(sb, "touch /src/x").success)
    end)

    it("reports a missing archive as a NETWORK error that is not retryable", function()
      assert(port, "the loopback HTTP server (python3) did not start")
      local sb, err = mj.sandbox({ repositories = { { url = "http://127.0.0.1:" .. port .. "/nope.tar.gz",
        mount = "/src", mode = "cow" } } })
      assert.is_nil(sb)
      assert.are.equal("NETWORK", err.code)
      assert.is_false(err.retryable)
      assert.is_truthy(err.message:find("404", 1, true), err.message)
    end)
  end)

  describe("from git", function()
    local gitrepo
    setup(function()
      gitrepo = helpers.tmpdir()
      -- no identity in the repository's own config: that would win over the sandbox user's, as in git
      local id = "git -c user.email=t@e -c user.name=T"
      sh("cd " .. q(gitrepo) .. " && git init -q -b main . && echo one > f.txt && git add f.txt"
        .. " && " .. id .. " commit -qm one && git branch v1 && echo two > f.txt && " .. id .. " commit -qam two")
    end)

    it("checks out a ref of a local repository", function()
      local sb = sandbox({ repositories = { { path = gitrepo, ref = "v1", mount = "/src", mode = "cow" } } })
      assert.are.equal("one\n", run(sb, "cat /src/f.txt").stdout)
      assert.are.equal("two\n", helpers.read_file(gitrepo .. "/f.txt"))
    end)

    it("never runs commands the source repository's config names (smudge filters)", function()
      local evil = helpers.tmpdir()
      local marker = evil .. "/filter-ran"
      local id = "git -c user.email=t@e -c user.name=T"
      sh("cd " .. q(evil) .. " && git init -q -b main repo && cd repo && echo '* filter=evil' > .gitattributes"
        .. " && echo data > f && git add . && " .. id .. " commit -qm x"
        .. " && git config filter.evil.smudge " .. q("sh -c 'touch " .. marker .. "; cat'")
        .. " && git config filter.evil.clean cat")
      local sb = sandbox({ repositories = { { path = evil .. "/repo", ref = "main", mount = "/src" } } })
      assert.are.equal("data\n", run(sb, "cat /src/f").stdout)
      assert.is_false(helpers.exists(marker), "the repository's smudge filter ran on the host")
    end)

    it("refuses an unknown ref with INVALID_CONFIG", function()
      local sb, err = mj.sandbox({ repositories = { { path = gitrepo, ref = "no-such-branch", mount = "/src" } } })
      assert.is_nil(sb)
      assert.are.equal("INVALID_CONFIG", err.code)
      assert.is_truthy(err.message:find("no-such-branch", 1, true), err.message)
    end)

    it("gives git inside the identity and config of the rule, and commits work in cow mode", function()
      local sb = sandbox({ env = { HOME = "/tmp" }, repositories = { { path = gitrepo, mount = "/src", mode = "cow",
        git = { user_name = "Sandbox Bot", user_email = "bot@example.org",
          config = { ["core.autocrlf"] = "false", ["alias.st"] = "status" } } } } })
      local r = run(sb, "cd /src && git config user.name && git config user.email && git config core.autocrlf"
        .. " && echo three > f.txt && git commit -qam three && git log -1 --format='%an <%ae> %s'")
      assert.is_true(r.success, r.combined)
      assert.are.equal("Sandbox Bot\nbot@example.org\nfalse\nSandbox Bot <bot@example.org> three\n", r.stdout)
      assert.are.equal("two\n", helpers.read_file(gitrepo .. "/f.txt"))
      assert.are.equal("two", sh("git -C " .. q(gitrepo) .. " log -1 --format=%s"))
    end)
  end)

  it("shows files as owned by the rule's owner (root) or refuses another uid (rootless)", function()
    local dir = make_checkout()
    local sb, err = mj.sandbox({ repositories = { { path = dir, mount = "/src", owner = "1234:1234" } } })
    if helpers.is_root() then
      assert(sb, err and tostring(err))
      made[#made + 1] = sb
      assert.are.equal("1234:1234", run(sb, "stat -c %u:%g /src/readme").stdout:gsub("%s+$", ""))
    else
      assert.is_nil(sb)
      assert.are.equal("UNSUPPORTED", err.code)
      assert.is_truthy(err.message:find("rootless", 1, true), err.message)
    end
  end)

  it("mounts several repositories at once, each diffed and exported by its mount point", function()
    local a, b, c = make_checkout(), make_checkout(), make_checkout()
    local sb = sandbox({ repositories = {
      { path = a, mount = "/a", mode = "cow" },
      { path = b, mount = "/b", mode = "cow", exclude = EXCLUDE },
      { path = c, mount = "/c/nested" },
    } })
    assert.is_true(run(sb, "echo 1 > /a/one && echo 2 > /b/two && cat /c/nested/readme").success)
    local diff_a, diff_b = assert(sb:repo_diff("/a")), assert(sb:repo_diff("/b"))
    assert.are.equal("/a/one", diff_a[1].path)
    assert.are.equal("/b/two", diff_b[1].path)
    local none, err = sb:repo_diff()
    assert.is_nil(none)
    assert.is_truthy(err.message:find("several", 1, true))
    none, err = sb:repo_diff("/c/nested")
    assert.is_nil(none)
    assert.is_truthy(err.message:find("no copy-on-write repository", 1, true))
    local out = helpers.tmpdir()
    assert(sb:export_diff(out .. "/b.tar", "/b"))
    assert.are.equal("two", helpers.sh("tar tf " .. q(out .. "/b.tar")))
  end)

  it("removes the working trees of a process that died without closing its sandbox", function()
    local dir = make_checkout()
    local work = os.getenv("MOONJAIL_WORK_DIR") or (helpers.is_root() and "/var/tmp/moonjail"
      or ((os.getenv("TMPDIR") or "/var/tmp") .. "/moonjail-" .. helpers.uid()))
    local script = helpers.write_file(dir .. "/../crash-" .. helpers.unique_number() .. ".lua", string.format([[
local mj = require "moonjail"
local sb = assert(mj.sandbox({ repositories = { { path = %q, mount = "/src", mode = "cow" } } }))
assert(sb:exec("echo x > /src/new").success)
local f = io.open(%q, "w"); f:write("ready"); f:close()
mj.sleep(60)
]], dir, dir .. "/ready"))
    local pid = sh(q(helpers.moonjail_bin()) .. " script " .. q(script) .. " >/dev/null 2>&1 & echo $!")
    assert(helpers.eventually(20, function() return helpers.exists(dir .. "/ready") end), "the script did not start")
    local function owned_by(p)
      return sh("grep -l '^process " .. p .. " ' " .. q(work) .. "/repo-*/owner 2>/dev/null | wc -l")
    end
    assert.are.equal("1", owned_by(pid))
    os.execute("kill -KILL " .. pid)
    helpers.eventually(10, function() return not helpers.process_alive(tonumber(pid)) end)
    assert.are.equal("1", owned_by(pid)) -- nobody cleaned up after it
    local sb = sandbox({ repositories = { { path = dir, mount = "/src" } } }) -- the next prepare does
    assert.are.equal("0", owned_by(pid))
    sb:close()
  end)

  it("takes repositories from a policy file, relative to it", function()
    local dir = make_checkout()
    helpers.write_file(dir .. "/policy.lua", 'return { extends = "default", repositories = {\n'
      .. '  { path = ".", mount = "/work", mode = "cow", exclude = { "secret.txt", "*.key", "private/" } },\n} }\n')
    local r = assert(mj.run("cat /work/readme; cat /work/secret.txt; echo x > /work/readme; cat /work/readme",
      { policy = dir .. "/policy.lua" }))
    assert.are.equal("keep\nx\n", r.stdout)
    assert.are.equal("keep\n", helpers.read_file(dir .. "/readme"))
  end)
end)

-- A remote git repository: served by `git daemon` on loopback, cloned on the host side into
-- moonjail's cache (a bare mirror) and its branch mounted; nothing the remote supplies runs —
-- not its hooks, not the filters its config names for its .gitattributes.
describe("a remote git repository", function()
  local base, port, marker
  local function url() return "git://127.0.0.1:" .. port .. "/repo.git" end

  setup(function()
    if os.execute("command -v git >/dev/null 2>&1") ~= true then return end
    base = helpers.tmpdir()
    marker = base .. "/REMOTE-RAN"
    sh(table.concat({
      "cd " .. q(base),
      "git init -q -b main work",
      "cd work",
      "git config user.email t@example.invalid && git config user.name t",
      "echo main > f && git add f && git commit -qm main",
      "git checkout -qb feature",
      "echo feature > f && echo '* filter=evil' > .gitattributes && git add f .gitattributes && git commit -qm feature",
      "git checkout -q main", -- the remote's HEAD (its default branch) is main
      "cd ..",
      "git clone -q --bare work repo.git",
      "git -C repo.git config filter.evil.smudge " .. q("touch " .. marker .. "; cat"),
      "git -C repo.git config filter.evil.required true",
      "printf '#!/bin/sh\\ntouch %s\\n' " .. q(marker) .. " > repo.git/hooks/post-checkout",
      "cp repo.git/hooks/post-checkout repo.git/hooks/post-receive",
      "chmod +x repo.git/hooks/post-checkout repo.git/hooks/post-receive",
    }, " && "))
    for _ = 1, 5 do
      port = 20000 + helpers.unique_number() % 20001 -- not math.random: see helpers.unique_number
      sh("git daemon --reuseaddr --export-all --base-path=" .. q(base) .. " --listen=127.0.0.1 --port=" .. port
        .. " --detach --pid-file=" .. q(base .. "/daemon.pid") .. " >/dev/null 2>&1")
      if helpers.eventually(3, function()
        return os.execute("git ls-remote " .. q(url()) .. " >/dev/null 2>&1") == true
      end) then break end
      port = nil
    end
  end)

  teardown(function()
    local pid = base and helpers.read_file(base .. "/daemon.pid")
    if pid and pid:match("^%d+") then os.execute("kill " .. pid:match("^%d+")) end
    for _, sb in ipairs(made) do if mj.type(sb) == "sandbox" then sb:close() end end
    helpers.cleanup()
  end)

  it("mounts a branch of a git:// URL, and runs none of the remote's hooks or filters", function()
    if not port then pending("git, or git daemon on loopback, is not available here") return end
    local res, err = mj.run("cat /src/f; cat /src/.gitattributes", {
      repositories = { { url = url(), branch = "feature", mount = "/src" } } })
    assert.is_truthy(res, tostring(err))
    assert.are.equal("feature\n* filter=evil\n", res.stdout)
    assert.is_false(helpers.exists(marker), "something the remote supplied ran on the host")
    -- the default branch, from the cached mirror (fetched again), in a writable copy
    local sb = sandbox({ repositories = { { url = url(), mount = "/src", permissions = "write" } } })
    assert.are.equal("main\n", run(sb, "cat /src/f").stdout)
    assert.are.equal(0, run(sb, "echo changed > /src/f").exit_code)
    assert.is_false(helpers.exists(marker))
  end)

  it("refuses an unknown branch as INVALID_CONFIG, naming it", function()
    if not port then pending("git, or git daemon on loopback, is not available here") return end
    local res, err = mj.run("true", { repositories = { { url = url(), branch = "no-such-branch", mount = "/src" } } })
    assert.is_nil(res)
    assert.are.equal("INVALID_CONFIG", err.code)
    assert.matches("no-such-branch", err.message, 1, true)
  end)

  it("maps permissions onto a mode, and refuses one that contradicts it", function()
    local repo = require "moonjail.repo"
    assert.are.equal("ro", assert(repo.normalize({ path = "/x", mount = "/m", permissions = "read" })).mode)
    assert.are.equal("cow", assert(repo.normalize({ path = "/x", mount = "/m", permissions = "write" })).mode)
    assert.are.equal("rw", assert(repo.normalize({ path = "/x", mount = "/m", permissions = "write-through" })).mode)
    local r, why = repo.normalize({ path = "/x", mount = "/m", permissions = "read", mode = "rw" })
    assert.is_nil(r)
    assert.matches("permissions", why, 1, true)
    r, why = repo.normalize({ path = "/x", mount = "/m", permissions = "admin" })
    assert.is_nil(r)
    assert.matches("permissions", why, 1, true)
  end)
end)

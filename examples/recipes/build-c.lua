-- build-c.lua — build and test a small C project from a copy-on-write repository, and take the
-- binary out as an artifact.  The host checkout (hello-c/) is never written: the build's
-- objects land in the sandbox's own overlay layer, which goes away with the sandbox.
--
--   moonjail recipe examples/recipes/build-c.lua [--set who=you] [--json]
return {
  name = "build-c",
  description = "make && make test on a cow checkout; the binary and the test log are the artifacts",
  policy = "build",
  params = { who = "moonjail" },
  repositories = {
    { path = "hello-c", mount = "/src", mode = "cow" },
  },
  workdir = "/src",
  output = "out/build-c",
  steps = {
    { name = "build", run = { "make", "CC=cc" }, timeout = "5m" },
    { name = "test", run = { "make", "test" }, timeout = "2m" },
    { name = "smoke", run = "./build/hello " .. params.who,
      after = function(sb, result)
        -- hooks get the sandbox: here, record what changed in the checkout next to the artifacts
        local changes = sb:repo_diff()
        moonjail.log(("the build changed %d paths in /src"):format(#changes))
        assert(sb:export_diff("changes.tar"))
        assert(result.stdout == "hello, " .. params.who .. "\n", "unexpected greeting: " .. result.stdout)
      end },
  },
  artifacts = { "/src/build/hello", "/src/build/*.log" },
}

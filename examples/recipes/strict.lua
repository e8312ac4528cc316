-- strict.lua — a recipe under a custom policy that extends `strict`: the steps check that the
-- restrictions really hold (no network, read-only root and input, tiny /tmp) and fail otherwise.
--
--   moonjail recipe examples/recipes/strict.lua
return {
  name = "strict",
  policy = "policies/ci-strict.lua",
  repositories = {
    { path = "hello-c", mount = "/input", mode = "ro", exclude = { "Makefile" } },
  },
  output = "out/strict",
  steps = {
    { name = "input is read-only", run = "! touch /input/x 2>/dev/null && cat /input/hello.c >/dev/null" },
    { name = "excluded file is unreachable", run = "! grep -q CFLAGS /input/Makefile" },
    { name = "no network", run = "! cat /proc/net/dev | grep -v lo | grep -q ':'" },
    { name = "root is read-only", run = "! touch /usr/x 2>/dev/null" },
    { name = "tmp is 16M", run = "if head -c 20M /dev/zero > /tmp/big 2>/dev/null; then exit 1; fi; rm /tmp/big" },
    { name = "report", run = "echo ok > /tmp/strict.txt" },
  },
  artifacts = { "/tmp/strict.txt" },
}

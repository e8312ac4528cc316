-- flaky.lua — retries: a step that fails twice with EX_TEMPFAIL (75, retryable by default) and
-- then passes is retried until it does; a step that fails for good (exit 2) is not retried,
-- however many retries it has.  That one is allowed to fail, so the recipe still passes.
--
--   moonjail recipe examples/recipes/flaky.lua
return {
  name = "flaky",
  output = "out/flaky",
  steps = {
    { name = "flaky-network", retries = 3, backoff = "0.2s",
      -- /tmp lives as long as the sandbox, so the attempts can count themselves
      run = [[n=$(cat /tmp/attempts 2>/dev/null || echo 0); n=$((n+1)); echo $n > /tmp/attempts
              echo "attempt $n"; [ "$n" -ge 3 ] || exit 75]] },
    { name = "permanent-failure", retries = 3, backoff = "0.2s", allow_failure = true,
      run = "echo 'this will never work'; exit 2" },
    { name = "custom-retry-code", retries = 2, backoff = "0.2s", retry_on = { 42 },
      run = [[[ -e /tmp/second ] && exit 0; touch /tmp/second; exit 42]] },
  },
}

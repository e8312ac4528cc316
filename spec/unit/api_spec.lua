-- spec/unit/api_spec.lua — the module's pure helpers and argument checking, no sandbox started.
--
-- Covers: mj.parse_size (binary K/M/G units, numbers, bad strings → nil, err),
-- mj.parse_duration ("90s", "1m30s", "2h", "500ms", numbers, bad strings → nil, err), mj.run
-- raising on wrong argument types and unknown option keys (naming the key), and mj.run with a
-- policy name that does not exist or a malformed `env` returning nil, INVALID_CONFIG before
-- anything runs.
local mj = require "moonjail"

describe("mj.parse_size", function()
  it("reads binary units as docker does (K, M, G = KiB, MiB, GiB)", function()
    assert.are.equal(536870912, mj.parse_size("512M"))
    assert.are.equal(1073741824, mj.parse_size("1G"))
    assert.are.equal(10240, mj.parse_size("10K"))
  end)

  it("takes a plain number of bytes, as a number or a string", function()
    assert.are.equal(4096, mj.parse_size(4096))
    assert.are.equal(4096, mj.parse_size("4096"))
    assert.are.equal(0, mj.parse_size(0))
  end)

  it("returns an integer, not a float", function()
    assert.are.equal("integer", math.type(mj.parse_size("512M")))
  end)

  it("returns nil and an error for strings that are not sizes", function()
    for _, bad in ipairs({ "", "abc", "12X", "M", "1 0M", "-1M", "1.2.3G" }) do
      local v, err = mj.parse_size(bad)
      assert.is_nil(v, "parse_size(" .. string.format("%q", bad) .. ") should fail")
      assert.is_truthy(err, "parse_size(" .. string.format("%q", bad) .. ") gives no error")
    end
  end)

  it("rejects negative numbers", function()
    local v, err = mj.parse_size(-1)
    assert.is_nil(v)
    assert.is_truthy(err)
  end)
end)

describe("mj.parse_duration", function()
  it("never wraps a long duration to a negative one (found by fuzzing)", function()
    local d = mj.parse_duration("244444444444444449h9h")
    assert.is_true(d > 8e20 and d < math.huge)
    assert.is_nil(mj.parse_duration(string.rep("9", 400) .. "h"))
    assert.are.equal(math.type(90), math.type(mj.parse_duration("90s")))
  end)

  it("reads seconds, minutes, hours and combinations", function()
    assert.are.equal(90, mj.parse_duration("90s"))
    assert.are.equal(90, mj.parse_duration("1m30s"))
    assert.are.equal(7200, mj.parse_duration("2h"))
    assert.are.equal(1800, mj.parse_duration("30m"))
  end)

  it("reads milliseconds as a fraction of a second", function()
    assert.are.equal(0.5, mj.parse_duration("500ms"))
  end)

  it("takes a number of seconds", function()
    assert.are.equal(30, mj.parse_duration(30))
    assert.are.equal(1.5, mj.parse_duration(1.5))
  end)

  it("returns nil and an error for strings that are not durations", function()
    for _, bad in ipairs({ "", "abc", "10x", "s", "1m30", "m30s", "-5s" }) do
      local v, err = mj.parse_duration(bad)
      assert.is_nil(v, "parse_duration(" .. string.format("%q", bad) .. ") should fail")
      assert.is_truthy(err, "parse_duration(" .. string.format("%q", bad) .. ") gives no error")
    end
  end)

  it("rejects negative numbers", function()
    local v, err = mj.parse_duration(-3)
    assert.is_nil(v)
    assert.is_truthy(err)
  end)
end)

describe("mj.run argument checking", function()
  it("raises when the command is neither a table nor a string", function()
    assert.has_error(function() mj.run(42) end)
    assert.has_error(function() mj.run(nil) end)
    assert.has_error(function() mj.run(true) end)
  end)

  it("raises when an argv element is not a string", function()
    assert.has_error(function() mj.run({ "echo", {} }) end)
  end)

  it("raises when opts is not a table", function()
    assert.has_error(function() mj.run({ "true" }, "fast") end)
    assert.has_error(function() mj.run({ "true" }, 5) end)
  end)

  it("raises on an unknown option key and names it", function()
    local ok, msg = pcall(mj.run, { "true" }, { no_such_option_xyz = 1 })
    assert.is_false(ok)
    assert.matches("no_such_option_xyz", tostring(msg), 1, true)
  end)

  it("raises when an option has the wrong type and names it", function()
    local ok, msg = pcall(mj.run, { "true" }, { env = "FOO=bar" })
    assert.is_false(ok)
    assert.matches("env", tostring(msg), 1, true)
  end)

  it("returns nil, INVALID_CONFIG for a policy name that does not exist", function()
    local res, err = mj.run({ "true" }, { policy = "no-such-policy-mjspec" })
    assert.is_nil(res)
    assert.is_truthy(mj.is_error(err))
    assert.are.equal("INVALID_CONFIG", err.code)
    assert.matches("no-such-policy-mjspec", err.message, 1, true)
  end)

  it("refuses a bad env option naming the variable, before anything runs", function()
    local res, err = mj.run("true", { env = { ["A=B"] = "x" } })
    assert.is_nil(res)
    assert.are.equal("INVALID_CONFIG", err.code)
    assert.matches("option 'env': invalid variable name 'A=B'", err.message, 1, true)
    res, err = mj.run("true", { env = { A = {} } })
    assert.is_nil(res)
    assert.matches("option 'env': value of 'A' must be a string", err.message, 1, true)
  end)
end)

-- spec/unit/error_spec.lua — moonjail error objects in Lua, no sandbox started.
--
-- Covers: mj.error(code, detail, opts) fields (code, message, retryable, errno, cause); tostring
-- equal to the reference's Error() text (TestSandboxError: "Sandbox not found", "Resource limit
-- exceeded: Memory limit of 1GB exceeded", a literal retryable "Temporary network failure");
-- the cause kept (TestSandboxErrorUnwrap); retryable decided from errno unless told; every code
-- in mj.codes has a base message; mj.is_error; unknown codes raise.
local mj = require "moonjail"

local PINNED_CODES = {
  "SANDBOX_NOT_FOUND", "RESOURCE_LIMIT_EXCEEDED", "COMMAND_EXECUTION_FAILED",
  "SANDBOX_INIT_FAILED", "FILE_OPERATION_FAILED", "INVALID_CONFIG", "INVALID_STATE",
  "PERMISSION_DENIED", "UNSUPPORTED", "TIMEOUT", "NETWORK", "IMAGE", "TEMPORARY_FAILURE",
}

describe("mj.error", function()
  it("prints a bare code as the reference's base text", function()
    local err = mj.error("SANDBOX_NOT_FOUND")
    assert.are.equal("Sandbox not found", tostring(err))
    assert.are.equal("SANDBOX_NOT_FOUND", err.code)
    assert.are.equal("Sandbox not found", err.message)
    assert.is_false(err.retryable)
  end)

  it("prints a detail after the base text, as NewSandboxError does", function()
    local err = mj.error("RESOURCE_LIMIT_EXCEEDED", "Memory limit of 1GB exceeded")
    assert.are.equal("Resource limit exceeded: Memory limit of 1GB exceeded", tostring(err))
    assert.are.equal("RESOURCE_LIMIT_EXCEEDED", err.code)
    assert.is_false(err.retryable)
  end)

  it("keeps a literal message exactly, with its retryable flag", function()
    local err = mj.error("TEMPORARY_FAILURE", nil,
                         { literal = "Temporary network failure", retryable = true })
    assert.are.equal("Temporary network failure", tostring(err))
    assert.are.equal("TEMPORARY_FAILURE", err.code)
    assert.is_true(err.retryable)
  end)

  it("keeps its cause", function()
    local base = mj.error("FILE_OPERATION_FAILED", "underlying error")
    local err = mj.error("COMMAND_EXECUTION_FAILED", "command failed", { cause = base })
    assert.are.equal("Command execution failed: command failed", tostring(err))
    assert.is_truthy(err.cause)
    assert.are.equal("FILE_OPERATION_FAILED", err.cause.code)
    assert.are.equal(tostring(base), tostring(err.cause))
  end)

  it("has no cause unless given one", function()
    assert.is_nil(mj.error("SANDBOX_NOT_FOUND").cause)
  end)

  it("records errno", function()
    local err = mj.error("FILE_OPERATION_FAILED", "open /x", { errno = 2 })
    assert.are.equal(2, err.errno)
    assert.is_false(err.retryable)
  end)

  it("is retryable when its errno says so (EAGAIN, EBUSY), unless told otherwise", function()
    assert.is_true(mj.error("TEMPORARY_FAILURE", "fork", { errno = 11 }).retryable)
    assert.is_true(mj.error("FILE_OPERATION_FAILED", "umount", { errno = 16 }).retryable)
    assert.is_false(mj.error("TEMPORARY_FAILURE", "fork", { errno = 11, retryable = false })
                      .retryable)
  end)

  it("raises for a code that does not exist", function()
    assert.has_error(function() mj.error("NO_SUCH_CODE") end)
  end)

  it("raises when opts has the wrong types", function()
    assert.has_error(function() mj.error("TIMEOUT", nil, { errno = "two" }) end)
    assert.has_error(function() mj.error("TIMEOUT", nil, { retryable = "yes" }) end)
  end)
end)

describe("mj.codes", function()
  it("lists every pinned code", function()
    local have = {}
    for _, c in ipairs(mj.codes) do have[c] = true end
    for _, c in ipairs(PINNED_CODES) do
      assert.is_true(have[c] == true, "mj.codes lacks " .. c)
    end
  end)

  it("gives every code a base message of its own", function()
    local seen = {}
    for _, c in ipairs(mj.codes) do
      local err = mj.error(c)
      assert.are.equal(c, err.code)
      local text = tostring(err)
      assert.is_truthy(#text > 0, c .. " has an empty message")
      assert.are_not.equal(c, text, c .. " prints its code instead of a message")
      assert.is_nil(seen[text], c .. " shares its message with " .. tostring(seen[text]))
      seen[text] = c
    end
  end)
end)

describe("mj.is_error", function()
  it("recognises moonjail errors and nothing else", function()
    assert.is_true(mj.is_error(mj.error("TIMEOUT")))
    assert.is_false(mj.is_error("Timeout"))
    assert.is_false(mj.is_error({ code = "TIMEOUT", message = "Timeout" }))
    assert.is_false(mj.is_error(nil))
    assert.is_false(mj.is_error(42))
  end)
end)

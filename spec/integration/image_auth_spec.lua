-- spec/integration/image_auth_spec.lua — registry authentication against real registries on
-- loopback (spec/registry.lua).  No root needed.
--
-- Covers: basic auth (htpasswd) over HTTPS with a certificate made in the test and trusted through
-- ca_file — credentials given directly or found in an auth file of docker's config.json shape;
-- no or wrong credentials are PERMISSION_DENIED (not retryable); an untrusted certificate is a
-- NETWORK error that is not retried; Docker Hub's bearer-token flow (401 challenge → token server
-- → retry) anonymously and with basic credentials sent to the token server, which refuses an
-- anonymous pull when it wants credentials; a token realm on plain HTTP is used only when named
-- insecure.
local helpers = require "spec.helpers"
local registry = require "spec.registry"

if registry.skip_unless_available() then return end

local image = require "moonjail.image"

describe("image pull auth #registry", function()
  local env

  setup(function()
    env = registry.new()
    env:build("img", {})
  end)

  teardown(function()
    if env then env:stop() end
  end)

  local function pull(ref, opts)
    opts.store = env.store
    opts.auth_files = opts.auth_files or {} -- never the user's own
    return image.pull(ref, opts)
  end

  describe("basic over HTTPS", function()
    local reg

    setup(function()
      reg = env:start_registry{ tls = true, htpasswd = "alice:s3cret" }
      env:push("img", reg, "private/img:1", { creds = "alice:s3cret" })
    end)

    it("pulls with the credentials and the test's certificate", function()
      local rec, err = pull(reg.host .. "/private/img:1", { ca_file = reg.cert,
        credentials = { username = "alice", password = "s3cret" } })
      assert(rec, err and tostring(err))
      assert.equal(reg.host .. "/private/img:1", rec.name)
    end)

    it("finds the credentials in an auth file", function()
      local file = env.dir .. "/config.json"
      local auth = require("moonjail.imagecore").base64_encode("alice:s3cret")
      helpers.write_file(file, '{"auths": {"https://' .. reg.host .. '": {"auth": "' .. auth .. '"}}}')
      local rec, err = pull(reg.host .. "/private/img:1", { ca_file = reg.cert, auth_files = { file } })
      assert(rec, err and tostring(err))
    end)

    it("refuses a pull without credentials or with wrong ones", function()
      local rec, err = pull(reg.host .. "/private/img:1", { ca_file = reg.cert })
      assert.is_nil(rec)
      assert.equal("PERMISSION_DENIED", err.code)
      assert.is_false(err.retryable)
      rec, err = pull(reg.host .. "/private/img:1", { ca_file = reg.cert,
        credentials = { username = "alice", password = "wrong" } })
      assert.is_nil(rec)
      assert.equal("PERMISSION_DENIED", err.code)
    end)

    it("refuses a certificate it was not told to trust, without retrying", function()
      local started = helpers.now()
      local rec, err = pull(reg.host .. "/private/img:1", { credentials = { username = "alice", password = "s3cret" },
        retries = { attempts = 3, base_delay = 2 } })
      assert.is_nil(rec)
      assert.equal("NETWORK", err.code)
      assert.is_false(err.retryable)
      assert.is_true(helpers.now() - started < 2, "it retried")
    end)
  end)

  describe("bearer tokens", function()
    it("follows the challenge to an anonymous token", function()
      local tok = env:start_token_server()
      local reg = env:start_registry{ token = tok }
      env:push("img", reg, "hub/img:1")
      local realm = "127.0.0.1:" .. tok.port
      local rec, err = pull(reg.host .. "/hub/img:1", { insecure = { reg.host, realm } })
      assert(rec, err and tostring(err))
      local log = helpers.read_file(tok.log)
      assert.matches("scope=repository%%3Ahub%%2Fimg%%3Apull %-", log)
    end)

    it("sends credentials to the token server, which refuses an anonymous pull", function()
      local tok = env:start_token_server{ user = "bob:pw" }
      local reg = env:start_registry{ token = tok }
      env:push("img", reg, "team/img:1", { creds = "bob:pw" })
      local realm = "127.0.0.1:" .. tok.port
      local rec, err = pull(reg.host .. "/team/img:1", { insecure = { reg.host, realm } })
      assert.is_nil(rec)
      assert.equal("PERMISSION_DENIED", err.code)
      rec, err = pull(reg.host .. "/team/img:1", { insecure = { reg.host, realm },
        credentials = { username = "bob", password = "pw" } })
      assert(rec, err and tostring(err))
      assert.matches("scope=repository%%3Ateam%%2Fimg%%3Apull Basic", helpers.read_file(tok.log))
    end)

    it("will not use a token realm on plain HTTP that was not named insecure", function()
      local tok = env:start_token_server()
      local reg = env:start_registry{ token = tok }
      local rec, err = pull(reg.host .. "/hub/img:1", { insecure = { reg.host } })
      assert.is_nil(rec)
      assert.equal("PERMISSION_DENIED", err.code)
      assert.matches("token realm", err.message, 1, true)
    end)
  end)
end)

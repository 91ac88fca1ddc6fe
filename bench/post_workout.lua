-- wrk script: POST a 10-set workout with a fresh Idempotency-Key per request.
-- Reads TOKEN and BODY_FILE from the environment.
local token = os.getenv("TOKEN")
local file = io.open(os.getenv("BODY_FILE"), "r")
local body = file:read("*a")
file:close()
local counter = 0
local salt = tostring(math.random(1, 1000000000))

request = function()
  counter = counter + 1
  return wrk.format("POST", nil, {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. token,
    ["Idempotency-Key"] = salt .. "-" .. counter,
  }, body)
end

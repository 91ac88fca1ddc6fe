-- wrk script: POST a 10-set workout with a fresh Idempotency-Key per request, rotating
-- over many athletes' tokens (one per line in TOKENS_FILE), as a crowd of phones would.
-- Reads TOKENS_FILE and BODY_FILE from the environment.
local tokens = {}
for line in io.lines(os.getenv("TOKENS_FILE")) do
  if #line > 0 then tokens[#tokens + 1] = line end
end
local file = io.open(os.getenv("BODY_FILE"), "r")
local body = file:read("*a")
file:close()
local counter = 0
local salt = tostring(math.random(1, 1000000000))

request = function()
  counter = counter + 1
  return wrk.format("POST", nil, {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. tokens[(counter % #tokens) + 1],
    ["Idempotency-Key"] = salt .. "-" .. counter,
  }, body)
end

-- wrk script: POST a 10-set workout with a fresh Idempotency-Key per request.
-- Reads BODY_FILE and either TOKEN (one athlete) or TOKENS_FILE (one token per line,
-- used in turn, as a crowd of phones would) from the environment.
local tokens = {}
local tokens_file = os.getenv("TOKENS_FILE")
if tokens_file then
  for line in io.lines(tokens_file) do
    if #line > 0 then tokens[#tokens + 1] = line end
  end
else
  tokens[1] = os.getenv("TOKEN")
end
local file = io.open(os.getenv("BODY_FILE"), "r")
local body = file:read("*a")
file:close()
local counter = 0
-- Keys must differ between wrk runs too (a warm-up, then the measured run; several rounds):
-- LuaJIT's unseeded math.random gives the same number in every run, which replayed the
-- previous run's keys. SALT (optional) and the start time make each run's keys its own.
math.randomseed(os.time())
local salt = (os.getenv("SALT") or "") .. os.time() .. "-" .. tostring(math.random(1, 1000000000))

request = function()
  counter = counter + 1
  return wrk.format("POST", nil, {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. tokens[(counter % #tokens) + 1],
    ["Idempotency-Key"] = salt .. "-" .. counter,
  }, body)
end

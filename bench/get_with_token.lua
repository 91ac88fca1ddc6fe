-- wrk script: GET with the bearer token from the TOKEN environment variable.
local token = os.getenv("TOKEN")
wrk.headers["Authorization"] = "Bearer " .. token

-- GET /sessions/whoami with the token of a random active session below args[1].
local range

function init(args)
   bench_random_seed()
   range = tonumber(args[1])
end

function request()
   local n = math.random(0, range - 1)
   while not bench_active(n) do n = (n + 1) % range end
   wrk.headers["X-Session-Token"] = "bench_st_" .. n
   return wrk.format()
end

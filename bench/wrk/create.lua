-- POST /admin/lanyard/sessions for a random identity below args[1].
local identities

function init(args)
   bench_random_seed()
   identities = tonumber(args[1])
   wrk.method = "POST"
   wrk.headers["Content-Type"] = "application/json"
end

function request()
   local body = '{"identity_id":"' .. bench_identity(bench_active_identity(identities)) .. '",' ..
      '"methods":[{"method":"password"}],' ..
      '"device":{"ip_address":"' .. bench_ip() .. '","user_agent":"wrk lanyard-bench"}}'
   return wrk.format(nil, nil, nil, body)
end

-- ZITADEL CreateSession (REST) with a user check and a correct password check, for a random
-- identity below args[1] (the identities that have a password); args[2] is the password.
local identities, password

function init(args)
   bench_random_seed()
   identities = tonumber(args[1])
   password = args[2]
   wrk.method = "POST"
   wrk.headers["Content-Type"] = "application/json"
end

function request()
   local body = '{"checks":{"user":{"userId":"' .. bench_identity(bench_active_identity(identities)) .. '"},' ..
      '"password":{"password":"' .. password .. '"}},' ..
      '"userAgent":{"ip":"' .. bench_ip() .. '","description":"wrk lanyard-bench"}}'
   return wrk.format(nil, nil, nil, body)
end

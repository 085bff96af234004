-- ZITADEL ListSessions (REST): one random identity's sessions created since args[2],
-- newest first, limit 100. args[1]: the number of identities.
local identities, since

function init(args)
   bench_random_seed()
   identities = tonumber(args[1])
   since = args[2]
   wrk.method = "POST"
   wrk.headers["Content-Type"] = "application/json"
end

function request()
   local user = bench_identity(math.random(0, identities - 1))
   local body = '{"query":{"offset":"0","limit":100,"asc":false},' ..
      '"sortingColumn":"SESSION_FIELD_NAME_CREATION_DATE","queries":[' ..
      '{"userIdQuery":{"id":"' .. user .. '"}},' ..
      '{"creationDateQuery":{"creationDate":"' .. since .. '","method":"TIMESTAMP_QUERY_METHOD_GREATER_OR_EQUALS"}}]}'
   return wrk.format(nil, nil, nil, body)
end

-- The same request every time. Arguments: [method] [JSON body]. Headers come from -H.
function init(args)
   if args[1] and args[1] ~= "" then wrk.method = args[1] end
   if args[2] and args[2] ~= "" then
      wrk.body = args[2]
      wrk.headers["Content-Type"] = "application/json"
   end
end

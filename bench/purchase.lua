-- wrk: POST /purchase with a realistic till mix, each sale sent by one of its store's 100
-- tills. A third of the sales are new customers (no user_id); the rest come from 5,000
-- returning customers. 1 to 4 distinct products, three stores. Every
-- acknowledged purchase_id is kept so the harness can check each was stored.
local products = {"milk", "bread", "eggs", "chicken", "apples", "toilet paper", "cereal",
                  "cheese", "yogurt", "orange juice"}
dofile(os.getenv("BENCH_DIR") .. "/tills.lua")

function init(args)
   math.randomseed(os.time() * 1000 + id)
   acknowledged = {}
   wrk.method = "POST"
   wrk.headers["Content-Type"] = "application/json"
end

local function basket()
   local n = math.random(1, 4)
   local chosen, names = {}, {}
   while #names < n do
      local p = products[math.random(#products)]
      if not chosen[p] then
         chosen[p] = true
         names[#names + 1] = '"' .. p .. '"'
      end
   end
   return table.concat(names, ",")
end

function request()
   local store = "SMKT00" .. math.random(1, 3)
   local customer = ""
   if math.random(1, 3) > 1 then
      customer = string.format('"user_id":"00000000-0000-4000-8000-%012d",', math.random(1, 5000))
   end
   local body = '{"supermarket_id":"' .. store .. '",' .. customer .. '"items":[' .. basket() .. ']}'
   local headers = {["Content-Type"] = "application/json",
                    ["Authorization"] = "Bearer " .. till_key(store)}
   return wrk.format(nil, "/purchase", headers, body)
end

function response(status, headers, body)
   if status == 201 then
      acknowledged[#acknowledged + 1] = tonumber(body:match('"purchase_id":(%d+)'))
   end
end

function done(summary, latency, requests)
   local out = io.open(os.getenv("BENCH_ACKNOWLEDGED_FILE"), "w")
   for _, thread in ipairs(threads) do
      for _, purchase_id in ipairs(thread:get("acknowledged")) do
         out:write(purchase_id, "\n")
      end
   end
   out:close()
   report(summary, latency)
end

-- wrk: POST /refunds, each taking back all of one sale the purchase run acknowledged, at a till
-- of another store than the sale's (returns come back anywhere in the chain). With two wrk
-- threads, thread 1 takes the odd lines of the list and thread 2 the even ones, so no sale is
-- refunded twice while the list lasts; past its end a thread starts over, and those refunds
-- are 409s, counted apart.
dofile(os.getenv("BENCH_DIR") .. "/tills.lua")

function init(args)
   sales = {}
   for line in io.lines(os.getenv("BENCH_REFUNDABLE_FILE")) do
      sales[#sales + 1] = line
   end
   next_sale = id
   taken, refused = 0, 0
end

function request()
   local sale = sales[next_sale] or sales[1]
   next_sale = next_sale + 2
   if next_sale > #sales then next_sale = id end
   local store = "SMKT00" .. math.random(1, 3)
   local body = '{"purchase_id":' .. sale .. ',"lines":"all","reason":"returned"}'
   local headers = {["Content-Type"] = "application/json",
                    ["Authorization"] = "Bearer " .. till_key(store)}
   return wrk.format("POST", "/refunds", headers, body)
end

function response(status, headers, body)
   if status == 201 then taken = taken + 1 elseif status == 409 then refused = refused + 1 end
end

function done(summary, latency, requests)
   local out = io.open(os.getenv("BENCH_REFUNDS_FILE"), "w")
   local all_taken, all_refused = 0, 0
   for _, thread in ipairs(threads) do
      all_taken = all_taken + thread:get("taken")
      all_refused = all_refused + thread:get("refused")
   end
   out:write(all_taken, " ", all_refused, "\n")
   out:close()
   report(summary, latency)
end

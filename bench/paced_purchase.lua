-- wrk: the purchase.lua mix offered at a steady rate instead of as fast as possible. Each
-- connection waits BENCH_INTERVAL_MS on average (uniform jitter of ±50%, so connections do not
-- march in step) between its requests, so N connections offer about N × 1000 / interval
-- purchases per second while each answer takes well under the interval. The harness reports
-- the rate actually achieved next to the one offered.
dofile(os.getenv("BENCH_DIR") .. "/purchase.lua")
local interval = tonumber(os.getenv("BENCH_INTERVAL_MS"))

function delay()
   return math.floor(interval * (0.5 + math.random()))
end

-- wrk: the purchase.lua mix offered at BENCH_RATE purchases per second, open loop. Each wrk
-- thread keeps its own schedule of send times (its share of the rate, Poisson arrivals, as from
-- many independent tills): before each request, delay() claims the thread's next send time and
-- waits until it, on the monotonic clock. A request whose time has passed (every connection was
-- busy) goes at once, so a slow answer does not lower the rate offered; the harness compares the
-- rate achieved with the one offered. The connections only have to outnumber the requests in
-- flight.
dofile(os.getenv("BENCH_DIR") .. "/purchase.lua")
local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clock, bench_timespec *now);
]]
local CLOCK_MONOTONIC = 1
local now_buffer = ffi.new("bench_timespec")
local function now_ms()
   ffi.C.clock_gettime(CLOCK_MONOTONIC, now_buffer)
   return tonumber(now_buffer.tv_sec) * 1000 + tonumber(now_buffer.tv_nsec) / 1e6
end

local mean_gap_ms = 1000 * tonumber(os.getenv("BENCH_THREADS")) / tonumber(os.getenv("BENCH_RATE"))
local next_send_ms = nil

function delay()
   local now = now_ms()
   if next_send_ms == nil then
      next_send_ms = now
   end
   next_send_ms = next_send_ms - mean_gap_ms * math.log(1 - math.random())
   local wait = next_send_ms - now
   if wait < 1 then
      return 0
   end
   return math.floor(wait)
end

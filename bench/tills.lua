-- wrk: what every till script shares. Each wrk thread gets its number (`id`, from 1) and is
-- kept in `threads`, so `done` can gather what each saw; `till_keys` holds each store's tills'
-- keys from BENCH_TILL_KEYS="SMKT001=key,key,...;SMKT002=...", and `till_key(store)` gives the
-- next of that store's tills for a request: a chain's load comes from hundreds of tills, each
-- with its own ledger, and a till sends one sale at a time. So each of the BENCH_THREADS
-- threads takes its own share of each store's tills, in turn: a till comes round again only
-- after the thread's other tills of the store, long after its last sale was answered. Loads
-- report.lua.
threads = {}
dofile(os.getenv("BENCH_DIR") .. "/report.lua")

function setup(thread)
   thread:set("id", #threads + 1)
   table.insert(threads, thread)
end

till_keys = {}
for store, keys in string.gmatch(os.getenv("BENCH_TILL_KEYS") or "", "([^=;]+)=([^;]+)") do
   till_keys[store] = {}
   for key in string.gmatch(keys, "[^,]+") do
      table.insert(till_keys[store], key)
   end
end

local thread_count = tonumber(os.getenv("BENCH_THREADS") or "1")
local turns = {}

function till_key(store)
   local keys = till_keys[store]
   if keys == nil then return "" end
   local turn = turns[store] or math.random(0, #keys)
   turns[store] = turn + 1
   return keys[(turn * thread_count + (id or 1) - 1) % #keys + 1]
end

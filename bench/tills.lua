-- wrk: what every till script shares. Each wrk thread gets its number (`id`, from 1) and is
-- kept in `threads`, so `done` can gather what each saw; `till_keys` holds each store's till
-- key from BENCH_TILL_KEYS="SMKT001=key;SMKT002=key;SMKT003=key". Loads report.lua.
threads = {}
dofile(os.getenv("BENCH_DIR") .. "/report.lua")

function setup(thread)
   thread:set("id", #threads + 1)
   table.insert(threads, thread)
end

till_keys = {}
for store, key in string.gmatch(os.getenv("BENCH_TILL_KEYS") or "", "([^=;]+)=([^;]+)") do
   till_keys[store] = key
end

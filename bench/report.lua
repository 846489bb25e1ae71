-- wrk: print the run's figures as one JSON line for the harness. Used alone (GET /health) or
-- loaded by purchase.lua.
function report(summary, latency)
   local errors = summary.errors
   io.write(string.format(
      'BENCH_JSON {"requests":%d,"seconds":%.3f,"non_2xx":%d,"socket_errors":%d,' ..
      '"p50_ms":%.3f,"p99_ms":%.3f,"p999_ms":%.3f,"max_ms":%.3f}\n',
      summary.requests, summary.duration / 1e6, errors.status,
      errors.connect + errors.read + errors.write + errors.timeout,
      latency:percentile(50) / 1000, latency:percentile(99) / 1000,
      latency:percentile(99.9) / 1000, latency.max / 1000))
end

function done(summary, latency, requests)
   report(summary, latency)
end

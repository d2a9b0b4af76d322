-- bench/pipeline.lua - pipelined keep-alive load for wrk.
-- Usage: wrk -s bench/pipeline.lua http://127.0.0.1:PORT/ -- [depth]   (depth defaults to 16)
-- Every write carries `depth` GET requests; wrk counts each response separately, so its
-- request count is responses, and it waits for all `depth` before the next write.
local batch

init = function(args)
  local depth = tonumber(args[1]) or 16
  local parts = {}
  for i = 1, depth do
    parts[i] = wrk.format("GET", wrk.path)
  end
  batch = table.concat(parts)
end

request = function()
  return batch
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCHSUM requests=%d bytes=%d duration_us=%d connect=%d read=%d write=%d status=%d timeout=%d p99_us=%d\n",
    summary.requests, summary.bytes, summary.duration, e.connect, e.read, e.write, e.status,
    e.timeout, latency:percentile(99)))
end

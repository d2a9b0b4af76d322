-- bench/summary.lua - no request changes; prints wrk's own totals on one parseable line.
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCHSUM requests=%d bytes=%d duration_us=%d connect=%d read=%d write=%d status=%d timeout=%d p99_us=%d\n",
    summary.requests, summary.bytes, summary.duration, e.connect, e.read, e.write, e.status,
    e.timeout, latency:percentile(99)))
end

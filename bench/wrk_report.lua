-- wrk script: optional random paths from BENCH_PATHS (one per line), and a JSON summary.
local paths = {}

function init(args)
  local file = os.getenv("BENCH_PATHS")
  if file then
    for line in io.lines(file) do paths[#paths + 1] = line end
  end
  math.randomseed(os.time() + (tonumber(tostring({}):sub(8)) or 0))
end

function request()
  if #paths > 0 then
    return wrk.format("GET", paths[math.random(#paths)])
  end
  return wrk.format("GET")
end

function done(summary, latency, requests)
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "bytes": %d, "errors": %d, "non2xx": %d, "p50_us": %d, "p95_us": %d}\n',
    summary.requests, summary.duration, summary.bytes,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status, latency:percentile(50), latency:percentile(95)))
end

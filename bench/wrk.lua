-- wrk script for bench/compare.py.
--
-- Without BENCH_RANGE_SIZE the request is static (wrk's fast path). With it, every request
-- asks for one random, aligned range of BENCH_RANGE_SIZE bytes out of a blob of
-- BENCH_BLOB_SIZE bytes (the same pseudo-random sequence against every server).
-- At the end, one line "BENCH {json}" sums up the run (latencies in microseconds).

-- BENCH_METHOD (say HEAD) replaces the method of every request.
if os.getenv("BENCH_METHOD") then
  wrk.method = os.getenv("BENCH_METHOD")
end

local range_size = tonumber(os.getenv("BENCH_RANGE_SIZE") or "0")
local blob_size = tonumber(os.getenv("BENCH_BLOB_SIZE") or "0")

if range_size > 0 then
  local threads = 0

  function setup(thread)
    threads = threads + 1
    thread:set("seed", 1000 + threads)
  end

  local slots = 0

  function init(_)
    math.randomseed(seed or 1000)
    slots = math.floor(blob_size / range_size)
  end

  function request()
    local start = math.random(0, slots - 1) * range_size
    wrk.headers["Range"] = string.format("bytes=%d-%d", start, start + range_size - 1)
    return wrk.format()
  end
end

function done(summary, latency, _)
  local e = summary.errors
  io.write(string.format(
    'BENCH {"requests": %d, "duration_us": %d, "bytes": %d, "errors_connect": %d, '
      .. '"errors_read": %d, "errors_write": %d, "errors_status": %d, "errors_timeout": %d, '
      .. '"mean_us": %.1f, "p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write,
    e.status, e.timeout, latency.mean, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max))
end

-- wrk script for bench/run: sends pre-signed raw requests, each at most once, in file order.
--
--   BENCH_RESULT_FILE=out.json [BENCH_DELAY_MS=20] wrk -t1 -c50 -d8s -s replay.lua URL -- REQUESTS_FILE
--
-- REQUESTS_FILE holds complete HTTP/1.1 requests separated by NUL bytes (bench/lib/bench.py
-- writes them, signed the Slack way, each with a distinct trigger_id). Threads take disjoint
-- slices. Past the end of its slice a thread starts over: those are replays, which lambda-pause
-- answers 401 and which show up as non-2xx, so the file must be large enough for the run.
-- With BENCH_DELAY_MS, every connection waits a random 0.5x-1.5x that many ms before each
-- request (an open-ish fixed rate: connections / delay). done() writes the figures as JSON.

local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("tid", counter)
end

local reqs = {}
local n = 0
local i = 0

function init(args)
  local nthreads = tonumber(os.getenv("BENCH_THREADS") or "1")
  local me = tonumber(tid or 1)
  local f = assert(io.open(args[1], "rb"))
  local data = f:read("*a")
  f:close()
  local pos, k = 1, 0
  while true do
    local s = string.find(data, "\0", pos, true)
    if not s then break end
    k = k + 1
    if (k - 1) % nthreads + 1 == me then
      n = n + 1
      reqs[n] = string.sub(data, pos, s - 1)
    end
    pos = s + 1
  end
  data = nil
  collectgarbage()
end

function request()
  i = i + 1
  if i > n then i = 1 end
  return reqs[i]
end

local delay_ms = tonumber(os.getenv("BENCH_DELAY_MS") or "0") or 0
if delay_ms > 0 then
  math.randomseed(os.time())
  function delay()
    return math.floor(delay_ms * (0.5 + math.random()) + 0.5)
  end
end

function done(summary, latency, requests)
  local out = os.getenv("BENCH_RESULT_FILE")
  if not out then return end
  local e = summary.errors
  local f = assert(io.open(out, "w"))
  f:write(string.format(
    '{"duration_us":%d,"requests":%d,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"mean":%.1f,"stdev":%.1f,"min":%d,"max":%d,"p50":%d,"p90":%d,"p99":%d,"p999":%d}}\n',
    summary.duration, summary.requests, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.mean, latency.stdev, latency.min, latency.max,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9)))
  f:close()
end

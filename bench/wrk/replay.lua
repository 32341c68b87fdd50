-- wrk script for bench/run: sends pre-signed raw requests, each at most once, in file order.
--
--   BENCH_RESULT_FILE=out.json [BENCH_DELAY_MS=20] wrk -t1 -c50 -d8s -s replay.lua URL -- REQUESTS_FILE
--
-- REQUESTS_FILE holds complete HTTP/1.1 requests, each after its length in 8 decimal digits
-- (bench/lib/bench.py writes them, signed the Slack way, each with a distinct trigger_id). They
-- are read from the file one at a time, so a file of millions of requests never has to fit in
-- wrk's Lua memory. Threads take disjoint slices. Past the end of the file a thread starts over:
-- those are replays, which lambda-pause answers 401 and which show up as non-2xx, so the file
-- must be large enough for the run.
-- With BENCH_DELAY_MS, every connection waits a random 0.5x-1.5x that many ms before each
-- request (an open-ish fixed rate: connections / delay). done() writes the figures as JSON.

local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("tid", counter)
end

local file = nil
local nthreads = 1
local me = 1
local k = 0

function init(args)
  nthreads = tonumber(os.getenv("BENCH_THREADS") or "1")
  me = tonumber(tid or 1)
  file = assert(io.open(args[1], "rb"))
end

-- The next record of the file, starting over at its end.
local function next_record()
  local len = file:read(8)
  if not len then
    file:seek("set", 0)
    k = 0
    len = assert(file:read(8), "empty requests file")
  end
  k = k + 1
  return file:read(tonumber(len))
end

function request()
  while true do
    local req = next_record()
    if (k - 1) % nthreads + 1 == me then
      return req
    end
  end
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

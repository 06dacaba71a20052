-- SPDX-License-Identifier: GPL-3.0-or-later
-- wrk script of bench/api: POST /v1/jobs with one image as a raw body
-- (Content-Type image/png), the same bytes every time.
--
-- Environment (set by bench/api):
--   OCRQ_BENCH_KEY    the API key (Authorization: Bearer ...)
--   OCRQ_BENCH_IMAGE  the PNG file to send
--   OCRQ_BENCH_OUT    where done() writes its figures, one JSON object
--   OCRQ_BENCH_RATE   optional: offer this many requests/s in all, with
--   OCRQ_BENCH_THREADS  N, the threads. Then every
--                     thread must have exactly one connection (-t N -c N): each
--                     sends on a fixed schedule of its own (thread i, request k
--                     at t0 + (k*N + i)/rate), using wrk's delay() hook with the
--                     time to its next slot. A late response makes the next
--                     request go at once (catching up), so the offered rate
--                     holds while responses take less than N/rate on average,
--                     and each request's latency is also taken from its
--                     scheduled time ("intended"), which counts the time a
--                     request waited behind a slow one (coordinated omission).
--
-- Every thread counts the status codes it sees (response()); done() adds them
-- up with wrk's own summary and latency percentiles (from the actual send).

local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } ocrq_bench_ts;
int clock_gettime(int clk, ocrq_bench_ts *ts);
]]
local ts = ffi.new("ocrq_bench_ts")
local CLOCK_MONOTONIC = 1

local function now_us()
  ffi.C.clock_gettime(CLOCK_MONOTONIC, ts)
  return tonumber(ts.tv_sec) * 1000000 + tonumber(ts.tv_nsec) / 1000
end

local f = assert(io.open(assert(os.getenv("OCRQ_BENCH_IMAGE"), "OCRQ_BENCH_IMAGE"), "rb"))
wrk.body = f:read("*a")
f:close()
wrk.method = "POST"
wrk.path = "/v1/jobs"
wrk.headers["Content-Type"] = "image/png"
wrk.headers["Authorization"] = "Bearer " .. assert(os.getenv("OCRQ_BENCH_KEY"), "OCRQ_BENCH_KEY")

local rate = tonumber(os.getenv("OCRQ_BENCH_RATE") or "")

-- main state: the threads, for done()
local threads = {}
local start_us

function setup(thread)
  -- every schedule starts from one instant: when wrk sets up its first thread
  start_us = start_us or now_us()
  table.insert(threads, thread)
  thread:set("thread_index", #threads - 1)
  thread:set("t0_us", start_us)
end

-- thread states
counts = {}     -- status -> responses
intended = {}   -- latency from the scheduled send, microseconds (paced only)
local slot_us   -- the scheduled time of the request in flight
local k = 0     -- requests scheduled by this thread

function response(status, headers, body)
  counts[status] = (counts[status] or 0) + 1
  if slot_us then
    intended[#intended + 1] = math.floor(now_us() - slot_us + 0.5)
  end
end

if rate then
  nthreads = assert(tonumber(os.getenv("OCRQ_BENCH_THREADS") or ""), "OCRQ_BENCH_THREADS")
  interval_us = 1000000 / rate

  function delay()
    slot_us = t0_us + (k * nthreads + thread_index) * interval_us
    k = k + 1
    local wait_ms = (slot_us - now_us()) / 1000
    return wait_ms > 0 and math.ceil(wait_ms) or 0
  end
end

local function join(t, sep)
  local parts = {}
  for key, v in pairs(t) do
    parts[#parts + 1] = string.format('"%s": %d', tostring(key), v)
  end
  return "{" .. table.concat(parts, sep) .. "}"
end

function done(summary, latency, requests)
  local statuses, all = {}, {}
  for _, t in ipairs(threads) do
    for status, n in pairs(t:get("counts")) do
      statuses[status] = (statuses[status] or 0) + n
    end
    for _, v in ipairs(t:get("intended")) do
      all[#all + 1] = v
    end
  end
  local e = summary.errors
  local out = assert(io.open(assert(os.getenv("OCRQ_BENCH_OUT"), "OCRQ_BENCH_OUT"), "w"))
  out:write(string.format(
    '{"duration_us": %d, "requests": %d, "bytes": %d, "statuses": %s, ' ..
    '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, ' ..
    '"latency_us": {"p50": %d, "p90": %d, "p99": %d, "max": %d, "mean": %.1f}, ' ..
    '"intended_us": [%s]}\n',
    summary.duration, summary.requests, summary.bytes, join(statuses, ", "),
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    latency.mean, table.concat(all, ",")))
  out:close()
end

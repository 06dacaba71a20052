-- SPDX-License-Identifier: GPL-3.0-or-later
-- wrk script of bench/api: GET /v1/jobs/{id} over a list of job ids that
-- the same key submitted, each thread going round the list from its own
-- starting point.
--
-- Environment (set by bench/api):
--   OCRQ_BENCH_KEY  the API key (Authorization: Bearer ...)
--   OCRQ_BENCH_IDS  a file with one job id per line
--   OCRQ_BENCH_OUT  where done() writes its figures, one JSON object
--
-- Every thread counts the status codes it sees (response()); done() adds them
-- up with wrk's own summary and latency percentiles.

wrk.method = "GET"
wrk.headers["Authorization"] = "Bearer " .. assert(os.getenv("OCRQ_BENCH_KEY"), "OCRQ_BENCH_KEY")

local ids = {}
local ids_path = assert(os.getenv("OCRQ_BENCH_IDS"), "OCRQ_BENCH_IDS")
for line in assert(io.open(ids_path)):lines() do
  if #line > 0 then
    ids[#ids + 1] = line
  end
end
assert(#ids > 0, "no job ids")

local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("thread_index", #threads - 1)
end

counts = {}
local i

function request()
  if not i then
    i = (thread_index * 7919) % #ids
  end
  i = i % #ids + 1
  return wrk.format(nil, "/v1/jobs/" .. ids[i])
end

function response(status, headers, body)
  counts[status] = (counts[status] or 0) + 1
end

function done(summary, latency, requests)
  local statuses = {}
  for _, t in ipairs(threads) do
    for status, n in pairs(t:get("counts")) do
      statuses[status] = (statuses[status] or 0) + n
    end
  end
  local parts = {}
  for status, n in pairs(statuses) do
    parts[#parts + 1] = string.format('"%d": %d', status, n)
  end
  local e = summary.errors
  local out = assert(io.open(assert(os.getenv("OCRQ_BENCH_OUT"), "OCRQ_BENCH_OUT"), "w"))
  out:write(string.format(
    '{"duration_us": %d, "requests": %d, "bytes": %d, "statuses": {%s}, ' ..
    '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, ' ..
    '"latency_us": {"p50": %d, "p90": %d, "p99": %d, "max": %d, "mean": %.1f}, ' ..
    '"intended_us": []}\n',
    summary.duration, summary.requests, summary.bytes, table.concat(parts, ", "),
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    latency.mean))
  out:close()
end

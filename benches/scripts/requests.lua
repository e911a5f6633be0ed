-- wrk script for benches/run.sh: sends the requests listed in the file named
-- by the BENCH_REQUESTS environment variable, one per line, as
-- `signature<TAB>timestamp<TAB>body`. A `-` signature sends the body without
-- JustCall's signing headers.
--
-- A file of one line is sent as wrk's static request, so wrk calls no Lua per
-- request. With several lines, thread k of BENCH_THREADS sends lines k,
-- k+BENCH_THREADS, ... in order and starts its share again when it runs out;
-- `wraps` in the result says how often that happened, because a repeated
-- line is no longer a new number.
--
-- When wrk finishes, the script prints one line `WRK_RESULT {json}` with the
-- request rate, latency percentiles in microseconds and the error counts.

local path = os.getenv("BENCH_REQUESTS")
assert(path, "set BENCH_REQUESTS to a file of signed requests")

local lines = {}
for line in io.lines(path) do
   if line ~= "" then
      lines[#lines + 1] = line
   end
end
assert(#lines > 0, path .. " contains no requests")

local function parse(line)
   local signature, timestamp, body = line:match("^([^\t]*)\t([^\t]*)\t(.*)$")
   assert(body, "a line of " .. path .. " is not signature<TAB>timestamp<TAB>body")
   local headers = { ["Content-Type"] = "application/json" }
   if signature ~= "-" then
      headers["X-JustCall-Signature"] = signature
      headers["X-JustCall-Signature-Version"] = "v1"
      headers["X-JustCall-Request-Timestamp"] = timestamp
   end
   return headers, body
end

if #lines == 1 then
   local headers, body = parse(lines[1])
   wrk.method = "POST"
   wrk.body = body
   for name, value in pairs(headers) do
      wrk.headers[name] = value
   end
else
   local threads = {}
   local next_index = 1

   function setup(thread)
      thread:set("thread_index", next_index)
      next_index = next_index + 1
      threads[#threads + 1] = thread
   end

   local mine = {}
   local position = 0
   wraps = 0

   function init(args)
      local stride = tonumber(os.getenv("BENCH_THREADS") or "1")
      for i = thread_index, #lines, stride do
         local headers, body = parse(lines[i])
         mine[#mine + 1] = wrk.format("POST", nil, headers, body)
      end
      assert(#mine > 0, "thread " .. thread_index .. " has no requests; list more lines than threads")
   end

   function request()
      position = position + 1
      if position > #mine then
         position = 1
         wraps = wraps + 1
      end
      return mine[position]
   end

   function count_wraps()
      local total = 0
      for _, thread in ipairs(threads) do
         total = total + (thread:get("wraps") or 0)
      end
      return total
   end
end

function done(summary, latency, requests)
   local seconds = summary.duration / 1e6
   local errors = summary.errors
   io.write(string.format(
      'WRK_RESULT {"requests": %d, "seconds": %.3f, "rps": %.1f, "p50_us": %d, "p90_us": %d, '
         .. '"p99_us": %d, "max_us": %d, "mean_us": %.1f, "connect_errors": %d, "read_errors": %d, '
         .. '"write_errors": %d, "timeouts": %d, "non_2xx": %d, "wraps": %d}\n',
      summary.requests, seconds, summary.requests / seconds,
      latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
      latency.mean, errors.connect, errors.read, errors.write, errors.timeout, errors.status,
      count_wraps and count_wraps() or 0))
end

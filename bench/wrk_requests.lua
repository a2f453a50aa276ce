-- Requests come from a file of "METHOD<TAB>PATH<TAB>AUTHORIZATION<TAB>BODY" lines, used in turn.
-- Thread i of n starts i/n of the way into the file, so threads send different lines (callback cells
-- hand each run's callbacks to one thread, in order, as far as the file lasts).
local lines = {}
local counter = 0
local started = 0

setup = function(thread)
  thread:set("tid", started)
  started = started + 1
end

init = function(args)
  for line in io.lines(args[1]) do
    local method, path, auth, body = line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)\t(.*)$")
    table.insert(lines, {method = method, path = path, auth = auth, body = body})
  end
  local threads = tonumber(args[2]) or 1
  counter = math.floor((tid or 0) * #lines / threads)
end

request = function()
  counter = counter % #lines + 1
  local r = lines[counter]
  local headers = {["Authorization"] = r.auth}
  if r.body ~= "" then headers["Content-Type"] = "application/json" end
  return wrk.format(r.method, r.path, headers, r.body ~= "" and r.body or nil)
end
-- Shared by every scenario: print one JSON line with throughput and latency percentiles (microseconds).
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "socket_errors": %d, "non_2xx": %d, "p50": %d, "p95": %d, "p99": %d}\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(95), latency:percentile(99)))
end

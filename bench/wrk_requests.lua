-- Requests come from a file of "METHOD<TAB>PATH<TAB>AUTHORIZATION<TAB>BODY" lines, used in turn.
local lines = {}
local counter = 0

init = function(args)
  for line in io.lines(args[1]) do
    local method, path, auth, body = line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)\t(.*)$")
    table.insert(lines, {method = method, path = path, auth = auth, body = body})
  end
  counter = math.random(#lines)
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

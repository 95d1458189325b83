-- The mixed API load of `manage.py bench` (demo/bench/load.py), for wrk: 80 % reads, 20 % writes over many ids.
--
-- The data file named by RELAY_BENCH_LUA_DATA (written by load.py) sets `data`: token, prefix ("" for the API,
-- "/bench-floor" for the floors), run (a run id), seed, leads, customers, stages and channels (lists).
-- Reads: 30 % GET leads/<id>/, 30 % GET customers/<id>/, 20 % GET leads/?page_size=50&stage=<stage>.
-- Writes: 10 % POST leads/<id>/activities/ (a note), 10 % POST leads/ with a fresh contact each time.
-- A response that is not 2xx is counted in response(); done() prints one line "RELAY_BENCH_JSON {...}".

data = dofile(os.getenv("RELAY_BENCH_LUA_DATA"))
local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
end

function init(args)
  math.randomseed(data.seed + 7919 * tid)
  counter = 0
  non2xx = 0
  reads = 0
  writes = 0
  last_error = ""
  local auth = "Token " .. data.token
  get_headers = { ["Authorization"] = auth, ["Accept"] = "application/json" }
  post_headers = { ["Authorization"] = auth, ["Accept"] = "application/json", ["Content-Type"] = "application/json" }
end

local function pick(list)
  return list[math.random(#list)]
end

function request()
  local r = math.random(100)
  local api = data.prefix .. "/api/v1/"
  if r <= 80 then
    reads = reads + 1
    if r <= 30 then
      return wrk.format("GET", api .. "leads/" .. pick(data.leads) .. "/", get_headers)
    elseif r <= 60 then
      return wrk.format("GET", api .. "customers/" .. pick(data.customers) .. "/", get_headers)
    end
    return wrk.format("GET", api .. "leads/?page_size=50&stage=" .. pick(data.stages), get_headers)
  end
  writes = writes + 1
  counter = counter + 1
  if r <= 90 then
    local body = string.format('{"kind": "note", "body": "Load note %d-%d"}', tid, counter)
    return wrk.format("POST", api .. "leads/" .. pick(data.leads) .. "/activities/", post_headers, body)
  end
  local body = string.format(
    '{"contact": {"name": "Load %s %d-%d", "email": "load-%s-%d-%d@bench.example"}, "source_channel": "%s"}',
    data.run, tid, counter, data.run, tid, counter, pick(data.channels)
  )
  return wrk.format("POST", api .. "leads/", post_headers, body)
end

function response(status, headers, body)
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
    local text = string.gsub(string.sub(body or "", 1, 300), '[%c"\\]', " ")
    last_error = status .. " " .. text
  end
end

function done(summary, latency, requests)
  local non2xx_total, reads_total, writes_total, errors = 0, 0, 0, {}
  for _, thread in ipairs(threads) do
    non2xx_total = non2xx_total + thread:get("non2xx")
    reads_total = reads_total + thread:get("reads")
    writes_total = writes_total + thread:get("writes")
    local last = thread:get("last_error")
    if last ~= "" then
      table.insert(errors, '"' .. last .. '"')
    end
  end
  local e = summary.errors
  io.write(string.format(
    'RELAY_BENCH_JSON {"requests": %d, "duration_us": %d, "bytes": %d, "connect": %d, "read": %d, "write": %d, ' ..
    '"timeout": %d, "status_errors": %d, "non2xx": %d, "reads_sent": %d, "writes_sent": %d, ' ..
    '"p50_us": %d, "p90_us": %d, "p95_us": %d, "p99_us": %d, "max_us": %d, "mean_us": %.1f, "last_errors": [%s]}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.timeout, e.status,
    non2xx_total, reads_total, writes_total,
    latency:percentile(50), latency:percentile(90), latency:percentile(95), latency:percentile(99),
    latency.max, latency.mean, table.concat(errors, ", ")
  ))
end
